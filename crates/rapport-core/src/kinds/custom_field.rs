//! Custom-field definitions (Close's `custom_field.lead`, `custom_field.contact` and
//! `custom_field.opportunity`): the fields an organization adds to its leads, contacts or
//! opportunities, whose values those objects carry as `custom.<id>`.

use crate::kind::field_spec::{create_only, required, rw, FieldSpec, FieldType, NAME, TEXT};
use crate::kind::KindSpec;

/// Custom fields of leads.
pub const LEAD: KindSpec = KindSpec {
    object_type: "custom_field.lead",
    id_prefix: "cf",
    path: Some("custom_field/lead"),
    label: "lead custom field",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: true,
    fields: FIELDS,
};

/// Custom fields of contacts.
pub const CONTACT: KindSpec = KindSpec {
    object_type: "custom_field.contact",
    id_prefix: "cf",
    path: Some("custom_field/contact"),
    label: "contact custom field",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: true,
    fields: FIELDS,
};

/// Custom fields of opportunities.
pub const OPPORTUNITY: KindSpec = KindSpec {
    object_type: "custom_field.opportunity",
    id_prefix: "cf",
    path: Some("custom_field/opportunity"),
    label: "opportunity custom field",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: true,
    fields: FIELDS,
};

pub const CUSTOM_FIELD_TYPES: &[&str] = &["text", "number", "date", "datetime", "choices", "user"];

/// The three kinds have the same fields.
const FIELDS: &[FieldSpec] = &[
    required("name", NAME, "Field name, unique for its object kind."),
    create_only(
        "type",
        FieldType::Choice(CUSTOM_FIELD_TYPES),
        true,
        "text, number, date, datetime, choices or user.",
    ),
    rw("choices", FieldType::Labels, "Allowed values of a `choices` field."),
    rw(
        "accepts_multiple_values",
        FieldType::Bool,
        "Whether the value is a list.",
    ),
    rw("description", TEXT, "Help text."),
];
