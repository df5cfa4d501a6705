//! The lead search index: a Tantivy index in the data directory with a block of documents
//! per lead (one per related object, then the lead's), answering [`rapport_query::ResolvedQuery`]s with exactly the leads, in exactly
//! the order, that the reference evaluator gives.
//!
//! * `document.rs` turns a lead into its documents from the evaluator's own view of it
//!   ([`rapport_query::facts`]), so the two cannot drift apart field by field.
//! * `translate.rs` turns a filter into a Tantivy query that accepts exactly the leads
//!   the evaluator accepts (related clauses through a block join).
//! * `search.rs` runs it: it counts the matches and orders them from columns, reading
//!   nothing but the page's ids.
//!
//! The index remembers, in its commit, the event-log sequence it reflects
//! ([`SearchIndex::cursor`]), so the process that feeds it resumes where it stopped and
//! a commit is the index and its cursor at once.

mod block;
mod column_ranges;
mod digit_runs;
mod document;
mod encode;
mod explain;
mod index_doc;
mod keyed_words;
mod lead_docs;
mod schema;
mod search;
mod terms;
mod translate;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use rapport_query::Lead;
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::indexer::UserOperation;
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

pub use search::Hits;

use crate::block::BlockOf;
use crate::digit_runs::{DigitRuns, DIGIT_RUNS};
use crate::index_doc::IndexDoc;
use crate::keyed_words::{KeyedWords, KEYED_WORDS};
use crate::schema::{Fields, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Io(#[from] std::io::Error),
}

impl IndexError {
    /// Another process holds the index's writer lock (another node on the same data dir).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            IndexError::Tantivy(tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _
            ))
        )
    }
}

pub type IndexResult<T> = Result<T, IndexError>;

/// What a commit records besides the documents.
#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    schema: u32,
    cursor: i64,
}

/// Memory for the writer's in-progress segment.
/// Per indexing thread. Taken as documents are buffered, so an idle server does not hold
/// it; a rebuild fills it, and a larger buffer means fewer segments to merge.
const WRITER_HEAP: usize = 384 << 20;

/// Segments this large (about what one writer thread's buffer holds) are left as they
/// are: a rebuild leaves many of about that size, which searches share evenly between the
/// cores; merging them would take minutes and leave one share much larger than the other.
/// Smaller segments (those of the tail's commits) merge until they are that large.
const MERGE_UP_TO_DOCS: usize = 2_000_000;

fn merge_policy() -> Box<dyn tantivy::indexer::MergePolicy> {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_max_docs_before_merge(MERGE_UP_TO_DOCS);
    Box::new(policy)
}

/// While it lives, the index merges no segments (see [`SearchIndex::without_merges`]).
pub struct MergesPaused<'a>(&'a SearchIndex);

impl Drop for MergesPaused<'_> {
    fn drop(&mut self) {
        self.0
            .writer
            .lock()
            .expect("index writer lock")
            .set_merge_policy(merge_policy());
    }
}

/// How long [`SearchIndex::merge_segments`] waits for the merges already under way.
const MERGE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

pub struct SearchIndex {
    fields: Fields,
    index: Index,
    writer: Mutex<IndexWriter<IndexDoc>>,
    reader: IndexReader,
    lead_docs: lead_docs::LeadDocsCache,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing. An index written by another
    /// schema version is emptied: its cursor is then `None` and it must be rebuilt.
    pub fn open(dir: &Path) -> IndexResult<SearchIndex> {
        std::fs::create_dir_all(dir)?;
        let fields = Fields::new();
        let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
        let index = Index::open_or_create(directory, fields.schema.clone()).or_else(|e| {
            // A schema that changed shape: start again from nothing.
            tracing::warn!(error = %e, "search index has another schema; rebuilding it");
            std::fs::remove_dir_all(dir)?;
            std::fs::create_dir_all(dir)?;
            let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
            Index::create(directory, fields.schema.clone(), Default::default()).map_err(IndexError::from)
        })?;
        Self::with_index(fields, index)
    }

    /// An index in memory, for tests and benchmarks.
    pub fn in_memory() -> IndexResult<SearchIndex> {
        let fields = Fields::new();
        let index = Index::create_in_ram(fields.schema.clone());
        Self::with_index(fields, index)
    }

    fn with_index(fields: Fields, index: Index) -> IndexResult<SearchIndex> {
        index
            .tokenizers()
            .register(KEYED_WORDS, TextAnalyzer::from(KeyedWords::default()));
        index
            .tokenizers()
            .register(DIGIT_RUNS, TextAnalyzer::from(DigitRuns::default()));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let writer: IndexWriter<IndexDoc> = index.writer_with_num_threads(threads, WRITER_HEAP * threads)?;
        writer.set_merge_policy(merge_policy());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let this = SearchIndex {
            fields,
            index,
            writer: Mutex::new(writer),
            reader,
            lead_docs: Default::default(),
        };
        if this.payload()?.is_some_and(|p| p.schema != SCHEMA_VERSION) {
            this.clear()?;
        }
        this.reload()?;
        Ok(this)
    }

    /// Opens a searcher on the last commit and forgets what was kept of the segments it
    /// no longer holds (`lead_docs.rs`); the next search reads the new segments'.
    fn reload(&self) -> IndexResult<()> {
        self.reader.reload()?;
        self.lead_docs.keep_only(&self.reader.searcher());
        Ok(())
    }

