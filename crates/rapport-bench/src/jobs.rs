//! The jobs benchmark (issue 4): throughput and event → start latency of Rapport's job
//! queue on SQLite, PostgreSQL and RabbitMQ, and of its peers (`jobs/peers.rs`: Celery on
//! RabbitMQ, graphile-worker on PostgreSQL) running the same no-op job in the same run.
//!
//! Rapport's side runs in this process on a two-thread runtime (the machine's cores): the
//! queue, a worker and, for latency, the CRM and the dispatcher, as `rapport serve` runs
//! them. Every measurement gets a fresh database (and broker topology), removed after it.

mod fixture;
pub(crate) mod peers;
mod report;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub(crate) use crate::backend::Backend;
use rapport_core::Kind;
use rapport_crm::{Crm, CrmConfig, NewOrganization};
use rapport_queue::{run_worker, Job, JobError, NewJob, Queue, Registry, WorkerConfig, WorkerMetrics};
use rapport_store::{Db, SqlValue};
use serde_json::json;
use tokio::sync::{oneshot, Notify};

use fixture::Fixture;
/// Jobs per `Queue::enqueue` call.
const ENQUEUE_BATCH: usize = 500;
const ORGANIZATION: &str = "orga_bench";
const NOOP: &str = "bench:noop";
const WRITE_ROW: &str = "bench:write_row";
/// Events before the measured ones, not counted: they warm pools and caches up.
const WARM_UP_EVENTS: usize = 20;

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::RabbitMq => "RabbitMQ (PostgreSQL ledger)",
        }
    }
}

/// What `--jobs` measures.
pub(crate) struct JobsOptions {
    pub(crate) jobs: usize,
    pub(crate) backends: Vec<Backend>,
    /// Worker concurrencies tried on the no-op run; the best is kept for the others.
    pub(crate) concurrencies: Vec<usize>,
    pub(crate) latency_events: usize,
    pub(crate) pace: Duration,
    pub(crate) peers: bool,
}

/// Runs every measurement and prints the report.
pub(crate) fn run(o: &JobsOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut ours = Vec::new();
    for &backend in &o.backends {
        eprintln!("== Rapport on {}", backend.name());
        ours.push((backend, runtime.block_on(measure(backend, o))?));
    }
    // The peers run after ours, on an idle machine, as separate processes.
    let mut celery = None;
    let mut graphile = None;
    if o.peers {
        let cache = peers::cache_dir()?;
        if o.backends.contains(&Backend::RabbitMq) {
            eprintln!("== Celery on RabbitMQ");
            celery = Some(peers::celery(&cache, o.jobs, o.latency_events, o.pace));
        }
        if o.backends.iter().any(|b| *b != Backend::RabbitMq) {
            eprintln!("== graphile-worker on PostgreSQL");
            graphile = Some(peers::graphile(&cache, o.jobs, o.latency_events, o.pace));
        }
    }
    report::print_report(o, &ours, celery.as_ref(), graphile.as_ref());
    Ok(())
}

/// Rapport's figures on one backend.
struct Figures {
    /// No-op throughput per worker concurrency, in the order tried.
    noop: Vec<(usize, Throughput)>,
    concurrency: usize,
    concurrent: Throughput,
    write_row: Throughput,
    latency: Latency,
    /// Statement round trips on an idle queue (embedded transports only).
    round_trips: Option<RoundTrips>,
}

impl Figures {
    fn best_noop(&self) -> &Throughput {
        &self
            .noop
            .iter()
            .find(|(c, _)| *c == self.concurrency)
            .expect("the best was tried")
            .1
    }
}

