//! A pipeline (Close's `pipeline`): a named sequence of opportunity statuses.

use crate::kind::field_spec::{read_only, required, FieldSpec, FieldType, NAME};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "pipeline",
    id_prefix: "pipe",
    path: Some("pipeline"),
    label: "pipeline",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    required("name", NAME, "Pipeline name."),
    read_only("statuses", FieldType::Labels, "The pipeline's opportunity statuses."),
];
