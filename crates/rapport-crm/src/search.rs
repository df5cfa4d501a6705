//! Lead search with the query language: the organization's schema as a search context,
//! stored leads as the evaluator's `Lead`s, and Smart View rules.
//!
//! Leads are found by this node's search index (`rapport-index`, fed by `indexer.rs`),
//! which returns what the reference evaluator would, in its order; a search first waits
//! for the index to catch up with the log, so it sees every committed write.

use chrono::{DateTime, NaiveDate, Utc};
use rapport_core::{time, FieldErrors, Kind};
use rapport_query::{
    Activity, ActivityKind, Address, Contact, CustomField, CustomFieldObject, CustomFieldType, CustomValue,
    CustomValues, Due, Lead, Opportunity, OpportunityStatus, Query, ResolvedQuery, SavedView, SearchContext,
    StatusType, Task, User,
};
use serde_json::Value;

use crate::doc::{Doc, COLUMNS};
use crate::meta::OrgMeta;
use crate::{Actor, Crm, CrmError, CrmResult};

/// The caller's time zone, from `X-TZ-Offset` (hours east of UTC).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeZone(pub f64);

impl Crm {
    /// The schema a query is checked against, as the actor sees it.
    pub async fn search_context(&self, actor: &Actor, tz: TimeZone) -> CrmResult<SearchContext> {
        let meta = self.meta(actor).await?;
        let views = self.visible_views(actor).await?;
        Ok(context_of(&meta, views, actor, tz))
    }

    /// Checks a query against the organization and resolves its dates.
    pub async fn resolve_query(&self, actor: &Actor, query: &Query, tz: TimeZone) -> CrmResult<ResolvedQuery> {
        let ctx = self.search_context(actor, tz).await?;
        resolve_off_runtime(query.clone(), ctx).await?.map_err(CrmError::Query)
    }

    /// Smart Views the actor may see: their own and the shared ones.
    pub(crate) async fn visible_views(&self, actor: &Actor) -> CrmResult<Vec<Doc>> {
        let sql = format!("SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND object_type = 'saved_search' ORDER BY date_created, id");
        let views = self
            .query_docs(&actor.organization_id, &sql, &[actor.organization_id.clone().into()])
            .await?;
        Ok(views.into_iter().filter(|v| view_visible(v, actor)).collect())
    }

    /// Checks a Smart View's query before it is stored: it must parse and resolve, and
    /// saving it must not make `in:` references go round in a circle.
    pub(crate) async fn check_view_query(&self, actor: &Actor, view: &Doc) -> Result<(), FieldErrors> {
        let Some(text) = view.str("query") else { return Ok(()) };
        let query = rapport_query::parse(text).map_err(|e| query_field_error(&e))?;
        let mut ctx = self
            .search_context(actor, TimeZone(0.0))
            .await
            .map_err(|e| FieldErrors::general(e.to_string()))?;
        // The context as it will be once this view is saved, so a new cycle is caught.
        ctx.saved_views.retain(|v| v.id != view.id);
        ctx.saved_views.push(SavedView {
            id: view.id.clone(),
            name: view.str("name").unwrap_or("").into(),
            query: text.into(),
        });
        resolve_off_runtime(query, ctx)
            .await
            .map_err(|e| FieldErrors::general(e.to_string()))?
            .map(|_| ())
            .map_err(|e| query_field_error(&e))
    }
}

/// Resolves a query on a blocking thread, as the index search runs: the query is bounded
/// (`rapport_query`'s limits), but the Smart Views it includes are parsed and expanded
/// here, up to 64 of them, which is not work for the async worker threads.
async fn resolve_off_runtime(query: Query, ctx: SearchContext) -> CrmResult<rapport_query::QueryResult<ResolvedQuery>> {
    tokio::task::spawn_blocking(move || rapport_query::resolve(&query, &ctx))
        .await
        .map_err(|e| CrmError::Unavailable(format!("the search stopped: {e}")))
}

