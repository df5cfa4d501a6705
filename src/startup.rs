//! Builds the application from settings: opens the store, bootstraps a fresh install,
//! and serves until asked to stop.

use anyhow::Context;
use rapport_crm::{Crm, CrmConfig, NewOrganization};
use rapport_search::Search;
use rapport_store::{Db, DbConfig};

use rapport_queue::{run_worker, JobFilter, JobState, Queue, WorkerConfig, WorkerMetrics};

use crate::config::{JobsCommand, ServeArgs, Settings, WorkerArgs};

pub fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout is for what scripts read (API keys).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Whether a command uses this node's search index (in `<data_dir>/search-index`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum UsesIndex {
    Yes,
    No,
}

/// The store, the CRM on it, and this node's search index (in memory when the command
/// does not use it).
struct Opened {
    db: Db,
    crm: Crm,
    search: Search,
}

async fn open(settings: &Settings, uses_index: UsesIndex) -> anyhow::Result<Opened> {
    let is_sqlite = !settings.database_url.starts_with("postgres");
    if is_sqlite || uses_index == UsesIndex::Yes {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create the data dir {}", settings.data_dir.display()))?;
    }
    let config = DbConfig {
        url: settings.database_url.clone(),
        sqlite_durability: settings.sqlite_durability,
        max_connections: 16,
    };
    let db = Db::open(&config).await.context("cannot open the database")?;
    let crm = Crm::new(
        db.clone(),
        CrmConfig {
            phone_region: settings.phone_region.clone(),
        },
    );
    let index_dir = (uses_index == UsesIndex::Yes).then(|| settings.data_dir.join("search-index"));
    Ok(Opened {
        search: Search::new(crm.clone(), index_dir),
        db,
        crm,
    })
}

