//! This node's search replica: every lead in the evaluator's form, in memory, kept up to
//! date by tailing the event log.
//!
//! DESIGN §8, "re-read, don't patch": an event marks its lead dirty (a change to an
//! organization's statuses or custom fields marks all its leads dirty, as labels and
//! field types are part of a lead's searchable form); dirty leads are read again from the
//! store in batches and replace their old form. Replays and duplicates are harmless.
//!
//! A search first waits (bounded) until the replica has applied the newest event in the
//! log, so a client sees its own writes, whichever node made them.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::Duration;

use rapport_core::Kind;
use rapport_query::Lead;
use rapport_store::SqlValue;
use tokio::sync::{watch, Notify};

use crate::doc::{Doc, COLUMNS};
use crate::events::LoggedEvent;
use crate::search::lead_of;
use crate::{Actor, Crm, CrmError, CrmResult};

/// Leads read again per statement while catching up.
const RELOAD_BATCH: usize = 500;
/// Events read per step of the tail.
const TAIL_BATCH: usize = 5_000;
/// How long a search waits for the replica to catch up with the log.
const FRESHNESS_WAIT: Duration = Duration::from_secs(5);
/// How often an idle tailer looks at the log anyway: other processes writing the same
/// SQLite file (the CLI) do not wake it.
const IDLE_RECHECK: Duration = Duration::from_millis(500);
/// The same where other nodes' commits wake the tailer (PostgreSQL LISTEN/NOTIFY): only a
/// safety net for a notification lost while reconnecting.
const IDLE_RECHECK_LISTENING: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct LeadReplica {
    /// Organization id → lead id → the lead's searchable form.
    leads: RwLock<HashMap<String, HashMap<String, Lead>>>,
    /// The last event applied; `None` until the first full load is done.
    applied: watch::Sender<Option<i64>>,
    /// Rung by this node's write path after every commit.
    pub(crate) wake: Notify,
    started: std::sync::OnceLock<()>,
}

impl LeadReplica {
    /// Runs `f` on the organization's leads.
    pub fn with_leads<T>(&self, organization_id: &str, f: impl FnOnce(Vec<&Lead>) -> T) -> T {
        let guard = self.leads.read().expect("replica lock");
        let leads = guard
            .get(organization_id)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        f(leads)
    }
}

impl Crm {
    /// Starts the replica's tailer once per process (idempotent).
    pub fn start_search_replica(&self) {
        self.replica.started.get_or_init(|| {
            let crm = self.clone();
            tokio::spawn(async move { crm.run_replica().await });
        });
    }

    /// Waits until the replica has applied every event committed before this call.
    pub(crate) async fn replica_caught_up(&self) -> CrmResult<()> {
        self.start_search_replica();
        let target = self.last_event_seq().await?;
        let mut applied = self.replica.applied.subscribe();
        let caught_up = tokio::time::timeout(FRESHNESS_WAIT, async {
            applied.wait_for(|seq| seq.is_some_and(|s| s >= target)).await.is_ok()
        })
        .await;
        match caught_up {
            Ok(true) => Ok(()),
            _ => Err(CrmError::Unavailable(
                "the search index is catching up with recent changes; try again in a moment".into(),
            )),
        }
    }

