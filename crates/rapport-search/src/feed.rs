//! Feeding the index from the event log, and rebuilding it from the store.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rapport_core::Kind;
use rapport_crm::{CrmError, CrmResult, LeadSelection};
use rapport_index::SearchIndex;
use rapport_log::{Applied, Consumer, ConsumerError, Event, Tail};
use rapport_query::Lead;

use crate::Search;

/// Leads read again per statement.
const RELOAD_BATCH: usize = 500;
/// Batches of a rebuild being made into documents while the next is read.
const BATCHES_IN_FLIGHT: usize = 2;
/// Events read per step of the tail.
const TAIL_BATCH: usize = 5_000;
/// How often an idle tail looks at the log anyway: other processes writing the same
/// SQLite file (the CLI) do not wake it.
const IDLE_RECHECK: Duration = Duration::from_millis(500);
/// The same where other nodes' commits wake the tail (PostgreSQL LISTEN/NOTIFY): only a
/// safety net for a notification lost while reconnecting.
const IDLE_RECHECK_LISTENING: Duration = Duration::from_secs(5);
/// How far the index's committed cursor may stay behind what it applied when no lead
/// changes.
const UNCOMMITTED_EVENTS: i64 = 10_000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct RebuildReport {
    pub leads: usize,
    pub cursor: i64,
    pub elapsed: Duration,
}

impl Search {
    pub(crate) async fn run(self) {
        let index = match self.index() {
            Ok(index) => index,
            Err(e) => {
                tracing::error!(error = %e, "no search index; searches will answer 503");
                return;
            }
        };
        let mut stop = self.0.stop.subscribe();
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let tail = Tail::new(self.0.crm.log().clone())
            .batch(TAIL_BATCH)
            .idle_recheck(IDLE_RECHECK, IDLE_RECHECK_LISTENING);
        let feed = IndexFeed {
            search: self,
            index,
            committed: 0,
        };
        tail.run(feed, stopped).await;
    }

    /// Empties the index and fills it from the store (`rapport reindex`, or a node whose
    /// index is new). Searches wait meanwhile, as the index is behind the log.
    pub async fn rebuild(&self) -> CrmResult<RebuildReport> {
        let started = Instant::now();
        let index = self.index()?;
        // Taken first: events after it are applied again, which "re-read" makes harmless.
        let cursor = self.0.crm.last_event_seq().await?;
        let _writing = self.0.writing.lock().await;
        let leads = rolled_back_on_error(&index, self.fill(&index, cursor).await)?;
        let report = RebuildReport {
            leads,
            cursor,
            elapsed: started.elapsed(),
        };
        tracing::info!(leads, seconds = report.elapsed.as_secs_f64(), "search index rebuilt");
        Ok(report)
    }

    /// Empties the index, indexes every organization's leads and commits.
    async fn fill(&self, index: &Arc<SearchIndex>, cursor: i64) -> CrmResult<usize> {
        index.clear().map_err(index_error)?;
        let _merges_paused = index.without_merges();
        let mut leads = 0;
        for org_id in self.0.crm.organization_ids().await? {
            leads += self.index_organization(index, &org_id).await?;
        }
        index.commit(cursor).map_err(index_error)?;
        Ok(leads)
    }

    /// Indexes every lead of an organization, a batch at a time; returns how many. None of
    /// them may be in the index.
    async fn index_organization(&self, index: &Arc<SearchIndex>, org_id: &str) -> CrmResult<usize> {
        let crm = &self.0.crm;
        let org = crm.searchable_org(org_id).await?;
        let text_fields = org.text_fields();
        let mut after: Option<String> = None;
        let mut count = 0;
        // Reading the store is one thread's work; making leads and documents of the rows
        // is more than one thread's, so batches are built on blocking threads, a few at a
        // time, while the next is read.
        let mut building: VecDeque<tokio::task::JoinHandle<CrmResult<usize>>> = VecDeque::new();
        let read: CrmResult<()> = async {
            loop {
                let ids = crm.lead_ids_after(org_id, after.as_deref(), RELOAD_BATCH).await?;
                let Some(last) = ids.last() else {
                    break;
                };
                let range = LeadSelection::Range {
                    after: after.as_deref(),
                    last,
                };
                let stored = crm.stored_leads(&org, range).await?;
                after = Some(last.clone());
                if building.len() == BATCHES_IN_FLIGHT {
                    if let Some(oldest) = building.pop_front() {
                        count += joined(oldest.await)?;
                    }
                }
                let (index, org_id, text_fields) = (index.clone(), org_id.to_string(), text_fields.clone());
                building.push_back(tokio::task::spawn_blocking(move || {
                    let leads = stored.into_leads()?;
                    // The organization's leads were deleted (or the index cleared) first.
                    for lead in &leads {
                        index.add(&org_id, lead, &text_fields).map_err(index_error)?;
                    }
                    Ok(leads.len())
                }));
                if ids.len() < RELOAD_BATCH {
                    break;
                }
            }
            Ok(())
        }
        .await;
        // Batches being built are awaited even after an error, so that no document is
        // added behind the caller's back (a rollback must see every one).
        let mut built: CrmResult<()> = Ok(());
        for batch in building {
            match joined(batch.await) {
                Ok(n) => count += n,
                Err(e) => built = built.and(Err(e)),
            }
        }
        read?;
        built?;
        Ok(count)
    }

