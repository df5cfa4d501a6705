//! The peers of the jobs benchmark, run as processes with the same no-op job: Celery on
//! RabbitMQ (`peers/celery_bench.py`) and graphile-worker on PostgreSQL
//! (`peers/graphile_bench.mjs`). Each script prints one JSON line.
//!
//! They are installed on demand into a cache beside the build (`<target>/bench-peers/`:
//! a Python venv with Celery, an npm project with graphile-worker), never into the repo;
//! the scripts, embedded in this binary, are written next to what they import.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use super::Latency;

const CELERY_SCRIPT: &str = include_str!("../../peers/celery_bench.py");
const GRAPHILE_SCRIPT: &str = include_str!("../../peers/graphile_bench.mjs");
const CELERY_BROKER: &str = "amqp://guest:guest@127.0.0.1:5672//";
const REDIS: &str = "redis://127.0.0.1:6379/0";
/// graphile-worker's concurrency: Rapport's default trial value.
const GRAPHILE_CONCURRENCY: usize = 32;
/// Celery's pools to try for throughput, with their concurrency; the best is kept. Two
/// processes for two cores; threads for a job that only waits on the network.
const CELERY_POOLS: [(&str, usize); 2] = [("prefork", 2), ("threads", 8)];
/// Messages a Celery worker process reserves ahead, times its concurrency (Celery's default).
const CELERY_PREFETCH: usize = 4;

/// A peer's figures on its no-op job.
pub(super) struct PeerFigures {
    pub(super) name: String,
    /// How it was set up, for the report.
    pub(super) setup: String,
    pub(super) jobs_per_s: f64,
    pub(super) enqueue_per_s: f64,
    pub(super) latency: Latency,
}

/// `<target>/bench-peers`, the target dir being the one this binary was built into.
pub(crate) fn cache_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // <target>/release/rapport-bench
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("no target dir above the binary")?;
    let dir = target.join("bench-peers");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub(super) fn celery(cache: &Path, jobs: usize, events: usize, pace: Duration) -> anyhow::Result<PeerFigures> {
    let python = install_celery(cache)?;
    let dir = cache.join("celery");
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("celery_bench.py");
    std::fs::write(&script, CELERY_SCRIPT)?;
    let version =
        run_json(Command::new(&python).args(["-c", "import celery, json; print(json.dumps(celery.__version__))"]))?;
    let celery_run = |mode: &str, n: usize, pool: &str, concurrency: usize| {
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .args(["--mode", mode, "--n", &n.to_string(), "--pool", pool])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--pace-ms", &pace.as_millis().to_string()])
            .env("BENCH_BROKER", CELERY_BROKER)
            .env("BENCH_REDIS", REDIS)
            .env(
                "BENCH_QUEUE",
                format!("rapport_bench_celery_{}", super::fixture::unique()),
            )
            .env("BENCH_PREFETCH", CELERY_PREFETCH.to_string());
        run_json(&mut command)
    };
    let mut best: Option<(Value, &str, usize)> = None;
    for (pool, concurrency) in CELERY_POOLS {
        let figures = celery_run("throughput", jobs, pool, concurrency)?;
        eprintln!("   Celery {pool} -c {concurrency}: {figures}");
        if best
            .as_ref()
            .is_none_or(|(b, _, _)| number(&figures, "jobs_per_s") > number(b, "jobs_per_s"))
        {
            best = Some((figures, pool, concurrency));
        }
    }
    let (throughput, pool, concurrency) = best.context("no Celery pool to try")?;
    let latency = celery_run("latency", events, pool, concurrency)?;
    eprintln!("   Celery latency: {latency}");
    Ok(PeerFigures {
        name: "Celery on RabbitMQ".into(),
        setup: format!(
            "Celery {} ({pool} pool, -c {concurrency}, the best of {}; prefetch multiplier {CELERY_PREFETCH}, \
             task_acks_late, no result backend; each task counts itself with a Redis INCR, the latency task \
             with an RPUSH). Jobs/s from the first task's start to the last task's end (the worker's start-up \
             excluded: {:.0} jobs/s with it); {:.0} tasks/s from the producer, one apply_async each.",
            version.as_str().unwrap_or("?"),
            CELERY_POOLS.map(|(p, c)| format!("{p} -c {c}")).join(", "),
            number(&throughput, "jobs_per_s_with_worker_start"),
            number(&throughput, "enqueue_per_s"),
        ),
        jobs_per_s: number(&throughput, "jobs_per_s"),
        enqueue_per_s: number(&throughput, "enqueue_per_s"),
        latency: latency_of(&latency),
    })
}

