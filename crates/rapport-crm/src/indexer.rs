//! Feeding this node's search index (`rapport-index`) from the event log.
//!
//! DESIGN §8, "re-read, don't patch": an event marks its lead dirty (a change to an
//! organization's statuses or custom fields marks all its leads dirty, as labels and
//! field types are part of a lead's searchable form); dirty leads are read again from the
//! store in batches and replace their documents. Replays and duplicates are harmless.
//!
//! The index commits the log position it reflects with its documents, so a restarted
//! node resumes from there; an index without one (new, or of an older schema) is rebuilt
//! from the store first. A search waits (bounded) until the index has applied the newest
//! event in the log, so a client sees its own writes, whichever node made them.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rapport_core::Kind;
use rapport_index::SearchIndex;
use rapport_log::{Applied, Consumer, ConsumerError, Event, Tail};
use rapport_query::Lead;
use rapport_store::{Row, SqlValue};
use tokio::sync::{watch, Mutex};

use crate::doc::{Doc, COLUMNS};
use crate::meta::OrgMeta;
use crate::search::lead_of;
use crate::{Crm, CrmError, CrmResult};

/// Leads read again per statement.
const RELOAD_BATCH: usize = 500;
/// Batches of a rebuild being made into documents while the next is read.
const BATCHES_IN_FLIGHT: usize = 2;
/// Events read per step of the tail.
const TAIL_BATCH: usize = 5_000;
/// How long a search waits for the index to catch up with the log.
const FRESHNESS_WAIT: Duration = Duration::from_secs(5);
/// How often an idle tailer looks at the log anyway: other processes writing the same
/// SQLite file (the CLI) do not wake it.
const IDLE_RECHECK: Duration = Duration::from_millis(500);
/// The same where other nodes' commits wake the tailer (PostgreSQL LISTEN/NOTIFY): only a
/// safety net for a notification lost while reconnecting.
const IDLE_RECHECK_LISTENING: Duration = Duration::from_secs(5);
/// How far the index's committed cursor may stay behind what it applied when no lead
/// changes.
const UNCOMMITTED_EVENTS: i64 = 10_000;

/// This node's index and how far it has read the log.
pub struct SearchFeed {
    /// Where the index lives; `None` keeps it in memory (tests, one-off commands).
    dir: Option<PathBuf>,
    index: OnceLock<Result<Arc<SearchIndex>, String>>,
    /// The last event applied; `None` until the index has been filled.
    applied: watch::Sender<Option<i64>>,
    started: OnceLock<()>,
    /// Set by [`Crm::stop_search_index`]: the tail applies nothing it reads after it.
    stop: watch::Sender<bool>,
    /// Serializes whole rebuilds with the tail's batches.
    writing: Mutex<()>,
}

