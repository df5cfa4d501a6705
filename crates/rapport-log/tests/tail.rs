//! The log every consumer reads (search index, real time, job dispatcher) and the tail they
//! all run on, on both databases: every event after the cursor arrives once, in order,
//! across batches and wake-ups; events decode from their columns; a failing consumer gets
//! the same events again; a lost race asks the shared cursor again; shutdown stops the tail
//! before it applies anything more; one organization's reads see only its events.
//!
//! Waits are for liveness only: generous, and never a claim about speed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_log::{Action, Applied, Consumer, ConsumerError, Event, EventLog, Tail};
use rapport_store::{Db, Stmt};
use rapport_testkit::{Backend, TestDb};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a liveness wait may last before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);
/// An idle recheck that never comes within a test: only a wake-up moves the tail.
const NEVER: Duration = Duration::from_secs(3600);
/// A quick idle recheck.
const SOON: Duration = Duration::from_millis(50);
const DATE: &str = "2026-03-04T05:06:07.000000+00:00";

/// One row of `events` to write, filled as the write path fills it.
struct NewEvent {
    id: String,
    organization_id: String,
    object_type: &'static str,
    object_id: String,
    lead_id: Option<String>,
    action: &'static str,
    changed_fields: Value,
    previous_data: Option<Value>,
    data: Option<Value>,
    user_id: Option<String>,
    request_id: Option<String>,
}

impl NewEvent {
    /// A lead created in `organization_id`.
    fn lead(organization_id: &str, n: usize) -> NewEvent {
        let lead = format!("lead_{organization_id}_{n}");
        NewEvent {
            id: rapport_testkit::unique("ev"),
            organization_id: organization_id.into(),
            object_type: "lead",
            object_id: lead.clone(),
            lead_id: Some(lead),
            action: "created",
            changed_fields: json!([]),
            previous_data: Some(json!({})),
            data: Some(json!({ "name": format!("Lead {n}") })),
            user_id: None,
            request_id: None,
        }
    }

    /// The insert of the write path (`rapport-crm`'s `insert_stmt`), with the request id.
    fn stmt(&self) -> Stmt {
        Stmt::new(
            "INSERT INTO events (id, organization_id, object_type, object_id, lead_id, action, changed_fields, previous_data, data, user_id, request_id, date_created) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            vec![
                self.id.clone().into(),
                self.organization_id.clone().into(),
                self.object_type.into(),
                self.object_id.clone().into(),
                self.lead_id.clone().into(),
                self.action.into(),
                self.changed_fields.to_string().into(),
                self.previous_data.as_ref().map(Value::to_string).into(),
                self.data.as_ref().map(Value::to_string).into(),
                self.user_id.clone().into(),
                self.request_id.clone().into(),
                DATE.into(),
            ],
        )
    }
}

fn leads(organization_id: &str, numbers: std::ops::Range<usize>) -> Vec<NewEvent> {
    numbers.map(|n| NewEvent::lead(organization_id, n)).collect()
}

/// Commits `events` in one transaction as the write path does (`Dialect::append_events`:
/// in sequence order, and on PostgreSQL with a notification to every node's tails).
/// Returns their sequence numbers.
async fn write(db: &Db, events: &[NewEvent]) -> Vec<i64> {
    let mut batch = Vec::new();
    let inserts = db
        .dialect()
        .append_events(&mut batch, events.iter().map(NewEvent::stmt));
    let out = db.batch(batch).await.unwrap();
    out[inserts]
        .iter()
        .map(|o| o.rows[0].get::<i64>("seq").unwrap())
        .collect()
}

/// Commits `events` with no notification at all: only this process's `wake_tails` or an
/// idle recheck makes a tail read them.
async fn write_quietly(db: &Db, events: &[NewEvent]) -> Vec<i64> {
    let out = db.batch(events.iter().map(NewEvent::stmt).collect()).await.unwrap();
    out.iter().map(|o| o.rows[0].get::<i64>("seq").unwrap()).collect()
}

