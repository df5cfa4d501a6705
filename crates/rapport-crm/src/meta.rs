//! An organization's configuration that other objects refer to and render with:
//! statuses, pipelines, custom-field definitions and users. Read once per operation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rapport_core::Kind;
use rapport_store::{DbResult, SqlValue};

use crate::doc::{Doc, COLUMNS};
use crate::{Actor, Crm, CrmResult};

#[derive(Debug, Clone)]
pub struct UserRef {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct OrgMeta {
    pub docs: Vec<Doc>,
    pub users: Vec<UserRef>,
}

impl OrgMeta {
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Doc> {
        self.docs.iter().filter(move |d| d.kind == kind)
    }

    pub fn find(&self, kind: Kind, id: &str) -> Option<&Doc> {
        self.of_kind(kind).find(|d| d.id == id)
    }

    /// A status of `kind` by its label, case-insensitively.
    pub fn status_by_label(&self, kind: Kind, label: &str) -> Option<&Doc> {
        self.of_kind(kind)
            .find(|d| d.str("label").is_some_and(|l| l.eq_ignore_ascii_case(label.trim())))
    }

    pub fn labels(&self, kind: Kind) -> String {
        self.of_kind(kind)
            .filter_map(|d| d.str("label"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn user(&self, id: &str) -> Option<&UserRef> {
        self.users.iter().find(|u| u.id == id)
    }
}

/// Each organization's configuration, as last read at a given `meta_version`. The version
/// is read from the store with every request (in the authentication query), so a node
/// never serves a configuration older than the request's view of the database.
#[derive(Clone, Default)]
pub struct MetaCache(Arc<Mutex<HashMap<String, VersionedMeta>>>);

/// An organization's configuration and the `meta_version` it was read at.
type VersionedMeta = (i64, Arc<OrgMeta>);

/// Kinds whose writes change an organization's configuration and so its `meta_version`.
pub fn is_meta_kind(kind: Kind) -> bool {
    META_KINDS.contains(&kind)
}

const META_KINDS: [Kind; 6] = [
    Kind::LeadStatus,
    Kind::OpportunityStatus,
    Kind::Pipeline,
    Kind::LeadCustomField,
    Kind::ContactCustomField,
    Kind::OpportunityCustomField,
];

impl Crm {
    pub(crate) async fn meta(&self, actor: &Actor) -> CrmResult<Arc<OrgMeta>> {
        let cached = self
            .meta_cache
            .0
            .lock()
            .expect("meta cache lock")
            .get(&actor.organization_id)
            .cloned();
        if let Some((version, meta)) = cached {
            if version == actor.meta_version && actor.meta_version > 0 {
                return Ok(meta);
            }
        }
        let meta = self.meta_of(&actor.organization_id).await?;
        if actor.meta_version > 0 {
            let mut cache = self.meta_cache.0.lock().expect("meta cache lock");
            cache.insert(actor.organization_id.clone(), (actor.meta_version, meta.clone()));
        }
        Ok(meta)
    }

    /// An organization's configuration for the server's own work (visitors, jobs): the
    /// cached one while the organization's `meta_version` holds (one indexed read).
    pub(crate) async fn meta_current(&self, org: &str) -> CrmResult<Arc<OrgMeta>> {
        let row = self
            .db
            .query_opt(
                "SELECT meta_version FROM organizations WHERE id = ?",
                &[SqlValue::from(org)],
            )
            .await?;
        let actor = Actor {
            organization_id: org.into(),
            user_id: String::new(),
            role: String::new(),
            meta_version: match row {
                Some(r) => r.get("meta_version")?,
                None => 0,
            },
        };
        self.meta(&actor).await
    }

    /// An organization's configuration read afresh (not cached).
    pub(crate) async fn meta_of(&self, org: &str) -> CrmResult<Arc<OrgMeta>> {
        Ok(Arc::new(self.load_meta(org).await?))
    }

    async fn load_meta(&self, org: &str) -> CrmResult<OrgMeta> {
        let sql =
            format!(
            "SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND object_type IN ({}) ORDER BY date_created, id",
            META_KINDS.iter().map(|k| format!("'{}'", k.object_type())).collect::<Vec<_>>().join(", ")
        );
        let docs = self.query_docs(org, &sql, &[org.into()]).await?;
        let users = self
            .db
            .query(
                "SELECT u.id, u.email, u.first_name, u.last_name FROM users u JOIN memberships m ON m.user_id = u.id \
                 WHERE m.organization_id = ? ORDER BY u.date_created, u.id",
                &[SqlValue::from(org)],
            )
            .await?
            .iter()
            .map(|r| -> DbResult<UserRef> {
                Ok(UserRef {
                    id: r.get("id")?,
                    email: r.get("email")?,
                    name: full_name(r.get("first_name")?, r.get("last_name")?),
                })
            })
            .collect::<DbResult<_>>()?;
        Ok(OrgMeta { docs, users })
    }
}

pub fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_string()
}
