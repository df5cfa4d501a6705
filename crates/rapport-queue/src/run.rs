//! [`run_worker`]: a worker on its queue's transport. The embedded transport's claim loop
//! is here; RabbitMQ's consumer is `rabbit/consumer.rs`. Both run jobs with the runtime of
//! `worker.rs`, which is why this is not part of it: `worker.rs` is below both transports.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::worker::{drain, forget, Reaper, Registry, Runner, WorkerConfig, WorkerMetrics};
use crate::{now_ms, Queue, QueueResult};

/// Runs jobs of `config.tasks` until `shutdown` resolves, then drains. Returns when every
/// job it took is finished or given back. Jobs come from the queue's transport: claimed
/// from the ledger (embedded) or delivered by RabbitMQ; either way the ledger records each
/// attempt and outcome, and expired leases are reaped every third of the lease.
pub async fn run_worker(
    queue: Queue,
    registry: Registry,
    mut config: WorkerConfig,
    metrics: WorkerMetrics,
    shutdown: impl Future<Output = ()>,
) -> QueueResult<()> {
    if config.tasks.is_empty() {
        config.tasks = registry.tasks();
    }
    config.tasks.retain(|t| registry.get(t).is_some());
    config.concurrency = config.concurrency.max(1);
    let config = Arc::new(config);
    tracing::info!(worker = %config.worker_id, tasks = ?config.tasks, transport = queue.transport_name(), "worker started");
    let runner = Runner {
        ledger: queue.ledger().clone(),
        registry,
        config,
        metrics,
    };
    match queue.broker() {
        Some(broker) => crate::rabbit::consume(&runner, broker, shutdown).await,
        None => claim_loop(&runner, shutdown).await,
    }
    tracing::info!(worker = %runner.config.worker_id, "worker stopped");
    Ok(())
}

/// The embedded transport: claims ready rows of the ledger whenever a slot is free.
async fn claim_loop(runner: &Runner, shutdown: impl Future<Output = ()>) {
    let Runner { ledger, config, .. } = runner;
    let mut running: JoinSet<()> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut other_nodes = ledger.listen();
    let mut reaper = Reaper::new(config.lease);
    tokio::pin!(shutdown);
    loop {
        reaper.run_if_due(ledger).await;
        let free = config.concurrency.saturating_sub(running.len());
        let enqueued = ledger.enqueued();
        let claimed = if free > 0 {
            match ledger.claim(&config.tasks, &config.worker_id, free, config.lease).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take jobs; retrying");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            }
        } else {
            Vec::new()
        };
        let took = claimed.len();
        for job in claimed {
            let id = job.id.clone();
            let handle = running.spawn(runner.run(job));
            in_flight.insert(handle.id(), id);
        }
        if took > 0 && took == free {
            // There may be more: take them as soon as a slot frees, with every slot that
            // freed meanwhile (one claim for many jobs, not one claim per job).
            tokio::select! {
                _ = &mut shutdown => break,
                Some(done) = running.join_next_with_id() => forget(&mut in_flight, done),
            }
            while let Some(done) = running.try_join_next_with_id() {
                forget(&mut in_flight, done);
            }
            continue;
        }
        if took > 0 {
            continue;
        }
        // A scheduled job (or a retry) due before the next poll is taken when due.
        let wait = match ledger.next_run_at(&config.tasks).await {
            Ok(Some(at)) => Duration::from_millis((at - now_ms()).max(0) as u64).min(config.poll),
            _ => config.poll,
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = enqueued => {}
            _ = other_nodes.notified() => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => forget(&mut in_flight, done),
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!(worker = %config.worker_id, jobs = running.len(), "draining");
    let unfinished = drain(&mut running, &mut in_flight, config.drain).await;
    for id in &unfinished {
        if let Err(e) = ledger.release(id, &config.worker_id).await {
            tracing::warn!(job = %id, error = %e, "cannot give a job back; its lease will expire");
        }
    }
    if !unfinished.is_empty() {
        tracing::warn!(jobs = unfinished.len(), "gave unfinished jobs back to the queue");
    }
}
