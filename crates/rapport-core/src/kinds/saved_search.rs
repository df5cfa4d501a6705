//! A Smart View (Close's `saved_search`): a named lead search query, private or shared.

use crate::kind::field_spec::{read_only, required, rw, FieldSpec, FieldType, ID, NAME, TEXT};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "saved_search",
    id_prefix: "save",
    path: Some("saved_search"),
    label: "Smart View",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    required("name", NAME, "Name shown in the sidebar; `in:\"name\"` refers to it."),
    required(
        "query",
        TEXT,
        "The lead search query; it must parse and refer to known fields, statuses, users and views.",
    ),
    rw(
        "is_shared",
        FieldType::Bool,
        "Whether the whole organization sees it (else only its owner).",
    ),
    rw("selected_fields", FieldType::Labels, "Columns shown for its results."),
    read_only("user_id", ID, "Its owner."),
];
