//! What each kind of object accepts and returns. One table drives input validation, the
//! stored document and the OpenAPI schemas, so the three cannot drift apart.

use serde_json::{Map, Value};

use crate::kind::Kind;
use crate::time;
use crate::validate::{self, FieldErrors};

/// How a field's value is checked and normalized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// A string of at most this many characters.
    Text(usize),
    Int {
        min: i64,
        max: i64,
    },
    Number,
    Bool,
    DateTime,
    Date,
    /// A calendar date or a date-time (task due dates).
    DateOrDateTime,
    /// One of a closed set of values.
    Choice(&'static [&'static str]),
    Url,
    /// The id of an object of this kind in the same organization (checked by the store).
    Ref(Kind),
    /// The id of a user of the organization.
    UserRef,
    /// A list of plain strings (custom field choices).
    Labels,
    /// A list of email addresses (an email's `to`, `cc`, `bcc`).
    EmailAddresses,
    /// `[{"email", "type"}]`
    Emails,
    /// `[{"phone", "type"}]`, stored in E.164.
    Phones,
    /// `[{"url", "type"}]`
    Urls,
    /// `[{"label", "address_1", "address_2", "city", "state", "zipcode", "country"}]`
    Addresses,
    /// `[{"opened_at", "opened_by", "ip_address", "user_agent"}]`
    Opens,
    /// Contacts created with a lead: each one a contact's input.
    Contacts,
    /// `[{"object_type", "action"}]`: the events a webhook subscription receives.
    EventFilters,
}

/// Who may set a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Set on create, changed with PUT.
    ReadWrite,
    /// Set on create only.
    CreateOnly,
    /// Computed by the server; refused on input.
    ReadOnly,
    /// Accepted on create (and PUT if `update`), turned into other fields, never stored.
    WriteOnly { update: bool },
}

#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub access: Access,
    pub required: bool,
    pub doc: &'static str,
}

const fn rw(name: &'static str, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::ReadWrite,
        required: false,
        doc,
    }
}
const fn required(name: &'static str, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::ReadWrite,
        required: true,
        doc,
    }
}
const fn create_only(name: &'static str, ty: FieldType, required: bool, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::CreateOnly,
        required,
        doc,
    }
}
const fn read_only(name: &'static str, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::ReadOnly,
        required: false,
        doc,
    }
}
const fn write_only(name: &'static str, ty: FieldType, update: bool, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::WriteOnly { update },
        required: false,
        doc,
    }
}

const TEXT: FieldType = FieldType::Text(10_000);
const LONG_TEXT: FieldType = FieldType::Text(1_000_000);
const NAME: FieldType = FieldType::Text(500);
const ID: FieldType = FieldType::Text(64);

pub const CUSTOM_FIELD_TYPES: &[&str] = &["text", "number", "date", "datetime", "choices", "user"];
pub const STATUS_TYPES: &[&str] = &["active", "won", "lost"];

/// Fields every stored object returns.
pub const COMMON_FIELDS: &[FieldSpec] = &[
    read_only("id", ID, "Prefixed random id."),
    read_only("organization_id", ID, "The organization the object belongs to."),
    read_only("date_updated", FieldType::DateTime, "Last change."),
    read_only("created_by", ID, "User who created it."),
    read_only("updated_by", ID, "User who changed it last."),
];

