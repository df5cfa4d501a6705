//! Real-time push.
//!
//! **Changes** come from the event log, never from the process that made them: each node
//! tails the log (woken by its own commits, by PostgreSQL `NOTIFY` from other nodes, or by
//! a short poll) and hands every event to the websockets of its organization. So a client
//! on any node sees every change of every node, in sequence order, and a client that comes
//! back with its last sequence number reads what it missed from the log ([`Feed`]): no gap,
//! no duplicate, whatever happened to the node, the broker or the client in between.
//!
//! **Signals** that are not worth a row in the log — typing, and presence (who is online,
//! who views which lead) — go to the node's own sockets at once and, when the nodes share
//! a RabbitMQ broker, to the other nodes through a fanout exchange with one exclusive queue
//! per node ([`bus`]). A node that loses the broker reconnects and sends its presence
//! again; changes never depended on the broker.

pub mod bus;
mod presence;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_crm::{Crm, CrmResult};
use rapport_log::{Applied, Consumer, ConsumerError, Event, Tail};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};

pub use presence::{PresenceEntry, PresenceGuard};

/// Frames kept for a slow socket; one that falls further behind reads the log again.
/// A channel allocates its ring up front, and there is one per connected visitor: theirs
/// holds a few frames (one conversation), the organization's many.
const ORGANIZATION_CAPACITY: usize = 1024;
const VISITOR_CAPACITY: usize = 16;
/// Events read from the log at a time.
const BATCH: usize = 1000;
/// How often the tail looks at the log when nothing wakes it (other processes on one
/// SQLite file).
const IDLE_RECHECK: Duration = Duration::from_millis(250);

/// The hub as a consumer of the log: from now on, every event to its organization's sockets.
struct Push(Hub);

impl Consumer for Push {
    fn name(&self) -> &'static str {
        "real time"
    }

    async fn start(&mut self) -> Result<i64, ConsumerError> {
        let now = self.0 .0.crm.last_event_seq().await?;
        self.0 .0.position.send_replace(now);
        Ok(now)
    }

    async fn apply(&mut self, events: Vec<Event>) -> Result<Applied, ConsumerError> {
        let mut last = None;
        for event in events {
            last = Some(event.seq);
            let event = PushEvent::from(event);
            let organization_id = event.organization_id.clone();
            self.0
                .send_local(&organization_id, Live::Event(Arc::new(LiveEvent::new(event))));
        }
        if let Some(last) = last {
            self.0 .0.position.send_replace(last);
        }
        Ok(Applied::All)
    }
}

/// An event as real-time clients receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushEvent {
    pub seq: i64,
    pub organization_id: String,
    /// In the shape of `GET /event/`.
    pub event: serde_json::Value,
}

impl From<Event> for PushEvent {
    fn from(event: Event) -> PushEvent {
        PushEvent {
            seq: event.seq,
            event: event.to_json(),
            organization_id: event.organization_id,
        }
    }
}

/// What a socket of an organization receives.
#[derive(Debug, Clone)]
pub enum Live {
    /// A change, from the event log.
    Event(Arc<LiveEvent>),
    Typing(Arc<Typing>),
    /// Everyone online in the organization, on every node, and what they view.
    Presence(Arc<Vec<PresenceEntry>>),
    /// From a [`Feed`] only, once: every event missed before it started has been handed
    /// out; what follows is live.
    Ready,
}

/// An event with its operator frame, serialized once for every socket that sends it.
#[derive(Debug)]
pub struct LiveEvent {
    pub event: PushEvent,
    /// `{"type": "<object_type>.<action>", "seq", "data": event}`.
    pub frame: String,
}

impl LiveEvent {
    pub fn new(event: PushEvent) -> LiveEvent {
        let e = &event.event;
        let kind = format!(
            "{}.{}",
            e["object_type"].as_str().unwrap_or_default(),
            e["action"].as_str().unwrap_or_default()
        );
        let frame = serde_json::json!({"type": kind, "seq": event.seq, "data": e}).to_string();
        LiveEvent { event, frame }
    }

