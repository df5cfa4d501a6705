//! A contact (Close's `contact`): a person at a lead.

use rapport_core::Kind;

use super::Deleting;
use crate::doc::Doc;
use crate::meta::OrgMeta;
use crate::plan::Plan;
use crate::{Actor, Crm, CrmResult};

/// How a write changes one of a lead's contacts: the lead is updated with it
/// (`Crm::touch_lead`).
pub(crate) enum ContactChange {
    Added(Doc),
    Changed(Doc),
    Removed(String),
}

/// Removing a contact is also an update of its lead (its contacts, `date_updated`).
pub(super) async fn plan_delete(
    crm: &Crm,
    actor: &Actor,
    meta: &OrgMeta,
    doc: &Doc,
    now: &str,
    plan: &mut Plan,
) -> CrmResult<Deleting> {
    if let Some(lead_id) = &doc.lead_id {
        let lead = crm.load(actor, Kind::Lead, lead_id).await?;
        crm.touch_lead(actor, meta, lead, ContactChange::Removed(doc.id.clone()), now, plan)
            .await?;
    }
    Ok(Deleting::It)
}
