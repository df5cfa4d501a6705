//! The kinds of objects the CRM stores, with their Close names: the event `object_type`,
//! the id prefix and the REST path.

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

    /// The `_type` of an object on the timeline.
    pub fn timeline_type(self) -> Option<&'static str> {
        match self {
            Kind::Conversation => Some("Chat"),
            kind => kind.activity_type(),
        }
    }

    /// The `object_type` of this kind's events, as Close names it.
    pub fn object_type(self) -> &'static str {
        match self {
            Kind::Lead => "lead",
            Kind::Contact => "contact",
            Kind::LeadStatus => "status.lead",
            Kind::OpportunityStatus => "status.opportunity",
            Kind::Pipeline => "pipeline",
            Kind::Opportunity => "opportunity",
            Kind::Note => "activity.note",
            Kind::Call => "activity.call",
            Kind::Email => "activity.email",
            Kind::Sms => "activity.sms",
            Kind::Meeting => "activity.meeting",
            Kind::LeadStatusChange => "activity.lead_status_change",
            Kind::Task => "task.lead",
            Kind::LeadCustomField => "custom_field.lead",
            Kind::ContactCustomField => "custom_field.contact",
            Kind::OpportunityCustomField => "custom_field.opportunity",
            Kind::SavedSearch => "saved_search",
            Kind::WebhookSubscription => "webhook_subscription",
            Kind::Website => "website",
            Kind::Conversation => "conversation",
            Kind::Message => "message",
        }
    }

    pub fn from_object_type(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.object_type() == s)
    }

    /// The prefix of this kind's ids.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Kind::Lead => "lead",
            Kind::Contact => "cont",
            Kind::LeadStatus | Kind::OpportunityStatus => "stat",
            Kind::Pipeline => "pipe",
            Kind::Opportunity => "oppo",
            Kind::Note | Kind::Call | Kind::Email | Kind::Sms | Kind::Meeting | Kind::LeadStatusChange => "acti",
            Kind::Task => "task",
            Kind::LeadCustomField | Kind::ContactCustomField | Kind::OpportunityCustomField => "cf",
            Kind::SavedSearch => "save",
            Kind::WebhookSubscription => "whsub",
            Kind::Website => "site",
            Kind::Conversation => "conv",
            Kind::Message => "msg",
        }
    }

    /// The REST collection path under `/api/v1/`, without slashes. Status changes are
    /// made by the server when a lead's status changes; they have no route of their own.
    pub fn path(self) -> Option<&'static str> {
        Some(match self {
            Kind::Lead => "lead",
            Kind::Contact => "contact",
            Kind::LeadStatus => "status/lead",
            Kind::OpportunityStatus => "status/opportunity",
            Kind::Pipeline => "pipeline",
            Kind::Opportunity => "opportunity",
            Kind::Note => "activity/note",
            Kind::Call => "activity/call",
            Kind::Email => "activity/email",
            Kind::Sms => "activity/sms",
            Kind::Meeting => "activity/meeting",
            Kind::LeadStatusChange => return None,
            Kind::Task => "task",
            Kind::LeadCustomField => "custom_field/lead",
            Kind::ContactCustomField => "custom_field/contact",
            Kind::OpportunityCustomField => "custom_field/opportunity",
            Kind::SavedSearch => "saved_search",
            Kind::WebhookSubscription => "webhook",
            Kind::Website => "website",
            Kind::Conversation => "conversation",
            // Under their conversation: `/conversation/{id}/message/`.
            Kind::Message => return None,
        })
    }

    /// A human name for messages and documentation.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Lead => "lead",
            Kind::Contact => "contact",
            Kind::LeadStatus => "lead status",
            Kind::OpportunityStatus => "opportunity status",
            Kind::Pipeline => "pipeline",
            Kind::Opportunity => "opportunity",
            Kind::Note => "note",
            Kind::Call => "call",
            Kind::Email => "email",
            Kind::Sms => "SMS",
            Kind::Meeting => "meeting",
            Kind::LeadStatusChange => "lead status change",
            Kind::Task => "task",
            Kind::LeadCustomField => "lead custom field",
            Kind::ContactCustomField => "contact custom field",
            Kind::OpportunityCustomField => "opportunity custom field",
            Kind::SavedSearch => "Smart View",
            Kind::WebhookSubscription => "webhook subscription",
            Kind::Website => "website",
            Kind::Conversation => "conversation",
            Kind::Message => "message",
        }
    }

    /// Close's `_type` of an activity (`GET /activity/` mixes kinds).
    pub fn activity_type(self) -> Option<&'static str> {
        Some(match self {
            Kind::Note => "Note",
            Kind::Call => "Call",
            Kind::Email => "Email",
            Kind::Sms => "SMS",
            Kind::Meeting => "Meeting",
            Kind::LeadStatusChange => "LeadStatusChange",
            _ => return None,
        })
    }

    pub fn is_activity(self) -> bool {
        self.activity_type().is_some()
    }

    /// Whether objects of this kind hang from a lead (`lead_id`) and go with it.
    pub fn belongs_to_lead(self) -> bool {
        matches!(self, Kind::Contact | Kind::Opportunity | Kind::Task) || self.is_activity()
    }

    /// The kind of custom-field definitions whose values objects of this kind carry.
    pub fn custom_field_kind(self) -> Option<Kind> {
        match self {
            Kind::Lead => Some(Kind::LeadCustomField),
            Kind::Contact => Some(Kind::ContactCustomField),
            Kind::Opportunity => Some(Kind::OpportunityCustomField),
            _ => None,
        }
    }

    pub fn is_custom_field(self) -> bool {
        matches!(
            self,
            Kind::LeadCustomField | Kind::ContactCustomField | Kind::OpportunityCustomField
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_types_round_trip_and_are_unique() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_object_type(kind.object_type()), Some(kind));
        }
        let mut paths: Vec<_> = Kind::ALL.iter().filter_map(|k| k.path()).collect();
        paths.sort();
        paths.dedup();
        let routed = Kind::ALL.iter().filter(|k| k.path().is_some()).count();
        assert_eq!(paths.len(), routed);
        assert_eq!(
            routed,
            Kind::ALL.len() - 2,
            "status changes and messages have no route of their own"
        );
    }
}
