//! A meeting (Close's `activity.meeting`): a meeting with a lead's contacts.

use crate::kind::field_spec::{rw, FieldSpec, FieldType, LONG_TEXT, NAME};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "activity.meeting",
    id_prefix: "acti",
    path: Some("activity/meeting"),
    label: "meeting",
    activity_type: Some("Meeting"),
    timeline_type: Some("Meeting"),
    belongs_to_lead: true,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

/// Its own fields; `fields::specs` adds the fields every activity has.
const FIELDS: &[FieldSpec] = &[
    rw("title", NAME, "Meeting title."),
    rw("starts_at", FieldType::DateTime, "Start; `activity_at` defaults to it."),
    rw("ends_at", FieldType::DateTime, "End."),
    rw("location", NAME, "Where."),
    rw("note", LONG_TEXT, "Notes."),
];
