//! Custom field definitions of leads, contacts and opportunities (Close's
//! `custom_field.lead`, `.contact`, `.opportunity`).

use rapport_core::FieldErrors;
use serde_json::Value;

use super::Writing;
use crate::doc::Doc;

/// Unique by name, ignoring case; a choices field has choices; one value unless said
/// otherwise.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    doc.unique_key = doc.str("name").map(|n| n.trim().to_lowercase());
    let choices = doc.data.get("choices").and_then(Value::as_array).map_or(0, Vec::len);
    if doc.str("type") == Some("choices") && choices == 0 {
        errors.add("choices", "a choices field needs at least one choice");
    }
    w.default(doc, "accepts_multiple_values", false.into());
}