impl SearchFeed {
    pub fn new(dir: Option<PathBuf>) -> SearchFeed {
        SearchFeed {
            dir,
            index: OnceLock::new(),
            applied: watch::Sender::new(None),
            started: OnceLock::new(),
            stop: watch::Sender::new(false),
            writing: Mutex::new(()),
        }
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct RebuildReport {
    pub leads: usize,
    pub cursor: i64,
    pub elapsed: Duration,
}

impl Crm {
    /// Opens this node's search index (once). An index another process holds open is an
    /// error that says so.
    pub fn search_index(&self) -> CrmResult<Arc<SearchIndex>> {
        let opened = self.search.index.get_or_init(|| {
            let index = match &self.search.dir {
                Some(dir) => SearchIndex::open(dir).map_err(|e| match e {
                    e if e.is_busy() => {
                        format!(
                            "the search index at {} is in use by another rapport process",
                            dir.display()
                        )
                    }
                    other => format!("cannot open the search index at {}: {other}", dir.display()),
                }),
                None => SearchIndex::in_memory().map_err(|e| e.to_string()),
            };
            index.map(Arc::new)
        });
        opened.clone().map_err(CrmError::Unavailable)
    }

    /// Starts the index's tailer once per process (idempotent).
    pub fn start_search_index(&self) {
        self.search.started.get_or_init(|| {
            let crm = self.clone();
            tokio::spawn(async move { crm.run_indexer().await });
        });
    }

    /// Stops the tailer (its work so far is committed batch by batch); the index closes
    /// when the last handle to this `Crm` is dropped.
    pub fn stop_search_index(&self) {
        self.search.stop.send_replace(true);
    }

    /// Waits until the index has applied every event committed before this call.
    pub(crate) async fn index_caught_up(&self) -> CrmResult<Arc<SearchIndex>> {
        let index = self.search_index()?;
        self.start_search_index();
        let target = self.last_event_seq().await?;
        let mut applied = self.search.applied.subscribe();
        let caught_up = tokio::time::timeout(FRESHNESS_WAIT, async {
            applied.wait_for(|seq| seq.is_some_and(|s| s >= target)).await.is_ok()
        })
        .await;
        match caught_up {
            Ok(true) => Ok(index),
            _ => Err(CrmError::Unavailable(
                "the search index is catching up with recent changes; try again in a moment".into(),
            )),
        }
    }

    async fn run_indexer(self) {
        let index = match self.search_index() {
            Ok(index) => index,
            Err(e) => {
                tracing::error!(error = %e, "no search index; searches will answer 503");
                return;
            }
        };
        let mut stop = self.search.stop.subscribe();
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let feed = IndexFeed {
            crm: self.clone(),
            index,
            committed: 0,
        };
        let tail = Tail::new(self.log.clone())
            .batch(TAIL_BATCH)
            .idle_recheck(IDLE_RECHECK, IDLE_RECHECK_LISTENING);
        tail.run(feed, stopped).await;
    }

    /// Empties the index and fills it from the store (`rapport reindex`, or a node whose
    /// index is new). Searches wait meanwhile, as the index is behind the log.
    pub async fn rebuild_search_index(&self) -> CrmResult<RebuildReport> {
        let started = Instant::now();
        let index = self.search_index()?;
        // Taken first: events after it are applied again, which "re-read" makes harmless.
        let cursor = self.last_event_seq().await?;
        let _writing = self.search.writing.lock().await;
        let leads = rolled_back_on_error(&index, self.fill_search_index(&index, cursor).await)?;
        let report = RebuildReport {
            leads,
            cursor,
            elapsed: started.elapsed(),
        };
        tracing::info!(leads, seconds = report.elapsed.as_secs_f64(), "search index rebuilt");
        Ok(report)
    }

    /// Empties the index, indexes every organization's leads and commits.
    async fn fill_search_index(&self, index: &Arc<SearchIndex>, cursor: i64) -> CrmResult<usize> {
        index.clear().map_err(index_error)?;
        let _merges_paused = index.without_merges();
        let orgs = self.db.query("SELECT id FROM organizations ORDER BY id", &[]).await?;
        let mut leads = 0;
        for org in orgs {
            leads += self.index_organization(index, org.get("id")?).await?;
        }
        index.commit(cursor).map_err(index_error)?;
        Ok(leads)
    }

    /// Indexes every lead of an organization, a batch at a time; returns how many. None of
    /// them may be in the index.
    async fn index_organization(&self, index: &Arc<SearchIndex>, org_id: &str) -> CrmResult<usize> {
        let meta = self.meta_of(org_id).await?;
        let text_fields = Arc::new(text_fields(&meta));
        let mut after: Option<String> = None;
        let mut count = 0;
        // Reading the store is one thread's work; making leads and documents of the rows
        // is more than one thread's, so batches are built on blocking threads, a few at a
        // time, while the next is read.
        let mut building: VecDeque<tokio::task::JoinHandle<CrmResult<usize>>> = VecDeque::new();
        let read: CrmResult<()> = async {
            loop {
                // The next batch of leads in id order, read from `objects_by_lead` alone (the
                // type test is written so that no index on the type serves it).
                let (sql, params): (&str, Vec<SqlValue>) = match &after {
                    None => (
                        "SELECT lead_id FROM objects WHERE organization_id = ? AND object_type || '' = 'lead' \
                         ORDER BY lead_id LIMIT ?",
                        vec![org_id.into(), (RELOAD_BATCH as i64).into()],
                    ),
                    Some(after) => (
                        "SELECT lead_id FROM objects WHERE organization_id = ? AND object_type || '' = 'lead' \
                         AND lead_id > ? ORDER BY lead_id LIMIT ?",
                        vec![org_id.into(), after.as_str().into(), (RELOAD_BATCH as i64).into()],
                    ),
                };
                let rows = self.db.query(sql, &params).await?;
                let Some(last) = rows.last().map(|r| r.get::<String>("lead_id")).transpose()? else {
                    break;
                };
                let range = LeadRange {
                    after: after.take(),
                    last: last.clone(),
                };
                let lead_rows = self.lead_rows(org_id, Leads::Range(&range)).await?;
                after = Some(last);
                if building.len() == BATCHES_IN_FLIGHT {
                    if let Some(oldest) = building.pop_front() {
                        count += joined(oldest.await)?;
                    }
                }
                let (index, org_id, meta, text_fields) =
                    (index.clone(), org_id.to_string(), meta.clone(), text_fields.clone());
                building.push_back(tokio::task::spawn_blocking(move || {
                    let leads = leads_of_rows(&org_id, lead_rows, &meta)?;
                    // The organization's leads were deleted (or the index cleared) first.
                    for lead in &leads {
                        index.add(&org_id, lead, &text_fields).map_err(index_error)?;
                    }
                    Ok(leads.len())
                }));
                if rows.len() < RELOAD_BATCH {
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
                    for chunk in ids.chunks(RELOAD_BATCH) {
                        let (fresh, text_fields) = self.read_leads(org_id, Leads::Ids(chunk)).await?;
                        let fresh: HashMap<&str, &Lead> = fresh.iter().map(|l| (l.id.as_str(), l)).collect();
                        for id in chunk {
                            match fresh.get(*id) {
                                Some(lead) => index.upsert(org_id, lead, &text_fields).map_err(index_error)?,
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

    /// Reads leads with their related objects.
    async fn read_leads(&self, org_id: &str, leads: Leads<'_>) -> CrmResult<(Vec<Lead>, BTreeSet<String>)> {
        let meta = self.meta_of(org_id).await?;
        let rows = self.lead_rows(org_id, leads).await?;
        Ok((leads_of_rows(org_id, rows, &meta)?, text_fields(&meta)))
    }

    /// The rows of leads and of their related objects, as [`leads_of_rows`] takes them.
    async fn lead_rows(&self, org_id: &str, leads: Leads<'_>) -> CrmResult<Vec<Row>> {
        let mut params: Vec<SqlValue> = vec![org_id.into()];
        let filter = match leads {
            Leads::Ids(ids) => {
                params.extend(ids.iter().map(|id| SqlValue::from(*id)));
                format!("lead_id IN ({})", vec!["?"; ids.len()].join(", "))
            }
            Leads::Range(LeadRange { after: None, last }) => {
                params.push(last.as_str().into());
                "lead_id <= ?".to_string()
            }
            Leads::Range(LeadRange {
                after: Some(after),
                last,
            }) => {
                params.extend([after.as_str().into(), last.as_str().into()]);
                "lead_id > ? AND lead_id <= ?".to_string()
            }
        };
        // In the order of `objects_by_lead`, so that no sort is needed; a lead's objects of
        // one kind come oldest first, which is all the order that matters.
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND {filter} \
             ORDER BY lead_id, object_type, date_created, id"
        );
        Ok(self.db.query(&sql, &params).await?)
    }
}

/// The leads of the rows [`Crm::lead_rows`] read (each lead's rows are adjacent, as they
/// are ordered by lead): CPU work only, for a blocking thread.
fn leads_of_rows(org_id: &str, rows: Vec<Row>, meta: &OrgMeta) -> CrmResult<Vec<Lead>> {
    let mut leads = Vec::new();
    let mut lead: Option<Doc> = None;
    let mut children: Vec<Doc> = Vec::new();
    let mut finish = |lead: Option<Doc>, children: &mut Vec<Doc>| {
        // Objects whose lead row is missing (deleted meanwhile) make no lead.
        if let Some(lead) = lead {
            leads.push(lead_of(&lead, children, meta));
        }
        children.clear();
    };
    for row in rows {
        let doc = Doc::from_owned_row(org_id, row)?;
        let Some(lead_id) = doc.lead_id.as_deref() else {
            continue;
        };
        // The lead of the rows gathered so far is that of any of them.
        let gathered = lead.as_ref().or(children.last()).and_then(|d| d.lead_id.as_deref());
        if gathered != Some(lead_id) {
            finish(lead.take(), &mut children);
        }
        if doc.kind == Kind::Lead {
            lead = Some(doc);
        } else {
            children.push(doc);
        }
    }
    finish(lead, &mut children);
    Ok(leads)
}

/// The ids of the organization's text custom fields, whose values are free text (the
/// query's binder lists the same ids).
fn text_fields(meta: &OrgMeta) -> BTreeSet<String> {
    [
        Kind::LeadCustomField,
        Kind::ContactCustomField,
        Kind::OpportunityCustomField,
    ]
    .into_iter()
    .flat_map(|kind| meta.of_kind(kind))
    .filter(|field| field.str("type") == Some("text"))
    .map(|field| field.id.clone())
    .collect()
}

/// Which leads to read.
enum Leads<'a> {
    Ids(&'a [&'a str]),
    Range(&'a LeadRange),
}

/// The leads whose ids are after `after` (if any) and at most `last`.
struct LeadRange {
    after: Option<String>,
    last: String,
}

/// The index as a consumer of the log: it resumes from the position committed with its
/// documents (rebuilding first when it has none) and re-reads the leads a batch touched.
struct IndexFeed {
    crm: Crm,
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
            None => self.crm.rebuild_search_index().await?.cursor,
        };
        self.committed = cursor;
        self.crm.search.applied.send_replace(Some(cursor));
        Ok(cursor)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        let last = events.last().map_or(self.committed, |e| e.seq);
        // Events that touch no lead (chat messages before the visitor gave an email,
        // webhooks…) need no index commit, only a bound on how far the committed cursor
        // may lag (re-reading after a restart is harmless).
        let overdue = last - self.committed > UNCOMMITTED_EVENTS;
        let was_committed = {
            let _writing = self.crm.search.writing.lock().await;
            rolled_back_on_error(&self.index, self.crm.index_events(&self.index, &events, last, overdue).await)?
        };
        if was_committed {
            self.committed = last;
        }
        self.crm.search.applied.send_replace(Some(last));
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
