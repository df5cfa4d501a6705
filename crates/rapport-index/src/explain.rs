//! `Weight::explain` for the index's own queries, which all score a match as a constant.
//! Apart from `translate.rs` because the queries it builds on (`column_ranges.rs`,
//! `lead_docs.rs`) need it too.

use tantivy::query::{Explanation, Weight};
use tantivy::{DocId, DocSet, SegmentReader};

/// A constant-score weight's explanation: whether the document matches.
pub(crate) fn explain_match(
    weight: &dyn Weight,
    reader: &SegmentReader,
    doc: DocId,
    name: &'static str,
) -> tantivy::Result<Explanation> {
    let mut scorer = weight.scorer(reader, 1.0)?;
    if scorer.seek(doc) == doc {
        Ok(Explanation::new(name, 1.0))
    } else {
        Err(tantivy::TantivyError::InvalidArgument(format!(
            "document {doc} does not match"
        )))
    }
}
