//! Listing objects: Close's filters (`lead_id=`, `status_id=`, `date_created__gt=`…),
//! `_order_by`, and `_skip`/`_limit` paging with a total count.

use rapport_core::fields::{specs, Access, FieldType};
use rapport_core::{time, FieldErrors, Kind};
use rapport_store::{JsonType, SqlValue};
use serde_json::{Map, Value};

use crate::doc::{Doc, COLUMNS, CONTACT_TYPE};
use crate::meta::OrgMeta;
use crate::render::render;
use crate::{Actor, Crm, CrmResult};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 200;
/// Values one `field__in=` filter may list (each is a SQL parameter).
const MAX_IN_VALUES: usize = 1_000;

/// A list request: query parameters as given, minus the paging ones.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    /// `field` or `field__gt|gte|lt|lte|in` → value, in request order.
    pub filters: Vec<(String, String)>,
    pub order_by: Option<String>,
    pub skip: usize,
    pub limit: usize,
}

#[derive(Debug)]
pub struct Page {
    pub data: Vec<Map<String, Value>>,
    pub has_more: bool,
    pub total_results: i64,
}

/// A column of the object table, filterable and sortable on every kind.
const COLUMN_FIELDS: &[&str] = &[
    "id",
    "lead_id",
    "date_created",
    "date_updated",
    "created_by",
    "updated_by",
];

impl Crm {
    /// Lists objects of the given kinds (several for `GET /activity/`), newest first
    /// unless `_order_by` says otherwise.
    pub async fn list(&self, actor: &Actor, kinds: &[Kind], q: &ListQuery) -> CrmResult<Page> {
        let dialect = self.db.dialect();
        let mut errors = FieldErrors::new();
        let meta = self.meta(actor).await?;
        let mut params: Vec<SqlValue> = vec![actor.organization_id.clone().into()];
        let types: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.object_type())).collect();
        let mut filter_sql = format!("organization_id = ? AND object_type IN ({})", types.join(", "));
        for (param, value) in &q.filters {
            let (field, op) = match param.rsplit_once("__") {
                Some((f, op @ ("gt" | "gte" | "lt" | "lte" | "in" | "isnull"))) => (f, op),
                _ => (param.as_str(), "eq"),
            };
            if field == "_type" && kinds.iter().any(|k| k.is_activity()) {
                // `_type=Call` narrows `/activity/` to one kind.
                match kinds
                    .iter()
                    .find(|k| k.timeline_type().is_some_and(|t| t.eq_ignore_ascii_case(value)))
                {
                    Some(kind) => {
                        filter_sql.push_str(" AND object_type = ?");
                        params.push(kind.object_type().into());
                    }
                    None => errors.add("_type", format!("unknown activity type `{value}`")),
                }
                continue;
            }
            if field == "status_type" && kinds == [Kind::Opportunity] && op == "eq" {
                // The type lives on the status: filter by the statuses of that type.
                let ids: Vec<SqlValue> = meta
                    .of_kind(Kind::OpportunityStatus)
                    .filter(|s| s.str("status_type") == Some(value.as_str()))
                    .map(|s| SqlValue::from(&s.id))
                    .collect();
                let expr = dialect.json_field("status_id", JsonType::Text);
                if ids.is_empty() {
                    filter_sql.push_str(" AND 1 = 0");
                } else {
                    filter_sql.push_str(&format!(" AND {expr} IN ({})", vec!["?"; ids.len()].join(", ")));
                    params.extend(ids);
                }
                continue;
            }
            let Some((expr, ty)) = field_expr(kinds, field, dialect) else {
                errors.add(param, "unknown filter for this list");
                continue;
            };
            if op == "isnull" {
                // `assigned_to__isnull=true`: unassigned conversations, tasks…
                match value.as_str() {
                    "true" | "1" => filter_sql.push_str(&format!(" AND {expr} IS NULL")),
                    "false" | "0" => filter_sql.push_str(&format!(" AND {expr} IS NOT NULL")),
                    _ => errors.add(param, "expected true or false"),
                }
                continue;
            }
            let sql_op = match op {
                "eq" => "=",
                "gt" => ">",
                "gte" => ">=",
                "lt" => "<",
                "lte" => "<=",
                _ => "IN",
            };
            let values: Vec<&str> = if op == "in" {
                let values: Vec<&str> = value.split(',').collect();
                if values.len() > MAX_IN_VALUES {
                    errors.add(param, format!("at most {MAX_IN_VALUES} values"));
                    continue;
                }
                values
            } else {
                vec![value.as_str()]
            };
            let mut placeholders = Vec::new();
            for v in values {
                match filter_value(ty, v) {
                    Ok(p) => {
                        params.push(p);
                        placeholders.push("?");
                    }
                    Err(message) => errors.add(param, message),
                }
            }
            if op == "in" {
                filter_sql.push_str(&format!(" AND {expr} IN ({})", placeholders.join(", ")));
            } else {
                filter_sql.push_str(&format!(" AND {expr} {sql_op} ?"));
            }
        }
        if kinds == [Kind::SavedSearch] {
            let shared = dialect.json_field("is_shared", JsonType::Bool);
            filter_sql.push_str(&format!(" AND (created_by = ? OR {shared} = ?)"));
            params.push(actor.user_id.clone().into());
            params.push(SqlValue::Int(1));
        }
        let timeline = kinds.iter().all(|k| k.timeline_type().is_some()) && kinds.iter().any(|k| k.is_activity());
        let default_order = if timeline { "-activity_at" } else { "-date_created" };
        let mut order = Vec::new();
        let mut last_desc = false;
        for key in q
            .order_by
            .as_deref()
            .unwrap_or(default_order)
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            let (field, desc) = key.strip_prefix('-').map_or((key, false), |f| (f, true));
            last_desc = desc;
            match field_expr(kinds, field, dialect) {
                Some((expr, _)) => order.push(format!("{expr} {}", if desc { "DESC" } else { "ASC" })),
                None => errors.add("_order_by", format!("cannot order by `{field}`")),
            }
        }
        // Ties go by id in the last key's direction, so an index on (…, key, id) serves the
        // whole ORDER BY without a sort.
        order.push(if last_desc { "id DESC" } else { "id ASC" }.into());
        if let Err(e) = errors.into_result(()) {
            return Err(e.into());
        }
        let limit = q.limit.min(MAX_LIMIT);
        let count_sql = format!("SELECT COUNT(*) AS n FROM objects WHERE {filter_sql}");
        let total = match self.db.query_opt(&count_sql, &params).await? {
            Some(r) => r.get::<i64>("n")?,
            None => 0,
        };
        let mut data = Vec::new();
        if limit > 0 {
            let sql = format!(
                "SELECT {COLUMNS} FROM objects WHERE {filter_sql} ORDER BY {} LIMIT ? OFFSET ?",
                order.join(", ")
            );
            let mut page_params = params.clone();
            page_params.push(SqlValue::Int(limit as i64));
            page_params.push(SqlValue::Int(q.skip as i64));
            let docs = self.query_docs(&actor.organization_id, &sql, &page_params).await?;
            let contacts = if kinds == [Kind::Lead] {
                self.contacts_of_many(actor, &docs).await?
            } else {
                vec![]
            };
            data = render_with_contacts(docs.iter(), &contacts, &meta);
        }
        Ok(Page {
            has_more: q.skip.saturating_add(data.len()) < total as usize && limit > 0,
            data,
            total_results: total,
        })
    }

    pub(crate) async fn contacts_of_many(&self, actor: &Actor, leads: &[Doc]) -> CrmResult<Vec<Doc>> {
        if leads.is_empty() {
            return Ok(vec![]);
        }
        let placeholders = vec!["?"; leads.len()].join(", ");
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND lead_id IN ({placeholders}) AND {CONTACT_TYPE}"
        );
        let mut params: Vec<SqlValue> = vec![actor.organization_id.clone().into()];
        params.extend(leads.iter().map(|l| SqlValue::from(&l.id)));
        // Sorted here, not in SQL: an ORDER BY tempts SQLite into the per-kind index.
        let mut contacts = self.query_docs(&actor.organization_id, &sql, &params).await?;
        contacts.sort_by(|a, b| (&a.date_created, &a.id).cmp(&(&b.date_created, &b.id)));
        Ok(contacts)
    }
}

