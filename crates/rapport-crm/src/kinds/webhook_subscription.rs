//! A webhook subscription (Close's `webhook_subscription`): events sent to a URL, signed,
//! or to a Slack channel.

use super::{new_signature_key, Writing};
use crate::doc::Doc;

/// Active, to a webhook; a new signature key on creation. Resumed by hand, its failure
/// clock starts again.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc) {
    w.default(doc, "status", "active".into());
    w.default(doc, "target", "webhook".into());
    if w.creating {
        doc.data.insert("signature_key".into(), new_signature_key().into());
    } else if doc.str("status") == Some("active") {
        doc.data.remove("failing_since");
        doc.data.remove("paused_reason");
    }
}
