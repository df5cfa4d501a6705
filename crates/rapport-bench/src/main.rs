//! Benchmarks the REST API of the real server, on SQLite and on PostgreSQL.
//!
//! Starts `rapport serve` (the release binary next to this one) on a fresh database,
//! seeds it through the API, then drives each scenario with a keep-alive HTTP/1.1 load
//! generator on one thread (so the server keeps the other core) and prints requests/s and
//! latency percentiles.
//!
//!     cargo build --release --workspace && target/release/rapport-bench [--seconds 10] [--connections 32] [--backend sqlite|postgres|both]
//!
//! With `--search-leads N [--runs 50]` it runs the search benchmark instead (`search.rs`);
//! `--bulk` loads the leads straight into the SQLite store (`bulk.rs`) and builds the index
//! with `rapport reindex`, for a million leads; `--keep` leaves its data dir behind and
//! `--reuse DIR` runs again on it (only `rapport reindex` and the queries).
//! `--browser-budget` then measures the web app on that store in headless Chromium
//! (`tests/browser/budget.mjs`: first render, search-as-you-type, a 100-row table; needs
//! `npm ci --prefix tests/browser` and Debian's `chromium`).
//! It ends with the PostgreSQL peer (`pg_peer.rs`): the same leads and queries in hand-written
//! SQL on postgres://postgres@127.0.0.1:5432, and the ratio of its p50 to Rapport's per query.
//!
//! With `--jobs N [--backend sqlite|postgres|rabbitmq|all]` it runs the jobs benchmark
//! (`jobs.rs`) instead; no server is started, the queue runs in this process:
//!
//!     cargo build --release -p rapport-bench && target/release/rapport-bench --jobs 20000 --backend all
//!
//! 1. no-op jobs/s: N jobs enqueued 500 per call, then a worker timed from its start until
//!    the ledger holds N done jobs, at each worker concurrency of `--concurrency 16,32,64`
//!    (the best is kept for the rest); again with a producer enqueueing while the worker
//!    runs;
//! 2. write-a-row jobs/s: the same with a handler that inserts a row through the store;
//! 3. event → start latency p50/p99/max: leads created one at a time (`--latency-events
//!    1000`, `--pace-ms 5` apart) with a webhook subscription, the dispatcher and a worker
//!    running, from each create's commit to the start of its `webhook:deliver` job (a
//!    handler that only notes the time).
//!
//! Each runs on a fresh SQLite file, a fresh PostgreSQL database `rapport_bench_jobs_*` on
//! postgres://postgres@127.0.0.1:5432, and PostgreSQL with RabbitMQ at
//! amqp://guest:guest@127.0.0.1:5672 (exchanges and queues `rapport_bench_*`), all removed
//! afterwards. Then the peers run the same no-op job (`--no-peer` skips them): Celery on
//! RabbitMQ (Redis at 127.0.0.1:6379 counts its tasks) and graphile-worker on PostgreSQL,
//! installed on first use into `<target>/bench-peers/` (a Python venv, an npm project);
//! their scripts are `peers/*.py|mjs`. It prints a Markdown table per backend with the
//! ratios Rapport / peer.
//!
//! With `--chat N [--backend sqlite|postgres|rabbitmq|all] [--rate 1000] [--seconds 10]` it
//! runs the chat benchmark (`chat.rs`): N websockets (10 operators, N − 10 visitors) on one
//! node (SQLite, or PostgreSQL) and on two nodes (`rabbitmq`: PostgreSQL and RabbitMQ,
//! visitors on one node, operators on the other), the server's memory, and the visitor →
//! operator latency of messages sent at `--rate` per second; then the same against a
//! socket.io relay (`peers/socketio_relay.mjs`, installed on demand). `all` is `sqlite`
//! and `rabbitmq`.
//!
//!     cargo build --release -p rapport-bench -p rapport && target/release/rapport-bench --chat 10000 --backend all
//!
//! With `--flood [--backend sqlite|postgres|both] [--seconds 30] [--connections 32]
//! [--query-connections 8] [--rate 50]` it runs the benchmark of security issue #16
//! (`flood.rs`): the GET-lead latency of a steady client alone and while a distributed
//! login flood (every attempt an Argon2 hash) and a flood of the heaviest query the server
//! accepts run, and the peak memory of that query. SQLite unless `--backend` says
//! otherwise.
//!
//!     cargo build --release -p rapport -p rapport-bench && target/release/rapport-bench --flood --seconds 30

