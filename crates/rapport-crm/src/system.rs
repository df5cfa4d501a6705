//! Changes the server makes on its own behalf, as outcomes of jobs: an email sent (or
//! failed), a webhook subscription failing or paused. They go through the same write path
//! (a plan with its event), with no user as their author.

use rapport_core::{time, Kind};
use rapport_store::DbError;
use serde_json::{Map, Value};

use crate::events::NewEvent;
use crate::plan::{Plan, MAX_ATTEMPTS};
use crate::render::{changed_fields, render};
use crate::{Crm, CrmError, CrmResult};

impl Crm {
    /// An object's stored fields (including those never shown, like a subscription's
    /// signature key), for the server's own jobs; `None` when it is gone.
    pub async fn stored_object(
        &self,
        organization_id: &str,
        kind: Kind,
        id: &str,
    ) -> CrmResult<Option<Map<String, Value>>> {
        Ok(self
            .load_in(organization_id, id)
            .await?
            .filter(|doc| doc.kind == kind)
            .map(|doc| doc.data))
    }

    /// The organization's webhook subscriptions: id and stored fields.
    pub async fn webhook_subscriptions(&self, organization_id: &str) -> CrmResult<Vec<(String, Map<String, Value>)>> {
        let sql = format!(
            "SELECT {} FROM objects WHERE organization_id = ? AND object_type = ? ORDER BY date_created, id",
            crate::doc::COLUMNS
        );
        let rows = self
            .db
            .query(
                &sql,
                &[organization_id.into(), Kind::WebhookSubscription.object_type().into()],
            )
            .await?;
        rows.iter()
            .map(|r| crate::doc::Doc::from_row(organization_id, r).map(|d| (d.id, d.data)))
            .collect()
    }

    /// Sets (or, with `null`, removes) stored fields of an object, with an `updated` event
    /// authored by the server. Returns `false` when the object is gone.
    pub async fn system_update(
        &self,
        organization_id: &str,
        kind: Kind,
        id: &str,
        fields: &Map<String, Value>,
    ) -> CrmResult<bool> {
        let changed = self
            .change_stored(organization_id, None, kind, id, |data| {
                for (field, value) in fields {
                    match value {
                        Value::Null => data.remove(field),
                        value => data.insert(field.clone(), value.clone()),
                    };
                }
            })
            .await?;
        Ok(changed.is_some())
    }

    /// Changes an object's stored fields with `change`, with its `updated` event (none when
    /// nothing changed), by `user_id` or the server; starts over when a concurrent write
    /// got there first. The object as it now is; `None` when it is gone.
    pub(crate) async fn change_stored(
        &self,
        organization_id: &str,
        user_id: Option<&str>,
        kind: Kind,
        id: &str,
        change: impl Fn(&mut Map<String, Value>),
    ) -> CrmResult<Option<Map<String, Value>>> {
        let meta = self.meta_current(organization_id).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(before) = self.load_in(organization_id, id).await?.filter(|d| d.kind == kind) else {
                return Ok(None);
            };
            let mut doc = before.clone();
            change(&mut doc.data);
            let old = render(&before, &meta, &[]);
            if doc.data == before.data {
                return Ok(Some(old));
            }
            doc.version += 1;
            doc.date_updated = time::format(time::now());
            doc.updated_by = user_id.map(Into::into);
            let new = render(&doc, &meta, &[]);
            let changed = changed_fields(&old, &new);
            let mut plan = Plan::default();
            plan.update(
                &doc,
                NewEvent::updated(kind, &doc.id, doc.lead_id.as_deref(), changed, &old, new.clone()),
            );
            match self.commit_as(organization_id, user_id, kind, plan).await {
                Ok(_) => return Ok(Some(new)),
                Err(CrmError::Db(DbError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CrmError::Db(DbError::Conflict))
    }
}
