//! What is particular to each kind in the write path, one file per kind: the defaults and
//! computed fields set when an object is written ([`fill`]), and what deleting one
//! refuses or takes along ([`plan_delete`]). A kind without a file here has no rule of its
//! own: its field table (`rapport_core::kinds`) is all there is to it.

mod activity;
pub(crate) mod contact;
mod conversation;
mod custom_field;
mod lead;
mod opportunity;
mod pipeline;
mod saved_search;
mod status;
mod task;
mod webhook_subscription;
pub(crate) mod website;

use rapport_core::{FieldErrors, Kind};
use serde_json::{Map, Value};

use crate::doc::Doc;
use crate::meta::OrgMeta;
use crate::plan::Plan;
use crate::{Actor, Crm, CrmResult};

/// An object being written, as the kind's rules see it.
pub(crate) struct Writing<'a> {
    pub crm: &'a Crm,
    pub actor: &'a Actor,
    pub meta: &'a OrgMeta,
    /// The values given in this request.
    pub values: &'a Map<String, Value>,
    pub creating: bool,
}

impl Writing<'_> {
    /// Sets `field` unless it has a value.
    pub fn default(&self, doc: &mut Doc, field: &str, value: Value) {
        if doc.data.get(field).is_none_or(Value::is_null) {
            doc.data.insert(field.into(), value);
        }
    }

    /// Sets `field` to the acting user unless it has a value.
    pub fn default_to_actor(&self, doc: &mut Doc, field: &str) {
        self.default(doc, field, self.actor.user_id.clone().into());
    }
}

/// Sets the kind's defaults and computed fields of `doc`, after the request's values were
/// stored in it and its references checked.
pub(crate) async fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    match doc.kind {
        Kind::Lead => lead::fill(w, doc, errors),
        Kind::Opportunity => opportunity::fill(w, doc, errors),
        Kind::Task => task::fill(w, doc),
        Kind::LeadStatus | Kind::OpportunityStatus => status::fill(w, doc, errors),
        Kind::Pipeline => pipeline::fill(doc),
        Kind::SavedSearch => saved_search::fill(w, doc, errors).await,
        Kind::Website => website::fill(w, doc, errors),
        Kind::WebhookSubscription => webhook_subscription::fill(w, doc),
        k if k.is_custom_field() => custom_field::fill(w, doc, errors),
        k if k.is_activity() => activity::fill(w, doc),
        _ => {}
    }
}

/// Whether the object itself is still to be deleted after its kind's rules ran.
pub(crate) enum Deleting {
    /// Delete it with its deletion event, as any object.
    It,
    /// The kind's rules planned its deletion themselves.
    Planned,
}

/// What deleting `doc` refuses (an error) or takes along (added to `plan`).
pub(crate) async fn plan_delete(
    crm: &Crm,
    actor: &Actor,
    meta: &OrgMeta,
    doc: &Doc,
    now: &str,
    plan: &mut Plan,
) -> CrmResult<Deleting> {
    match doc.kind {
        Kind::Lead => lead::plan_delete(crm, actor, meta, doc, plan).await,
        Kind::Contact => contact::plan_delete(crm, actor, meta, doc, now, plan).await,
        Kind::Conversation => conversation::plan_delete(crm, actor, meta, doc, plan).await,
        Kind::LeadStatus | Kind::OpportunityStatus => status::plan_delete(crm, actor, meta, doc, plan).await,
        Kind::Pipeline => pipeline::plan_delete(meta, doc),
        Kind::SavedSearch => saved_search::plan_delete(crm, actor, doc).await,
        _ => Ok(Deleting::It),
    }
}

/// Resolves a `status` label given instead of a `status_id` (leads, opportunities).
fn status_from_label(w: &Writing<'_>, doc: &mut Doc, status_kind: Kind, errors: &mut FieldErrors) {
    let Some(label) = w.values.get("status").and_then(Value::as_str) else {
        return;
    };
    match w.meta.status_by_label(status_kind, label) {
        Some(status) => {
            doc.data.insert("status_id".into(), status.id.clone().into());
        }
        None => errors.add(
            "status",
            format!(
                "unknown {} `{label}`; valid ones: {}",
                status_kind.label(),
                w.meta.labels(status_kind)
            ),
        ),
    }
}

/// 32 random bytes as hex: the key of a webhook subscription's signatures, a website's
/// identity secret.
pub(crate) fn new_signature_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system has no random source");
    hex::encode(bytes)
}
