//! The official Close Python client (`closeio_api`) works against Rapport unchanged.

use crate::common;

use std::process::Command;

use common::{Backend, TestServer};
use rapport_testkit::on_both_backends;

on_both_backends!(blocking: close_python_client_works_unchanged);

fn close_client_installed() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import closeio_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    if std::env::var("RAPPORT_REQUIRE_CLOSEIO").is_ok_and(|v| v == "1") {
        panic!("the Close client is required (RAPPORT_REQUIRE_CLOSEIO=1) but `python3 -c 'import closeio_api'` fails; pip install closeio");
    }
    eprintln!("\n*** SKIPPED the Close client test: `pip install closeio` to run it (RAPPORT_REQUIRE_CLOSEIO=1 makes this a failure) ***\n");
    false
}

fn close_python_client_works_unchanged(backend: Backend) {
    if !close_client_installed() {
        return;
    }
    let Some(s) = TestServer::start(backend, "close_python_client_works_unchanged") else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/close_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&s.base)
        .arg(&s.api_key)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "close_client.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("closeio_api: all checks passed"), "{stdout}");
}
