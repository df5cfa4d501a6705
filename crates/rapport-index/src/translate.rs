//! A resolved filter as a Tantivy query.
//!
//! A lead is a block of documents: one per related object, then the lead's own (see
//! `document.rs`). Clauses on the lead run on lead documents; a related clause runs its
//! inner filter on the object documents of its kind, where every condition is on one
//! object, and maps the objects that match to their leads ([`ParentOf`]). A field clause
//! holds when *some* value of the field satisfies it, which a term or a range lookup
//! answers; `!=` ("some value other than X") uses the `{key}#n` term that marks fields
//! with several distinct values. So every clause translates exactly: the index never needs the
//! evaluator to check what it found.

use std::ops::Bound;

use rapport_query::facts::{field_key, has_custom_fields, text_fields_of, LEAD_TEXT_KEY};
use rapport_query::{
    Comparison, CustomFieldRef, CustomFieldType, DateRange, Field, Filter, ObjectType, Test, TextPattern,
};
use tantivy::query::{
    BitSetDocSet, BooleanQuery, ConstScorer, EmptyQuery, EnableScoring, ExistsQuery, Explanation, Occur,
    PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, RegexQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{BitSet, DocId, DocSet, Score, Searcher, SegmentReader, Term, TERMINATED};

use crate::column_ranges::{ColumnRange, ColumnRanges, Reading};
use crate::document::{days, nanos};
use crate::encode;
use crate::explain::explain_match;
use crate::lead_docs::LeadDocs;
use crate::schema::{Fields, RangeColumns};
use crate::terms::{child_marker, DIGIT_RUN, PHONE_KEY, WORD_SEP};

pub struct Translator<'a> {
    pub fields: &'a Fields,
    /// The index the query will run on: a phrase ending in a prefix is expanded to the
    /// terms its segments hold.
    pub searcher: &'a Searcher,
    /// The organization's text custom fields, whose values are free text.
    pub text_custom_fields: &'a std::collections::BTreeSet<String>,
    /// The searcher's lead documents, segment by segment.
    pub leads: &'a LeadDocs,
}

