//! A subscription whose deliveries keep failing pauses itself once the configured time has
//! passed since the first failure (3 days by default; no time here), and stops receiving.

use std::time::Duration;

use rapport_core::Kind;
use rapport_crm::{Crm, CrmConfig, NewOrganization};
use rapport_queue::{run_worker, JobFilter, JobState, Queue, WorkerConfig, WorkerMetrics};
use rapport_testkit::{on_both_backends, unique, TestDb};
use rapport_workers::{dispatch_batch, registry, Dispatched, WorkersConfig};
use serde_json::json;

async fn a_failing_subscription_pauses_itself(test_db: &TestDb) {
    let db = test_db.open().await;
    let crm = Crm::new(db.clone(), CrmConfig::default());
    let actor = crm
        .create_organization(&NewOrganization {
            name: "Pause".into(),
            admin_email: format!("{}@test.example", unique("admin")),
            admin_first_name: "P".into(),
            admin_last_name: String::new(),
            admin_password: None,
        })
        .await
        .unwrap();
    // Nothing listens on this port: every delivery fails (and is retried).
    let port = rapport_testkit::smtp::free_port();
    let subscription = crm
        .create(
            &actor,
            Kind::WebhookSubscription,
            &json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": [{"object_type": "lead", "action": "created"}]}),
            None,
        )
        .await
        .unwrap();
    let id = subscription.object["id"].as_str().unwrap().to_string();
    crm.create(&actor, Kind::Lead, &json!({"name": "First"}), None)
        .await
        .unwrap();
    let queue = Queue::embedded(db.clone());
    while dispatch_batch(&crm, &queue).await.unwrap() != Dispatched::Events(0) {}

    let config = WorkersConfig {
        allowed_addresses: vec!["127.0.0.1".into()],
        pause_failing_after: Duration::ZERO,
        ..WorkersConfig::default()
    };
    let workers = registry(crm.clone(), config).unwrap();
    let worker_config = WorkerConfig {
        backoff: rapport_queue::Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(50),
        },
        poll: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        workers,
        worker_config,
        WorkerMetrics::default(),
        async {
            let _ = stopped.await;
        },
    ));
    // The first failure starts the clock; the second finds it past the (zero) limit.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let paused = loop {
        let read = crm.get(&actor, Kind::WebhookSubscription, &id).await.unwrap();
        if read["status"] == "paused" {
            break read;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription never paused: {read:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(reason.contains("deliveries failed since"), "{reason}");
    assert!(
        reason.contains(&format!("127.0.0.1:{port}")),
        "the last error is named: {reason}"
    );

    // Paused: a new event is not delivered, and the pending retry ends without a delivery.
    crm.create(&actor, Kind::Lead, &json!({"name": "Second"}), None)
        .await
        .unwrap();
    while dispatch_batch(&crm, &queue).await.unwrap() != Dispatched::Events(0) {}
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (open, _) = queue
            .ledger()
            .list(&JobFilter {
                state: Some(JobState::Queued),
                limit: 10,
                ..JobFilter::default()
            })
            .await
            .unwrap();
        if open.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs still queued: {open:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (all, _) = queue
        .ledger()
        .list(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        1,
        "the paused subscription got no job for the second lead: {all:?}"
    );
    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
}

on_both_backends!(a_failing_subscription_pauses_itself);
