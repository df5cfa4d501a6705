//! Settings: command-line flags, then `RAPPORT_*` environment variables, then a TOML file
//! (`--config`, default `rapport.toml` when present), then defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(
    name = "rapport",
    version,
    about = "Self-hosted customer communication and sales CRM"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Directory for the SQLite database and the search index.
    #[arg(long, env = "RAPPORT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "RAPPORT_LISTEN", global = true)]
    pub listen: Option<String>,
    /// `postgres://…` to run on PostgreSQL; default: SQLite in the data dir.
    #[arg(long, env = "RAPPORT_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// SQLite commit durability: `normal` (survives a crash of the process) or `full`
    /// (fsync on every commit; survives power loss).
    #[arg(long, env = "RAPPORT_SQLITE_DURABILITY", global = true)]
    pub sqlite_durability: Option<String>,
    /// Region of phone numbers given without a country code.
    #[arg(long, env = "RAPPORT_PHONE_REGION", global = true)]
    pub phone_region: Option<String>,
    /// Email of the admin created on first start.
    #[arg(long, env = "RAPPORT_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,
    /// Requests per second allowed per API key or signed-in user, counted in the store across
    /// every node; 0, the default, means no limit.
    #[arg(long, env = "RAPPORT_RATE_LIMIT", global = true)]
    pub rate_limit: Option<u32>,
    /// A TOML file with the same settings (`listen = "…"`, `data_dir = "…"`, …).
    #[arg(long, env = "RAPPORT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `rapport=debug`.
    #[arg(long, env = "RAPPORT_LOG", global = true)]
    pub log: Option<String>,
    /// `amqp://user:password@host:5672/vhost` to carry jobs through RabbitMQ; default: the
    /// jobs table itself (embedded).
    #[arg(long, env = "RAPPORT_BROKER_URL", global = true)]
    pub broker_url: Option<String>,
    /// Prefix of the broker's exchanges and queues (`<prefix>.jobs.<task>`), so several
    /// deployments can share one broker.
    #[arg(long, env = "RAPPORT_BROKER_PREFIX", global = true)]
    pub broker_prefix: Option<String>,
    /// Where `email:send` sends: `smtp://user:password@host:587?security=starttls&from=crm@example.com`
    /// (`security`: none, starttls or tls).
    #[arg(long, env = "RAPPORT_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// The address people reach the web app at (`https://crm.example.com`), for links in
    /// emails ("forgot password"); default: `http://` and the listen address.
    #[arg(long, env = "RAPPORT_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Behind a reverse proxy: the header it puts the client's address in
    /// (`X-Forwarded-For`: its last entry is used), for limits per client address.
    /// Without it the connection's address is the client's.
    #[arg(long, env = "RAPPORT_CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,
    /// Private, loopback or link-local addresses (IPs or CIDR ranges, comma-separated) that
    /// webhooks and Slack messages may reach; refused by default.
    #[arg(long, env = "RAPPORT_ALLOW_ADDRESSES", global = true, value_delimiter = ',')]
    pub allow_addresses: Option<Vec<String>>,
    /// Seconds a client has to send a request's whole header (also the longest wait for
    /// the next request on a kept-alive connection); default 15, at most 30.
    #[arg(long, env = "RAPPORT_HEADER_TIMEOUT", global = true)]
    pub header_timeout: Option<u64>,
    /// Seconds a client has to send a request's whole body; default 60.
    #[arg(long, env = "RAPPORT_BODY_TIMEOUT", global = true)]
    pub body_timeout: Option<u64>,
    /// Seconds a kept-alive connection may stay without a request; default 10.
    #[arg(long, env = "RAPPORT_IDLE_TIMEOUT", global = true)]
    pub idle_timeout: Option<u64>,
    /// Open connections at most on this node, websockets included; more wait to be
    /// accepted. Default 20000.
    #[arg(long, env = "RAPPORT_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Open websockets at most on this node (the app's and the widget's); more are
    /// answered 503. Default 16000.
    #[arg(long, env = "RAPPORT_MAX_WEBSOCKETS", global = true)]
    pub max_websockets: Option<usize>,
    /// Mark the session cookie `Secure` on every login (a deployment behind TLS); without
    /// it, only when a proxy sends `X-Forwarded-Proto: https`.
    #[arg(long, env = "RAPPORT_SECURE_COOKIES", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub secure_cookies: Option<bool>,
    /// Days a session may go unused before it ends (fractions allowed); default 7.
    #[arg(long, env = "RAPPORT_SESSION_IDLE_DAYS", global = true)]
    pub session_idle_days: Option<f64>,
    /// The token `/metrics` asks for (`Authorization: Bearer <token>`); without one,
    /// `/metrics` answers only clients on this machine that no proxy forwarded.
    #[arg(long, env = "RAPPORT_METRICS_TOKEN", global = true)]
    pub metrics_token: Option<String>,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Serve the API only; jobs are left to `rapport worker` processes.
    #[arg(long)]
    pub no_workers: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// A task to run (repeat for several): email:send, slack:send_message, webhook:deliver.
    /// Default: every task.
    #[arg(long = "task")]
    pub tasks: Vec<String>,
    /// Jobs run at once by this process.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// How long a job stays this worker's without a heartbeat: the job of a worker that
    /// died runs again after at most this long.
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: u64,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Run the server (the default), with every worker in-process unless `--no-workers`.
    Serve(ServeArgs),
    /// Run workers only, for the given tasks; SIGTERM lets running jobs finish, then exits.
    Worker(WorkerArgs),
    /// See and act on jobs (dead letters): list, retry, discard.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Apply database migrations and exit.
    Migrate,
    /// Rebuild this node's search index from the store (stop the server first).
    Reindex,
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Add a user to an organization and print an API key for them on stdout.
    Create {
        #[arg(long)]
        email: String,
        /// Organization id.
        #[arg(long)]
        organization: String,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
        /// admin or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// List an organization's members: id, email, role, name (tab-separated).
    List {
        /// Organization id.
        #[arg(long)]
        organization: String,
    },
    /// Make a member an admin or a member (an organization keeps one admin).
    Role {
        #[arg(long)]
        email: String,
        #[arg(long)]
        organization: String,
        /// admin or member.
        #[arg(long)]
        role: String,
    },
    /// Remove a member from an organization: their API keys and sessions there end at
    /// once, what they wrote stays.
    Remove {
        #[arg(long)]
        email: String,
        #[arg(long)]
        organization: String,
    },
    /// Set an account's password (for every organization it belongs to): read from
    /// standard input when piped, else a new random one printed on stdout. Every session
    /// of the account ends.
    Password {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// queued, running, done or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        task: Option<String>,
        /// Organization id; default: every organization.
        #[arg(long)]
        organization: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue a dead job again, its attempts reset.
    Retry { id: String },
    /// Remove a dead job for good.
    Discard { id: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum ApikeyCommand {
    /// Print a new API key for a user on stdout (nothing else goes to stdout).
    Create {
        #[arg(long)]
        email: String,
        /// Organization id, when the user belongs to several.
        #[arg(long)]
        organization: Option<String>,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum OrgCommand {
    /// Create an organization with its admin, and print an API key for the admin on stdout.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Admin")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
    },
}

/// The TOML file's shape.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    sqlite_durability: Option<String>,
    phone_region: Option<String>,
    admin_email: Option<String>,
    rate_limit: Option<u32>,
    log: Option<String>,
    smtp: Option<rapport_delivery::SmtpConfig>,
    public_url: Option<String>,
    client_ip_header: Option<String>,
    allow_addresses: Option<Vec<String>>,
    broker_url: Option<String>,
    broker_prefix: Option<String>,
    header_timeout: Option<u64>,
    body_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_websockets: Option<usize>,
    secure_cookies: Option<bool>,
    session_idle_days: Option<f64>,
    metrics_token: Option<String>,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: String,
    pub database_url: String,
    pub sqlite_durability: rapport_store::Durability,
    pub phone_region: String,
    pub admin_email: String,
    pub rate_limit: u32,
    pub log: String,
    pub workers: rapport_workers::WorkersConfig,
    pub broker_url: Option<String>,
    pub broker_prefix: String,
    pub serve: rapport_api::ServeOptions,
    /// Where links in emails point; `None`: the listen address.
    pub public_url: Option<String>,
}

impl Cli {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None if Path::new("rapport.toml").exists() => read_file(Path::new("rapport.toml"))?,
            None => FileSettings::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("rapport-data"));
        let database_url = self
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| data_dir.join("rapport.db").to_string_lossy().into_owned());
        let sqlite_durability = match self.sqlite_durability.clone().or(file.sqlite_durability).as_deref() {
            None | Some("normal") => rapport_store::Durability::Normal,
            Some("full") => rapport_store::Durability::Full,
            Some(other) => {
                anyhow::bail!("sqlite_durability must be `normal` or `full`, not `{other}`")
            }
        };
        let defaults = rapport_api::ServeOptions::default();
        let seconds = |flag: Option<u64>, file: Option<u64>, default: std::time::Duration| {
            flag.or(file).map_or(default, std::time::Duration::from_secs)
        };
        let serve = rapport_api::ServeOptions {
            header_timeout: seconds(self.header_timeout, file.header_timeout, defaults.header_timeout),
            body_timeout: seconds(self.body_timeout, file.body_timeout, defaults.body_timeout),
            idle_timeout: seconds(self.idle_timeout, file.idle_timeout, defaults.idle_timeout),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(defaults.max_connections),
            max_websockets: self
                .max_websockets
                .or(file.max_websockets)
                .unwrap_or(defaults.max_websockets),
            metrics_token: self
                .metrics_token
                .clone()
                .or(file.metrics_token)
                .filter(|token| !token.is_empty()),
            secure_cookies: self.secure_cookies.or(file.secure_cookies).unwrap_or(false),
            client_ip_header: self
                .client_ip_header
                .clone()
                .or(file.client_ip_header)
                .filter(|name| !name.trim().is_empty()),
            session_idle: match self.session_idle_days.or(file.session_idle_days) {
                None => defaults.session_idle,
                Some(days) if days.is_finite() && days > 0.0 && days <= 3650.0 => {
                    std::time::Duration::from_secs_f64(days * 86_400.0).max(std::time::Duration::from_secs(1))
                }
                Some(days) => anyhow::bail!("session_idle_days must be above 0 and at most 3650, not {days}"),
            },
        };
        anyhow::ensure!(
            (1..=30).contains(&serve.header_timeout.as_secs()),
            "header_timeout must be 1 to 30 seconds"
        );
        anyhow::ensure!(
            serve.body_timeout.as_secs() >= 1 && serve.idle_timeout.as_secs() >= 1,
            "body_timeout and idle_timeout must be at least 1 second"
        );
        anyhow::ensure!(serve.max_connections >= 1, "max_connections must be at least 1");
        let public_url = self.public_url.clone().or(file.public_url);
        if let Some(url) = &public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "public_url must start with http:// or https://, not `{url}`"
            );
        }
        Ok(Settings {
            public_url,
            serve,
            data_dir,
            listen: self
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url,
            sqlite_durability,
            phone_region: self
                .phone_region
                .clone()
                .or(file.phone_region)
                .unwrap_or_else(|| "US".into()),
            admin_email: self
                .admin_email
                .clone()
                .or(file.admin_email)
                .unwrap_or_else(|| "admin@example.com".into()),
            rate_limit: self.rate_limit.or(file.rate_limit).unwrap_or(0),
            log: self.log.clone().or(file.log).unwrap_or_else(|| "info".into()),
            broker_url: self.broker_url.clone().or(file.broker_url),
            broker_prefix: self
                .broker_prefix
                .clone()
                .or(file.broker_prefix)
                .unwrap_or_else(|| "rapport".into()),
            workers: rapport_workers::WorkersConfig {
                smtp: match &self.smtp_url {
                    Some(url) => Some(smtp_from_url(url)?),
                    None => file.smtp,
                },
                allowed_addresses: self
                    .allow_addresses
                    .clone()
                    .or(file.allow_addresses)
                    .unwrap_or_default(),
                ..rapport_workers::WorkersConfig::default()
            },
        })
    }
}

