//! A task (Close's `task.lead`): something to do about a lead, due on a date and assigned to a
//! user.

use crate::kind::field_spec::{create_only, read_only, required, rw, FieldSpec, FieldType, NAME, TEXT};
use crate::kind::{Kind, KindSpec};

pub const SPEC: KindSpec = KindSpec {
    object_type: "task.lead",
    id_prefix: "task",
    path: Some("task"),
    label: "task",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: true,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    create_only("lead_id", FieldType::Ref(Kind::Lead), true, "The task's lead."),
    required("text", TEXT, "What to do."),
    rw("date", FieldType::DateOrDateTime, "Due date or time."),
    rw("assigned_to", FieldType::UserRef, "Assignee; the caller when omitted."),
    rw("is_complete", FieldType::Bool, "Done."),
    create_only("date_created", FieldType::DateTime, false, "Creation time."),
    read_only("_type", NAME, "Always `lead`."),
];