const LEAD: &[FieldSpec] = &[
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

const CONTACT: &[FieldSpec] = &[
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

const LEAD_STATUS: &[FieldSpec] = &[required("label", NAME, "Status label, unique in the organization.")];

const OPPORTUNITY_STATUS: &[FieldSpec] = &[
    required("label", NAME, "Status label, unique in its pipeline."),
    create_only(
        "status_type",
        FieldType::Choice(STATUS_TYPES),
        false,
        "active (default), won or lost.",
    ),
    create_only(
        "pipeline_id",
        FieldType::Ref(Kind::Pipeline),
        false,
        "Pipeline; the organization's first when omitted.",
    ),
];

const PIPELINE: &[FieldSpec] = &[
    required("name", NAME, "Pipeline name."),
    read_only("statuses", FieldType::Labels, "The pipeline's opportunity statuses."),
];

const OPPORTUNITY: &[FieldSpec] = &[
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

/// Fields shared by every activity; each kind adds its own.
const ACTIVITY_FIELDS: &[FieldSpec] = &[
    create_only("lead_id", FieldType::Ref(Kind::Lead), true, "The activity's lead."),
    rw("contact_id", FieldType::Ref(Kind::Contact), "Contact on the same lead."),
    rw(
        "user_id",
        FieldType::UserRef,
        "User who did it; the caller when omitted.",
    ),
    rw(
        "activity_at",
        FieldType::DateTime,
        "When it happened; now when omitted.",
    ),
    create_only("date_created", FieldType::DateTime, false, "When it was recorded."),
    read_only(
        "_type",
        NAME,
        "Activity kind: Note, Call, Email, SMS, Meeting, LeadStatusChange.",
    ),
];

const NOTE: &[FieldSpec] = &[rw("note", LONG_TEXT, "The note.")];

const CALL: &[FieldSpec] = &[
    rw(
        "direction",
        FieldType::Choice(&["outbound", "inbound"]),
        "outbound (default) or inbound.",
    ),
    rw("duration", FieldType::Int { min: 0, max: i64::MAX }, "Seconds."),
    rw("note", LONG_TEXT, "Call notes."),
    rw("status", NAME, "completed, no-answer, busy, …"),
    rw("phone", NAME, "Number called, E.164."),
];

const EMAIL: &[FieldSpec] = &[
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

const SMS: &[FieldSpec] = &[
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

const MEETING: &[FieldSpec] = &[
    rw("title", NAME, "Meeting title."),
    rw("starts_at", FieldType::DateTime, "Start; `activity_at` defaults to it."),
    rw("ends_at", FieldType::DateTime, "End."),
    rw("location", NAME, "Where."),
    rw("note", LONG_TEXT, "Notes."),
];

const LEAD_STATUS_CHANGE: &[FieldSpec] = &[
    read_only("old_status_id", ID, "Previous status."),
    read_only("old_status_label", NAME, "Previous status label."),
    read_only("new_status_id", ID, "New status."),
    read_only("new_status_label", NAME, "New status label."),
];

const TASK: &[FieldSpec] = &[
    create_only("lead_id", FieldType::Ref(Kind::Lead), true, "The task's lead."),
    required("text", TEXT, "What to do."),
    rw("date", FieldType::DateOrDateTime, "Due date or time."),
    rw("assigned_to", FieldType::UserRef, "Assignee; the caller when omitted."),
    rw("is_complete", FieldType::Bool, "Done."),
    create_only("date_created", FieldType::DateTime, false, "Creation time."),
    read_only("_type", NAME, "Always `lead`."),
];

const CUSTOM_FIELD: &[FieldSpec] = &[
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

const SAVED_SEARCH: &[FieldSpec] = &[
    required("name", NAME, "Name shown in the sidebar; `in:\"name\"` refers to it."),
    required(
        "query",
        TEXT,
        "The lead search query; it must parse and refer to known fields, statuses, users and views.",
    ),
    rw(
        "is_shared",
        FieldType::Bool,
        "Whether the whole organization sees it (else only its owner).",
    ),
    rw("selected_fields", FieldType::Labels, "Columns shown for its results."),
    read_only("user_id", ID, "Its owner."),
];

pub const CONVERSATION_STATUSES: &[&str] = &["open", "pending", "resolved"];

const WEBSITE: &[FieldSpec] = &[
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

const CONVERSATION: &[FieldSpec] = &[
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

const MESSAGE: &[FieldSpec] = &[
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

/// Actions an event can record (`created`, `updated`, `deleted`).
pub const EVENT_ACTIONS: &[&str] = &["created", "updated", "deleted"];
pub const WEBHOOK_STATUSES: &[&str] = &["active", "paused"];

const WEBHOOK_SUBSCRIPTION: &[FieldSpec] = &[
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

/// The kind's own fields (without `COMMON_FIELDS`), in document order.
pub fn specs(kind: Kind) -> Vec<FieldSpec> {
    let own: &[FieldSpec] = match kind {
        Kind::Lead => LEAD,
        Kind::Contact => CONTACT,
        Kind::LeadStatus => LEAD_STATUS,
        Kind::OpportunityStatus => OPPORTUNITY_STATUS,
        Kind::Pipeline => PIPELINE,
        Kind::Opportunity => OPPORTUNITY,
        Kind::Note => NOTE,
        Kind::Call => CALL,
        Kind::Email => EMAIL,
        Kind::Sms => SMS,
        Kind::Meeting => MEETING,
        Kind::LeadStatusChange => LEAD_STATUS_CHANGE,
        Kind::Task => TASK,
        Kind::LeadCustomField | Kind::ContactCustomField | Kind::OpportunityCustomField => CUSTOM_FIELD,
        Kind::SavedSearch => SAVED_SEARCH,
        Kind::WebhookSubscription => WEBHOOK_SUBSCRIPTION,
        Kind::Website => WEBSITE,
        Kind::Conversation => CONVERSATION,
        Kind::Message => MESSAGE,
    };
    if kind.is_activity() {
        ACTIVITY_FIELDS.iter().chain(own).copied().collect()
    } else {
        own.to_vec()
    }
}

/// Whether input is for a new object or changes an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Checks input against the kind's fields: unknown and read-only fields, types, formats,
/// required fields. Returns the normalized values (`null` kept: it clears a field) and the
/// `custom.<id>` entries left for the caller, which knows the custom-field definitions.
pub fn check_input(
    kind: Kind,
    input: &Map<String, Value>,
    mode: Mode,
    phone_region: &str,
) -> Result<Checked, FieldErrors> {
    let specs = specs(kind);
    let mut errors = FieldErrors::new();
    for (name, value) in input {
        crate::validate::refuse_nul(value, name, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut checked = Checked::default();
    for (name, value) in input {
        if let Some(cf_id) = name.strip_prefix("custom.") {
            if kind.custom_field_kind().is_some() {
                checked.custom.push((cf_id.to_string(), value.clone()));
            } else {
                errors.add(name, format!("a {} has no custom fields", kind.label()));
            }
            continue;
        }
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            if COMMON_FIELDS.iter().any(|s| s.name == name) {
                errors.add(name, "this field is read-only");
            } else {
                errors.add(name, format!("unknown field for a {}", kind.label()));
            }
            continue;
        };
        let writable = match (spec.access, mode) {
            (Access::ReadOnly, _) => false,
            (Access::CreateOnly, m) => m == Mode::Create,
            (Access::WriteOnly { update }, Mode::Update) => update,
            _ => true,
        };
        if !writable {
            let why = if spec.access == Access::ReadOnly {
                "this field is read-only"
            } else {
                "this field cannot be changed after creation"
            };
            errors.add(name, why);
            continue;
        }
        if value.is_null() {
            if spec.required {
                errors.add(name, "this field is required");
            } else {
                checked.values.insert(name.clone(), Value::Null);
            }
            continue;
        }
        match check_value(spec.ty, value, phone_region) {
            Ok(v) => {
                checked.values.insert(name.clone(), v);
            }
            Err(e) => errors.merge_prefixed(name, e),
        }
    }
    if mode == Mode::Create {
        for spec in specs.iter().filter(|s| s.required) {
            if !input.contains_key(spec.name) {
                errors.add(spec.name, "this field is required");
            }
        }
    }
    errors.into_result(checked)
}

/// The outcome of `check_input`.
#[derive(Debug, Default)]
pub struct Checked {
    pub values: Map<String, Value>,
    /// `(custom field id, raw value)` pairs in input order.
    pub custom: Vec<(String, Value)>,
}

/// Checks one value; errors are keyed by the path *below* the field (`""` for the field
/// itself, `[0].email` inside lists), so callers prefix them with the field's name.
pub fn check_value(ty: FieldType, value: &Value, phone_region: &str) -> Result<Value, FieldErrors> {
    let here = |msg: String| FieldErrors::field("", msg);
    match ty {
        FieldType::Text(max) => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a string, got {}", type_name(value))))?;
            if s.chars().count() > max {
                return Err(here(format!("must be at most {max} characters")));
            }
            Ok(Value::String(s.to_string()))
        }
        FieldType::Ref(_) | FieldType::UserRef => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected an id string, got {}", type_name(value))))?;
            Ok(Value::String(s.trim().to_string()))
        }
        FieldType::Int { min, max } => {
            let n = value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| here(format!("expected an integer, got {}", type_name(value))))?;
            if n < min || n > max {
                return Err(here(format!("must be between {min} and {max}")));
            }
            Ok(Value::from(n))
        }
        FieldType::Number => value
            .as_f64()
            .map(|_| value.clone())
            .ok_or_else(|| here(format!("expected a number, got {}", type_name(value)))),
        FieldType::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| here(format!("expected true or false, got {}", type_name(value)))),
        FieldType::DateTime => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected an ISO 8601 date-time, got {}", type_name(value))))?;
            let t = time::parse_datetime(s).ok_or_else(|| here(format!("`{s}` is not an ISO 8601 date-time")))?;
            Ok(Value::String(time::format(t)))
        }
        FieldType::Date => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a date YYYY-MM-DD, got {}", type_name(value))))?;
            let d = time::parse_date(s).ok_or_else(|| here(format!("`{s}` is not a date YYYY-MM-DD")))?;
            Ok(Value::String(d.format("%Y-%m-%d").to_string()))
        }
        FieldType::DateOrDateTime => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a date or date-time, got {}", type_name(value))))?;
            if let Some(d) = time::parse_date(s) {
                return Ok(Value::String(d.format("%Y-%m-%d").to_string()));
            }
            let t =
                time::parse_datetime(s).ok_or_else(|| here(format!("`{s}` is not a date or ISO 8601 date-time")))?;
            Ok(Value::String(time::format(t)))
        }
        FieldType::Choice(options) => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected one of {}", options.join(", "))))?;
            options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(s.trim()))
                .map(|o| Value::String(o.to_string()))
                .ok_or_else(|| here(format!("`{s}` is not one of {}", options.join(", "))))
        }
        FieldType::Url => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a URL string, got {}", type_name(value))))?;
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            validate::url(s).map(Value::String).map_err(here)
        }
        FieldType::Labels => {
            let items = list(value)?;
            let mut out = Vec::with_capacity(items.len());
            let mut errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::trim) {
                    Some(s) if s.chars().count() > validate::MAX_LABEL_CHARS => errors.add(
                        format!("[{i}]"),
                        format!("at most {} characters", validate::MAX_LABEL_CHARS),
                    ),
                    Some(s) if !s.is_empty() => out.push(Value::String(s.to_string())),
                    _ => errors.add(format!("[{i}]"), "expected a non-empty string"),
                }
            }
            errors.into_result(Value::Array(out))
        }
        FieldType::EmailAddresses => {
            let items = list(value)?;
            let mut out = Vec::with_capacity(items.len());
            let mut errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(validate::email) {
                    Some(Ok(e)) => out.push(Value::String(e)),
                    Some(Err(msg)) => errors.add(format!("[{i}]"), msg),
                    None => errors.add(format!("[{i}]"), "expected an email address string"),
                }
            }
            errors.into_result(Value::Array(out))
        }
        FieldType::Emails => typed_list(value, "email", "office", validate::email),
        // The display form is computed once here: parsing a number is too slow to do on every read.
        // `phone_formatted` is accepted (and recomputed) so a client can send back what it read.
        FieldType::Phones => objects(value, &["phone", "type", "phone_formatted"], |_, mut obj, errors| {
            match obj
                .get("phone")
                .and_then(Value::as_str)
                .map(|s| validate::phone_e164(s, phone_region))
            {
                Some(Ok(e164)) => {
                    obj.insert(
                        "phone_formatted".into(),
                        Value::String(validate::phone_formatted(&e164)),
                    );
                    obj.insert("phone".into(), Value::String(e164));
                }
                Some(Err(msg)) => errors.add("phone", msg),
                None => errors.add("phone", "this field is required"),
            }
            if obj.get("type").is_none_or(Value::is_null) {
                obj.insert("type".into(), Value::String("office".into()));
            }
            Ok(obj)
        }),
        FieldType::Urls => typed_list(value, "url", "url", validate::url),
        FieldType::Addresses => objects(value, ADDRESS_PARTS, |_, obj, _| Ok(obj)),
        FieldType::Opens => objects(
            value,
            &["opened_at", "opened_by", "ip_address", "user_agent"],
            |_, mut obj, errors| {
                match obj
                    .get("opened_at")
                    .and_then(Value::as_str)
                    .and_then(time::parse_datetime)
                {
                    Some(t) => {
                        obj.insert("opened_at".into(), Value::String(time::format(t)));
                    }
                    None => errors.add("opened_at", "an ISO 8601 date-time is required"),
                }
                Ok(obj)
            },
        ),
        FieldType::EventFilters => event_filters(value),
        FieldType::Contacts => {
            let items = list(value)?;
            let mut errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_object() {
                    Some(obj) => {
                        if let Err(e) = check_input(Kind::Contact, obj, Mode::Create, phone_region) {
                            errors.merge_prefixed(&format!("[{i}]."), e);
                        }
                        if obj.contains_key("lead_id") {
                            errors.add(format!("[{i}].lead_id"), "contacts created with a lead belong to it");
                        }
                    }
                    None => errors.add(format!("[{i}]"), "expected a contact object"),
                }
            }
            // The contacts are checked and normalized again when they are created.
            errors.into_result(value.clone())
        }
    }
}

