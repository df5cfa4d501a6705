//! The Markdown report of the jobs benchmark.

use super::peers::PeerFigures;
use super::{Backend, Figures, JobsOptions, ENQUEUE_BATCH, WARM_UP_EVENTS};

pub(super) fn print_report(
    o: &JobsOptions,
    ours: &[(Backend, Figures)],
    celery: Option<&anyhow::Result<PeerFigures>>,
    graphile: Option<&anyhow::Result<PeerFigures>>,
) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    println!("\n# Jobs: throughput and event → start latency\n");
    println!(
        "{cores} cores (load average at the end {load}), {}. {} jobs per throughput run, enqueued \
         {ENQUEUE_BATCH} per call before the worker starts; latency over {} lead creations paced {} ms apart \
         (after {WARM_UP_EVENTS} unmeasured), from `Crm::create`'s return to the handler's start, through \
         the dispatcher. Rapport runs in one process on 2 runtime threads: store pool of 16 connections, \
         SQLite `Durability::Normal`, `WorkerConfig::default()` but for its concurrency. \
         Ratios are Rapport / peer: above 1 is better for jobs/s, below 1 is better for latencies.",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        o.jobs,
        o.latency_events,
        o.pace.as_millis(),
    );
    for (backend, figures) in ours {
        let peer = match backend {
            Backend::RabbitMq => celery,
            _ => graphile,
        };
        print_backend(*backend, figures, peer);
    }
    for peer in [celery, graphile].into_iter().flatten() {
        match peer {
            Ok(p) => println!("\n{}: {}", p.name, p.setup),
            Err(e) => println!("\nA peer failed: {e:#}"),
        }
    }
}

fn print_backend(backend: Backend, f: &Figures, peer: Option<&anyhow::Result<PeerFigures>>) {
    let peer = peer.and_then(|p| p.as_ref().ok());
    let peer_name = peer.map(|p| p.name.as_str()).unwrap_or("peer (not run)");
    println!("\n## {}\n", backend.name());
    println!("| measure | Rapport | {peer_name} | Rapport / peer |");
    println!("|---|---:|---:|---:|");
    let row = |measure: &str, ours: f64, theirs: Option<f64>, digits: usize| {
        let (theirs, ratio) = match theirs {
            Some(t) => (format!("{t:.digits$}"), format!("{:.2}", ours / t)),
            None => ("—".into(), "—".into()),
        };
        println!("| {measure} | {ours:.digits$} | {theirs} | {ratio} |");
    };
    let noop = f.best_noop();
    row(
        &format!("no-op jobs/s (worker concurrency {})", f.concurrency),
        noop.jobs_per_s,
        peer.map(|p| p.jobs_per_s),
        0,
    );
    row(
        "no-op jobs/s, enqueued while the worker runs",
        f.concurrent.jobs_per_s,
        None,
        0,
    );
    row("write-a-row jobs/s", f.write_row.jobs_per_s, None, 0);
    row(
        "event → start p50 ms",
        f.latency.p50_ms,
        peer.map(|p| p.latency.p50_ms),
        2,
    );
    row(
        "event → start p99 ms",
        f.latency.p99_ms,
        peer.map(|p| p.latency.p99_ms),
        2,
    );
    row(
        "event → start max ms",
        f.latency.max_ms,
        peer.map(|p| p.latency.max_ms),
        2,
    );
    row(
        "enqueue jobs/s (500 a call)",
        noop.enqueue_per_s,
        peer.map(|p| p.enqueue_per_s),
        0,
    );
    let tried: Vec<String> = f
        .noop
        .iter()
        .map(|(c, t)| format!("{c}: {:.0}", t.jobs_per_s))
        .collect();
    if backend == Backend::Sqlite {
        println!("\nThere is no SQLite peer: the peer is the database-backed queue a self-hoster would run instead.");
    }
    println!("\nNo-op jobs/s by worker concurrency: {}.", tried.join(", "));
    println!(
        "{} (distinct worker and start millisecond in the ledger) in the best no-op run: ~{} for {} jobs \
         ({:.1} jobs each, one every {:.2} ms); write-a-row run: ~{} ({:.1} each, one every {:.2} ms).",
        match backend {
            Backend::RabbitMq => "Ledger starts of delivered jobs",
            _ => "Claims",
        },
        noop.claims,
        noop.ran,
        noop.ran as f64 / noop.claims.max(1) as f64,
        noop.seconds * 1000.0 / noop.claims.max(1) as f64,
        f.write_row.claims,
        f.write_row.ran as f64 / f.write_row.claims.max(1) as f64,
        f.write_row.seconds * 1000.0 / f.write_row.claims.max(1) as f64,
    );
    if let Some(r) = &f.round_trips {
        println!(
            "Idle round trips, one at a time: claim of one job {:.3} ms, complete {:.3} ms.",
            r.claim_one_ms, r.complete_ms
        );
    }
    if f.latency.lost > 0 {
        println!("{} events had no job start within 30 s.", f.latency.lost);
    }
}
