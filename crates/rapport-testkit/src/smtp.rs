//! A real SMTP server for the email tests: Python's `aiosmtpd` on a free loopback port,
//! storing what it accepts in a Maildir that tests read back. It refuses two recipients:
//! `permanent@refuse.test` (550) and `transient@refuse.test` (451).
//!
//! Without `aiosmtpd` the tests are skipped, loudly, unless `RAPPORT_REQUIRE_SMTP` is set,
//! which makes them fail instead (CI installs it and sets it).

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An `aiosmtpd` process, killed (and its Maildir removed) when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    /// `None`, after saying so, when `aiosmtpd` is missing and not required.
    pub fn start(test: &str) -> Option<SmtpServer> {
        if !aiosmtpd_installed() {
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("rapport-smtp-{test}-{}-{port}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let log = fs::File::create(dir.join("aiosmtpd.log")).unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "smtp_handlers.RefusingMailbox",
            ])
            .arg(dir.join("maildir"))
            .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python3 starts");
        let mut server = SmtpServer { child, port, dir };
        server.wait_until_listening();
        Some(server)
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("aiosmtpd exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {} within 20 s: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("aiosmtpd.log")).unwrap_or_default()
    }

    /// The messages delivered so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.join("maildir").join("new");
        let mut files: Vec<_> = fs::read_dir(&new)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|path| fs::metadata(path).and_then(|m| m.modified()).unwrap());
        files.iter().map(|path| fs::read_to_string(path).unwrap()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn aiosmtpd_installed() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    if std::env::var("RAPPORT_REQUIRE_SMTP").is_ok_and(|v| !v.is_empty() && v != "0") {
        panic!("an SMTP server is required (RAPPORT_REQUIRE_SMTP is set) but `python3 -c 'import aiosmtpd'` fails: python3 -m pip install aiosmtpd");
    }
    // Straight to stderr: the test harness would hide an `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: aiosmtpd not installed; the SMTP tests did not run (`python3 -m pip install aiosmtpd`; RAPPORT_REQUIRE_SMTP=1 makes this a failure) ***\n"
    );
    false
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of a header of a stored message (folded lines joined), by name.
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\n\n").next().unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}