async fn measure(backend: Backend, o: &JobsOptions) -> anyhow::Result<Figures> {
    let mut noop = Vec::new();
    for &concurrency in &o.concurrencies {
        let figures = Fixture::with(backend, async |f| {
            throughput(f, o.jobs, concurrency, Work::Noop, Producer::Before).await
        })
        .await?;
        eprintln!("   no-op, concurrency {concurrency}: {}", figures.describe());
        noop.push((concurrency, figures));
    }
    let concurrency = noop
        .iter()
        .max_by(|a, b| a.1.jobs_per_s.total_cmp(&b.1.jobs_per_s))
        .map(|(c, _)| *c)
        .context("no concurrency to try")?;
    let concurrent = Fixture::with(backend, async |f| {
        throughput(f, o.jobs, concurrency, Work::Noop, Producer::During).await
    })
    .await?;
    eprintln!("   no-op, enqueued while running: {}", concurrent.describe());
    let write_row = Fixture::with(backend, async |f| {
        throughput(f, o.jobs, concurrency, Work::WriteRow, Producer::Before).await
    })
    .await?;
    eprintln!("   write a row: {}", write_row.describe());
    let latency = Fixture::with(backend, async |f| {
        event_to_start(f, o.latency_events, o.pace, concurrency).await
    })
    .await?;
    eprintln!("   event → start: {}", latency.describe());
    let round_trips = match backend {
        Backend::RabbitMq => None,
        _ => Some(Fixture::with(backend, async |f| round_trips(f).await).await?),
    };
    Ok(Figures {
        noop,
        concurrency,
        concurrent,
        write_row,
        latency,
        round_trips,
    })
}

/// Counts handler runs down to zero and says when it got there.
struct Countdown {
    left: AtomicI64,
    ran: AtomicU64,
    zero: Notify,
}

impl Countdown {
    fn new(n: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            left: AtomicI64::new(n as i64),
            ran: AtomicU64::new(0),
            zero: Notify::new(),
        })
    }

    fn tick(&self) {
        self.ran.fetch_add(1, Ordering::Relaxed);
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // A stored permit: a waiter that comes later still wakes.
            self.zero.notify_one();
        }
    }

    async fn reached(&self) {
        if self.left.load(Ordering::Acquire) > 0 {
            self.zero.notified().await;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Nothing: the queue's own cost.
    Noop,
    /// One row inserted into a table of the job's own, through the store.
    WriteRow,
}

impl Work {
    fn task(self) -> &'static str {
        match self {
            Work::Noop => NOOP,
            Work::WriteRow => WRITE_ROW,
        }
    }

    fn registry(self, db: &Db, countdown: &Arc<Countdown>) -> Registry {
        let mut registry = Registry::new();
        let countdown = countdown.clone();
        match self {
            Work::Noop => {
                registry.register(NOOP, move |_job: Job| {
                    countdown.tick();
                    std::future::ready(Ok(()))
                });
            }
            Work::WriteRow => {
                let db = db.clone();
                registry.register(WRITE_ROW, move |job: Job| {
                    let (db, countdown) = (db.clone(), countdown.clone());
                    async move {
                        let n = job.payload["i"].as_i64().unwrap_or(0);
                        // Idempotent, as a handler must be: a job may run twice.
                        db.execute(
                            "INSERT INTO bench_rows (id, n) VALUES (?, ?) ON CONFLICT DO NOTHING",
                            vec![job.id.into(), SqlValue::Int(n)],
                        )
                        .await
                        .map_err(|e| JobError::Retry(e.to_string()))?;
                        countdown.tick();
                        Ok(())
                    }
                });
            }
        }
        registry
    }
}

/// When the jobs are enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Producer {
    /// All of them before the worker starts.
    Before,
    /// By a producer that starts with the worker and enqueues as fast as it can.
    During,
}

struct Throughput {
    jobs_per_s: f64,
    seconds: f64,
    enqueue_per_s: f64,
    /// Handler runs (more than the jobs if some ran twice).
    ran: u64,
    /// Distinct (worker, start millisecond) pairs in the ledger: about how many claims (or,
    /// on RabbitMQ, ledger starts) took the jobs.
    claims: usize,
}

impl Throughput {
    fn describe(&self) -> String {
        format!(
            "{:.0} jobs/s ({:.2} s; enqueue {:.0} jobs/s; {} handler runs; ~{} claims, {:.1} jobs each)",
            self.jobs_per_s,
            self.seconds,
            self.enqueue_per_s,
            self.ran,
            self.claims,
            self.ran as f64 / self.claims.max(1) as f64
        )
    }
}

fn worker_config(concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        concurrency,
        ..WorkerConfig::default()
    }
}