/// Renders leads, in the given order, each with its contacts from `contacts`.
pub(crate) fn render_with_contacts<'a>(
    leads: impl Iterator<Item = &'a Doc>,
    contacts: &[Doc],
    meta: &OrgMeta,
) -> Vec<Map<String, Value>> {
    leads
        .map(|lead| {
            let own: Vec<Doc> = contacts
                .iter()
                .filter(|c| c.lead_id.as_deref() == Some(lead.id.as_str()))
                .cloned()
                .collect();
            render(lead, meta, &own)
        })
        .collect()
}

/// The SQL expression of a filterable or sortable field of these kinds: a column, or a
/// scalar field of the JSON document.
fn field_expr(kinds: &[Kind], field: &str, dialect: rapport_store::Dialect) -> Option<(String, FieldType)> {
    if COLUMN_FIELDS.contains(&field) {
        let ty = if field.starts_with("date_") {
            FieldType::DateTime
        } else {
            FieldType::Text(64)
        };
        return Some((field.to_string(), ty));
    }
    let spec = kinds
        .iter()
        .flat_map(|k| specs(*k))
        .find(|s| s.name == field && !matches!(s.access, Access::WriteOnly { .. }))?;
    let json_type = match spec.ty {
        FieldType::Int { .. } => JsonType::Int,
        FieldType::Bool => JsonType::Bool,
        FieldType::Text(_)
        | FieldType::DateTime
        | FieldType::Date
        | FieldType::DateOrDateTime
        | FieldType::Choice(_)
        | FieldType::Url
        | FieldType::Ref(_)
        | FieldType::UserRef => JsonType::Text,
        _ => return None,
    };
    // Stored, not computed on render (chat objects store theirs).
    if spec.access == Access::ReadOnly && !kinds.iter().all(|k| crate::chat::stores_read_only_fields(*k)) {
        return None;
    }
    Some((dialect.json_field(field, json_type), spec.ty))
}

fn filter_value(ty: FieldType, raw: &str) -> Result<SqlValue, String> {
    match ty {
        FieldType::Int { .. } => raw
            .trim()
            .parse::<i64>()
            .map(SqlValue::Int)
            .map_err(|_| format!("`{raw}` is not an integer")),
        FieldType::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(SqlValue::Int(1)),
            "false" | "0" | "no" => Ok(SqlValue::Int(0)),
            _ => Err(format!("`{raw}` is not true or false")),
        },
        FieldType::DateTime => time::parse_datetime(raw)
            .map(|t| SqlValue::Text(time::format(t)))
            .ok_or_else(|| format!("`{raw}` is not an ISO 8601 date-time")),
        _ => Ok(SqlValue::Text(raw.to_string())),
    }
}
