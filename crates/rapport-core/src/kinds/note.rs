//! A note (Close's `activity.note`): free text logged on a lead.

use crate::kind::field_spec::{rw, FieldSpec, LONG_TEXT};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "activity.note",
    id_prefix: "acti",
    path: Some("activity/note"),
    label: "note",
    activity_type: Some("Note"),
    timeline_type: Some("Note"),
    belongs_to_lead: true,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

/// Its own fields; `fields::specs` adds the fields every activity has.
const FIELDS: &[FieldSpec] = &[rw("note", LONG_TEXT, "The note.")];
