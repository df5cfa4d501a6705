//! The dispatcher: turns new events into jobs for every consumer that subscribes to them.
//!
//! It tails the event log from a durable cursor (`job_cursors`, consumer `dispatcher`). A
//! batch's jobs and the cursor's move commit in one transaction, so a crash between the
//! two steps cannot exist: either both happened or neither did, and the batch is read
//! again. Each job also carries a dedupe key naming its (event, consumer) pair, so even a
//! replay could not enqueue it twice. Several nodes may run a dispatcher: the cursor only
//! moves from the value a dispatcher read, so when two race, one commits and the other's
//! whole batch rolls back. The one that lost stands by for a while before it reads on:
//! racing on every batch, each would do all the work twice (reads of conversations and
//! websites for chat messages, webhook subscriptions) and lose half of it. A standby
//! takes over within `STANDBY` when the active dispatcher stops.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use rapport_crm::{Crm, CrmError};
use rapport_log::{Action, Applied, Consumer, ConsumerError, Event, Tail};
use rapport_queue::{NewJob, Queue, QueueError};
use rapport_store::DbError;
use serde_json::{json, Map, Value};

use crate::{EMAIL_SEND, SLACK_SEND_MESSAGE, WEBHOOK_DELIVER};

/// The dispatcher's name in `job_cursors`.
pub const DISPATCHER: &str = "dispatcher";

/// Events read per batch.
const BATCH: usize = 500;

/// How often to look at the log when nothing wakes the dispatcher (other processes on one
/// SQLite file).
const IDLE_RECHECK: Duration = Duration::from_millis(250);

/// How long a dispatcher that lost a race to another node waits before it reads on.
const STANDBY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Dispatches until `shutdown` resolves.
pub async fn run_dispatcher(crm: Crm, queue: Queue, shutdown: impl Future<Output = ()>) {
    let tail = Tail::new(crm.log().clone())
        .batch(BATCH)
        .idle_recheck(IDLE_RECHECK, IDLE_RECHECK)
        .shared_cursor();
    tail.run(Dispatcher::new(crm, queue), shutdown).await;
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatched {
    /// The events it consumed (0: the dispatcher is level with the log).
    Events(usize),
    /// Another node's dispatcher moved the cursor first; nothing of this batch stayed.
    LostRace,
}

/// Dispatches the next batch of events.
pub async fn dispatch_batch(crm: &Crm, queue: &Queue) -> Result<Dispatched, DispatchError> {
    let mut dispatcher = Dispatcher::new(crm.clone(), queue.clone());
    let cursor = dispatcher.read_cursor().await?;
    let events = crm
        .log()
        .read_after(None, cursor, BATCH)
        .await
        .map_err(CrmError::from)?;
    dispatcher.dispatch(&events).await
}

/// The dispatcher as a consumer of the log, on the cursor all nodes share.
struct Dispatcher {
    crm: Crm,
    queue: Queue,
    /// The cursor as read before this batch: it moves only from there.
    read_from: i64,
}

impl Dispatcher {
    fn new(crm: Crm, queue: Queue) -> Dispatcher {
        Dispatcher {
            crm,
            queue,
            read_from: 0,
        }
    }

    async fn read_cursor(&mut self) -> Result<i64, DispatchError> {
        self.read_from = self.queue.ledger().cursor(DISPATCHER).await?;
        Ok(self.read_from)
    }

    /// Enqueues the jobs of `events` and moves the cursor past them, in one transaction.
    async fn dispatch(&self, events: &[Event]) -> Result<Dispatched, DispatchError> {
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(Dispatched::Events(0));
        };
        let crm = &self.crm;
        let ledger = self.queue.ledger();
        let mut subscriptions: HashMap<String, Vec<Subscription>> = HashMap::new();
        let mut jobs = Vec::new();
        for event in events {
            if !subscriptions.contains_key(&event.organization_id) {
                let subs = crm
                    .webhook_subscriptions(&event.organization_id)
                    .await?
                    .into_iter()
                    .map(|(id, data)| Subscription::new(id, &data))
                    .collect();
                subscriptions.insert(event.organization_id.clone(), subs);
            }
            jobs.extend(jobs_for(event, &subscriptions[&event.organization_id]));
            jobs.extend(crate::chat::jobs_for_message(crm, event).await?);
        }
        let (mut stmts, _) = ledger.enqueue_stmts(&jobs);
        stmts.extend(ledger.cursor_stmts(DISPATCHER, self.read_from, last));
        match ledger.db().batch(stmts).await {
            Ok(_) => {
                ledger.enqueued_elsewhere();
                if !jobs.is_empty() {
                    tracing::debug!(events = events.len(), jobs = jobs.len(), cursor = last, "dispatched");
                }
                Ok(Dispatched::Events(events.len()))
            }
            Err(DbError::Conflict) => Ok(Dispatched::LostRace),
            Err(e) => Err(QueueError::from(e).into()),
        }
    }
}

impl Consumer for Dispatcher {
    fn name(&self) -> &'static str {
        "job dispatcher"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        Ok(self.read_cursor().await?)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        Ok(match self.dispatch(&events).await? {
            Dispatched::LostRace => Applied::LostRace(STANDBY),
            Dispatched::Events(_) => Applied::All,
        })
    }
}

/// What the dispatcher needs of a webhook subscription.
#[derive(Debug, Clone)]
struct Subscription {
    id: String,
    active: bool,
    task: &'static str,
    events: Vec<(String, String)>,
}

