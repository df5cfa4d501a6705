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
//! finished, gone or not yet due) ack the message and drop it; otherwise run the job, keep
//! its lease alive, record the outcome in the ledger, and only then ack.
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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_core::Stream;
use lapin::acker::Acker;
use lapin::message::{Delivery, DeliveryResult};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::worker::{drain, forget, Reaper, Runner};
use crate::{now_ms, Job, Ledger, QueueError, QueueResult, WorkerConfig};

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
        let relay = tokio::spawn(relay(ledger, broker.clone(), stopped, connection));
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

/// Why the broker dead-lettered a message, for the job's `last_error`. Quorum queues count
/// deliveries in `x-delivery-count`, but RabbitMQ 3.x drops that header when it
/// dead-letters; `x-death` then gives the reason, and `delivery_limit` means one delivery
/// more than the limit the queue was declared with.
fn dead_letter_error(properties: &BasicProperties) -> String {
    let headers = properties.headers().as_ref().map(|h| h.inner());
    let header = |name: &str| headers.and_then(|h| h.get(name));
    let death = header("x-death")
        .and_then(|deaths| deaths.as_array())
        .and_then(|deaths| deaths.as_slice().first())
        .and_then(|death| death.as_field_table())
        .map(|death| death.inner());
    let reason = death
        .and_then(|death| death.get("reason"))
        .and_then(|reason| reason.as_long_string())
        .map(|reason| reason.to_string());
    let deliveries = match (header("x-delivery-count").and_then(integer), reason.as_deref()) {
        (Some(count), _) => count.to_string(),
        (None, Some("delivery_limit")) => (DELIVERY_LIMIT + 1).to_string(),
        (None, None) => "several".to_string(),
        (None, Some(other)) => return format!("the broker dead-lettered it ({other})"),
    };
    format!("the broker dead-lettered it after {deliveries} deliveries without an answer (a worker crashed while running it?)")
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(n) => Some(*n as i64),
        AMQPValue::ShortShortUInt(n) => Some(*n as i64),
        AMQPValue::ShortInt(n) => Some(*n as i64),
        AMQPValue::ShortUInt(n) => Some(*n as i64),
        AMQPValue::LongInt(n) => Some(*n as i64),
        AMQPValue::LongUInt(n) => Some(*n as i64),
        AMQPValue::LongLongInt(n) => Some(*n),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The relay.

/// Why a session ended.
enum Ended {
    Stopped,
    Lost(String),
}

/// Publishes the ledger's queued jobs and records dead letters, across reconnections,
/// until `stopped` says so or its sender is dropped.
async fn relay(ledger: Ledger, broker: Arc<Broker>, mut stopped: watch::Receiver<bool>, first: Connection) {
    let stop = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    tokio::pin!(stop);
    let mut remote = ledger.listen();
    let mut first = Some(first);
    let mut retry = Retry::default();
    let mut lost = false;
    loop {
        let opened = tokio::select! {
            _ = &mut stop => return,
            opened = RelaySession::open(&broker, first.take()) => opened,
        };
        let mut session = match opened {
            Ok(session) => session,
            Err(e) => {
                if lost {
                    tracing::debug!(error = %e, "the job relay still cannot reach the broker");
                } else {
                    tracing::warn!(error = %e, "the job relay cannot reach the broker; retrying");
                }
                lost = true;
                if !retry.wait(stop.as_mut()).await {
                    return;
                }
                continue;
            }
        };
        if lost {
            tracing::info!(broker = %broker.shown_url, "the job relay reconnected to the broker");
        }
        let began = Instant::now();
        match session.run(&ledger, &broker, stop.as_mut(), &mut remote).await {
            Ended::Stopped => {
                session.link.close("relay stopped").await;
                return;
            }
            Ended::Lost(reason) => {
                tracing::warn!(broker = %broker.shown_url, %reason, "the job relay lost the broker; reconnecting");
                lost = true;
            }
        }
        drop(session);
        if began.elapsed() >= HEALTHY {
            retry.reset();
        }
        if !retry.wait(stop.as_mut()).await {
            return;
        }
    }
}

/// A connection of the relay: a channel with publisher confirms, and the dead-letter
/// consumer.
struct RelaySession {
    link: Link,
    channel: Channel,
    _dead_letters: Consumer,
    _errors: ErrorWatch,
    /// The task queues declared on this connection.
    declared: HashSet<String>,
    events: mpsc::UnboundedReceiver<Event>,
}

/// Why a round of publication failed.
enum RoundError {
    Ledger(QueueError),
    Broker(String),
}

impl RelaySession {
    async fn open(broker: &Broker, connection: Option<Connection>) -> Result<RelaySession, String> {
        let connection = match connection {
            Some(connection) => connection,
            None => broker.connect().await?,
        };
        let (events_in, events) = mpsc::unbounded_channel();
        let errors = ErrorWatch::start(&connection, &events_in);
        let opened = async {
            let channel = connection.create_channel().await?;
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
            broker.declare_base(&channel).await?;
            let dead_channel = connection.create_channel().await?;
            dead_channel
                .basic_qos(DEAD_PREFETCH, BasicQosOptions::default())
                .await?;
            let consumer = dead_channel
                .basic_consume(
                    &broker.dead(),
                    "rapport-relay",
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumer.set_delegate(forward(events_in));
            Ok::<_, lapin::Error>((channel, consumer))
        }
        .await;
        match opened {
            Ok((channel, consumer)) => Ok(RelaySession {
                link: Link(Some(connection)),
                channel,
                _dead_letters: consumer,
                _errors: errors,
                declared: HashSet::new(),
                events,
            }),
            Err(e) => {
                close(&connection, "setup failed").await;
                Err(format!("cannot set up the job relay on {}: {e}", broker.shown_url))
            }
        }
    }

    async fn run<F: Future<Output = ()>>(
        &mut self,
        ledger: &Ledger,
        broker: &Broker,
        mut stop: Pin<&mut F>,
        remote: &mut Option<mpsc::Receiver<()>>,
    ) -> Ended {
        loop {
            while let Ok(event) = self.events.try_recv() {
                if let Some(ended) = on_event(ledger, event).await {
                    return ended;
                }
            }
            let enqueued = ledger.enqueued();
            let published = match self.publish_round(ledger, broker).await {
                Ok(published) => published,
                Err(RoundError::Broker(reason)) => return Ended::Lost(reason),
                Err(RoundError::Ledger(e)) => {
                    tracing::warn!(error = %e, "the job relay cannot read the ledger; retrying");
                    tokio::select! {
                        _ = stop.as_mut() => return Ended::Stopped,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            if published == PUBLISH_BATCH {
                // There may be more: go on, unless asked to stop.
                tokio::select! {
                    biased;
                    _ = stop.as_mut() => return Ended::Stopped,
                    _ = std::future::ready(()) => continue,
                }
            }
            let wait = match ledger.next_unpublished_run_at().await {
                // A due job left unpublished belongs to a task with a full broker queue (or
                // another relay holds it): the poll comes back to it.
                Ok(Some(at)) if at > now_ms() => Duration::from_millis((at - now_ms()) as u64).min(POLL),
                _ => POLL,
            };
            let other_nodes = async {
                match remote.as_mut() {
                    Some(notifications) => notifications.recv().await.is_some(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.as_mut() => return Ended::Stopped,
                _ = enqueued => {}
                listening = other_nodes => if !listening { *remote = None },
                event = self.events.recv() => {
                    let Some(event) = event else {
                        return Ended::Lost("the connection's events ended".into());
                    };
                    if let Some(ended) = on_event(ledger, event).await {
                        return ended;
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes one batch; returns how many jobs the broker took.
    async fn publish_round(&mut self, ledger: &Ledger, broker: &Broker) -> Result<usize, RoundError> {
        let now = now_ms();
        let crowded = ledger
            .crowded_tasks(now, MAX_IN_BROKER_PER_TASK)
            .await
            .map_err(RoundError::Ledger)?;
        let jobs = ledger
            .take_for_publishing(now, PUBLISH_BATCH, &crowded)
            .await
            .map_err(RoundError::Ledger)?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let published = tokio::time::timeout(CONFIRM_TIMEOUT, self.publish(broker, &jobs))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no confirmation from the broker in {} s",
                    CONFIRM_TIMEOUT.as_secs()
                ))
            });
        match published {
            Ok(refused) => {
                if !refused.is_empty() {
                    tracing::warn!(
                        jobs = refused.len(),
                        "the broker refused jobs; they are published again"
                    );
                    unpublish(ledger, &refused).await;
                }
                Ok(jobs.len() - refused.len())
            }
            Err(reason) => {
                let ids: Vec<String> = jobs.into_iter().map(|job| job.id).collect();
                unpublish(ledger, &ids).await;
                Err(RoundError::Broker(reason))
            }
        }
    }

    /// Publishes `jobs` and waits for the broker's confirmations; returns the ids of those
    /// it refused (nacked, or returned as unroutable). An error means the channel broke.
    async fn publish(&mut self, broker: &Broker, jobs: &[Job]) -> Result<Vec<String>, String> {
        let exchange = broker.jobs_exchange();
        let mandatory = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let mut confirms = Vec::with_capacity(jobs.len());
        for job in jobs {
            if !self.declared.contains(&job.task) {
                broker
                    .declare_task(&self.channel, &job.task)
                    .await
                    .map_err(|e| format!("cannot declare the queue of {}: {e}", job.task))?;
                self.declared.insert(job.task.clone());
            }
            let body = serde_json::to_vec(&Envelope::of(job)).map_err(|e| e.to_string())?;
            let confirm = self
                .channel
                .basic_publish(&exchange, &job.task, mandatory, &body, properties(job))
                .await
                .map_err(|e| format!("cannot publish: {e}"))?;
            confirms.push((job.id.clone(), confirm));
        }
        let mut refused = Vec::new();
        for (id, confirm) in confirms {
            match confirm.await.map_err(|e| format!("no confirmation: {e}"))? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(_)) | Confirmation::Nack(_) | Confirmation::NotRequested => refused.push(id),
            }
        }
        Ok(refused)
    }
}

fn properties(job: &Job) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(job.id.clone().into())
        .with_type(job.task.clone().into())
        .with_app_id("rapport".into())
        .with_timestamp((now_ms() / 1000).max(0) as u64)
}

async fn unpublish(ledger: &Ledger, ids: &[String]) {
    if let Err(e) = ledger.unpublish(ids).await {
        tracing::warn!(jobs = ids.len(), error = %e, "cannot unmark unpublished jobs; they are published again within a minute");
    }
}

async fn on_event(ledger: &Ledger, event: Event) -> Option<Ended> {
    match event {
        Event::Delivery(delivery) => {
            bury(ledger, *delivery).await;
            None
        }
        Event::Lost(reason) => Some(Ended::Lost(reason)),
    }
}

/// Records a dead letter: its job is dead in the ledger.
async fn bury(ledger: &Ledger, delivery: Delivery) {
    let Some(id) = job_id(&delivery) else {
        tracing::warn!("a dead letter without a job id; dropped");
        let _ = delivery.acker.ack(BasicAckOptions::default()).await;
        return;
    };
    let error = dead_letter_error(&delivery.properties);
    match ledger.bury(&id, &error).await {
        Ok(true) => tracing::error!(job = %id, %error, "the broker dead-lettered a job; it is dead"),
        Ok(false) => tracing::debug!(job = %id, "a dead letter for a job already finished or gone"),
        Err(e) => {
            tracing::warn!(job = %id, error = %e, "cannot record a dead letter; it comes back");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            let _ = delivery.acker.nack(requeue).await;
            return;
        }
    }
    let _ = delivery.acker.ack(BasicAckOptions::default()).await;
}

// ---------------------------------------------------------------------------------------
// Workers.

/// A worker's connection: one channel consuming the queue of each of its tasks.
struct ConsumerSession {
    link: Link,
    channel: Channel,
    consumers: Vec<Consumer>,
    _errors: ErrorWatch,
    events: mpsc::UnboundedReceiver<Event>,
}

impl ConsumerSession {
    async fn open(broker: &Broker, config: &WorkerConfig) -> Result<ConsumerSession, String> {
        let connection = broker.connect().await?;
        let (events_in, events) = mpsc::unbounded_channel();
        let errors = ErrorWatch::start(&connection, &events_in);
        let opened = async {
            let channel = connection.create_channel().await?;
            // Per consumer (quorum queues have no channel-wide prefetch); the worker runs at
            // most `concurrency` of them at once.
            let prefetch = config.concurrency.min(u16::MAX as usize) as u16;
            channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
            broker.declare_base(&channel).await?;
            let mut consumers = Vec::with_capacity(config.tasks.len());
            for task in &config.tasks {
                broker.declare_task(&channel, task).await?;
                let tag = format!("{}/{task}", config.worker_id);
                let consumer = channel
                    .basic_consume(
                        &broker.task_queue(task),
                        &tag,
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                consumer.set_delegate(forward(events_in.clone()));
                consumers.push(consumer);
            }
            Ok::<_, lapin::Error>((channel, consumers))
        }
        .await;
        match opened {
            Ok((channel, consumers)) => Ok(ConsumerSession {
                link: Link(Some(connection)),
                channel,
                consumers,
                _errors: errors,
                events,
            }),
            Err(e) => {
                close(&connection, "setup failed").await;
                Err(format!(
                    "cannot subscribe to the job queues on {}: {e}",
                    broker.shown_url
                ))
            }
        }
    }

    /// Stops the broker's deliveries; returns those already on their way.
    async fn cancel(&mut self) -> Vec<Delivery> {
        for consumer in &self.consumers {
            let tag = consumer.tag();
            if let Err(e) = self
                .channel
                .basic_cancel(tag.as_str(), BasicCancelOptions::default())
                .await
            {
                tracing::debug!(error = %e, "cannot cancel a consumer");
            }
        }
        let mut late = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            if let Event::Delivery(delivery) = event {
                late.push(*delivery);
            }
        }
        late
    }
}

/// A delivery a worker took: the job it names, and how to answer the broker.
struct Taken {
    job_id: Option<String>,
    acker: Acker,
}

/// The worker loop of the RabbitMQ transport: runs the deliveries of `runner`'s tasks until
/// `shutdown`, across reconnections, then drains.
pub(crate) async fn consume(runner: &Runner, broker: Arc<Broker>, shutdown: impl Future<Output = ()>) {
    let config = runner.config.clone();
    let worker = config.worker_id.as_str();
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut running: JoinSet<()> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, Taken> = HashMap::new();
    let mut reaper = Reaper::new(config.lease);
    let mut retry = Retry::default();
    let mut session: Option<ConsumerSession> = None;
    let mut lost = false;
    let mut began = Instant::now();
    let mut next_attempt = Instant::now();
    tokio::pin!(shutdown);
    loop {
        reaper.run_if_due(&runner.ledger).await;
        if session.is_none() && Instant::now() >= next_attempt {
            let opened = tokio::select! {
                _ = &mut shutdown => break,
                opened = ConsumerSession::open(&broker, &config) => opened,
            };
            match opened {
                Ok(opened) => {
                    if lost {
                        tracing::info!(worker, broker = %broker.shown_url, "worker reconnected to the broker");
                    }
                    lost = false;
                    began = Instant::now();
                    session = Some(opened);
                }
                Err(e) => {
                    if lost {
                        tracing::debug!(worker, error = %e, "worker still cannot reach the broker");
                    } else {
                        tracing::warn!(worker, error = %e, "worker cannot reach the broker; retrying");
                    }
                    lost = true;
                    next_attempt = Instant::now() + retry.next_delay();
                }
            }
        }
        let wake_at = match session {
            Some(_) => reaper.next(),
            None => reaper.next().min(next_attempt),
        };
        tokio::select! {
            _ = &mut shutdown => break,
            event = next_event(&mut session) => match event {
                Event::Delivery(delivery) => take(runner, &slots, &mut running, &mut in_flight, *delivery),
                Event::Lost(reason) => {
                    tracing::warn!(worker, broker = %broker.shown_url, %reason, "worker lost the broker; reconnecting");
                    session = None;
                    lost = true;
                    if began.elapsed() >= HEALTHY {
                        retry.reset();
                    }
                    next_attempt = Instant::now() + retry.next_delay();
                }
            },
            Some(done) = running.join_next_with_id(), if !running.is_empty() => forget(&mut in_flight, done),
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
    // No more deliveries; those already here run too (or are given back by the drain).
    if let Some(session) = session.as_mut() {
        for delivery in session.cancel().await {
            take(runner, &slots, &mut running, &mut in_flight, delivery);
        }
    }
    tracing::info!(worker, jobs = running.len(), "draining");
    let unfinished = drain(&mut running, &mut in_flight, config.drain).await;
    for taken in &unfinished {
        if let Some(id) = &taken.job_id {
            // Back to the queue, attempt not counted, and unmarked so the relay publishes
            // it again now; the message is answered so the broker does not count it.
            if let Err(e) = runner.ledger.release(id, worker).await {
                tracing::warn!(job = %id, error = %e, "cannot give a job back; its lease will expire");
            }
            unpublish(&runner.ledger, std::slice::from_ref(id)).await;
        }
        let _ = taken.acker.ack(BasicAckOptions::default()).await;
    }
    if !unfinished.is_empty() {
        tracing::warn!(jobs = unfinished.len(), "gave unfinished jobs back to the queue");
    }
    if let Some(session) = session {
        session.link.close("worker stopped").await;
    }
}

/// The next event of the session; never, without one.
async fn next_event(session: &mut Option<ConsumerSession>) -> Event {
    let Some(session) = session.as_mut() else {
        return std::future::pending().await;
    };
    session
        .events
        .recv()
        .await
        .unwrap_or_else(|| Event::Lost("the connection's events ended".into()))
}

fn take(
    runner: &Runner,
    slots: &Arc<Semaphore>,
    running: &mut JoinSet<()>,
    in_flight: &mut HashMap<tokio::task::Id, Taken>,
    delivery: Delivery,
) {
    let taken = Taken {
        job_id: job_id(&delivery),
        acker: delivery.acker.clone(),
    };
    let handle = running.spawn(deliver(runner.clone(), slots.clone(), taken.job_id.clone(), delivery));
    in_flight.insert(handle.id(), taken);
}

/// Runs the job of one delivery when a slot is free, then acks it: after the ledger
/// recorded the outcome, or at once when the ledger has nothing to run.
async fn deliver(runner: Runner, slots: Arc<Semaphore>, job_id: Option<String>, delivery: Delivery) {
    let Ok(_slot) = slots.acquire_owned().await else {
        return;
    };
    match job_id {
        None => tracing::warn!(routing_key = %delivery.routing_key, "a message without a job id; dropped"),
        Some(id) => match runner
            .ledger
            .start(std::slice::from_ref(&id), &runner.config.worker_id, runner.config.lease)
            .await
        {
            Ok(mut jobs) => match jobs.pop() {
                Some(job) => runner.run(job).await,
                None => {
                    tracing::debug!(job = %id, "a message for a job that is not queued (a duplicate, or not due); dropped")
                }
            },
            // Still queued and marked published: the relay publishes it again in a minute.
            Err(e) => tracing::warn!(job = %id, error = %e, "cannot start a delivered job; it is published again"),
        },
    }
    if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
        tracing::debug!(error = %e, "cannot ack a delivery; the broker redelivers it and the ledger drops it");
    }
}