/// `[{"object_type", "action"}]` with known object types and actions.
fn event_filters(value: &Value) -> Result<Value, FieldErrors> {
    let checked = objects(value, &["object_type", "action"], |_, obj, errors| {
        match obj.get("object_type").and_then(Value::as_str) {
            Some(t) if Kind::from_object_type(t).is_some() => {}
            Some(t) => errors.add("object_type", format!("`{t}` is not an object type of the event log")),
            None => errors.add("object_type", "this field is required"),
        }
        match obj.get("action").and_then(Value::as_str) {
            Some(a) if EVENT_ACTIONS.contains(&a) => {}
            Some(a) => errors.add("action", format!("`{a}` is not one of {}", EVENT_ACTIONS.join(", "))),
            None => errors.add("action", "this field is required"),
        }
        Ok(obj)
    })?;
    if checked.as_array().is_some_and(Vec::is_empty) {
        return Err(FieldErrors::field("", "subscribe to at least one event"));
    }
    Ok(checked)
}

pub const ADDRESS_PARTS: &[&str] = &["label", "address_1", "address_2", "city", "state", "zipcode", "country"];

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn list(value: &Value) -> Result<&Vec<Value>, FieldErrors> {
    let items = value
        .as_array()
        .ok_or_else(|| FieldErrors::field("", format!("expected a list, got {}", type_name(value))))?;
    if items.len() > validate::MAX_LIST_ITEMS {
        return Err(FieldErrors::field(
            "",
            format!("at most {} items", validate::MAX_LIST_ITEMS),
        ));
    }
    Ok(items)
}

