//! What the search index reads of the store: organizations, lead ids in order, and leads
//! with their related objects in their searchable form (`rapport_query::Lead`); and the
//! rendering of a page of search hits. The index itself lives in `rapport-search`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rapport_core::Kind;
use rapport_query::Lead;
use rapport_store::{Row, SqlValue};

use crate::doc::{Doc, COLUMNS, IN_ORGANIZATION};
use crate::list::{render_with_contacts, Page};
use crate::meta::OrgMeta;
use crate::search::lead_of;
use crate::{Actor, Crm, CrmResult};

/// Which leads to read.
#[derive(Debug, Clone, Copy)]
pub enum LeadSelection<'a> {
    Ids(&'a [&'a str]),
    /// The leads whose ids are after `after` (if any) and at most `last`.
    Range {
        after: Option<&'a str>,
        last: &'a str,
    },
}

/// Leads as stored, with what turning them into their searchable form needs: CPU work
/// only, for a blocking thread ([`StoredLeads::into_leads`]).
pub struct StoredLeads {
    organization_id: String,
    /// Each lead's rows are adjacent (ordered by lead).
    rows: Vec<Row>,
    meta: Arc<OrgMeta>,
}

impl StoredLeads {
    pub fn into_leads(self) -> CrmResult<Vec<Lead>> {
        let mut leads = Vec::new();
        let mut lead: Option<Doc> = None;
        let mut children: Vec<Doc> = Vec::new();
        let meta = &self.meta;
        let mut finish = |lead: Option<Doc>, children: &mut Vec<Doc>| {
            // Objects whose lead row is missing (deleted meanwhile) make no lead.
            if let Some(lead) = lead {
                leads.push(lead_of(&lead, children, meta));
            }
            children.clear();
        };
        for row in self.rows {
            let doc = Doc::from_owned_row(&self.organization_id, row)?;
            let Some(lead_id) = doc.lead_id.as_deref() else {
                continue;
            };
            // The lead of the rows gathered so far is that of any of them.
            let gathered = lead.as_ref().or(children.last()).and_then(|d| d.lead_id.as_deref());
            if gathered != Some(lead_id) {
                finish(lead.take(), &mut children);
            }
            if doc.kind == Kind::Lead {
                lead = Some(doc);
            } else {
                children.push(doc);
            }
        }
        finish(lead, &mut children);
        Ok(leads)
    }
}

/// An organization as the index reads it: its configuration (statuses, custom fields,
/// users), read once for all of its leads, and the ids of its free-text custom fields.
pub struct SearchableOrg {
    id: String,
    meta: Arc<OrgMeta>,
    text_fields: Arc<BTreeSet<String>>,
}

impl SearchableOrg {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The ids of the organization's text custom fields, whose values are free text (the
    /// query's binder lists the same ids).
    pub fn text_fields(&self) -> &Arc<BTreeSet<String>> {
        &self.text_fields
    }
}

impl Crm {
    /// Every organization's id, in order.
    pub async fn organization_ids(&self) -> CrmResult<Vec<String>> {
        let rows = self.db.query("SELECT id FROM organizations ORDER BY id", &[]).await?;
        Ok(rows.iter().map(|r| r.get("id")).collect::<Result<_, _>>()?)
    }

    /// The next `limit` lead ids of an organization after `after`, in id order; read from
    /// `objects_by_lead` alone (the type test is written so that no index on the type
    /// serves it).
    pub async fn lead_ids_after(&self, org_id: &str, after: Option<&str>, limit: usize) -> CrmResult<Vec<String>> {
        let (sql, params): (&str, Vec<SqlValue>) = match after {
            None => (
                "SELECT lead_id FROM objects WHERE organization_id = ? AND object_type || '' = 'lead' \
                 ORDER BY lead_id LIMIT ?",
                vec![org_id.into(), (limit as i64).into()],
            ),
            Some(after) => (
                "SELECT lead_id FROM objects WHERE organization_id = ? AND object_type || '' = 'lead' \
                 AND lead_id > ? ORDER BY lead_id LIMIT ?",
                vec![org_id.into(), after.into(), (limit as i64).into()],
            ),
        };
        let rows = self.db.query(sql, &params).await?;
        Ok(rows.iter().map(|r| r.get("lead_id")).collect::<Result<_, _>>()?)
    }

