//! The benchmark of security issue #16: does the server keep answering while it is
//! attacked? The GET-lead latency of a steady client, alone and while a login flood and a
//! query flood run, and the peak memory of the heaviest query the server still accepts.
//!
//! 1. `rapport serve` with default settings (no `--rate-limit`) on a fresh database,
//!    seeded through the API with `--seed-leads` leads of two contacts each, and one member
//!    with a password.
//! 2. Query shapes at the public limits of one query (`rapport_query::MAX_CLAUSES` and
//!    friends), each checked to be accepted (200) and one clause more refused (400), each
//!    timed alone on a freshly restarted server, with the growth of the server's peak
//!    memory (`VmHWM`) over a few runs. The slowest is "the worst query".
//! 3. Four phases of `--seconds` each, in which a prober GETs `/api/v1/lead/{id}/` (random
//!    seeded ids) at `--rate` per second over a few keep-alive connections, on a thread
//!    and runtime of its own so that the floods do not delay its clock: alone (the
//!    baseline), with the login flood, with the query flood, and with both.
//!    - The login flood: `--connections` keep-alive connections POSTing
//!      `/api/v1/auth/login/` with wrong passwords as fast as answers come, each attempt
//!      from an address of its own (`X-Bench-Client`) and, but one in
//!      [`MEMBER_EVERY`], for an email of its own: a distributed password spray that
//!      neither the per-address limit nor the per-email throttle stops, so every attempt
//!      costs an Argon2 hash (an unknown email is checked against a dummy hash).
//!    - The query flood: `--query-connections` connections sending the worst query.
//! 4. The CPU each phase used, from `/proc`: the server's, this client's, and the rest of
//!    the machine's (other processes: PostgreSQL, or someone else's build).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::search::encode;
use crate::{percentile, Connection, Server};

/// The bounds of one query (`crates/rapport-query/src/limits.rs`; not a dependency of the
/// benchmark). The shapes check the server agrees: one clause more is refused.
const MAX_CLAUSES: usize = 200;
const MAX_TERMS: usize = 1_000;
const MAX_QUERY_CHARS: usize = 10_000;

/// One login attempt in this many is for the seeded member's email (the others' emails
/// are unknown): the per-email throttle answers those 429 after ten failures.
const MEMBER_EVERY: u64 = 20;
const MEMBER_EMAIL: &str = "flood-member@bench.example.com";
const MEMBER_PASSWORD: &str = "correct horse battery staple";

/// Connections of the prober; each sends every `PROBE_CONNECTIONS / rate` seconds, so a
/// slow answer on one does not hold up the others' schedule.
const PROBE_CONNECTIONS: usize = 4;
/// Runs of a shape alone: warm-up, then timed (the median is kept), then for its memory.
const SHAPE_WARM_UP: usize = 2;
const SHAPE_RUNS: usize = 9;
const MEMORY_RUNS: usize = 5;

pub(crate) struct FloodOptions {
    pub(crate) backends: Vec<&'static str>,
    pub(crate) seconds: u64,
    pub(crate) leads: usize,
    pub(crate) login_connections: usize,
    pub(crate) query_connections: usize,
    /// GETs per second of the prober.
    pub(crate) rate: usize,
}

/// Builds the request of a shape at a number of clauses.
type ShapeRequest = Box<dyn Fn(&Server, usize) -> Vec<u8>>;

/// A query the server accepts, at `clauses` clauses: the request.
struct Shape {
    name: &'static str,
    /// At the limit (one clause more is refused); else a reference, not a candidate.
    at_limit: bool,
    request: ShapeRequest,
}

/// The query string of `clauses` clauses `clause(0)`, `clause(1)`… joined by `or`.
fn or_of(clauses: usize, clause: impl Fn(usize) -> String) -> String {
    (0..clauses).map(clause).collect::<Vec<_>>().join(" or ")
}

/// A lead search through `GET /api/v1/lead/?query=`, its largest page.
fn get_search(server: &Server, query: &str) -> Vec<u8> {
    let path = format!(
        "/api/v1/lead/?query={}&_limit={}",
        encode(query),
        rapport_crm::MAX_LIMIT
    );
    server.request("GET", &path, None)
}