impl Crm {
    /// A Smart View that other views include with `in:` cannot be deleted.
    pub(crate) async fn refuse_if_view_used(&self, actor: &Actor, view: &Doc) -> CrmResult<()> {
        let sql = format!("SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND object_type = 'saved_search'");
        let views = self
            .query_docs(&actor.organization_id, &sql, &[actor.organization_id.clone().into()])
            .await?;
        let name = rapport_query::fold(view.str("name").unwrap_or(""));
        let mut users = Vec::new();
        for other in views {
            if other.id == view.id {
                continue;
            }
            let Ok(query) = rapport_query::parse(other.str("query").unwrap_or("")) else {
                continue;
            };
            if query
                .saved_search_refs()
                .iter()
                .any(|r| *r == view.id || rapport_query::fold(r) == name)
            {
                // Another user's private view is counted, never named.
                users.push(match view_visible(&other, actor) {
                    true => format!("`{}` ({})", other.str("name").unwrap_or(""), other.id),
                    false => "a private Smart View of another user".to_string(),
                });
            }
        }
        if users.is_empty() {
            return Ok(());
        }
        Err(CrmError::Refused(format!(
            "this Smart View is used by {} with `in:`; change them first",
            users.join(", ")
        )))
    }
}

fn query_field_error(e: &rapport_query::QueryError) -> FieldErrors {
    let (start, end) = e.span;
    let hint = format!(" ({})", e.hint);
    FieldErrors::field("query", format!("{} at {start}..{end}{hint}", e.message))
}

pub(crate) fn view_visible(view: &Doc, actor: &Actor) -> bool {
    let shared = view.data.get("is_shared").and_then(Value::as_bool) == Some(true);
    actor.sees_view(view.created_by.as_deref(), shared)
}

impl Actor {
    /// Smart Views are seen by their owner, and by everyone once shared: the rule in Rust
    /// (`events.rs` and `list.rs` write it in SQL, over the same two fields).
    pub fn sees_view(&self, owner: Option<&str>, shared: bool) -> bool {
        shared || owner == Some(self.user_id.as_str())
    }

    /// Whether a logged event is the caller's to see: everything of the organization but
    /// the events of other users' private Smart Views.
    pub fn sees_event(&self, event: &Value) -> bool {
        if event["object_type"] != "saved_search" {
            return true;
        }
        let data = &event["data"];
        self.sees_view(data["user_id"].as_str(), data["is_shared"] == true)
    }
}

fn context_of(meta: &OrgMeta, views: Vec<Doc>, actor: &Actor, tz: TimeZone) -> SearchContext {
    let mut custom_fields = Vec::new();
    for (kind, object) in [
        (Kind::LeadCustomField, CustomFieldObject::Lead),
        (Kind::ContactCustomField, CustomFieldObject::Contact),
        (Kind::OpportunityCustomField, CustomFieldObject::Opportunity),
    ] {
        for field in meta.of_kind(kind) {
            custom_fields.push(CustomField {
                id: field.id.clone(),
                name: field.str("name").unwrap_or("").into(),
                value_type: custom_type(field.str("type")),
                choices: strings(field.data.get("choices")),
                accepts_multiple_values: field
                    .data
                    .get("accepts_multiple_values")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                object,
            });
        }
    }
    SearchContext {
        custom_fields,
        lead_statuses: meta
            .of_kind(Kind::LeadStatus)
            .filter_map(|s| s.str("label"))
            .map(str::to_string)
            .collect(),
        opportunity_statuses: meta
            .of_kind(Kind::OpportunityStatus)
            .map(|s| OpportunityStatus {
                label: s.str("label").unwrap_or("").into(),
                status_type: status_type(s.str("status_type")),
            })
            .collect(),
        users: meta
            .users
            .iter()
            .map(|u| User {
                id: u.id.clone(),
                full_name: u.name.clone(),
                email: u.email.clone(),
            })
            .collect(),
        saved_views: views
            .iter()
            .map(|v| SavedView {
                id: v.id.clone(),
                name: v.str("name").unwrap_or("").into(),
                query: v.str("query").unwrap_or("").into(),
            })
            .collect(),
        current_user_id: Some(actor.user_id.clone()),
        now: time::now(),
        tz_offset_hours: tz.0,
    }
}