/// Waits until `done` holds; fails the test after [`PATIENCE`].
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The batches a consumer was handed, as sequence numbers, in the order it got them.
#[derive(Clone, Default)]
struct Batches(Arc<Mutex<Vec<Vec<i64>>>>);

impl Batches {
    fn record(&self, events: &[Event]) -> Vec<i64> {
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        self.0.lock().unwrap().push(seqs.clone());
        seqs
    }

    fn all(&self) -> Vec<Vec<i64>> {
        self.0.lock().unwrap().clone()
    }

    fn seqs(&self) -> Vec<i64> {
        self.all().concat()
    }

    async fn wait_for(&self, what: &str, seqs: usize) {
        eventually(what, || self.seqs().len() >= seqs).await;
    }
}

/// A running tail and the way to stop it.
struct Running {
    stop: oneshot::Sender<()>,
    run: JoinHandle<()>,
}

fn spawn(tail: Tail, consumer: impl Consumer + 'static) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(tail.run(consumer, async move {
        let _ = stopped.await;
    }));
    Running { stop, run }
}

impl Running {
    /// Resolves the shutdown future; `run` must return.
    async fn stop(self) {
        let _ = self.stop.send(());
        finished(self.run).await;
    }
}

async fn finished(run: JoinHandle<()>) {
    tokio::time::timeout(PATIENCE, run)
        .await
        .expect("Tail::run returns once its shutdown resolves")
        .expect("Tail::run does not panic");
}

/// Applies everything, starting after a fixed sequence number.
struct Recorder {
    start: i64,
    starts: Arc<Mutex<usize>>,
    batches: Batches,
}

impl Recorder {
    fn after(start: i64) -> (Recorder, Batches) {
        let batches = Batches::default();
        let recorder = Recorder {
            start,
            starts: Arc::default(),
            batches: batches.clone(),
        };
        (recorder, batches)
    }
}

impl Consumer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        *self.starts.lock().unwrap() += 1;
        Ok(self.start)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        self.batches.record(&events);
        Ok(Applied::All)
    }
}

/// Checks that `batches` hold `expected` in order, once each, in batches of `1..=size`.
fn assert_batched(batches: &[Vec<i64>], expected: &[i64], size: usize) {
    assert_eq!(batches.concat(), expected, "every event once, in sequence order");
    for batch in batches {
        assert!(
            (1..=size).contains(&batch.len()),
            "a batch of {} events (at most {size}): {batches:?}",
            batch.len()
        );
    }
}

// 1. Every event after the cursor, in order, exactly once.

async fn every_event_after_the_cursor_arrives_once_in_order(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let before = write(&db, &leads("orga_a", 0..5)).await;
    let backlog = write(&db, &leads("orga_a", 5..23)).await;
    let (consumer, batches) = Recorder::after(*before.last().unwrap());
    let starts = consumer.starts.clone();
    // No idle recheck: after the backlog, only `wake_tails` can move this tail (and, on
    // PostgreSQL, the one wake-up its LISTEN connection gives when it connects).
    let running = spawn(Tail::new(log.clone()).batch(4).idle_recheck(NEVER, NEVER), consumer);
    batches.wait_for("the backlog", backlog.len()).await;

    let live = write_quietly(&db, &leads("orga_a", 23..30)).await;
    if test_db.backend == Backend::Sqlite {
        // Nothing else wakes a SQLite tail: without the wake-up the events wait.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(batches.seqs(), backlog, "read without being woken");
    }
    log.wake_tails();
    batches
        .wait_for("the events woken by wake_tails", backlog.len() + live.len())
        .await;

    // One commit at a time, each followed by its wake-up, as the write path does.
    let mut one_by_one = Vec::new();
    for n in 30..36 {
        one_by_one.extend(write_quietly(&db, &leads("orga_a", n..n + 1)).await);
        log.wake_tails();
    }
    let expected = [backlog, live, one_by_one].concat();
    batches.wait_for("events written one by one", expected.len()).await;
    running.stop().await;

    let batches = batches.all();
    assert_batched(&batches, &expected, 4);
    assert!(batches.len() >= expected.len().div_ceil(4), "{batches:?}");
    assert_eq!(*starts.lock().unwrap(), 1, "a cursor of its own is asked once");
}

