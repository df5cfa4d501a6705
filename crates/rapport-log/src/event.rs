//! One event of the log, and reading the log.

use std::sync::Arc;

use rapport_store::{Db, DbResult, Listener, Row, SqlValue};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

/// What happened to the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Deleted,
    /// An action this build does not know (written by a newer node): consumers skip it.
    Other(String),
}

impl Action {
    pub fn parse(text: &str) -> Action {
        match text {
            "created" => Action::Created,
            "updated" => Action::Updated,
            "deleted" => Action::Deleted,
            other => Action::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
            Action::Other(other) => other,
        }
    }
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The log's order: strictly increasing, committed in order on both databases.
    pub seq: i64,
    pub id: String,
    pub organization_id: String,
    pub object_type: String,
    pub object_id: String,
    pub lead_id: Option<String>,
    pub action: Action,
    pub changed_fields: Vec<String>,
    /// The changed fields' former values (updates).
    pub previous_data: Map<String, Value>,
    /// The object after the change (as it was, for a deletion).
    pub data: Map<String, Value>,
    pub user_id: Option<String>,
    pub request_id: Option<String>,
    pub date_created: String,
}

/// The columns [`Event::from_row`] reads.
pub const COLUMNS: &str = "seq, id, organization_id, object_type, object_id, lead_id, action, changed_fields, previous_data, data, user_id, request_id, date_created";

impl Event {
    pub fn from_row(row: &Row) -> DbResult<Event> {
        Ok(Event {
            seq: row.get("seq")?,
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            object_type: row.get("object_type")?,
            object_id: row.get("object_id")?,
            lead_id: row.get("lead_id")?,
            action: Action::parse(row.get("action")?),
            changed_fields: match json_column(row, "changed_fields")? {
                Value::Array(fields) => fields.into_iter().filter_map(|f| f.as_str().map(Into::into)).collect(),
                _ => Vec::new(),
            },
            previous_data: object_column(row, "previous_data")?,
            data: object_column(row, "data")?,
            user_id: row.get("user_id")?,
            request_id: row.get("request_id")?,
            date_created: row.get("date_created")?,
        })
    }

    /// The event in the shape of Close's `GET /event/` (what the API, webhooks and
    /// real-time clients receive).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "seq": self.seq,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "lead_id": self.lead_id,
            "action": self.action.as_str(),
            "changed_fields": self.changed_fields,
            "previous_data": self.previous_data,
            "data": self.data,
            "user_id": self.user_id,
            "request_id": self.request_id,
            "organization_id": self.organization_id,
            "date_created": self.date_created,
            "date_updated": self.date_created,
        })
    }

    pub fn is(&self, object_type: &str, action: Action) -> bool {
        self.object_type == object_type && self.action == action
    }
}

fn json_column(row: &Row, name: &str) -> DbResult<Value> {
    let text: Option<&str> = row.get(name)?;
    // The write path stores what serde_json wrote; a row that does not parse reads as empty.
    Ok(text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null))
}

fn object_column(row: &Row, name: &str) -> DbResult<Map<String, Value>> {
    Ok(match json_column(row, name)? {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

/// Events read per statement at most.
const MAX_READ: usize = 10_000;

/// The log, read across organizations, and this process's "a commit happened" signal.
/// Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    db: Db,
    committed: Arc<Notify>,
}

impl EventLog {
    pub fn new(db: Db) -> EventLog {
        EventLog {
            db,
            committed: Arc::default(),
        }
    }

    /// Called by the write path after each commit: wakes this process's tails at once.
    pub fn wake_tails(&self) {
        self.committed.notify_waiters();
    }

    /// Resolves after the next commit of this process; created before reading the log, it
    /// catches a commit made while reading.
    pub fn next_commit(&self) -> tokio::sync::futures::Notified<'_> {
        self.committed.notified()
    }

    /// Wakes on commits of other nodes (PostgreSQL LISTEN/NOTIFY; never on SQLite).
    pub fn other_nodes(&self) -> Listener {
        self.db.listen_events()
    }

    /// The newest event's sequence number (0 when the log is empty).
    pub async fn last_seq(&self) -> DbResult<i64> {
        let row = self.db.query_opt("SELECT MAX(seq) AS seq FROM events", &[]).await?;
        Ok(match row {
            Some(row) => row.get::<Option<i64>>("seq")?.unwrap_or(0),
            None => 0,
        })
    }

    /// The events after `after`, in sequence order, of one organization or of all. Events
    /// commit in sequence order on both databases (`Dialect::append_events`), so a reader
    /// that moves its cursor to the last event it read never steps over one in flight.
    pub async fn read_after(&self, organization_id: Option<&str>, after: i64, limit: usize) -> DbResult<Vec<Event>> {
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE seq > ?");
        let mut params = vec![SqlValue::Int(after)];
        if let Some(org) = organization_id {
            sql.push_str(" AND organization_id = ?");
            params.push(org.into());
        }
        sql.push_str(" ORDER BY seq LIMIT ?");
        params.push(SqlValue::Int(limit.clamp(1, MAX_READ) as i64));
        self.db
            .query(&sql, &params)
            .await?
            .iter()
            .map(Event::from_row)
            .collect()
    }

    /// One organization's event by its sequence number.
    pub async fn by_seq(&self, organization_id: &str, seq: i64) -> DbResult<Option<Event>> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE seq = ? AND organization_id = ?");
        let row = self
            .db
            .query_opt(&sql, &[SqlValue::Int(seq), organization_id.into()])
            .await?;
        row.as_ref().map(Event::from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_keep_unknown_ones() {
        for text in ["created", "updated", "deleted", "merged"] {
            assert_eq!(Action::parse(text).as_str(), text);
        }
        assert_eq!(Action::parse("merged"), Action::Other("merged".into()));
    }
}