/// The longest string inside a list's object (an address line, a user agent).
const MAX_PART_CHARS: usize = 2_000;

/// A list of objects whose keys are all in `allowed` and whose values are strings or null;
/// `finish` checks and normalizes each one further.
fn objects(
    value: &Value,
    allowed: &[&str],
    finish: impl Fn(usize, Map<String, Value>, &mut FieldErrors) -> Result<Map<String, Value>, ()>,
) -> Result<Value, FieldErrors> {
    let items = list(value)?;
    let mut errors = FieldErrors::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            errors.add(format!("[{i}]"), "expected an object");
            continue;
        };
        let mut item_errors = FieldErrors::new();
        let mut clean = Map::new();
        for (k, v) in obj {
            if !allowed.contains(&k.as_str()) {
                item_errors.add(k, format!("unknown field; expected one of {}", allowed.join(", ")));
            } else if !(v.is_string() || v.is_null()) {
                item_errors.add(k, format!("expected a string, got {}", type_name(v)));
            } else if v.as_str().is_some_and(|s| s.chars().count() > MAX_PART_CHARS) {
                item_errors.add(k, format!("at most {MAX_PART_CHARS} characters"));
            } else {
                clean.insert(k.clone(), v.clone());
            }
        }
        if let Ok(clean) = finish(i, clean, &mut item_errors) {
            out.push(Value::Object(clean));
        }
        errors.merge_prefixed(&format!("[{i}]."), item_errors);
    }
    errors.into_result(Value::Array(out))
}