mod backend;
mod bulk;
mod chat;
mod dataset;
mod flood;
mod jobs;
mod pg_peer;
mod search;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use backend::Backend;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    seconds: u64,
    connections: usize,
    backends: Vec<&'static str>,
    seed_leads: usize,
    /// Run the search benchmark on this many generated leads instead of the API one.
    search_leads: Option<usize>,
    /// Load the search leads into the store directly rather than through the API.
    bulk: bool,
    /// Reuse a data dir that `--bulk` filled (kept with `--keep`).
    reuse: Option<std::path::PathBuf>,
    /// Keep the data dir at the end.
    keep: bool,
    /// Skip the PostgreSQL peer of the search benchmark.
    no_peer: bool,
    /// Timed runs per query for the peer (default: `--runs`); at a million leads its
    /// queries take seconds.
    peer_runs: Option<usize>,
    runs: usize,
    /// Run the jobs benchmark with this many jobs per throughput run instead.
    jobs: Option<usize>,
    /// `--backend` as given; its meaning depends on the mode.
    backend: Option<String>,
    /// Worker concurrencies the jobs benchmark tries.
    concurrencies: Vec<usize>,
    latency_events: usize,
    pace_ms: u64,
    /// Run the chat benchmark with this many websockets instead.
    chat: Option<usize>,
    /// Visitor messages per second in the chat benchmark; GETs per second in the flood one.
    rate: usize,
    /// `--rate` was given (the two benchmarks have different defaults).
    rate_given: bool,
    /// Measure the web app in Chromium on the search benchmark's store.
    browser_budget: bool,
    /// Run the flood benchmark (security issue #16) instead.
    flood: bool,
    /// Connections of the flood benchmark's query flood.
    query_connections: usize,
}

const USAGE: &str = "\
rapport-bench: benchmarks of the release server (build it first:
  cargo build --release -p rapport -p rapport-bench)

The REST API, on SQLite and PostgreSQL:
  rapport-bench [--seconds 10] [--connections 32] [--seed-leads 2000] [--backend sqlite|postgres|both]
Search over generated leads, with the PostgreSQL peer:
  rapport-bench --search-leads N [--runs 50] [--peer-runs N] [--bulk] [--keep] [--reuse DIR]
                [--no-peer] [--browser-budget] [--backend sqlite|postgres|both]
The job queue, with Celery and graphile-worker as peers:
  rapport-bench --jobs N [--backend sqlite|postgres|rabbitmq|all] [--concurrency 16,32,64]
                [--latency-events 1000] [--pace-ms 5] [--no-peer]
Chat fan-out, with a socket.io relay as the peer:
  rapport-bench --chat N [--backend sqlite|rabbitmq|all] [--rate 1000] [--seconds 10] [--no-peer]
GET latency under a login flood and a query flood, and the worst query's memory (issue 16):
  rapport-bench --flood [--backend sqlite|postgres|both] [--seconds 30] [--connections 32]
                [--query-connections 8] [--rate 50] [--seed-leads 2000]

The crate docs (crates/rapport-bench/src/main.rs) say what each one measures.";

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        seconds: 10,
        connections: 32,
        backends: vec!["sqlite", "postgres"],
        seed_leads: 2000,
        search_leads: None,
        bulk: false,
        reuse: None,
        keep: false,
        no_peer: false,
        peer_runs: None,
        runs: 50,
        jobs: None,
        backend: None,
        concurrencies: vec![16, 32, 64],
        latency_events: 1000,
        pace_ms: 5,
        chat: None,
        rate: 1000,
        rate_given: false,
        browser_budget: false,
        flood: false,
        query_connections: 8,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--help" | "-h" => {
                // Not println!: a closed pipe (`--help | head`) is not a reason to panic.
                let _ = writeln!(std::io::stdout().lock(), "{USAGE}");
                std::process::exit(0);
            }
            "--seconds" => o.seconds = value.parse().context("--seconds")?,
            "--connections" => o.connections = value.parse().context("--connections")?,
            "--seed-leads" => o.seed_leads = value.parse().context("--seed-leads")?,
            "--search-leads" => o.search_leads = Some(value.parse().context("--search-leads")?),
            "--runs" => o.runs = value.parse().context("--runs")?,
            "--bulk" => {
                o.bulk = true;
                i += 1;
                continue;
            }
            "--keep" => {
                o.keep = true;
                i += 1;
                continue;
            }
            "--no-peer" => {
                o.no_peer = true;
                i += 1;
                continue;
            }
            "--browser-budget" => {
                o.browser_budget = true;
                i += 1;
                continue;
            }
            "--flood" => {
                o.flood = true;
                i += 1;
                continue;
            }
            "--query-connections" => o.query_connections = value.parse().context("--query-connections")?,
            "--reuse" => o.reuse = Some(value.into()),
            "--peer-runs" => o.peer_runs = Some(value.parse().context("--peer-runs")?),
            "--backend" => o.backend = Some(value),
            "--jobs" => o.jobs = Some(value.parse().context("--jobs")?),
            "--concurrency" => {
                o.concurrencies = value
                    .split(',')
                    .map(|c| c.trim().parse())
                    .collect::<Result<_, _>>()
                    .context("--concurrency: numbers separated by commas")?
            }
            "--latency-events" => o.latency_events = value.parse().context("--latency-events")?,
            "--pace-ms" => o.pace_ms = value.parse().context("--pace-ms")?,
            "--chat" => o.chat = Some(value.parse().context("--chat")?),
            "--rate" => {
                o.rate = value.parse().context("--rate")?;
                o.rate_given = true;
            }
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
        i += 2;
    }
    if o.flood && o.backend.is_none() {
        o.backends = vec!["sqlite"];
    }
    if o.jobs.is_none() && o.chat.is_none() {
        if let Some(backend) = &o.backend {
            o.backends = match backend.as_str() {
                "sqlite" => vec!["sqlite"],
                "postgres" => vec!["postgres"],
                "both" => vec!["sqlite", "postgres"],
                other => bail!("unknown backend {other}"),
            }
        }
    }
    Ok(o)
}

