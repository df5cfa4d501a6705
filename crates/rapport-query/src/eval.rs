//! The reference evaluator (§8): what a resolved query means, on one lead in memory. The
//! search index must accept exactly the leads this accepts.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::ast::ObjectType;
use crate::filter::{Counted, CustomFieldRef, Field, Filter, Latest, ResolvedQuery, Test};
use crate::lead::{Activity, ActivityKind, Contact, CustomValue, CustomValues, Lead, Opportunity, PreparedText, Task};
use crate::schema::CustomFieldType;
use crate::text::{digits, fold, words, TextPattern};

/// Whether the lead matches the query's filter.
pub fn matches(query: &ResolvedQuery, lead: &Lead) -> bool {
    holds(query, &query.filter, Subject::Lead(lead))
}

/// What a filter is evaluated on: the lead, or one of its objects in a related clause.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    Lead(&'a Lead),
    Contact(&'a Contact),
    Activity(&'a Activity),
    Opportunity(&'a Opportunity),
    Task(&'a Task),
}

fn holds(query: &ResolvedQuery, filter: &Filter, subject: Subject<'_>) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| holds(query, f, subject)),
        Filter::Or(items) => items.iter().any(|f| holds(query, f, subject)),
        Filter::Not(inner) => !holds(query, inner, subject),
        Filter::Text(pattern) => text_matches(query, pattern, subject),
        Filter::Field(field, test) => test_holds(test, &values(field, subject)),
        Filter::Related(kind, inner) => match subject {
            Subject::Lead(lead) => related(lead, *kind)
                .into_iter()
                .any(|object| holds(query, inner, object)),
            // The binder refuses related clauses inside related clauses.
            _ => false,
        },
    }
}

/// Whether some searchable text value of the subject contains the pattern; each value is
/// its own field, so a phrase never spans two values.
pub(crate) fn text_matches(query: &ResolvedQuery, pattern: &TextPattern, subject: Subject<'_>) -> bool {
    if let Subject::Lead(Lead {
        prepared: Some(prepared),
        ..
    }) = subject
    {
        if prepared.text_custom_fields == query.text_custom_fields {
            return prepared.values.iter().any(|words| pattern.matches_words(words));
        }
    }
    searchable_text(&query.text_custom_fields, subject)
        .iter()
        .any(|text| pattern.matches(text))
}

/// The lead's related objects of one kind.
pub(crate) fn related(lead: &Lead, kind: ObjectType) -> Vec<Subject<'_>> {
    match kind {
        ObjectType::Contact => lead.contacts.iter().map(Subject::Contact).collect(),
        ObjectType::Opportunity => lead.opportunities.iter().map(Subject::Opportunity).collect(),
        ObjectType::Task => lead.tasks.iter().map(Subject::Task).collect(),
        _ => lead
            .activities
            .iter()
            .filter(|a| activity_type(&a.kind) == Some(kind))
            .map(Subject::Activity)
            .collect(),
    }
}

fn activity_type(kind: &ActivityKind) -> Option<ObjectType> {
    Some(match kind {
        ActivityKind::Note { .. } => ObjectType::Note,
        ActivityKind::Call { .. } => ObjectType::Call,
        ActivityKind::Email { .. } => ObjectType::Email,
        ActivityKind::Sms { .. } => ObjectType::Sms,
        ActivityKind::Meeting { .. } => ObjectType::Meeting,
        ActivityKind::Chat { .. } => ObjectType::Chat,
        ActivityKind::StatusChange { .. } => return None,
    })
}

// Here rather than in `lead.rs`: what is prepared is what `searchable_text` reads, and
// `lead.rs` stays plain data that the evaluator depends on.
impl Lead {
    /// Folds and splits the lead's searchable text now. `text_custom_fields` are the ids
    /// of the organization's text custom fields (their values are free text). A query
    /// resolved against other text fields ignores the preparation and reads the text
    /// itself, so a stale preparation can make a search slower, never wrong. Prepare the
    /// lead again after changing it.
    pub fn prepare(&mut self, text_custom_fields: BTreeSet<String>) {
        self.prepared = None;
        let texts = searchable_text(&text_custom_fields, Subject::Lead(self));
        let values = texts.iter().map(|t| words(t)).collect();
        self.prepared = Some(Arc::new(PreparedText {
            text_custom_fields,
            values,
        }));
    }
}

/// The texts free text searches, one entry per value (§2, §9). Phones are their digits.
pub(crate) fn searchable_text(text_fields: &BTreeSet<String>, subject: Subject<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |s: &Option<String>| out.extend(s.iter().cloned());
    match subject {
        Subject::Lead(lead) => {
            push(&lead.name);
            push(&lead.description);
            push(&lead.url);
            for address in &lead.addresses {
                for part in address_parts(address) {
                    push(part);
                }
            }
            out.extend(text_custom_values(text_fields, &lead.custom));
            for contact in &lead.contacts {
                out.extend(searchable_text(text_fields, Subject::Contact(contact)));
            }
            for activity in &lead.activities {
                out.extend(searchable_text(text_fields, Subject::Activity(activity)));
            }
        }
        Subject::Contact(contact) => {
            push(&contact.name);
            push(&contact.title);
            out.extend(contact.emails.iter().cloned());
            out.extend(contact.phones.iter().map(|p| digits(p)));
            out.extend(text_custom_values(text_fields, &contact.custom));
        }
        Subject::Activity(activity) => match &activity.kind {
            ActivityKind::Note { body } | ActivityKind::Sms { body, .. } | ActivityKind::Chat { body, .. } => {
                push(body)
            }
            ActivityKind::Call { note, .. } => push(note),
            ActivityKind::Email { subject, body, .. } => {
                push(subject);
                push(body);
            }
            ActivityKind::Meeting { title } => push(title),
            ActivityKind::StatusChange { .. } => {}
        },
        // Not free text at the lead level, but an object's own text inside its clause.
        Subject::Opportunity(opportunity) => {
            push(&opportunity.note);
            out.extend(text_custom_values(text_fields, &opportunity.custom));
        }
        Subject::Task(task) => out.push(task.text.clone()),
    }
    out
}

/// The values of text custom fields: choices and users are labels, not text.
fn text_custom_values(text_fields: &BTreeSet<String>, custom: &CustomValues) -> Vec<String> {
    custom
        .iter()
        .filter(|(id, _)| text_fields.contains(*id))
        .flat_map(|(_, values)| values)
        .filter_map(|v| match v {
            CustomValue::Text(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn address_parts(a: &crate::lead::Address) -> [&Option<String>; 6] {
    [&a.address_1, &a.address_2, &a.city, &a.state, &a.zipcode, &a.country]
}

/// One value of a field, normalized for comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A text value (its words are searched).
    Text(String),
    /// Compared exactly: ids, user ids, and labels already folded.
    Key(String),
    Number(f64),
    Instant(DateTime<Utc>),
    Day(NaiveDate),
    Bool(bool),
}

fn test_holds(test: &Test, values: &[Value]) -> bool {
    let any = |f: &dyn Fn(&Value) -> bool| values.iter().any(f);
    match test {
        Test::Present => !values.is_empty(),
        Test::Missing => values.is_empty(),
        Test::Words(pattern) => any(&|v| matches!(v, Value::Text(t) if pattern.matches(t))),
        Test::Digits(wanted) => any(&|v| matches!(v, Value::Text(t) if t.contains(wanted.as_str()))),
        Test::Is(key) => any(&|v| matches!(v, Value::Key(k) if k == key)),
        Test::IsNot(key) => any(&|v| matches!(v, Value::Key(k) if k != key)),
        Test::Number(comparison, wanted) => any(&|v| matches!(v, Value::Number(n) if comparison.holds(*n, *wanted))),
        Test::InRange(range) => any(&|v| match v {
            Value::Instant(t) => range.contains_instant(*t),
            Value::Day(d) => range.contains_day(*d),
            _ => false,
        }),
        Test::OutOfRange(range) => any(&|v| match v {
            Value::Instant(t) => !range.contains_instant(*t),
            Value::Day(d) => !range.contains_day(*d),
            _ => false,
        }),
        Test::Bool(wanted) => any(&|v| matches!(v, Value::Bool(b) if b == wanted)),
    }
}

fn text(s: &Option<String>) -> Vec<Value> {
    s.iter()
        .filter(|s| !s.is_empty())
        .map(|s| Value::Text(s.clone()))
        .collect()
}

fn key(s: &Option<String>) -> Vec<Value> {
    s.iter()
        .filter(|s| !s.is_empty())
        .map(|s| Value::Key(s.clone()))
        .collect()
}

fn label(s: &Option<String>) -> Vec<Value> {
    s.iter()
        .filter(|s| !s.is_empty())
        .map(|s| Value::Key(fold(s.trim())))
        .collect()
}

/// The values of a field on a subject; empty when it has none (or the field is not the
/// subject's, which the binder prevents).
pub(crate) fn values(field: &Field, subject: Subject<'_>) -> Vec<Value> {
    match subject {
        Subject::Lead(lead) => lead_values(field, lead),
        Subject::Contact(contact) => match field {
            Field::ContactName => text(&contact.name),
            Field::ContactTitle => text(&contact.title),
            Field::ContactEmail => contact.emails.iter().flat_map(|e| text(&Some(e.clone()))).collect(),
            Field::ContactPhone => contact
                .phones
                .iter()
                .map(|p| digits(p))
                .filter(|d| !d.is_empty())
                .map(Value::Text)
                .collect(),
            Field::Custom(custom) => custom_values(custom, &contact.custom),
            _ => Vec::new(),
        },
        Subject::Activity(activity) => activity_values(field, activity),
        Subject::Opportunity(opportunity) => match field {
            Field::OpportunityStatus => label(&Some(opportunity.status_label.clone())),
            Field::OpportunityStatusType => vec![Value::Key(opportunity.status_type.name().to_string())],
            Field::OpportunityValue => opportunity
                .value_cents
                .map(|cents| Value::Number(cents as f64 / 100.0))
                .into_iter()
                .collect(),
            Field::OpportunityConfidence => opportunity
                .confidence
                .map(|c| Value::Number(c as f64))
                .into_iter()
                .collect(),
            Field::OpportunityClose => opportunity.close_date.map(Value::Day).into_iter().collect(),
            Field::OpportunityUser => key(&opportunity.user),
            Field::OpportunityNote => text(&opportunity.note),
            Field::Custom(custom) => custom_values(custom, &opportunity.custom),
            _ => Vec::new(),
        },
        Subject::Task(task) => match field {
            Field::TaskDue => task
                .due
                .map(|due| match due {
                    crate::lead::Due::Day(d) => Value::Day(d),
                    crate::lead::Due::At(t) => Value::Instant(t),
                })
                .into_iter()
                .collect(),
            Field::TaskText => text(&Some(task.text.clone())),
            Field::TaskAssignee => key(&task.assignee),
            Field::TaskDone => vec![Value::Bool(task.done)],
            _ => Vec::new(),
        },
    }
}

fn lead_values(field: &Field, lead: &Lead) -> Vec<Value> {
    let parts = |pick: fn(&crate::lead::Address) -> &Option<String>| -> Vec<Value> {
        lead.addresses.iter().flat_map(|a| text(pick(a))).collect()
    };
    match field {
        Field::LeadId => key(&Some(lead.id.clone())),
        Field::LeadName => text(&lead.name),
        Field::LeadDescription => text(&lead.description),
        Field::LeadUrl => text(&lead.url),
        Field::LeadStatus => label(&lead.status),
        Field::LeadCreated => vec![Value::Instant(lead.created)],
        Field::LeadUpdated => vec![Value::Instant(lead.updated)],
        Field::LeadCreatedBy => key(&lead.created_by),
        Field::LeadUpdatedBy => key(&lead.updated_by),
        Field::AddressCity => parts(|a| &a.city),
        Field::AddressState => parts(|a| &a.state),
        Field::AddressZipcode => parts(|a| &a.zipcode),
        Field::AddressCountry => parts(|a| &a.country),
        Field::AddressAny => lead
            .addresses
            .iter()
            .flat_map(|a| address_parts(a).into_iter().flat_map(text))
            .collect(),
        Field::Count(counted) => vec![Value::Number(count(lead, *counted) as f64)],
        Field::Latest(latest) => latest_date(lead, *latest).map(Value::Instant).into_iter().collect(),
        Field::Custom(custom) => custom_values(custom, &lead.custom),
        _ => Vec::new(),
    }
}

fn activity_values(field: &Field, activity: &Activity) -> Vec<Value> {
    match (field, &activity.kind) {
        (Field::ActivityDate, _) => vec![Value::Instant(activity.activity_at)],
        (Field::ActivityUser, _) => key(&activity.user),
        (Field::CallDuration, ActivityKind::Call { duration, .. }) => {
            duration.map(|d| Value::Number(d as f64)).into_iter().collect()
        }
        (Field::CallDirection, ActivityKind::Call { direction, .. }) => label(direction),
        (Field::CallStatus, ActivityKind::Call { status, .. }) => label(status),
        (Field::CallNote, ActivityKind::Call { note, .. }) => text(note),
        (Field::EmailSubject, ActivityKind::Email { subject, .. }) => text(subject),
        (Field::EmailBody, ActivityKind::Email { body, .. }) => text(body),
        (Field::EmailDirection, ActivityKind::Email { direction, .. }) => label(direction),
        (Field::EmailStatus, ActivityKind::Email { status, .. }) => label(status),
        (Field::EmailOpened, ActivityKind::Email { opens, .. }) => {
            opens.iter().max().map(|t| Value::Instant(*t)).into_iter().collect()
        }
        (Field::NoteBody, ActivityKind::Note { body }) => text(body),
        (Field::SmsBody, ActivityKind::Sms { body, .. }) => text(body),
        (Field::SmsDirection, ActivityKind::Sms { direction, .. }) => label(direction),
        (Field::MeetingTitle, ActivityKind::Meeting { title }) => text(title),
        (Field::ChatBody, ActivityKind::Chat { body, .. }) => text(body),
        (Field::ChatStatus, ActivityKind::Chat { status, .. }) => label(status),
        (Field::ChatAssignee, ActivityKind::Chat { assignee, .. }) => key(assignee),
        _ => Vec::new(),
    }
}

fn custom_values(custom: &CustomFieldRef, values: &CustomValues) -> Vec<Value> {
    let Some(values) = values.get(&custom.id) else {
        return Vec::new();
    };
    values
        .iter()
        .filter_map(|v| match (custom.value_type, v) {
            (CustomFieldType::Text, CustomValue::Text(s)) => text(&Some(s.clone())).pop(),
            (CustomFieldType::Choices, CustomValue::Text(s)) => label(&Some(s.clone())).pop(),
            (CustomFieldType::User, CustomValue::Text(s)) => key(&Some(s.clone())).pop(),
            (CustomFieldType::Number, CustomValue::Number(n)) => Some(Value::Number(*n)),
            (CustomFieldType::Date | CustomFieldType::Datetime, CustomValue::Date(d)) => Some(Value::Day(*d)),
            (CustomFieldType::Date | CustomFieldType::Datetime, CustomValue::DateTime(t)) => Some(Value::Instant(*t)),
            // A value of another type than its field's is no value.
            _ => None,
        })
        .collect()
}

pub(crate) fn count(lead: &Lead, counted: Counted) -> usize {
    let activities = |kind: ObjectType| {
        lead.activities
            .iter()
            .filter(|a| activity_type(&a.kind) == Some(kind) && !a.kind.is_draft_email())
            .count()
    };
    match counted {
        Counted::Contacts => lead.contacts.len(),
        Counted::Calls => activities(ObjectType::Call),
        Counted::Emails => activities(ObjectType::Email),
        Counted::Notes => activities(ObjectType::Note),
        Counted::Sms => activities(ObjectType::Sms),
        Counted::Meetings => activities(ObjectType::Meeting),
        Counted::Chats => activities(ObjectType::Chat),
        Counted::Opportunities => lead.opportunities.len(),
        Counted::Tasks => lead.tasks.len(),
    }
}

pub(crate) fn latest_date(lead: &Lead, latest: Latest) -> Option<DateTime<Utc>> {
    if latest == Latest::EmailOpen {
        return lead
            .activities
            .iter()
            .filter_map(|a| match &a.kind {
                ActivityKind::Email { opens, .. } => opens.iter().max().copied(),
                _ => None,
            })
            .max();
    }
    let wanted = |kind: Option<ObjectType>| match latest {
        Latest::Call => kind == Some(ObjectType::Call),
        Latest::Email => kind == Some(ObjectType::Email),
        Latest::Note => kind == Some(ObjectType::Note),
        Latest::Sms => kind == Some(ObjectType::Sms),
        Latest::Meeting => kind == Some(ObjectType::Meeting),
        Latest::Chat => kind == Some(ObjectType::Chat),
        Latest::Activity => kind.is_some(),
        Latest::EmailOpen => false,
    };
    lead.activities
        .iter()
        .filter(|a| wanted(activity_type(&a.kind)) && !a.kind.is_draft_email())
        .map(|a| a.activity_at)
        .max()
}