async fn an_idle_tail_nobody_wakes_rechecks_the_log(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    // The recheck that applies: alone on SQLite (the CLI writing the same file does not
    // wake the server); on PostgreSQL the safety net behind other nodes' notifications,
    // for a commit whose notification was lost. The other one never comes.
    let recheck = match test_db.backend {
        Backend::Sqlite => (SOON, NEVER),
        _ => (NEVER, SOON),
    };
    let (consumer, batches) = Recorder::after(log.last_seq().await.unwrap());
    let running = spawn(Tail::new(log.clone()).idle_recheck(recheck.0, recheck.1), consumer);
    let mut expected = Vec::new();
    for round in 0..3 {
        tokio::time::sleep(SOON * 2).await;
        expected.extend(write_quietly(&db, &leads("orga_a", round * 2..round * 2 + 2)).await);
        batches
            .wait_for("events found by the idle recheck", expected.len())
            .await;
    }
    running.stop().await;
    assert_batched(&batches.all(), &expected, 500);
}

async fn a_commit_of_another_node_reaches_the_tail(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    // Another node (PostgreSQL), or another process on the same file (SQLite): its own
    // handle on the database, whose commits never call this process's `wake_tails`.
    let other_node = test_db.open().await;
    let recheck = match test_db.backend {
        // Nothing but the idle recheck tells a SQLite tail.
        Backend::Sqlite => (SOON, NEVER),
        // LISTEN/NOTIFY alone: no recheck comes.
        _ => (NEVER, NEVER),
    };
    let (consumer, batches) = Recorder::after(log.last_seq().await.unwrap());
    let running = spawn(
        Tail::new(log.clone()).batch(3).idle_recheck(recheck.0, recheck.1),
        consumer,
    );
    let mut expected = Vec::new();
    for round in 0..3 {
        expected.extend(write(&other_node, &leads("orga_b", round * 4..round * 4 + 4)).await);
        batches.wait_for("another node's events", expected.len()).await;
    }
    running.stop().await;
    assert_batched(&batches.all(), &expected, 3);
}

// 2. Event fields decode.

