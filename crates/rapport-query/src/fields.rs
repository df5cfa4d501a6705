//! The built-in fields of §3: their names, what they hold and how they are reached.

use crate::ast::ObjectType;
use crate::filter::{Counted, Field, Latest};

/// Where a clause is evaluated: on the lead, or on one object inside a related clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Lead,
    Object(ObjectType),
}

/// How a field's values are matched, which decides the operators and values it takes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueType {
    /// Words; `:` only.
    Text,
    /// Digits anywhere in the number; `:` only.
    Phone,
    /// Exact and case-sensitive; `:` only.
    Id,
    /// One of a closed set of labels, case- and accent-insensitive.
    Label(LabelSet),
    /// A label from an open set (`direction`, activity `status`): any value is accepted
    /// and an unknown one matches nothing.
    OpenLabel,
    User,
    Number,
    /// Currency units; the data holds cents.
    Money,
    Count,
    /// `never` is accepted only by activity dates.
    Date {
        activity: bool,
    },
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LabelSet {
    LeadStatuses,
    OpportunityStatuses,
    StatusTypes,
    Choices(Vec<String>),
}

/// How a lead-level field reaches its values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Route {
    /// The lead's (or the object's) own field.
    Own,
    /// Any related object of that kind (`email` is any contact's email).
    Any(ObjectType),
    /// Any task that is not done (`task_due`).
    IncompleteTask,
}

pub(crate) struct Builtin {
    pub field: Field,
    pub value_type: ValueType,
    pub route: Route,
}

fn own(field: Field, value_type: ValueType) -> Builtin {
    Builtin {
        field,
        value_type,
        route: Route::Own,
    }
}

const LEAD_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "url",
    "status",
    "created",
    "updated",
    "created_by",
    "updated_by",
    "city",
    "state",
    "zipcode",
    "country",
    "address",
    "contact_name",
    "title",
    "email",
    "phone",
    "contacts",
    "calls",
    "emails",
    "notes",
    "sms",
    "meetings",
    "chats",
    "opportunities",
    "tasks",
    "last_called",
    "called",
    "last_emailed",
    "emailed",
    "email_opened",
    "last_note",
    "last_sms",
    "last_meeting",
    "last_chat",
    "chatted",
    "last_activity",
    "opportunity_status",
    "opportunity_status_type",
    "opportunity_value",
    "opportunity_confidence",
    "opportunity_close",
    "task_due",
];

/// The names a scope knows, without custom fields and without `has`/`in`/`sort`.
pub(crate) fn names(scope: Scope) -> &'static [&'static str] {
    match scope {
        Scope::Lead => LEAD_FIELDS,
        Scope::Object(kind) => match kind {
            ObjectType::Contact => &["name", "title", "email", "phone"],
            ObjectType::Call => &["date", "user", "duration", "direction", "status", "note"],
            ObjectType::Email => &["date", "user", "subject", "body", "direction", "status", "opened"],
            ObjectType::Note => &["date", "user", "body"],
            ObjectType::Sms => &["date", "user", "body", "direction"],
            ObjectType::Meeting => &["date", "user", "title"],
            ObjectType::Chat => &["date", "user", "body", "status", "assignee"],
            ObjectType::Opportunity => &["status", "status_type", "value", "confidence", "close", "user", "note"],
            ObjectType::Task => &["due", "text", "assignee", "done"],
        },
    }
}

/// Looks up a built-in field by its lower-cased name.
pub(crate) fn builtin(scope: Scope, name: &str) -> Option<Builtin> {
    match scope {
        Scope::Lead => lead_field(name),
        Scope::Object(kind) => object_field(kind, name).map(|(field, value_type)| own(field, value_type)),
    }
}

fn lead_field(name: &str) -> Option<Builtin> {
    use ValueType as T;
    let activity_date = T::Date { activity: true };
    let any = |kind, field, value_type| Builtin {
        field,
        value_type,
        route: Route::Any(kind),
    };
    let contact = |field, value_type| any(ObjectType::Contact, field, value_type);
    let opportunity = |field, value_type| any(ObjectType::Opportunity, field, value_type);
    Some(match name {
        "id" => own(Field::LeadId, T::Id),
        "name" => own(Field::LeadName, T::Text),
        "description" => own(Field::LeadDescription, T::Text),
        "url" => own(Field::LeadUrl, T::Text),
        "status" => own(Field::LeadStatus, T::Label(LabelSet::LeadStatuses)),
        "created" => own(Field::LeadCreated, T::Date { activity: false }),
        "updated" => own(Field::LeadUpdated, T::Date { activity: false }),
        "created_by" => own(Field::LeadCreatedBy, T::User),
        "updated_by" => own(Field::LeadUpdatedBy, T::User),
        "city" => own(Field::AddressCity, T::Text),
        "state" => own(Field::AddressState, T::Text),
        "zipcode" => own(Field::AddressZipcode, T::Text),
        "country" => own(Field::AddressCountry, T::Text),
        "address" => own(Field::AddressAny, T::Text),
        "contact_name" => contact(Field::ContactName, T::Text),
        "title" => contact(Field::ContactTitle, T::Text),
        "email" => contact(Field::ContactEmail, T::Text),
        "phone" => contact(Field::ContactPhone, T::Phone),
        "last_called" | "called" => own(Field::Latest(Latest::Call), activity_date),
        "last_emailed" | "emailed" => own(Field::Latest(Latest::Email), activity_date),
        "email_opened" => own(Field::Latest(Latest::EmailOpen), activity_date),
        "last_note" => own(Field::Latest(Latest::Note), activity_date),
        "last_sms" => own(Field::Latest(Latest::Sms), activity_date),
        "last_meeting" => own(Field::Latest(Latest::Meeting), activity_date),
        "last_chat" | "chatted" => own(Field::Latest(Latest::Chat), activity_date),
        "last_activity" => own(Field::Latest(Latest::Activity), activity_date),
        "opportunity_status" => opportunity(Field::OpportunityStatus, T::Label(LabelSet::OpportunityStatuses)),
        "opportunity_status_type" => opportunity(Field::OpportunityStatusType, T::Label(LabelSet::StatusTypes)),
        "opportunity_value" => opportunity(Field::OpportunityValue, T::Money),
        "opportunity_confidence" => opportunity(Field::OpportunityConfidence, T::Number),
        "opportunity_close" => opportunity(Field::OpportunityClose, T::Date { activity: false }),
        "task_due" => Builtin {
            field: Field::TaskDue,
            value_type: T::Date { activity: false },
            route: Route::IncompleteTask,
        },
        _ => return count(name).map(|c| own(Field::Count(c), T::Count)),
    })
}

