//! A resolved filter as a Tantivy query.
//!
//! A lead is a block of documents: one per related object, then the lead's own (see
//! `document.rs`). Clauses on the lead run on lead documents; a related clause runs its
//! inner filter on the object documents of its kind, where every condition is on one
//! object, and maps the objects that match to their leads ([`ParentOf`]). A field clause
//! holds when *some* value of the field satisfies it, which a term or a range lookup
//! answers; `!=` ("some value other than X") uses the `{key}#1` term that marks fields
//! with one distinct value. So every clause translates exactly; [`Plan::exact`] stays
//! for what may not (the search then checks candidates with the reference evaluator).

use std::ops::Bound;

use rapport_query::facts::{field_key, text_key};
use rapport_query::{Comparison, DateRange, Field, Filter, ObjectType, Test, TextPattern};
use tantivy::query::{
    AllQuery, BitSetDocSet, BooleanQuery, ConstScorer, EmptyQuery, EnableScoring, Explanation, Occur,
    PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, RegexQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{BitSet, DocId, DocSet, Score, Searcher, SegmentReader, Term, TERMINATED};

use crate::document::{child_marker, LEAD_MARKER, PHONE_KEY, WORD_SEP};
use crate::encode;
use crate::schema::Fields;

pub struct Plan {
    pub query: Box<dyn Query>,
    /// Whether the query accepts exactly the leads the evaluator accepts.
    pub exact: bool,
}

impl Plan {
    fn exact(query: Box<dyn Query>) -> Plan {
        Plan { query, exact: true }
    }
}

pub struct Translator<'a> {
    pub fields: &'a Fields,
    /// The index the query will run on: a phrase ending in a prefix is expanded to the
    /// terms its segments hold.
    pub searcher: &'a Searcher,
}

