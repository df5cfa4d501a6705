//! RabbitMQ stops and starts again in the middle of a stream of jobs: no job is lost and
//! none runs twice. A test binary of its own, so it never runs beside the other RabbitMQ
//! tests (cargo runs test binaries one after another).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{all, eventually, fast_config, job, TestQueue};
use rapport_queue::{run_worker, Job, JobState, NewJob, Registry, WorkerConfig, WorkerMetrics};
use rapport_testkit::{Backend, TestDb, Transport};

const BATCHES: i64 = 30;
const PER_BATCH: i64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_restart_loses_no_job() {
    if !rapport_testkit::rabbitmq_available("a_broker_restart_loses_no_job").await
        || !rapport_testkit::broker_control_available("a_broker_restart_loses_no_job")
    {
        return;
    }
    let Some(test_db) = TestDb::new(Backend::Postgres, "a_broker_restart_loses_no_job").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut registry = Registry::new();
    let recorder = seen.clone();
    registry.register("t:stream", move |job: Job| {
        let recorder = recorder.clone();
        async move {
            *recorder.lock().unwrap().entry(job.id.clone()).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(())
        }
    });
    // A lease longer than the outage: a job that runs once has one attempt in the ledger.
    let config = WorkerConfig {
        lease: Duration::from_secs(20),
        ..fast_config(vec![])
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(
        queue.queue.clone(),
        registry,
        config,
        WorkerMetrics::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let producer = {
        let queue = queue.queue.clone();
        tokio::spawn(async move {
            for batch in 0..BATCHES {
                let jobs: Vec<NewJob> = (0..PER_BATCH)
                    .map(|n| job("t:stream", "orga_1", batch * PER_BATCH + n))
                    .collect();
                // Enqueues only write the ledger: they work while the broker is away.
                queue.enqueue(&jobs).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(1000)).await;
    let restart = tokio::task::spawn_blocking(rapport_testkit::StoppedBroker::stop)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(move || drop(restart)).await.unwrap();
    producer.await.unwrap();

    let total = (BATCHES * PER_BATCH) as usize;
    eventually(90, "every job to be done", async || {
        all(&queue, JobState::Done).await.len() == total
    })
    .await;
    let done = all(&queue, JobState::Done).await;
    assert_eq!(done.len(), total);
    for record in &done {
        assert_eq!(record.attempts, 1, "one attempt in the ledger: {record:?}");
    }
    let seen = seen.lock().unwrap().clone();
    let missed: Vec<_> = done.iter().filter(|r| !seen.contains_key(&r.id)).collect();
    assert!(
        missed.is_empty(),
        "the handler never saw {} jobs: {missed:?}",
        missed.len()
    );
    assert!(all(&queue, JobState::Queued).await.is_empty() && all(&queue, JobState::Dead).await.is_empty());
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}
