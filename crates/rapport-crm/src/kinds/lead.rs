//! A lead (Close's `lead`): a company or person being sold to, owner of contacts,
//! activities, opportunities and tasks.

use rapport_core::{FieldErrors, Kind};

use super::{status_from_label, Deleting, Writing};
use crate::doc::Doc;
use crate::events::NewEvent;
use crate::meta::OrgMeta;
use crate::plan::Plan;
use crate::render::render;
use crate::{Actor, Crm, CrmResult};

/// A status by label or the organization's first; a name, even empty; its own lead.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    status_from_label(w, doc, Kind::LeadStatus, errors);
    if doc.str("status_id").is_none() {
        match w.meta.of_kind(Kind::LeadStatus).next() {
            Some(first) => w.default(doc, "status_id", first.id.clone().into()),
            None => errors.add("status_id", "this organization has no lead status; create one first"),
        }
    }
    w.default(doc, "name", "".into());
    doc.lead_id = Some(doc.id.clone());
}

/// A lead takes its contacts, activities, opportunities and tasks with it.
pub(super) async fn plan_delete(
    crm: &Crm,
    actor: &Actor,
    meta: &OrgMeta,
    doc: &Doc,
    plan: &mut Plan,
) -> CrmResult<Deleting> {
    let id = doc.id.as_str();
    let children = crm.children_of(actor, id).await?;
    let contacts: Vec<Doc> = children.iter().filter(|c| c.kind == Kind::Contact).cloned().collect();
    for child in children.iter().filter(|c| c.id != doc.id) {
        plan.delete(
            child,
            NewEvent::deleted(child.kind, &child.id, Some(id), render(child, meta, &[])),
        );
    }
    plan.delete(
        doc,
        NewEvent::deleted(Kind::Lead, id, Some(id), render(doc, meta, &contacts)),
    );
    Ok(Deleting::Planned)
}
