//! An opportunity (Close's `opportunity`): a potential deal on a lead, with a value, a status
//! and a close date.

use crate::kind::field_spec::{create_only, read_only, rw, write_only, FieldSpec, FieldType, ID, NAME, TEXT};
use crate::kind::status::STATUS_TYPES;
use crate::kind::{Kind, KindSpec};

pub const SPEC: KindSpec = KindSpec {
    object_type: "opportunity",
    id_prefix: "oppo",
    path: Some("opportunity"),
    label: "opportunity",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: true,
    custom_field_kind: Some(Kind::OpportunityCustomField),
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    create_only("lead_id", FieldType::Ref(Kind::Lead), true, "The opportunity's lead."),
    rw(
        "status_id",
        FieldType::Ref(Kind::OpportunityStatus),
        "Opportunity status id.",
    ),
    write_only(
        "status",
        NAME,
        true,
        "Opportunity status label, instead of `status_id`.",
    ),
    rw(
        "value",
        FieldType::Int {
            min: i64::MIN,
            max: i64::MAX,
        },
        "Value in cents.",
    ),
    rw(
        "value_period",
        FieldType::Choice(&["one_time", "monthly", "annual"]),
        "one_time (default), monthly or annual.",
    ),
    rw(
        "confidence",
        FieldType::Int { min: 0, max: 100 },
        "Chance to win, 0-100.",
    ),
    rw("close_date", FieldType::Date, "Expected or actual close date."),
    rw("note", TEXT, "Free text."),
    rw("user_id", FieldType::UserRef, "Owner; the caller when omitted."),
    rw("contact_id", FieldType::Ref(Kind::Contact), "Contact on the same lead."),
    create_only("date_created", FieldType::DateTime, false, "Creation time."),
    read_only("status_label", NAME, "Label of the status."),
    read_only("status_type", FieldType::Choice(STATUS_TYPES), "Type of the status."),
    read_only("pipeline_id", ID, "Pipeline of the status."),
    read_only("value_currency", ID, "Currency of `value`."),
];
