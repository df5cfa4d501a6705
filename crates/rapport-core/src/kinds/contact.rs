//! A contact (Close's `contact`): a person at a lead, with emails, phones and web addresses.

use crate::kind::field_spec::{create_only, read_only, rw, FieldSpec, FieldType, NAME};
use crate::kind::{Kind, KindSpec};

pub const SPEC: KindSpec = KindSpec {
    object_type: "contact",
    id_prefix: "cont",
    path: Some("contact"),
    label: "contact",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: true,
    custom_field_kind: Some(Kind::ContactCustomField),
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    create_only(
        "lead_id",
        FieldType::Ref(Kind::Lead),
        false,
        "The contact's lead; a new lead is made when omitted.",
    ),
    rw("name", NAME, "Full name."),
    rw("title", NAME, "Job title."),
    rw("emails", FieldType::Emails, "Email addresses."),
    rw("phones", FieldType::Phones, "Phone numbers, stored in E.164."),
    rw("urls", FieldType::Urls, "Web addresses."),
    create_only("date_created", FieldType::DateTime, false, "Creation time."),
    read_only("display_name", NAME, "Name to show."),
];
