//! Documents with a value in one of several ranges of their columns.
//!
//! Tantivy's range over a fast field reads its column in windows of 128 documents while
//! it is seeked often, as a block join seeks the objects' conditions once per lead, and
//! each window pays to map its documents to the column's rows and back: half the time of
//! `task(done:no due < today)` went there, and as much again to the union of the due
//! instant's and the due day's ranges. Here the ranges of a clause are one query, read
//! one of two ways ([`Reading`]):
//! - per document: the segment's documents with a value in the column are a bit set
//!   (read once, kept with the segment's lead documents), a document's rank in it is its
//!   value's row, and a value is read only when the search reaches its document; a block
//!   join that has found a lead's match skips the lead's other objects unread;
//! - whole columns: each column's values are scanned once, the rows in range are mapped
//!   to documents in one batch, and the lists are merged.

use std::ops::{Bound, RangeInclusive};

use std::sync::Arc;

use tantivy::columnar::{Column, ColumnIndex};
use tantivy::query::{ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::Field;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED};

use crate::explain::explain_match;
use crate::lead_docs::{DocBits, LeadDocs};

/// Values of one column in one range.
#[derive(Clone, Debug)]
pub enum ColumnRange {
    Signed(Field, RangeInclusive<i64>),
    Float(Field, RangeInclusive<f64>),
}

impl ColumnRange {
    /// Signed values between the bounds; `None` when none can be.
    pub fn signed(column: Field, (lo, hi): (Bound<i64>, Bound<i64>)) -> Option<ColumnRange> {
        let lo = match lo {
            Bound::Included(v) => v,
            Bound::Excluded(v) => v.checked_add(1)?,
            Bound::Unbounded => i64::MIN,
        };
        let hi = match hi {
            Bound::Included(v) => v,
            Bound::Excluded(v) => v.checked_sub(1)?,
            Bound::Unbounded => i64::MAX,
        };
        (lo <= hi).then_some(ColumnRange::Signed(column, lo..=hi))
    }

    /// Numbers between the bounds; `None` when none can be.
    pub fn float(column: Field, (lo, hi): (Bound<f64>, Bound<f64>)) -> Option<ColumnRange> {
        // Nothing lies above infinity or below its negative.
        let lo = match lo {
            Bound::Included(v) => v,
            Bound::Excluded(v) if v == f64::INFINITY => return None,
            Bound::Excluded(v) => v.next_up(),
            Bound::Unbounded => f64::NEG_INFINITY,
        };
        let hi = match hi {
            Bound::Included(v) => v,
            Bound::Excluded(v) if v == f64::NEG_INFINITY => return None,
            Bound::Excluded(v) => v.next_down(),
            Bound::Unbounded => f64::INFINITY,
        };
        (lo <= hi).then_some(ColumnRange::Float(column, lo..=hi))
    }
}

/// The documents with a value in any of the ranges.
#[derive(Clone, Debug)]
pub struct ColumnRanges {
    pub ranges: Vec<ColumnRange>,
    /// Where the documents with a value in a column are kept.
    pub segments: LeadDocs,
    pub reading: Reading,
}

/// How the documents in range are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Each document's value is read as the search reaches the document.
    PerDocument,
    /// Each column's values are scanned once and the rows in range mapped to documents.
    WholeColumns,
}