pub(super) fn graphile(cache: &Path, jobs: usize, events: usize, pace: Duration) -> anyhow::Result<PeerFigures> {
    let dir = install_graphile(cache)?;
    let script = dir.join("graphile_bench.mjs");
    std::fs::write(&script, GRAPHILE_SCRIPT)?;
    let graphile_run = |mode: &str, n: usize| {
        let mut command = Command::new("node");
        command
            .arg(&script)
            .args(["--mode", mode, "--n", &n.to_string()])
            .args(["--concurrency", &GRAPHILE_CONCURRENCY.to_string()])
            .args(["--pace-ms", &pace.as_millis().to_string()])
            .args(["--db", &format!("rapport_bench_graphile_{}", super::fixture::unique())]);
        run_json(&mut command)
    };
    let throughput = graphile_run("throughput", jobs)?;
    eprintln!("   graphile-worker: {throughput}");
    let latency = graphile_run("latency", events)?;
    eprintln!("   graphile-worker latency: {latency}");
    Ok(PeerFigures {
        name: "graphile-worker on PostgreSQL".into(),
        setup: format!(
            "graphile-worker {} (Node {}; concurrency {GRAPHILE_CONCURRENCY}, a pool of {} connections, \
             pollInterval 1000 ms, LISTEN/NOTIFY, its other settings default). Jobs/s from the worker's start \
             until its jobs table is empty ({:.0} jobs/s counting only handler runs); {:.0} jobs/s added with \
             addJobs, 500 a call. Latency from addJob's return to the handler's start.",
            throughput["version"].as_str().unwrap_or("?"),
            node_version(),
            GRAPHILE_CONCURRENCY + 2,
            number(&throughput, "jobs_per_s_handlers"),
            number(&throughput, "enqueue_per_s"),
        ),
        jobs_per_s: number(&throughput, "jobs_per_s"),
        enqueue_per_s: number(&throughput, "enqueue_per_s"),
        latency: latency_of(&latency),
    })
}

/// The venv's Python, with Celery and the Redis client installed.
fn install_celery(cache: &Path) -> anyhow::Result<PathBuf> {
    let venv = cache.join("celery-venv");
    let python = venv.join("bin/python");
    if venv.join("bin/celery").exists() {
        return Ok(python);
    }
    let how = format!(
        "cannot install Celery; by hand: python3 -m venv {0} && {0}/bin/python -m pip install 'celery[redis]'",
        venv.display()
    );
    eprintln!("   installing Celery into {}", venv.display());
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(how.clone())?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "celery[redis]",
    ]))
    .context(how)?;
    Ok(python)
}

/// An npm project with graphile-worker installed.
fn install_graphile(cache: &Path) -> anyhow::Result<PathBuf> {
    let dir = cache.join("graphile");
    if dir.join("node_modules/graphile-worker/package.json").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!("   installing graphile-worker into {}", dir.display());
    run(Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg("graphile-worker"))
    .with_context(|| {
        format!(
            "cannot install graphile-worker (needs Node 18+ and npm); by hand: npm install --prefix {} graphile-worker",
            dir.display()
        )
    })?;
    Ok(dir)
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command.output().with_context(|| format!("cannot start {command:?}"))?;
    if !out.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Runs a peer's script; its last line of output is its JSON result.
fn run_json(command: &mut Command) -> anyhow::Result<Value> {
    let out = command.output().with_context(|| format!("cannot start {command:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("{command:?} failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{command:?} printed no JSON result: {stdout}"))
}

fn number(v: &Value, field: &str) -> f64 {
    v[field].as_f64().unwrap_or(f64::NAN)
}

fn latency_of(v: &Value) -> Latency {
    Latency {
        p50_ms: number(v, "p50_ms"),
        p99_ms: number(v, "p99_ms"),
        max_ms: number(v, "max_ms"),
        measured: v["n"].as_u64().unwrap_or(0) as usize,
        lost: 0,
    }
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into())
}
