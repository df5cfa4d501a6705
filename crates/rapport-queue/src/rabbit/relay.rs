//! The relay: publishes the ledger's queued jobs to the broker, and records its dead
//! letters.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, Consumer};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::*;
use crate::{now_ms, Job, Ledger, QueueError};

/// Why a session ended.
enum Ended {
    Stopped,
    Lost(String),
}

/// Publishes the ledger's queued jobs and records dead letters, across reconnections,
/// until `stopped` says so or its sender is dropped.
pub(super) async fn relay(ledger: Ledger, broker: Arc<Broker>, mut stopped: watch::Receiver<bool>, first: Connection) {
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
        remote: &mut rapport_store::Listener,
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
            tokio::select! {
                _ = stop.as_mut() => return Ended::Stopped,
                _ = enqueued => {}
                _ = remote.notified() => {}
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
