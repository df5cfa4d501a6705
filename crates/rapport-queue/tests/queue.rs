//! The queue's semantics, on SQLite and PostgreSQL: dedupe, scheduling, leases, retries
//! with backoff, dead letters, fairness across organizations, concurrent workers, drain.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_queue::{
    now_ms, run_worker, Backoff, Job, JobError, JobFilter, JobState, NewJob, Queue, Registry, WorkerConfig,
    WorkerMetrics,
};
use rapport_testkit::{on_both_backends, TestDb};
use serde_json::json;

const LEASE: Duration = Duration::from_secs(30);

fn tasks(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn job(task: &str, org: &str, n: i64) -> NewJob {
    NewJob::new(task, org, json!({ "n": n }))
}

fn fast_config(tasks: Vec<String>) -> WorkerConfig {
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
async fn eventually(seconds: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(queue: &Queue, state: JobState) -> usize {
    let filter = JobFilter {
        state: Some(state),
        limit: 200,
        ..JobFilter::default()
    };
    queue.ledger().list(&filter).await.unwrap().0.len()
}

async fn a_job_runs_once_and_is_done(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    assert_eq!(queue.enqueue(&[job("t:a", "orga_1", 1)]).await.unwrap(), 1);
    let claimed = ledger.claim(&tasks(&["t:a"]), "w1", 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempt, 1);
    assert_eq!(claimed[0].payload, json!({"n": 1}));
    assert!(ledger.claim(&tasks(&["t:a"]), "w2", 10, LEASE).await.unwrap().is_empty(), "a running job is nobody else's");
    assert!(!ledger.complete(&claimed[0].id, "w2").await.unwrap(), "only its worker completes it");
    assert!(ledger.complete(&claimed[0].id, "w1").await.unwrap());
    let record = ledger.get(&claimed[0].id, Some("orga_1")).await.unwrap();
    assert_eq!(record.state, JobState::Done);
    assert!(record.started_at.is_some() && record.finished_at.is_some());
    assert!(matches!(ledger.get(&claimed[0].id, Some("orga_2")).await, Err(rapport_queue::QueueError::NotFound)));
}

async fn a_dedupe_key_enqueues_once(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let first = [job("t:a", "orga_1", 1).dedupe_key("ev1:sub1"), job("t:a", "orga_1", 2).dedupe_key("ev1:sub2")];
    assert_eq!(queue.enqueue(&first).await.unwrap(), 2);
    let again = [job("t:a", "orga_1", 3).dedupe_key("ev1:sub1"), job("t:b", "orga_1", 4).dedupe_key("ev1:sub1")];
    assert_eq!(queue.enqueue(&again).await.unwrap(), 1, "the key is per task");
    assert_eq!(count(&queue, JobState::Queued).await, 3);
}

async fn a_scheduled_job_waits_for_its_time(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    let at = now_ms() + 400;
    queue.enqueue(&[job("t:a", "orga_1", 1).run_at(at)]).await.unwrap();
    assert!(ledger.claim(&tasks(&["t:a"]), "w", 10, LEASE).await.unwrap().is_empty());
    assert_eq!(ledger.next_run_at(&tasks(&["t:a"])).await.unwrap(), Some(at));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(ledger.claim(&tasks(&["t:a"]), "w", 10, LEASE).await.unwrap().len(), 1);
}

async fn a_dead_workers_job_runs_again(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    queue.enqueue(&[job("t:a", "orga_1", 1)]).await.unwrap();
    let lease = Duration::from_millis(300);
    let first = ledger.claim(&tasks(&["t:a"]), "dies", 1, lease).await.unwrap();
    // A heartbeat keeps it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ledger.heartbeat(&first[0].id, "dies", lease).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ledger.reap_expired().await.unwrap(), 0, "the lease was renewed");
    // Then the worker stops answering.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(ledger.reap_expired().await.unwrap(), 1);
    let second = ledger.claim(&tasks(&["t:a"]), "lives", 1, lease).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempt, 2);
    let record = ledger.get(&first[0].id, None).await.unwrap();
    assert!(record.last_error.unwrap_or_default().contains("lease expired"));
    assert!(!ledger.complete(&first[0].id, "dies").await.unwrap(), "the dead worker lost it");
    assert!(ledger.complete(&second[0].id, "lives").await.unwrap());
}

async fn a_failing_job_backs_off_then_dies_and_can_be_retried(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    queue.enqueue(&[job("t:a", "orga_1", 1).max_attempts(3)]).await.unwrap();
    for attempt in 1..=3 {
        let jobs = ledger.claim(&tasks(&["t:a"]), "w", 1, LEASE).await.unwrap();
        assert_eq!(jobs[0].attempt, attempt);
        let retry_at = now_ms() + 200;
        let state = ledger.fail(&jobs[0], "w", &JobError::Retry(format!("boom {attempt}")), retry_at).await.unwrap();
        if attempt < 3 {
            assert_eq!(state, Some(JobState::Queued));
            assert!(ledger.claim(&tasks(&["t:a"]), "w", 1, LEASE).await.unwrap().is_empty(), "backing off");
            tokio::time::sleep(Duration::from_millis(220)).await;
        } else {
            assert_eq!(state, Some(JobState::Dead));
        }
    }
    let (dead, _) = ledger
        .list(&JobFilter {
            state: Some(JobState::Dead),
            organization_id: Some("orga_1".into()),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("boom 3"));
    assert!(matches!(ledger.retry(&dead[0].id, Some("orga_2")).await, Err(rapport_queue::QueueError::NotFound)));
    let retried = ledger.retry(&dead[0].id, Some("orga_1")).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Queued, 0));
    assert!(matches!(ledger.discard(&dead[0].id, None).await, Err(rapport_queue::QueueError::Refused(_))), "only dead jobs are discarded");
    let jobs = ledger.claim(&tasks(&["t:a"]), "w", 1, LEASE).await.unwrap();
    ledger.fail(&jobs[0], "w", &JobError::Permanent("bad payload".into()), now_ms()).await.unwrap();
    assert_eq!(ledger.get(&jobs[0].id, None).await.unwrap().state, JobState::Dead, "a permanent error kills at once");
    ledger.discard(&jobs[0].id, None).await.unwrap();
    assert!(matches!(ledger.get(&jobs[0].id, None).await, Err(rapport_queue::QueueError::NotFound)));
}

async fn one_organizations_flood_does_not_starve_another(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    let flood: Vec<NewJob> = (0..500).map(|n| job("t:a", "orga_flood", n)).collect();
    queue.enqueue(&flood).await.unwrap();
    let first = ledger.claim(&tasks(&["t:a"]), "w", 10, LEASE).await.unwrap();
    assert!(first.iter().all(|j| j.organization_id == "orga_flood"));
    queue.enqueue(&[job("t:a", "orga_quiet", 0), job("t:a", "orga_quiet", 1)]).await.unwrap();
    // Interleaved with the flood from the queue's head on, not behind its 490 jobs.
    let next = ledger.claim(&tasks(&["t:a"]), "w", 6, LEASE).await.unwrap();
    let quiet = next.iter().filter(|j| j.organization_id == "orga_quiet").count();
    assert_eq!(quiet, 2, "the quiet organization's jobs run next: {next:?}");
}

async fn concurrent_claims_never_share_a_job(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let jobs: Vec<NewJob> = (0..600).map(|n| job("t:a", &format!("orga_{}", n % 7), n)).collect();
    queue.enqueue(&jobs).await.unwrap();
    let mut claimers = Vec::new();
    for w in 0..6 {
        let ledger = queue.ledger().clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = ledger.claim(&tasks(&["t:a"]), &format!("w{w}"), 7, LEASE).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 600, "every job claimed exactly once");
    assert_eq!(distinct.len(), 600);
}

/// Records what a handler saw.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<HashMap<i64, u32>>>);

impl Seen {
    fn record(&self, job: &Job) -> u32 {
        let n = job.payload["n"].as_i64().unwrap();
        let mut seen = self.0.lock().unwrap();
        let count = seen.entry(n).or_default();
        *count += 1;
        *count
    }
    fn distinct(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

async fn workers_run_everything_and_a_poison_job_dies_alone(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let seen = Seen::default();
    let mut registry = Registry::new();
    let recorder = seen.clone();
    registry.register("t:work", move |job: Job| {
        let recorder = recorder.clone();
        async move {
            let n = job.payload["n"].as_i64().unwrap_or(-1);
            if n == 13 {
                return Err(JobError::Retry("thirteen is unlucky".into()));
            }
            if n == 7 {
                panic!("seven panics");
            }
            // Every tenth job fails once, then succeeds.
            if n % 10 == 5 && recorder.record(&job) == 1 {
                return Err(JobError::Retry("flaky".into()));
            }
            recorder.record(&job);
            Ok(())
        }
    });
    let jobs: Vec<NewJob> = (0..200).map(|n| job("t:work", "orga_1", n).max_attempts(4)).collect();
    queue.enqueue(&jobs).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = WorkerMetrics::default();
    let worker = tokio::spawn(run_worker(queue.clone(), registry, fast_config(vec![]), metrics.clone(), async {
        let _ = stopped.await;
    }));
    eventually(30, "every job to finish", async || {
        count(&queue, JobState::Queued).await + count(&queue, JobState::Running).await == 0
    })
    .await;
    assert_eq!(seen.distinct(), 198, "all but the two poison jobs ran");
    let (dead, _) = queue
        .ledger()
        .list(&JobFilter {
            state: Some(JobState::Dead),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let mut errors: Vec<_> = dead.iter().map(|j| (j.payload["n"].as_i64().unwrap(), j.attempts, j.last_error.clone().unwrap())).collect();
    errors.sort();
    assert_eq!(errors[0], (7, 4, "the handler panicked: seven panics".to_string()));
    assert_eq!(errors[1], (13, 4, "thirteen is unlucky".to_string()));
    let counters = &metrics.snapshot()["t:work"];
    assert_eq!(counters.processed, 198);
    assert_eq!(counters.dead, 2);
    assert_eq!(counters.failed, 2 * 4 + 20);
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

async fn shutdown_lets_running_jobs_finish(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register("t:slow", move |job: Job| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(job.id.clone());
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
    });
    queue.enqueue(&[job("t:slow", "orga_1", 1)]).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(queue.clone(), registry, fast_config(vec![]), WorkerMetrics::default(), async {
        let _ = stopped.await;
    }));
    let id = started.recv().await.unwrap();
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(queue.ledger().get(&id, None).await.unwrap().state, JobState::Done, "drained, not dropped");
}

on_both_backends!(
    a_job_runs_once_and_is_done,
    a_dedupe_key_enqueues_once,
    a_scheduled_job_waits_for_its_time,
    a_dead_workers_job_runs_again,
    a_failing_job_backs_off_then_dies_and_can_be_retried,
    one_organizations_flood_does_not_starve_another,
    concurrent_claims_never_share_a_job,
    workers_run_everything_and_a_poison_job_dies_alone,
    shutdown_lets_running_jobs_finish,
);