/// One character that starts many indexed words: digits start the leads' numbers.
fn initial(i: usize) -> char {
    b"1234567890abcelr"[i % 16] as char
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "reference: one word (`bench`), not at the limit",
            at_limit: false,
            request: Box::new(|s, _| get_search(s, "bench")),
        },
        Shape {
            at_limit: true,
            name: "one-character prefix words, or'd (`1 or 2 or …`)",
            request: Box::new(|s, n| get_search(s, &or_of(n, |i| initial(i).to_string()))),
        },
        Shape {
            at_limit: true,
            name: "three-word phrases ending in a one-digit prefix, or'd (`bench.lead.1 or …`)",
            request: Box::new(|s, n| get_search(s, &or_of(n, |i| format!("bench.lead.{}", 1 + i % 9)))),
        },
        Shape {
            at_limit: true,
            name: "five-word phrases ending in a prefix, or'd (1,000 terms: `ann1.bench.example.com.1 or …`)",
            request: Box::new(|s, n| {
                get_search(
                    s,
                    &or_of(n, |i| format!("ann{}.bench.example.com.{}", 1 + i % 9, i % 10)),
                )
            }),
        },
        Shape {
            // A related clause and its word are two clauses.
            at_limit: true,
            name: "contact clauses of a one-character prefix, or'd (100: `contact(1) or …`)",
            request: Box::new(|s, n| get_search(s, &or_of(n.div_ceil(2), |i| format!("contact({})", initial(i))))),
        },
        Shape {
            at_limit: true,
            name: "one contact clause of two-word phrase prefixes, or'd (`contact(ann.1 or ann.2 or …)`)",
            request: Box::new(|s, n| {
                get_search(
                    s,
                    &format!("contact({})", or_of(n - 1, |i| format!("ann.{}", 1 + i % 9))),
                )
            }),
        },
        Shape {
            at_limit: true,
            name: "the three-word phrases in the JSON form (`POST /api/v1/data/search/`)",
            request: Box::new(|s, n| {
                let queries: Vec<Value> = (0..n)
                    .map(|i| json!({"type": "text", "value": format!("bench.lead.{}", 1 + i % 9), "phrase": false}))
                    .collect();
                let body = json!({"query": {"type": "or", "queries": queries}, "_limit": rapport_crm::MAX_LIMIT});
                s.request("POST", "/api/v1/data/search/", Some(&body))
            }),
        },
    ]
}

/// A shape alone: its time, what it does to the server's memory, and what it answers.
struct ShapeFigures {
    name: &'static str,
    at_limit: bool,
    p50_ms: f64,
    max_ms: f64,
    hwm_growth_kib: i64,
    rss_after_kib: u64,
    results: usize,
}

/// What `/proc/<pid>/status` says of the server's memory.
#[derive(Clone, Copy, Default)]
struct Memory {
    hwm_kib: u64,
    rss_kib: u64,
    anon_kib: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        hwm_kib: field("VmHWM:"),
        rss_kib: field("VmRSS:"),
        anon_kib: field("RssAnon:"),
    }
}

/// CPU time so far, in clock ticks: the server's, this process's, and the whole machine's
/// busy time.
#[derive(Clone, Copy)]
struct Cpu {
    server: u64,
    client: u64,
    busy: u64,
    at: Instant,
}

fn process_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    tick(11) + tick(12)
}

fn cpu(pid: u32) -> Cpu {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let times: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let total: u64 = times.iter().take(8).sum();
    let idle = times.get(3).copied().unwrap_or(0) + times.get(4).copied().unwrap_or(0);
    Cpu {
        server: process_ticks(&pid.to_string()),
        client: process_ticks("self"),
        busy: total - idle,
        at: Instant::now(),
    }
}

/// Cores used between two readings: the server, this client, everything else.
#[derive(Clone, Copy, Default)]
struct CoresUsed {
    server: f64,
    client: f64,
    other: f64,
}

fn cores_used(before: Cpu, after: Cpu) -> CoresUsed {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let per_second = |ticks: u64| ticks as f64 / hz / seconds;
    let server = per_second(after.server - before.server);
    let client = per_second(after.client - before.client);
    let busy = per_second(after.busy - before.busy);
    CoresUsed {
        server,
        client,
        other: (busy - server - client).max(0.0),
    }
}

/// Latencies (ms, ascending) and failures of one stream of requests.
#[derive(Default)]
struct Series {
    latencies_ms: Vec<f64>,
    statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (the connection failed).
    broken: u64,
}

