//! An email (Close's `activity.email`): a message sent to or received from a lead's contacts.

use crate::kind::field_spec::{rw, FieldSpec, FieldType, LONG_TEXT, NAME, TEXT};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "activity.email",
    id_prefix: "acti",
    path: Some("activity/email"),
    label: "email",
    activity_type: Some("Email"),
    timeline_type: Some("Email"),
    belongs_to_lead: true,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

/// Its own fields; `fields::specs` adds the fields every activity has.
const FIELDS: &[FieldSpec] = &[
    rw(
        "direction",
        FieldType::Choice(&["outgoing", "incoming"]),
        "outgoing (default) or incoming.",
    ),
    rw("subject", TEXT, "Subject line."),
    rw("body_text", LONG_TEXT, "Plain-text body."),
    rw(
        "body_html",
        LONG_TEXT,
        "HTML body, stored as given and never rendered unescaped.",
    ),
    rw(
        "status",
        FieldType::Choice(&["sent", "inbox", "draft", "scheduled", "outbox", "error"]),
        "sent (default), inbox, draft, …",
    ),
    rw("sender", NAME, "From address."),
    rw("to", FieldType::EmailAddresses, "Recipients."),
    rw("cc", FieldType::EmailAddresses, "Copies."),
    rw("bcc", FieldType::EmailAddresses, "Blind copies."),
    rw("opens", FieldType::Opens, "Times the email was opened."),
];