    pub fn seq(&self) -> i64 {
        self.event.seq
    }
}

/// Someone types in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    pub conversation_id: String,
    /// The conversation's visitor, whose widget hears it.
    pub visitor_id: String,
    /// `visitor` or `operator`.
    pub author: String,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub typing: bool,
}

/// A signal between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signal {
    pub organization_id: String,
    /// The node that sent it.
    pub node: String,
    pub kind: SignalKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SignalKind {
    Typing(Typing),
    /// The sending node's presence in the organization (all of it, so a lost one is
    /// repaired by the next).
    Presence {
        entries: Vec<PresenceEntry>,
    },
}

/// The node's real-time hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

struct Inner {
    crm: Crm,
    node: String,
    channels: Mutex<HashMap<String, broadcast::Sender<Live>>>,
    /// The last event sequence handed to the sockets.
    position: watch::Sender<i64>,
    /// Signals for the other nodes (taken by [`bus::run`]).
    outgoing: Mutex<Option<mpsc::UnboundedSender<Signal>>>,
    presence: presence::Table,
}

impl Hub {
    pub fn new(crm: Crm) -> Hub {
        Hub(Arc::new(Inner {
            crm,
            node: rapport_core::new_id("node"),
            channels: Mutex::default(),
            position: watch::channel(0).0,
            outgoing: Mutex::default(),
            presence: presence::Table::default(),
        }))
    }

    pub fn crm(&self) -> &Crm {
        &self.0.crm
    }

    /// How many channels have listeners (the organizations' and the connected visitors').
    pub fn channel_count(&self) -> usize {
        self.0.channels.lock().expect("channels lock").len()
    }

    /// This node's name on the bus.
    pub fn node(&self) -> &str {
        &self.0.node
    }

    /// Live frames of a channel, from now on.
    fn subscribe(&self, key: String, capacity: usize) -> broadcast::Receiver<Live> {
        let mut channels = self.0.channels.lock().expect("channels lock");
        channels
            .entry(key)
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
    }

    /// The last event sequence this node has pushed.
    pub fn position(&self) -> i64 {
        *self.0.position.borrow()
    }

    /// Hands a frame to the organization's operators and, when it concerns a visitor, to
    /// that visitor's widgets: a widget hears its own conversation only, so a message
    /// costs one send per operator plus one, however many visitors are connected.
    fn send_local(&self, organization_id: &str, live: Live) {
        let visitor_channel = match &live {
            Live::Event(live) => live.event.event["data"]["visitor_id"]
                .as_str()
                .map(|id| channel_of(&Scope::Visitor(id.into()), organization_id)),
            Live::Typing(typing) => Some(channel_of(&Scope::Visitor(typing.visitor_id.clone()), organization_id)),
            Live::Presence(_) => Some(presence_channel(organization_id)),
            Live::Ready => None,
        };
        let mut channels = self.0.channels.lock().expect("channels lock");
        for key in std::iter::once(organization_id.to_string()).chain(visitor_channel) {
            if let Some(sender) = channels.get(&key) {
                if sender.send(live.clone()).is_err() {
                    // Nobody listens any more.
                    channels.remove(&key);
                }
            }
        }
    }

    /// Someone types: this node's sockets and the other nodes'.
    pub fn typing(&self, organization_id: &str, typing: Typing) {
        self.send_local(organization_id, Live::Typing(Arc::new(typing.clone())));
        self.to_other_nodes(organization_id, SignalKind::Typing(typing));
    }

    fn to_other_nodes(&self, organization_id: &str, kind: SignalKind) {
        if let Some(outgoing) = &*self.0.outgoing.lock().expect("outgoing lock") {
            let _ = outgoing.send(Signal {
                organization_id: organization_id.into(),
                node: self.0.node.clone(),
                kind,
            });
        }
    }

    /// A signal from another node.
    pub fn receive(&self, signal: Signal) {
        if signal.node == self.0.node {
            return;
        }
        match signal.kind {
            SignalKind::Typing(typing) => self.send_local(&signal.organization_id, Live::Typing(Arc::new(typing))),
            SignalKind::Presence { entries } => {
                if self
                    .0
                    .presence
                    .set_remote(&signal.organization_id, &signal.node, entries)
                {
                    self.presence_changed_locally_seen(&signal.organization_id);
                }
            }
        }
    }

