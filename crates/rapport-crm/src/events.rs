//! The event log: one row per change, written in the same transaction as the change.

use rapport_core::{new_id, Kind};
use rapport_store::{Row, RowExt, SqlValue, Stmt};
use serde_json::{json, Map, Value};

use crate::{Actor, Crm, CrmError, CrmResult};

/// A change to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub object_type: &'static str,
    pub object_id: String,
    pub lead_id: Option<String>,
    pub action: &'static str,
    pub changed_fields: Vec<String>,
    pub previous_data: Map<String, Value>,
    pub data: Map<String, Value>,
}

impl NewEvent {
    pub fn created(kind: Kind, id: &str, lead_id: Option<&str>, data: Map<String, Value>) -> Self {
        NewEvent::new(kind.object_type(), id, lead_id, "created", vec![], Map::new(), data)
    }

    /// An update; `previous_data` keeps only the changed fields' former values.
    pub fn updated(
        kind: Kind,
        id: &str,
        lead_id: Option<&str>,
        changed: Vec<String>,
        before: &Map<String, Value>,
        after: Map<String, Value>,
    ) -> Self {
        let mut event = NewEvent::updated_object(kind.object_type(), id, changed, before, after);
        event.lead_id = lead_id.map(Into::into);
        event
    }

    /// An update of any object, including those outside the object table (an organization).
    pub fn updated_object(
        object_type: &'static str,
        id: &str,
        changed: Vec<String>,
        before: &Map<String, Value>,
        after: Map<String, Value>,
    ) -> Self {
        let previous = changed
            .iter()
            .filter_map(|k| before.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        NewEvent::new(object_type, id, None, "updated", changed, previous, after)
    }

    /// A deletion; `data` is the object as it was.
    pub fn deleted(kind: Kind, id: &str, lead_id: Option<&str>, last: Map<String, Value>) -> Self {
        NewEvent::new(kind.object_type(), id, lead_id, "deleted", vec![], Map::new(), last)
    }

    pub fn new(
        object_type: &'static str,
        object_id: &str,
        lead_id: Option<&str>,
        action: &'static str,
        changed_fields: Vec<String>,
        previous_data: Map<String, Value>,
        data: Map<String, Value>,
    ) -> Self {
        NewEvent {
            object_type,
            object_id: object_id.into(),
            lead_id: lead_id.map(Into::into),
            action,
            changed_fields,
            previous_data,
            data,
        }
    }

    /// The insert, returning the event's sequence number.
    pub fn insert_stmt(&self, organization_id: &str, user_id: Option<&str>, now: &str) -> Stmt {
        Stmt::new(
            "INSERT INTO events (id, organization_id, object_type, object_id, lead_id, action, changed_fields, previous_data, data, user_id, date_created) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            vec![
                new_id("ev").into(),
                organization_id.into(),
                self.object_type.into(),
                self.object_id.clone().into(),
                self.lead_id.clone().into(),
                self.action.into(),
                Value::from(self.changed_fields.clone()).to_string().into(),
                Value::Object(self.previous_data.clone()).to_string().into(),
                Value::Object(self.data.clone()).to_string().into(),
                user_id.map(str::to_string).into(),
                now.into(),
            ],
        )
    }
}

/// Filters and paging of `GET /event/`.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub action: Option<String>,
    pub lead_id: Option<String>,
    pub user_id: Option<String>,
    pub date_created_gt: Option<String>,
    pub date_created_lt: Option<String>,
    /// Opaque cursor from a previous page's `cursor_next`.
    pub cursor: Option<String>,
    pub limit: usize,
}

/// A page of events, newest first, as Close returns them.
#[derive(Debug)]
pub struct EventPage {
    pub data: Vec<Value>,
    pub cursor_next: Option<String>,
}

/// An event as the log's consumers read it, across organizations.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub seq: i64,
    pub organization_id: String,
    pub object_type: String,
    pub object_id: String,
    pub lead_id: Option<String>,
    pub action: String,
}

/// An event as real-time clients receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushEvent {
    pub seq: i64,
    pub organization_id: String,
    /// In the shape of `GET /event/`.
    pub event: Value,
}

