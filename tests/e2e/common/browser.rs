//! Headless Chromium, driven by the playwright-core scripts of `tests/browser/`.
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM`), `node` and `npm ci --prefix tests/browser`.
//! Without them a browser test is skipped loudly, unless `RAPPORT_REQUIRE_BROWSER=1` (CI)
//! makes that a failure.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");

pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Where tests leave their screenshots: `target/test-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("target/ is writable");
    dir
}

/// Whether Chromium, node and playwright-core are installed; their absence skips `test`
/// unless `RAPPORT_REQUIRE_BROWSER=1`.
pub fn browser_available(test: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<String> = [
        (!chromium().exists()).then(|| format!("{} (apt-get install chromium)", chromium().display())),
        (!node).then(|| "node".to_string()),
        (!Path::new(BROWSER_DIR).join("node_modules/playwright-core").exists())
            .then(|| "playwright-core (npm ci --prefix tests/browser)".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("RAPPORT_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!(
            "{test} is required (RAPPORT_REQUIRE_BROWSER=1) but these are missing: {}",
            missing.join(", ")
        );
    }
    eprintln!(
        "\n*** SKIPPED {test}: missing {} (RAPPORT_REQUIRE_BROWSER=1 makes this a failure) ***\n",
        missing.join(", ")
    );
    false
}

/// What a browser script did.
pub struct ScriptRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ScriptRun {
    #[track_caller]
    pub fn assert_ok(&self, script: &str) {
        assert!(
            self.ok,
            "{script} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
    }
}

/// Runs `node tests/browser/{script} args…` with `env` and `CHROMIUM` set; kills it after
/// `limit` (each step of a script has its own shorter limit, so this only catches a hung
/// browser).
pub fn run_script(script: &str, args: &[&str], env: &[(&str, &str)], limit: Duration) -> ScriptRun {
    let mut command = Command::new("node");
    command
        .arg(Path::new(BROWSER_DIR).join(script))
        .args(args)
        .env("CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("node starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, mut stderr) = (out.join().unwrap(), err.join().unwrap());
    if status.is_none() {
        stderr.push_str(&format!(
            "\n(the browser script was killed after {} s)",
            limit.as_secs()
        ));
    }
    ScriptRun {
        ok: status.is_some_and(|s| s.success()),
        stdout,
        stderr,
    }
}