impl Translator<'_> {
    pub fn filter(&self, filter: &Filter, scope: Option<ObjectType>) -> Plan {
        match filter {
            Filter::And(items) if items.is_empty() => Plan::exact(self.everything(scope)),
            Filter::And(items) if items.len() == 1 => self.filter(&items[0], scope),
            Filter::And(items) => {
                let plans: Vec<Plan> = items.iter().map(|f| self.filter(f, scope)).collect();
                let exact = plans.iter().all(|p| p.exact);
                let query = BooleanQuery::new(plans.into_iter().map(|p| (Occur::Must, p.query)).collect());
                Plan {
                    query: Box::new(query),
                    exact,
                }
            }
            Filter::Or(items) => {
                let plans: Vec<Plan> = items.iter().map(|f| self.filter(f, scope)).collect();
                let exact = plans.iter().all(|p| p.exact);
                Plan {
                    query: union(plans.into_iter().map(|p| p.query).collect()),
                    exact,
                }
            }
            Filter::Not(inner) => {
                let inner = self.filter(inner, scope);
                if inner.exact {
                    Plan::exact(Box::new(BooleanQuery::new(vec![
                        (Occur::Must, self.everything(scope)),
                        (Occur::MustNot, inner.query),
                    ])))
                } else {
                    self.wider(scope)
                }
            }
            Filter::Text(pattern) => Plan::exact(self.words(&text_key(scope), pattern)),
            Filter::Field(field, test) => self.field(scope, field, test),
            Filter::Related(kind, inner) => {
                let inner = self.filter(inner, Some(*kind));
                let objects = BooleanQuery::new(vec![
                    (Occur::Must, self.everything(Some(*kind))),
                    (Occur::Must, inner.query),
                ]);
                Plan {
                    query: Box::new(ParentOf {
                        children: Box::new(objects),
                        parents: Term::from_field_text(self.fields.keys, LEAD_MARKER),
                    }),
                    exact: inner.exact,
                }
            }
        }
    }

    /// Every lead (`None`; the search keeps the organization's leads), or every object
    /// of the kind.
    fn everything(&self, scope: Option<ObjectType>) -> Box<dyn Query> {
        match scope {
            None => Box::new(AllQuery),
            Some(kind) => self.key_term(&child_marker(kind)),
        }
    }

    /// A query wider than the clause, to be checked by the evaluator.
    fn wider(&self, scope: Option<ObjectType>) -> Plan {
        Plan {
            query: self.everything(scope),
            exact: false,
        }
    }

    fn field(&self, scope: Option<ObjectType>, field: &Field, test: &Test) -> Plan {
        let key = field_key(scope, field);
        let present = || self.key_term(&format!("{key}?"));
        match test {
            Test::Present => Plan::exact(present()),
            Test::Missing => Plan::exact(Box::new(BooleanQuery::new(vec![
                (Occur::Must, self.everything(scope)),
                (Occur::MustNot, present()),
            ]))),
            Test::Words(pattern) => Plan::exact(self.words(&key, pattern)),
            Test::Digits(digits) if digits.is_empty() => Plan::exact(present()),
            Test::Digits(digits) => {
                debug_assert_eq!(key, PHONE_KEY, "digits are searched in phones only");
                Plan::exact(self.prefix(self.fields.keys, &format!("{key}~"), digits))
            }
            Test::Is(value) => Plan::exact(self.key_term(&format!("{key}={value}"))),
            // Some value other than X: a value, and not "X is the only one".
            Test::IsNot(value) => Plan::exact(Box::new(BooleanQuery::new(vec![
                (Occur::Must, present()),
                (
                    Occur::MustNot,
                    Box::new(BooleanQuery::intersection(vec![
                        self.key_term(&format!("{key}={value}")),
                        self.key_term(&format!("{key}#1")),
                    ])),
                ),
            ]))),
            Test::Bool(b) => Plan::exact(self.key_term(&format!("{key}={b}"))),
            Test::Number(comparison, wanted) => {
                let w = encode::number(*wanted);
                let ranges = match comparison {
                    Comparison::Eq => vec![(Bound::Included(w), Bound::Included(w))],
                    Comparison::Ne => vec![
                        (Bound::Unbounded, Bound::Excluded(w)),
                        (Bound::Excluded(w), Bound::Unbounded),
                    ],
                    Comparison::Lt => vec![(Bound::Unbounded, Bound::Excluded(w))],
                    Comparison::Le => vec![(Bound::Unbounded, Bound::Included(w))],
                    Comparison::Gt => vec![(Bound::Excluded(w), Bound::Unbounded)],
                    Comparison::Ge => vec![(Bound::Included(w), Bound::Unbounded)],
                };
                Plan::exact(self.ranges(&key, ranges))
            }
            Test::InRange(range) => Plan::exact(self.dates(&key, range, false)),
            Test::OutOfRange(range) => Plan::exact(self.dates(&key, range, true)),
        }
    }

    /// Date values of the key in (or, `outside`, out of) the range: instants under
    /// `{key}@`, calendar days under `{key}/`.
    fn dates(&self, key: &str, range: &DateRange, outside: bool) -> Box<dyn Query> {
        let instants = (range.start.map(encode::instant), range.end.map(encode::instant));
        let days = (range.start_day.map(encode::day), range.end_day.map(encode::day));
        let pieces = |(start, end): (Bound<u64>, Bound<u64>)| {
            if outside {
                // Below the start and above the end; nothing lies beyond an open end.
                let mut pieces = Vec::new();
                if let Some(below) = flip(start) {
                    pieces.push((Bound::Unbounded, below));
                }
                if let Some(above) = flip(end) {
                    pieces.push((above, Bound::Unbounded));
                }
                pieces
            } else {
                vec![(start, end)]
            }
        };
        union(vec![
            self.ranges(&format!("{key}@"), pieces(instants)),
            self.ranges(&format!("{key}/"), pieces(days)),
        ])
    }

    fn ranges(&self, key: &str, ranges: Vec<(Bound<u64>, Bound<u64>)>) -> Box<dyn Query> {
        let mut parts: Vec<Box<dyn Query>> = Vec::new();
        for (start, end) in ranges {
            let Some((lo, hi)) = encode::inclusive(start, end) else {
                continue;
            };
            for (level, a, b) in encode::split_range(lo, hi) {
                let term = |v| Term::from_field_text(self.fields.numbers, &encode::trie_term(key, level, v));
                parts.push(Box::new(RangeQuery::new(
                    Bound::Included(term(a)),
                    Bound::Included(term(b)),
                )));
            }
        }
        union(parts)
    }

    /// Some text value under the key contains the pattern.
    fn words(&self, key: &str, pattern: &TextPattern) -> Box<dyn Query> {
        let term = |w: &str| Term::from_field_text(self.fields.text, &format!("{key}{WORD_SEP}{w}"));
        match (pattern.words.as_slice(), pattern.last_is_prefix) {
            ([], _) => Box::new(EmptyQuery),
            ([word], false) => Box::new(TermQuery::new(term(word), IndexRecordOption::Basic)),
            ([word], true) => self.prefix(self.fields.text, &format!("{key}{WORD_SEP}"), word),
            (words, false) => Box::new(PhraseQuery::new(words.iter().map(|w| term(w)).collect())),
            (words, true) => {
                let mut query = PhrasePrefixQuery::new(words.iter().map(|w| term(w)).collect());
                // Every expansion, so that the phrase is exact (Tantivy's default stops at 50).
                let last = format!("{key}{WORD_SEP}{}", words[words.len() - 1]);
                query.set_max_expansions(self.expansions(&last).max(1));
                Box::new(query)
            }
        }
    }

    /// Terms of the field that start with `head` followed by `prefix`.
    fn prefix(&self, field: tantivy::schema::Field, head: &str, prefix: &str) -> Box<dyn Query> {
        let pattern = format!("{}.*", escape_regex(&format!("{head}{prefix}")));
        match RegexQuery::from_pattern(&pattern, field) {
            Ok(query) => Box::new(query),
            // Escaped literals always compile; a failure would be a bug, so match nothing
            // rather than everything.
            Err(e) => {
                tracing::error!(error = %e, pattern, "prefix pattern refused");
                Box::new(EmptyQuery)
            }
        }
    }

    /// The most terms of `t` starting with `prefix` in any one segment.
    fn expansions(&self, prefix: &str) -> u32 {
        let mut end = prefix.as_bytes().to_vec();
        // The first string after every string with the prefix: the prefix's last byte
        // incremented (a word separator or a letter's byte, never 0xff in UTF-8).
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let mut most = 0u32;
        for segment in self.searcher.segment_readers() {
            let Ok(inverted) = segment.inverted_index(self.fields.text) else {
                continue;
            };
            let Ok(mut stream) = inverted.terms().range().ge(prefix.as_bytes()).lt(&end).into_stream() else {
                continue;
            };
            let mut n = 0u32;
            while stream.advance() {
                n = n.saturating_add(1);
            }
            most = most.max(n);
        }
        most
    }

    fn key_term(&self, term: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(self.fields.keys, term),
            IndexRecordOption::Basic,
        ))
    }
}

