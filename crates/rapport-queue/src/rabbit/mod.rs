//! The RabbitMQ transport ([`crate::Queue::rabbitmq`]).
//!
//! **The ledger stays the truth.** State, attempts, errors, timings, dedupe and fairness
//! live in the `jobs` table, as on the embedded transport. RabbitMQ only carries *which job
//! to run next* to workers: push delivery, prefetch, acks and a dead-letter exchange. So a
//! message may be lost or duplicated without harm: a job is started only by the ledger
//! update that moves it from `queued` to `running`, and a queued job whose message went
//! missing is published again.
//!
//! **Topology**, every name under a prefix (`rapport` by default):
//! - `{prefix}.jobs`: a durable *direct* exchange; the routing key is the task;
//! - `{prefix}.jobs.{task}`: a durable *quorum* queue per task, bound to `{prefix}.jobs`
//!   with the task as routing key, with `x-queue-type=quorum`,
//!   `x-dead-letter-exchange={prefix}.dead` and `x-delivery-limit=5`: a message delivered
//!   five times without an ack (its worker keeps crashing before answering) is
//!   dead-lettered by the broker;
//! - `{prefix}.dead`: a durable *fanout* exchange, and a quorum queue of the same name
//!   bound to it.
//!
//! The exchanges and the dead-letter queue are declared on every (re)connection; a task's
//! queue before its first publication or consumer (or by [`crate::Queue::declare_tasks`]).
//! A queue that already exists with other arguments makes the broker close the channel:
//! the relay then logs the broker's error and retries, publishing nothing, until an
//! operator deletes the queue.
//!
//! **Wire contract** (version 1), for consumers in any language. Each message is
//! persistent (`delivery_mode` 2) with `content_type` `application/json`, `message_id` =
//! the job id, `type` = the task, `app_id` `rapport` and a `timestamp` (seconds). Its body:
//!
//! ```json
//! {"v": 1, "job_id": "job_…", "task": "webhook:deliver", "organization_id": "orga_…",
//!  "attempt": 1, "payload": {"any": "JSON"}, "enqueued_at_ms": 1735689600000}
//! ```
//!
//! `attempt` is the attempt the message is for, from 1 (the ledger's attempts + 1 when it
//! was published); `enqueued_at_ms` is when the job was enqueued, in milliseconds since the
//! epoch. A consumer must treat the message as a hint: start the job with
//! `UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, lease_until = ?,
//! started_at = ? WHERE id = ? AND state = 'queued' AND run_at <= ?` (see
//! [`crate::Ledger::start`]); when no row changed (a duplicate, a job already running,
//! finished, gone or not yet due) ack the message and drop it, clearing the job's
//! `published_at` if it is still queued ([`crate::Ledger::unpublish`]) so the relay
//! publishes it again when due; otherwise run the job, keep its lease alive, record the
//! outcome in the ledger, and only then ack.
//!
//! **The relay** (one per process that created a RabbitMQ [`crate::Queue`]) publishes the
//! queued, due jobs that are not in the broker, in fair-rank order, in batches of at most
//! [`PUBLISH_BATCH`], with publisher confirms: it marks them published in the ledger
//! ([`crate::Ledger::take_for_publishing`]), publishes, waits for the broker's acks, and
//! unmarks a batch that was refused or whose channel broke. A job marked but never
//! confirmed (the relay died in between, or the message was lost in flight) is published
//! again after [`crate::REPUBLISH_AFTER_MS`]. It publishes nothing more for a task while
//! more than [`MAX_IN_BROKER_PER_TASK`] of its jobs wait in the broker, so the ledger's
//! fair order decides what comes next rather than a deep broker queue. It wakes when this
//! process enqueues, on PostgreSQL `NOTIFY` from other nodes, when a scheduled job or a
//! retry comes due, and every 250 ms. Retries, reaped jobs and jobs given back at shutdown
//! are unmarked by the ledger, so they are published again.
//!
//! **Workers** ([`crate::run_worker`]) consume the queues of their tasks with manual acks
//! and a prefetch of `concurrency` per queue; at most `concurrency` jobs run at once (the
//! others wait, unstarted, in the worker). Each delivery is started in the ledger, run
//! like on the embedded transport (heartbeat, timeout, panic capture, backoff), and acked
//! after the ledger recorded its outcome. Workers keep reaping expired leases.
//!
//! **Dead letters.** The relay consumes `{prefix}.dead` and makes each message's job dead
//! in the ledger (unless already done or dead), saying how many deliveries the broker
//! counted.
//!
//! **Broker outages.** When the connection or a channel dies (RabbitMQ restarted), the
//! relay and each worker reconnect with a backoff (100 ms doubling to 5 s), redeclare the
//! topology and resubscribe, logging at warn on the loss and at info on the reconnection.
//! Nothing is lost: the broker redelivers unacked messages (the ledger drops those whose
//! job already ran), a failed publication is unmarked and retried, and a message lost in
//! flight is published again within a minute. Meanwhile enqueues go on: they only write
//! the ledger.
//!
//! **TLS.** This build speaks plain `amqp://`; `amqps://` needs one of lapin's TLS
//! features (`rustls` or `native-tls`) enabled in the workspace.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_core::Stream;
use lapin::message::{Delivery, DeliveryResult};
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::{Job, Ledger, QueueError, QueueResult};

