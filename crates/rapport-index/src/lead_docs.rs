//! Which documents of a segment are leads, read once per segment.
//!
//! Every search needs them: a query on leads must leave the objects' documents out, and a
//! related clause maps each object to the next lead document after it. Reading the lead
//! marker's postings took a pass over a million documents per clause and per search; a
//! segment never changes (deletions aside, which searches check on their own), so its lead
//! documents are kept as a bit set for as long as the segment is searched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::columnar::column_index::OptionalIndex;
use tantivy::index::SegmentId;
use tantivy::query::{ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::Field;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, Term, TERMINATED};

use crate::explain::explain_match;
use crate::terms::LEAD_MARKER;
use crate::IndexResult;

/// A set of document ids of one segment.
#[derive(Debug)]
pub struct DocBits {
    words: Vec<u64>,
    count: usize,
    /// How many members come before each word, once the set is complete.
    ranks: Vec<u32>,
}

impl DocBits {
    fn with_max_doc(max_doc: DocId) -> DocBits {
        DocBits {
            words: vec![0; (max_doc as usize).div_ceil(64)],
            count: 0,
            ranks: Vec::new(),
        }
    }

    /// Counts the members before each word, for [`rank`](Self::rank).
    fn complete(mut self) -> DocBits {
        let mut before = 0u32;
        self.ranks = self
            .words
            .iter()
            .map(|w| {
                let rank = before;
                before += w.count_ones();
                rank
            })
            .collect();
        self
    }

    /// How many members come before `doc`, a member: the row of its value in a column
    /// that has one value for each member and no other.
    pub fn rank(&self, doc: DocId) -> u32 {
        let (word, bit) = ((doc / 64) as usize, doc % 64);
        self.ranks[word] + (self.words[word] & ((1u64 << bit) - 1)).count_ones()
    }

    fn insert(&mut self, doc: DocId) {
        let (word, bit) = ((doc / 64) as usize, doc % 64);
        if self.words[word] & (1 << bit) == 0 {
            self.words[word] |= 1 << bit;
            self.count += 1;
        }
    }

    pub fn contains(&self, doc: DocId) -> bool {
        let word = (doc / 64) as usize;
        self.words.get(word).is_some_and(|w| w & (1 << (doc % 64)) != 0)
    }

    /// How many documents the set holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The first document of the set at or after `doc`, or [`TERMINATED`].
    pub fn next_from(&self, doc: DocId) -> DocId {
        let mut word = (doc / 64) as usize;
        let Some(&first) = self.words.get(word) else {
            return TERMINATED;
        };
        let mut bits = first & (u64::MAX << (doc % 64));
        loop {
            if bits != 0 {
                return (word as u32) * 64 + bits.trailing_zeros();
            }
            word += 1;
            match self.words.get(word) {
                Some(&w) => bits = w,
                None => return TERMINATED,
            }
        }
    }
}

/// The lead documents of each segment, computed the first time a search meets the segment
/// and dropped once the index's current searcher no longer holds it.
#[derive(Default)]
pub struct LeadDocsCache {
    by_segment: Mutex<HashMap<SegmentId, Arc<DocBits>>>,
    valued: Arc<Mutex<ValuedDocs>>,
}

/// The documents with a value in a column, by segment and column.
type ValuedDocs = HashMap<(SegmentId, Field), Arc<DocBits>>;

impl LeadDocsCache {
    /// The lead documents of every segment of the searcher.
    pub fn for_searcher(&self, searcher: &Searcher, keys: Field) -> IndexResult<LeadDocs> {
        let mut cache = self.by_segment.lock().expect("lead documents cache lock");
        let mut by_segment = HashMap::with_capacity(searcher.segment_readers().len());
        for segment in searcher.segment_readers() {
            let bits = match cache.get(&segment.segment_id()) {
                Some(bits) => bits.clone(),
                None => {
                    let bits = Arc::new(read_lead_docs(segment, keys)?);
                    cache.insert(segment.segment_id(), bits.clone());
                    bits
                }
            };
            by_segment.insert(segment.segment_id(), bits);
        }
        Ok(LeadDocs {
            by_segment: Arc::new(by_segment),
            valued: self.valued.clone(),
        })
    }
}

impl LeadDocsCache {
    /// Forgets the segments that the searcher (the index's newest) no longer holds. Only
    /// the newest searcher's segments count: a search that started on an older one would
    /// otherwise evict the segments of the last commit.
    pub fn keep_only(&self, searcher: &Searcher) {
        let current: Vec<SegmentId> = searcher.segment_readers().iter().map(|s| s.segment_id()).collect();
        self.by_segment
            .lock()
            .expect("lead documents cache lock")
            .retain(|id, _| current.contains(id));
        self.valued
            .lock()
            .expect("valued documents cache lock")
            .retain(|(id, _), _| current.contains(id));
    }
}

fn read_lead_docs(segment: &SegmentReader, keys: Field) -> IndexResult<DocBits> {
    let mut bits = DocBits::with_max_doc(segment.max_doc());
    let term = Term::from_field_text(keys, LEAD_MARKER);
    if let Some(mut postings) = segment
        .inverted_index(keys)?
        .read_postings(&term, IndexRecordOption::Basic)?
    {
        let mut doc = postings.doc();
        while doc != TERMINATED {
            bits.insert(doc);
            doc = postings.advance();
        }
    }
    Ok(bits.complete())
}

