//! A conversation (Rapport's chat; Close has no such kind): a visitor's chat with the team, on
//! one website.

use crate::kind::field_spec::{read_only, rw, FieldSpec, FieldType, ID, NAME};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "conversation",
    id_prefix: "conv",
    path: Some("conversation"),
    label: "conversation",
    activity_type: None,
    timeline_type: Some("Chat"),
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

pub const CONVERSATION_STATUSES: &[&str] = &["open", "pending", "resolved"];

const FIELDS: &[FieldSpec] = &[
    rw(
        "status",
        FieldType::Choice(CONVERSATION_STATUSES),
        "open, pending or resolved; a visitor message reopens a resolved conversation.",
    ),
    rw("assigned_to", FieldType::UserRef, "The operator who owns it."),
    read_only("website_id", ID, "Its website."),
    read_only("lead_id", ID, "The lead of the visitor, once they gave an email."),
    read_only("contact_id", ID, "The contact of the visitor, once they gave an email."),
    read_only("visitor_id", ID, "The visitor."),
    read_only("visitor_name", NAME, "The visitor's name, when given."),
    read_only(
        "visitor_email",
        FieldType::Text(320),
        "The visitor's email, when given.",
    ),
    read_only(
        "email_verified",
        FieldType::Bool,
        "Whether the email came with a valid identity hash.",
    ),
    read_only(
        "suggested_contact_id",
        ID,
        "The contact an unverified visitor email matches; `POST /conversation/{id}/link/` confirms it.",
    ),
    read_only(
        "unread",
        FieldType::Int { min: 0, max: i64::MAX },
        "Visitor messages no operator has read.",
    ),
    read_only(
        "last_message_at",
        FieldType::DateTime,
        "When its last message was written.",
    ),
    read_only(
        "last_message_preview",
        FieldType::Text(140),
        "The start of its last message that is not a private note.",
    ),
    read_only(
        "last_message_author",
        FieldType::Choice(&["visitor", "operator"]),
        "Who wrote that message.",
    ),
    read_only(
        "operator_read_at",
        FieldType::DateTime,
        "When an operator last read it.",
    ),
    read_only("visitor_read_at", FieldType::DateTime, "When the visitor last read it."),
];
