//! The event log: one row per change, written in the same transaction as the change.

use rapport_core::{new_id, Kind};
use rapport_log::event::COLUMNS;
use rapport_log::{Event, EventLog};
use rapport_store::{SqlValue, Stmt};
use serde_json::{Map, Value};

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

impl Crm {
    /// `GET /event/{id}/`: one event of the actor's organization.
    pub async fn event(&self, actor: &Actor, id: &str) -> CrmResult<Value> {
        let (private, mut params) = self.hide_private_views(actor);
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id = ? AND organization_id = ? AND {private}");
        params.splice(0..0, [SqlValue::from(id), actor.organization_id.clone().into()]);
        let row = self.db.query_opt(&sql, &params).await?;
        match row {
            Some(row) => Ok(Event::from_row(&row)?.to_json()),
            None => Err(CrmError::NotFound),
        }
    }

    pub async fn list_events(&self, actor: &Actor, q: &EventQuery) -> CrmResult<EventPage> {
        let (private, hidden) = self.hide_private_views(actor);
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE organization_id = ? AND {private}");
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
        let events = rows
            .iter()
            .take(limit)
            .map(Event::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let cursor_next = match events.last() {
            Some(last) if has_more => Some(encode_cursor(last.seq)),
            _ => None,
        };
        let data = events.iter().map(Event::to_json).collect();
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

    /// One event of an organization by its sequence number, in the shape of `GET /event/`
    /// (what a webhook delivers).
    pub async fn event_by_seq(&self, organization_id: &str, seq: i64) -> CrmResult<Option<Value>> {
        Ok(self.log.by_seq(organization_id, seq).await?.map(|e| e.to_json()))
    }

    /// The newest event sequence number of the whole log (0 when empty).
    pub async fn last_event_seq(&self) -> CrmResult<i64> {
        Ok(self.log.last_seq().await?)
    }

    /// The log, for its consumers (search index, real time, job dispatcher).
    pub fn log(&self) -> &EventLog {
        &self.log
    }
}

fn encode_cursor(seq: i64) -> String {
    format!("ev{seq:x}")
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    i64::from_str_radix(cursor.strip_prefix("ev")?, 16).ok()
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
