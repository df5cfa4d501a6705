//! The kinds of objects the CRM stores. What is static about each kind (its Close names:
//! the event `object_type`, the id prefix, the REST path; its label; its field table) is in
//! one file per kind under `src/kinds/`, as a `KindSpec`; `Kind::spec` picks it.
//!
//! A kind with no special behaviour is added here and in its own file: a module line below,
//! a variant of `Kind`, an entry of `Kind::ALL` (and of `ACTIVITIES` or `TIMELINE` if it is
//! listed there), and a line of `Kind::spec`.

use field_spec::FieldSpec;

// One file per kind (or per family Close treats as one), under `src/kinds/`, and what
// their field tables are written with.
#[path = "kinds/call.rs"]
pub(crate) mod call;
#[path = "kinds/contact.rs"]
pub(crate) mod contact;
#[path = "kinds/conversation.rs"]
pub(crate) mod conversation;
#[path = "kinds/custom_field.rs"]
pub(crate) mod custom_field;
#[path = "kinds/email.rs"]
pub(crate) mod email;
#[path = "kinds/field_spec.rs"]
pub(crate) mod field_spec;
#[path = "kinds/lead.rs"]
pub(crate) mod lead;
#[path = "kinds/lead_status_change.rs"]
pub(crate) mod lead_status_change;
#[path = "kinds/meeting.rs"]
pub(crate) mod meeting;
#[path = "kinds/message.rs"]
pub(crate) mod message;
#[path = "kinds/note.rs"]
pub(crate) mod note;
#[path = "kinds/opportunity.rs"]
pub(crate) mod opportunity;
#[path = "kinds/pipeline.rs"]
pub(crate) mod pipeline;
#[path = "kinds/saved_search.rs"]
pub(crate) mod saved_search;
#[path = "kinds/sms.rs"]
pub(crate) mod sms;
#[path = "kinds/status.rs"]
pub(crate) mod status;
#[path = "kinds/task.rs"]
pub(crate) mod task;
#[path = "kinds/webhook_subscription.rs"]
pub(crate) mod webhook_subscription;
#[path = "kinds/website.rs"]
pub(crate) mod website;

/// Everything static about an object kind. Each kind's is a `const` in its file under
/// `src/kinds/`.
#[derive(Debug)]
pub struct KindSpec {
    /// The `object_type` of its events, as Close names it; unique.
    pub object_type: &'static str,
    /// The prefix of its ids (kinds Close treats as one share it: `acti`, `stat`, `cf`).
    pub id_prefix: &'static str,
    /// Its REST collection path under `/api/v1/`, without slashes; unique. `None` for a kind
    /// without routes of its own (routed under another, or written by the server only).
    pub path: Option<&'static str>,
    /// A human name for messages and documentation ("a {label}").
    pub label: &'static str,
    /// Close's `_type` of an activity (`GET /activity/` mixes kinds); `None` for other kinds.
    pub activity_type: Option<&'static str>,
    /// Its `_type` on a lead's timeline, if listed there (`Kind::TIMELINE`).
    pub timeline_type: Option<&'static str>,
    /// Whether its objects hang from a lead (`lead_id`) and go with it.
    pub belongs_to_lead: bool,
    /// The kind of custom-field definitions whose values its objects carry (`custom.<id>`).
    pub custom_field_kind: Option<Kind>,
    /// Whether its objects are custom-field definitions.
    pub is_custom_field: bool,
    /// Its own fields in document order, without `fields::COMMON_FIELDS` and, for an
    /// activity, without the fields every activity has (`fields::specs` adds them).
    pub fields: &'static [FieldSpec],
}