    /// Everyone online in the organization, on every node.
    pub fn presence(&self, organization_id: &str) -> Vec<PresenceEntry> {
        self.0.presence.merged(organization_id)
    }

    /// A user is online (until the guard is dropped).
    pub fn join(&self, organization_id: &str, user_id: &str) -> PresenceGuard {
        let guard = PresenceGuard::new(self.clone(), organization_id, user_id);
        self.presence_changed(organization_id);
        guard
    }

    fn presence_changed(&self, organization_id: &str) {
        self.presence_changed_locally_seen(organization_id);
        let entries = self.0.presence.local(organization_id);
        self.to_other_nodes(organization_id, SignalKind::Presence { entries });
    }

    fn presence_changed_locally_seen(&self, organization_id: &str) {
        let merged = self.0.presence.merged(organization_id);
        self.send_local(organization_id, Live::Presence(Arc::new(merged)));
    }

    /// Sends this node's presence in every organization to the other nodes (after a
    /// reconnection, and now and then, so that theirs expires only when this node is gone).
    pub fn announce_presence(&self) {
        for organization_id in self.0.presence.organizations() {
            let entries = self.0.presence.local(&organization_id);
            self.to_other_nodes(&organization_id, SignalKind::Presence { entries });
        }
        for organization_id in self.0.presence.expire_remote() {
            self.presence_changed_locally_seen(&organization_id);
        }
    }

    /// Tails the event log and pushes every event to its organization's sockets, until
    /// `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let tail = Tail::new(self.0.crm.log().clone())
            .batch(BATCH)
            .idle_recheck(IDLE_RECHECK, IDLE_RECHECK);
        tail.run(Push(self), shutdown).await;
    }

    /// The frames of `scope` in order: first the events after `after` (from the log),
    /// then live ones; `None`: from now on. A visitor's scope also receives the
    /// organization's presence (whether operators are online).
    pub fn feed(&self, organization_id: &str, scope: Scope, after: Option<i64>) -> Feed {
        let capacity = match scope {
            Scope::Organization => ORGANIZATION_CAPACITY,
            Scope::Visitor(_) => VISITOR_CAPACITY,
        };
        let live = self.subscribe(channel_of(&scope, organization_id), capacity);
        let presence = matches!(scope, Scope::Visitor(_))
            .then(|| self.subscribe(presence_channel(organization_id), VISITOR_CAPACITY));
        let last_seq = after.unwrap_or_else(|| self.position());
        Feed {
            hub: self.clone(),
            organization_id: organization_id.into(),
            scope,
            live,
            presence,
            last_seq,
            backlog: VecDeque::new(),
            caught_up: after.is_none(),
            ready_sent: false,
        }
    }
}

/// Whose frames a feed carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything of the organization (operators).
    Organization,
    /// One visitor's: events whose object names the visitor (their conversation and its
    /// messages), typing in their conversation.
    Visitor(String),
}

fn channel_of(scope: &Scope, organization_id: &str) -> String {
    match scope {
        Scope::Organization => organization_id.to_string(),
        Scope::Visitor(id) => format!("visitor:{organization_id}:{id}"),
    }
}

fn presence_channel(organization_id: &str) -> String {
    format!("presence:{organization_id}")
}

/// One socket's frames: every event after its starting point exactly once, in sequence
/// order, with signals in between.
pub struct Feed {
    hub: Hub,
    organization_id: String,
    scope: Scope,
    live: broadcast::Receiver<Live>,
    /// The organization's presence, for a visitor's feed.
    presence: Option<broadcast::Receiver<Live>>,
    last_seq: i64,
    backlog: VecDeque<Live>,
    caught_up: bool,
    ready_sent: bool,
}

