//! A lead status change (Close's `activity.lead_status_change`): recorded by the server when a
//! lead's status changes, so it has no route of its own.

use crate::kind::field_spec::{read_only, FieldSpec, ID, NAME};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "activity.lead_status_change",
    id_prefix: "acti",
    path: None,
    label: "lead status change",
    activity_type: Some("LeadStatusChange"),
    timeline_type: Some("LeadStatusChange"),
    belongs_to_lead: true,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

/// Its own fields; `fields::specs` adds the fields every activity has.
const FIELDS: &[FieldSpec] = &[
    read_only("old_status_id", ID, "Previous status."),
    read_only("old_status_label", NAME, "Previous status label."),
    read_only("new_status_id", ID, "New status."),
    read_only("new_status_label", NAME, "New status label."),
];