    fn payload(&self) -> IndexResult<Option<CommitPayload>> {
        let metas = self.index.load_metas()?;
        Ok(metas.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()))
    }

    /// The event-log sequence the last commit reflects; `None` for an empty or discarded
    /// index, which must be filled from the store first.
    pub fn cursor(&self) -> IndexResult<Option<i64>> {
        Ok(self.payload()?.filter(|p| p.schema == SCHEMA_VERSION).map(|p| p.cursor))
    }

    /// Adds or replaces a lead. Visible to searches after the next [`commit`](Self::commit).
    pub fn upsert(&self, organization_id: &str, lead: &Lead, text_fields: &BTreeSet<String>) -> IndexResult<()> {
        self.write(organization_id, lead, text_fields, true)
    }

    /// Adds a lead known not to be in the index (after [`clear`](Self::clear) or
    /// [`delete_organization`](Self::delete_organization)): no deletion to queue, which
    /// a rebuild would otherwise pile up by the million until its commit.
    pub fn add(&self, organization_id: &str, lead: &Lead, text_fields: &BTreeSet<String>) -> IndexResult<()> {
        self.write(organization_id, lead, text_fields, false)
    }

    fn write(
        &self,
        organization_id: &str,
        lead: &Lead,
        text_fields: &BTreeSet<String>,
        replace: bool,
    ) -> IndexResult<()> {
        let block = document::documents(&self.fields, organization_id, lead, text_fields);
        let writer = self.writer.lock().expect("index writer lock");
        if replace {
            // Before the new block's documents, so it deletes only the old block.
            writer.delete_query(Box::new(BlockOf::new(&self.fields, &lead.id)))?;
        }
        // One batch, so that the block lands whole in one segment.
        writer.run(block.into_iter().map(UserOperation::Add))?;
        Ok(())
    }

    pub fn delete(&self, lead_id: &str) -> IndexResult<()> {
        self.delete_blocks(&[lead_id])
    }

    /// Removes every lead of an organization (before indexing all of them again), with
    /// their objects' documents: the organization is known to lead documents only, so
    /// its leads are found first.
    pub fn delete_organization(&self, organization_id: &str) -> IndexResult<()> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.org, organization_id),
            IndexRecordOption::Basic,
        );
        let weight = query.weight(EnableScoring::disabled_from_searcher(&searcher))?;
        let mut ids = Vec::new();
        for segment in searcher.segment_readers() {
            let Some(column) = segment.fast_fields().str("id")? else {
                continue;
            };
            let mut id = String::new();
            weight.for_each_no_score(segment, &mut |docs| {
                for &doc in docs {
                    if let Some(ord) = column.ords().first(doc) {
                        id.clear();
                        if column.ord_to_str(ord, &mut id).is_ok() {
                            ids.push(id.clone());
                        }
                    }
                }
            })?;
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.delete_blocks(&ids)
    }

    fn delete_blocks(&self, lead_ids: &[&str]) -> IndexResult<()> {
        let writer = self.writer.lock().expect("index writer lock");
        for id in lead_ids {
            // `delete_query` is what Tantivy's own term deletions go through.
            writer.delete_query(Box::new(BlockOf::new(&self.fields, id)))?;
        }
        Ok(())
    }

    /// Removes every document and forgets the cursor.
    pub fn clear(&self) -> IndexResult<()> {
        let mut writer = self.writer.lock().expect("index writer lock");
        writer.delete_all_documents()?;
        writer.commit()?;
        drop(writer);
        self.reload()?;
        Ok(())
    }

    /// Drops every change since the last commit.
    pub fn rollback(&self) -> IndexResult<()> {
        self.writer.lock().expect("index writer lock").rollback()?;
        Ok(())
    }

    /// Makes every change so far durable and visible, with the log position they reflect.
    pub fn commit(&self, cursor: i64) -> IndexResult<()> {
        let payload = serde_json::to_string(&CommitPayload {
            schema: SCHEMA_VERSION,
            cursor,
        })
        .expect("payload serializes");
        let mut writer = self.writer.lock().expect("index writer lock");
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        drop(writer);
        self.reload()?;
        Ok(())
    }

    /// Stops merging segments until the guard is dropped: a rebuild writes every document
    /// once, and merging what it has just written would write most of them again.
    pub fn without_merges(&self) -> MergesPaused<'_> {
        self.writer
            .lock()
            .expect("index writer lock")
            .set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        MergesPaused(self)
    }

    /// Merges every committed segment into one, dropping deleted documents for good, and
    /// waits for it.
    pub fn merge_segments(&self) -> IndexResult<()> {
        let started = std::time::Instant::now();
        loop {
            let segments = self.index.searchable_segment_ids()?;
            if segments.len() <= 1 {
                break;
            }
            let merging = self.writer.lock().expect("index writer lock").merge(&segments);
            match merging.wait() {
                Ok(_) => break,
                // Some of them are being merged by the merge policy: wait for that merge.
                Err(tantivy::TantivyError::InvalidArgument(_)) if started.elapsed() < MERGE_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.reload()?;
        Ok(())
    }

    /// The number of documents in the index: a lead's and one per related object.
    pub fn num_documents(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The index's size on disk, in bytes.
    pub fn size_bytes(&self) -> IndexResult<u64> {
        let usage = self.reader.searcher().space_usage()?;
        Ok(usage.total().get_bytes())
    }
}