pub async fn serve(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let Opened { db, crm, search } = open(&settings, UsesIndex::Yes).await?;
    // Opened before listening: an index another process holds is a startup error.
    search.index()?;
    let registry = rapport_workers::registry(crm.clone(), settings.workers.clone())?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    if crm.is_empty().await? {
        bootstrap(&crm, &settings, &address.to_string()).await?;
    }
    // Catches up (or fills a new index) now rather than on the first search.
    search.start();
    tokio::spawn(purge_expired(crm.clone()));
    let queue = open_queue(&settings, &db).await?;
    let stop = Stop::new();
    let dispatcher = tokio::spawn(rapport_workers::run_dispatcher(
        crm.clone(),
        queue.clone(),
        stop.requested(),
    ));
    tokio::spawn(purge_finished_jobs(queue.clone()));
    let worker_metrics = WorkerMetrics::default();
    let workers = (!args.no_workers).then(|| {
        tokio::spawn(run_worker(
            queue.clone(),
            registry,
            WorkerConfig::default(),
            worker_metrics.clone(),
            stop.requested(),
        ))
    });
    // Real time: this node's tail of the log, and its link to the other nodes.
    let hub = rapport_realtime::Hub::new(crm.clone());
    tokio::spawn(hub.clone().run(stop.requested()));
    if let Some(url) = &settings.broker_url {
        tokio::spawn(rapport_realtime::bus::run(
            hub.clone(),
            url.clone(),
            settings.broker_prefix.clone(),
            stop.requested(),
        ));
    }
    println!("Listening on http://{address}");
    tracing::info!(%address, database = %redact(&settings.database_url), workers = !args.no_workers, "serving");
    // Served from a worker task: the main thread only waits, so both cores do the work.
    let server = tokio::spawn(rapport_api::serve(
        listener,
        rapport_api::AppState {
            crm: crm.clone(),
            search: search.clone(),
            rate_limiter: rapport_api::RateLimiter::new(settings.rate_limit, crm.clone()),
            queue: queue.clone(),
            worker_metrics,
            hub,
            account_mail: account_mail(&settings, address)?,
        },
        settings.serve.clone(),
        {
            let (stop, signal) = (stop.clone(), shutdown_signal());
            async move {
                signal.await;
                stop.request();
            }
        },
    ));
    server.await.context("the server task failed")??;
    // Requests are done; running jobs finish (bounded), then the process exits. What the
    // index committed stays; a rebuild cut short starts over on the next start.
    stop.request();
    search.stop();
    if let Some(workers) = workers {
        workers.await.context("the workers failed")??;
    }
    let _ = dispatcher.await;
    queue.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// The job queue: through RabbitMQ when a broker is configured, else the jobs table.
async fn open_queue(settings: &Settings, db: &Db) -> anyhow::Result<Queue> {
    Ok(match &settings.broker_url {
        Some(url) => Queue::rabbitmq(db.clone(), url, &settings.broker_prefix)
            .await
            .context("cannot reach the message broker")?,
        None => Queue::embedded(db.clone()),
    })
}

/// Runs workers only: `rapport worker --task email:send`.
pub async fn worker(settings: Settings, args: WorkerArgs) -> anyhow::Result<()> {
    let Opened { db, crm, .. } = open(&settings, UsesIndex::No).await?;
    let registry = rapport_workers::registry(crm.clone(), settings.workers.clone())?;
    let known = registry.tasks();
    if let Some(unknown) = args.tasks.iter().find(|t| !known.contains(t)) {
        anyhow::bail!("unknown task `{unknown}`; the tasks are {}", known.join(", "));
    }
    let queue = open_queue(&settings, &db).await?;
    let config = WorkerConfig {
        tasks: args.tasks,
        concurrency: args.concurrency.max(1),
        lease: std::time::Duration::from_secs(args.lease_seconds.max(1)),
        ..WorkerConfig::default()
    };
    eprintln!(
        "worker {} running {}",
        config.worker_id,
        if config.tasks.is_empty() {
            known.join(", ")
        } else {
            config.tasks.join(", ")
        }
    );
    run_worker(
        queue.clone(),
        registry,
        config,
        WorkerMetrics::default(),
        shutdown_signal(),
    )
    .await?;
    queue.shutdown().await;
    Ok(())
}

/// `rapport jobs list|retry|discard`.
pub async fn jobs(settings: Settings, command: JobsCommand) -> anyhow::Result<()> {
    let Opened { db, .. } = open(&settings, UsesIndex::No).await?;
    // The ledger is in the store whatever carries the jobs: no broker needed here.
    let queue = Queue::embedded(db);
    let ledger = queue.ledger();
    match command {
        JobsCommand::List {
            state,
            task,
            organization,
            limit,
        } => {
            let state = match state.as_deref() {
                None => None,
                Some(s) => Some(
                    JobState::parse(s)
                        .with_context(|| format!("`{s}` is not a state; expected queued, running, done or dead"))?,
                ),
            };
            let filter = JobFilter {
                organization_id: organization,
                state,
                task,
                skip: 0,
                limit,
            };
            let (jobs, has_more) = ledger.list(&filter).await?;
            println!(
                "{:<26} {:<20} {:<8} {:>8}  {:<32} last error",
                "id", "task", "state", "attempts", "created"
            );
            for job in &jobs {
                let record = job.to_json();
                println!(
                    "{:<26} {:<20} {:<8} {:>8}  {:<32} {}",
                    job.id,
                    job.task,
                    job.state.as_str(),
                    format!("{}/{}", job.attempts, job.max_attempts),
                    record["date_created"].as_str().unwrap_or(""),
                    job.last_error.as_deref().unwrap_or("").replace('\n', " ")
                );
            }
            if has_more {
                eprintln!("(more; raise --limit)");
            }
        }
        JobsCommand::Retry { id } => {
            let job = ledger.retry(&id, None).await.map_err(job_error)?;
            eprintln!("Job {} ({}) is queued again.", job.id, job.task);
        }
        JobsCommand::Discard { id } => {
            ledger.discard(&id, None).await.map_err(job_error)?;
            eprintln!("Job {id} is discarded.");
        }
    }
    Ok(())
}

fn job_error(e: rapport_queue::QueueError) -> anyhow::Error {
    match e {
        rapport_queue::QueueError::NotFound => anyhow::anyhow!("no such job"),
        other => other.into(),
    }
}

/// Forgets done jobs after a day (their dedupe keys with them) and dead ones after 30 days
/// (time enough to look at them, retry or discard them), checking every hour.
async fn purge_finished_jobs(queue: Queue) {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        for (state, keep_ms) in [(JobState::Done, DAY_MS), (JobState::Dead, 30 * DAY_MS)] {
            match queue
                .ledger()
                .purge_finished(state, rapport_queue::now_ms() - keep_ms)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, state = state.as_str(), "forgot finished jobs"),
                Err(e) => tracing::warn!(error = %e, state = state.as_str(), "cannot purge finished jobs"),
            }
        }
    }
}