impl Series {
    /// Sends one request and records its answer and time; a connection that failed is
    /// counted and opened again.
    async fn send(&mut self, conn: &mut Connection, addr: &str, request: &[u8]) -> anyhow::Result<()> {
        let sent = Instant::now();
        match conn.send(request).await {
            Ok((status, _)) => {
                *self.statuses.entry(status).or_default() += 1;
                self.latencies_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            Err(_) => {
                self.broken += 1;
                *conn = Connection::open(addr).await?;
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Series) {
        self.latencies_ms.extend(other.latencies_ms);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.broken += other.broken;
    }

    fn finish(mut self) -> Series {
        self.latencies_ms.sort_by(f64::total_cmp);
        self
    }

    fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies_ms, q)
    }

    fn max(&self) -> f64 {
        self.latencies_ms.last().copied().unwrap_or(f64::NAN)
    }

    /// Requests not answered 200.
    fn failed(&self) -> u64 {
        self.answered() - self.count(200) + self.broken
    }

    fn mix(&self) -> String {
        let mut parts: Vec<String> = self.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        if self.broken > 0 {
            parts.push(format!("no answer: {}", self.broken));
        }
        parts.join(", ")
    }
}

/// One phase: the prober's GETs, and the floods that ran beside it.
struct Phase {
    name: &'static str,
    probe: Series,
    logins: Option<Series>,
    queries: Option<Series>,
    /// How long the prober ran, and the floods (from 2 s before it until it ended).
    probe_seconds: f64,
    flood_seconds: f64,
    cores: CoresUsed,
    memory_after: Memory,
}

/// Sends `requests[random]` at `rate` per second over [`PROBE_CONNECTIONS`] connections
/// for `seconds`, on a thread and runtime of its own.
fn probe(
    addr: String,
    requests: Arc<Vec<Vec<u8>>>,
    rate: usize,
    seconds: u64,
) -> std::thread::JoinHandle<anyhow::Result<Series>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let period = Duration::from_secs_f64(PROBE_CONNECTIONS as f64 / rate.max(1) as f64);
            let start = tokio::time::Instant::now() + Duration::from_millis(50);
            let end = start + Duration::from_secs(seconds);
            let mut tasks = Vec::new();
            for c in 0..PROBE_CONNECTIONS {
                let mut conn = Connection::open(&addr).await?;
                let (requests, addr) = (requests.clone(), addr.clone());
                tasks.push(tokio::spawn(async move {
                    let mut series = Series::default();
                    let mut random = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1);
                    let offset = period.mul_f64(c as f64 / PROBE_CONNECTIONS as f64);
                    for k in 0u32.. {
                        let at = start + offset + period * k;
                        if at >= end {
                            break;
                        }
                        tokio::time::sleep_until(at).await;
                        random ^= random << 13;
                        random ^= random >> 7;
                        random ^= random << 17;
                        let request = &requests[(random % requests.len() as u64) as usize];
                        series.send(&mut conn, &addr, request).await?;
                    }
                    anyhow::Ok(series)
                }));
            }
            let mut all = Series::default();
            for task in tasks {
                all.merge(task.await??);
            }
            Ok(all.finish())
        })
    })
}

/// A wrong login, from an address and (mostly) for an email of its own.
fn login_request(addr: &str, n: u64) -> Vec<u8> {
    let email = if n.is_multiple_of(MEMBER_EVERY) {
        MEMBER_EMAIL.to_string()
    } else {
        format!("spray{n}@bench.example.com")
    };
    let body = json!({"email": email, "password": format!("wrong password {n}")}).to_string();
    format!(
        "POST /api/v1/auth/login/ HTTP/1.1\r\nHost: {addr}\r\n{}: 10.{}.{}.{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        crate::CLIENT_IP_HEADER,
        (n >> 16) & 255,
        (n >> 8) & 255,
        n & 255,
        body.len()
    )
    .into_bytes()
}

/// Sends on `connections` connections as fast as answers come until `stop`; `next` makes
/// each request from a global count.
async fn flood(
    addr: &str,
    connections: usize,
    stop: Arc<AtomicBool>,
    next: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<Series>>> {
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut conn = Connection::open(addr).await?;
        let (addr, stop, next, count) = (addr.to_string(), stop.clone(), next.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut series = Series::default();
            while !stop.load(Ordering::Relaxed) {
                let request = next(count.fetch_add(1, Ordering::Relaxed));
                series.send(&mut conn, &addr, &request).await?;
            }
            anyhow::Ok(series)
        }));
    }
    Ok(tokio::spawn(async move {
        let mut all = Series::default();
        for task in tasks {
            all.merge(task.await??);
        }
        Ok(all.finish())
    }))
}