/// Enqueues `n` jobs of `work` and times a worker from its start until the ledger holds
/// `n` done jobs.
async fn throughput(
    fixture: &Fixture,
    n: usize,
    concurrency: usize,
    work: Work,
    producer: Producer,
) -> anyhow::Result<Throughput> {
    let db = fixture.db.clone();
    if work == Work::WriteRow {
        db.execute(
            "CREATE TABLE IF NOT EXISTS bench_rows (id TEXT PRIMARY KEY, n BIGINT)",
            vec![],
        )
        .await?;
    }
    let task = work.task();
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob::new(task, ORGANIZATION, json!({ "i": i })))
        .collect();
    let countdown = Countdown::new(n);
    let registry = work.registry(&db, &countdown);
    let mut enqueue_seconds = 0.0;
    if producer == Producer::Before {
        enqueue_seconds = enqueue(&fixture.queue, &jobs).await?;
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let started = Instant::now();
    let worker = tokio::spawn(run_worker(
        fixture.queue.clone(),
        registry,
        worker_config(concurrency),
        WorkerMetrics::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let producing = (producer == Producer::During).then(|| {
        let queue = fixture.queue.clone();
        tokio::spawn(async move { enqueue(&queue, &jobs).await })
    });
    let done = wait_done(fixture, task, n, &countdown).await;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(producing) = producing {
        enqueue_seconds = producing.await??;
    }
    let _ = stop.send(());
    worker.await??;
    done?;
    if work == Work::WriteRow {
        let rows = db.query("SELECT COUNT(*) AS n FROM bench_rows", &[]).await?;
        let written = rows[0].get::<i64>("n")?;
        if written != n as i64 {
            bail!("{written} rows written for {n} jobs");
        }
    }
    let claims = db
        .query(
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT worker, started_at FROM jobs WHERE task = ?) s",
            &[task.into()],
        )
        .await?[0]
        .get::<i64>("n")? as usize;
    Ok(Throughput {
        jobs_per_s: n as f64 / seconds,
        seconds,
        enqueue_per_s: n as f64 / enqueue_seconds.max(1e-9),
        ran: countdown.ran.load(Ordering::Relaxed),
        claims,
    })
}

/// Enqueues `jobs` in batches; returns the seconds it took.
async fn enqueue(queue: &Queue, jobs: &[NewJob]) -> anyhow::Result<f64> {
    let started = Instant::now();
    for batch in jobs.chunks(ENQUEUE_BATCH) {
        queue.enqueue(batch).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Waits until the ledger holds `n` done jobs of `task`: the handlers' count first (no
/// query competes with the worker meanwhile), then the ledger, read every millisecond.
async fn wait_done(fixture: &Fixture, task: &str, n: usize, countdown: &Countdown) -> anyhow::Result<()> {
    // Generous: a backend slower than 20 jobs/s is broken rather than slow.
    let limit = Duration::from_secs(60 + n as u64 / 20);
    let deadline = tokio::time::Instant::now() + limit;
    let all_ran = tokio::time::timeout_at(deadline, countdown.reached()).await;
    loop {
        let done = fixture
            .db
            .query(
                "SELECT COUNT(*) AS n FROM jobs WHERE task = ? AND state = 'done'",
                &[task.into()],
            )
            .await?[0]
            .get::<i64>("n")?;
        if all_ran.is_ok() && done >= n as i64 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let depths = fixture.queue.ledger().depths().await?;
            bail!(
                "{done} of {n} jobs done after {} s; ledger: {depths:?}",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    measured: usize,
    /// Events whose job had not started 30 s after the last event.
    lost: usize,
}

impl Latency {
    fn describe(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} events, {} without a start)",
            self.p50_ms, self.p99_ms, self.max_ms, self.measured, self.lost
        )
    }

    fn from_ms(mut values: Vec<f64>, lost: usize) -> Latency {
        values.sort_by(f64::total_cmp);
        let at = |p: f64| crate::percentile(&values, p);
        Latency {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: values.last().copied().unwrap_or(f64::NAN),
            measured: values.len(),
            lost,
        }
    }
}

/// Creates leads one at a time, `pace` apart, with a webhook subscription to lead
/// creations, the dispatcher and a worker running; measures from each `create`'s return
/// (its commit) to the start of the `webhook:deliver` job of its event. The handler only
/// notes the time: no delivery.
async fn event_to_start(
    fixture: &Fixture,
    events: usize,
    pace: Duration,
    concurrency: usize,
) -> anyhow::Result<Latency> {
    let crm = Crm::new(fixture.db.clone(), CrmConfig::default());
    let actor = crm
        .create_organization(&NewOrganization {
            name: "Bench".into(),
            admin_email: "admin@bench.example.com".into(),
            admin_first_name: "Bench".into(),
            admin_last_name: String::new(),
            admin_password: None,
        })
        .await?;
    let subscription = json!({"url": "http://127.0.0.1:9/x", "events": [{"object_type": "lead", "action": "created"}]});
    crm.create(&actor, Kind::WebhookSubscription, &subscription, None)
        .await?;
    let starts: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let countdown = Countdown::new(WARM_UP_EVENTS);
    let mut registry = Registry::new();
    let (noted, warm) = (starts.clone(), countdown.clone());
    registry.register(rapport_workers::WEBHOOK_DELIVER, move |job: Job| {
        let now = Instant::now();
        if let Some(seq) = job.payload["event_seq"].as_i64() {
            noted.lock().unwrap_or_else(|p| p.into_inner()).insert(seq, now);
        }
        warm.tick();
        std::future::ready(Ok(()))
    });
    let (stop_dispatcher, dispatcher_stopped) = oneshot::channel::<()>();
    let dispatcher = tokio::spawn(rapport_workers::run_dispatcher(
        crm.clone(),
        fixture.queue.clone(),
        async {
            let _ = dispatcher_stopped.await;
        },
    ));
    let (stop_worker, worker_stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(
        fixture.queue.clone(),
        registry,
        worker_config(concurrency),
        WorkerMetrics::default(),
        async {
            let _ = worker_stopped.await;
        },
    ));
    let lead = |i: usize| json!({ "name": format!("Latency lead {i}") });
    let mut warm_up = Vec::new();
    for i in 0..WARM_UP_EVENTS {
        warm_up.push(crm.create(&actor, Kind::Lead, &lead(i), None).await?.event_seq);
    }
    tokio::time::timeout(Duration::from_secs(30), countdown.reached())
        .await
        .context("the warm-up events' jobs did not start within 30 s")?;
    let mut committed = Vec::with_capacity(events);
    let mut ticks = tokio::time::interval(pace);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..events {
        ticks.tick().await;
        let written = crm.create(&actor, Kind::Lead, &lead(WARM_UP_EVENTS + i), None).await?;
        committed.push((written.event_seq, Instant::now()));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && starts.lock().unwrap_or_else(|p| p.into_inner()).len() < WARM_UP_EVENTS + events
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop_dispatcher.send(());
    let _ = stop_worker.send(());
    dispatcher.await?;
    worker.await??;
    let starts = starts.lock().unwrap_or_else(|p| p.into_inner());
    let values: Vec<f64> = committed
        .iter()
        .filter_map(|(seq, at)| {
            starts
                .get(seq)
                .map(|s| s.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    Ok(Latency::from_ms(values.clone(), events - values.len()))
}

/// The cost of one job's statements on an idle embedded queue, one at a time: the worker
/// claims (one `UPDATE … RETURNING` per claim) and completes (one `UPDATE` per job).
struct RoundTrips {
    claim_one_ms: f64,
    complete_ms: f64,
}

async fn round_trips(fixture: &Fixture) -> anyhow::Result<RoundTrips> {
    const JOBS: usize = 300;
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|i| NewJob::new(NOOP, ORGANIZATION, json!({ "i": i })))
        .collect();
    enqueue(&fixture.queue, &jobs).await?;
    let ledger = fixture.queue.ledger();
    let tasks = [NOOP.to_string()];
    let (mut claiming, mut completing) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..JOBS {
        let t = Instant::now();
        let claimed = ledger.claim(&tasks, "probe", 1, Duration::from_secs(30)).await?;
        claiming += t.elapsed();
        let job = claimed.first().context("no job to claim")?;
        let t = Instant::now();
        ledger.complete(&job.id, "probe").await?;
        completing += t.elapsed();
    }
    let per_job = |d: Duration| d.as_secs_f64() * 1000.0 / JOBS as f64;
    Ok(RoundTrips {
        claim_one_ms: per_job(claiming),
        complete_ms: per_job(completing),
    })
}
