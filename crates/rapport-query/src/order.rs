//! The order of results (§2, §9): explicit keys with missing values last in both
//! directions, or relevance for free text, and always the lead id ascending last.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};

use crate::ast::Direction;
use crate::eval::{count, latest_date, matches, related, text_matches, Subject};
use crate::filter::{Order, ResolvedQuery, SortField, SortKey};
use crate::lead::{CustomValue, Lead};
use crate::schema::CustomFieldType;
use crate::text::fold;

/// The leads the query matches, in the query's order.
pub fn search<'a>(query: &ResolvedQuery, leads: &'a [Lead]) -> Vec<&'a Lead> {
    let mut found: Vec<&Lead> = leads.iter().filter(|lead| matches(query, lead)).collect();
    sort_leads(query, &mut found);
    found
}

/// Sorts leads in the query's order.
pub fn sort_leads(query: &ResolvedQuery, leads: &mut [&Lead]) {
    match &query.order {
        Order::Keys(keys) => {
            leads.sort_by_cached_key(|lead| SortRow {
                values: keys.iter().map(|k| sort_value(query, &k.field, lead)).collect(),
                directions: keys.iter().map(|k: &SortKey| k.direction).collect(),
                id: lead.id.clone(),
            });
        }
        Order::Relevance => {
            leads.sort_by_cached_key(|lead| {
                (
                    std::cmp::Reverse(relevance(query, lead)),
                    std::cmp::Reverse(lead.updated),
                    lead.id.clone(),
                )
            });
        }
    }
}

/// How many of the query's free-text terms the lead matches; more is more relevant.
pub fn relevance(query: &ResolvedQuery, lead: &Lead) -> usize {
    query
        .relevance_terms
        .iter()
        .filter(|(scope, pattern)| match scope {
            None => text_matches(query, pattern, Subject::Lead(lead)),
            Some(kind) => related(lead, *kind)
                .into_iter()
                .any(|o| text_matches(query, pattern, o)),
        })
        .count()
}

/// A value a lead sorts by.
#[derive(Debug, Clone, PartialEq)]
enum SortValue {
    Text(String),
    Number(f64),
    Instant(DateTime<Utc>),
    Day(NaiveDate),
}

impl SortValue {
    fn cmp(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
            (SortValue::Number(a), SortValue::Number(b)) => a.total_cmp(b),
            (SortValue::Instant(a), SortValue::Instant(b)) => a.cmp(b),
            (SortValue::Day(a), SortValue::Day(b)) => a.cmp(b),
            // One field has one kind of value; a mix can only come from odd data.
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortValue::Text(_) => 0,
            SortValue::Number(_) => 1,
            SortValue::Instant(_) => 2,
            SortValue::Day(_) => 3,
        }
    }
}

struct SortRow {
    values: Vec<Option<SortValue>>,
    directions: Vec<Direction>,
    id: String,
}

impl Ord for SortRow {
    fn cmp(&self, other: &SortRow) -> Ordering {
        for ((a, b), direction) in self.values.iter().zip(&other.values).zip(&self.directions) {
            let ordering = match (a, b) {
                (Some(a), Some(b)) => match direction {
                    Direction::Asc => a.cmp(b),
                    Direction::Desc => b.cmp(a),
                },
                // Missing values last, whatever the direction.
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        self.id.cmp(&other.id)
    }
}

impl PartialOrd for SortRow {
    fn partial_cmp(&self, other: &SortRow) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortRow {
    fn eq(&self, other: &SortRow) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for SortRow {}

fn folded(s: &Option<String>) -> Option<SortValue> {
    s.as_deref().filter(|s| !s.is_empty()).map(|s| SortValue::Text(fold(s)))
}

fn sort_value(query: &ResolvedQuery, field: &SortField, lead: &Lead) -> Option<SortValue> {
    match field {
        SortField::Name => folded(&lead.name),
        SortField::Description => folded(&lead.description),
        SortField::Url => folded(&lead.url),
        SortField::Id => Some(SortValue::Text(lead.id.clone())),
        SortField::Status => folded(&lead.status),
        SortField::Created => Some(SortValue::Instant(lead.created)),
        SortField::Updated => Some(SortValue::Instant(lead.updated)),
        SortField::Count(counted) => Some(SortValue::Number(count(lead, *counted) as f64)),
        SortField::Latest(latest) => latest_date(lead, *latest).map(SortValue::Instant),
        SortField::Custom(custom) => {
            let value = lead.custom.get(&custom.id)?.first()?;
            match (custom.value_type, value) {
                (CustomFieldType::User, CustomValue::Text(id)) => Some(SortValue::Text(
                    query.user_sort_names.get(id).cloned().unwrap_or_else(|| fold(id)),
                )),
                (CustomFieldType::Text | CustomFieldType::Choices, CustomValue::Text(s)) => folded(&Some(s.clone())),
                (CustomFieldType::Number, CustomValue::Number(n)) => Some(SortValue::Number(*n)),
                (CustomFieldType::Date | CustomFieldType::Datetime, CustomValue::Date(d)) => Some(SortValue::Day(*d)),
                (CustomFieldType::Date | CustomFieldType::Datetime, CustomValue::DateTime(t)) => {
                    Some(SortValue::Instant(*t))
                }
                _ => None,
            }
        }
    }
}