async fn event_fields_decode_from_their_columns(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let created = NewEvent {
        user_id: Some("user_1".into()),
        request_id: Some("req_1".into()),
        data: Some(json!({ "name": "Acme", "status_id": "stat_1", "nested": { "n": 1 } })),
        ..NewEvent::lead("orga_a", 1)
    };
    let updated = NewEvent {
        id: rapport_testkit::unique("ev"),
        organization_id: "orga_a".into(),
        object_type: "contact",
        object_id: "cont_1".into(),
        lead_id: created.lead_id.clone(),
        action: "updated",
        changed_fields: json!(["name", "emails"]),
        previous_data: Some(json!({ "name": "Old", "emails": [] })),
        data: Some(json!({ "name": "New", "emails": [{ "email": "a@example.com", "type": "office" }] })),
        user_id: Some("user_1".into()),
        request_id: None,
    };
    let deleted = NewEvent {
        id: rapport_testkit::unique("ev"),
        object_type: "task",
        object_id: "task_1".into(),
        action: "deleted",
        data: Some(json!({ "text": "Call back" })),
        ..NewEvent::lead("orga_a", 1)
    };
    // An organization-wide object (no lead), with an action a newer node wrote, and no
    // previous data or data at all.
    let unknown = NewEvent {
        id: rapport_testkit::unique("ev"),
        organization_id: "orga_a".into(),
        object_type: "custom_field",
        object_id: "cf_1".into(),
        lead_id: None,
        action: "merged",
        changed_fields: json!(["name"]),
        previous_data: None,
        data: None,
        user_id: None,
        request_id: None,
    };
    let written = [created, updated, deleted, unknown];
    let seqs = write(&db, &written).await;

    let read = log.read_after(None, 0, 100).await.unwrap();
    let object = |v: &Option<Value>| match v {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let expected: Vec<Event> = written
        .iter()
        .zip(&seqs)
        .map(|(w, &seq)| Event {
            seq,
            id: w.id.clone(),
            organization_id: w.organization_id.clone(),
            object_type: w.object_type.into(),
            object_id: w.object_id.clone(),
            lead_id: w.lead_id.clone(),
            action: Action::parse(w.action),
            changed_fields: serde_json::from_value(w.changed_fields.clone()).unwrap(),
            previous_data: object(&w.previous_data),
            data: object(&w.data),
            user_id: w.user_id.clone(),
            request_id: w.request_id.clone(),
            date_created: DATE.into(),
        })
        .collect();
    assert_eq!(read, expected);
    let actions: Vec<&Action> = read.iter().map(|e| &e.action).collect();
    assert_eq!(
        actions,
        [
            &Action::Created,
            &Action::Updated,
            &Action::Deleted,
            &Action::Other("merged".into())
        ]
    );
    assert_eq!(read[1].changed_fields, ["name", "emails"]);
    assert_eq!(read[1].previous_data["name"], "Old");
    assert_eq!(read[1].data["emails"][0]["email"], "a@example.com");
    assert_eq!(read[0].data["nested"], json!({ "n": 1 }));
    assert_eq!(read[0].lead_id.as_deref(), Some(read[0].object_id.as_str()));
    assert_eq!(read[3].lead_id, None);
    assert!(read[3].previous_data.is_empty() && read[3].data.is_empty());
    assert!(read[0].is("lead", Action::Created) && !read[0].is("lead", Action::Updated));
    assert!(read[3].is("custom_field", Action::Other("merged".into())));

    // The shape of Close's `GET /event/`.
    let json = read[1].to_json();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "action",
            "changed_fields",
            "data",
            "date_created",
            "date_updated",
            "id",
            "lead_id",
            "object_id",
            "object_type",
            "organization_id",
            "previous_data",
            "request_id",
            "seq",
            "user_id",
        ]
    );
    assert_eq!(json["id"], read[1].id.as_str());
    assert_eq!(json["seq"], seqs[1]);
    assert_eq!(json["action"], "updated");
    assert_eq!(json["object_type"], "contact");
    assert_eq!(json["lead_id"], read[0].object_id.as_str());
    assert_eq!(json["changed_fields"], json!(["name", "emails"]));
    assert_eq!(json["previous_data"], json!({ "name": "Old", "emails": [] }));
    assert_eq!(json["data"]["name"], "New");
    assert_eq!(json["user_id"], "user_1");
    assert_eq!(json["request_id"], Value::Null);
    assert_eq!(json["organization_id"], "orga_a");
    assert_eq!(json["date_created"], DATE);
    assert_eq!(json["date_updated"], DATE);
    let json = read[3].to_json();
    assert_eq!(json["lead_id"], Value::Null);
    assert_eq!(json["action"], "merged");
    assert_eq!(json["previous_data"], json!({}));
    assert_eq!(json["data"], json!({}));
}

// 3. A failing consumer.

/// Fails the start calls and apply calls it is told to (counted from 0), records every
/// batch it is handed (`attempts`) and the ones it applied (`applied`).
struct Flaky {
    start: i64,
    failing_starts: usize,
    starts: usize,
    failing_applies: Vec<usize>,
    applies: usize,
    attempts: Batches,
    applied: Batches,
}

impl Consumer for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        self.starts += 1;
        if self.starts <= self.failing_starts {
            return Err("the cursor's record is unreachable".into());
        }
        Ok(self.start)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        self.attempts.record(&events);
        let call = self.applies;
        self.applies += 1;
        if self.failing_applies.contains(&call) {
            return Err(format!("apply call {call} fails").into());
        }
        self.applied.record(&events);
        Ok(Applied::All)
    }
}

