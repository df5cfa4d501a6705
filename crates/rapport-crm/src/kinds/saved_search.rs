//! A Smart View (Close's `saved_search`): a saved lead query, private or shared.

use rapport_core::FieldErrors;
use serde_json::Value;

use super::{Deleting, Writing};
use crate::doc::Doc;
use crate::{Actor, Crm, CrmResult};

/// Private and showing the default columns unless said otherwise; its query must resolve
/// in the organization (fields, statuses, other views).
pub(super) async fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    w.default(doc, "is_shared", false.into());
    w.default(doc, "selected_fields", Value::Array(vec![]));
    if let Err(e) = w.crm.check_view_query(w.actor, doc).await {
        errors.merge_prefixed("", e);
    }
}

/// Refused while another view's query uses it.
pub(super) async fn plan_delete(crm: &Crm, actor: &Actor, doc: &Doc) -> CrmResult<Deleting> {
    crm.refuse_if_view_used(actor, doc).await?;
    Ok(Deleting::It)
}