/// A stop request shared by the server, the dispatcher and the workers.
#[derive(Clone)]
struct Stop(tokio::sync::watch::Sender<bool>);

impl Stop {
    fn new() -> Stop {
        Stop(tokio::sync::watch::channel(false).0)
    }

    fn request(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once a stop is requested.
    fn requested(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.0.subscribe();
        async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        }
    }
}

/// A fresh install gets an organization, an admin and an API key, shown once.
async fn bootstrap(crm: &Crm, settings: &Settings, address: &str) -> anyhow::Result<()> {
    let password = rapport_core::new_id("pw")[3..19].to_string();
    let new = NewOrganization {
        name: "My Organization".into(),
        admin_email: settings.admin_email.clone(),
        admin_first_name: "Admin".into(),
        admin_last_name: String::new(),
        admin_password: Some(password.clone()),
    };
    crm.create_organization(&new)
        .await
        .context("cannot create the first organization")?;
    let key = crm.create_api_key(&settings.admin_email, None, "bootstrap").await?;
    println!("Rapport is set up. This is shown once; keep it.");
    println!(
        "  Log in at http://{address}/ as {} with password: {password}",
        settings.admin_email
    );
    println!("  API key: {}", key.key);
    println!("  Try: curl -u {}: http://{address}/api/v1/me/", key.key);
    Ok(())
}

/// Rebuilds the search index from the store, with figures on stderr.
pub async fn reindex(settings: Settings) -> anyhow::Result<()> {
    crate::keep_freed_memory();
    let Opened { search, .. } = open(&settings, UsesIndex::Yes).await?;
    search.index()?;
    let report = search.rebuild().await?;
    let seconds = report.elapsed.as_secs_f64();
    eprintln!(
        "reindexed {} leads in {seconds:.1} s ({:.0} leads/s), up to event {}",
        report.leads,
        report.leads as f64 / seconds.max(1e-9),
        report.cursor
    );
    Ok(())
}

pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    open(&settings, UsesIndex::No).await?;
    eprintln!("The database schema is up to date.");
    Ok(())
}

pub async fn create_api_key(
    settings: Settings,
    email: &str,
    organization: Option<&str>,
    name: &str,
) -> anyhow::Result<()> {
    let Opened { crm, .. } = open(&settings, UsesIndex::No).await?;
    let key = crm.create_api_key(email, organization, name).await?;
    println!("{}", key.key);
    Ok(())
}

