//! A plain-words reading of a resolved query (`GET /query/parse`), with every relative
//! date shown as the moment it was resolved to, in the caller's time zone.

use std::ops::Bound;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::ast::{Direction, ObjectType};
use crate::filter::{Counted, DateRange, Field, Filter, Latest, Order, ResolvedQuery, SortField, Test};
use crate::schema::CustomFieldType;
use crate::text::TextPattern;

/// E.g. `leads where status is "cold" and there has never been a call; newest update first`.
pub fn explain(query: &ResolvedQuery) -> String {
    let words = Explainer { query };
    let filter = match &query.filter {
        Filter::And(items) if items.is_empty() => "every lead".to_string(),
        filter => format!("leads where {}", words.filter(filter, None)),
    };
    format!("{filter}; {}", words.order())
}

struct Explainer<'a> {
    query: &'a ResolvedQuery,
}

impl Explainer<'_> {
    fn filter(&self, filter: &Filter, scope: Option<ObjectType>) -> String {
        match filter {
            Filter::And(items) if items.is_empty() => "anything".to_string(),
            Filter::Or(items) if items.is_empty() => "nothing".to_string(),
            Filter::And(items) => self.join(items, " and ", scope, |f| matches!(f, Filter::Or(v) if v.len() > 1)),
            Filter::Or(items) => self.join(items, " or ", scope, |f| matches!(f, Filter::And(v) if v.len() > 1)),
            Filter::Not(inner) => format!("not ({})", self.filter(inner, scope)),
            Filter::Text(pattern) => {
                let whose = if scope.is_some() { "its" } else { "the lead's" };
                format!("{whose} text has {}", pattern_words(pattern))
            }
            Filter::Field(field, test) => self.field(field, test),
            Filter::Related(kind, inner) => {
                let words = self.filter(inner, Some(*kind));
                // Parenthesized so that its `and`s are not read as the lead's.
                let words = match &**inner {
                    Filter::And(items) | Filter::Or(items) if items.len() > 1 => format!("({words})"),
                    _ => words,
                };
                format!("it has {} where {words}", kind.with_article())
            }
        }
    }

    fn join(
        &self,
        items: &[Filter],
        separator: &str,
        scope: Option<ObjectType>,
        needs_parentheses: impl Fn(&Filter) -> bool,
    ) -> String {
        items
            .iter()
            .map(|item| {
                let words = self.filter(item, scope);
                if needs_parentheses(item) {
                    format!("({words})")
                } else {
                    words
                }
            })
            .collect::<Vec<_>>()
            .join(separator)
    }

    fn field(&self, field: &Field, test: &Test) -> String {
        let label = field_label(field);
        if let (Field::Latest(latest), Test::Missing) = (field, test) {
            return format!("there has never been {}", latest_noun(*latest));
        }
        match test {
            Test::Present => format!("{label} has a value"),
            Test::Missing => format!("{label} has no value"),
            Test::Words(pattern) => format!("{label} has {}", pattern_words(pattern)),
            Test::Digits(digits) => format!("{label} contains the digits {digits}"),
            Test::Is(key) => format!("{label} is {}", self.key(field, key)),
            Test::IsNot(key) => format!("{label} has a value other than {}", self.key(field, key)),
            Test::Number(comparison, number) => format!("{label} {} {number}", comparison.symbol()),
            Test::InRange(range) => format!("{label} is {}", self.range(field, range)),
            Test::OutOfRange(range) => format!("{label} is not {}", self.range(field, range)),
            Test::Bool(yes) => format!("{label} is {}", if *yes { "yes" } else { "no" }),
        }
    }

    /// User ids are shown as the user's name.
    fn key(&self, field: &Field, key: &str) -> String {
        let is_user = matches!(
            field,
            Field::LeadCreatedBy
                | Field::LeadUpdatedBy
                | Field::ActivityUser
                | Field::ChatAssignee
                | Field::OpportunityUser
                | Field::TaskAssignee
        ) || matches!(field, Field::Custom(c) if c.value_type == CustomFieldType::User);
        match self.query.user_sort_names.get(key) {
            Some(name) if is_user => format!("\"{name}\""),
            _ => format!("\"{key}\""),
        }
    }

    fn range(&self, field: &Field, range: &DateRange) -> String {
        let by_day = matches!(field, Field::OpportunityClose)
            || matches!(field, Field::Custom(c) if c.value_type == CustomFieldType::Date);
        if by_day {
            bounds(&range.start_day, &range.end_day, |d: &NaiveDate| {
                d.format("%Y-%m-%d").to_string()
            })
        } else {
            let tz = self.query.tz;
            bounds(&range.start, &range.end, |t: &DateTime<Utc>| local(*t, tz))
        }
    }

    fn order(&self) -> String {
        match &self.query.order {
            Order::Relevance => {
                "most relevant first (leads matching more of the words), then newest update first, then by id"
                    .to_string()
            }
            Order::Keys(keys) => {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let direction = match k.direction {
                            Direction::Asc => "ascending",
                            Direction::Desc => "descending",
                        };
                        format!("{} {direction}", sort_label(&k.field))
                    })
                    .collect();
                format!("sorted by {}, then by id", keys.join(", then "))
            }
        }
    }
}

