//! What only the RabbitMQ transport does: its wire contract and topology, messages that
//! name no job, the broker's dead letters, and a clear error for a broker it cannot reach.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, fast_config, job, settled, TestQueue};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use rapport_queue::{run_worker, Job, JobState, Queue, QueueError, Registry, WorkerConfig, WorkerMetrics};
use rapport_testkit::{Backend, TestDb, Transport};
use serde_json::{json, Value};

/// PostgreSQL and RabbitMQ, or `None` (said loudly) when either is missing and not required.
async fn services(test: &str) -> Option<TestDb> {
    if !rapport_testkit::rabbitmq_available(test).await {
        return None;
    }
    TestDb::new(Backend::Postgres, test).await
}

async fn channel() -> (Connection, Channel) {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let connection = Connection::connect(&rapport_testkit::amqp_url(), properties)
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// Ready messages in a queue; `None` when it does not exist.
async fn depth(queue: &str) -> Option<u32> {
    let (connection, channel) = channel().await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let depth = channel
        .queue_declare(queue, passive, FieldTable::default())
        .await
        .ok()
        .map(|q| q.message_count());
    let _ = connection.close(200, "checked").await;
    depth
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_follow_the_wire_contract() {
    let Some(test_db) = services("messages_follow_the_wire_contract").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let prefix = queue.prefix.clone().unwrap();
    let task_queue = format!("{prefix}.jobs.t:wire");
    assert_eq!(depth(&task_queue).await, None, "task queues are declared lazily");
    assert_eq!(
        depth(&format!("{prefix}.dead")).await,
        Some(0),
        "the dead-letter queue is declared at once"
    );
    queue.declare_tasks(&["t:wire"]).await.unwrap();
    assert_eq!(depth(&task_queue).await, Some(0));

    queue
        .enqueue(&[job("t:wire", "orga_1", 7).event_seq(42)])
        .await
        .unwrap();
    let (records, _) = queue
        .ledger()
        .list(&rapport_queue::JobFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let record = records[0].clone();
    let (connection, channel) = channel().await;
    let mut message = None;
    eventually(10, "the relay to publish the job", async || {
        message = channel
            .basic_get(&task_queue, BasicGetOptions::default())
            .await
            .unwrap();
        message.is_some()
    })
    .await;
    let message = message.unwrap();
    let properties = &message.delivery.properties;
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    assert_eq!(
        properties.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(
        properties.message_id().as_ref().map(|s| s.as_str()),
        Some(record.id.as_str())
    );
    assert_eq!(properties.kind().as_ref().map(|s| s.as_str()), Some("t:wire"));
    let body: Value = serde_json::from_slice(&message.delivery.data).unwrap();
    assert_eq!(
        body,
        json!({
            "v": 1,
            "job_id": record.id,
            "task": "t:wire",
            "organization_id": "orga_1",
            "attempt": 1,
            "payload": {"n": 7},
            "enqueued_at_ms": record.created_at,
        })
    );
    message.delivery.acker.ack(BasicAckOptions::default()).await.unwrap();
    assert_eq!(
        queue.ledger().get(&record.id, None).await.unwrap().state,
        JobState::Queued,
        "a message is not a start"
    );
    let _ = connection.close(200, "done").await;

    queue.delete_topology().await.unwrap();
    assert_eq!(depth(&task_queue).await, None, "deleted");
    assert_eq!(depth(&format!("{prefix}.dead")).await, None, "deleted");
}

/// Messages that name no job (garbage, or a job the ledger does not have) are acked and
/// dropped: a worker that runs one job at a time still gets to the real ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_for_no_job_are_dropped_without_blocking_others() {
    let Some(test_db) = services("messages_for_no_job_are_dropped_without_blocking_others").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let prefix = queue.prefix.clone().unwrap();
    queue.declare_tasks(&["t:poison"]).await.unwrap();
    let (connection, channel) = channel().await;
    let bogus = [
        (b"not json at all".to_vec(), BasicProperties::default()),
        (
            serde_json::to_vec(&json!({"v": 1, "job_id": "job_nonexistent", "task": "t:poison"})).unwrap(),
            BasicProperties::default().with_message_id("job_nonexistent".into()),
        ),
    ];
    for (body, properties) in bogus {
        channel
            .basic_publish(
                &format!("{prefix}.jobs"),
                "t:poison",
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .unwrap();
    }
    let _ = connection.close(200, "published").await;
    eventually(10, "the bogus messages to be queued", async || {
        depth(&format!("{prefix}.jobs.t:poison")).await == Some(2)
    })
    .await;

    let mut registry = Registry::new();
    registry.register("t:poison", |_job: Job| async { Ok(()) });
    let config = WorkerConfig {
        concurrency: 1,
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
    let real: Vec<_> = (0..5).map(|n| job("t:poison", "orga_1", n)).collect();
    queue.enqueue(&real).await.unwrap();
    eventually(15, "the real jobs to run", async || settled(&queue).await).await;
    assert_eq!(common::all(&queue, JobState::Done).await.len(), 5);
    assert_eq!(
        depth(&format!("{prefix}.jobs.t:poison")).await,
        Some(0),
        "nothing left behind"
    );
    assert_eq!(
        depth(&format!("{prefix}.dead")).await,
        Some(0),
        "dropped, not dead-lettered"
    );
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

/// A message for a job that is not due yet (a relay whose clock runs ahead, a stale
/// duplicate of a retry) does not start it early; the job runs when due, not a minute
/// later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_early_message_does_not_run_a_job_before_its_time() {
    let Some(test_db) = services("an_early_message_does_not_run_a_job_before_its_time").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let prefix = queue.prefix.clone().unwrap();
    queue.declare_tasks(&["t:early"]).await.unwrap();
    let started = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let recorder = started.clone();
    registry.register("t:early", move |_job: Job| {
        let recorder = recorder.clone();
        async move {
            recorder.lock().unwrap().push(rapport_queue::now_ms());
            Ok(())
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(
        queue.queue.clone(),
        registry,
        fast_config(vec![]),
        WorkerMetrics::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let run_at = rapport_queue::now_ms() + 1_500;
    queue
        .enqueue(&[job("t:early", "orga_1", 1).run_at(run_at)])
        .await
        .unwrap();
    // As a relay whose clock is ahead would: marked published, and a message sent now.
    let marked = queue.ledger().take_for_publishing(run_at, 10, &[]).await.unwrap();
    assert_eq!(marked.len(), 1);
    let (connection, channel) = channel().await;
    let properties = BasicProperties::default().with_message_id(marked[0].id.clone().into());
    let body = serde_json::to_vec(&json!({"v": 1, "job_id": marked[0].id})).unwrap();
    channel
        .basic_publish(
            &format!("{prefix}.jobs"),
            "t:early",
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
        .unwrap();
    let _ = connection.close(200, "published").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(started.lock().unwrap().is_empty(), "not before its time");
    assert_eq!(queue.ledger().get(&marked[0].id, None).await.unwrap().attempts, 0);
    eventually(10, "the job to run", async || !started.lock().unwrap().is_empty()).await;
    let ran_at = started.lock().unwrap()[0];
    assert!(ran_at >= run_at, "ran {} ms early", run_at - ran_at);
    assert!(ran_at - run_at < 1_500, "ran {} ms late", ran_at - run_at);
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

/// The relay stops when asked to, and when the last clone of its queue is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_stops_with_its_queue() {
    let Some(test_db) = services("the_relay_stops_with_its_queue").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let prefix = queue.prefix.clone().unwrap();
    queue.declare_tasks(&["t:relay"]).await.unwrap();
    queue.shutdown().await;
    let unpublished = async || {
        queue
            .ledger()
            .take_for_publishing(rapport_queue::now_ms(), 10, &[])
            .await
            .unwrap()
            .len()
    };
    queue.enqueue(&[job("t:relay", "orga_1", 1)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(unpublished().await, 1, "a stopped relay publishes nothing");

    let other = Queue::rabbitmq(test_db.open().await, &rapport_testkit::amqp_url(), &prefix)
        .await
        .unwrap();
    let clone = other.clone();
    queue.enqueue(&[job("t:relay", "orga_1", 2)]).await.unwrap();
    eventually(10, "another queue's relay to publish", async || {
        depth(&format!("{prefix}.jobs.t:relay")).await == Some(1)
    })
    .await;
    drop(other);
    tokio::time::sleep(Duration::from_millis(300)).await;
    queue.enqueue(&[job("t:relay", "orga_1", 3)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        depth(&format!("{prefix}.jobs.t:relay")).await,
        Some(2),
        "a clone keeps the relay going"
    );
    drop(clone);
    tokio::time::sleep(Duration::from_millis(300)).await;
    queue.enqueue(&[job("t:relay", "orga_1", 4)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        unpublished().await,
        1,
        "the relay stopped with the last clone of its queue"
    );
}

/// A worker acks a delivery only once the ledger has the outcome: a worker killed while
/// running a job leaves its message to the broker, which delivers it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_is_acked_only_after_its_outcome() {
    let Some(test_db) = services("a_delivery_is_acked_only_after_its_outcome").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let task_queue = format!("{}.jobs.t:hold", queue.prefix.clone().unwrap());
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register("t:hold", move |_job: Job| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let config = WorkerConfig {
        lease: Duration::from_secs(60),
        ..fast_config(vec![])
    };
    let worker = tokio::spawn(run_worker(
        queue.queue.clone(),
        registry,
        config,
        WorkerMetrics::default(),
        std::future::pending(),
    ));
    queue.enqueue(&[job("t:hold", "orga_1", 1)]).await.unwrap();
    started.recv().await.unwrap();
    assert_eq!(depth(&task_queue).await, Some(0), "delivered");
    worker.abort();
    let _ = worker.await;
    eventually(10, "the unacked message to come back", async || {
        depth(&task_queue).await == Some(1)
    })
    .await;
}

/// A message that its consumers keep giving back (workers crashing while running it) is
/// dead-lettered by the broker, and the relay makes its job dead in the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_broker_dead_letters_a_message_nobody_answers() {
    let Some(test_db) = services("the_broker_dead_letters_a_message_nobody_answers").await else {
        return;
    };
    let queue = TestQueue::open(&test_db, Transport::RabbitMq).await;
    let prefix = queue.prefix.clone().unwrap();
    queue.declare_tasks(&["t:crashy"]).await.unwrap();
    queue.enqueue(&[job("t:crashy", "orga_1", 1)]).await.unwrap();
    let (connection, channel) = channel().await;
    let mut returned = 0;
    eventually(20, "the broker to give up on the message", async || {
        if let Some(message) = channel
            .basic_get(&format!("{prefix}.jobs.t:crashy"), BasicGetOptions::default())
            .await
            .unwrap()
        {
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            message.delivery.acker.nack(requeue).await.unwrap();
            returned += 1;
        }
        common::count(&queue, JobState::Dead).await == 1
    })
    .await;
    let _ = connection.close(200, "done").await;
    let dead = common::all(&queue, JobState::Dead).await;
    let error = dead[0].last_error.clone().unwrap();
    // The first delivery, then one more per return the limit allows.
    assert_eq!(
        returned,
        rapport_queue::rabbit::DELIVERY_LIMIT as usize + 1,
        "dead-lettered past the delivery limit"
    );
    assert!(error.starts_with("the broker dead-lettered it after"), "{error}");
    assert!(error.contains(&format!("after {returned} deliveries")), "{error}");
    assert_eq!(
        depth(&format!("{prefix}.dead")).await,
        Some(0),
        "the dead letter was answered"
    );
}

/// A broker that cannot be reached fails at once, naming the URL without its password.
#[tokio::test]
async fn an_unreachable_broker_is_a_clear_error() {
    let test_db = TestDb::new(Backend::Sqlite, "an_unreachable_broker_is_a_clear_error")
        .await
        .unwrap();
    let db = test_db.open().await;
    let started = std::time::Instant::now();
    let error = match Queue::rabbitmq(db.clone(), "amqp://rapport:s3cret@127.0.0.1:1/%2f", "rapport").await {
        Err(QueueError::Broker(message)) => message,
        Err(other) => panic!("not a broker error: {other}"),
        Ok(_) => panic!("connected to nothing"),
    };
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.contains("amqp://rapport@127.0.0.1:1/"), "{error}");
    assert!(!error.contains("s3cret"), "the password is not shown: {error}");
    let Err(QueueError::Broker(tls)) = Queue::rabbitmq(db.clone(), "amqps://u:p@127.0.0.1/%2f", "rapport").await else {
        panic!("amqps:// cannot work without TLS");
    };
    assert!(tls.contains("TLS") && !tls.contains(":p@"), "{tls}");
    assert!(matches!(
        Queue::rabbitmq(db, "amqp://127.0.0.1/%2f", "bad prefix!").await,
        Err(QueueError::Refused(_))
    ));
}
