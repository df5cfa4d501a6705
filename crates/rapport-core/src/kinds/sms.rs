//! An SMS (Close's `activity.sms`): a text message sent to or received from a lead's contact.

use crate::kind::field_spec::{rw, FieldSpec, FieldType, LONG_TEXT, NAME};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "activity.sms",
    id_prefix: "acti",
    path: Some("activity/sms"),
    label: "SMS",
    activity_type: Some("SMS"),
    timeline_type: Some("SMS"),
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
    rw("text", LONG_TEXT, "Message text."),
    rw("status", NAME, "sent, inbox, draft, …"),
    rw("local_phone", NAME, "Our number, E.164."),
    rw("remote_phone", NAME, "Their number, E.164."),
];