mod consumer;
mod relay;

pub(crate) use consumer::consume;

/// The version of the message body ([`Envelope::v`]).
pub const ENVELOPE_VERSION: u32 = 1;
/// Jobs the relay publishes per batch (and confirmation wait).
pub const PUBLISH_BATCH: usize = 500;
/// The relay publishes no more jobs of a task while more than this many wait in the broker.
pub const MAX_IN_BROKER_PER_TASK: usize = 2_000;
/// Deliveries of a message without an answer before the broker dead-letters it.
pub const DELIVERY_LIMIT: i32 = 5;
/// The prefix of the exchanges' and queues' names when a deployment does not choose one.
pub const DEFAULT_PREFIX: &str = "rapport";

/// How often the relay looks for jobs when nothing wakes it.
const POLL: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait for the broker's confirmation of a batch before the channel counts as
/// broken.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// A connection that lived this long was healthy: after its loss, reconnecting starts
/// again from the shortest delay.
const HEALTHY: Duration = Duration::from_secs(10);
/// Dead letters the relay takes at once.
const DEAD_PREFETCH: u16 = 32;

/// The body of a message: the wire contract of the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub job_id: String,
    pub task: String,
    pub organization_id: String,
    /// The attempt this message is for, from 1.
    pub attempt: u32,
    pub payload: Value,
    /// When the job was enqueued (milliseconds since the epoch).
    pub enqueued_at_ms: i64,
}

impl Envelope {
    fn of(job: &Job) -> Envelope {
        Envelope {
            v: ENVELOPE_VERSION,
            job_id: job.id.clone(),
            task: job.task.clone(),
            organization_id: job.organization_id.clone(),
            attempt: job.attempt,
            payload: job.payload.clone(),
            enqueued_at_ms: job.created_at,
        }
    }
}

/// Where the broker is and how its exchanges and queues are named; shared by the relay
/// and the workers of one [`crate::Queue`].
pub(crate) struct Broker {
    url: String,
    /// The URL without its password, for messages and logs.
    shown_url: String,
    prefix: String,
    /// The tasks whose queues this process declared (for `delete_topology`).
    declared: Mutex<BTreeSet<String>>,
}