async fn a_failing_consumer_gets_the_same_events_again(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let seqs = write(&db, &leads("orga_a", 0..8)).await;
    let (attempts, applied) = (Batches::default(), Batches::default());
    let consumer = Flaky {
        start: 0,
        failing_starts: 1,
        starts: 0,
        // The first batch fails once, and the last one once.
        failing_applies: vec![0, 3],
        applies: 0,
        attempts: attempts.clone(),
        applied: applied.clone(),
    };
    let running = spawn(Tail::new(log.clone()).batch(3).idle_recheck(NEVER, NEVER), consumer);
    applied
        .wait_for("every event applied despite failures", seqs.len())
        .await;

    // The tail goes on after the failures.
    let later = write_quietly(&db, &leads("orga_a", 8..10)).await;
    log.wake_tails();
    applied
        .wait_for("events written after the failures", seqs.len() + later.len())
        .await;
    running.stop().await;

    let (a, b, c) = (&seqs[0..3], &seqs[3..6], &seqs[6..8]);
    assert_eq!(
        attempts.all(),
        [a, a, b, c, c, &later[..]],
        "a failed batch comes again, the same, before anything after it"
    );
    assert_eq!(
        applied.seqs(),
        [&seqs[..], &later[..]].concat(),
        "none skipped, none twice"
    );
}

// 4. A lost race on a shared cursor.

/// A consumer on a cursor other nodes move too (`position`, as the dispatcher's cursor
/// row): what it applies moves it; on its first batch another node moves it first.
struct Racer {
    position: Arc<Mutex<i64>>,
    starts: Arc<Mutex<Vec<i64>>>,
    /// Where the other node puts the cursor during the first batch.
    other_node_moves_to: Option<i64>,
    batches: Batches,
}

impl Consumer for Racer {
    fn name(&self) -> &'static str {
        "racer"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        let at = *self.position.lock().unwrap();
        self.starts.lock().unwrap().push(at);
        Ok(at)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        let seqs = self.batches.record(&events);
        let mut position = self.position.lock().unwrap();
        if let Some(to) = self.other_node_moves_to.take() {
            *position = to;
            return Ok(Applied::LostRace(Duration::from_millis(20)));
        }
        *position = *seqs.last().unwrap();
        Ok(Applied::All)
    }
}

async fn a_lost_race_reads_the_shared_cursor_again(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let e = write(&db, &leads("orga_a", 0..10)).await;
    let position = Arc::new(Mutex::new(0));
    let starts = Arc::new(Mutex::new(Vec::new()));
    let batches = Batches::default();
    let consumer = Racer {
        position: position.clone(),
        starts: starts.clone(),
        // While this node applies e[0..4], another applies up to e[5].
        other_node_moves_to: Some(e[5]),
        batches: batches.clone(),
    };
    let tail = Tail::new(log.clone())
        .batch(4)
        .idle_recheck(NEVER, NEVER)
        .shared_cursor();
    let running = spawn(tail, consumer);
    eventually("the rest of the log after the lost race", || {
        *position.lock().unwrap() == e[9]
    })
    .await;
    assert_eq!(
        batches.all(),
        [&e[0..4], &e[6..10]],
        "after the lost race it reads from where the other node left off"
    );

    // Another node moves the cursor back while this one is idle (a restore, say): the next
    // wake-up reads from there.
    *position.lock().unwrap() = e[7];
    log.wake_tails();
    batches.wait_for("the events after the moved cursor", 10).await;
    running.stop().await;

    assert_eq!(batches.all(), [&e[0..4], &e[6..10], &e[8..10]]);
    let starts = starts.lock().unwrap().clone();
    assert_eq!(&starts[..3], [0, e[5], e[9]], "asked before every batch: {starts:?}");
    assert!(starts.contains(&e[7]), "{starts:?}");
}

