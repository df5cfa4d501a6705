//! The chat load generator: websockets speaking Rapport's protocol or Socket.IO's, one
//! task each, on the caller's runtime.
//!
//! Message `i` goes to visitor `i % visitors` with the body `bench i`; the visitor's task
//! notes when it hands the frame to its socket, and each operator's task when a frame
//! carrying `bench i` arrives. Times are nanoseconds since one `Instant`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Sockets being opened at once.
const CONNECT_CONCURRENCY: usize = 200;
/// Rapport's sockets send a ping this often (Socket.IO's server pings at the same period).
const KEEPALIVE: Duration = Duration::from_secs(25);
/// How long receipts may trail the last message before the missing ones count as lost.
const DRAIN: Duration = Duration::from_secs(10);
const MARKER: &str = "bench ";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire {
    /// `/widget/ws` and `/api/v1/realtime`.
    Rapport,
    /// Engine.IO 4 / Socket.IO 5 over the websocket transport.
    SocketIo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Visitor,
    Operator,
}

/// A socket to open.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) url: String,
    /// Request headers: `Authorization` for operators; a visitor's client address (the
    /// server trusts `CLIENT_IP_HEADER`), so each visitor is limited as a visitor of its own
    /// address would be, not as 10,000 visitors behind one.
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) wire: Wire,
    pub(super) role: Role,
}

