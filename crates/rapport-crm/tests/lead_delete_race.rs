//! Races between writes that span objects. A lead deleted while children are being added
//! to it leaves no child behind; a status deleted while leads are being moved to it
//! leaves no lead with a status that does not exist.

mod common;

use common::TestDb;
use rapport_core::Kind;
use rapport_crm::CrmError;
use rapport_store::DbError;
use serde_json::json;

async fn no_child_outlives_its_lead(test_db: &TestDb) {
    let (db, crm, actor) = common::crm_with_organization(test_db).await;
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

async fn no_lead_keeps_a_deleted_status(test_db: &TestDb) {
    let (db, crm, actor) = common::crm_with_organization(test_db).await;
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
            .get::<i64>("seq")
            .unwrap();
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

common::on_both_backends!(no_child_outlives_its_lead, no_lead_keeps_a_deleted_status);