/// The state the phases share.
struct Bench {
    server: Server,
    gets: Arc<Vec<Vec<u8>>>,
    worst: Arc<Vec<u8>>,
    logins_sent: Arc<AtomicU64>,
    o: FloodPhases,
}

#[derive(Clone, Copy)]
struct FloodPhases {
    seconds: u64,
    rate: usize,
    login_connections: usize,
    query_connections: usize,
}

impl Bench {
    async fn phase(&self, name: &'static str, logins: bool, queries: bool) -> anyhow::Result<Phase> {
        let stop = Arc::new(AtomicBool::new(false));
        let addr = self.server.addr.clone();
        let flood_started = Instant::now();
        let login_flood = if logins {
            let sent = self.logins_sent.clone();
            let host = addr.clone();
            let next: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync> =
                Arc::new(move |_| login_request(&host, sent.fetch_add(1, Ordering::Relaxed)));
            Some(flood(&addr, self.o.login_connections, stop.clone(), next).await?)
        } else {
            None
        };
        let query_flood = if queries {
            let worst = self.worst.clone();
            let next: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync> = Arc::new(move |_| worst.to_vec());
            Some(flood(&addr, self.o.query_connections, stop.clone(), next).await?)
        } else {
            None
        };
        if logins || queries {
            // The floods reach their pace before the prober starts.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let before = cpu(self.server.child.id());
        let started = Instant::now();
        let prober = probe(addr, self.gets.clone(), self.o.rate, self.o.seconds);
        while !prober.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let probe = prober.join().map_err(|_| anyhow::anyhow!("the prober panicked"))??;
        let probe_seconds = started.elapsed().as_secs_f64();
        let after = cpu(self.server.child.id());
        let memory_after = memory(self.server.child.id());
        stop.store(true, Ordering::Relaxed);
        let flood_seconds = flood_started.elapsed().as_secs_f64();
        let logins = match login_flood {
            Some(task) => Some(task.await??),
            None => None,
        };
        let queries = match query_flood {
            Some(task) => Some(task.await??),
            None => None,
        };
        Ok(Phase {
            name,
            probe,
            logins,
            queries,
            probe_seconds,
            flood_seconds,
            cores: cores_used(before, after),
            memory_after,
        })
    }
}

/// Sends `request` on `conn`; its status, time (ms) and the leads it answered with.
async fn timed(conn: &mut Connection, request: &[u8]) -> anyhow::Result<(u16, f64, Value)> {
    let sent = Instant::now();
    let (status, body) = conn.send(request).await?;
    let ms = sent.elapsed().as_secs_f64() * 1000.0;
    Ok((status, ms, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// After a (re)start: some GETs and ordinary searches, so that caches, pools and the
/// index reader are in place before memory is read.
async fn warm_up(server: &Server, gets: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut conn = Connection::open(&server.addr).await?;
    for request in gets.iter().take(200) {
        conn.send(request).await?;
    }
    for _ in 0..3 {
        let (status, _, answer) = timed(&mut conn, &get_search(server, "bench")).await?;
        if status != 200 {
            bail!("a warm-up search answered {status}: {answer}");
        }
    }
    Ok(())
}

fn restart(server: &mut Server) -> anyhow::Result<()> {
    server.stop()?;
    server.restart()
}

/// Times `shape` alone on a restarted server, and reads what it does to its memory.
async fn measure_shape(server: &mut Server, gets: &[Vec<u8>], shape: &Shape) -> anyhow::Result<ShapeFigures> {
    restart(server)?;
    warm_up(server, gets).await?;
    let request = (shape.request)(server, MAX_CLAUSES);
    let pid = server.child.id();
    let before = memory(pid);
    let mut conn = Connection::open(&server.addr).await?;
    let mut results = 0;
    for _ in 0..MEMORY_RUNS {
        let (status, _, answer) = timed(&mut conn, &request).await?;
        if status != 200 {
            bail!("{}: answered {status}, not accepted: {answer}", shape.name);
        }
        results = answer["total_results"]
            .as_u64()
            .unwrap_or_else(|| answer["data"].as_array().map_or(0, |d| d.len() as u64)) as usize;
    }
    let after = memory(pid);
    for _ in 0..SHAPE_WARM_UP {
        conn.send(&request).await?;
    }
    let mut times = Vec::new();
    for _ in 0..SHAPE_RUNS {
        let (status, ms, _) = timed(&mut conn, &request).await?;
        if status != 200 {
            bail!("{}: answered {status}", shape.name);
        }
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    let figures = ShapeFigures {
        name: shape.name,
        at_limit: shape.at_limit,
        p50_ms: percentile(&times, 0.5),
        max_ms: times.last().copied().unwrap_or(f64::NAN),
        hwm_growth_kib: after.hwm_kib as i64 - before.hwm_kib as i64,
        rss_after_kib: after.rss_kib,
        results,
    };
    // One clause more is past the limit: the shape is the largest the server accepts.
    if !shape.at_limit {
        return Ok(figures);
    }
    let (over, _, _) = timed(&mut conn, &(shape.request)(server, MAX_CLAUSES + 1)).await?;
    if over != 400 {
        bail!("{}: {} clauses answered {over}, not 400", shape.name, MAX_CLAUSES + 1);
    }
    Ok(figures)
}

/// Creates the member whose email one login attempt in [`MEMBER_EVERY`] names, and
/// checks that the right password logs in.
async fn member(server: &Server) -> anyhow::Result<()> {
    let mut conn = Connection::open(&server.addr).await?;
    let body =
        json!({"email": MEMBER_EMAIL, "first_name": "Flood", "last_name": "Member", "password": MEMBER_PASSWORD});
    let (status, answer) = conn.send(&server.request("POST", "/api/v1/user/", Some(&body))).await?;
    if status != 200 && status != 201 {
        bail!("creating the member: {status} {}", String::from_utf8_lossy(&answer));
    }
    let body = json!({"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD}).to_string();
    let login = format!(
        "POST /api/v1/auth/login/ HTTP/1.1\r\nHost: {}\r\n{}: 192.0.2.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        crate::CLIENT_IP_HEADER,
        body.len()
    );
    let (status, answer) = conn.send(login.as_bytes()).await?;
    if status != 200 {
        bail!("the member's login: {status} {}", String::from_utf8_lossy(&answer));
    }
    Ok(())
}

fn mb(kib: impl Into<f64>) -> f64 {
    kib.into() / 1024.0
}

async fn bench(backend: &'static str, o: &FloodOptions) -> anyhow::Result<()> {
    let mut server = Server::start(backend)?;
    eprintln!("{backend}: seeding {} leads through the API", o.leads);
    let ids = crate::seed(&server, o.leads).await?;
    member(&server).await?;
    let gets: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| server.request("GET", &format!("/api/v1/lead/{id}/"), None))
        .collect();

    println!("\n## {backend}: the largest accepted queries, each alone on a restarted server\n");
    println!(
        "{} clauses (the limit; {} refused), at most {MAX_TERMS} terms and {MAX_QUERY_CHARS} characters, \
         `_limit={}`; {SHAPE_RUNS} timed runs after {SHAPE_WARM_UP}; peak memory (VmHWM) growth over \
         {MEMORY_RUNS} runs after a warm-up of GETs and `bench` searches.\n",
        MAX_CLAUSES,
        MAX_CLAUSES + 1,
        rapport_crm::MAX_LIMIT
    );
    println!("| shape | chars | p50 ms | max ms | VmHWM growth MB | VmRSS after MB | leads matched |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let shapes = shapes();
    let mut measured = Vec::new();
    for shape in &shapes {
        let f = measure_shape(&mut server, &gets, shape).await?;
        let request = (shape.request)(&server, MAX_CLAUSES);
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            f.name,
            request.len(),
            f.p50_ms,
            f.max_ms,
            mb(f.hwm_growth_kib as f64),
            mb(f.rss_after_kib as f64),
            f.results
        );
        measured.push(f);
    }
    let (worst_index, worst) = measured
        .iter()
        .enumerate()
        .filter(|(_, f)| f.at_limit)
        .max_by(|a, b| a.1.p50_ms.total_cmp(&b.1.p50_ms))
        .context("no shapes")?;
    let hungriest = measured
        .iter()
        .filter(|f| f.at_limit)
        .max_by_key(|f| f.hwm_growth_kib)
        .context("no shapes")?;
    println!(
        "\nThe worst (slowest alone): {} ({:.1} ms); the most memory: {} (+{:.1} MB).",
        worst.name,
        worst.p50_ms,
        hungriest.name,
        mb(hungriest.hwm_growth_kib as f64)
    );

    // The phases run on a fresh process, so that its peak memory is theirs.
    restart(&mut server)?;
    warm_up(&server, &gets).await?;
    let memory_before = memory(server.child.id());
    let worst_request = (shapes[worst_index].request)(&server, MAX_CLAUSES);
    let bench = Bench {
        server,
        gets: Arc::new(gets),
        worst: Arc::new(worst_request),
        logins_sent: Arc::new(AtomicU64::new(1)),
        o: FloodPhases {
            seconds: o.seconds,
            rate: o.rate,
            login_connections: o.login_connections,
            query_connections: o.query_connections,
        },
    };
    let mut phases = Vec::new();
    for (name, logins, queries) in [
        ("baseline (no flood)", false, false),
        ("login flood", true, false),
        ("query flood", false, true),
        ("login + query floods", true, true),
    ] {
        eprintln!("{backend}: {name}, {} s", o.seconds);
        let phase = bench.phase(name, logins, queries).await?;
        eprintln!(
            "  GET p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} GETs, {} failed)",
            phase.probe.p(0.5),
            phase.probe.p(0.99),
            phase.probe.max(),
            phase.probe.latencies_ms.len(),
            phase.probe.failed()
        );
        phases.push(phase);
        // Let the server drain what the floods left queued.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    report(backend, o, &phases, memory_before);
    Ok(())
}

fn report(backend: &str, o: &FloodOptions, phases: &[Phase], memory_before: Memory) {
    println!(
        "\n## {backend}: GET /api/v1/lead/{{id}}/ at {}/s for {} s per phase; login flood on {} connections, \
         query flood (the worst query) on {}\n",
        o.rate, o.seconds, o.login_connections, o.query_connections
    );
    println!("| phase | GET p50 ms | GET p99 ms | GET max ms | GETs | failed | logins/s | login answers | queries/s | query p50 ms | query p99 ms | query answers | server cores | client cores | other cores |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|");
    for phase in phases {
        let rate = |s: &Option<Series>| {
            s.as_ref().map_or("–".to_string(), |s| {
                format!("{:.1}", s.answered() as f64 / phase.flood_seconds)
            })
        };
        let mix = |s: &Option<Series>| s.as_ref().map_or("–".to_string(), Series::mix);
        let query_p = |q: f64| {
            phase
                .queries
                .as_ref()
                .map_or("–".to_string(), |s| format!("{:.0}", s.p(q)))
        };
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
            phase.name,
            phase.probe.p(0.5),
            phase.probe.p(0.99),
            phase.probe.max(),
            phase.probe.latencies_ms.len(),
            phase.probe.failed(),
            rate(&phase.logins),
            mix(&phase.logins),
            rate(&phase.queries),
            query_p(0.5),
            query_p(0.99),
            mix(&phase.queries),
            phase.cores.server,
            phase.cores.client,
            phase.cores.other,
        );
    }
    if let Some(both) = phases.last() {
        let p99 = both.probe.p(0.99);
        println!(
            "\nUnder both floods: GET p99 {p99:.2} ms ({} the 50 ms bar); {} GETs failed.",
            if p99 < 50.0 { "under" } else { "OVER" },
            both.probe.failed()
        );
        println!(
            "Server memory: VmRSS {:.1} MB and VmHWM {:.1} MB after the warm-up; VmHWM {:.1} MB \
             (RssAnon {:.1} MB) after the floods.",
            mb(memory_before.rss_kib as f64),
            mb(memory_before.hwm_kib as f64),
            mb(both.memory_after.hwm_kib as f64),
            mb(both.memory_after.anon_kib as f64),
        );
        println!(
            "(The prober's p50 and p99 come from {:.0} s of GETs.)",
            both.probe_seconds
        );
    }
}

pub(crate) fn run(o: &FloodOptions) -> anyhow::Result<()> {
    // The client's floods and the phases on one thread; the prober has a thread of its own.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    for backend in &o.backends {
        runtime.block_on(bench(backend, o))?;
    }
    Ok(())
}
