//! The Markdown report of the chat benchmark.

use super::{peer, Backend, ChatOptions, Figures, OPERATORS, SETTLE, WARM_UP};

/// Issue 5's memory goal: 10,000 connections under this resident size.
const MEMORY_GOAL_MIB: f64 = 300.0;
const GOAL_CONNECTIONS: usize = 10_000;

type Outcome = anyhow::Result<Figures>;

pub(super) fn print_report(o: &ChatOptions, results: &[(Backend, Outcome, Option<Outcome>)]) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("\n# Chat: connections, memory and visitor → operator latency\n");
    println!(
        "{cores} cores shared by the servers and this client (one thread), {}. {} websockets: {OPERATORS} \
         operators and {} visitors. Memory is VmRSS before any socket opened (after the visitors' sessions \
         were made) and {} s after the last one did. Latency: visitors send {}/s round-robin ({} s warm-up, \
         then {} s measured), from the visitor's send to each operator's receipt, over every (operator, \
         message) pair. Ratios are peer / Rapport: below 1 means the peer is better.",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        o.connections,
        o.connections - OPERATORS,
        SETTLE.as_secs(),
        o.rate,
        WARM_UP.as_secs(),
        o.seconds,
    );
    for (backend, ours, theirs) in results {
        print_backend(o, *backend, ours, theirs.as_ref());
    }
    if o.peers {
        println!(
            "\nPeer: {}. It stores nothing; Rapport commits every message (and each visitor's first \
                  message opens a conversation) before it fans it out.",
            peer::describe()
        );
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_backend(o: &ChatOptions, backend: Backend, ours: &Outcome, theirs: Option<&Outcome>) {
    println!("\n## {}\n", backend.nodes_label());
    let ours = match ours {
        Ok(f) => f,
        Err(e) => {
            println!("Rapport failed: {e:#}");
            return;
        }
    };
    let peer = match theirs {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            println!("The peer failed: {e:#}\n");
            None
        }
        None => None,
    };
    println!("| measure | Rapport | socket.io relay | peer / Rapport |");
    println!("|---|---:|---:|---:|");
    let row = |measure: &str, ours: f64, theirs: Option<f64>, digits: usize| {
        let (theirs, ratio) = match theirs {
            Some(t) => (format!("{t:.digits$}"), format!("{:.2}", t / ours)),
            None => ("—".into(), "—".into()),
        };
        println!("| {measure} | {ours:.digits$} | {theirs} | {ratio} |");
    };
    let nodes = ["A (operators)", "B (visitors)"];
    for (i, m) in ours.memory.iter().enumerate() {
        let node = if ours.memory.len() > 1 {
            format!("node {}, ", nodes[i])
        } else {
            String::new()
        };
        let theirs = |f: fn(&super::Memory) -> u64| peer.and_then(|p| p.memory.get(i)).map(|m| mib(f(m)));
        row(
            &format!("{node}RSS idle, MiB"),
            mib(m.idle_kib),
            theirs(|m| m.idle_kib),
            1,
        );
        row(
            &format!("{node}RSS with {} sockets open, MiB", o.connections),
            mib(m.connected_kib),
            theirs(|m| m.connected_kib),
            1,
        );
        row(
            &format!("{node}RSS after the messages, MiB"),
            mib(m.after_messages_kib),
            theirs(|m| m.after_messages_kib),
            1,
        );
    }
    row(
        "memory per connection, KiB",
        ours.per_connection_kib(o.connections),
        peer.map(|p| p.per_connection_kib(o.connections)),
        1,
    );
    row(
        "seconds to open the sockets",
        ours.connect_seconds,
        peer.map(|p| p.connect_seconds),
        1,
    );
    let (l, pl) = (&ours.latency, peer.map(|p| &p.latency));
    row("latency p50, ms", l.p50_ms, pl.map(|l| l.p50_ms), 2);
    row("latency p99, ms", l.p99_ms, pl.map(|l| l.p99_ms), 2);
    row("latency max, ms", l.max_ms, pl.map(|l| l.max_ms), 2);
    row("messages/s sent", l.rate, pl.map(|l| l.rate), 0);
    println!(
        "| receipts (lost) | {} ({}) | {} | |",
        l.receipts,
        l.lost,
        pl.map(|l| format!("{} ({})", l.receipts, l.lost)).unwrap_or("—".into())
    );
    for (who, l) in std::iter::once(("Rapport", l)).chain(pl.map(|l| ("The peer", l))) {
        if l.errors + l.closed + l.skipped > 0 {
            println!(
                "\n{who}: {} error frames, {} sockets closed, {} messages not sent (visitor busy).",
                l.errors, l.closed, l.skipped
            );
        }
    }
    print_goals(o, backend, ours);
}

fn print_goals(o: &ChatOptions, backend: Backend, f: &Figures) {
    let idle: u64 = f.memory.iter().map(|m| m.idle_kib).sum();
    let at_goal = mib(idle) + f.per_connection_kib(o.connections) * GOAL_CONNECTIONS as f64 / 1024.0;
    let resident = if o.connections == GOAL_CONNECTIONS {
        mib(f.connected_kib())
    } else {
        at_goal
    };
    let met = |ok: bool| if ok { "met" } else { "not met" };
    let nodes = if f.memory.len() > 1 {
        " (both nodes together)"
    } else {
        ""
    };
    println!(
        "\nGoals: {GOAL_CONNECTIONS} connections under {MEMORY_GOAL_MIB:.0} MiB: {resident:.0} MiB{nodes}{}, {}; \
         p99 under {:.0} ms: {:.2} ms, {}{}.",
        if o.connections == GOAL_CONNECTIONS {
            ""
        } else {
            " projected from this run's per-connection memory"
        },
        met(resident < MEMORY_GOAL_MIB),
        backend.p99_goal_ms(),
        f.latency.p99_ms,
        met(f.latency.p99_ms < backend.p99_goal_ms()),
        if f.latency.lost > 0 {
            format!(", with {} receipts lost", f.latency.lost)
        } else {
            String::new()
        },
    );
}
