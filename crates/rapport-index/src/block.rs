//! A lead's block as a query, to delete it: the lead's document, found by its id, and the
//! documents of its objects, which are the ones just before it (as many as its `objects`
//! column says). A block stays whole and in order through merges, as blocks are only ever
//! added and deleted whole. Objects' documents so carry no term naming their lead: that
//! term was one posting per object and a term per lead, for deletions alone.

use tantivy::query::{ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term, TERMINATED};

use crate::column_ranges::SortedDocs;
use crate::explain::explain_match;
use crate::schema::{Fields, OBJECTS_COLUMN};

#[derive(Clone, Debug)]
pub struct BlockOf {
    lead_id: Term,
}

impl BlockOf {
    pub fn new(fields: &Fields, lead_id: &str) -> BlockOf {
        BlockOf {
            lead_id: Term::from_field_text(fields.id, lead_id),
        }
    }
}

impl Query for BlockOf {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for BlockOf {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = Vec::new();
        let inverted = reader.inverted_index(self.lead_id.field())?;
        if let Some(mut leads) = inverted.read_postings(&self.lead_id, IndexRecordOption::Basic)? {
            let objects = reader.fast_fields().column_opt::<i64>(OBJECTS_COLUMN)?;
            let mut lead = leads.doc();
            while lead != TERMINATED {
                let count = objects.as_ref().and_then(|c| c.first(lead)).unwrap_or(0);
                let first = lead.saturating_sub(u32::try_from(count).unwrap_or(0));
                docs.extend(first..=lead);
                lead = leads.advance();
            }
        }
        // Deleted versions of the lead may still be in the segment, each with its block.
        docs.sort_unstable();
        docs.dedup();
        Ok(Box::new(ConstScorer::new(SortedDocs::new(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_match(self, reader, doc, "BlockOf")
    }
}
