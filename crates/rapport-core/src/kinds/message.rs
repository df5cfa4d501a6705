//! A message (Rapport's chat; Close has no such kind): one message of a conversation, routed
//! under it (`/conversation/{id}/message/`), so it has no path of its own.

use crate::kind::field_spec::{create_only, read_only, required, FieldSpec, FieldType, ID};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "message",
    id_prefix: "msg",
    path: None,
    label: "message",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    required(
        "body",
        FieldType::Text(5_000),
        "The text, stored and shown as plain text.",
    ),
    create_only(
        "client_id",
        FieldType::Text(100),
        false,
        "An id chosen by the sender: sending again with it returns the first message.",
    ),
    create_only(
        "private",
        FieldType::Bool,
        false,
        "A note for operators only; the visitor never sees it.",
    ),
    read_only("conversation_id", ID, "Its conversation."),
    read_only("visitor_id", ID, "The conversation's visitor."),
    read_only("website_id", ID, "The conversation's website."),
    read_only(
        "author",
        FieldType::Choice(&["visitor", "operator", "system"]),
        "Who wrote it.",
    ),
    read_only("user_id", ID, "The operator who wrote it."),
];
