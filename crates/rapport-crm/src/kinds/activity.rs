//! Activities (Close's `activity.note`, `.call`, `.email`, `.sms`, `.meeting`): what
//! happened with a lead, on its timeline.

use rapport_core::Kind;

use super::Writing;
use crate::doc::Doc;

/// The acting user; calls and texts outbound, emails outgoing and sent; on creation the
/// activity happened now (a meeting when it starts).
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc) {
    let kind = doc.kind;
    w.default_to_actor(doc, "user_id");
    let direction = match kind {
        Kind::Call | Kind::Sms => Some("outbound"),
        Kind::Email => Some("outgoing"),
        _ => None,
    };
    if let Some(direction) = direction {
        w.default(doc, "direction", direction.into());
    }
    if kind == Kind::Email {
        w.default(doc, "status", "sent".into());
    }
    if w.creating {
        let when = (kind == Kind::Meeting)
            .then(|| doc.data.get("starts_at").cloned())
            .flatten()
            .unwrap_or_else(|| doc.date_created.clone().into());
        w.default(doc, "activity_at", when);
    }
}
