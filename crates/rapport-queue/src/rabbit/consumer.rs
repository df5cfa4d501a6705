//! The workers' side: consumes the queues of a worker's tasks and runs their jobs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::*;
use crate::worker::{drain, forget, Reaper, Runner};
use crate::WorkerConfig;

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
                    // A job still queued but not due by this node's clock (a relay whose
                    // clock runs ahead, a stale duplicate): unmarked, the relay publishes it
                    // again when due instead of a minute later. Other jobs are unchanged.
                    tracing::debug!(job = %id, "a message for a job that is not queued and due; dropped");
                    unpublish(&runner.ledger, std::slice::from_ref(&id)).await;
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
