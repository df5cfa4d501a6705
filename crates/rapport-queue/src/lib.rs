//! Durable jobs: the work that must happen once per event (email, Slack, webhooks).
//!
//! **The ledger.** Every job is a row of the `jobs` table, in the same database as the
//! objects: its task, organization, JSON payload, state (`queued`, `running`, `done`,
//! `dead`), attempts, lease, last error and timings. The ledger is the truth on every
//! deployment, so `GET /api/v1/job/` and `rapport jobs` read the same thing whatever carries
//! the jobs to workers, and an enqueue can share a transaction with the write that causes
//! it (the dispatcher enqueues a batch and moves its cursor in one commit).
//!
//! **Transports** tell workers about jobs:
//! - *embedded* (the default): workers claim rows directly, oldest fair rank first
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), woken in process, by
//!   PostgreSQL `NOTIFY`, or by a short poll for other processes on one SQLite file;
//! - *RabbitMQ* (`rabbit.rs`): see there.
//!
//! **Semantics.** At least once: a handler may see a job twice (after a crash between its
//! side effect and the ledger update) and must be idempotent; the job id and the event
//! seq are stable keys for that. A running job holds a lease that its worker renews
//! (heartbeat); a lease that expires (the worker died) puts the job back in the queue, so
//! it runs again within the lease time (30 s by default). A failed attempt is retried
//! after an exponential backoff with jitter; after `max_attempts` (default 20) the job is
//! *dead*: kept, listed, and retried or discarded by an operator. A `dedupe_key` makes a
//! job unique per task for as long as the ledger keeps it.
//!
//! **Fairness.** Jobs are claimed in *fair rank* order, not arrival order: a job's rank is
//! one more than the later of its organization's last rank and the queue's current head
//! (start-time fair queueing). An organization that enqueues 10,000 jobs at once gets
//! ranks head+1…head+10,000; another organization's job enqueued a moment later gets
//! head+1, so it runs next instead of after the flood.

mod backoff;
mod ledger;
mod worker;

pub use backoff::Backoff;
pub use ledger::{JobFilter, JobRecord, Ledger, TaskDepth, JOBS_CHANNEL};
pub use worker::{run_worker, Handler, HandlerFuture, Registry, TaskCounters, WorkerConfig, WorkerMetrics, LATENCY_BUCKETS_MS};

use serde_json::Value;

/// The queue: the ledger, and the transport that brings its jobs to workers. Cheap to
/// clone.
#[derive(Clone)]
pub struct Queue {
    ledger: Ledger,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    /// Workers claim rows of the ledger.
    Embedded,
}

impl Queue {
    /// Jobs in the database, claimed by workers from the table itself.
    pub fn embedded(db: rapport_store::Db) -> Queue {
        Queue {
            ledger: Ledger::new(db),
            transport: Transport::Embedded,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// `embedded` or `rabbitmq`, for logs and metrics.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Embedded => "embedded",
        }
    }

    /// Enqueues jobs in one transaction; returns how many were new.
    pub async fn enqueue(&self, jobs: &[NewJob]) -> QueueResult<u64> {
        self.ledger.enqueue(jobs).await
    }
}

/// Attempts before a job is dead, when its task does not say.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The task that runs it, e.g. `webhook:deliver`.
    pub task: String,
    pub organization_id: String,
    pub payload: Value,
    /// At most one job per task and key is ever enqueued (while the ledger keeps it).
    pub dedupe_key: Option<String>,
    /// Not before this time (milliseconds since the epoch); `None`: now.
    pub run_at: Option<i64>,
    pub max_attempts: u32,
    /// The event that caused the job, if any.
    pub event_seq: Option<i64>,
}

impl NewJob {
    pub fn new(task: impl Into<String>, organization_id: impl Into<String>, payload: Value) -> Self {
        NewJob {
            task: task.into(),
            organization_id: organization_id.into(),
            payload,
            dedupe_key: None,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            event_seq: None,
        }
    }

    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn run_at(mut self, epoch_ms: i64) -> Self {
        self.run_at = Some(epoch_ms);
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    pub fn event_seq(mut self, seq: i64) -> Self {
        self.event_seq = Some(seq);
        self
    }
}

/// A job handed to a handler: one attempt of it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub task: String,
    pub organization_id: String,
    pub payload: Value,
    /// This attempt's number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub event_seq: Option<i64>,
    pub dedupe_key: Option<String>,
    /// When the job was enqueued (milliseconds since the epoch).
    pub created_at: i64,
}

/// How an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Try again later (a timeout, a 5xx, a broker hiccup).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (a malformed payload, an address that will never be valid):
    /// the job is dead at once.
    #[error("{0}")]
    Permanent(String),
}

/// What went wrong in the queue itself.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Db(#[from] rapport_store::DbError),
    #[error("message broker: {0}")]
    Broker(String),
    #[error("no such job")]
    NotFound,
    #[error("{0}")]
    Refused(String),
}

pub type QueueResult<T> = Result<T, QueueError>;

/// The states of a job in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [JobState::Queued, JobState::Running, JobState::Done, JobState::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
