//! Stored documents rendered in Close's shapes.

use rapport_core::fields::{specs, Access, FieldType};
use rapport_core::Kind;
use serde_json::{json, Map, Value};

use crate::doc::Doc;
use crate::meta::OrgMeta;

/// Keys that are shown once, in the answer that made them (a create, a rotation), and
/// never in reads, events, webhooks or the idempotency store.
pub const SECRET_FIELDS: &[&str] = &["signature_key", "identity_secret"];

/// The answer that shows `doc`'s secrets, once.
pub fn with_secrets(doc: &Doc, mut rendered: Map<String, Value>) -> Map<String, Value> {
    for field in SECRET_FIELDS {
        if let Some(secret) = doc.data.get(*field) {
            rendered.insert((*field).into(), secret.clone());
        }
    }
    rendered
}

/// Renders `doc`; a lead takes its `contacts` (already in display order).
pub fn render(doc: &Doc, meta: &OrgMeta, contacts: &[Doc]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), doc.id.clone().into());
    for spec in specs(doc.kind) {
        if matches!(spec.access, Access::ReadOnly | Access::WriteOnly { .. }) || spec.name == "date_created" {
            continue;
        }
        let value = match doc.data.get(spec.name) {
            Some(v) => v.clone(),
            None if is_list(spec.ty) => Value::Array(vec![]),
            None if spec.ty == FieldType::Bool => Value::Bool(false),
            None => Value::Null,
        };
        out.insert(spec.name.into(), value);
    }
    if let Some(lead_id) = doc.lead_id.as_ref().filter(|_| doc.kind != Kind::Lead) {
        out.insert("lead_id".into(), lead_id.clone().into());
    }
    add_computed(doc, meta, contacts, &mut out);
    if let (Some(cf_kind), Some(values)) = (doc.kind.custom_field_kind(), doc.custom()) {
        // Values of a deleted field definition stay stored but are no longer shown.
        for field in meta.of_kind(cf_kind) {
            if let Some(v) = values.get(&field.id) {
                out.insert(format!("custom.{}", field.id), v.clone());
            }
        }
    }
    out.insert("organization_id".into(), doc.organization_id.clone().into());
    out.insert("date_created".into(), doc.date_created.clone().into());
    out.insert("date_updated".into(), doc.date_updated.clone().into());
    out.insert("created_by".into(), doc.created_by.clone().into());
    out.insert("updated_by".into(), doc.updated_by.clone().into());
    out
}

fn is_list(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Labels
            | FieldType::EmailAddresses
            | FieldType::Emails
            | FieldType::Phones
            | FieldType::Urls
            | FieldType::Addresses
            | FieldType::Opens
            | FieldType::EventFilters
    )
}

fn add_computed(doc: &Doc, meta: &OrgMeta, contacts: &[Doc], out: &mut Map<String, Value>) {
    let user_name = |field: &str| doc.str(field).and_then(|id| meta.user(id)).map(|u| u.name.clone());
    match doc.kind {
        Kind::Website | Kind::Conversation | Kind::Message => {
            // Written by the server, shown as stored.
            let shown =
                |s: &&rapport_core::fields::FieldSpec| s.access == Access::ReadOnly && !SECRET_FIELDS.contains(&s.name);
            for spec in specs(doc.kind).iter().filter(shown) {
                let value = doc.data.get(spec.name).cloned().unwrap_or(Value::Null);
                out.entry(spec.name).or_insert(value);
            }
            let name_of = |field: &str| user_name(field).map_or(Value::Null, Value::from);
            match doc.kind {
                Kind::Conversation => {
                    out.insert("assigned_to_name".into(), name_of("assigned_to"));
                    // On the lead's timeline: a chat, dated by its last message.
                    out.insert("_type".into(), "Chat".into());
                    out.insert(
                        "activity_at".into(),
                        doc.data.get("activity_at").cloned().unwrap_or(Value::Null),
                    );
                }
                Kind::Message => {
                    out.insert("user_name".into(), name_of("user_id"));
                }
                _ => {}
            }
        }
        Kind::WebhookSubscription => {
            out.insert("failing_since".into(), doc.data.get("failing_since").cloned().into());
            out.insert("paused_reason".into(), doc.data.get("paused_reason").cloned().into());
        }
        Kind::Lead => {
            let status = doc.str("status_id").and_then(|id| meta.find(Kind::LeadStatus, id));
            out.insert("status_label".into(), status.and_then(|s| s.str("label")).into());
            out.insert("display_name".into(), doc.str("name").unwrap_or("").into());
            let contacts = contacts.iter().map(|c| Value::Object(render(c, meta, &[]))).collect();
            out.insert("contacts".into(), Value::Array(contacts));
        }
        Kind::Contact => {
            let first_email = doc
                .data
                .get("emails")
                .and_then(|e| e.get(0))
                .and_then(|e| e.get("email"))
                .and_then(Value::as_str);
            let display = doc.str("name").filter(|n| !n.is_empty()).or(first_email).unwrap_or("");
            out.insert("display_name".into(), display.into());
        }
        Kind::OpportunityStatus => {
            out.insert("status_type".into(), doc.str("status_type").unwrap_or("active").into());
            out.insert("pipeline_id".into(), doc.str("pipeline_id").into());
        }
        Kind::Pipeline => {
            let statuses: Vec<Value> = meta
                .of_kind(Kind::OpportunityStatus)
                .filter(|s| s.str("pipeline_id") == Some(doc.id.as_str()))
                .map(|s| json!({"id": s.id, "label": s.str("label"), "status_type": s.str("status_type")}))
                .collect();
            out.insert("statuses".into(), Value::Array(statuses));
        }
        Kind::Opportunity => {
            let status = doc
                .str("status_id")
                .and_then(|id| meta.find(Kind::OpportunityStatus, id));
            out.insert("status_label".into(), status.and_then(|s| s.str("label")).into());
            out.insert("status_type".into(), status.and_then(|s| s.str("status_type")).into());
            out.insert("pipeline_id".into(), status.and_then(|s| s.str("pipeline_id")).into());
            out.insert("value_currency".into(), "USD".into());
            out.insert("user_name".into(), user_name("user_id").into());
        }
        Kind::SavedSearch => {
            out.insert("user_id".into(), doc.created_by.clone().into());
        }
        Kind::Task => {
            out.insert("_type".into(), "lead".into());
            out.insert("assigned_to_name".into(), user_name("assigned_to").into());
        }
        kind if kind.is_activity() => {
            out.insert("_type".into(), kind.activity_type().into());
            out.insert("user_name".into(), user_name("user_id").into());
            if kind == Kind::LeadStatusChange {
                for field in ["old_status_id", "old_status_label", "new_status_id", "new_status_label"] {
                    out.insert(field.into(), doc.data.get(field).cloned().unwrap_or(Value::Null));
                }
            }
        }
        _ => {}
    }
}

/// The fields whose values differ between two renderings of an object, in a stable order.
pub fn changed_fields(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v) && !matches!(k.as_str(), "date_updated" | "updated_by"))
        .map(|(k, _)| k.clone())
        .chain(before.keys().filter(|k| !after.contains_key(*k)).cloned())
        .collect();
    changed.sort();
    changed
}
