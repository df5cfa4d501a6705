//! A call (Close's `activity.call`): a phone call logged on a lead.

use crate::kind::field_spec::{rw, FieldSpec, FieldType, LONG_TEXT, NAME};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "activity.call",
    id_prefix: "acti",
    path: Some("activity/call"),
    label: "call",
    activity_type: Some("Call"),
    timeline_type: Some("Call"),
    belongs_to_lead: true,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

/// Its own fields; `fields::specs` adds the fields every activity has.
const FIELDS: &[FieldSpec] = &[
    rw(
        "direction",
        FieldType::Choice(&["outbound", "inbound"]),
        "outbound (default) or inbound.",
    ),
    rw("duration", FieldType::Int { min: 0, max: i64::MAX }, "Seconds."),
    rw("note", LONG_TEXT, "Call notes."),
    rw("status", NAME, "completed, no-answer, busy, …"),
    rw("phone", NAME, "Number called, E.164."),
];