/// `smtp://user:password@host:port?security=starttls&from=address` as SMTP settings.
fn smtp_from_url(text: &str) -> anyhow::Result<rapport_delivery::SmtpConfig> {
    use rapport_delivery::SmtpSecurity;
    let url = url::Url::parse(text).map_err(|e| anyhow::anyhow!("smtp_url `{text}`: {e}"))?;
    anyhow::ensure!(
        url.scheme() == "smtp",
        "smtp_url must start with smtp://, not {}://",
        url.scheme()
    );
    let host = url.host_str().context("smtp_url has no host")?.to_string();
    let mut security = SmtpSecurity::StartTls;
    let mut from = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "security" => {
                security = match value.as_ref() {
                    "none" => SmtpSecurity::None,
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" => SmtpSecurity::Tls,
                    other => anyhow::bail!("smtp_url: security must be none, starttls or tls, not `{other}`"),
                }
            }
            "from" => from = Some(value.into_owned()),
            other => anyhow::bail!("smtp_url: unknown parameter `{other}`; expected security or from"),
        }
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    Ok(rapport_delivery::SmtpConfig {
        from: from.context("smtp_url needs `from=<address>` (the sender of emails without one)")?,
        port: url.port(),
        host,
        security,
        username: (!url.username().is_empty()).then(|| decode(url.username())),
        password: url.password().map(decode),
        timeout: rapport_delivery::DEFAULT_SMTP_TIMEOUT,
    })
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the settings file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("rapport-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rapport.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/rapport\"\n").unwrap();
        let cli = Cli::parse_from([
            "rapport",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:7000",
        ]);
        let s = cli.settings().unwrap();
        assert_eq!(s.listen, "127.0.0.1:7000");
        assert_eq!(s.data_dir, PathBuf::from("/srv/rapport"));
        assert_eq!(s.database_url, "/srv/rapport/rapport.db");
        assert_eq!(s.phone_region, "US");
        std::fs::write(&file, "listn = \"x\"\n").unwrap();
        let err = Cli::parse_from(["rapport", "--config", file.to_str().unwrap()])
            .settings()
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `listn`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
