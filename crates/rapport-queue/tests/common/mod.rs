//! Shared by the queue's test binaries: a queue on a test's transport, fast worker
//! settings, and waiting for a condition.
#![allow(dead_code)]

use std::time::Duration;

use rapport_queue::{Backoff, JobFilter, JobState, NewJob, Queue, WorkerConfig};
use rapport_testkit::{TestDb, Transport};
use serde_json::json;

/// A queue on the test's transport. On RabbitMQ it has exchanges and queues of its own
/// (a unique prefix), deleted when it is dropped, also when the test fails.
pub struct TestQueue {
    pub queue: Queue,
    pub prefix: Option<String>,
}

/// Logs to the test's output when `RUST_LOG` asks for it.
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl TestQueue {
    pub async fn open(db: &TestDb, transport: Transport) -> TestQueue {
        logs();
        let db = db.open().await;
        match transport {
            Transport::Embedded => TestQueue {
                queue: Queue::embedded(db),
                prefix: None,
            },
            Transport::RabbitMq => {
                let prefix = rapport_testkit::unique("rt");
                let queue = Queue::rabbitmq(db, &rapport_testkit::amqp_url(), &prefix)
                    .await
                    .unwrap();
                assert_eq!(queue.transport_name(), "rabbitmq");
                TestQueue {
                    queue,
                    prefix: Some(prefix),
                }
            }
        }
    }
}

impl std::ops::Deref for TestQueue {
    type Target = Queue;
    fn deref(&self) -> &Queue {
        &self.queue
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        if self.prefix.is_none() {
            return;
        }
        // A runtime of its own on a thread of its own: Drop runs inside the test's runtime,
        // whose other threads keep the relay going until it stops.
        let queue = self.queue.clone();
        let deleter = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Err(e) = queue.delete_topology().await {
                    eprintln!("cannot delete the test's RabbitMQ topology: {e}");
                }
            });
        });
        let _ = deleter.join();
    }
}

pub fn tasks(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

pub fn job(task: &str, org: &str, n: i64) -> NewJob {
    NewJob::new(task, org, json!({ "n": n }))
}

pub fn fast_config(tasks: Vec<String>) -> WorkerConfig {
    WorkerConfig {
        tasks,
        concurrency: 8,
        lease: Duration::from_millis(600),
        backoff: Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(40),
        },
        poll: Duration::from_millis(50),
        drain: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// Waits until `check` holds, for at most `seconds`.
pub async fn eventually(seconds: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Jobs in `state` (up to 200).
pub async fn count(queue: &Queue, state: JobState) -> usize {
    let filter = JobFilter {
        state: Some(state),
        limit: 200,
        ..JobFilter::default()
    };
    queue.ledger().list(&filter).await.unwrap().0.len()
}

/// Every job in `state`, however many.
pub async fn all(queue: &Queue, state: JobState) -> Vec<rapport_queue::JobRecord> {
    let mut jobs = Vec::new();
    loop {
        let filter = JobFilter {
            state: Some(state),
            limit: 200,
            skip: jobs.len(),
            ..JobFilter::default()
        };
        let (page, more) = queue.ledger().list(&filter).await.unwrap();
        jobs.extend(page);
        if !more {
            return jobs;
        }
    }
}

/// Nothing queued or running.
pub async fn settled(queue: &Queue) -> bool {
    count(queue, JobState::Queued).await + count(queue, JobState::Running).await == 0
}