/// An object kind stored in the generic object table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Lead,
    Contact,
    LeadStatus,
    OpportunityStatus,
    Pipeline,
    Opportunity,
    Note,
    Call,
    Email,
    Sms,
    Meeting,
    LeadStatusChange,
    Task,
    LeadCustomField,
    ContactCustomField,
    OpportunityCustomField,
    /// A saved lead search (a Smart View).
    SavedSearch,
    /// Where to send events: a signed HTTP POST (Close's webhooks) or a Slack channel.
    WebhookSubscription,
    /// A chat inbox: the widget on a website and who answers it.
    Website,
    /// A visitor's chat with the team, on one website.
    Conversation,
    /// One message of a conversation (`/conversation/{id}/message/`).
    Message,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::Lead,
        Kind::Contact,
        Kind::LeadStatus,
        Kind::OpportunityStatus,
        Kind::Pipeline,
        Kind::Opportunity,
        Kind::Note,
        Kind::Call,
        Kind::Email,
        Kind::Sms,
        Kind::Meeting,
        Kind::LeadStatusChange,
        Kind::Task,
        Kind::LeadCustomField,
        Kind::ContactCustomField,
        Kind::OpportunityCustomField,
        Kind::SavedSearch,
        Kind::WebhookSubscription,
        Kind::Website,
        Kind::Conversation,
        Kind::Message,
    ];

    /// Activities listed together by `GET /activity/`.
    pub const ACTIVITIES: [Kind; 6] = [
        Kind::Note,
        Kind::Call,
        Kind::Email,
        Kind::Sms,
        Kind::Meeting,
        Kind::LeadStatusChange,
    ];

    /// What a lead's timeline (`GET /activity/`) lists: the activities, and the lead's chat
    /// conversations as `Chat`.
    pub const TIMELINE: [Kind; 7] = [
        Kind::Note,
        Kind::Call,
        Kind::Email,
        Kind::Sms,
        Kind::Meeting,
        Kind::LeadStatusChange,
        Kind::Conversation,
    ];

    /// Everything static about this kind, from its file under `src/kinds/`.
    pub fn spec(self) -> &'static KindSpec {
        match self {
            Kind::Lead => &lead::SPEC,
            Kind::Contact => &contact::SPEC,
            Kind::LeadStatus => &status::LEAD,
            Kind::OpportunityStatus => &status::OPPORTUNITY,
            Kind::Pipeline => &pipeline::SPEC,
            Kind::Opportunity => &opportunity::SPEC,
            Kind::Note => &note::SPEC,
            Kind::Call => &call::SPEC,
            Kind::Email => &email::SPEC,
            Kind::Sms => &sms::SPEC,
            Kind::Meeting => &meeting::SPEC,
            Kind::LeadStatusChange => &lead_status_change::SPEC,
            Kind::Task => &task::SPEC,
            Kind::LeadCustomField => &custom_field::LEAD,
            Kind::ContactCustomField => &custom_field::CONTACT,
            Kind::OpportunityCustomField => &custom_field::OPPORTUNITY,
            Kind::SavedSearch => &saved_search::SPEC,
            Kind::WebhookSubscription => &webhook_subscription::SPEC,
            Kind::Website => &website::SPEC,
            Kind::Conversation => &conversation::SPEC,
            Kind::Message => &message::SPEC,
        }
    }

    /// The `_type` of an object on the timeline.
    pub fn timeline_type(self) -> Option<&'static str> {
        self.spec().timeline_type
    }

    /// The `object_type` of this kind's events, as Close names it.
    pub fn object_type(self) -> &'static str {
        self.spec().object_type
    }

    pub fn from_object_type(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.object_type() == s)
    }

    /// The prefix of this kind's ids.
    pub fn id_prefix(self) -> &'static str {
        self.spec().id_prefix
    }

    /// The REST collection path under `/api/v1/`, without slashes. Status changes are
    /// made by the server when a lead's status changes; they have no route of their own.
    pub fn path(self) -> Option<&'static str> {
        self.spec().path
    }

    /// A human name for messages and documentation.
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// Close's `_type` of an activity (`GET /activity/` mixes kinds).
    pub fn activity_type(self) -> Option<&'static str> {
        self.spec().activity_type
    }

    pub fn is_activity(self) -> bool {
        self.activity_type().is_some()
    }

    /// Whether objects of this kind hang from a lead (`lead_id`) and go with it.
    pub fn belongs_to_lead(self) -> bool {
        self.spec().belongs_to_lead
    }

    /// The kind of custom-field definitions whose values objects of this kind carry.
    pub fn custom_field_kind(self) -> Option<Kind> {
        self.spec().custom_field_kind
    }

    pub fn is_custom_field(self) -> bool {
        self.spec().is_custom_field
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::fields::{specs, Access, FieldType, COMMON_FIELDS};

    /// The values of `f` over `Kind::ALL`, `None`s left out, each at most once.
    fn assert_unique<T: std::hash::Hash + Eq + std::fmt::Debug>(what: &str, f: impl Fn(Kind) -> Option<T>) {
        let mut seen = HashSet::new();
        for kind in Kind::ALL {
            if let Some(v) = f(kind) {
                assert!(seen.insert(v), "{kind:?}: its {what} is another kind's too");
            }
        }
    }

    #[test]
    fn kinds_are_listed_once() {
        assert_unique("place in Kind::ALL", Some);
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        assert_unique("object_type", |k| Some(k.object_type()));
        assert_unique("path", Kind::path);
        assert_unique("label", |k| Some(k.label()));
        assert_unique("activity type", Kind::activity_type);
        assert_unique("timeline type", Kind::timeline_type);
        for kind in Kind::ALL {
            assert_eq!(Kind::from_object_type(kind.object_type()), Some(kind));
            let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b"._/".contains(&b));
            assert!(lower(kind.object_type()), "{kind:?}: object_type");
            assert!(
                lower(kind.id_prefix()) && !kind.id_prefix().contains(['.', '/']),
                "{kind:?}: id prefix"
            );
            if let Some(path) = kind.path() {
                assert!(
                    lower(path) && !path.starts_with('/') && !path.ends_with('/'),
                    "{kind:?}: path"
                );
            }
            assert!(!kind.label().is_empty(), "{kind:?}: label");
        }
        assert_eq!(Kind::from_object_type("nope"), None);
    }

    #[test]
    fn lists_match_the_specs() {
        let activities: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_activity()).collect();
        assert_eq!(
            activities,
            Kind::ACTIVITIES,
            "Kind::ACTIVITIES: the kinds with an activity type"
        );
        let timeline: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.timeline_type().is_some()).collect();
        assert_eq!(
            timeline,
            Kind::TIMELINE,
            "Kind::TIMELINE: the kinds with a timeline type"
        );
        for kind in Kind::ACTIVITIES {
            assert_eq!(kind.timeline_type(), kind.activity_type(), "{kind:?}");
            assert!(kind.belongs_to_lead(), "{kind:?}: an activity belongs to its lead");
        }
    }

    #[test]
    fn custom_fields_are_defined_by_one_kind_each() {
        assert_unique("custom-field kind", Kind::custom_field_kind);
        let targets: HashSet<Kind> = Kind::ALL.into_iter().filter_map(Kind::custom_field_kind).collect();
        let definitions: HashSet<Kind> = Kind::ALL.into_iter().filter(|k| k.is_custom_field()).collect();
        assert_eq!(targets, definitions);
    }

    #[test]
    fn field_tables_are_consistent() {
        for kind in Kind::ALL {
            let own = specs(kind);
            if kind.path().is_some() {
                assert!(!kind.spec().fields.is_empty(), "{kind:?}: a routed kind has fields");
            }
            let mut names = HashSet::new();
            for spec in COMMON_FIELDS.iter().chain(&own) {
                assert!(names.insert(spec.name), "{kind:?}: field `{}` twice", spec.name);
                assert!(
                    !spec.name.is_empty() && !spec.doc.is_empty(),
                    "{kind:?}: `{}`",
                    spec.name
                );
                if spec.required {
                    assert!(
                        matches!(spec.access, Access::ReadWrite | Access::CreateOnly),
                        "{kind:?}: `{}` is required but cannot be written",
                        spec.name
                    );
                }
            }
            if kind.belongs_to_lead() {
                let lead_id = own.iter().find(|s| s.name == "lead_id");
                assert!(
                    lead_id.is_some_and(|s| s.ty == FieldType::Ref(Kind::Lead)),
                    "{kind:?}: a kind that belongs to a lead has a `lead_id` referring to it"
                );
            }
        }
    }
}