/// An event with what the job dispatcher needs to choose its consumers.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchEvent {
    pub seq: i64,
    pub organization_id: String,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    pub changed_fields: Vec<String>,
    /// The object after the change (before it, for a deletion).
    pub data: Map<String, Value>,
}

const EVENT_COLUMNS: &str = "seq, id, object_type, object_id, lead_id, action, changed_fields, previous_data, data, user_id, request_id, date_created";

impl Crm {
    /// `GET /event/{id}/`: one event of the actor's organization.
    pub async fn event(&self, actor: &Actor, id: &str) -> CrmResult<Value> {
        let (private, mut params) = self.hide_private_views(actor);
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ? AND organization_id = ? AND {private}");
        params.splice(0..0, [SqlValue::from(id), actor.organization_id.clone().into()]);
        let row = self.db.query_opt(&sql, &params).await?;
        row.map(|r| render_event(&actor.organization_id, &r))
            .ok_or(CrmError::NotFound)
    }

    pub async fn list_events(&self, actor: &Actor, q: &EventQuery) -> CrmResult<EventPage> {
        let (private, hidden) = self.hide_private_views(actor);
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = ? AND {private}");
        let mut params: Vec<SqlValue> = vec![actor.organization_id.clone().into()];
        params.extend(hidden);
        let mut filter = |clause: &str, value: &Option<String>| {
            if let Some(v) = value {
                sql.push_str(clause);
                params.push(v.clone().into());
            }
        };
        filter(" AND object_type = ?", &q.object_type);
        filter(" AND object_id = ?", &q.object_id);
        filter(" AND action = ?", &q.action);
        filter(" AND lead_id = ?", &q.lead_id);
        filter(" AND user_id = ?", &q.user_id);
        filter(" AND date_created > ?", &q.date_created_gt);
        filter(" AND date_created < ?", &q.date_created_lt);
        if let Some(cursor) = &q.cursor {
            let before = decode_cursor(cursor).ok_or_else(|| {
                CrmError::Invalid(rapport_core::FieldErrors::field(
                    "_cursor",
                    "not a cursor this server returned",
                ))
            })?;
            sql.push_str(" AND seq < ?");
            params.push(SqlValue::Int(before));
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        let limit = q.limit.clamp(1, 200);
        params.push(SqlValue::Int(limit as i64 + 1));
        let rows = self.db.query(&sql, &params).await?;
        let has_more = rows.len() > limit;
        let data: Vec<Value> = rows
            .iter()
            .take(limit)
            .map(|r| render_event(&actor.organization_id, r))
            .collect();
        let cursor_next = if has_more {
            rows.get(limit - 1).map(|r| encode_cursor(r.int(0)))
        } else {
            None
        };
        Ok(EventPage { data, cursor_next })
    }

    /// A condition (and its parameters) that leaves out the events of other users' private
    /// Smart Views: they are as invisible in the log as the views themselves.
    fn hide_private_views(&self, actor: &Actor) -> (String, Vec<SqlValue>) {
        let dialect = self.db.dialect();
        let shared = dialect.json_field("is_shared", rapport_store::JsonType::Bool);
        let owner = dialect.json_field("user_id", rapport_store::JsonType::Text);
        let condition =
            format!("NOT (object_type = 'saved_search' AND COALESCE({shared}, ?) = ? AND COALESCE({owner}, '') <> ?)");
        (
            condition,
            vec![SqlValue::Int(0), SqlValue::Int(0), actor.user_id.clone().into()],
        )
    }

    /// The next events of the whole log after `after`, in sequence order: what a consumer
    /// (search index, dispatcher) tails from its durable cursor. Events commit in sequence
    /// order on both databases (see `Dialect::append_events`), so a consumer that moves
    /// its cursor to the last event it read never steps over one still in flight.
    pub async fn events_after(&self, after: i64, limit: usize) -> CrmResult<Vec<LoggedEvent>> {
        let rows = self
            .db
            .query(
                "SELECT seq, organization_id, object_type, object_id, lead_id, action FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                &[SqlValue::Int(after), SqlValue::Int(limit.clamp(1, 10_000) as i64)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LoggedEvent {
                seq: r.int(0),
                organization_id: r.text(1).into(),
                object_type: r.text(2).into(),
                object_id: r.text(3).into(),
                lead_id: r.opt_text(4).map(Into::into),
                action: r.text(5).into(),
            })
            .collect())
    }

    /// The next events after `after` with what the job dispatcher decides on: changed
    /// fields and the object as it now is.
    pub async fn events_to_dispatch(&self, after: i64, limit: usize) -> CrmResult<Vec<DispatchEvent>> {
        let rows = self
            .db
            .query(
                "SELECT seq, organization_id, object_type, object_id, action, changed_fields, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                &[SqlValue::Int(after), SqlValue::Int(limit.clamp(1, 10_000) as i64)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DispatchEvent {
                seq: r.int(0),
                organization_id: r.text(1).into(),
                object_type: r.text(2).into(),
                object_id: r.text(3).into(),
                action: r.text(4).into(),
                changed_fields: match parse_json(r.opt_text(5)) {
                    Value::Array(fields) => fields.into_iter().filter_map(|f| f.as_str().map(Into::into)).collect(),
                    _ => Vec::new(),
                },
                data: match parse_json(r.opt_text(6)) {
                    Value::Object(data) => data,
                    _ => Map::new(),
                },
            })
            .collect())
    }

    /// One event of an organization by its sequence number, in the shape of `GET /event/`
    /// (what a webhook delivers).
    pub async fn event_by_seq(&self, organization_id: &str, seq: i64) -> CrmResult<Option<Value>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq = ? AND organization_id = ?");
        let row = self
            .db
            .query_opt(&sql, &[SqlValue::Int(seq), organization_id.into()])
            .await?;
        Ok(row.map(|r| render_event(organization_id, &r)))
    }

    /// Events after `after` in sequence order, in the shape of `GET /event/`, for
    /// real-time push: the whole log's (a node's tail), or one organization's (a client
    /// catching up from its last sequence number).
    pub async fn push_events_after(
        &self,
        organization_id: Option<&str>,
        after: i64,
        limit: usize,
    ) -> CrmResult<Vec<PushEvent>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS}, organization_id FROM events WHERE seq > ?");
        let mut params = vec![SqlValue::Int(after)];
        if let Some(org) = organization_id {
            sql.push_str(" AND organization_id = ?");
            params.push(org.into());
        }
        sql.push_str(" ORDER BY seq LIMIT ?");
        params.push(SqlValue::Int(limit.clamp(1, 10_000) as i64));
        let rows = self.db.query(&sql, &params).await?;
        Ok(rows
            .iter()
            .map(|r| PushEvent {
                seq: r.int(0),
                organization_id: r.text(12).into(),
                event: render_event(r.text(12), r),
            })
            .collect())
    }

    /// The newest event sequence number of the whole log (0 when empty).
    pub async fn last_event_seq(&self) -> CrmResult<i64> {
        let row = self.db.query_opt("SELECT MAX(seq) FROM events", &[]).await?;
        Ok(row.map(|r| r.int(0)).unwrap_or(0))
    }
}

fn encode_cursor(seq: i64) -> String {
    format!("ev{seq:x}")
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    i64::from_str_radix(cursor.strip_prefix("ev")?, 16).ok()
}

fn parse_json(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

fn render_event(organization_id: &str, r: &Row) -> Value {
    json!({
        "id": r.text(1),
        "seq": r.int(0),
        "object_type": r.text(2),
        "object_id": r.text(3),
        "lead_id": r.opt_text(4),
        "action": r.text(5),
        "changed_fields": parse_json(r.opt_text(6)),
        "previous_data": parse_json(r.opt_text(7)),
        "data": parse_json(r.opt_text(8)),
        "user_id": r.opt_text(9),
        "request_id": r.opt_text(10),
        "organization_id": organization_id,
        "date_created": r.text(11),
        "date_updated": r.text(11),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(12345)), Some(12345));
        assert_eq!(decode_cursor("12345"), None);
        assert_eq!(decode_cursor("evzz"), None);
    }
}