/// The count fields (`calls`, `has:calls`).
pub(crate) fn count(name: &str) -> Option<Counted> {
    Some(match name {
        "contacts" => Counted::Contacts,
        "calls" => Counted::Calls,
        "emails" => Counted::Emails,
        "notes" => Counted::Notes,
        "sms" => Counted::Sms,
        "meetings" => Counted::Meetings,
        "chats" => Counted::Chats,
        "opportunities" => Counted::Opportunities,
        "tasks" => Counted::Tasks,
        _ => return None,
    })
}

fn object_field(kind: ObjectType, name: &str) -> Option<(Field, ValueType)> {
    use ObjectType as O;
    use ValueType as T;
    let is_activity = !matches!(kind, O::Contact | O::Opportunity | O::Task);
    if is_activity {
        match name {
            "date" => return Some((Field::ActivityDate, T::Date { activity: false })),
            "user" => return Some((Field::ActivityUser, T::User)),
            _ => {}
        }
    }
    Some(match (kind, name) {
        (O::Contact, "name") => (Field::ContactName, T::Text),
        (O::Contact, "title") => (Field::ContactTitle, T::Text),
        (O::Contact, "email") => (Field::ContactEmail, T::Text),
        (O::Contact, "phone") => (Field::ContactPhone, T::Phone),
        (O::Call, "duration") => (Field::CallDuration, T::Number),
        (O::Call, "direction") => (Field::CallDirection, T::OpenLabel),
        (O::Call, "status") => (Field::CallStatus, T::OpenLabel),
        (O::Call, "note") => (Field::CallNote, T::Text),
        (O::Email, "subject") => (Field::EmailSubject, T::Text),
        (O::Email, "body") => (Field::EmailBody, T::Text),
        (O::Email, "direction") => (Field::EmailDirection, T::OpenLabel),
        (O::Email, "status") => (Field::EmailStatus, T::OpenLabel),
        (O::Email, "opened") => (Field::EmailOpened, T::Date { activity: true }),
        (O::Note, "body") => (Field::NoteBody, T::Text),
        (O::Sms, "body") => (Field::SmsBody, T::Text),
        (O::Sms, "direction") => (Field::SmsDirection, T::OpenLabel),
        (O::Meeting, "title") => (Field::MeetingTitle, T::Text),
        (O::Chat, "body") => (Field::ChatBody, T::Text),
        (O::Chat, "status") => (Field::ChatStatus, T::OpenLabel),
        (O::Chat, "assignee") => (Field::ChatAssignee, T::User),
        (O::Opportunity, "status") => (Field::OpportunityStatus, T::Label(LabelSet::OpportunityStatuses)),
        (O::Opportunity, "status_type") => (Field::OpportunityStatusType, T::Label(LabelSet::StatusTypes)),
        (O::Opportunity, "value") => (Field::OpportunityValue, T::Money),
        (O::Opportunity, "confidence") => (Field::OpportunityConfidence, T::Number),
        (O::Opportunity, "close") => (Field::OpportunityClose, T::Date { activity: false }),
        (O::Opportunity, "user") => (Field::OpportunityUser, T::User),
        (O::Opportunity, "note") => (Field::OpportunityNote, T::Text),
        (O::Task, "due") => (Field::TaskDue, T::Date { activity: false }),
        (O::Task, "text") => (Field::TaskText, T::Text),
        (O::Task, "assignee") => (Field::TaskAssignee, T::User),
        (O::Task, "done") => (Field::TaskDone, T::Bool),
        _ => return None,
    })
}

/// The lead-level names `has:` takes besides the counts.
pub(crate) const HAS_AT_LEAD: &[&str] = &["email", "phone", "url", "address"];

/// The related kinds that have a field of this name, for "use `call(duration …)`" hints.
pub(crate) fn kinds_with_field(name: &str) -> Vec<ObjectType> {
    ObjectType::ALL
        .into_iter()
        .filter(|kind| object_field(*kind, name).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_a_field() {
        for scope in std::iter::once(Scope::Lead).chain(ObjectType::ALL.map(Scope::Object)) {
            for name in names(scope) {
                assert!(builtin(scope, name).is_some(), "{scope:?} {name}");
            }
        }
    }
}