/// `[{"<key>": "...", "type": "..."}]` with each value checked by `check`.
fn typed_list(
    value: &Value,
    key: &'static str,
    default_type: &'static str,
    check: impl Fn(&str) -> Result<String, String>,
) -> Result<Value, FieldErrors> {
    objects(value, &[key, "type"], |_, mut obj, errors| {
        match obj.get(key).and_then(Value::as_str).map(&check) {
            Some(Ok(v)) => {
                obj.insert(key.into(), Value::String(v));
            }
            Some(Err(msg)) => errors.add(key, msg),
            None => errors.add(key, "this field is required"),
        }
        if obj.get("type").is_none_or(Value::is_null) {
            obj.insert("type".into(), Value::String(default_type.into()));
        }
        Ok(obj)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: Kind, input: Value, mode: Mode) -> Result<Value, Value> {
        check_input(kind, input.as_object().unwrap(), mode, "US")
            .map(|c| Value::Object(c.values))
            .map_err(|e| json!(e.fields))
    }

    #[test]
    fn normalizes_contact_values() {
        let out = check(
            Kind::Contact,
            json!({"name": "Jo", "emails": [{"email": " jo@acme.com "}], "phones": [{"phone": "415 555 0123", "type": "mobile"}]}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(out["emails"], json!([{"email": "jo@acme.com", "type": "office"}]));
        assert_eq!(
            out["phones"],
            json!([{"phone": "+14155550123", "type": "mobile", "phone_formatted": "+1 415-555-0123"}])
        );
    }

    #[test]
    fn names_each_bad_field() {
        let errors = check(
            Kind::Lead,
            json!({"name": 3, "url": "not a url", "bogus": 1, "id": "lead_x", "status_label": "x",
                   "contacts": [{"emails": [{"email": "nope"}]}], "addresses": [{"city": "Paris", "planet": "Mars"}]}),
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            json!({
                "addresses[0].planet": "unknown field; expected one of label, address_1, address_2, city, state, zipcode, country",
                "bogus": "unknown field for a lead",
                "contacts[0].emails[0].email": "`nope` is not a valid email address",
                "id": "this field is read-only",
                "name": "expected a string, got a number",
                "status_label": "this field is read-only",
                "url": "`not a url` is not a valid URL",
            })
        );
    }

    #[test]
    fn required_and_create_only_fields() {
        assert_eq!(
            check(Kind::Task, json!({}), Mode::Create).unwrap_err(),
            json!({"lead_id": "this field is required", "text": "this field is required"})
        );
        assert_eq!(
            check(Kind::Task, json!({"lead_id": "lead_x"}), Mode::Update).unwrap_err(),
            json!({"lead_id": "this field cannot be changed after creation"})
        );
        assert_eq!(
            check(Kind::Task, json!({"text": null}), Mode::Update).unwrap_err(),
            json!({"text": "this field is required"})
        );
    }

    #[test]
    fn numbers_dates_and_choices() {
        let out = check(
            Kind::Opportunity,
            json!({"lead_id": "lead_x", "value": 150000.0, "confidence": 80, "close_date": "2024-06-30", "value_period": "MONTHLY"}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(out["value"], json!(150000));
        assert_eq!(out["value_period"], json!("monthly"));
        let errors = check(
            Kind::Opportunity,
            json!({"lead_id": "l", "confidence": 101, "close_date": "June", "value": 1.5}),
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            json!({"close_date": "`June` is not a date YYYY-MM-DD", "confidence": "must be between 0 and 100", "value": "expected an integer, got a number"})
        );
    }

    #[test]
    fn custom_values_are_passed_through_for_the_caller() {
        let checked = check_input(
            Kind::Lead,
            json!({"custom.cf_1": "x"}).as_object().unwrap(),
            Mode::Create,
            "US",
        )
        .unwrap();
        assert_eq!(checked.custom, vec![("cf_1".to_string(), json!("x"))]);
        assert!(check(Kind::Task, json!({"custom.cf_1": "x"}), Mode::Update).is_err());
    }
}
