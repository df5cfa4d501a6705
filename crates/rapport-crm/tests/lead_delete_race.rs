//! Races between writes that span objects. A lead deleted while children are being added
//! to it leaves no child behind; a status deleted while leads are being moved to it
//! leaves no lead with a status that does not exist.

use rapport_core::Kind;
use rapport_crm::{Crm, CrmConfig, CrmError, NewOrganization};
use rapport_store::{Db, DbConfig, DbError, Durability, RowExt};
use serde_json::json;

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{:x}", std::process::id(), nanos & 0xffff_ffff)
}

async fn no_orphans(url: &str) {
    let db = Db::open(&DbConfig {
        url: url.into(),
        sqlite_durability: Durability::Normal,
        max_connections: 32,
    })
    .await
    .unwrap();
    let crm = Crm::new(db.clone(), CrmConfig::default());
    let new = NewOrganization {
        name: "Race".into(),
        admin_email: format!("{}@race.example", unique("a")),
        admin_first_name: "R".into(),
        admin_last_name: String::new(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await.unwrap();
    for round in 0..8 {
        let lead = crm
            .create(&actor, Kind::Lead, &json!({"name": format!("Doomed {round}")}), None)
            .await
            .unwrap();
        let lead_id = lead.object["id"].as_str().unwrap().to_string();
        // Writers add children until the lead is gone; the delete starts among them.
        let mut creates = Vec::new();
        for i in 0..8 {
            let (crm, actor, lead_id) = (crm.clone(), actor.clone(), lead_id.clone());
            creates.push(tokio::spawn(async move {
                let (kind, body) = match i % 2 {
                    0 => (Kind::Task, json!({"lead_id": lead_id, "text": "t"})),
                    _ => (Kind::Note, json!({"lead_id": lead_id, "note": "n"})),
                };
                for _ in 0..15 {
                    match crm.create(&actor, kind, &body, None).await {
                        Ok(_) => continue,
                        Err(CrmError::Invalid(_)) => return,
                        // Outrun by other writes five times in a row: the caller retries.
                        Err(CrmError::Db(DbError::Conflict)) => continue,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let deleted = {
            let (crm, actor, lead_id) = (crm.clone(), actor.clone(), lead_id.clone());
            tokio::spawn(async move {
                loop {
                    match crm.delete(&actor, Kind::Lead, &lead_id).await {
                        Err(CrmError::Db(DbError::Conflict)) => continue,
                        other => return other,
                    }
                }
            })
        };
        for create in creates {
            create.await.unwrap();
        }
        deleted.await.unwrap().unwrap();
        let left = db
            .query(
                "SELECT id, object_type FROM objects WHERE lead_id = ?",
                &[lead_id.clone().into()],
            )
            .await
            .unwrap();
        assert!(
            left.is_empty(),
            "round {round}: objects of the deleted lead remain: {left:?}"
        );
    }
}

async fn no_lead_keeps_a_deleted_status(url: &str) {
    let db = Db::open(&DbConfig {
        url: url.into(),
        sqlite_durability: Durability::Normal,
        max_connections: 32,
    })
    .await
    .unwrap();
    let crm = Crm::new(db.clone(), CrmConfig::default());
    let new = NewOrganization {
        name: "Race".into(),
        admin_email: format!("{}@status.example", unique("a")),
        admin_first_name: "R".into(),
        admin_last_name: String::new(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await.unwrap();
    let mut leads = Vec::new();
    for i in 0..8 {
        let lead = crm
            .create(&actor, Kind::Lead, &json!({"name": format!("L{i}")}), None)
            .await
            .unwrap();
        leads.push(lead.object["id"].as_str().unwrap().to_string());
    }
    for round in 0..8 {
        let status = crm
            .create(
                &actor,
                Kind::LeadStatus,
                &json!({"label": format!("Brief {round}")}),
                None,
            )
            .await
            .unwrap();
        let status_id = status.object["id"].as_str().unwrap().to_string();
        let mut movers = Vec::new();
        for lead_id in leads.clone() {
            let (crm, actor, status_id) = (crm.clone(), actor.clone(), status_id.clone());
            movers.push(tokio::spawn(async move {
                for _ in 0..20 {
                    let _ = crm
                        .update(&actor, Kind::Lead, &lead_id, &json!({"status_id": status_id}))
                        .await;
                    let _ = crm
                        .update(&actor, Kind::Lead, &lead_id, &json!({"status": "Potential"}))
                        .await;
                }
            }));
        }
        // Deleted as soon as no lead has it, while leads keep moving onto it.
        loop {
            match crm.delete(&actor, Kind::LeadStatus, &status_id).await {
                Ok(_) => break,
                Err(_) => tokio::task::yield_now().await,
            }
        }
        for mover in movers {
            mover.await.unwrap();
        }
        // No lead may have been written with the status after its deletion committed.
        let deleted_at = db
            .query(
                "SELECT seq FROM events WHERE object_id = ? AND action = 'deleted'",
                &[status_id.clone().into()],
            )
            .await
            .unwrap()[0]
            .int(0);
        let pattern = format!("%\"status_id\":\"{status_id}\"%");
        let after = db
            .query(
                "SELECT object_id, seq FROM events WHERE object_type = 'lead' AND seq > ? AND data LIKE ?",
                &[deleted_at.into(), pattern.into()],
            )
            .await
            .unwrap();
        assert!(
            after.is_empty(),
            "round {round}: leads got the deleted status after its deletion: {after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_child_outlives_its_lead_on_sqlite() {
    let dir = std::env::temp_dir().join(unique("rapport-race"));
    std::fs::create_dir_all(&dir).unwrap();
    no_orphans(dir.join("rapport.db").to_str().unwrap()).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_lead_keeps_a_deleted_status_on_sqlite() {
    let dir = std::env::temp_dir().join(unique("rapport-status-race"));
    std::fs::create_dir_all(&dir).unwrap();
    no_lead_keeps_a_deleted_status(dir.join("rapport.db").to_str().unwrap()).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_lead_keeps_a_deleted_status_on_postgres() {
    let base =
        std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if tokio::net::TcpStream::connect(base.rsplit('@').next().unwrap_or("127.0.0.1:5432"))
        .await
        .is_err()
    {
        assert!(
            std::env::var("RAPPORT_REQUIRE_POSTGRES").map_or(true, |v| v != "1"),
            "PostgreSQL is required"
        );
        eprintln!("\n*** SKIPPED no_lead_keeps_a_deleted_status_on_postgres: no PostgreSQL at {base} ***\n");
        return;
    }
    let name = unique("rapport_status_race");
    no_lead_keeps_a_deleted_status(&format!("{base}/{name}")).await;
    let (client, connection) = tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_child_outlives_its_lead_on_postgres() {
    let base =
        std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if tokio::net::TcpStream::connect(base.rsplit('@').next().unwrap_or("127.0.0.1:5432"))
        .await
        .is_err()
    {
        assert!(
            std::env::var("RAPPORT_REQUIRE_POSTGRES").map_or(true, |v| v != "1"),
            "PostgreSQL is required"
        );
        eprintln!("\n*** SKIPPED no_child_outlives_its_lead_on_postgres: no PostgreSQL at {base} ***\n");
        return;
    }
    let name = unique("rapport_race");
    no_orphans(&format!("{base}/{name}")).await;
    let (client, connection) = tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}