impl Options {
    fn jobs_options(&self, jobs: usize) -> anyhow::Result<jobs::JobsOptions> {
        Ok(jobs::JobsOptions {
            jobs,
            backends: Backend::parse_list(
                self.backend.as_deref().unwrap_or("all"),
                "--jobs",
                &[Backend::Sqlite, Backend::Postgres, Backend::RabbitMq],
            )?,
            concurrencies: self.concurrencies.clone(),
            latency_events: self.latency_events,
            pace: Duration::from_millis(self.pace_ms),
            peers: !self.no_peer,
        })
    }

    fn flood_options(&self) -> flood::FloodOptions {
        flood::FloodOptions {
            backends: self.backends.clone(),
            seconds: self.seconds,
            leads: self.seed_leads,
            login_connections: self.connections,
            query_connections: self.query_connections,
            // `--rate` is the chat benchmark's messages/s unless given.
            rate: if self.rate_given { self.rate } else { 50 },
        }
    }

    fn chat_options(&self, connections: usize) -> anyhow::Result<chat::ChatOptions> {
        Ok(chat::ChatOptions {
            connections,
            backends: Backend::parse_list(
                self.backend.as_deref().unwrap_or("all"),
                "--chat",
                &[Backend::Sqlite, Backend::RabbitMq],
            )?,
            rate: self.rate,
            seconds: self.seconds,
            peers: !self.no_peer,
        })
    }
}

/// The server under test, stopped on drop.
struct Server {
    child: Child,
    addr: String,
    auth: String,
    data_dir: std::path::PathBuf,
    url: String,
    pg_db: Option<String>,
    /// Leave the data dir in place when dropped.
    keep: bool,
}

/// The value at quantile `p` (0.5, 0.99) of ascending `sorted` values; NaN when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// Starts `rapport serve` with `extra` flags; returns it, its address and the API key it
/// printed (on a first start only).
/// The header the benchmark's clients give their address in, so that a load from one
/// machine is many clients to the server's per-address limits, as real traffic is.
pub const CLIENT_IP_HEADER: &str = "X-Bench-Client";

fn spawn(
    exe: &std::path::Path,
    url: &str,
    data_dir: &std::path::Path,
    extra: &[String],
) -> anyhow::Result<(Child, String, Option<String>)> {
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .args(["--client-ip-header", CLIENT_IP_HEADER])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RAPPORT_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut key = None;
    let addr = loop {
        let line = lines.next().context("the server exited early")??;
        if let Some(k) = line.trim().strip_prefix("API key: ") {
            key = Some(k.to_string());
        }
        if let Some(a) = line.strip_prefix("Listening on http://") {
            break a.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, addr, key))
}