    /// The organization's configuration as its leads' searchable form needs it.
    pub async fn searchable_org(&self, org_id: &str) -> CrmResult<SearchableOrg> {
        let meta = self.meta_of(org_id).await?;
        let text_fields = [
            Kind::LeadCustomField,
            Kind::ContactCustomField,
            Kind::OpportunityCustomField,
        ]
        .into_iter()
        .flat_map(|kind| meta.of_kind(kind))
        .filter(|field| field.str("type") == Some("text"))
        .map(|field| field.id.clone())
        .collect();
        Ok(SearchableOrg {
            id: org_id.to_string(),
            meta,
            text_fields: Arc::new(text_fields),
        })
    }

    /// Leads of `org` with their related objects, as stored.
    pub async fn stored_leads(&self, org: &SearchableOrg, leads: LeadSelection<'_>) -> CrmResult<StoredLeads> {
        let org_id = org.id();
        let mut params: Vec<SqlValue> = vec![org_id.into()];
        let filter = match leads {
            LeadSelection::Ids(ids) => {
                params.extend(ids.iter().map(|id| SqlValue::from(*id)));
                format!("lead_id IN ({})", vec!["?"; ids.len()].join(", "))
            }
            LeadSelection::Range { after: None, last } => {
                params.push(last.into());
                "lead_id <= ?".to_string()
            }
            LeadSelection::Range {
                after: Some(after),
                last,
            } => {
                params.extend([after.into(), last.into()]);
                "lead_id > ? AND lead_id <= ?".to_string()
            }
        };
        // In the order of `objects_by_lead`, so that no sort is needed; a lead's objects of
        // one kind come oldest first, which is all the order that matters.
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND {filter} \
             ORDER BY lead_id, object_type, date_created, id"
        );
        Ok(StoredLeads {
            organization_id: org_id.to_string(),
            rows: self.db.query(&sql, &params).await?,
            meta: org.meta.clone(),
        })
    }

    /// A page of search hits: the leads `ids` (in that order) rendered with their
    /// contacts; a lead deleted since the search ran is left out. `total` is the number of
    /// hits of the whole search.
    pub async fn leads_in_order(
        &self,
        actor: &Actor,
        ids: &[String],
        total: usize,
        skip: usize,
        limit: usize,
    ) -> CrmResult<Page> {
        let meta = self.meta(actor).await?;
        let docs = self.leads_by_id(actor, ids).await?;
        let contacts = self.contacts_of_many(actor, &docs).await?;
        let by_id: HashMap<&str, &Doc> = docs.iter().map(|d| (d.id.as_str(), d)).collect();
        let data = render_with_contacts(
            ids.iter().filter_map(|id| by_id.get(id.as_str()).copied()),
            &contacts,
            &meta,
        );
        Ok(Page {
            has_more: skip.saturating_add(data.len()) < total && limit > 0,
            data,
            total_results: total as i64,
        })
    }

    async fn leads_by_id(&self, actor: &Actor, ids: &[String]) -> CrmResult<Vec<Doc>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Only the primary key applies (see `IN_ORGANIZATION`; the type test likewise).
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE id IN ({}) AND {IN_ORGANIZATION} AND object_type || '' = 'lead'",
            vec!["?"; ids.len()].join(", ")
        );
        let mut params: Vec<SqlValue> = ids.iter().map(SqlValue::from).collect();
        params.push(actor.organization_id.clone().into());
        self.query_docs(&actor.organization_id, &sql, &params).await
    }
}
