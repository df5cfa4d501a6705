//! A stored object: its columns and its JSON document, and the statements that write it.

use rapport_core::Kind;
use rapport_store::{Row, SqlValue, Stmt};
use serde_json::{Map, Value};

use crate::{Crm, CrmError, CrmResult};

/// `organization_id = ?`, for a statement that finds an object by `id`: written so that
/// no index can serve it, which leaves the primary key as the only way to the row. Two
/// indexes start with `organization_id` and end with `id`; SQLite without statistics, or
/// a PostgreSQL plan cached while the table was tiny, may pick one of them and walk every
/// object of the organization for each lookup (the chat benchmark collapsed on it).
pub const IN_ORGANIZATION: &str = "organization_id || '' = ?";

/// The columns read for every object, in [`Doc::from_row`] order.
pub const COLUMNS: &str =
    "id, object_type, lead_id, unique_key, data, version, date_created, date_updated, created_by, updated_by";

/// Selects a lead's contacts. Written so that no index on `object_type` applies: both
/// databases then look contacts up by `(organization_id, lead_id)`, a handful of rows,
/// instead of walking every contact of the organization in date order.
pub const CONTACT_TYPE: &str = "object_type || '' = 'contact'";

#[derive(Debug, Clone)]
pub struct Doc {
    pub id: String,
    pub kind: Kind,
    pub organization_id: String,
    pub lead_id: Option<String>,
    pub unique_key: Option<String>,
    /// Stored fields; custom-field values under `custom`.
    pub data: Map<String, Value>,
    pub version: i64,
    pub date_created: String,
    pub date_updated: String,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

impl Doc {
    pub fn from_row(organization_id: &str, row: &Row) -> CrmResult<Doc> {
        Doc::from_owned_row(organization_id, row.clone())
    }

    /// The same, taking the row's strings rather than copying them.
    pub fn from_owned_row(organization_id: &str, mut row: Row) -> CrmResult<Doc> {
        let object_type: &str = row.get("object_type")?;
        let kind = Kind::from_object_type(object_type)
            .ok_or_else(|| CrmError::Refused(format!("unknown object type `{object_type}` in the store")))?;
        let data = match serde_json::from_str(row.get("data")?) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Ok(Doc {
            version: row.get("version")?,
            id: row.take("id")?,
            kind,
            organization_id: organization_id.to_string(),
            lead_id: row.take("lead_id")?,
            unique_key: row.take("unique_key")?,
            data,
            date_created: row.take("date_created")?,
            date_updated: row.take("date_updated")?,
            created_by: row.take("created_by")?,
            updated_by: row.take("updated_by")?,
        })
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }

    pub fn custom(&self) -> Option<&Map<String, Value>> {
        self.data.get("custom").and_then(Value::as_object)
    }

    pub fn insert_stmt(&self) -> Stmt {
        Stmt::new(
            "INSERT INTO objects (id, organization_id, object_type, lead_id, unique_key, data, version, date_created, date_updated, created_by, updated_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                self.id.clone().into(),
                self.organization_id.clone().into(),
                self.kind.object_type().into(),
                self.lead_id.clone().into(),
                self.unique_key.clone().into(),
                Value::Object(self.data.clone()).to_string().into(),
                SqlValue::Int(self.version),
                self.date_created.clone().into(),
                self.date_updated.clone().into(),
                self.created_by.clone().into(),
                self.updated_by.clone().into(),
            ],
        )
    }

    /// Writes this document over the stored one, provided nobody changed it since it was
    /// read at `self.version - 1`.
    pub fn update_stmt(&self) -> Stmt {
        Stmt::one(
            format!(
                "UPDATE objects SET unique_key = ?, data = ?, version = ?, date_updated = ?, updated_by = ? \
                 WHERE id = ? AND {IN_ORGANIZATION} AND version = ?"
            ),
            vec![
                self.unique_key.clone().into(),
                Value::Object(self.data.clone()).to_string().into(),
                SqlValue::Int(self.version),
                self.date_updated.clone().into(),
                self.updated_by.clone().into(),
                self.id.clone().into(),
                self.organization_id.clone().into(),
                SqlValue::Int(self.version - 1),
            ],
        )
    }

    /// Removes this document, provided nobody changed it since it was read.
    pub fn delete_stmt(&self) -> Stmt {
        Stmt::one(
            format!("DELETE FROM objects WHERE id = ? AND {IN_ORGANIZATION} AND version = ?"),
            vec![
                self.id.clone().into(),
                self.organization_id.clone().into(),
                SqlValue::Int(self.version),
            ],
        )
    }
}

impl Crm {
    /// Runs a `SELECT {COLUMNS} …` and reads its rows as documents of the organization.
    pub(crate) async fn query_docs(
        &self,
        organization_id: &str,
        sql: &str,
        params: &[SqlValue],
    ) -> CrmResult<Vec<Doc>> {
        let rows = self.db.query(sql, params).await?;
        rows.into_iter()
            .map(|r| Doc::from_owned_row(organization_id, r))
            .collect()
    }
}
