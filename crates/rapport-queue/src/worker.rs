//! The worker runtime both transports share: handlers, settings and metrics, one attempt
//! of a job (its lease kept alive, its outcome recorded), reaping expired leases, and
//! draining on shutdown. How jobs arrive is `run.rs` (embedded) and `rabbit/consumer.rs`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::{now_ms, Backoff, Job, JobError, JobState, Ledger};

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs one attempt of a job. Handlers must be idempotent: a job can run more than once.
pub trait Handler: Send + Sync + 'static {
    fn run(&self, job: Job) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn run(&self, job: Job) -> HandlerFuture {
        Box::pin(self(job))
    }
}

/// The handlers of the tasks this process can run, by task name.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: BTreeMap<String, Arc<dyn Handler>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(&mut self, task: impl Into<String>, handler: impl Handler) -> &mut Self {
        self.handlers.insert(task.into(), Arc::new(handler));
        self
    }

    pub fn tasks(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    pub fn get(&self, task: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(task).cloned()
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The tasks to take; empty: every registered task.
    pub tasks: Vec<String>,
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// How long a job stays ours without a heartbeat; heartbeats come every third of it.
    pub lease: Duration,
    /// The longest one attempt may run before it counts as failed.
    pub timeout: Duration,
    pub backoff: Backoff,
    /// On shutdown, how long running jobs may take to finish; those still running after
    /// it are given back to the queue, their attempt not counted.
    pub drain: Duration,
    /// How often to look for jobs when nothing wakes the worker (other processes on one
    /// SQLite file; missed notifications).
    pub poll: Duration,
    /// Names this worker in the ledger (`host:pid:random` by default).
    pub worker_id: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            tasks: Vec::new(),
            concurrency: 16,
            lease: Duration::from_secs(30),
            timeout: Duration::from_secs(300),
            backoff: Backoff::default(),
            drain: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            worker_id: default_worker_id(),
        }
    }
}

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let random = rapport_core::new_id("w");
    format!("{host}:{}:{}", std::process::id(), &random[2..8])
}

/// Counters of this process's workers, for `/metrics`.
#[derive(Default, Clone)]
pub struct WorkerMetrics {
    inner: Arc<Mutex<HashMap<String, TaskCounters>>>,
}

/// What one task's jobs did in this process.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TaskCounters {
    pub processed: u64,
    pub failed: u64,
    pub dead: u64,
    /// Enqueue → start, in milliseconds: counts per bucket of [`LATENCY_BUCKETS_MS`], sum.
    pub start_latency_buckets: [u64; LATENCY_BUCKETS_MS.len()],
    pub start_latency_count: u64,
    pub start_latency_sum_ms: f64,
}

/// Upper bounds of the start-latency histogram, in milliseconds.
pub const LATENCY_BUCKETS_MS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0, 30000.0,
];

impl WorkerMetrics {
    pub fn snapshot(&self) -> BTreeMap<String, TaskCounters> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn with(&self, task: &str, f: impl FnOnce(&mut TaskCounters)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(inner.entry(task.to_string()).or_default());
    }

    fn started(&self, task: &str, latency_ms: f64) {
        self.with(task, |c| {
            c.start_latency_count += 1;
            c.start_latency_sum_ms += latency_ms;
            for (bucket, bound) in c.start_latency_buckets.iter_mut().zip(LATENCY_BUCKETS_MS) {
                if latency_ms <= bound {
                    *bucket += 1;
                }
            }
        });
    }
}

/// What a worker needs to run one attempt of a job.
#[derive(Clone)]
pub(crate) struct Runner {
    pub ledger: Ledger,
    pub registry: Registry,
    pub config: Arc<WorkerConfig>,
    pub metrics: WorkerMetrics,
}

impl Runner {
    /// One attempt of `job`, already started in the ledger by this worker.
    pub fn run(&self, job: Job) -> impl Future<Output = ()> + Send + 'static {
        run_one(
            self.ledger.clone(),
            self.registry.clone(),
            self.config.clone(),
            self.metrics.clone(),
            job,
        )
    }
}

/// Requeues the jobs of workers that stopped, every third of the lease.
pub(crate) struct Reaper {
    next: tokio::time::Instant,
    every: Duration,
}