fn custom_type(ty: Option<&str>) -> CustomFieldType {
    match ty {
        Some("number") => CustomFieldType::Number,
        Some("date") => CustomFieldType::Date,
        Some("datetime") => CustomFieldType::Datetime,
        Some("choices") => CustomFieldType::Choices,
        Some("user") => CustomFieldType::User,
        _ => CustomFieldType::Text,
    }
}

fn status_type(ty: Option<&str>) -> StatusType {
    match ty {
        Some("won") => StatusType::Won,
        Some("lost") => StatusType::Lost,
        _ => StatusType::Active,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn text(doc: &Doc, field: &str) -> Option<String> {
    doc.str(field).filter(|s| !s.is_empty()).map(str::to_string)
}

fn datetime(value: Option<&str>) -> Option<DateTime<Utc>> {
    value.and_then(time::parse_datetime)
}

fn date(value: Option<&str>) -> Option<NaiveDate> {
    value.and_then(time::parse_date)
}

/// Custom values in the evaluator's types, by each field's type.
fn custom_values(doc: &Doc, meta: &OrgMeta) -> CustomValues {
    let mut out = CustomValues::new();
    let (Some(cf_kind), Some(values)) = (doc.kind.custom_field_kind(), doc.custom()) else {
        return out;
    };
    for field in meta.of_kind(cf_kind) {
        let Some(value) = values.get(&field.id) else { continue };
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let converted: Vec<CustomValue> = items
            .into_iter()
            .filter_map(|v| match custom_type(field.str("type")) {
                CustomFieldType::Number => v.as_f64().map(CustomValue::Number),
                CustomFieldType::Date => date(v.as_str()).map(CustomValue::Date),
                CustomFieldType::Datetime => datetime(v.as_str()).map(CustomValue::DateTime),
                _ => v.as_str().map(|s| CustomValue::Text(s.to_string())),
            })
            .collect();
        if !converted.is_empty() {
            out.insert(field.id.clone(), converted);
        }
    }
    out
}

/// A stored lead and its related objects as the evaluator's `Lead`.
pub(crate) fn lead_of(lead: &Doc, children: &[Doc], meta: &OrgMeta) -> Lead {
    let status_label = |kind: Kind, id: Option<&str>| {
        id.and_then(|id| meta.find(kind, id))
            .and_then(|s| s.str("label"))
            .map(str::to_string)
    };
    let objects = |field: &str| {
        lead.data
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let part = |a: &Value, key: &str| {
        a.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut out = Lead {
        id: lead.id.clone(),
        name: text(lead, "name"),
        description: text(lead, "description"),
        url: text(lead, "url"),
        status: status_label(Kind::LeadStatus, lead.str("status_id")),
        created: datetime(Some(&lead.date_created)).unwrap_or_default(),
        updated: datetime(Some(&lead.date_updated)).unwrap_or_default(),
        created_by: lead.created_by.clone(),
        updated_by: lead.updated_by.clone(),
        addresses: objects("addresses")
            .iter()
            .map(|a| Address {
                address_1: part(a, "address_1"),
                address_2: part(a, "address_2"),
                city: part(a, "city"),
                state: part(a, "state"),
                zipcode: part(a, "zipcode"),
                country: part(a, "country"),
            })
            .collect(),
        custom: custom_values(lead, meta),
        ..Lead::default()
    };
    // A conversation is the lead's `chat`; its text is its messages'.
    let mut chat_text: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for message in children.iter().filter(|c| c.kind == Kind::Message) {
        if let (Some(conversation), Some(body)) = (message.str("conversation_id"), message.str("body")) {
            chat_text.entry(conversation).or_default().push(body);
        }
    }
    for child in children {
        let list = |field: &str, key: &str| -> Vec<String> {
            child
                .data
                .get(field)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| part(x, key)).collect())
                .unwrap_or_default()
        };
        let user = || text(child, "user_id");
        let at = || {
            datetime(child.str("activity_at"))
                .or_else(|| datetime(Some(&child.date_created)))
                .unwrap_or_default()
        };
        let activity = |kind: ActivityKind| Activity {
            activity_at: at(),
            user: user(),
            kind,
        };
        match child.kind {
            Kind::Contact => out.contacts.push(Contact {
                name: text(child, "name"),
                title: text(child, "title"),
                emails: list("emails", "email"),
                phones: list("phones", "phone"),
                custom: custom_values(child, meta),
            }),
            Kind::Note => out.activities.push(activity(ActivityKind::Note {
                body: text(child, "note"),
            })),
            Kind::Call => out.activities.push(activity(ActivityKind::Call {
                duration: child.data.get("duration").and_then(Value::as_i64),
                direction: text(child, "direction"),
                status: text(child, "status"),
                note: text(child, "note"),
            })),
            Kind::Email => out.activities.push(activity(ActivityKind::Email {
                subject: text(child, "subject"),
                body: text(child, "body_text"),
                direction: text(child, "direction"),
                status: text(child, "status"),
                opens: child
                    .data
                    .get("opens")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(|x| datetime(x.get("opened_at").and_then(Value::as_str)))
                            .collect()
                    })
                    .unwrap_or_default(),
            })),
            Kind::Sms => out.activities.push(activity(ActivityKind::Sms {
                body: text(child, "text"),
                direction: text(child, "direction"),
            })),
            Kind::Meeting => out.activities.push(activity(ActivityKind::Meeting {
                title: text(child, "title"),
            })),
            Kind::Conversation => out.activities.push(Activity {
                activity_at: datetime(child.str("last_message_at"))
                    .or_else(|| datetime(Some(&child.date_created)))
                    .unwrap_or_default(),
                user: text(child, "assigned_to"),
                kind: ActivityKind::Chat {
                    body: chat_text.get(child.id.as_str()).map(|bodies| bodies.join("\n")),
                    status: text(child, "status"),
                    assignee: text(child, "assigned_to"),
                },
            }),
            Kind::LeadStatusChange => out.activities.push(activity(ActivityKind::StatusChange {
                old_status: text(child, "old_status_label"),
                new_status: text(child, "new_status_label"),
            })),
            Kind::Opportunity => {
                let status = child
                    .str("status_id")
                    .and_then(|id| meta.find(Kind::OpportunityStatus, id));
                out.opportunities.push(Opportunity {
                    status_label: status.and_then(|s| s.str("label")).unwrap_or("").into(),
                    status_type: status_type(status.and_then(|s| s.str("status_type"))),
                    value_cents: child.data.get("value").and_then(Value::as_i64),
                    confidence: child.data.get("confidence").and_then(Value::as_i64),
                    close_date: date(child.str("close_date")),
                    user: user(),
                    note: text(child, "note"),
                    custom: custom_values(child, meta),
                })
            }
            Kind::Task => out.tasks.push(Task {
                text: child.str("text").unwrap_or("").into(),
                due: child.str("date").and_then(|d| match time::parse_date(d) {
                    Some(day) if d.len() == 10 => Some(Due::Day(day)),
                    _ => time::parse_datetime(d).map(Due::At),
                }),
                assignee: text(child, "assigned_to"),
                done: child.data.get("is_complete").and_then(Value::as_bool).unwrap_or(false),
            }),
            _ => {}
        }
    }
    out
}
