//! A website (Rapport's chat inbox; Close has no such kind): the chat widget on a website and
//! who answers it.

use crate::kind::field_spec::{read_only, required, rw, FieldSpec, FieldType, ID, NAME, TEXT};
use crate::kind::KindSpec;

pub const SPEC: KindSpec = KindSpec {
    object_type: "website",
    id_prefix: "site",
    path: Some("website"),
    label: "website",
    activity_type: None,
    timeline_type: None,
    belongs_to_lead: false,
    custom_field_kind: None,
    is_custom_field: false,
    fields: FIELDS,
};

const FIELDS: &[FieldSpec] = &[
    required(
        "name",
        NAME,
        "The inbox's name, shown to operators and in the widget's header.",
    ),
    rw(
        "allowed_origins",
        FieldType::Labels,
        "Origins (`https://example.com`) whose pages may use the widget; empty: any.",
    ),
    rw(
        "operators",
        FieldType::Labels,
        "Ids of the users who answer this inbox and are notified; empty: every user.",
    ),
    rw(
        "slack_webhook_url",
        FieldType::Url,
        "A Slack incoming-webhook URL that receives every visitor message.",
    ),
    rw(
        "notify_delay_seconds",
        FieldType::Int { min: 0, max: 86_400 },
        "How long a visitor message may stay unread before operators are emailed (default 180).",
    ),
    rw("greeting", TEXT, "The first words the widget shows."),
    read_only("widget_key", ID, "The public key of the widget's `<script>` tag."),
    read_only(
        "identity_secret",
        ID,
        "Key of the HMAC-SHA256 of a visitor's email that `identify({email, hash})` must carry to be trusted; returned once, in the answer to the create (or to `rotate_secret`).",
    ),
];