impl Wire {
    fn message(self, id: usize) -> String {
        match self {
            Wire::Rapport => format!(r#"{{"type":"message","client_id":"c{id}","body":"{MARKER}{id}"}}"#),
            Wire::SocketIo => format!(r#"42["message",{{"client_id":"c{id}","body":"{MARKER}{id}"}}]"#),
        }
    }

    fn keepalive(self) -> Option<&'static str> {
        match self {
            Wire::Rapport => Some(r#"{"type":"ping"}"#),
            Wire::SocketIo => None,
        }
    }

    /// The answer a frame needs at once (Engine.IO's ping), if any.
    fn answer(self, frame: &str) -> Option<&'static str> {
        (self == Wire::SocketIo && frame == "2").then_some("3")
    }

    /// The message id an operator's frame carries, if it is a created message.
    fn received(self, frame: &str) -> Option<usize> {
        // Most frames are not messages: skip them before parsing.
        if !frame.contains("message.created") {
            return None;
        }
        let value: Value = serde_json::from_str(frame.strip_prefix("42").unwrap_or(frame)).ok()?;
        let body = match self {
            Wire::Rapport if value["type"] == "message.created" => &value["data"]["data"]["body"],
            Wire::SocketIo if value[0] == "message.created" => &value[1]["body"],
            _ => return None,
        };
        body.as_str()?.strip_prefix(MARKER)?.parse().ok()
    }

    /// Whether a visitor's frame reports an error (a refused message).
    fn is_error(self, frame: &str) -> bool {
        match self {
            Wire::Rapport => frame.starts_with(r#"{"type":"error""#) || frame.contains(r#""type":"error""#),
            Wire::SocketIo => frame.starts_with("44"),
        }
    }
}

/// What every socket's task shares.
struct Shared {
    base: Instant,
    /// Per message: when its visitor sent it (ns since `base`; 0: not yet).
    sent: Mutex<Vec<u64>>,
    /// (message, ns since `base`) per operator receipt.
    receipts: Mutex<Vec<(u32, u64)>>,
    received: AtomicUsize,
    errors: AtomicUsize,
    /// Sockets the server closed (or that failed) while the benchmark ran.
    closed: AtomicUsize,
}

impl Shared {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// Open sockets: a sender per socket (message ids; operators are never given any), the
/// tasks of all.
pub(super) struct Clients {
    visitors: Vec<mpsc::Sender<usize>>,
    operators: Vec<mpsc::Sender<usize>>,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// Opens every target, `CONNECT_CONCURRENCY` at a time; each is ready (its replay done, or
/// its namespace joined) when this returns.
pub(super) async fn connect_all(targets: &[Target]) -> anyhow::Result<Clients> {
    let shared = Arc::new(Shared {
        base: Instant::now(),
        sent: Mutex::new(Vec::new()),
        receipts: Mutex::new(Vec::new()),
        received: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
    });
    let mut opened = futures_util::stream::iter(targets.iter().cloned().map(|t| async move {
        let socket = open(&t).await.with_context(|| format!("opening {}", t.url))?;
        Ok::<_, anyhow::Error>((t, socket))
    }))
    .buffer_unordered(CONNECT_CONCURRENCY);
    let mut clients = Clients {
        visitors: Vec::new(),
        operators: Vec::new(),
        tasks: Vec::with_capacity(targets.len()),
        shared: shared.clone(),
    };
    while let Some(result) = opened.next().await {
        let (target, socket) = result?;
        let (tx, rx) = mpsc::channel(4);
        match target.role {
            Role::Visitor => clients.visitors.push(tx),
            Role::Operator => clients.operators.push(tx),
        }
        clients.tasks.push(tokio::spawn(drive(
            socket,
            target.wire,
            target.role,
            rx,
            shared.clone(),
        )));
    }
    if clients.visitors.is_empty() || clients.operators.is_empty() {
        bail!("no visitor or no operator to measure");
    }
    Ok(clients)
}

/// Connects and waits until the socket is live.
async fn open(target: &Target) -> anyhow::Result<Socket> {
    let mut request = target.url.as_str().into_client_request()?;
    for (name, value) in &target.headers {
        request.headers_mut().insert(*name, value.parse()?);
    }
    // Small buffers: this process holds every socket.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    match target.wire {
        Wire::Rapport => {
            wait_for(&mut socket, |f| f.contains(r#""type":"ready""#)).await?;
        }
        Wire::SocketIo => {
            wait_for(&mut socket, |f| f.starts_with('0')).await?;
            socket.send(Message::text("40")).await?;
            wait_for(&mut socket, |f| f.starts_with("40")).await?;
        }
    }
    Ok(socket)
}

async fn wait_for(socket: &mut Socket, wanted: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message? {
                if wanted(text.as_str()) {
                    return Ok(());
                }
            }
        }
        bail!("closed before it was ready")
    });
    waited.await.context("not ready after 60 s")?
}

/// One socket's life: sends what it is given (visitors), notes receipts (operators),
/// answers pings, keeps alive.
async fn drive(mut socket: Socket, wire: Wire, role: Role, mut messages: mpsc::Receiver<usize>, shared: Arc<Shared>) {
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        tokio::select! {
            id = messages.recv() => {
                let Some(id) = id else { break };
                let at = shared.now();
                shared.sent.lock().expect("sent lock")[id] = at;
                if socket.send(Message::text(wire.message(id))).await.is_err() {
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    _ => {
                        shared.closed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                if let Some(answer) = wire.answer(text.as_str()) {
                    let _ = socket.send(Message::text(answer)).await;
                }
                match role {
                    Role::Operator => {
                        if let Some(id) = wire.received(text.as_str()) {
                            let at = shared.now();
                            shared.receipts.lock().expect("receipts lock").push((id as u32, at));
                            shared.received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Role::Visitor => {
                        if wire.is_error(text.as_str()) {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            _ = keepalive.tick() => {
                if let Some(ping) = wire.keepalive() {
                    let _ = socket.send(Message::text(ping)).await;
                }
            }
        }
    }
    let _ = socket.close(None).await;
}

/// Latency over every (operator, measured message) receipt.
#[derive(Debug, Clone, Default)]
pub(super) struct Latency {
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) max_ms: f64,
    /// Messages measured (after the warm-up).
    pub(super) messages: usize,
    pub(super) receipts: usize,
    /// Receipts expected (measured messages × operators) that did not come within `DRAIN`.
    pub(super) lost: usize,
    /// Messages sent per second, measured.
    pub(super) rate: f64,
    /// Error frames the visitors received.
    pub(super) errors: usize,
    /// Sockets that closed during the run.
    pub(super) closed: usize,
    /// Messages not sent because their visitor's socket was still busy with earlier ones.
    pub(super) skipped: usize,
    /// The slowest receipt of the messages sent in each second of the measured part, in
    /// ms: where the tail comes from (a steady queue, or one stall).
    pub(super) max_per_second: Vec<f64>,
}

impl Latency {
    pub(super) fn describe(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} receipts of {} messages at {:.0}/s; \
             {} receipts lost, {} error frames, {} sockets closed, {} messages not sent",
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.receipts,
            self.messages,
            self.rate,
            self.lost,
            self.errors,
            self.closed,
            self.skipped
        ) + &format!(
            "; slowest receipt per second sent (ms): {}",
            self.max_per_second
                .iter()
                .map(|ms| format!("{ms:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
}

impl Clients {
    /// Sends messages at `rate` per second, round-robin over the visitors, for `warm_up`
    /// then `measured`; waits for the receipts, and measures those of the second part.
    pub(super) async fn send_messages(
        &self,
        rate: usize,
        warm_up: Duration,
        measured: Duration,
    ) -> anyhow::Result<Latency> {
        let first_measured = (rate as f64 * warm_up.as_secs_f64()) as usize;
        let total = first_measured + (rate as f64 * measured.as_secs_f64()) as usize;
        *self.shared.sent.lock().expect("sent lock") = vec![0; total];
        let mut skipped = 0;
        let started = Instant::now();
        let mut measured_from = started;
        // A tick per millisecond; each sends what is due by then, so the rate holds even
        // when a tick comes late.
        let mut ticks = tokio::time::interval(Duration::from_millis(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut next = 0;
        while next < total {
            ticks.tick().await;
            let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
            while next < due {
                if next == first_measured {
                    measured_from = Instant::now();
                }
                if self.visitors[next % self.visitors.len()].try_send(next).is_err() {
                    skipped += 1;
                }
                next += 1;
            }
        }
        let sending_seconds = measured_from.elapsed().as_secs_f64();
        let expected = (total - skipped) * self.operators.len();
        let deadline = Instant::now() + DRAIN;
        while self.shared.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sent = self.shared.sent.lock().expect("sent lock");
        let receipts = self.shared.receipts.lock().expect("receipts lock");
        let timed: Vec<(u64, f64)> = receipts
            .iter()
            .filter(|(id, _)| *id as usize >= first_measured)
            .filter_map(|&(id, at)| {
                let sent_at = *sent.get(id as usize)?;
                (sent_at > 0).then(|| (sent_at, at.saturating_sub(sent_at) as f64 / 1e6))
            })
            .collect();
        let first_sent = timed.iter().map(|(sent_at, _)| *sent_at).min().unwrap_or(0);
        let mut max_per_second = vec![0.0f64; measured.as_secs().max(1) as usize + 1];
        for (sent_at, ms) in &timed {
            let second = ((sent_at - first_sent) / 1_000_000_000) as usize;
            if let Some(slot) = max_per_second.get_mut(second) {
                *slot = slot.max(*ms);
            }
        }
        let mut values: Vec<f64> = timed.into_iter().map(|(_, ms)| ms).collect();
        values.sort_by(f64::total_cmp);
        let at = |p: f64| crate::percentile(&values, p);
        let messages = total - first_measured;
        Ok(Latency {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: values.last().copied().unwrap_or(f64::NAN),
            messages,
            receipts: values.len(),
            lost: (messages * self.operators.len()).saturating_sub(values.len()),
            rate: messages as f64 / sending_seconds.max(1e-9),
            errors: self.shared.errors.load(Ordering::Relaxed),
            closed: self.shared.closed.load(Ordering::Relaxed),
            skipped,
            max_per_second,
        })
    }

    /// Drops every socket (no closing handshake: the figures are taken).
    pub(super) async fn close(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