impl Translator<'_> {
    /// The documents (leads for `None`, objects of the kind otherwise) the filter accepts.
    pub fn filter(&self, filter: &Filter, scope: Option<ObjectType>) -> Box<dyn Query> {
        match filter {
            Filter::And(items) if items.is_empty() => self.everything(scope),
            Filter::And(items) if items.len() == 1 => self.filter(&items[0], scope),
            Filter::And(items) => Box::new(BooleanQuery::new(
                items.iter().map(|f| (Occur::Must, self.filter(f, scope))).collect(),
            )),
            Filter::Or(items) => union(items.iter().map(|f| self.filter(f, scope)).collect()),
            Filter::Not(inner) => self.except(scope, self.filter(inner, scope)),
            Filter::Text(pattern) => self.free_text(scope, pattern),
            Filter::Field(field, test) => self.field(scope, field, test),
            Filter::Related(kind, inner) => {
                let objects: Box<dyn Query> = if self.only_of_kind(inner, *kind) {
                    self.filter(inner, Some(*kind))
                } else {
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Must, self.everything(Some(*kind))),
                        (Occur::Must, self.filter(inner, Some(*kind))),
                    ]))
                };
                Box::new(ParentOf {
                    children: objects,
                    leads: self.leads.clone(),
                })
            }
        }
    }

    /// Whether the filter, on objects of the kind, matches documents of that kind only,
    /// so that it needs no intersection with all of them. Terms
    /// name the kind in their key, and "not" and "missing" start from the kind's objects;
    /// only a column that several kinds share (an activity's date) does not say whose a
    /// value is.
    fn only_of_kind(&self, filter: &Filter, kind: ObjectType) -> bool {
        match filter {
            Filter::And(items) => items.is_empty() || items.iter().any(|f| self.only_of_kind(f, kind)),
            Filter::Or(items) => items.iter().all(|f| self.only_of_kind(f, kind)),
            Filter::Not(_) | Filter::Text(_) => true,
            Filter::Field(field, test) => {
                matches!(test, Test::Missing)
                    || self
                        .fields
                        .range_columns
                        .get(&field_key(Some(kind), field))
                        .is_none_or(|columns| !columns.shared)
            }
            // Leads, not objects.
            Filter::Related(..) => false,
        }
    }

    /// Every lead (`None`; the search keeps the organization's), or every object of
    /// the kind.
    fn everything(&self, scope: Option<ObjectType>) -> Box<dyn Query> {
        match scope {
            None => self.leads.query(),
            Some(kind) => self.key_term(&child_marker(kind)),
        }
    }

    /// Every document of the scope but those of `query`.
    fn except(&self, scope: Option<ObjectType>, query: Box<dyn Query>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, self.everything(scope)),
            (Occur::MustNot, query),
        ]))
    }

    fn field(&self, scope: Option<ObjectType>, field: &Field, test: &Test) -> Box<dyn Query> {
        let key = field_key(scope, field);
        let present = || self.present(&key);
        match test {
            Test::Present => present(),
            Test::Missing => self.except(scope, present()),
            Test::Words(pattern) => self.words(&key, pattern),
            Test::Digits(digits) if digits.is_empty() => present(),
            Test::Digits(digits) => {
                debug_assert_eq!(key, PHONE_KEY, "digits are searched in phones only");
                self.phone_digits(&key, digits)
            }
            Test::Is(value) => self.key_term(&format!("{key}={value}")),
            // Some value other than X: a value, and not "X is the only one" (X, and not
            // several distinct values).
            Test::IsNot(value) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, present()),
                (
                    Occur::MustNot,
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Must, self.key_term(&format!("{key}={value}"))),
                        (Occur::MustNot, self.key_term(&format!("{key}#n"))),
                    ])),
                ),
            ])),
            Test::Bool(b) => self.key_term(&format!("{key}={b}")),
            Test::Number(comparison, wanted) if self.column(&key, |c| c.number).is_some() => {
                let column = self.column(&key, |c| c.number).expect("checked");
                self.column_ranges(
                    scope,
                    comparison_ranges(*comparison, *wanted)
                        .into_iter()
                        .filter_map(|range| ColumnRange::float(column, range))
                        .collect(),
                )
            }
            Test::Number(comparison, wanted) => {
                self.ranges(&key, "", comparison_ranges(*comparison, encode::number(*wanted)))
            }
            Test::InRange(range) => self.dates(scope, &key, range, false),
            Test::OutOfRange(range) => self.dates(scope, &key, range, true),
        }
    }

    /// Phones whose digits contain `digits` (see `document.rs`): three or more digits are
    /// runs at consecutive positions, a phrase; fewer start a run, or end the number.
    fn phone_digits(&self, key: &str, digits: &str) -> Box<dyn Query> {
        if !digits.is_ascii() {
            // Phones are indexed as ASCII digits: nothing else is in one.
            return Box::new(EmptyQuery);
        }
        let run = |s: &str| Term::from_field_text(self.fields.phone_runs, s);
        if let Some(last) = digits.len().checked_sub(DIGIT_RUN) {
            // Runs that pin every digit: every third one, and the last.
            let mut starts: Vec<usize> = (0..=last).step_by(DIGIT_RUN).collect();
            if starts.last() != Some(&last) {
                starts.push(last);
            }
            let mut runs: Vec<(usize, Term)> = starts
                .into_iter()
                .map(|at| (at, run(&digits[at..at + DIGIT_RUN])))
                .collect();
            return match runs.len() {
                1 => Box::new(TermQuery::new(runs.remove(0).1, IndexRecordOption::Basic)),
                _ => Box::new(PhraseQuery::new_with_offset(runs)),
            };
        }
        // Every run that starts with the digits: `41` up to the next digit.
        let mut parts: Vec<Box<dyn Query>> = vec![Box::new(RangeQuery::new(
            Bound::Included(run(digits)),
            Bound::Excluded(run(&format!("{digits}\u{ff}"))),
        ))];
        // The last one or two digits of a number, which start no run: a suffix that is
        // the digits, or (for one digit) the digit and one more.
        parts.push(self.key_term(&format!("{key}~{digits}")));
        if digits.len() + 1 < DIGIT_RUN {
            for next in '0'..='9' {
                parts.push(self.key_term(&format!("{key}~{digits}{next}")));
            }
        }
        union(parts)
    }

    /// Date values of the key in (or, `outside`, out of) the range: instants under
    /// `{key}@`, calendar days under `{key}/`.
    fn dates(&self, scope: Option<ObjectType>, key: &str, range: &DateRange, outside: bool) -> Box<dyn Query> {
        if let Some(columns) = self.fields.range_columns.get(key) {
            let mut ranges = Vec::new();
            for (column, bounds) in [
                (columns.instant, (range.start.map(nanos), range.end.map(nanos))),
                (columns.day, (range.start_day.map(days), range.end_day.map(days))),
            ] {
                if let Some(column) = column {
                    ranges.extend(
                        sides(bounds, outside)
                            .into_iter()
                            .filter_map(|side| ColumnRange::signed(column, side)),
                    );
                }
            }
            return self.column_ranges(scope, ranges);
        }
        let instants = (range.start.map(encode::instant), range.end.map(encode::instant));
        let days = (range.start_day.map(encode::day), range.end_day.map(encode::day));
        union(vec![
            self.ranges(key, "@", sides(instants, outside)),
            self.ranges(key, "/", sides(days, outside)),
        ])
    }

    /// Values under the key's trie terms (`suffix` as in [`encode::TrieTerm`]) in the ranges.
    fn ranges(&self, key: &str, suffix: &str, ranges: Vec<(Bound<u64>, Bound<u64>)>) -> Box<dyn Query> {
        let mut parts: Vec<Box<dyn Query>> = Vec::new();
        for (start, end) in ranges {
            let Some((lo, hi)) = encode::inclusive(start, end) else {
                continue;
            };
            for (level, a, b) in encode::split_range(lo, hi) {
                let term = |shifted| {
                    let term = encode::TrieTerm {
                        key,
                        suffix,
                        level,
                        shifted,
                    };
                    Term::from_field_text(self.fields.numbers, &term.to_string())
                };
                parts.push(Box::new(RangeQuery::new(
                    Bound::Included(term(a)),
                    Bound::Included(term(b)),
                )));
            }
        }
        union(parts)
    }

    /// The column of a key's values of one kind, if they are in a column.
    fn column(
        &self,
        key: &str,
        pick: impl Fn(&RangeColumns) -> Option<tantivy::schema::Field>,
    ) -> Option<tantivy::schema::Field> {
        pick(self.fields.range_columns.get(key)?)
    }

    /// Documents with a value in one of the ranges. Objects' values are checked document
    /// by document as the block join reaches them, which skips the rest of a lead's
    /// objects once one matches; the leads' columns are scanned whole, which measured
    /// faster where a range is most of the query.
    fn column_ranges(&self, scope: Option<ObjectType>, ranges: Vec<ColumnRange>) -> Box<dyn Query> {
        Box::new(ColumnRanges {
            ranges,
            segments: self.leads.clone(),
            reading: match scope {
                Some(_) => Reading::PerDocument,
                None => Reading::WholeColumns,
            },
        })
    }

    /// The documents with a value under the key: its presence term, or for a key kept in
    /// columns, a value in one of them.
    fn present(&self, key: &str) -> Box<dyn Query> {
        if self.fields.presence_from_values.contains(key) {
            // Any `{key}=…` term: `>` is the byte after `=`.
            let term = |s: String| Term::from_field_text(self.fields.keys, &s);
            return Box::new(RangeQuery::new(
                Bound::Included(term(format!("{key}="))),
                Bound::Excluded(term(format!("{key}>"))),
            ));
        }
        let Some(columns) = self.fields.range_columns.get(key) else {
            return self.key_term(&format!("{key}?"));
        };
        union(
            columns
                .all()
                .map(|column| {
                    let name = self.fields.schema.get_field_name(column).to_string();
                    Box::new(ExistsQuery::new(name, false)) as Box<dyn Query>
                })
                .collect(),
        )
    }

    /// Free text: the lead's, or that of one object of the kind (its text fields and its
    /// text custom fields).
    fn free_text(&self, scope: Option<ObjectType>, pattern: &TextPattern) -> Box<dyn Query> {
        let Some(kind) = scope else {
            return self.words(LEAD_TEXT_KEY, pattern);
        };
        let mut keys: Vec<String> = text_fields_of(kind).iter().map(|f| field_key(scope, f)).collect();
        if has_custom_fields(kind) {
            keys.extend(self.text_custom_fields.iter().map(|id| {
                let custom = Field::Custom(CustomFieldRef {
                    id: id.clone(),
                    name: String::new(),
                    value_type: CustomFieldType::Text,
                });
                field_key(scope, &custom)
            }));
        }
        union(keys.iter().map(|key| self.words(key, pattern)).collect())
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

/// The values that compare so with `w`, as ranges (two for `!=`).
fn comparison_ranges<T: Copy>(comparison: Comparison, w: T) -> Vec<(Bound<T>, Bound<T>)> {
    match comparison {
        Comparison::Eq => vec![(Bound::Included(w), Bound::Included(w))],
        Comparison::Ne => vec![
            (Bound::Unbounded, Bound::Excluded(w)),
            (Bound::Excluded(w), Bound::Unbounded),
        ],
        Comparison::Lt => vec![(Bound::Unbounded, Bound::Excluded(w))],
        Comparison::Le => vec![(Bound::Unbounded, Bound::Included(w))],
        Comparison::Gt => vec![(Bound::Excluded(w), Bound::Unbounded)],
        Comparison::Ge => vec![(Bound::Included(w), Bound::Unbounded)],
    }
}

/// The pieces of a range: itself, or (`outside`) below its start and above its end.
fn sides<T: Copy>((start, end): (Bound<T>, Bound<T>), outside: bool) -> Vec<(Bound<T>, Bound<T>)> {
    if !outside {
        return vec![(start, end)];
    }
    let mut pieces = Vec::new();
    if let Some(below) = flip(start) {
        pieces.push((Bound::Unbounded, below));
    }
    if let Some(above) = flip(end) {
        pieces.push((above, Bound::Unbounded));
    }
    pieces
}

/// The bound of the values on the other side of this one; `None` for an open end.
fn flip<T>(bound: Bound<T>) -> Option<Bound<T>> {
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
    leads: LeadDocs,
}

impl Clone for ParentOf {
    fn clone(&self) -> Self {
        ParentOf {
            children: self.children.box_clone(),
            leads: self.leads.clone(),
        }
    }
}

impl Query for ParentOf {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ParentOfWeight {
            children: self.children.weight(enable_scoring)?,
            leads: self.leads.clone(),
        }))
    }
}

struct ParentOfWeight {
    children: Box<dyn Weight>,
    leads: LeadDocs,
}

impl Weight for ParentOfWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let max_doc = reader.max_doc();
        let leads = self.leads.of(reader)?;
        let mut found = BitSet::with_max_value(max_doc);
        let mut children = self.children.scorer(reader, 1.0)?;
        let mut child = children.doc();
        while child != TERMINATED {
            let parent = leads.next_from(child);
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
        explain_match(self, reader, doc, "ParentOf")
    }
}
