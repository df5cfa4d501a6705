//! The search index on disk: it commits the log position it reflects, so a node that
//! stops resumes from there and catches up with what was written meanwhile.

use rapport_core::Kind;
use rapport_crm::{Actor, Crm, CrmConfig, NewOrganization, TimeZone};
use rapport_search::Search;
use rapport_testkit::{on_both_backends, unique, TestDb};
use serde_json::json;

async fn total(search: &Search, actor: &Actor, query: &str) -> i64 {
    let query = rapport_query::parse(query).unwrap();
    search
        .search_leads(actor, &query, TimeZone(0.0), 0, 10)
        .await
        .unwrap()
        .total_results
}

async fn the_index_resumes_from_its_cursor(test_db: &TestDb) {
    let db = test_db.open().await;
    let writer = Crm::new(db.clone(), CrmConfig::default());
    let new = NewOrganization {
        name: "Test".into(),
        admin_email: format!("{}@test.example", unique("admin")),
        admin_first_name: "T".into(),
        admin_last_name: String::new(),
        admin_password: None,
    };
    let actor = writer.create_organization(&new).await.unwrap();
    let dir = std::env::temp_dir().join(unique("rapport-index-test"));
    // A node: its own CRM on the same store, and its index in `dir`.
    let node = || Search::new(Crm::new(db.clone(), CrmConfig::default()), Some(dir.clone()));
    let mut ids = Vec::new();
    for name in ["Acme", "Acme Labs", "Globex"] {
        let written = writer
            .create(&actor, Kind::Lead, &json!({"name": name}), None)
            .await
            .unwrap();
        ids.push(written.object["id"].as_str().unwrap().to_string());
    }
    let search = node();
    assert_eq!(total(&search, &actor, "acme").await, 2);
    let cursor = search.index().unwrap().cursor().unwrap();
    assert_eq!(cursor, Some(writer.last_event_seq().await.unwrap()));
    search.stop();
    drop(search);

    // Written while the node is down.
    writer
        .create(&actor, Kind::Lead, &json!({"name": "Acme Ltd"}), None)
        .await
        .unwrap();
    writer.delete(&actor, Kind::Lead, &ids[2]).await.unwrap();

    // The tail's task lets go of the index once it has stopped.
    let search = loop {
        let search = node();
        if search.index().is_ok() {
            break search;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        search.index().unwrap().cursor().unwrap(),
        cursor,
        "the index reopens where it stopped, without a rebuild"
    );
    assert_eq!(total(&search, &actor, "acme").await, 3);
    assert_eq!(total(&search, &actor, "globex").await, 0);

    let report = search.rebuild().await.unwrap();
    assert_eq!(report.leads, 3);
    assert_eq!(total(&search, &actor, "").await, 3);
    search.stop();
    drop(search);
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_backends!(the_index_resumes_from_its_cursor);
