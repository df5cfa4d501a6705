//! Stored `Idempotency-Key` answers are forgotten once old enough, and not before.

mod common;

use common::TestDb;
use rapport_core::Kind;
use rapport_crm::Idempotency;
use serde_json::json;

async fn old_idempotency_keys_are_forgotten(test_db: &TestDb) {
    let (_, crm, actor) = common::crm_with_organization(test_db).await;
    let key = Idempotency {
        key: "k".into(),
        request_hash: "h".into(),
    };
    let first = crm
        .create(&actor, Kind::Lead, &json!({"name": "Once"}), Some(&key))
        .await
        .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(crm.purge_idempotency_keys(hour).await.unwrap(), 0, "a fresh key stays");
    let replay = crm
        .create(&actor, Kind::Lead, &json!({"name": "Once"}), Some(&key))
        .await
        .unwrap();
    assert_eq!(replay.object["id"], first.object["id"]);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(
        crm.purge_idempotency_keys(std::time::Duration::from_millis(10))
            .await
            .unwrap(),
        1
    );
    let after = crm
        .create(&actor, Kind::Lead, &json!({"name": "Once"}), Some(&key))
        .await
        .unwrap();
    assert_ne!(
        after.object["id"], first.object["id"],
        "a forgotten key makes a new object"
    );
}

common::on_both_backends!(old_idempotency_keys_are_forgotten);