pub async fn create_organization(
    settings: Settings,
    name: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> anyhow::Result<()> {
    let Opened { crm, .. } = open(&settings, UsesIndex::No).await?;
    let new = NewOrganization {
        name: name.into(),
        admin_email: email.into(),
        admin_first_name: first_name.into(),
        admin_last_name: last_name.into(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await?;
    let key = crm.create_api_key(email, Some(&actor.organization_id), "cli").await?;
    eprintln!("Created organization {} with admin {email}.", actor.organization_id);
    println!("{}", key.key);
    Ok(())
}

/// Account emails when SMTP is configured; links point to `public_url`, else to the
/// address the server listens on.
fn account_mail(
    settings: &Settings,
    address: std::net::SocketAddr,
) -> anyhow::Result<Option<rapport_api::AccountMail>> {
    let Some(smtp) = settings.workers.smtp.clone() else {
        return Ok(None);
    };
    let mailer = rapport_delivery::Mailer::new(smtp).context("SMTP settings")?;
    Ok(Some(rapport_api::AccountMail {
        mailer: std::sync::Arc::new(mailer),
        public_url: settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}")),
    }))
}

/// `rapport user list|role|remove|password`: the machine's operator manages a team
/// without the API (the same rules: one admin always, sessions end with a password).
pub async fn user(settings: Settings, command: crate::config::UserCommand) -> anyhow::Result<()> {
    use crate::config::UserCommand;
    let Opened { crm, .. } = open(&settings, UsesIndex::No).await?;
    match command {
        UserCommand::Create {
            email,
            organization,
            first_name,
            last_name,
            role,
        } => {
            let member = crm
                .add_member(&organization, &email, &first_name, &last_name, &role, None)
                .await?;
            let key = crm.create_api_key(&email, Some(&organization), "cli").await?;
            eprintln!("Added {email} ({}) to {organization} as {role}.", member.user_id);
            println!("{}", key.key);
        }
        UserCommand::List { organization } => {
            let admin = crm.operator_actor(&organization, None).await?;
            for user in crm.list_users(&admin).await? {
                let text = |field: &str| user[field].as_str().unwrap_or_default().to_string();
                println!(
                    "{}\t{}\t{}\t{}",
                    text("id"),
                    text("email"),
                    text("role"),
                    text("display_name")
                );
            }
        }
        UserCommand::Role {
            email,
            organization,
            role,
        } => {
            let admin = crm.operator_actor(&organization, Some(&email)).await?;
            let id = admin.user_id.clone();
            crm.update_user(&admin, &id, &serde_json::json!({"role": role})).await?;
            eprintln!("{email} is now {role} of {organization}.");
        }
        UserCommand::Remove { email, organization } => {
            let admin = crm.operator_actor(&organization, Some(&email)).await?;
            let id = admin.user_id.clone();
            crm.remove_member(&admin, &id).await?;
            eprintln!("Removed {email} from {organization}.");
        }
        UserCommand::Password { email } => {
            use std::io::IsTerminal;
            let (password, generated) = if std::io::stdin().is_terminal() {
                (rapport_core::new_id("pw")[3..].to_string(), true)
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            };
            crm.set_password_by_operator(&email, &password).await?;
            if generated {
                println!("{password}");
            }
            eprintln!("Set a new password for {email}; its sessions ended.");
        }
    }
    Ok(())
}

/// Forgets what only mattered for a while: every minute, rate-limit windows a minute old,
/// visitors' rate buckets once full again and login attempts out of their window; every
/// hour, idempotency keys a day old.
async fn purge_expired(crm: Crm) {
    const KEEP_IDEMPOTENCY_KEYS: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    const KEEP_RATE_WINDOWS_SECONDS: i64 = 60;
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    for minute in 0u64.. {
        every_minute.tick().await;
        if minute % 60 == 0 {
            match crm.purge_idempotency_keys(KEEP_IDEMPOTENCY_KEYS).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "forgot old idempotency keys"),
                Err(e) => tracing::warn!(error = %e, "cannot purge old idempotency keys"),
            }
        }
        let now = rapport_core::time::now();
        let purged = async {
            crm.purge_rate_windows(now.timestamp() - KEEP_RATE_WINDOWS_SECONDS)
                .await?;
            crm.purge_rate_buckets(now.timestamp_millis()).await?;
            crm.purge_login_attempts().await
        };
        if let Err(e) = purged.await {
            tracing::warn!(error = %e, "cannot purge old rate-limit counts");
        }
    }
}

/// Hides a password in a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a worker polls it only between claims, and a SIGTERM
/// that came before would have killed the process with its jobs half done.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {},
                _ = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down; finishing requests in flight");
    }
}
