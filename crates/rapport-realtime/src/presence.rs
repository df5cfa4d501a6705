//! Who is online, on which node, viewing what.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Hub;

/// Another node's presence is forgotten when it has not repeated it for this long (it
/// repeats it every [`crate::bus::ANNOUNCE_EVERY`]).
const REMOTE_EXPIRY: Duration = Duration::from_secs(45);

/// One user's socket: online, maybe viewing a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEntry {
    pub user_id: String,
    pub viewing: Option<String>,
}

#[derive(Default)]
pub(crate) struct Table(Mutex<State>);

#[derive(Default)]
struct State {
    next_socket: u64,
    /// organization → socket → entry
    local: HashMap<String, HashMap<u64, PresenceEntry>>,
    /// organization → node → (entries, when received)
    remote: HashMap<String, HashMap<String, (Vec<PresenceEntry>, Instant)>>,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("presence lock")
    }

    pub(crate) fn local(&self, organization_id: &str) -> Vec<PresenceEntry> {
        let state = self.lock();
        let mut entries: Vec<PresenceEntry> = state
            .local
            .get(organization_id)
            .map(|sockets| sockets.values().cloned().collect())
            .unwrap_or_default();
        entries.sort_by(|a, b| (&a.user_id, &a.viewing).cmp(&(&b.user_id, &b.viewing)));
        entries.dedup();
        entries
    }

    /// Local and other nodes' entries, without repeats, sorted.
    pub(crate) fn merged(&self, organization_id: &str) -> Vec<PresenceEntry> {
        let mut entries = self.local(organization_id);
        let state = self.lock();
        if let Some(nodes) = state.remote.get(organization_id) {
            for (node_entries, at) in nodes.values() {
                if at.elapsed() < REMOTE_EXPIRY {
                    entries.extend(node_entries.iter().cloned());
                }
            }
        }
        entries.sort_by(|a, b| (&a.user_id, &a.viewing).cmp(&(&b.user_id, &b.viewing)));
        entries.dedup();
        entries
    }

    /// Stores another node's entries; whether they changed.
    pub(crate) fn set_remote(&self, organization_id: &str, node: &str, entries: Vec<PresenceEntry>) -> bool {
        let mut state = self.lock();
        let nodes = state.remote.entry(organization_id.into()).or_default();
        let changed = nodes.get(node).is_none_or(|(old, _)| *old != entries);
        nodes.insert(node.into(), (entries, Instant::now()));
        changed
    }

    /// Forgets the nodes that stopped announcing; the organizations whose presence changed.
    pub(crate) fn expire_remote(&self) -> Vec<String> {
        let mut state = self.lock();
        let mut changed = Vec::new();
        for (organization_id, nodes) in state.remote.iter_mut() {
            let before = nodes.len();
            nodes.retain(|_, (_, at)| at.elapsed() < REMOTE_EXPIRY);
            if nodes.len() != before {
                changed.push(organization_id.clone());
            }
        }
        state.remote.retain(|_, nodes| !nodes.is_empty());
        changed
    }

    pub(crate) fn organizations(&self) -> Vec<String> {
        self.lock().local.keys().cloned().collect()
    }
}

/// A socket's presence; dropping it takes the socket offline.
pub struct PresenceGuard {
    hub: Hub,
    organization_id: String,
    socket: u64,
}

impl PresenceGuard {
    pub(crate) fn new(hub: Hub, organization_id: &str, user_id: &str) -> PresenceGuard {
        let socket = {
            let mut state = hub.0.presence.lock();
            state.next_socket += 1;
            let socket = state.next_socket;
            state.local.entry(organization_id.into()).or_default().insert(
                socket,
                PresenceEntry {
                    user_id: user_id.into(),
                    viewing: None,
                },
            );
            socket
        };
        PresenceGuard {
            hub,
            organization_id: organization_id.into(),
            socket,
        }
    }

    /// The socket's user now views this lead (or none).
    pub fn view(&self, lead_id: Option<String>) {
        {
            let mut state = self.hub.0.presence.lock();
            let Some(entry) = state
                .local
                .get_mut(&self.organization_id)
                .and_then(|sockets| sockets.get_mut(&self.socket))
            else {
                return;
            };
            if entry.viewing == lead_id {
                return;
            }
            entry.viewing = lead_id;
        }
        self.hub.presence_changed(&self.organization_id);
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        {
            let mut state = self.hub.0.presence.lock();
            if let Some(sockets) = state.local.get_mut(&self.organization_id) {
                sockets.remove(&self.socket);
                if sockets.is_empty() {
                    state.local.remove(&self.organization_id);
                }
            }
        }
        self.hub.presence_changed(&self.organization_id);
    }
}
