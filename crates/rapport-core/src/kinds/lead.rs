//! A lead (Close's `lead`): a company or person the team sells to, from which contacts,
//! opportunities, activities and tasks hang.

use crate::kind::field_spec::{create_only, read_only, rw, write_only, FieldSpec, FieldType, NAME, TEXT};
use crate::kind::{Kind, KindSpec};

pub const SPEC: KindSpec = KindSpec {
    object_type: "lead",
    id_prefix: "lead",
    path: Some("lead"),
    label: "lead",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: Some(Kind::LeadCustomField),
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    rw("name", NAME, "Company name."),
    rw("url", FieldType::Url, "Website."),
    rw("description", TEXT, "Free text."),
    rw("status_id", FieldType::Ref(Kind::LeadStatus), "Lead status id."),
    write_only("status", NAME, true, "Lead status label, instead of `status_id`."),
    rw("addresses", FieldType::Addresses, "Postal addresses."),
    write_only(
        "contacts",
        FieldType::Contacts,
        false,
        "Contacts created with the lead.",
    ),
    create_only(
        "date_created",
        FieldType::DateTime,
        false,
        "Creation time; may be given so imported history keeps its dates.",
    ),
    read_only("status_label", NAME, "Label of the lead status."),
    read_only("display_name", NAME, "Name to show."),
];
