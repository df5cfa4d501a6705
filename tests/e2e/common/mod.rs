//! Starts the real `rapport` binary on a fresh database (SQLite in a temp dir, or a new
//! PostgreSQL database) and talks to it over HTTP, as a client would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod browser;
pub mod receiver;
pub mod ws;

// The backends, the PostgreSQL server and whether a test may skip without it, and
// `on_both_backends!` / `on_every_transport!` (their `blocking:` form) are the testkit's.
pub use rapport_testkit::{drop_postgres_database, postgres_available_or_skip, postgres_base_url, Backend};
use serde_json::Value;

/// The header the test servers take a client's address from.
pub const CLIENT_IP_HEADER: &str = "X-Test-Client";

/// A client address of its own for each call (10.x.y.z): requests that should not meet
/// the per-address limits.
pub fn fresh_client_address() -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

/// Starts `rapport serve` on `database_url`; returns the process, its base URL, and the API
/// key it printed if it set up a fresh database.
fn spawn_server(
    data_dir: &std::path::Path,
    database_url: &str,
    extra_args: &[&str],
) -> (Child, String, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-email",
            "admin@test.example",
            // Tests that make many logins or visitors send their own addresses in it, so
            // that they meet the per-address limits only where they test them.
            "--client-ip-header",
            CLIENT_IP_HEADER,
        ])
        .args(extra_args)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(database_url)
        .env("RAPPORT_LOG", "warn")
        .env_remove("RAPPORT_CONFIG")
        .current_dir(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the rapport binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut api_key = None;
    let base = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the server exited before listening ({database_url})"))
            .unwrap();
        if let Some(key) = line.trim().strip_prefix("API key: ") {
            api_key = Some(key.to_string());
        }
        if let Some(addr) = line.strip_prefix("Listening on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base, api_key)
}

/// A running server with its own database, stopped and cleaned up on drop.
pub struct TestServer {
    pub base: String,
    pub api_key: String,
    pub backend: Backend,
    database_url: String,
    pg_database: Option<String>,
    data_dir: PathBuf,
    child: Child,
    second_node: Option<Child>,
    agent: ureq::Agent,
    /// `serve` flags, kept for restarts.
    extra_args: Vec<String>,
    /// The RabbitMQ virtual host of `Backend::PostgresRabbitMq`, deleted after the server.
    broker: Option<rapport_testkit::RabbitVhost>,
}

/// An HTTP answer: status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, after checking the status is 200.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {}: {}", self.status, self.body);
        self.body
    }

    /// The body, after checking the status is 201.
    #[track_caller]
    pub fn created(self) -> Value {
        assert_eq!(self.status, 201, "expected 201, got {}: {}", self.status, self.body);
        self.body
    }
}