async fn a_cursor_of_its_own_is_asked_once(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let e = write(&db, &leads("orga_a", 0..10)).await;
    let position = Arc::new(Mutex::new(0));
    let starts = Arc::new(Mutex::new(Vec::new()));
    let batches = Batches::default();
    let consumer = Racer {
        position: position.clone(),
        starts: starts.clone(),
        other_node_moves_to: None,
        batches: batches.clone(),
    };
    let running = spawn(Tail::new(log.clone()).batch(4).idle_recheck(NEVER, NEVER), consumer);
    batches.wait_for("the log", e.len()).await;
    // Moved by someone else: a tail that keeps its own cursor does not look.
    *position.lock().unwrap() = e[2];
    let more = write_quietly(&db, &leads("orga_a", 10..12)).await;
    log.wake_tails();
    batches.wait_for("the next events", e.len() + more.len()).await;
    running.stop().await;

    assert_eq!(batches.seqs(), [e, more].concat());
    assert_eq!(*starts.lock().unwrap(), [0]);
}

// 5. Shutdown.

/// Resolves the tail's shutdown inside its first `apply`.
struct StopsInApply {
    stop: Option<oneshot::Sender<()>>,
    batches: Batches,
}

impl Consumer for StopsInApply {
    fn name(&self) -> &'static str {
        "stops in apply"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        Ok(0)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        self.batches.record(&events);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        Ok(Applied::All)
    }
}

async fn nothing_is_applied_after_shutdown(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let e = write(&db, &leads("orga_a", 0..5)).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let batches = Batches::default();
    let consumer = StopsInApply {
        stop: Some(stop),
        batches: batches.clone(),
    };
    // More events wait in the log than the first batch takes: the tail would read them next.
    let tail = Tail::new(log.clone()).batch(2).idle_recheck(SOON, SOON);
    let run = tokio::spawn(tail.run(consumer, async move {
        let _ = stopped.await;
    }));
    finished(run).await;
    write(&db, &leads("orga_a", 5..8)).await;
    log.wake_tails();
    tokio::time::sleep(SOON * 4).await;
    assert_eq!(batches.all(), [&e[0..2]], "apply is never called after the shutdown");
}

/// Never finishes a step it is told to hang in.
struct Hangs {
    in_start: bool,
    entered: Option<oneshot::Sender<()>>,
}

impl Consumer for Hangs {
    fn name(&self) -> &'static str {
        "hangs"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        if self.in_start {
            if let Some(entered) = self.entered.take() {
                let _ = entered.send(());
            }
            std::future::pending::<()>().await;
        }
        Ok(0)
    }

    async fn apply(&mut self, _: Vec<Event>) -> Result<Applied, ConsumerError> {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
        }
        std::future::pending().await
    }
}

/// Fails every batch: the tail is always pausing before a retry.
struct AlwaysFails(Option<oneshot::Sender<()>>);

impl Consumer for AlwaysFails {
    fn name(&self) -> &'static str {
        "always fails"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        Ok(0)
    }

    async fn apply(&mut self, _: Vec<Event>) -> Result<Applied, ConsumerError> {
        if let Some(entered) = self.0.take() {
            let _ = entered.send(());
        }
        Err("always".into())
    }
}