impl Drop for Feed {
    /// Forgets the channels nobody else listens to (a visitor's, once their widget closes).
    fn drop(&mut self) {
        let mut channels = self.hub.0.channels.lock().expect("channels lock");
        let mut keys = vec![channel_of(&self.scope, &self.organization_id)];
        if self.presence.is_some() {
            keys.push(presence_channel(&self.organization_id));
        }
        for key in keys {
            // Under the lock nobody can subscribe meanwhile; 1 is this feed's receiver.
            if channels.get(&key).is_some_and(|sender| sender.receiver_count() <= 1) {
                channels.remove(&key);
            }
        }
    }
}

/// Why a feed ended.
#[derive(Debug)]
pub enum FeedEnd {
    /// The node is shutting down.
    Closed,
    Store(rapport_crm::CrmError),
}

impl Feed {
    /// The sequence number of the last event handed out (where a client resumes).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    pub async fn next(&mut self) -> Result<Live, FeedEnd> {
        loop {
            if let Some(item) = self.backlog.pop_front() {
                return Ok(item);
            }
            if self.caught_up && !self.ready_sent {
                self.ready_sent = true;
                return Ok(Live::Ready);
            }
            if !self.caught_up {
                // Live frames wait in the channel meanwhile; those already read from the
                // log are skipped below by their sequence number.
                let events = self.read_log().await.map_err(FeedEnd::Store)?;
                if events.is_empty() {
                    self.caught_up = true;
                }
                for event in events {
                    self.last_seq = event.seq;
                    self.backlog.push_back(Live::Event(Arc::new(LiveEvent::new(event))));
                }
                continue;
            }
            let received = match &mut self.presence {
                Some(presence) => tokio::select! {
                    live = self.live.recv() => live,
                    other = presence.recv() => match other {
                        // Presence is a snapshot: a lagging receiver just takes the next.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        other => other,
                    },
                },
                None => self.live.recv().await,
            };
            match received {
                Ok(Live::Event(event)) if event.seq() <= self.last_seq => continue,
                Ok(Live::Event(event)) => {
                    self.last_seq = event.seq();
                    return Ok(Live::Event(event));
                }
                Ok(other) => return Ok(other),
                // Too slow for the channel: what was dropped is in the log.
                Err(broadcast::error::RecvError::Lagged(_)) => self.caught_up = false,
                Err(broadcast::error::RecvError::Closed) => return Err(FeedEnd::Closed),
            }
        }
    }

    /// The scope's events after the last one handed out. Events of other scopes are read
    /// and passed over, so `last_seq` still moves past them.
    async fn read_log(&mut self) -> CrmResult<Vec<PushEvent>> {
        loop {
            let events: Vec<PushEvent> = self
                .hub
                .crm()
                .log()
                .read_after(Some(&self.organization_id), self.last_seq, BATCH)
                .await
                .map_err(rapport_crm::CrmError::from)?
                .into_iter()
                .map(PushEvent::from)
                .collect();
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok(events);
            };
            let mine: Vec<PushEvent> = match &self.scope {
                Scope::Organization => events,
                Scope::Visitor(id) => events
                    .into_iter()
                    .filter(|e| e.event["data"]["visitor_id"] == id.as_str())
                    .collect(),
            };
            if !mine.is_empty() {
                return Ok(mine);
            }
            self.last_seq = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_feed_leaves_no_channel_behind() {
        let test_db = rapport_testkit::TestDb::new(rapport_testkit::Backend::Sqlite, "a_closed_feed")
            .await
            .expect("SQLite is always there");
        let hub = Hub::new(Crm::new(test_db.open().await, Default::default()));
        let operator = hub.feed("orga_1", Scope::Organization, None);
        let visitor = hub.feed("orga_1", Scope::Visitor("visitor_1".into()), None);
        let same_visitor = hub.feed("orga_1", Scope::Visitor("visitor_1".into()), None);
        assert_eq!(hub.channel_count(), 3, "the organization's, the visitor's, presence");
        drop(visitor);
        assert_eq!(hub.channel_count(), 3, "the visitor's second widget still listens");
        drop(same_visitor);
        assert_eq!(hub.channel_count(), 1);
        drop(operator);
        assert_eq!(hub.channel_count(), 0);
    }
}
