//! Lead and opportunity statuses (Close's `status.lead`, `status.opportunity`).

use rapport_core::{FieldErrors, Kind};

use super::{Deleting, Writing};
use crate::doc::Doc;
use crate::meta::OrgMeta;
use crate::plan::Plan;
use crate::{Actor, Crm, CrmError, CrmResult};

/// Unique by label (an opportunity status within its pipeline, which defaults to the
/// first); an opportunity status is active unless said otherwise.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    if doc.kind == Kind::LeadStatus {
        doc.unique_key = doc.str("label").map(|l| l.trim().to_lowercase());
        return;
    }
    if w.creating && doc.str("pipeline_id").is_none() {
        match w.meta.of_kind(Kind::Pipeline).next() {
            Some(pipeline) => w.default(doc, "pipeline_id", pipeline.id.clone().into()),
            None => errors.add("pipeline_id", "this organization has no pipeline; create one first"),
        }
    }
    w.default(doc, "status_type", "active".into());
    let pipeline = doc.str("pipeline_id").unwrap_or("").to_string();
    doc.unique_key = doc
        .str("label")
        .map(|l| format!("{pipeline}/{}", l.trim().to_lowercase()));
}

/// Refused while in use, and for the last lead status (every lead needs one); both are
/// checked again at commit (`Crm::plan_status_delete`).
pub(super) async fn plan_delete(
    crm: &Crm,
    actor: &Actor,
    meta: &OrgMeta,
    doc: &Doc,
    plan: &mut Plan,
) -> CrmResult<Deleting> {
    let (users, what) = match doc.kind {
        Kind::LeadStatus => (Kind::Lead, "lead status"),
        _ => (Kind::Opportunity, "opportunity status"),
    };
    if doc.kind == Kind::LeadStatus && meta.of_kind(Kind::LeadStatus).count() <= 1 {
        return Err(CrmError::Refused(
            "the last lead status cannot be deleted: every lead needs one".into(),
        ));
    }
    crm.refuse_if_used(actor, users, "status_id", &doc.id, what).await?;
    crm.plan_status_delete(actor, doc, users, meta, plan);
    Ok(Deleting::Planned)
}
