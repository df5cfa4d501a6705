//! Loads generated leads straight into a stopped server's SQLite store, in the shapes the
//! API stores (object rows with their JSON), for benchmarks at a million leads: through
//! the API that would take hours. No events are written, as for an import; the search
//! index is then built from the store by `rapport reindex`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde_json::{json, Map, Value};

use crate::dataset::{Plan, PlanSource};

/// What the rows refer to: the organization, its admin, status ids by label.
pub(crate) struct Owner {
    pub(crate) organization_id: String,
    pub(crate) user_id: String,
    pub(crate) lead_statuses: HashMap<String, String>,
    pub(crate) opportunity_statuses: HashMap<String, String>,
}

/// `2026-01-01T10:00:00Z` as the store writes times.
fn stored_time(t: &Value) -> Value {
    match t.as_str() {
        Some(t) => Value::String(format!("{}.000000+00:00", t.trim_end_matches('Z'))),
        None => Value::Null,
    }
}

/// `+1 415 555 0123` → `+14155550123`.
fn e164(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// Writes `leads` leads from the generator; returns the number of rows.
pub(crate) fn write(db: &Path, owner: &Owner, plans: &mut PlanSource, leads: usize) -> anyhow::Result<usize> {
    let mut conn = rusqlite::Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;")?;
    let now = chrono::Utc::now();
    let mut rows = 0;
    let mut i = 0;
    while i < leads {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO objects (id, organization_id, object_type, lead_id, unique_key, data, version, \
                 date_created, date_updated, created_by, updated_by) VALUES (?1, ?2, ?3, ?4, NULL, ?5, 1, ?6, ?6, ?7, ?7)",
            )?;
            for _ in 0..10_000.min(leads - i) {
                // Stamped a microsecond apart, as the peer's leads are.
                let stamp = (now + chrono::Duration::microseconds(i as i64))
                    .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                    .to_string();
                let lead_id = format!("lead_{i:022}");
                for (n, (object_type, data)) in objects(owner, &plans.next_plan()).into_iter().enumerate() {
                    let id = match n {
                        0 => lead_id.clone(),
                        n => format!("{}_{i:014}x{n:04}", object_type.split('.').next().unwrap_or("obj")),
                    };
                    insert.execute(rusqlite::params![
                        id,
                        owner.organization_id,
                        object_type,
                        lead_id,
                        data.to_string(),
                        stamp,
                        owner.user_id
                    ])?;
                    rows += 1;
                }
                i += 1;
            }
        }
        tx.commit()?;
    }
    Ok(rows)
}

/// The stored rows of one generated lead: the lead first, then its contacts and objects.
fn objects(owner: &Owner, (lead, children): &Plan) -> Vec<(&'static str, Value)> {
    let mut out = Vec::with_capacity(1 + children.len() + 5);
    let mut data = Map::new();
    let mut custom = Map::new();
    for (key, value) in lead.as_object().into_iter().flatten() {
        match key.as_str() {
            "contacts" => {}
            // A bare domain is kept as an `http://` URL.
            "url" => {
                data.insert(
                    "url".into(),
                    json!(format!("http://{}", value.as_str().unwrap_or_default())),
                );
            }
            "status" => {
                let label = value.as_str().unwrap_or_default();
                data.insert("status_id".into(), json!(owner.lead_statuses[label]));
            }
            key if key.starts_with("custom.") => {
                custom.insert(key["custom.".len()..].to_string(), value.clone());
            }
            _ => {
                data.insert(key.clone(), value.clone());
            }
        }
    }
    data.insert("custom".into(), Value::Object(custom));
    out.push(("lead", Value::Object(data)));
    for contact in lead["contacts"].as_array().into_iter().flatten() {
        let phones: Vec<Value> = contact["phones"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| json!({"phone": e164(p["phone"].as_str().unwrap_or_default()), "type": "office"}))
            .collect();
        let emails: Vec<Value> = contact["emails"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| json!({"email": e["email"], "type": "office"}))
            .collect();
        out.push((
            "contact",
            json!({"name": contact["name"], "title": contact["title"], "emails": emails, "phones": phones}),
        ));
    }
    let user = json!(owner.user_id);
    for (kind, body) in children {
        let mut body = body.clone();
        let object = body.as_object_mut().expect("generated bodies are objects");
        for key in ["activity_at", "starts_at"] {
            if let Some(t) = object.get(key).map(stored_time) {
                object.insert(key.into(), t);
            }
        }
        let object_type = match *kind {
            "opportunity" => {
                let label = object.remove("status").and_then(|s| s.as_str().map(str::to_string));
                object.insert(
                    "status_id".into(),
                    json!(owner.opportunity_statuses[label.as_deref().unwrap_or("Active")]),
                );
                object.insert("user_id".into(), user.clone());
                object.insert("value_period".into(), json!("one_time"));
                "opportunity"
            }
            "task" => {
                object.insert("assigned_to".into(), user.clone());
                "task.lead"
            }
            activity => {
                if activity == "email" {
                    if let Some(Value::Array(opens)) = object.get_mut("opens") {
                        for open in opens {
                            open["opened_at"] = stored_time(&open["opened_at"]);
                        }
                    }
                }
                if activity == "meeting" {
                    let starts = object["starts_at"].clone();
                    object.insert("activity_at".into(), starts);
                }
                object.insert("user_id".into(), user.clone());
                match activity {
                    "note" => "activity.note",
                    "call" => "activity.call",
                    "email" => "activity.email",
                    "sms" => "activity.sms",
                    _ => "activity.meeting",
                }
            }
        };
        out.push((object_type, body));
    }
    out
}