fn bounds<T>(start: &Bound<T>, end: &Bound<T>, show: impl Fn(&T) -> String) -> String {
    let start = match start {
        Bound::Included(t) => Some(format!("at or after {}", show(t))),
        Bound::Excluded(t) => Some(format!("after {}", show(t))),
        Bound::Unbounded => None,
    };
    let end = match end {
        Bound::Included(t) => Some(format!("at or before {}", show(t))),
        Bound::Excluded(t) => Some(format!("before {}", show(t))),
        Bound::Unbounded => None,
    };
    match (start, end) {
        (Some(s), Some(e)) => format!("{s} and {e}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "any time".to_string(),
    }
}

fn local(t: DateTime<Utc>, tz: FixedOffset) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %:z").to_string()
}

fn pattern_words(pattern: &TextPattern) -> String {
    let mut shown = pattern.words.join(" ");
    if pattern.last_is_prefix {
        shown.push('…');
    }
    match (pattern.words.len(), pattern.last_is_prefix) {
        (1, true) => format!("a word starting with \"{}\"", pattern.words[0]),
        (1, false) => format!("the word \"{shown}\""),
        _ => format!("the words \"{shown}\""),
    }
}

fn latest_kind(latest: Latest) -> &'static str {
    match latest {
        Latest::Call => "call",
        Latest::Email => "email",
        Latest::EmailOpen => "email open",
        Latest::Note => "note",
        Latest::Sms => "SMS",
        Latest::Meeting => "meeting",
        Latest::Chat => "chat",
        Latest::Activity => "activity",
    }
}

fn latest_noun(latest: Latest) -> String {
    let kind = latest_kind(latest);
    let article = if matches!(
        latest,
        Latest::Email | Latest::EmailOpen | Latest::Sms | Latest::Activity
    ) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

fn counted_noun(counted: Counted) -> &'static str {
    match counted {
        Counted::Contacts => "contacts",
        Counted::Calls => "calls",
        Counted::Emails => "emails",
        Counted::Notes => "notes",
        Counted::Sms => "SMS",
        Counted::Meetings => "meetings",
        Counted::Chats => "chats",
        Counted::Opportunities => "opportunities",
        Counted::Tasks => "tasks",
    }
}

fn field_label(field: &Field) -> String {
    let label = match field {
        Field::LeadId => "the id",
        Field::LeadName => "the name",
        Field::LeadDescription => "the description",
        Field::LeadUrl => "the url",
        Field::LeadStatus => "the status",
        Field::LeadCreated => "the creation time",
        Field::LeadUpdated => "the last update",
        Field::LeadCreatedBy => "the creator",
        Field::LeadUpdatedBy => "the last editor",
        Field::AddressCity => "an address's city",
        Field::AddressState => "an address's state",
        Field::AddressZipcode => "an address's zipcode",
        Field::AddressCountry => "an address's country",
        Field::AddressAny => "an address",
        Field::Count(counted) => return format!("the number of {}", counted_noun(*counted)),
        Field::Latest(latest) => return format!("the time of the latest {}", latest_kind(*latest)),
        Field::Custom(custom) => return format!("\"{}\"", custom.name),
        Field::ContactName => "its name",
        Field::ContactTitle => "its title",
        Field::ContactEmail => "an email address",
        Field::ContactPhone => "a phone number",
        Field::ActivityDate => "its date",
        Field::ActivityUser => "its user",
        Field::CallDuration => "its duration in seconds",
        Field::CallDirection | Field::EmailDirection | Field::SmsDirection => "its direction",
        Field::CallStatus | Field::EmailStatus | Field::ChatStatus => "its status",
        Field::CallNote => "its note",
        Field::EmailSubject => "its subject",
        Field::EmailBody | Field::NoteBody | Field::SmsBody | Field::ChatBody => "its text",
        Field::EmailOpened => "its latest open",
        Field::MeetingTitle => "its title",
        Field::ChatAssignee => "its assignee",
        Field::OpportunityStatus => "its status",
        Field::OpportunityStatusType => "its status type",
        Field::OpportunityValue => "its value",
        Field::OpportunityConfidence => "its confidence",
        Field::OpportunityClose => "its close date",
        Field::OpportunityUser => "its user",
        Field::OpportunityNote => "its note",
        Field::TaskDue => "its due date",
        Field::TaskText => "its text",
        Field::TaskAssignee => "its assignee",
        Field::TaskDone => "done",
    };
    label.to_string()
}

fn sort_label(field: &SortField) -> String {
    match field {
        SortField::Name => "name".to_string(),
        SortField::Description => "description".to_string(),
        SortField::Url => "url".to_string(),
        SortField::Id => "id".to_string(),
        SortField::Status => "status".to_string(),
        SortField::Created => "creation time".to_string(),
        SortField::Updated => "last update".to_string(),
        SortField::Count(counted) => format!("number of {}", counted_noun(*counted)),
        SortField::Latest(latest) => format!("time of the latest {}", latest_kind(*latest)),
        SortField::Custom(custom) => format!("\"{}\"", custom.name),
    }
}