impl Reaper {
    pub fn new(lease: Duration) -> Reaper {
        Reaper {
            next: tokio::time::Instant::now(),
            every: lease / 3,
        }
    }

    pub fn next(&self) -> tokio::time::Instant {
        self.next
    }

    pub async fn run_if_due(&mut self, ledger: &Ledger) {
        if tokio::time::Instant::now() < self.next {
            return;
        }
        match ledger.reap_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "requeued jobs of workers that stopped"),
            Err(e) => tracing::warn!(error = %e, "cannot requeue expired jobs"),
        }
        self.next = tokio::time::Instant::now() + self.every;
    }
}

/// Waits up to `limit` for the running jobs to finish, then aborts the others; returns
/// what `in_flight` held for those that did not finish.
pub(crate) async fn drain<T>(
    running: &mut JoinSet<()>,
    in_flight: &mut HashMap<tokio::task::Id, T>,
    limit: Duration,
) -> Vec<T> {
    let finished = tokio::time::timeout(limit, async {
        while let Some(done) = running.join_next_with_id().await {
            forget(in_flight, done);
        }
    })
    .await;
    if finished.is_ok() {
        return Vec::new();
    }
    running.abort_all();
    let mut unfinished = Vec::new();
    while let Some(done) = running.join_next_with_id().await {
        match done {
            Ok((id, ())) => {
                in_flight.remove(&id);
            }
            Err(e) => unfinished.extend(in_flight.remove(&e.id())),
        }
    }
    unfinished
}

pub(crate) fn forget<T>(
    in_flight: &mut HashMap<tokio::task::Id, T>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(e) => e.id(),
    };
    in_flight.remove(&id);
}

/// One attempt: the handler, beside a heartbeat that keeps the lease; then the outcome.
async fn run_one(ledger: Ledger, registry: Registry, config: Arc<WorkerConfig>, metrics: WorkerMetrics, job: Job) {
    metrics.started(&job.task, (now_ms() - job.created_at).max(0) as f64);
    let Some(handler) = registry.get(&job.task) else {
        return;
    };
    // Its own task, so a panic is an outcome rather than the end of the worker.
    let mut attempt = tokio::spawn(tokio::time::timeout(config.timeout, handler.run(job.clone())));
    let mut heartbeat = tokio::time::interval(config.lease / 3);
    heartbeat.tick().await;
    let outcome = loop {
        tokio::select! {
            result = &mut attempt => break match result {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(JobError::Retry(format!("timed out after {} s", config.timeout.as_secs()))),
                Err(e) if e.is_panic() => Err(JobError::Retry(format!("the handler panicked: {}", panic_text(e)))),
                Err(_) => Err(JobError::Retry("cancelled".into())),
            },
            _ = heartbeat.tick() => {
                if let Ok(false) = ledger.heartbeat(&job.id, &config.worker_id, config.lease).await {
                    tracing::warn!(job = %job.id, "lost the lease of a running job; it will run again");
                }
            }
        }
    };
    let recorded = match &outcome {
        Ok(()) => {
            metrics.with(&job.task, |c| c.processed += 1);
            ledger.complete(&job.id, &config.worker_id).await.map(|_| ())
        }
        Err(error) => {
            let retry_at = now_ms() + config.backoff.delay(job.attempt).as_millis() as i64;
            let state = ledger.fail(&job, &config.worker_id, error, retry_at).await;
            metrics.with(&job.task, |c| {
                c.failed += 1;
                if matches!(state, Ok(Some(JobState::Dead))) {
                    c.dead += 1;
                }
            });
            match &state {
                Ok(Some(JobState::Dead)) => {
                    tracing::error!(job = %job.id, task = %job.task, attempt = job.attempt, %error, "job is dead")
                }
                _ => {
                    tracing::warn!(job = %job.id, task = %job.task, attempt = job.attempt, %error, "job failed; will retry")
                }
            }
            state.map(|_| ())
        }
    };
    if let Err(e) = recorded {
        // The lease will expire and the job run again: at least once.
        tracing::warn!(job = %job.id, error = %e, "cannot record a job's outcome");
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let panic = e.into_panic();
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
