//! This node's search index and the searches run on it.
//!
//! DESIGN §8, "re-read, don't patch": an event marks its lead dirty (a change to an
//! organization's statuses or custom fields marks all its leads dirty, as labels and
//! field types are part of a lead's searchable form); dirty leads are read again from the
//! store (through the CRM's reads, `rapport_crm::StoredLeads`) in batches and replace
//! their documents. Replays and duplicates are harmless.
//!
//! The index commits the log position it reflects with its documents, so a restarted
//! node resumes from there; an index without one (new, or of an older schema) is rebuilt
//! from the store first. A search waits (bounded) until the index has applied the newest
//! event in the log, so a client sees its own writes, whichever node made them.

mod feed;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rapport_crm::slots::{half_the_cores, Slots};
use rapport_crm::{Actor, Crm, CrmError, CrmResult, Page, TimeZone};
use rapport_index::SearchIndex;
use rapport_query::Query;
use tokio::sync::{watch, Mutex};

pub use feed::RebuildReport;

/// How long a search waits for the index to catch up with the log.
const FRESHNESS_WAIT: Duration = Duration::from_secs(5);

/// This node's index and searches. Cheap to clone.
#[derive(Clone)]
pub struct Search(Arc<Inner>);

struct Inner {
    crm: Crm,
    /// Where the index lives; `None` keeps it in memory (tests, one-off commands).
    dir: Option<PathBuf>,
    index: OnceLock<Result<Arc<SearchIndex>, String>>,
    /// The last event applied; `None` until the index has been filled.
    applied: watch::Sender<Option<i64>>,
    started: OnceLock<()>,
    /// Set by [`Search::stop`]: the tail applies nothing it reads after it.
    stop: watch::Sender<bool>,
    /// Serializes whole rebuilds with the tail's batches.
    writing: Mutex<()>,
}

impl Search {
    /// The index in `dir` (`None`: in memory), fed from `crm`'s log once started.
    pub fn new(crm: Crm, dir: Option<PathBuf>) -> Search {
        Search(Arc::new(Inner {
            crm,
            dir,
            index: OnceLock::new(),
            applied: watch::Sender::new(None),
            started: OnceLock::new(),
            stop: watch::Sender::new(false),
            writing: Mutex::new(()),
        }))
    }

    /// Opens the index (once). An index another process holds open is an error that says so.
    pub fn index(&self) -> CrmResult<Arc<SearchIndex>> {
        let opened = self.0.index.get_or_init(|| {
            let index = match &self.0.dir {
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

    /// Starts feeding the index from the log, once per process (idempotent).
    pub fn start(&self) {
        self.0.started.get_or_init(|| {
            tokio::spawn(self.clone().run());
        });
    }

    /// Stops feeding the index (its work so far is committed batch by batch); the index
    /// closes when the last handle is dropped.
    pub fn stop(&self) {
        self.0.stop.send_replace(true);
    }

    /// The leads a query matches, in its order, a page of them rendered, and the total.
    /// Runs on this node's index once it has caught up with the log, so a search sees
    /// every write committed before it started.
    pub async fn search_leads(
        &self,
        actor: &Actor,
        query: &Query,
        tz: TimeZone,
        skip: usize,
        limit: usize,
    ) -> CrmResult<Page> {
        let crm = &self.0.crm;
        let resolved = crm.resolve_query(actor, query, tz).await?;
        let index = self.caught_up().await?;
        let organization_id = actor.organization_id.clone();
        let hits = search_slots()
            .run(move || index.search(&organization_id, &resolved, skip, limit))
            .await?
            .map_err(|e| CrmError::Unavailable(e.to_string()))?;
        crm.leads_in_order(actor, &hits.ids, hits.total, skip, limit).await
    }

    /// Waits until the index has applied every event committed before this call.
    async fn caught_up(&self) -> CrmResult<Arc<SearchIndex>> {
        let index = self.index()?;
        self.start();
        let target = self.0.crm.last_event_seq().await?;
        let mut applied = self.0.applied.subscribe();
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
}

/// Searches of the index at once: half the cores (a query within the limits may still
/// take a core for half a second), 64 waiting at most; the other half serves everything
/// else, so reading a lead stays fast during a flood of heavy searches.
fn search_slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        Slots::new(
            half_the_cores(),
            64,
            "the server is busy with other searches; try again in a moment",
        )
    })
}