    /// Applies a batch of events; commits the index (with `cursor`) when a lead changed or
    /// `force`. Returns whether it committed. The caller holds the writing lock.
    async fn index_events(
        &self,
        index: &Arc<SearchIndex>,
        events: &[Event],
        cursor: i64,
        force: bool,
    ) -> CrmResult<bool> {
        let crm = &self.0.crm;
        let mut dirty: HashMap<&str, Option<HashSet<&str>>> = HashMap::new();
        for event in events {
            let whole_org = Kind::from_object_type(&event.object_type).is_some_and(affects_every_lead);
            let entry = dirty
                .entry(event.organization_id.as_str())
                .or_insert_with(|| Some(HashSet::new()));
            if whole_org || event.object_type == "organization" {
                *entry = None;
            } else if let (Some(ids), Some(lead_id)) = (entry.as_mut(), event.lead_id.as_deref()) {
                ids.insert(lead_id);
            }
        }
        let touched = dirty.values().any(|ids| ids.as_ref().is_none_or(|ids| !ids.is_empty()));
        if !touched && !force {
            return Ok(false);
        }
        for (org_id, ids) in dirty {
            match ids {
                None => {
                    index.delete_organization(org_id).map_err(index_error)?;
                    self.index_organization(index, org_id).await?;
                }
                Some(ids) => {
                    let ids: Vec<&str> = ids.into_iter().collect();
                    let org = crm.searchable_org(org_id).await?;
                    let text_fields = org.text_fields();
                    for chunk in ids.chunks(RELOAD_BATCH) {
                        let fresh = crm.stored_leads(&org, LeadSelection::Ids(chunk)).await?.into_leads()?;
                        let fresh: HashMap<&str, &Lead> = fresh.iter().map(|l| (l.id.as_str(), l)).collect();
                        for id in chunk {
                            match fresh.get(*id) {
                                Some(lead) => index.upsert(org_id, lead, text_fields).map_err(index_error)?,
                                None => index.delete(id).map_err(index_error)?, // deleted
                            }
                        }
                    }
                }
            }
        }
        index.commit(cursor).map_err(index_error)?;
        Ok(true)
    }
}

/// The index as a consumer of the log: it resumes from the position committed with its
/// documents (rebuilding first when it has none) and re-reads the leads a batch touched.
struct IndexFeed {
    search: Search,
    index: Arc<SearchIndex>,
    /// The position last committed with the index.
    committed: i64,
}

impl Consumer for IndexFeed {
    fn name(&self) -> &'static str {
        "search index"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        let cursor = match self.index.cursor().map_err(index_error)? {
            Some(cursor) => cursor,
            None => self.search.rebuild().await?.cursor,
        };
        self.committed = cursor;
        self.search.0.applied.send_replace(Some(cursor));
        Ok(cursor)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        let last = events.last().map_or(self.committed, |e| e.seq);
        // Events that touch no lead (chat messages before the visitor gave an email,
        // webhooks…) need no index commit, only a bound on how far the committed cursor
        // may lag (re-reading after a restart is harmless).
        let overdue = last - self.committed > UNCOMMITTED_EVENTS;
        let was_committed = {
            let _writing = self.search.0.writing.lock().await;
            let applied = self.search.index_events(&self.index, &events, last, overdue).await;
            rolled_back_on_error(&self.index, applied)?
        };
        if was_committed {
            self.committed = last;
        }
        self.search.0.applied.send_replace(Some(last));
        Ok(Applied::All)
    }
}

/// A failed batch leaves documents in the writer that no commit should publish (a retry
/// adds them again): they are dropped.
fn rolled_back_on_error<T>(index: &SearchIndex, result: CrmResult<T>) -> CrmResult<T> {
    if result.is_err() {
        if let Err(e) = index.rollback() {
            tracing::error!(error = %e, "cannot roll the search index back");
        }
    }
    result
}

fn joined(result: Result<CrmResult<usize>, tokio::task::JoinError>) -> CrmResult<usize> {
    result.map_err(|e| CrmError::Unavailable(format!("indexing stopped: {e}")))?
}

fn index_error(e: rapport_index::IndexError) -> CrmError {
    CrmError::Unavailable(e.to_string())
}

/// Changes that alter how every lead of the organization is searched: status labels and
/// custom-field definitions are part of a lead's searchable form.
fn affects_every_lead(kind: Kind) -> bool {
    matches!(kind, Kind::LeadStatus | Kind::OpportunityStatus | Kind::Pipeline) || kind.is_custom_field()
}