async fn shutdown_ends_the_run_wherever_the_tail_is(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    let entered = |r: oneshot::Receiver<()>| async move {
        tokio::time::timeout(PATIENCE, r)
            .await
            .expect("the consumer is reached")
            .unwrap();
    };

    // Idle, with no recheck to come.
    let (consumer, _) = Recorder::after(0);
    spawn(Tail::new(log.clone()).idle_recheck(NEVER, NEVER), consumer)
        .stop()
        .await;

    // In a start that never finishes.
    let (tx, rx) = oneshot::channel();
    let running = spawn(
        Tail::new(log.clone()),
        Hangs {
            in_start: true,
            entered: Some(tx),
        },
    );
    entered(rx).await;
    running.stop().await;

    write(&db, &leads("orga_a", 0..3)).await;

    // In an apply that never finishes (abandoned at its await point).
    let (tx, rx) = oneshot::channel();
    let running = spawn(
        Tail::new(log.clone()),
        Hangs {
            in_start: false,
            entered: Some(tx),
        },
    );
    entered(rx).await;
    running.stop().await;

    // In the pause before retrying a failed batch.
    let (tx, rx) = oneshot::channel();
    let running = spawn(Tail::new(log.clone()), AlwaysFails(Some(tx)));
    entered(rx).await;
    running.stop().await;

    // Already over before the run starts: nothing is asked or applied.
    let (consumer, batches) = Recorder::after(0);
    let starts = consumer.starts.clone();
    let run = tokio::spawn(Tail::new(log.clone()).run(consumer, async {}));
    finished(run).await;
    assert!(batches.all().is_empty());
    assert_eq!(*starts.lock().unwrap(), 0);
}

// 6. Reading the log.

async fn reads_of_one_organization_see_only_its_events(test_db: &TestDb) {
    let db = test_db.open().await;
    let log = EventLog::new(db.clone());
    assert_eq!(log.last_seq().await.unwrap(), 0, "an empty log");
    assert!(log.read_after(None, 0, 10).await.unwrap().is_empty());
    assert!(log.read_after(Some("orga_a"), 0, 10).await.unwrap().is_empty());

    let mut a = Vec::new();
    let mut b = Vec::new();
    for n in 0..3 {
        a.extend(write(&db, &leads("orga_a", n..n + 1)).await);
        b.extend(write(&db, &leads("orga_b", n..n + 1)).await);
    }
    let seqs = |events: Vec<Event>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
    let orgs = |events: &[Event]| events.iter().map(|e| e.organization_id.clone()).collect::<Vec<_>>();

    let of_a = log.read_after(Some("orga_a"), 0, 100).await.unwrap();
    assert_eq!(orgs(&of_a), ["orga_a"; 3]);
    assert_eq!(seqs(of_a), a);
    assert_eq!(seqs(log.read_after(Some("orga_b"), a[0], 100).await.unwrap()), b);
    assert_eq!(seqs(log.read_after(Some("orga_b"), b[1], 100).await.unwrap()), [b[2]]);
    assert_eq!(seqs(log.read_after(Some("orga_a"), 0, 2).await.unwrap()), [a[0], a[1]]);
    assert!(log.read_after(Some("orga_c"), 0, 100).await.unwrap().is_empty());
    assert_eq!(
        seqs(log.read_after(None, b[0], 100).await.unwrap()),
        [a[1], b[1], a[2], b[2]],
        "across organizations, in sequence order"
    );

    let found = log.by_seq("orga_a", a[1]).await.unwrap().expect("orga_a's event");
    assert_eq!((found.seq, found.organization_id.as_str()), (a[1], "orga_a"));
    assert_eq!(found.object_id, "lead_orga_a_1");
    assert_eq!(
        log.by_seq("orga_b", a[1]).await.unwrap(),
        None,
        "another organization's event"
    );
    assert_eq!(log.by_seq("orga_a", b[2] + 100).await.unwrap(), None);
    assert_eq!(log.last_seq().await.unwrap(), b[2]);
}

rapport_testkit::on_both_backends!(
    every_event_after_the_cursor_arrives_once_in_order,
    an_idle_tail_nobody_wakes_rechecks_the_log,
    a_commit_of_another_node_reaches_the_tail,
    event_fields_decode_from_their_columns,
    a_failing_consumer_gets_the_same_events_again,
    a_lost_race_reads_the_shared_cursor_again,
    a_cursor_of_its_own_is_asked_once,
    nothing_is_applied_after_shutdown,
    shutdown_ends_the_run_wherever_the_tail_is,
    reads_of_one_organization_see_only_its_events,
);