impl Server {
    fn start(backend: &str) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?.with_file_name("rapport");
        if !exe.exists() {
            bail!(
                "{} is missing: run `cargo build --release --workspace` first",
                exe.display()
            );
        }
        let tag = format!("{}_{}", std::process::id(), backend);
        let data_dir = std::env::temp_dir().join(format!("rapport-bench-{tag}"));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        let (url, pg_db) = match backend {
            "postgres" => {
                let db = format!("rapport_bench_{tag}");
                (format!("postgres://postgres@127.0.0.1:5432/{db}"), Some(db))
            }
            _ => (data_dir.join("rapport.db").to_string_lossy().into_owned(), None),
        };
        let (child, addr, key) = spawn(&exe, &url, &data_dir, &[])?;
        let auth = format!("Basic {}", base64(&format!("{}:", key.context("no API key printed")?)));
        Ok(Server {
            child,
            addr,
            auth,
            data_dir,
            url,
            pg_db,
            keep: false,
        })
    }

    /// A server on a SQLite data dir filled before; its admin gets a new API key.
    fn existing(data_dir: std::path::PathBuf) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?.with_file_name("rapport");
        let url = data_dir.join("rapport.db").to_string_lossy().into_owned();
        let out = Command::new(&exe)
            .args([
                "apikey",
                "create",
                "--email",
                "admin@example.com",
                "--database-url",
                &url,
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .output()?;
        if !out.status.success() {
            bail!("apikey create: {}", String::from_utf8_lossy(&out.stderr));
        }
        let key = String::from_utf8(out.stdout)?.trim().to_string();
        let (child, addr, _) = spawn(&exe, &url, &data_dir, &[])?;
        Ok(Server {
            child,
            addr,
            auth: format!("Basic {}", base64(&format!("{key}:"))),
            data_dir,
            url,
            pg_db: None,
            keep: true,
        })
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    fn stop(&mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        self.child.wait()?;
        Ok(())
    }

    /// Starts the server again on the same database and data dir.
    fn restart(&mut self) -> anyhow::Result<()> {
        let exe = std::env::current_exe()?.with_file_name("rapport");
        let (child, addr, _) = spawn(&exe, &self.url, &self.data_dir, &[])?;
        self.child = child;
        self.addr = addr;
        Ok(())
    }

    /// Runs a `rapport` command on the server's database and data dir; returns its stderr.
    fn command(&self, args: &[&str]) -> anyhow::Result<String> {
        let exe = std::env::current_exe()?.with_file_name("rapport");
        let out = Command::new(exe)
            .args(args)
            .args(["--database-url", &self.url])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("RAPPORT_LOG", "warn")
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            bail!("rapport {args:?} failed: {stderr}");
        }
        Ok(stderr)
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Vec<u8> {
        self.request_builder()(method, path, body)
    }

    /// Builds raw HTTP/1.1 requests for this server, from any task.
    fn request_builder(&self) -> impl Fn(&str, &str, Option<&Value>) -> Vec<u8> + Send + 'static {
        let (addr, auth) = (self.addr.clone(), self.auth.clone());
        move |method, path, body| {
            let body = body.map(|b| b.to_string()).unwrap_or_default();
            let length = body.len();
            format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{body}")
                .into_bytes()
        }
    }

    /// The server's resident memory.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.keep {
            eprintln!("kept {}", self.data_dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
        if let Some(db) = &self.pg_db {
            let _ = Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
                ])
                .output();
        }
    }
}

