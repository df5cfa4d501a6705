//! A webhook subscription (Close's `webhook_subscription`, routed at `/webhook/`): where to send
//! events, a signed HTTP POST (Close's webhooks) or a Slack channel.

use crate::kind::field_spec::{create_only, read_only, required, rw, FieldSpec, FieldType, ID, TEXT};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "webhook_subscription",
    id_prefix: "whsub",
    path: Some("webhook"),
    label: "webhook subscription",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

pub const WEBHOOK_STATUSES: &[&str] = &["active", "paused"];

const FIELDS: &[FieldSpec] = &[
    required("url", FieldType::Url, "Where events are POSTed (http or https)."),
    required(
        "events",
        FieldType::EventFilters,
        "The events to send: `[{\"object_type\": \"lead\", \"action\": \"created\"}]`.",
    ),
    rw(
        "status",
        FieldType::Choice(WEBHOOK_STATUSES),
        "active (default) or paused; a subscription whose deliveries fail for 3 days pauses itself.",
    ),
    create_only(
        "target",
        FieldType::Choice(&["webhook", "slack"]),
        false,
        "webhook (default): a signed POST of the event; slack: a message to a Slack incoming-webhook URL.",
    ),
    read_only(
        "signature_key",
        ID,
        "Hex key of the `close-sig-hash` HMAC; returned once, in the answer to the create.",
    ),
    read_only(
        "failing_since",
        FieldType::DateTime,
        "First failed delivery since the last success.",
    ),
    read_only("paused_reason", TEXT, "Why the subscription paused itself."),
];