impl Subscription {
    fn new(id: String, data: &Map<String, Value>) -> Subscription {
        let events = data
            .get("events")
            .and_then(Value::as_array)
            .map(|filters| {
                filters
                    .iter()
                    .filter_map(|f| {
                        Some((
                            f["object_type"].as_str()?.to_string(),
                            f["action"].as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Subscription {
            id,
            active: data.get("status").and_then(Value::as_str) != Some("paused"),
            task: match data.get("target").and_then(Value::as_str) {
                Some("slack") => SLACK_SEND_MESSAGE,
                _ => WEBHOOK_DELIVER,
            },
            events,
        }
    }

    fn wants(&self, event: &Event) -> bool {
        self.active
            && self
                .events
                .iter()
                .any(|(object_type, action)| *object_type == event.object_type && *action == event.action.as_str())
    }
}

/// The jobs one event causes.
fn jobs_for(event: &Event, subscriptions: &[Subscription]) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    // A private Smart View is its owner's business, not the organization's integrations'.
    let private_view = event.object_type == "saved_search" && event.data.get("is_shared") != Some(&Value::Bool(true));
    if !private_view {
        for subscription in subscriptions.iter().filter(|s| s.wants(event)) {
            jobs.push(
                NewJob::new(
                    subscription.task,
                    &event.organization_id,
                    json!({"subscription_id": subscription.id, "event_seq": event.seq}),
                )
                .dedupe_key(format!("{}:{}", subscription.id, event.seq))
                .event_seq(event.seq),
            );
        }
    }
    if let Some(job) = email_to_send(event) {
        jobs.push(job);
    }
    jobs
}

/// An email activity put in the outbox (created so, or moved there) is sent, as in Close.
fn email_to_send(event: &Event) -> Option<NewJob> {
    let outbox = event.object_type == "activity.email"
        && event.data.get("status").and_then(Value::as_str) == Some("outbox")
        && (event.action == Action::Created
            || (event.action == Action::Updated && event.changed_fields.iter().any(|f| f == "status")));
    outbox.then(|| {
        NewJob::new(
            EMAIL_SEND,
            &event.organization_id,
            json!({"activity_id": event.object_id}),
        )
        .dedupe_key(format!("{}:{}", event.object_id, event.seq))
        .event_seq(event.seq)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(object_type: &str, action: &str, data: Value, changed: &[&str]) -> Event {
        Event {
            seq: 42,
            id: "ev_1".into(),
            organization_id: "orga_1".into(),
            object_type: object_type.into(),
            object_id: "obj_1".into(),
            lead_id: None,
            action: Action::parse(action),
            changed_fields: changed.iter().map(|s| s.to_string()).collect(),
            previous_data: Map::new(),
            data: data.as_object().cloned().unwrap_or_default(),
            user_id: None,
            request_id: None,
            date_created: "2026-12-07T00:00:00Z".into(),
        }
    }

    fn subscription(id: &str, data: Value) -> Subscription {
        Subscription::new(id.into(), data.as_object().unwrap())
    }

    #[test]
    fn subscriptions_get_the_events_they_name() {
        let subs = [
            subscription(
                "whsub_a",
                json!({"events": [{"object_type": "lead", "action": "created"}]}),
            ),
            subscription(
                "whsub_b",
                json!({"events": [{"object_type": "lead", "action": "updated"}, {"object_type": "lead", "action": "created"}], "target": "slack"}),
            ),
            subscription(
                "whsub_c",
                json!({"events": [{"object_type": "lead", "action": "created"}], "status": "paused"}),
            ),
        ];
        let jobs = jobs_for(&event("lead", "created", json!({}), &[]), &subs);
        let got: Vec<_> = jobs
            .iter()
            .map(|j| (j.task.as_str(), j.dedupe_key.clone().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                (WEBHOOK_DELIVER, "whsub_a:42".to_string()),
                (SLACK_SEND_MESSAGE, "whsub_b:42".to_string())
            ]
        );
        assert_eq!(jobs[0].payload, json!({"subscription_id": "whsub_a", "event_seq": 42}));
        assert!(jobs_for(&event("lead", "deleted", json!({}), &[]), &subs).is_empty());
        assert!(jobs_for(&event("contact", "created", json!({}), &[]), &subs).is_empty());
    }

    #[test]
    fn private_smart_views_are_not_sent() {
        let subs = [subscription(
            "whsub_a",
            json!({"events": [{"object_type": "saved_search", "action": "created"}]}),
        )];
        assert!(jobs_for(
            &event("saved_search", "created", json!({"is_shared": false}), &[]),
            &subs
        )
        .is_empty());
        assert_eq!(
            jobs_for(
                &event("saved_search", "created", json!({"is_shared": true}), &[]),
                &subs
            )
            .len(),
            1
        );
    }

    #[test]
    fn emails_in_the_outbox_are_sent_once_per_move() {
        let created = event("activity.email", "created", json!({"status": "outbox"}), &[]);
        let job = &jobs_for(&created, &[])[0];
        assert_eq!(
            (job.task.as_str(), &job.payload),
            (EMAIL_SEND, &json!({"activity_id": "obj_1"}))
        );
        assert_eq!(
            jobs_for(
                &event("activity.email", "updated", json!({"status": "outbox"}), &["status"]),
                &[]
            )
            .len(),
            1
        );
        assert!(jobs_for(
            &event("activity.email", "updated", json!({"status": "outbox"}), &["subject"]),
            &[]
        )
        .is_empty());
        assert!(jobs_for(&event("activity.email", "created", json!({"status": "sent"}), &[]), &[]).is_empty());
    }
}
