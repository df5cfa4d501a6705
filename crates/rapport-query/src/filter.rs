//! The resolved query: what the evaluator and the search index run. Every name is checked,
//! every label, user and Smart View is looked up, and every date is a concrete range.
//!
//! Fields of a lead's several contacts, opportunities or tasks (`email`,
//! `opportunity_value`, `task_due`) are rewritten as related clauses over one object
//! (`contact(email:…)`), which says the same thing ("some contact's email…"), so
//! consumers handle one shape.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::ast::{Direction, ObjectType};
use crate::schema::CustomFieldType;
use crate::text::TextPattern;

#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedQuery {
    pub filter: Filter,
    pub order: Order,
    /// Free-text patterns not under a `not`, for relevance: `None` is the lead's
    /// searchable text, `Some(kind)` that of an object in a related clause.
    pub relevance_terms: Vec<(Option<ObjectType>, TextPattern)>,
    /// The caller's time zone, for explanations.
    pub tz: FixedOffset,
    /// Folded full names by user id, for sorting on user custom fields.
    pub user_sort_names: BTreeMap<String, String>,
    /// The ids of the custom fields of type text (of leads, contacts and opportunities):
    /// their values are searchable text, those of other types are not.
    pub text_custom_fields: BTreeSet<String>,
}

/// A condition on a lead, or on one related object inside [`Filter::Related`].
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All must hold; the empty `And` holds for every lead.
    And(Vec<Filter>),
    /// One must hold.
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Free text: some searchable text value of the lead (or of the object) has the pattern.
    Text(TextPattern),
    Field(Field, Test),
    /// Some object of that kind satisfies the inner filter, all of it on the same object.
    Related(ObjectType, Box<Filter>),
}

/// Counted related objects (`calls > 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    Contacts,
    Calls,
    /// Emails that are not drafts.
    Emails,
    Notes,
    Sms,
    Meetings,
    Chats,
    Opportunities,
    /// Every task, done or not.
    Tasks,
}

/// The newest date of a kind of activity (`last_called`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Latest {
    Call,
    /// Emails that are not drafts.
    Email,
    /// The newest open of any email.
    EmailOpen,
    Note,
    Sms,
    Meeting,
    Chat,
    /// Notes, calls, emails (not drafts), SMS, meetings and chats.
    Activity,
}

/// A custom field as the binder found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFieldRef {
    pub id: String,
    pub name: String,
    pub value_type: CustomFieldType,
}

/// A field of a lead (`Lead*`, `Address*`, `Count`, `Latest`) or of one related object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    LeadId,
    LeadName,
    LeadDescription,
    LeadUrl,
    /// The status label.
    LeadStatus,
    LeadCreated,
    LeadUpdated,
    LeadCreatedBy,
    LeadUpdatedBy,
    AddressCity,
    AddressState,
    AddressZipcode,
    AddressCountry,
    /// Every part of every address.
    AddressAny,
    Count(Counted),
    Latest(Latest),
    /// A custom field of the lead, or of the contact or opportunity in a related clause.
    Custom(CustomFieldRef),

    ContactName,
    ContactTitle,
    ContactEmail,
    ContactPhone,

    /// `activity_at` of any activity (a meeting's defaults to its start).
    ActivityDate,
    ActivityUser,
    CallDuration,
    CallDirection,
    CallStatus,
    CallNote,
    EmailSubject,
    EmailBody,
    EmailDirection,
    EmailStatus,
    /// The email's newest open.
    EmailOpened,
    NoteBody,
    SmsBody,
    SmsDirection,
    MeetingTitle,
    ChatBody,
    ChatStatus,
    ChatAssignee,

    OpportunityStatus,
    OpportunityStatusType,
    /// In currency units: the stored cents / 100.
    OpportunityValue,
    OpportunityConfidence,
    OpportunityClose,
    OpportunityUser,
    OpportunityNote,

    TaskDue,
    TaskText,
    TaskAssignee,
    TaskDone,
}

/// What a field's values must satisfy. A field may have several values (a lead's
/// addresses, a multi-value custom field); every test but `Missing` holds when *some*
/// value satisfies it, so a field without a value satisfies no comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `field:*`
    Present,
    /// `not field:*`, `last_called:never`
    Missing,
    /// Some text value contains the pattern.
    Words(TextPattern),
    /// Some phone number's digits contain these digits.
    Digits(String),
    /// Some value is this key: exact for ids and user ids, folded for labels.
    Is(String),
    /// Some value is present and not this key.
    IsNot(String),
    Number(Comparison, f64),
    /// Some date lies in the range.
    InRange(DateRange),
    /// Some date lies outside the range (`!=`).
    OutOfRange(DateRange),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn holds(self, value: f64, wanted: f64) -> bool {
        match self {
            Comparison::Eq => value == wanted,
            Comparison::Ne => value != wanted,
            Comparison::Lt => value < wanted,
            Comparison::Le => value <= wanted,
            Comparison::Gt => value > wanted,
            Comparison::Ge => value >= wanted,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }
}

/// A resolved date condition, given twice: as instants for date-times and as calendar
/// days (in the caller's time zone) for date-only values, which compare as days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: Bound<DateTime<Utc>>,
    pub end: Bound<DateTime<Utc>>,
    pub start_day: Bound<NaiveDate>,
    pub end_day: Bound<NaiveDate>,
}

impl DateRange {
    pub fn contains_instant(&self, t: DateTime<Utc>) -> bool {
        within(&self.start, &self.end, &t)
    }

    pub fn contains_day(&self, d: NaiveDate) -> bool {
        within(&self.start_day, &self.end_day, &d)
    }
}

fn within<T: PartialOrd>(start: &Bound<T>, end: &Bound<T>, x: &T) -> bool {
    let after_start = match start {
        Bound::Included(s) => x >= s,
        Bound::Excluded(s) => x > s,
        Bound::Unbounded => true,
    };
    let before_end = match end {
        Bound::Included(e) => x <= e,
        Bound::Excluded(e) => x < e,
        Bound::Unbounded => true,
    };
    after_start && before_end
}

/// The order of the results. Ties left by every key are broken by the lead id ascending.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// Explicit `sort:` keys, or the default `-updated` when there is no free text.
    Keys(Vec<SortKey>),
    /// Free text and no `sort:`: leads matching more of
    /// [`ResolvedQuery::relevance_terms`] first, then by `-updated`.
    Relevance,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: SortField,
    pub direction: Direction,
}

/// The lead's single-valued fields that can be sorted on. Missing values sort last in
/// both directions; text sorts on its folded form.
#[derive(Debug, Clone, PartialEq)]
pub enum SortField {
    Name,
    Description,
    Url,
    Id,
    /// By label.
    Status,
    Created,
    Updated,
    Count(Counted),
    Latest(Latest),
    /// A custom field with one value; user fields sort by the user's name.
    Custom(CustomFieldRef),
}