impl Broker {
    fn new(amqp_url: &str, prefix: &str) -> QueueResult<Broker> {
        let parsed =
            url::Url::parse(amqp_url).map_err(|e| QueueError::Broker(format!("the AMQP URL is not a URL ({e})")))?;
        let mut shown = parsed.clone();
        let _ = shown.set_password(None);
        match parsed.scheme() {
            "amqp" => {}
            "amqps" => {
                return Err(QueueError::Broker(format!(
                    "{shown}: amqps:// needs one of lapin's TLS features, which this build leaves out"
                )))
            }
            other => return Err(QueueError::Broker(format!("{shown}: {other}:// is not an AMQP URL"))),
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
        if prefix.is_empty() || prefix.len() > 64 || !prefix.chars().all(valid) {
            return Err(QueueError::Refused(format!(
                "the RabbitMQ prefix {prefix:?} must be 1 to 64 letters, digits, '.', '_', '-' or ':'"
            )));
        }
        Ok(Broker {
            url: amqp_url.to_string(),
            shown_url: shown.to_string(),
            prefix: prefix.to_string(),
            declared: Mutex::new(BTreeSet::new()),
        })
    }

    fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    fn task_queue(&self, task: &str) -> String {
        format!("{}.jobs.{task}", self.prefix)
    }

    /// The dead-letter exchange, and its queue of the same name.
    fn dead(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    async fn connect(&self) -> Result<Connection, String> {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current())
            .with_connection_name(format!("rapport pid {}", std::process::id()).into());
        match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.url, properties)).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(format!("cannot connect to {}: {e}", self.shown_url)),
            Err(_) => Err(format!(
                "cannot connect to {}: no answer in {} s",
                self.shown_url,
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }

    /// The exchanges and the dead-letter queue.
    async fn declare_base(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                &self.jobs_exchange(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(&self.dead(), ExchangeKind::Fanout, durable, FieldTable::default())
            .await?;
        channel.queue_declare(&self.dead(), durable_queue(), quorum()).await?;
        channel
            .queue_bind(
                &self.dead(),
                &self.dead(),
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    async fn declare_task(&self, channel: &Channel, task: &str) -> lapin::Result<()> {
        let queue = self.task_queue(task);
        let mut arguments = quorum();
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dead().into()),
        );
        arguments.insert("x-delivery-limit".into(), AMQPValue::LongInt(DELIVERY_LIMIT));
        // Remembered first: a declaration that reached the broker is deleted by
        // delete_topology even when its answer was lost.
        self.declared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.to_string());
        channel.queue_declare(&queue, durable_queue(), arguments).await?;
        channel
            .queue_bind(
                &queue,
                &self.jobs_exchange(),
                task,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    arguments
}

/// The RabbitMQ side of a [`crate::Queue`]: its broker and its relay, which stops when this
/// is dropped (with the last clone of the queue) or shut down.
pub(crate) struct Rabbit {
    broker: Arc<Broker>,
    stop: watch::Sender<bool>,
    relay: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Rabbit {
    pub(crate) async fn start(ledger: Ledger, amqp_url: &str, prefix: &str) -> QueueResult<Rabbit> {
        let broker = Arc::new(Broker::new(amqp_url, prefix)?);
        let connection = broker.connect().await.map_err(QueueError::Broker)?;
        let declared = async {
            let channel = connection.create_channel().await?;
            broker.declare_base(&channel).await?;
            channel.close(200, "declared").await
        }
        .await;
        if let Err(e) = declared {
            return Err(QueueError::Broker(format!(
                "cannot declare the exchanges of {prefix} on {}: {e}",
                broker.shown_url
            )));
        }
        tracing::info!(broker = %broker.shown_url, prefix, "job relay connected to RabbitMQ");
        let (stop, stopped) = watch::channel(false);
        let relay = tokio::spawn(relay::relay(ledger, broker.clone(), stopped, connection));
        Ok(Rabbit {
            broker,
            stop,
            relay: Mutex::new(Some(relay)),
        })
    }

    pub(crate) fn broker(&self) -> Arc<Broker> {
        self.broker.clone()
    }

    pub(crate) async fn shutdown(&self) {
        self.stop.send_replace(true);
        let relay = self.relay.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(relay) = relay {
            let _ = relay.await;
        }
    }

    pub(crate) async fn declare_tasks(&self, tasks: &[&str]) -> QueueResult<()> {
        let broker = &self.broker;
        let connection = broker.connect().await.map_err(QueueError::Broker)?;
        let declared = async {
            let channel = connection.create_channel().await?;
            broker.declare_base(&channel).await?;
            for task in tasks {
                broker.declare_task(&channel, task).await?;
            }
            Ok::<_, lapin::Error>(())
        }
        .await;
        close(&connection, "declared").await;
        declared.map_err(|e| QueueError::Broker(format!("cannot declare task queues on {}: {e}", broker.shown_url)))
    }

    pub(crate) async fn delete_topology(&self) -> QueueResult<()> {
        self.shutdown().await;
        let broker = &self.broker;
        let tasks: Vec<String> = broker
            .declared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let connection = broker.connect().await.map_err(QueueError::Broker)?;
        let deleted = async {
            let channel = connection.create_channel().await?;
            for task in &tasks {
                channel
                    .queue_delete(&broker.task_queue(task), QueueDeleteOptions::default())
                    .await?;
            }
            channel
                .queue_delete(&broker.dead(), QueueDeleteOptions::default())
                .await?;
            channel
                .exchange_delete(&broker.jobs_exchange(), ExchangeDeleteOptions::default())
                .await?;
            channel
                .exchange_delete(&broker.dead(), ExchangeDeleteOptions::default())
                .await
        }
        .await;
        close(&connection, "deleted").await;
        deleted.map_err(|e| QueueError::Broker(format!("cannot delete the topology of {}: {e}", broker.prefix)))
    }
}

async fn close(connection: &Connection, why: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(2), connection.close(200, why)).await;
}

/// A connection that is closed when dropped: lapin keeps a connection open as long as its
/// channels live, so a worker whose future is dropped (killed) would otherwise keep its
/// consumers, and the broker its unacked messages.
struct Link(Option<Connection>);

impl Link {
    async fn close(mut self, why: &str) {
        if let Some(connection) = self.0.take() {
            close(&connection, why).await;
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let Some(connection) = self.0.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { close(&connection, "dropped").await });
        }
    }
}

/// What a connection tells its owner.
enum Event {
    Delivery(Box<Delivery>),
    /// The connection or a consumer is gone.
    Lost(String),
}

/// Sends a consumer's deliveries, and its end, to `events`.
fn forward(
    events: mpsc::UnboundedSender<Event>,
) -> impl Fn(DeliveryResult) -> std::future::Ready<()> + Send + Sync + 'static {
    move |delivery: DeliveryResult| {
        let event = match delivery {
            Ok(Some(delivery)) => Event::Delivery(Box::new(delivery)),
            Ok(None) => Event::Lost("the broker cancelled a consumer".into()),
            Err(e) => Event::Lost(e.to_string()),
        };
        let _ = events.send(event);
        std::future::ready(())
    }
}

/// Reports the connection's errors to `events` until dropped.
struct ErrorWatch(tokio::task::AbortHandle);

impl ErrorWatch {
    fn start(connection: &Connection, events: &mpsc::UnboundedSender<Event>) -> ErrorWatch {
        let events = events.clone();
        let mut listener = Box::pin(connection.events_listener());
        let task = tokio::spawn(async move {
            while let Some(event) = std::future::poll_fn(|cx| listener.as_mut().poll_next(cx)).await {
                if let lapin::Event::Error(e) = event {
                    let _ = events.send(Event::Lost(e.to_string()));
                }
            }
        });
        ErrorWatch(task.abort_handle())
    }
}

impl Drop for ErrorWatch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The delay before the next connection attempt: 100 ms doubling to 5 s.
struct Retry {
    delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { delay: RETRY_FIRST }
    }
}

impl Retry {
    fn reset(&mut self) {
        self.delay = RETRY_FIRST;
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.delay;
        self.delay = (self.delay * 2).min(RETRY_MAX);
        delay
    }

    /// Sleeps the next delay; `false` when `stop` resolved first.
    async fn wait<F: Future<Output = ()>>(&mut self, stop: Pin<&mut F>) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = stop => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

/// The job id of a message: its `message_id`, else its body's `job_id`.
fn job_id(delivery: &Delivery) -> Option<String> {
    if let Some(id) = delivery.properties.message_id() {
        if !id.as_str().is_empty() {
            return Some(id.as_str().to_string());
        }
    }
    let body: Value = serde_json::from_slice(&delivery.data).ok()?;
    body.get("job_id")?.as_str().map(str::to_string)
}

async fn unpublish(ledger: &Ledger, ids: &[String]) {
    if let Err(e) = ledger.unpublish(ids).await {
        tracing::warn!(jobs = ids.len(), error = %e, "cannot unmark unpublished jobs; they are published again within a minute");
    }
}
