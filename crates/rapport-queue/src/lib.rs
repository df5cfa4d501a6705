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
//! - *RabbitMQ* ([`Queue::rabbitmq`]): a relay in each process publishes queued jobs to
//!   the broker in fair order; the broker pushes them to workers with prefetch, acks and a
//!   dead-letter exchange. The ledger stays the truth: the wire contract, topology and
//!   failure handling are described in [`rabbit`].
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
pub mod rabbit;
mod run;
mod worker;

pub use backoff::Backoff;
pub use ledger::{JobFilter, JobRecord, Ledger, TaskDepth, JOBS_CHANNEL, REPUBLISH_AFTER_MS};
pub use run::run_worker;
pub use worker::{Handler, HandlerFuture, Registry, TaskCounters, WorkerConfig, WorkerMetrics, LATENCY_BUCKETS_MS};

use std::sync::Arc;

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
    /// A relay publishes the ledger's jobs to RabbitMQ, which delivers them to workers.
    RabbitMq(Arc<rabbit::Rabbit>),
}

impl Queue {
    /// Jobs in the database, claimed by workers from the table itself.
    pub fn embedded(db: rapport_store::Db) -> Queue {
        Queue {
            ledger: Ledger::new(db),
            transport: Transport::Embedded,
        }
    }

    /// Jobs in the database, carried to workers by RabbitMQ at `amqp_url` (`amqp://` only:
    /// `amqps://` needs one of lapin's TLS features, which this build leaves out), under
    /// exchanges and queues named `{prefix}.…`. Connects once to fail fast (the error names
    /// the URL without its password), declares the exchanges and the dead-letter queue, and
    /// starts this process's relay in the background; task queues are declared before their
    /// first publication or consumer. The relay stops with [`Queue::shutdown`] or when the
    /// last clone of the queue is dropped. Must be called within a tokio runtime.
    pub async fn rabbitmq(db: rapport_store::Db, amqp_url: &str, prefix: &str) -> QueueResult<Queue> {
        let ledger = Ledger::new(db);
        let rabbit = rabbit::Rabbit::start(ledger.clone(), amqp_url, prefix).await?;
        Ok(Queue {
            ledger,
            transport: Transport::RabbitMq(Arc::new(rabbit)),
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// `embedded` or `rabbitmq`, for logs and metrics.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Embedded => "embedded",
            Transport::RabbitMq(_) => "rabbitmq",
        }
    }

    /// Declares the broker's queues of `tasks` now rather than before their first use (a
    /// deployment that wants them to exist before any job). Nothing to do when embedded.
    pub async fn declare_tasks(&self, tasks: &[&str]) -> QueueResult<()> {
        match &self.transport {
            Transport::Embedded => Ok(()),
            Transport::RabbitMq(rabbit) => rabbit.declare_tasks(tasks).await,
        }
    }

    /// Stops this process's relay and waits for it (workers stop by their own shutdown
    /// future). Enqueues still write the ledger; another process's relay, or this one's
    /// next start, publishes them. Nothing to do when embedded.
    pub async fn shutdown(&self) {
        if let Transport::RabbitMq(rabbit) = &self.transport {
            rabbit.shutdown().await;
        }
    }

    /// Stops the relay, then deletes the broker's exchanges, the dead-letter queue and the
    /// task queues this process declared, with their messages (tests; tearing a prefix
    /// down). Nothing to do when embedded.
    pub async fn delete_topology(&self) -> QueueResult<()> {
        match &self.transport {
            Transport::Embedded => Ok(()),
            Transport::RabbitMq(rabbit) => rabbit.delete_topology().await,
        }
    }

    /// The broker of a RabbitMQ queue, for its workers.
    pub(crate) fn broker(&self) -> Option<Arc<rabbit::Broker>> {
        match &self.transport {
            Transport::Embedded => None,
            Transport::RabbitMq(rabbit) => Some(rabbit.broker()),
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
    /// Not due yet (`run_at` in the future when enqueued): kept apart from the queue, so
    /// that taking due jobs never walks past delayed ones. Queued when due.
    Scheduled,
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Scheduled,
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
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