/// One keep-alive connection: sends a request, reads one response (Content-Length framed).
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Returns the status and the body.
    async fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])?;
                let status: u16 = head.split(' ').nth(1).context("no status")?.parse()?;
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .context("no content-length")?
                    .parse::<usize>()?;
                while self.buf.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).await?;
                    if n == 0 {
                        bail!("connection closed mid-body");
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return Ok((status, self.buf[end + 4..end + 4 + length].to_vec()));
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Figures {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Drives `requests` round-robin over `connections` for `seconds`.
async fn drive(addr: &str, requests: &[Vec<u8>], connections: usize, seconds: u64) -> anyhow::Result<Figures> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let mut conn = Connection::open(addr).await?;
        let requests = requests.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut i = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                match conn.send(&requests[i % requests.len()]).await {
                    Ok((status, _)) if (200..300).contains(&status) => latencies.push(t.elapsed().as_micros() as u32),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
                i += connections;
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Ok(Figures {
        requests: all.len(),
        errors,
        per_second: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

fn lead_body(i: usize) -> Value {
    json!({
        "name": format!("Bench Lead {i}"),
        "url": "bench.example.com",
        "contacts": [
            {"name": format!("Ann {i}"), "title": "CEO", "emails": [{"email": format!("ann{i}@bench.example.com")}], "phones": [{"phone": "+1 415 555 0100"}]},
            {"name": format!("Bob {i}"), "emails": [{"email": format!("bob{i}@bench.example.com")}]}
        ]
    })
}

/// Creates `leads` leads of two contacts each through the API, as a client would; their ids.
async fn seed(server: &Server, leads: usize) -> anyhow::Result<Vec<String>> {
    let mut conn = Connection::open(&server.addr).await?;
    let mut ids = Vec::new();
    for i in 0..leads {
        let (status, body) = conn
            .send(&server.request("POST", "/api/v1/lead/", Some(&lead_body(i))))
            .await?;
        if status != 200 {
            bail!("seeding failed with {status}: {}", String::from_utf8_lossy(&body));
        }
        let lead: Value = serde_json::from_slice(&body)?;
        ids.push(lead["id"].as_str().context("lead id")?.to_string());
    }
    Ok(ids)
}

async fn bench_backend(backend: &'static str, o: &Options) -> anyhow::Result<Vec<(String, Figures)>> {
    let server = Server::start(backend)?;
    let ids = seed(&server, o.seed_leads).await?;
    let gets: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| server.request("GET", &format!("/api/v1/lead/{id}/"), None))
        .collect();
    let posts: Vec<Vec<u8>> = (0..1000)
        .map(|i| server.request("POST", "/api/v1/lead/", Some(&lead_body(o.seed_leads + i))))
        .collect();
    let pages: Vec<Vec<u8>> = (0..10)
        .map(|p| server.request("GET", &format!("/api/v1/lead/?_limit=100&_skip={}", p * 100), None))
        .collect();
    let mut results = Vec::new();
    for (name, requests) in [
        ("GET /lead/{id}", &gets),
        ("POST /lead/ (2 contacts)", &posts),
        ("GET /lead/?_limit=100", &pages),
    ] {
        // A short warm-up fills caches and connection pools.
        drive(&server.addr, requests, o.connections, 1).await?;
        let figures = drive(&server.addr, requests, o.connections, o.seconds).await?;
        eprintln!(
            "{backend:8} {name:26} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests, {} errors)",
            figures.per_second, figures.p50_ms, figures.p99_ms, figures.requests, figures.errors
        );
        results.push((name.to_string(), figures));
    }
    Ok(results)
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    if let Some(jobs) = o.jobs {
        return jobs::run(&o.jobs_options(jobs)?);
    }
    if let Some(connections) = o.chat {
        return chat::run(&o.chat_options(connections)?);
    }
    if o.flood {
        return flood::run(&o.flood_options());
    }
    // One thread for the load generator: the server keeps the other core.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if let Some(leads) = o.search_leads {
        for backend in &o.backends {
            println!("\n## {backend}: search over {leads} generated leads");
            if (o.bulk || o.reuse.is_some()) && *backend != "sqlite" {
                bail!("--bulk and --reuse load the SQLite store; use --backend sqlite");
            }
            let (mut server, loading) = match &o.reuse {
                Some(dir) => {
                    // Looked at before the server starts, which makes an index if there is none.
                    let loading = if dir.join("search-index/meta.json").exists() {
                        search::Loading::ReuseIndex
                    } else {
                        search::Loading::Reuse
                    };
                    (Server::existing(dir.clone())?, loading)
                }
                None if o.bulk => (Server::start(backend)?, search::Loading::Bulk),
                None => (Server::start(backend)?, search::Loading::Api),
            };
            server.keep |= o.keep;
            runtime.block_on(search::run(
                &mut server,
                leads,
                o.runs,
                o.connections,
                loading,
                (!o.no_peer).then_some(o.peer_runs.unwrap_or(o.runs)),
                o.browser_budget,
            ))?;
        }
        return Ok(());
    }
    let mut all = Vec::new();
    for backend in &o.backends {
        all.push((*backend, runtime.block_on(bench_backend(backend, &o))?));
    }
    println!("\n| scenario | backend | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    for (backend, results) in &all {
        for (name, f) in results {
            println!(
                "| {name} | {backend} | {:.0} | {:.2} | {:.2} | {} |",
                f.per_second, f.p50_ms, f.p99_ms, f.errors
            );
        }
    }
    if all.len() == 2 {
        println!("\n| scenario | SQLite / PostgreSQL throughput |");
        println!("|---|---:|");
        for ((name, s), (_, p)) in all[0].1.iter().zip(all[1].1.iter()) {
            println!("| {name} | {:.2}x |", s.per_second / p.per_second.max(1.0));
        }
    }
    Ok(())
}

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
