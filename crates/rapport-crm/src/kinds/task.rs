//! A task (Close's `task.lead`): something to do about a lead, assigned to a user.

use super::Writing;
use crate::doc::Doc;

/// Assigned to the acting user, not complete.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc) {
    w.default_to_actor(doc, "assigned_to");
    w.default(doc, "is_complete", false.into());
}
