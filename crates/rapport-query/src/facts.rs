//! Everything the evaluator can see of a lead, as `(key, values)` facts, for a search
//! index: the lead's own, and each related object's. The values come from the evaluator's
//! own functions, so an index built from facts and queried through [`field_key`] /
//! [`text_key`] agrees with [`crate::matches`]: a clause holds when some value under its
//! key satisfies it.
//!
//! Keys name where a value lives: `LeadName`, `Count(Calls)`, `cf:<id>#Number` on the
//! lead; `call.CallDuration`, `contact.cf:<id>#Text` on an object; `*` for the lead's free
//! text. An object's free text is the values of its [`text_fields_of`] and of its text
//! custom fields. A custom field's key carries the type it is read as, since the evaluator
//! reads a value only in its field's type.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::ast::ObjectType;
use crate::eval::{self, Subject, Value};
use crate::filter::{Counted, CustomFieldRef, Field, Latest};
use crate::lead::{CustomValues, Lead};
use crate::schema::CustomFieldType;

/// One value of a field, normalized as the evaluator compares it.
pub use crate::eval::Value as FactValue;

/// Facts grouped by key (keys of built-in fields are computed once per process).
pub type Facts = Vec<(Cow<'static, str>, Vec<FactValue>)>;

/// All the facts of one lead: its own, and those of each related object on its own, so
/// that several conditions inside one related clause hold on one object.
#[derive(Debug, Default)]
pub struct LeadFacts {
    pub facts: Facts,
    pub objects: Vec<(ObjectType, Facts)>,
}

const LEAD_FIELDS: [Field; 14] = [
    Field::LeadId,
    Field::LeadName,
    Field::LeadDescription,
    Field::LeadUrl,
    Field::LeadStatus,
    Field::LeadCreated,
    Field::LeadUpdated,
    Field::LeadCreatedBy,
    Field::LeadUpdatedBy,
    Field::AddressCity,
    Field::AddressState,
    Field::AddressZipcode,
    Field::AddressCountry,
    Field::AddressAny,
];

/// Every counted kind of related object.
pub const COUNTED: [Counted; 9] = [
    Counted::Contacts,
    Counted::Calls,
    Counted::Emails,
    Counted::Notes,
    Counted::Sms,
    Counted::Meetings,
    Counted::Chats,
    Counted::Opportunities,
    Counted::Tasks,
];

/// Every "newest date of" field.
pub const LATEST: [Latest; 8] = [
    Latest::Call,
    Latest::Email,
    Latest::EmailOpen,
    Latest::Note,
    Latest::Sms,
    Latest::Meeting,
    Latest::Chat,
    Latest::Activity,
];

/// The fields of a related object of a kind (custom fields aside).
fn object_fields(kind: ObjectType) -> &'static [Field] {
    match kind {
        ObjectType::Contact => &[
            Field::ContactName,
            Field::ContactTitle,
            Field::ContactEmail,
            Field::ContactPhone,
        ],
        ObjectType::Call => &[
            Field::ActivityDate,
            Field::ActivityUser,
            Field::CallDuration,
            Field::CallDirection,
            Field::CallStatus,
            Field::CallNote,
        ],
        ObjectType::Email => &[
            Field::ActivityDate,
            Field::ActivityUser,
            Field::EmailSubject,
            Field::EmailBody,
            Field::EmailDirection,
            Field::EmailStatus,
            Field::EmailOpened,
        ],
        ObjectType::Note => &[Field::ActivityDate, Field::ActivityUser, Field::NoteBody],
        ObjectType::Sms => &[
            Field::ActivityDate,
            Field::ActivityUser,
            Field::SmsBody,
            Field::SmsDirection,
        ],
        ObjectType::Meeting => &[Field::ActivityDate, Field::ActivityUser, Field::MeetingTitle],
        ObjectType::Chat => &[
            Field::ActivityDate,
            Field::ActivityUser,
            Field::ChatBody,
            Field::ChatStatus,
            Field::ChatAssignee,
        ],
        ObjectType::Opportunity => &[
            Field::OpportunityStatus,
            Field::OpportunityStatusType,
            Field::OpportunityValue,
            Field::OpportunityConfidence,
            Field::OpportunityClose,
            Field::OpportunityUser,
            Field::OpportunityNote,
        ],
        ObjectType::Task => &[Field::TaskDue, Field::TaskText, Field::TaskAssignee, Field::TaskDone],
    }
}

/// The custom-field types a value is read as, one key each (`Datetime` reads as `Date`).
const CUSTOM_TYPES: [CustomFieldType; 5] = [
    CustomFieldType::Text,
    CustomFieldType::Choices,
    CustomFieldType::User,
    CustomFieldType::Number,
    CustomFieldType::Date,
];

fn scope_prefix(scope: Option<ObjectType>) -> String {
    scope.map(|kind| format!("{}.", kind.name())).unwrap_or_default()
}

/// The key of a field's values, at the lead level (`None`) or in a related clause.
pub fn field_key(scope: Option<ObjectType>, field: &Field) -> String {
    let prefix = scope_prefix(scope);
    match field {
        Field::Custom(custom) => {
            let value_type = match custom.value_type {
                CustomFieldType::Datetime => CustomFieldType::Date,
                other => other,
            };
            format!("{prefix}cf:{}#{value_type:?}", custom.id)
        }
        other => format!("{prefix}{other:?}"),
    }
}

