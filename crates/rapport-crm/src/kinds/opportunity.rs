//! An opportunity (Close's `opportunity`): a deal with a lead, in a pipeline's status.

use rapport_core::{FieldErrors, Kind};

use super::{status_from_label, Writing};
use crate::doc::Doc;

/// A status by label, else the first active one (else the first); the acting user as
/// owner; a one-time value.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    status_from_label(w, doc, Kind::OpportunityStatus, errors);
    if doc.str("status_id").is_none() {
        let statuses = || w.meta.of_kind(Kind::OpportunityStatus);
        let first_active = statuses().find(|s| s.str("status_type") == Some("active"));
        match first_active.or_else(|| statuses().next()) {
            Some(status) => w.default(doc, "status_id", status.id.clone().into()),
            None => errors.add(
                "status_id",
                "this organization has no opportunity status; create one first",
            ),
        }
    }
    w.default_to_actor(doc, "user_id");
    w.default(doc, "value_period", "one_time".into());
}
