//! The peer of the chat benchmark: a socket.io relay (`peers/socketio_relay.mjs`), one Node
//! process, or two joined by `@socket.io/redis-adapter` over the local Redis. It stores
//! nothing, which is its advantage over Rapport.
//!
//! socket.io is installed on demand into `<target>/bench-peers/socketio/`, never into the
//! repo; the script, embedded in this binary, is written next to what it imports.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

use super::load::{Role, Target, Wire};
use super::{measure_connected, rss_kib, ChatOptions, Figures, OPERATORS};
use crate::jobs::peers::cache_dir;

const SCRIPT: &str = include_str!("../../peers/socketio_relay.mjs");
/// Pinned, so that runs compare. `bufferutil` and `utf-8-validate` are the native add-ons
/// of `ws` that socket.io's performance tuning guide tells a server to install
/// (https://socket.io/docs/v4/performance-tuning/#install-ws-native-add-ons).
const PACKAGES: [&str; 5] = [
    "socket.io@4.8.1",
    "@socket.io/redis-adapter@8.3.0",
    "redis@4.7.0",
    "bufferutil@4.0.9",
    "utf-8-validate@6.0.5",
];
const REDIS: &str = "redis://127.0.0.1:6379";

pub(super) async fn measure(two_nodes: bool, o: &ChatOptions) -> anyhow::Result<Figures> {
    let dir = install()?;
    let script = dir.join("socketio_relay.mjs");
    std::fs::write(&script, SCRIPT)?;
    let prefix = format!("rapport_bench_chat_{}", std::process::id());
    let _keys = two_nodes.then(|| RedisKeys(prefix.clone()));
    let redis = two_nodes.then_some(prefix.as_str());
    let a = Relay::start(&script, redis)?;
    let b = match two_nodes {
        true => Some(Relay::start(&script, redis)?),
        false => None,
    };
    let visitors_port = b.as_ref().unwrap_or(&a).port;
    let target = |port: u16, role: Role| Target {
        url: format!(
            "ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&role={}",
            match role {
                Role::Operator => "operator",
                Role::Visitor => "visitor",
            }
        ),
        headers: Vec::new(),
        wire: Wire::SocketIo,
        role,
    };
    let mut targets: Vec<Target> = (0..OPERATORS).map(|_| target(a.port, Role::Operator)).collect();
    targets.extend((OPERATORS..o.connections).map(|_| target(visitors_port, Role::Visitor)));
    let pids: Vec<u32> = std::iter::once(&a).chain(b.as_ref()).map(|r| r.child.id()).collect();
    let idle = pids.iter().map(|&pid| rss_kib(pid)).collect();
    measure_connected(o, &targets, &pids, idle).await
}

/// What the report says about the peer.
pub(super) fn describe() -> String {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "{} on Node {node}, as socket.io's performance tuning guide recommends: websocket \
         transport only, ws's native add-ons installed (bufferutil, utf-8-validate), its other \
         settings default (ping every 25 s); two nodes: two processes with the Redis adapter \
         (node-redis) over the local Redis, as its guide to multiple nodes describes",
        PACKAGES.join(", ")
    )
}

/// A relay process, killed when dropped.
struct Relay {
    child: Child,
    port: u16,
}

impl Relay {
    fn start(script: &Path, redis: Option<&str>) -> anyhow::Result<Relay> {
        let mut command = Command::new("node");
        command.arg(script).stdout(Stdio::piped());
        if let Some(prefix) = redis {
            command.args(["--redis", REDIS, "--prefix", prefix]);
        }
        let mut child = command.spawn().context("starting node")?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let port = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                bail!("the socket.io relay exited before listening");
            };
            if let Some(port) = line?.strip_prefix("listening ") {
                break port.trim().parse()?;
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Relay { child, port })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deletes the run's Redis keys when dropped. The adapter only publishes on channels named
/// after the prefix, so there should be none; this makes sure.
struct RedisKeys(String);

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.0);
        let Ok(out) = Command::new("redis-cli")
            .args(["--scan", "--pattern", &pattern])
            .output()
        else {
            return;
        };
        let keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if !keys.is_empty() {
            let _ = Command::new("redis-cli").arg("DEL").args(&keys).output();
        }
    }
}

/// An npm project with the pinned packages.
fn install() -> anyhow::Result<PathBuf> {
    let dir = cache_dir()?.join("socketio");
    let installed = PACKAGES.iter().all(|p| {
        let (name, version) = p.rsplit_once('@').expect("pinned");
        std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json"))
            .is_ok_and(|json| json.contains(&format!("\"version\": \"{version}\"")))
    });
    if installed {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!("   installing socket.io into {}", dir.display());
    let out = Command::new("npm")
        .args([
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--prefix",
        ])
        .arg(&dir)
        .args(PACKAGES)
        .output()
        .context("starting npm")?;
    if !out.status.success() {
        bail!(
            "cannot install socket.io (needs Node 18+ and npm); by hand: npm install --prefix {} {}: {}",
            dir.display(),
            PACKAGES.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(dir)
}
