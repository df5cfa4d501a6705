//! The chat benchmark (issue 5): N websockets held open (10 operators, the rest visitors),
//! the server's memory idle and with all of them, and the visitor → operator latency of
//! messages sent at a steady rate while they are all connected; then the same with a
//! socket.io relay (`chat/peer.rs`) as the peer, driven by the same client (`chat/load.rs`).
//!
//! One node is `rapport serve` on SQLite (or PostgreSQL); two nodes are two `rapport serve`
//! on one fresh PostgreSQL database and one fresh RabbitMQ vhost, visitors on node B and
//! operators on node A (`chat/rapport.rs`). The client runs on one thread of this process.

mod load;
mod peer;
mod rapport;
mod report;

use std::time::Duration;

use anyhow::bail;

pub(crate) use crate::backend::Backend;

use load::{Latency, Target};

/// Operator sockets; every other socket is a visitor's.
const OPERATORS: usize = 10;
/// Sent before the measured messages, not counted.
const WARM_UP: Duration = Duration::from_secs(2);
/// Time for the memory of fresh connections to settle before it is read.
const SETTLE: Duration = Duration::from_secs(3);

impl Backend {
    pub(crate) fn nodes_label(self) -> &'static str {
        match self {
            Backend::Sqlite => "one node, SQLite",
            Backend::Postgres => "one node, PostgreSQL",
            Backend::RabbitMq => "two nodes, PostgreSQL + RabbitMQ",
        }
    }

    fn two_nodes(self) -> bool {
        self == Backend::RabbitMq
    }

    /// The p99 latency goal of issue 5.
    fn p99_goal_ms(self) -> f64 {
        if self.two_nodes() {
            50.0
        } else {
            20.0
        }
    }
}

/// What `--chat` measures.
pub(crate) struct ChatOptions {
    pub(crate) connections: usize,
    pub(crate) backends: Vec<Backend>,
    /// Visitor messages per second.
    pub(crate) rate: usize,
    /// Seconds of measured messages.
    pub(crate) seconds: u64,
    pub(crate) peers: bool,
}

/// Resident memory of one server process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    idle_kib: u64,
    connected_kib: u64,
    after_messages_kib: u64,
}

/// One system's figures on one setup.
struct Figures {
    /// Per node: A (operators, or the only node), then B (visitors).
    memory: Vec<Memory>,
    latency: Latency,
    /// Seconds to open all the sockets.
    connect_seconds: f64,
}

impl Figures {
    /// Memory per connection: the growth of every node over all the connections, in KiB.
    fn per_connection_kib(&self, connections: usize) -> f64 {
        let grown: u64 = self
            .memory
            .iter()
            .map(|m| m.connected_kib.saturating_sub(m.idle_kib))
            .sum();
        grown as f64 / connections as f64
    }

    fn connected_kib(&self) -> u64 {
        self.memory.iter().map(|m| m.connected_kib).sum()
    }
}

pub(crate) fn run(o: &ChatOptions) -> anyhow::Result<()> {
    if o.connections <= OPERATORS {
        bail!("--chat needs more than {OPERATORS} connections (the operators)");
    }
    let limit = raise_open_files_limit()?;
    if limit < o.connections as u64 + 100 {
        bail!("the open-files limit is {limit}: too low for {} sockets", o.connections);
    }
    // One thread: the servers keep the other core.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut results = Vec::new();
    for &backend in &o.backends {
        eprintln!("== Rapport, {}", backend.nodes_label());
        let ours = runtime.block_on(rapport::measure(backend, o));
        if let Err(e) = &ours {
            eprintln!("   failed: {e:#}");
        }
        let theirs = o.peers.then(|| {
            eprintln!(
                "== socket.io relay, {}",
                if backend.two_nodes() {
                    "two processes + Redis"
                } else {
                    "one process"
                }
            );
            let figures = runtime.block_on(peer::measure(backend.two_nodes(), o));
            if let Err(e) = &figures {
                eprintln!("   failed: {e:#}");
            }
            figures
        });
        results.push((backend, ours, theirs));
    }
    report::print_report(o, &results);
    Ok(())
}

/// Opens every socket, reads memory, sends the messages, reads memory again. `nodes` are
/// the server processes (A first) and `idle` their memory before any socket opened.
async fn measure_connected(
    o: &ChatOptions,
    targets: &[Target],
    nodes: &[u32],
    idle: Vec<u64>,
) -> anyhow::Result<Figures> {
    let started = std::time::Instant::now();
    let clients = load::connect_all(targets).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    eprintln!("   {} sockets open in {connect_seconds:.1} s", targets.len());
    tokio::time::sleep(SETTLE).await;
    let connected: Vec<u64> = nodes.iter().map(|&pid| rss_kib(pid)).collect();
    let latency = clients
        .send_messages(o.rate, WARM_UP, Duration::from_secs(o.seconds))
        .await?;
    eprintln!("   {}", latency.describe());
    let after: Vec<u64> = nodes.iter().map(|&pid| rss_kib(pid)).collect();
    clients.close().await;
    let memory = (0..nodes.len())
        .map(|i| Memory {
            idle_kib: idle[i],
            connected_kib: connected[i],
            after_messages_kib: after[i],
        })
        .collect();
    Ok(Figures {
        memory,
        latency,
        connect_seconds,
    })
}

/// A process's resident memory (VmRSS), in KiB; 0 if it is gone.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Raises this process's open-files limit to its hard limit (the servers it starts inherit
/// it); returns the new limit.
fn raise_open_files_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}
