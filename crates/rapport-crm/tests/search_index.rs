//! The search index on disk: it commits the log position it reflects, so a node that
//! stops resumes from there and catches up with what was written meanwhile.

mod common;

use common::TestDb;
use rapport_core::Kind;
use rapport_crm::{Actor, Crm, CrmConfig, TimeZone};
use serde_json::json;

async fn total(crm: &Crm, actor: &Actor, query: &str) -> i64 {
    let query = rapport_query::parse(query).unwrap();
    crm.search_leads(actor, &query, TimeZone(0.0), 0, 10)
        .await
        .unwrap()
        .total_results
}

async fn the_index_resumes_from_its_cursor(test_db: &TestDb) {
    let (db, writer, actor) = common::crm_with_organization(test_db).await;
    let dir = std::env::temp_dir().join(common::unique("rapport-index-test"));
    let config = || CrmConfig {
        search_index_dir: Some(dir.clone()),
        ..CrmConfig::default()
    };
    let mut ids = Vec::new();
    for name in ["Acme", "Acme Labs", "Globex"] {
        let written = writer
            .create(&actor, Kind::Lead, &json!({"name": name}), None)
            .await
            .unwrap();
        ids.push(written.object["id"].as_str().unwrap().to_string());
    }
    let node = Crm::new(db.clone(), config());
    assert_eq!(total(&node, &actor, "acme").await, 2);
    let cursor = node.search_index().unwrap().cursor().unwrap();
    assert_eq!(cursor, Some(writer.last_event_seq().await.unwrap()));
    node.stop_search_index();
    drop(node);

    // Written while the node is down.
    writer
        .create(&actor, Kind::Lead, &json!({"name": "Acme Ltd"}), None)
        .await
        .unwrap();
    writer.delete(&actor, Kind::Lead, &ids[2]).await.unwrap();

    // The tailer's task lets go of the index once it has been cancelled.
    let node = loop {
        let node = Crm::new(db.clone(), config());
        if node.search_index().is_ok() {
            break node;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        node.search_index().unwrap().cursor().unwrap(),
        cursor,
        "the index reopens where it stopped, without a rebuild"
    );
    assert_eq!(total(&node, &actor, "acme").await, 3);
    assert_eq!(total(&node, &actor, "globex").await, 0);

    let report = node.rebuild_search_index().await.unwrap();
    assert_eq!(report.leads, 3);
    assert_eq!(total(&node, &actor, "").await, 3);
    node.stop_search_index();
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

common::on_both_backends!(the_index_resumes_from_its_cursor);
