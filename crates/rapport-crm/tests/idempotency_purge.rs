//! Stored `Idempotency-Key` answers are forgotten once old enough, and not before.

use rapport_core::Kind;
use rapport_crm::{Crm, CrmConfig, Idempotency, NewOrganization};
use rapport_store::{Db, DbConfig, Durability};
use serde_json::json;

#[tokio::test]
async fn old_idempotency_keys_are_forgotten() {
    let dir = std::env::temp_dir().join(format!("rapport-idem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = dir.join("rapport.db").to_string_lossy().into_owned();
    let db = Db::open(&DbConfig {
        url,
        sqlite_durability: Durability::Normal,
        max_connections: 4,
    })
    .await
    .unwrap();
    let crm = Crm::new(db, CrmConfig::default());
    let new = NewOrganization {
        name: "Idem".into(),
        admin_email: "idem@example.com".into(),
        admin_first_name: "I".into(),
        admin_last_name: String::new(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await.unwrap();
    let key = Idempotency {
        key: "k".into(),
        request_hash: "h".into(),
    };
    let first = crm
        .create(&actor, Kind::Lead, &json!({"name": "Once"}), Some(&key))
        .await
        .unwrap();
    assert_eq!(
        crm.purge_idempotency_keys(std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "a fresh key stays"
    );
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
    std::fs::remove_dir_all(&dir).unwrap();
}