    async fn run_replica(self) {
        let mut cursor = loop {
            match self.replica_full_load().await {
                Ok(seq) => break seq,
                Err(e) => {
                    tracing::error!(error = %e, "cannot load the search replica; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        self.replica.applied.send_replace(Some(cursor));
        let mut other_nodes = self.db.listen_events();
        loop {
            let wake = self.replica.wake.notified();
            match self.events_after(cursor, TAIL_BATCH).await {
                Ok(events) if events.is_empty() => {
                    let recheck = if other_nodes.is_some() {
                        IDLE_RECHECK_LISTENING
                    } else {
                        IDLE_RECHECK
                    };
                    let remote = async {
                        match other_nodes.as_mut() {
                            Some(notifications) => notifications.recv().await.is_some(),
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = wake => {}
                        listening = remote => if !listening { other_nodes = None },
                        _ = tokio::time::sleep(recheck) => {}
                    }
                }
                Ok(events) => match self.replica_apply(&events).await {
                    Ok(()) => {
                        cursor = events.last().map_or(cursor, |e| e.seq);
                        self.replica.applied.send_replace(Some(cursor));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot update the search replica; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the event log; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Loads every lead of every organization; returns the log position it reflects.
    async fn replica_full_load(&self) -> CrmResult<i64> {
        // Taken first: events after it are applied again, which "re-read" makes harmless.
        let cursor = self.last_event_seq().await?;
        let orgs = self.db.query("SELECT id FROM organizations", &[]).await?;
        for org in orgs {
            let Some(SqlValue::Text(org_id)) = org.first() else {
                continue;
            };
            let leads = self.read_leads(org_id, None).await?;
            self.replica
                .leads
                .write()
                .expect("replica lock")
                .insert(org_id.clone(), leads);
        }
        Ok(cursor)
    }

    async fn replica_apply(&self, events: &[LoggedEvent]) -> CrmResult<()> {
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
        for (org_id, ids) in dirty {
            match ids {
                None => {
                    let leads = self.read_leads(org_id, None).await?;
                    self.replica
                        .leads
                        .write()
                        .expect("replica lock")
                        .insert(org_id.to_string(), leads);
                }
                Some(ids) => {
                    let ids: Vec<&str> = ids.into_iter().collect();
                    for chunk in ids.chunks(RELOAD_BATCH) {
                        let fresh = self.read_leads(org_id, Some(chunk)).await?;
                        let mut all = self.replica.leads.write().expect("replica lock");
                        let org = all.entry(org_id.to_string()).or_default();
                        for id in chunk {
                            match fresh.get(*id) {
                                Some(lead) => org.insert(id.to_string(), lead.clone()),
                                None => org.remove(*id), // deleted
                            };
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads leads (all of the organization's, or those `ids`) with their related objects.
    async fn read_leads(&self, org_id: &str, ids: Option<&[&str]>) -> CrmResult<HashMap<String, Lead>> {
        let actor = Actor {
            organization_id: org_id.into(),
            user_id: String::new(),
            role: String::new(),
            meta_version: 0,
        };
        let meta = self.meta(&actor).await?;
        let mut params: Vec<SqlValue> = vec![org_id.into()];
        let filter = match ids {
            None => "lead_id IS NOT NULL".to_string(),
            Some(ids) => {
                params.extend(ids.iter().map(|id| SqlValue::from(*id)));
                format!("lead_id IN ({})", vec!["?"; ids.len()].join(", "))
            }
        };
        let sql =
            format!("SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND {filter} ORDER BY date_created, id");
        let mut by_lead: HashMap<String, (Option<Doc>, Vec<Doc>)> = HashMap::new();
        for doc in self.query_docs(org_id, &sql, &params).await? {
            let Some(lead_id) = doc.lead_id.clone() else { continue };
            let entry = by_lead.entry(lead_id).or_default();
            if doc.kind == Kind::Lead {
                entry.0 = Some(doc);
            } else {
                entry.1.push(doc);
            }
        }
        // Text custom fields' values are free text; the query's binder lists the same ids.
        let text_fields: std::collections::BTreeSet<String> = [
            Kind::LeadCustomField,
            Kind::ContactCustomField,
            Kind::OpportunityCustomField,
        ]
        .into_iter()
        .flat_map(|kind| meta.of_kind(kind))
        .filter(|field| field.str("type") == Some("text"))
        .map(|field| field.id.clone())
        .collect();
        Ok(by_lead
            .into_iter()
            .filter_map(|(id, (lead, children))| {
                let mut lead = lead_of(&lead?, &children, &meta);
                lead.prepare(text_fields.clone());
                Some((id, lead))
            })
            .collect())
    }
}

/// Changes that alter how every lead of the organization is searched: status labels and
/// custom-field definitions are part of a lead's searchable form.
fn affects_every_lead(kind: Kind) -> bool {
    matches!(kind, Kind::LeadStatus | Kind::OpportunityStatus | Kind::Pipeline) || kind.is_custom_field()
}