/// The bound of the values on the other side of this one; `None` for an open end.
fn flip(bound: Bound<u64>) -> Option<Bound<u64>> {
    match bound {
        Bound::Included(v) => Some(Bound::Excluded(v)),
        Bound::Excluded(v) => Some(Bound::Included(v)),
        Bound::Unbounded => None,
    }
}

fn union(mut parts: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match parts.len() {
        0 => Box::new(EmptyQuery),
        1 => parts.pop().expect("one part"),
        _ => Box::new(BooleanQuery::union(parts)),
    }
}

/// A literal as a regular expression: letters and digits as they are, anything else by
/// its code point.
fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:x}}}", c as u32));
        }
    }
    out
}

/// The lead documents whose blocks hold a document the inner query matches: each object
/// document's lead is the next lead document after it in its segment.
#[derive(Debug)]
pub struct ParentOf {
    children: Box<dyn Query>,
    parents: Term,
}

impl Clone for ParentOf {
    fn clone(&self) -> Self {
        ParentOf {
            children: self.children.box_clone(),
            parents: self.parents.clone(),
        }
    }
}

impl Query for ParentOf {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let parents = TermQuery::new(self.parents.clone(), IndexRecordOption::Basic);
        Ok(Box::new(ParentOfWeight {
            children: self.children.weight(enable_scoring)?,
            parents: parents.weight(enable_scoring)?,
        }))
    }
}

struct ParentOfWeight {
    children: Box<dyn Weight>,
    parents: Box<dyn Weight>,
}

impl Weight for ParentOfWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let max_doc = reader.max_doc();
        let mut parents = BitSet::with_max_value(max_doc);
        self.parents.for_each_no_score(reader, &mut |docs| {
            for &doc in docs {
                parents.insert(doc);
            }
        })?;
        let mut parents = BitSetDocSet::from(parents);
        let mut found = BitSet::with_max_value(max_doc);
        let mut children = self.children.scorer(reader, 1.0)?;
        let mut child = children.doc();
        while child != TERMINATED {
            let parent = if parents.doc() >= child {
                parents.doc()
            } else {
                parents.seek(child)
            };
            if parent == TERMINATED {
                break;
            }
            found.insert(parent);
            // The lead's other objects add nothing: go on after the lead.
            child = if parent + 1 >= max_doc {
                TERMINATED
            } else {
                children.seek(parent + 1)
            };
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(found), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("ParentOf", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}
