//! Statuses (Close's `status.lead` and `status.opportunity`): the stages a lead or an
//! opportunity moves through; an opportunity's statuses belong to a pipeline.

use crate::kind::field_spec::{create_only, required, FieldSpec, FieldType, NAME};
use crate::kind::{Kind, KindSpec};

/// A lead's status.
pub const LEAD: KindSpec = KindSpec {
    object_type: "status.lead",
    id_prefix: "stat",
    path: Some("status/lead"),
    label: "lead status",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: LEAD_FIELDS,
};

/// An opportunity's status, in a pipeline.
pub const OPPORTUNITY: KindSpec = KindSpec {
    object_type: "status.opportunity",
    id_prefix: "stat",
    path: Some("status/opportunity"),
    label: "opportunity status",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: OPPORTUNITY_FIELDS,
};

pub const STATUS_TYPES: &[&str] = &["active", "won", "lost"];

const LEAD_FIELDS: &[FieldSpec] = &[required("label", NAME, "Status label, unique in the organization.")];

const OPPORTUNITY_FIELDS: &[FieldSpec] = &[
    required("label", NAME, "Status label, unique in its pipeline."),
    create_only(
        "status_type",
        FieldType::Choice(STATUS_TYPES),
        false,
        "active (default), won or lost.",
    ),
    create_only(
        "pipeline_id",
        FieldType::Ref(Kind::Pipeline),
        false,
        "Pipeline; the organization's first when omitted.",
    ),
];