/// A name no other test run uses: process id, time and a counter.
fn unique_name() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let counter = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}_{:x}{counter}", std::process::id(), nanos & 0xffff_ffff)
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl TestServer {
    /// Starts a server on `backend`; `None` when PostgreSQL is absent and not required.
    pub fn start(backend: Backend, test: &str) -> Option<TestServer> {
        Self::start_with(backend, test, &[])
    }

    /// Like `start`, with extra `serve` flags.
    pub fn start_with(backend: Backend, test: &str, extra_args: &[&str]) -> Option<TestServer> {
        if backend != Backend::Sqlite && !postgres_available_or_skip(test) {
            return None;
        }
        let broker = match backend {
            Backend::PostgresRabbitMq => Some(rapport_testkit::RabbitVhost::create(test)?),
            _ => None,
        };
        let name = unique_name();
        let data_dir = std::env::temp_dir().join(format!("rapport-test-{name}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (data_dir.join("rapport.db").to_string_lossy().into_owned(), None),
            Backend::Postgres | Backend::PostgresRabbitMq => {
                let db = format!("rapport_test_{name}");
                (format!("{}/{db}", postgres_base_url()), Some(db))
            }
        };
        let mut extra_args: Vec<String> = extra_args.iter().map(|a| a.to_string()).collect();
        if let Some(broker) = &broker {
            extra_args.extend(["--broker-url".to_string(), broker.url()]);
        }
        let args: Vec<&str> = extra_args.iter().map(String::as_str).collect();
        let (child, base, api_key) = spawn_server(&data_dir, &database_url, &args);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Some(TestServer {
            base,
            api_key: api_key.expect("a fresh install prints an API key"),
            backend,
            database_url,
            pg_database,
            data_dir,
            child,
            agent,
            second_node: None,
            extra_args,
            broker,
        })
    }

    /// Another server process on the same database (PostgreSQL: another node), and its
    /// address. It is stopped with this one.
    pub fn start_second_node(&mut self) -> String {
        let dir = self.data_dir.join("node2");
        std::fs::create_dir_all(&dir).unwrap();
        let args: Vec<&str> = self.extra_args.iter().map(String::as_str).collect();
        let (child, base, api_key) = spawn_server(&dir, &self.database_url, &args);
        assert!(api_key.is_none(), "a second node finds the database set up");
        self.second_node = Some(child);
        base
    }

    /// Kills the server process at once (SIGKILL), as a crash would.
    pub fn kill_hard(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Asks the server to stop (SIGTERM) and waits for it; returns how it exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        for _ in 0..100 {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return exit;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not stop within 10 s of SIGTERM");
    }

    /// Starts the server again on the same database, after `kill_hard` or `terminate`.
    pub fn restart(&mut self) {
        let args: Vec<&str> = self.extra_args.iter().map(String::as_str).collect();
        let (child, base, api_key) = spawn_server(&self.data_dir, &self.database_url, &args);
        assert!(api_key.is_none(), "a restart does not set up the database again");
        self.child = child;
        self.base = base;
    }

    /// Creates another organization with its admin through the CLI; returns its API key.
    pub fn new_organization(&self, name: &str, email: &str) -> String {
        let out = self.cli(&["org", "create", "--name", name, "--email", email]);
        assert!(
            out.status.success(),
            "org create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Adds a user to the first organization through the CLI; returns their API key.
    pub fn new_member(&self, email: &str, role: &str) -> String {
        let org = self.get("me/").ok()["organization_id"].as_str().unwrap().to_string();
        let out = self.cli(&[
            "user",
            "create",
            "--email",
            email,
            "--organization",
            &org,
            "--role",
            role,
            "--first-name",
            "Mia",
        ]);
        assert!(
            out.status.success(),
            "user create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The binary with `args`, pointed at this server's data dir and database.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rapport"));
        command
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--database-url")
            .arg(&self.database_url)
            .env("RAPPORT_LOG", "warn")
            .current_dir(&self.data_dir);
        if let Some(broker) = &self.broker {
            command.arg("--broker-url").arg(broker.url());
        }
        command
    }

    /// Runs the binary against this server's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().expect("the rapport binary runs")
    }

    /// Runs the binary with `input` piped to its standard input.
    pub fn cli_with_input(&self, args: &[&str], input: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the rapport binary runs");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Starts `rapport worker` with `args` on this server's database; the caller kills it.
    pub fn spawn_worker(&self, args: &[&str]) -> Child {
        let args: Vec<&str> = std::iter::once("worker").chain(args.iter().copied()).collect();
        self.command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the rapport binary starts")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{}", self.base, path.trim_start_matches('/'))
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else if path.starts_with("/") {
            format!("{}{path}", self.base)
        } else {
            self.url(path)
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(key) = key {
            use std::io::Write;
            let mut enc = Vec::new();
            write!(enc, "{key}:").unwrap();
            builder = builder.header("Authorization", format!("Basic {}", base64_encode(&enc)));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = match body {
            Some(b) => self.agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(b.to_string())
                    .unwrap(),
            ),
            None => self.agent.run(builder.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let text = response.into_body().read_to_string().unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        }
    }

    /// Sends `body` as it is (as `application/json`), even when it is not JSON.
    pub fn request_raw(&self, method: &str, path: &str, body: &str) -> Answer {
        let auth = format!("Basic {}", base64_encode(format!("{}:", self.api_key).as_bytes()));
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .unwrap();
        let response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers: vec![],
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, Some(&self.api_key), None, &[])
    }
    pub fn post(&self, path: &str, body: Value) -> Answer {
        self.request("POST", path, Some(&self.api_key), Some(&body), &[])
    }
    pub fn put(&self, path: &str, body: Value) -> Answer {
        self.request("PUT", path, Some(&self.api_key), Some(&body), &[])
    }
    pub fn delete(&self, path: &str) -> Answer {
        self.request("DELETE", path, Some(&self.api_key), None, &[])
    }
    pub fn get_as(&self, key: &str, path: &str) -> Answer {
        self.request("GET", path, Some(key), None, &[])
    }
    pub fn post_as(&self, key: &str, path: &str, body: Value) -> Answer {
        self.request("POST", path, Some(key), Some(&body), &[])
    }

    /// Every page of a list, following `_skip`.
    pub fn list_all(&self, key: &str, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut all = Vec::new();
        loop {
            let page = self
                .get_as(key, &format!("{path}{sep}_skip={}&_limit=200", all.len()))
                .ok();
            let data = page["data"].as_array().unwrap().clone();
            all.extend(data);
            if !page["has_more"].as_bool().unwrap() {
                return all;
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.second_node.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(db) = &self.pg_database {
            drop_postgres_database(db);
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