impl Query for ColumnRanges {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for ColumnRanges {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if self.reading == Reading::WholeColumns {
            return self.all_at_once(reader, boost);
        }
        let fast = reader.fast_fields();
        let schema = reader.schema();
        let mut cursors = Vec::with_capacity(self.ranges.len());
        for range in &self.ranges {
            let cursor = match range {
                ColumnRange::Signed(field, values) => fast
                    .column_opt::<i64>(schema.get_field_name(*field))?
                    .map(|column| self.cursor(reader, *field, column, values.clone())),
                ColumnRange::Float(field, values) => fast
                    .column_opt::<f64>(schema.get_field_name(*field))?
                    .map(|column| self.cursor(reader, *field, column, values.clone())),
            };
            match cursor {
                Some(Some(cursor)) => cursors.push(cursor),
                // No such column in the segment: no values.
                None => {}
                // Several values for a document: their rows are not the documents' ranks.
                Some(None) => return self.all_at_once(reader, boost),
            }
        }
        let mut docs = InRange { cursors, doc: 0 };
        docs.doc = docs.first_from(0);
        Ok(Box::new(ConstScorer::new(docs, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_match(self, reader, doc, "ColumnRanges")
    }
}

impl ColumnRanges {
    /// A cursor over the documents whose value is in the range; `None` for a column
    /// with several values for a document.
    fn cursor<T>(
        &self,
        reader: &SegmentReader,
        field: Field,
        column: Column<T>,
        values: RangeInclusive<T>,
    ) -> Option<Cursor>
    where
        T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
    {
        let docs = match &column.index {
            ColumnIndex::Empty { .. } => Valued::All(0),
            ColumnIndex::Full => Valued::All(reader.max_doc()),
            ColumnIndex::Optional(index) => Valued::Some(self.segments.valued(reader, field, index)),
            ColumnIndex::Multivalued(_) => return None,
        };
        let column_values = column.values.clone();
        Some(Cursor {
            docs,
            holds: Box::new(move |row| values.contains(&column_values.get_val(row))),
            searched_from: 0,
            next: None,
        })
    }

    /// Every document in range, found by scanning each column's values once and mapping
    /// the rows that match to their documents.
    fn all_at_once(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let fast = reader.fast_fields();
        let schema = reader.schema();
        let mut docs: Vec<DocId> = Vec::new();
        let mut found = Vec::new();
        for range in &self.ranges {
            found.clear();
            match range {
                ColumnRange::Signed(column, values) => {
                    if let Some(column) = fast.column_opt::<i64>(schema.get_field_name(*column))? {
                        docs_in_range(&column, values, &mut found);
                    }
                }
                ColumnRange::Float(column, values) => {
                    if let Some(column) = fast.column_opt::<f64>(schema.get_field_name(*column))? {
                        docs_in_range(&column, values, &mut found);
                    }
                }
            }
            docs = if docs.is_empty() {
                std::mem::take(&mut found)
            } else {
                merge(&docs, &found)
            };
        }
        // A document with several values in range came once per value.
        docs.dedup();
        Ok(Box::new(ConstScorer::new(SortedDocs::new(docs), boost)))
    }
}

/// Which documents have a value in a column.
enum Valued {
    /// The first n documents.
    All(DocId),
    Some(Arc<DocBits>),
}

/// The documents of one column whose value is in one range, checked one by one as the
/// search reaches them: a document's value is at its rank among those with a value.
struct Cursor {
    docs: Valued,
    holds: Box<dyn Fn(u32) -> bool + Send + Sync>,
    /// The first document at or after `searched_from` that holds, once looked for.
    searched_from: DocId,
    next: Option<DocId>,
}

impl Cursor {
    fn first_from(&mut self, from: DocId) -> DocId {
        if let Some(next) = self.next {
            if from >= self.searched_from && from <= next {
                return next;
            }
        }
        let mut doc = self.valued_from(from);
        while doc != TERMINATED {
            let row = match &self.docs {
                Valued::All(_) => doc,
                Valued::Some(bits) => bits.rank(doc),
            };
            if (self.holds)(row) {
                break;
            }
            doc = self.valued_from(doc + 1);
        }
        self.searched_from = from;
        self.next = Some(doc);
        doc
    }

    fn valued_from(&self, from: DocId) -> DocId {
        match &self.docs {
            Valued::All(n) if from < *n => from,
            Valued::All(_) => TERMINATED,
            Valued::Some(bits) => bits.next_from(from),
        }
    }

    fn size_hint(&self) -> u32 {
        match &self.docs {
            Valued::All(n) => *n,
            Valued::Some(bits) => bits.len() as u32,
        }
    }
}

/// The documents that hold in any of the cursors.
struct InRange {
    cursors: Vec<Cursor>,
    doc: DocId,
}

impl InRange {
    fn first_from(&mut self, from: DocId) -> DocId {
        self.cursors
            .iter_mut()
            .map(|c| c.first_from(from))
            .min()
            .unwrap_or(TERMINATED)
    }
}

impl DocSet for InRange {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.first_from(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc < target {
            self.doc = self.first_from(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.cursors.iter().map(Cursor::size_hint).fold(0, u32::saturating_add)
    }
}

/// Two sorted lists as one.
fn merge(a: &[DocId], b: &[DocId]) -> Vec<DocId> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            merged.push(a[i]);
            i += 1;
        } else {
            merged.push(b[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    merged
}

/// Documents from a sorted list without duplicates; a seek gallops from where it is.
pub(crate) struct SortedDocs {
    docs: Vec<DocId>,
    at: usize,
}

impl SortedDocs {
    pub(crate) fn new(docs: Vec<DocId>) -> SortedDocs {
        SortedDocs { docs, at: 0 }
    }
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        if self.at < self.docs.len() {
            self.at += 1;
        }
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.docs[self.at..];
        // The first power-of-two step past the target bounds a binary search.
        let mut step = 1;
        while step < rest.len() && rest[step] < target {
            step *= 2;
        }
        let window = &rest[..rest.len().min(step + 1)];
        self.at += window.partition_point(|&doc| doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.at) as u32
    }
}

/// The documents (in order, a document once per value) whose value is in the range.
fn docs_in_range<T>(column: &Column<T>, values: &RangeInclusive<T>, found: &mut Vec<DocId>)
where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
{
    found.clear();
    if column.num_docs() == 0 || *values.start() > column.max_value() || *values.end() < column.min_value() {
        return;
    }
    column.get_docids_for_value_range(values.clone(), 0..column.num_docs(), found);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_docs_advance_and_gallop_to_a_target() {
        let mut docs = SortedDocs {
            docs: merge(&[2, 5, 9, 40, 41], &[3, 5, 100]),
            at: 0,
        };
        docs.docs.dedup();
        assert_eq!(docs.docs, [2, 3, 5, 9, 40, 41, 100]);
        assert_eq!(docs.doc(), 2);
        assert_eq!(docs.seek(2), 2);
        assert_eq!(docs.seek(4), 5);
        assert_eq!(docs.advance(), 9);
        assert_eq!(docs.seek(41), 41);
        assert_eq!(docs.seek(99), 100);
        assert_eq!(docs.seek(101), TERMINATED);
        assert_eq!(docs.advance(), TERMINATED);
        assert_eq!(docs.seek(1_000), TERMINATED);
    }

    #[test]
    fn open_and_excluded_bounds_become_inclusive_ranges() {
        let signed = |lo, hi| match ColumnRange::signed(Field::from_field_id(0), (lo, hi)) {
            Some(ColumnRange::Signed(_, r)) => Some((*r.start(), *r.end())),
            _ => None,
        };
        assert_eq!(signed(Bound::Excluded(3), Bound::Excluded(7)), Some((4, 6)));
        assert_eq!(signed(Bound::Unbounded, Bound::Included(7)), Some((i64::MIN, 7)));
        assert_eq!(signed(Bound::Excluded(3), Bound::Excluded(4)), None);
        assert_eq!(signed(Bound::Excluded(i64::MAX), Bound::Unbounded), None);
        let float = |lo, hi| match ColumnRange::float(Field::from_field_id(0), (lo, hi)) {
            Some(ColumnRange::Float(_, r)) => Some((*r.start(), *r.end())),
            _ => None,
        };
        let (lo, hi) = float(Bound::Excluded(1.0), Bound::Excluded(2.0)).unwrap();
        assert!(lo > 1.0 && lo < 1.000001 && hi < 2.0 && hi > 1.999999);
        assert_eq!(float(Bound::Excluded(1.0), Bound::Excluded(1.0)), None);
        assert_eq!(float(Bound::Excluded(f64::INFINITY), Bound::Unbounded), None);
        assert_eq!(float(Bound::Included(1.0), Bound::Included(1.0)), Some((1.0, 1.0)));
    }
}