/// The lead documents of the segments of one searcher, and the documents with a value
/// in a column, as searches ask for them.
#[derive(Clone, Debug)]
pub struct LeadDocs {
    by_segment: Arc<HashMap<SegmentId, Arc<DocBits>>>,
    valued: Arc<Mutex<ValuedDocs>>,
}

impl LeadDocs {
    /// The segment's lead documents; an error for a segment of another searcher.
    pub fn of(&self, segment: &SegmentReader) -> tantivy::Result<Arc<DocBits>> {
        self.by_segment.get(&segment.segment_id()).cloned().ok_or_else(|| {
            tantivy::TantivyError::InternalError(format!(
                "segment {} is not one of the searcher's",
                segment.segment_id().short_uuid_string()
            ))
        })
    }

    /// The documents of the segment with a value in the column (whose index says which),
    /// read the first time a search asks: a document's rank among them is its value's row.
    pub fn valued(&self, segment: &SegmentReader, column: Field, index: &OptionalIndex) -> Arc<DocBits> {
        let key = (segment.segment_id(), column);
        if let Some(bits) = self.valued.lock().expect("valued documents cache lock").get(&key) {
            return bits.clone();
        }
        let mut bits = DocBits::with_max_doc(segment.max_doc());
        for doc in index.iter_non_null_docs() {
            bits.insert(doc);
        }
        let bits = Arc::new(bits.complete());
        self.valued
            .lock()
            .expect("valued documents cache lock")
            .insert(key, bits.clone());
        bits
    }

    /// Every lead document, as a query.
    pub fn query(&self) -> Box<dyn Query> {
        Box::new(AllLeads(self.clone()))
    }
}

#[derive(Clone, Debug)]
struct AllLeads(LeadDocs);

impl Query for AllLeads {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for AllLeads {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ConstScorer::new(BitsDocSet::new(self.0.of(reader)?), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_match(self, reader, doc, "AllLeads")
    }
}

/// The documents of a shared set, in order.
pub struct BitsDocSet {
    bits: Arc<DocBits>,
    doc: DocId,
}

impl BitsDocSet {
    pub fn new(bits: Arc<DocBits>) -> BitsDocSet {
        let doc = bits.next_from(0);
        BitsDocSet { bits, doc }
    }
}

impl DocSet for BitsDocSet {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.bits.next_from(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc < target {
            self.doc = self.bits.next_from(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.bits.len() as u32
    }
}

/// The documents of `inner` that are in `bits`.
pub struct Within {
    inner: Box<dyn Scorer>,
    bits: Arc<DocBits>,
    doc: DocId,
}

impl Within {
    pub fn new(inner: Box<dyn Scorer>, bits: Arc<DocBits>) -> Within {
        let doc = inner.doc();
        let mut within = Within { inner, bits, doc };
        within.skip_outside(doc);
        within
    }

    /// Settles on the first document at or after `doc` (where `inner` is) in both.
    fn skip_outside(&mut self, mut doc: DocId) -> DocId {
        while doc != TERMINATED && !self.bits.contains(doc) {
            let next = self.bits.next_from(doc);
            if next == TERMINATED {
                doc = TERMINATED;
                break;
            }
            doc = self.inner.seek(next);
        }
        self.doc = doc;
        doc
    }
}

impl DocSet for Within {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let doc = self.inner.advance();
        self.skip_outside(doc)
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        let doc = self.inner.seek(target);
        self.skip_outside(doc)
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for Within {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_from_finds_the_next_member_across_words() {
        let mut bits = DocBits::with_max_doc(300);
        for doc in [0, 63, 64, 200, 299] {
            bits.insert(doc);
        }
        bits.insert(64);
        assert_eq!(bits.len(), 5);
        let found: Vec<DocId> = [0, 1, 63, 64, 65, 199, 200, 201, 299, 300, 10_000]
            .iter()
            .map(|&d| bits.next_from(d))
            .collect();
        assert_eq!(found, [0, 63, 63, 64, 200, 200, 200, 299, 299, TERMINATED, TERMINATED]);
        assert!(bits.contains(200) && !bits.contains(201) && !bits.contains(1_000_000));
        let bits = bits.complete();
        let ranks: Vec<u32> = [0, 63, 64, 200, 299].iter().map(|&d| bits.rank(d)).collect();
        assert_eq!(ranks, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_doc_set_over_the_bits_advances_and_seeks() {
        let mut bits = DocBits::with_max_doc(1000);
        for doc in [3, 70, 500, 999] {
            bits.insert(doc);
        }
        let mut docs = BitsDocSet::new(Arc::new(bits));
        assert_eq!(docs.doc(), 3);
        assert_eq!(docs.advance(), 70);
        assert_eq!(docs.seek(70), 70);
        assert_eq!(docs.seek(71), 500);
        assert_eq!(docs.advance(), 999);
        assert_eq!(docs.advance(), TERMINATED);
        assert_eq!(docs.advance(), TERMINATED);
    }
}