/// The key of the lead's free text.
pub const LEAD_TEXT_KEY: &str = "*";

/// The fields whose values are an object's free text, besides its text custom fields
/// (the free text inside `call(…)` is the call's note, and so on).
pub fn text_fields_of(kind: ObjectType) -> &'static [Field] {
    match kind {
        ObjectType::Contact => &[
            Field::ContactName,
            Field::ContactTitle,
            Field::ContactEmail,
            Field::ContactPhone,
        ],
        ObjectType::Call => &[Field::CallNote],
        ObjectType::Email => &[Field::EmailSubject, Field::EmailBody],
        ObjectType::Note => &[Field::NoteBody],
        ObjectType::Sms => &[Field::SmsBody],
        ObjectType::Meeting => &[Field::MeetingTitle],
        ObjectType::Chat => &[Field::ChatBody],
        ObjectType::Opportunity => &[Field::OpportunityNote],
        ObjectType::Task => &[Field::TaskText],
    }
}

/// Whether objects of the kind have custom fields (whose text values are free text).
pub fn has_custom_fields(kind: ObjectType) -> bool {
    matches!(kind, ObjectType::Contact | ObjectType::Opportunity)
}

/// Every fact of a lead. `text_fields` are the ids of the organization's text custom
/// fields, whose values are free text.
pub fn lead_facts(lead: &Lead, text_fields: &BTreeSet<String>) -> LeadFacts {
    let mut out = LeadFacts::default();
    let subject = Subject::Lead(lead);
    for (field, key) in lead_fields().zip(built_in_keys(None)) {
        push(
            &mut out.facts,
            || Cow::Borrowed(key.as_str()),
            eval::values(&field, subject),
        );
    }
    for field in custom_fields(&lead.custom) {
        let values = eval::values(&field, subject);
        push(&mut out.facts, || Cow::Owned(field_key(None, &field)), values);
    }
    let text = eval::searchable_text(text_fields, subject);
    push(
        &mut out.facts,
        || Cow::Borrowed(LEAD_TEXT_KEY),
        text.into_iter().map(Value::Text).collect(),
    );

    for kind in ObjectType::ALL {
        let keys = built_in_keys(Some(kind));
        for object in eval::related(lead, kind) {
            let mut facts = Facts::new();
            for (field, key) in object_fields(kind).iter().zip(keys) {
                push(&mut facts, || Cow::Borrowed(key.as_str()), eval::values(field, object));
            }
            let custom = match object {
                Subject::Contact(c) => Some(&c.custom),
                Subject::Opportunity(o) => Some(&o.custom),
                _ => None,
            };
            for field in custom.into_iter().flat_map(custom_fields) {
                let values = eval::values(&field, object);
                push(&mut facts, || Cow::Owned(field_key(Some(kind), &field)), values);
            }
            out.objects.push((kind, facts));
        }
    }
    out
}

/// Adds a field's values under its key (made only when there are values).
fn push(facts: &mut Facts, key: impl FnOnce() -> Cow<'static, str>, values: Vec<Value>) {
    if !values.is_empty() {
        facts.push((key(), values));
    }
}

/// The lead's own built-in fields, its counts and its newest dates.
fn lead_fields() -> impl Iterator<Item = Field> {
    LEAD_FIELDS
        .into_iter()
        .chain(COUNTED.into_iter().map(Field::Count))
        .chain(LATEST.into_iter().map(Field::Latest))
}

/// The keys of the built-in fields of the lead (`None`: its own fields, counts and newest
/// dates, in that order) or of an object of a kind (in [`object_fields`] order).
fn built_in_keys(scope: Option<ObjectType>) -> &'static [String] {
    static KEYS: OnceLock<Vec<(Option<ObjectType>, Vec<String>)>> = OnceLock::new();
    let all = KEYS.get_or_init(|| {
        let lead = lead_fields().map(|field| field_key(None, &field)).collect();
        std::iter::once((None, lead))
            .chain(ObjectType::ALL.into_iter().map(|kind| {
                let keys = object_fields(kind).iter().map(|f| field_key(Some(kind), f)).collect();
                (Some(kind), keys)
            }))
            .collect()
    });
    all.iter()
        .find(|(s, _)| *s == scope)
        .map(|(_, keys)| keys.as_slice())
        .unwrap_or_default()
}

/// A custom field per id and type its values may be read as.
fn custom_fields(custom: &CustomValues) -> impl Iterator<Item = Field> + '_ {
    custom.keys().flat_map(|id| {
        CUSTOM_TYPES.into_iter().map(move |value_type| {
            Field::Custom(CustomFieldRef {
                id: id.clone(),
                name: String::new(),
                value_type,
            })
        })
    })
}

/// How many objects of a kind the lead has, as `calls > 3` counts them.
pub fn count(lead: &Lead, counted: Counted) -> usize {
    eval::count(lead, counted)
}

/// The newest date of a kind of activity, as `last_called` reads it.
pub fn latest_date(lead: &Lead, latest: Latest) -> Option<DateTime<Utc>> {
    eval::latest_date(lead, latest)
}
