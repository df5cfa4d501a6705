//! The queue's semantics: dedupe, scheduling, leases, retries with backoff, dead letters,
//! fairness across organizations, concurrent workers, drain. The ledger's own tests run on
//! SQLite and PostgreSQL (`ledger::…`); the workers' tests also run through RabbitMQ
//! (`sqlite::…`, `postgres::…`, `rabbitmq::…`).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{all, count, eventually, fast_config, job, settled, tasks, TestQueue};
use rapport_queue::rabbit::{MAX_IN_BROKER_PER_TASK, PUBLISH_BATCH};
use rapport_queue::{
    now_ms, run_worker, Job, JobError, JobFilter, JobState, NewJob, Queue, Registry, WorkerConfig, WorkerMetrics,
    REPUBLISH_AFTER_MS,
};
use rapport_testkit::{on_both_backends, on_every_transport, TestDb, Transport};
use serde_json::json;

const LEASE: Duration = Duration::from_secs(30);

async fn a_job_runs_once_and_is_done(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    assert_eq!(queue.enqueue(&[job("t:a", "orga_1", 1)]).await.unwrap(), 1);
    let claimed = ledger.claim(&tasks(&["t:a"]), "w1", 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempt, 1);
    assert_eq!(claimed[0].payload, json!({"n": 1}));
    assert!(
        ledger
            .claim(&tasks(&["t:a"]), "w2", 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "a running job is nobody else's"
    );
    assert!(
        !ledger.complete(&claimed[0].id, "w2").await.unwrap(),
        "only its worker completes it"
    );
    assert!(ledger.complete(&claimed[0].id, "w1").await.unwrap());
    let record = ledger.get(&claimed[0].id, Some("orga_1")).await.unwrap();
    assert_eq!(record.state, JobState::Done);
    assert!(record.started_at.is_some() && record.finished_at.is_some());
    assert!(matches!(
        ledger.get(&claimed[0].id, Some("orga_2")).await,
        Err(rapport_queue::QueueError::NotFound)
    ));
}

async fn finished_jobs_are_purged_by_state_and_age(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    queue
        .enqueue(&[
            job("t:p", "orga_1", 1),
            job("t:p", "orga_1", 2),
            job("t:p", "orga_1", 3),
        ])
        .await
        .unwrap();
    let claimed = ledger.claim(&tasks(&["t:p"]), "w1", 2, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(ledger.complete(&claimed[0].id, "w1").await.unwrap());
    assert!(ledger.bury(&claimed[1].id, "given up").await.unwrap());
    let now = rapport_queue::now_ms();
    // Not old enough: nothing goes.
    assert_eq!(ledger.purge_finished(JobState::Dead, now - 60_000).await.unwrap(), 0);
    assert_eq!(ledger.purge_finished(JobState::Dead, now + 1).await.unwrap(), 1);
    assert_eq!(count(&queue, JobState::Done).await, 1, "the done job stays");
    assert_eq!(ledger.purge_finished(JobState::Done, now + 1).await.unwrap(), 1);
    // The queued job is never purged, however old.
    assert_eq!(ledger.purge_finished(JobState::Queued, now + 1).await.unwrap(), 0);
    assert_eq!(count(&queue, JobState::Queued).await, 1);
    assert_eq!(count(&queue, JobState::Dead).await, 0);
}

async fn a_dedupe_key_enqueues_once(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let first = [
        job("t:a", "orga_1", 1).dedupe_key("ev1:sub1"),
        job("t:a", "orga_1", 2).dedupe_key("ev1:sub2"),
    ];
    assert_eq!(queue.enqueue(&first).await.unwrap(), 2);
    let again = [
        job("t:a", "orga_1", 3).dedupe_key("ev1:sub1"),
        job("t:b", "orga_1", 4).dedupe_key("ev1:sub1"),
    ];
    assert_eq!(queue.enqueue(&again).await.unwrap(), 1, "the key is per task");
    assert_eq!(count(&queue, JobState::Queued).await, 3);
}

async fn a_scheduled_job_waits_for_its_time(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    let at = now_ms() + 400;
    queue.enqueue(&[job("t:a", "orga_1", 1).run_at(at)]).await.unwrap();
    // Kept apart from the queue until due, so that claims never walk past it.
    assert_eq!(count(&queue, JobState::Scheduled).await, 1);
    assert_eq!(count(&queue, JobState::Queued).await, 0);
    assert!(ledger.claim(&tasks(&["t:a"]), "w", 10, LEASE).await.unwrap().is_empty());
    assert_eq!(ledger.next_run_at(&tasks(&["t:a"])).await.unwrap(), Some(at));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(ledger.claim(&tasks(&["t:a"]), "w", 10, LEASE).await.unwrap().len(), 1);
    assert_eq!(count(&queue, JobState::Scheduled).await, 0);
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
    assert!(
        !ledger.complete(&first[0].id, "dies").await.unwrap(),
        "the dead worker lost it"
    );
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
        let state = ledger
            .fail(&jobs[0], "w", &JobError::Retry(format!("boom {attempt}")), retry_at)
            .await
            .unwrap();
        if attempt < 3 {
            assert_eq!(state, Some(JobState::Queued));
            assert!(
                ledger.claim(&tasks(&["t:a"]), "w", 1, LEASE).await.unwrap().is_empty(),
                "backing off"
            );
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
    assert!(matches!(
        ledger.retry(&dead[0].id, Some("orga_2")).await,
        Err(rapport_queue::QueueError::NotFound)
    ));
    let retried = ledger.retry(&dead[0].id, Some("orga_1")).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Queued, 0));
    assert!(
        matches!(
            ledger.discard(&dead[0].id, None).await,
            Err(rapport_queue::QueueError::Refused(_))
        ),
        "only dead jobs are discarded"
    );
    let jobs = ledger.claim(&tasks(&["t:a"]), "w", 1, LEASE).await.unwrap();
    ledger
        .fail(&jobs[0], "w", &JobError::Permanent("bad payload".into()), now_ms())
        .await
        .unwrap();
    assert_eq!(
        ledger.get(&jobs[0].id, None).await.unwrap().state,
        JobState::Dead,
        "a permanent error kills at once"
    );
    ledger.discard(&jobs[0].id, None).await.unwrap();
    assert!(matches!(
        ledger.get(&jobs[0].id, None).await,
        Err(rapport_queue::QueueError::NotFound)
    ));
}

async fn one_organizations_flood_does_not_starve_another(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    let flood: Vec<NewJob> = (0..500).map(|n| job("t:a", "orga_flood", n)).collect();
    queue.enqueue(&flood).await.unwrap();
    let first = ledger.claim(&tasks(&["t:a"]), "w", 10, LEASE).await.unwrap();
    assert!(first.iter().all(|j| j.organization_id == "orga_flood"));
    queue
        .enqueue(&[job("t:a", "orga_quiet", 0), job("t:a", "orga_quiet", 1)])
        .await
        .unwrap();
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
                let got = ledger
                    .claim(&tasks(&["t:a"]), &format!("w{w}"), 7, LEASE)
                    .await
                    .unwrap();
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

/// For the relay of the RabbitMQ transport: due, unpublished jobs are taken once, in fair
/// order, with the attempt their message is for; again after a minute, after a failed
/// publication, and never for a task whose broker queue is full.
async fn publishing_takes_due_jobs_once_in_fair_order(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    let flood: Vec<NewJob> = (0..3).map(|n| job("t:a", "orga_flood", n)).collect();
    queue.enqueue(&flood).await.unwrap();
    queue.enqueue(&[job("t:a", "orga_quiet", 9)]).await.unwrap();
    queue
        .enqueue(&[job("t:a", "orga_later", 10).run_at(now_ms() + 3_600_000)])
        .await
        .unwrap();
    let now = now_ms();
    let taken = ledger.take_for_publishing(now, 10, &[]).await.unwrap();
    assert_eq!(taken.len(), 4, "the scheduled job is not due: {taken:?}");
    assert!(taken.iter().all(|j| j.attempt == 1), "the first attempt: {taken:?}");
    let quiet = taken.iter().position(|j| j.organization_id == "orga_quiet").unwrap();
    assert!(
        quiet < 3,
        "the quiet organization's job comes before the flood's last: {taken:?}"
    );
    assert!(
        ledger.take_for_publishing(now, 10, &[]).await.unwrap().is_empty(),
        "published once"
    );
    assert_eq!(ledger.crowded_tasks(now, 3).await.unwrap(), vec!["t:a".to_string()]);
    assert!(ledger.crowded_tasks(now, 4).await.unwrap().is_empty());
    assert!(
        ledger
            .crowded_tasks(now + REPUBLISH_AFTER_MS + 1, 0)
            .await
            .unwrap()
            .is_empty(),
        "after a minute they no longer count as in the broker"
    );

    let later = now + REPUBLISH_AFTER_MS + 1;
    let again: HashSet<String> = ledger
        .take_for_publishing(later, 3, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(
        again.len(),
        3,
        "still queued after a minute: published again, `limit` at a time"
    );

    let ids: Vec<String> = taken.iter().map(|j| j.id.clone()).collect();
    ledger.unpublish(&ids[..2]).await.unwrap();
    let retaken: HashSet<String> = ledger
        .take_for_publishing(later, 10, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    let unpublished: HashSet<String> = ids[..2].iter().cloned().collect();
    assert!(
        unpublished.is_subset(&retaken),
        "an unpublished job is taken again: {retaken:?}"
    );

    queue.enqueue(&[job("t:b", "orga_flood", 20)]).await.unwrap();
    queue.enqueue(&[job("t:a", "orga_flood", 21)]).await.unwrap();
    let other = ledger
        .take_for_publishing(now_ms(), 10, &tasks(&["t:a"]))
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].task, "t:b", "a full task is left alone");
}

/// A message only starts a queued, due job: duplicates, running, finished, missing and
/// early jobs yield nothing.
async fn start_takes_only_queued_due_jobs(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    queue.enqueue(&[job("t:a", "orga_1", 1)]).await.unwrap();
    queue
        .enqueue(&[job("t:a", "orga_1", 2).run_at(now_ms() + 3_600_000)])
        .await
        .unwrap();
    let (records, _) = ledger
        .list(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let id = |n: i64| records.iter().find(|r| r.payload["n"] == n).unwrap().id.clone();
    let ids = vec![id(1), id(2), "job_missing".to_string()];
    let started = ledger.start(&ids, "w1", LEASE).await.unwrap();
    assert_eq!(started.len(), 1, "only the due job: {started:?}");
    assert_eq!((started[0].id.clone(), started[0].attempt), (id(1), 1));
    assert!(
        ledger.start(&ids[..1], "w2", LEASE).await.unwrap().is_empty(),
        "a running job is its worker's"
    );
    assert!(ledger.complete(&id(1), "w1").await.unwrap());
    assert!(
        ledger.start(&ids[..1], "w2", LEASE).await.unwrap().is_empty(),
        "a done job does not run again"
    );
    assert_eq!(ledger.get(&id(1), None).await.unwrap().attempts, 1);
}

/// A retried, reaped or released job is published again at once; a dead letter kills a
/// job that is not finished.
async fn jobs_back_in_the_queue_are_published_again(test_db: &TestDb) {
    let queue = Queue::embedded(test_db.open().await);
    let ledger = queue.ledger();
    queue.enqueue(&[job("t:a", "orga_1", 1)]).await.unwrap();
    let taken = ledger.take_for_publishing(now_ms(), 10, &[]).await.unwrap();
    let id = taken[0].id.clone();
    let started = ledger.start(std::slice::from_ref(&id), "w", LEASE).await.unwrap();
    ledger
        .fail(&started[0], "w", &JobError::Retry("flaky".into()), now_ms())
        .await
        .unwrap();
    let retried = ledger.take_for_publishing(now_ms(), 10, &[]).await.unwrap();
    assert_eq!(
        (retried.len(), retried[0].attempt),
        (1, 2),
        "a retry is published again, for attempt 2"
    );

    ledger
        .start(std::slice::from_ref(&id), "dies", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(ledger.reap_expired().await.unwrap(), 1);
    let reaped = ledger.take_for_publishing(now_ms(), 10, &[]).await.unwrap();
    assert_eq!(
        (reaped.len(), reaped[0].attempt),
        (1, 3),
        "a reaped job is published again"
    );

    ledger.start(std::slice::from_ref(&id), "stops", LEASE).await.unwrap();
    ledger.release(&id, "stops").await.unwrap();
    let released = ledger.take_for_publishing(now_ms(), 10, &[]).await.unwrap();
    assert_eq!(
        (released.len(), released[0].attempt),
        (1, 3),
        "a released job is published again, its attempt not counted"
    );

    assert!(ledger.bury(&id, "dead-lettered").await.unwrap());
    let record = ledger.get(&id, None).await.unwrap();
    assert_eq!(
        (record.state, record.last_error.as_deref()),
        (JobState::Dead, Some("dead-lettered"))
    );
    assert!(!ledger.bury(&id, "again").await.unwrap(), "a dead job stays as it was");
    let retried = ledger.retry(&id, None).await.unwrap();
    assert_eq!(retried.state, JobState::Queued);
    assert_eq!(
        ledger.take_for_publishing(now_ms(), 10, &[]).await.unwrap().len(),
        1,
        "an operator's retry is published again"
    );
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

/// A worker on its own task, stopped by the returned sender.
fn spawn_worker(
    queue: &Queue,
    registry: Registry,
    config: WorkerConfig,
    metrics: WorkerMetrics,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<rapport_queue::QueueResult<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(queue.clone(), registry, config, metrics, async {
        let _ = stopped.await;
    }));
    (stop, worker)
}

async fn workers_run_everything_and_a_poison_job_dies_alone(test_db: &TestDb, transport: Transport) {
    let queue = TestQueue::open(test_db, transport).await;
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
    let metrics = WorkerMetrics::default();
    let (stop, worker) = spawn_worker(&queue, registry, fast_config(vec![]), metrics.clone());
    eventually(30, "every job to finish", async || settled(&queue).await).await;
    assert_eq!(seen.distinct(), 198, "all but the two poison jobs ran");
    let dead = all(&queue, JobState::Dead).await;
    let mut errors: Vec<_> = dead
        .iter()
        .map(|j| {
            (
                j.payload["n"].as_i64().unwrap(),
                j.attempts,
                j.last_error.clone().unwrap(),
            )
        })
        .collect();
    errors.sort();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0], (7, 4, "the handler panicked: seven panics".to_string()));
    assert_eq!(errors[1], (13, 4, "thirteen is unlucky".to_string()));
    let counters = &metrics.snapshot()["t:work"];
    assert_eq!(counters.processed, 198);
    assert_eq!(counters.dead, 2);
    assert_eq!(counters.failed, 2 * 4 + 20);
    let done = all(&queue, JobState::Done).await;
    assert_eq!(done.len(), 198);
    for record in &done {
        let expected = if record.payload["n"].as_i64().unwrap() % 10 == 5 {
            2
        } else {
            1
        };
        assert_eq!(record.attempts, expected, "no attempt runs twice: {record:?}");
    }
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

async fn shutdown_lets_running_jobs_finish(test_db: &TestDb, transport: Transport) {
    let queue = TestQueue::open(test_db, transport).await;
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
    let (stop, worker) = spawn_worker(&queue, registry, fast_config(vec![]), WorkerMetrics::default());
    let id = started.recv().await.unwrap();
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(
        queue.ledger().get(&id, None).await.unwrap().state,
        JobState::Done,
        "drained, not dropped"
    );
}

/// A job still running when the drain time is up goes back to the queue, its attempt not
/// counted, and the next worker runs it.
async fn shutdown_gives_back_what_does_not_finish(test_db: &TestDb, transport: Transport) {
    let queue = TestQueue::open(test_db, transport).await;
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register("t:stuck", move |job: Job| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(job.attempt);
            if job.attempt == 1 {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    });
    queue.enqueue(&[job("t:stuck", "orga_1", 1)]).await.unwrap();
    let config = WorkerConfig {
        drain: Duration::from_millis(200),
        ..fast_config(vec![])
    };
    let (stop, worker) = spawn_worker(&queue, registry.clone(), config.clone(), WorkerMetrics::default());
    assert_eq!(started.recv().await, Some(1));
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
    let (records, _) = queue
        .ledger()
        .list(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (records[0].state, records[0].attempts),
        (JobState::Queued, 0),
        "given back, its attempt not counted"
    );
    let (stop, worker) = spawn_worker(&queue, registry, config, WorkerMetrics::default());
    assert_eq!(
        started.recv().await,
        Some(1),
        "the next worker runs it, as a first attempt"
    );
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

/// An organization that enqueues a flood does not make another wait for all of it: the
/// quiet organization's jobs run next on the embedded transport; through RabbitMQ after at
/// most what the relay let into the broker (not after the whole flood).
async fn workers_keep_organizations_fair(test_db: &TestDb, transport: Transport) {
    let queue = TestQueue::open(test_db, transport).await;
    let flood_size = MAX_IN_BROKER_PER_TASK + 4 * PUBLISH_BATCH;
    let order = Arc::new(Mutex::new(Vec::new()));
    let (gate, gate_rx) = tokio::sync::watch::channel(false);
    let (first_tx, mut first) = tokio::sync::mpsc::unbounded_channel();
    let mut registry = Registry::new();
    let recorder = order.clone();
    registry.register("t:fair", move |job: Job| {
        let recorder = recorder.clone();
        let first_tx = first_tx.clone();
        let mut gate = gate_rx.clone();
        async move {
            recorder
                .lock()
                .unwrap()
                .push((job.organization_id.clone(), job.payload["n"].as_i64()));
            let _ = first_tx.send(());
            let _ = gate.wait_for(|open| *open).await;
            Ok(())
        }
    });
    let flood: Vec<NewJob> = (0..flood_size as i64).map(|n| job("t:fair", "orga_flood", n)).collect();
    queue.enqueue(&flood).await.unwrap();
    let config = WorkerConfig {
        concurrency: 4,
        ..fast_config(vec![])
    };
    let (stop, worker) = spawn_worker(&queue, registry, config, WorkerMetrics::default());
    first.recv().await.unwrap();
    if transport == Transport::RabbitMq {
        // The workers are busy: the relay publishes all it will before the quiet jobs come.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    queue
        .enqueue(&[job("t:fair", "orga_quiet", 0), job("t:fair", "orga_quiet", 1)])
        .await
        .unwrap();
    gate.send_replace(true);
    // At least once: under load a heartbeat can come late, a lease expire and its job run
    // again, so jobs are counted by their first run.
    let first_runs = |order: &[(String, Option<i64>)]| {
        let mut seen = HashSet::new();
        let firsts: Vec<String> = order
            .iter()
            .filter(|run| seen.insert((*run).clone()))
            .map(|(org, _)| org.clone())
            .collect();
        firsts
    };
    eventually(120, "every job to run", async || {
        first_runs(&order.lock().unwrap()).len() == flood_size + 2
    })
    .await;
    let order = first_runs(&order.lock().unwrap());
    let last_quiet = order.iter().rposition(|org| org == "orga_quiet").unwrap();
    let bound = match transport {
        Transport::Embedded => 50,
        Transport::RabbitMq => MAX_IN_BROKER_PER_TASK + PUBLISH_BATCH + 200,
    };
    assert!(
        last_quiet < bound,
        "the quiet organization's jobs ran {last_quiet}th of {}, not within the first {bound}",
        order.len()
    );
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

/// A scheduled job runs when due, not before and not long after.
async fn workers_run_a_scheduled_job_when_due(test_db: &TestDb, transport: Transport) {
    let queue = TestQueue::open(test_db, transport).await;
    let started = Arc::new(Mutex::new(HashMap::new()));
    let mut registry = Registry::new();
    let recorder = started.clone();
    registry.register("t:at", move |job: Job| {
        let recorder = recorder.clone();
        async move {
            recorder
                .lock()
                .unwrap()
                .insert(job.payload["n"].as_i64().unwrap(), now_ms());
            Ok(())
        }
    });
    let (stop, worker) = spawn_worker(&queue, registry, fast_config(vec![]), WorkerMetrics::default());
    let enqueued = now_ms();
    let at = enqueued + 700;
    queue
        .enqueue(&[job("t:at", "orga_1", 1).run_at(at), job("t:at", "orga_1", 2)])
        .await
        .unwrap();
    eventually(10, "both jobs to run", async || started.lock().unwrap().len() == 2).await;
    let started = started.lock().unwrap().clone();
    assert!(
        started[&2] - enqueued < 1_000,
        "the job due now ran at once ({} ms)",
        started[&2] - enqueued
    );
    assert!(started[&1] >= at, "the scheduled job ran {} ms early", at - started[&1]);
    assert!(
        started[&1] - at < 1_000,
        "the scheduled job ran {} ms late",
        started[&1] - at
    );
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

/// A worker killed while running a job (no drain, no answer): its lease expires and
/// another worker runs the job again.
async fn a_killed_workers_job_runs_again(test_db: &TestDb, transport: Transport) {
    let queue = TestQueue::open(test_db, transport).await;
    let (attempts_tx, mut attempts) = tokio::sync::mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register("t:crash", move |job: Job| {
        let attempts_tx = attempts_tx.clone();
        async move {
            let _ = attempts_tx.send(job.attempt);
            if job.attempt == 1 {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    });
    queue.enqueue(&[job("t:crash", "orga_1", 1)]).await.unwrap();
    let (_stop, doomed) = spawn_worker(&queue, registry.clone(), fast_config(vec![]), WorkerMetrics::default());
    assert_eq!(attempts.recv().await, Some(1));
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    let (stop, worker) = spawn_worker(&queue, registry, fast_config(vec![]), WorkerMetrics::default());
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(20), attempts.recv())
            .await
            .unwrap(),
        Some(2)
    );
    eventually(10, "the job to be done", async || settled(&queue).await).await;
    let (records, _) = queue
        .ledger()
        .list(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((records[0].state, records[0].attempts), (JobState::Done, 2));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), attempts.recv())
            .await
            .is_err(),
        "no third run"
    );
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

mod ledger {
    use super::*;

    on_both_backends!(
        a_job_runs_once_and_is_done,
        finished_jobs_are_purged_by_state_and_age,
        a_dedupe_key_enqueues_once,
        a_scheduled_job_waits_for_its_time,
        a_dead_workers_job_runs_again,
        a_failing_job_backs_off_then_dies_and_can_be_retried,
        one_organizations_flood_does_not_starve_another,
        concurrent_claims_never_share_a_job,
        publishing_takes_due_jobs_once_in_fair_order,
        start_takes_only_queued_due_jobs,
        jobs_back_in_the_queue_are_published_again,
    );
}

on_every_transport!(
    workers_run_everything_and_a_poison_job_dies_alone,
    shutdown_lets_running_jobs_finish,
    shutdown_gives_back_what_does_not_finish,
    workers_keep_organizations_fair,
    workers_run_a_scheduled_job_when_due,
    a_killed_workers_job_runs_again,
);
