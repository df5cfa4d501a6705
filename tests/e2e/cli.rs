//! The `rapport` command line: first start, API keys for scripts, organizations.

use crate::common;

use common::{Backend, TestServer};
use rapport_testkit::on_both_backends;
use serde_json::json;

on_both_backends!(blocking:
    reindex_rebuilds_the_search_index_from_the_store,
    apikey_create_prints_only_a_working_key,
    org_create_makes_a_separate_tenant,
    user_create_adds_a_member,
    user_commands_manage_the_team,
);

fn reindex_rebuilds_the_search_index_from_the_store(backend: Backend) {
    let Some(mut s) = TestServer::start(backend, "reindex_rebuilds_the_search_index_from_the_store") else {
        return;
    };
    for name in ["Acme", "Globex", "Acme Labs"] {
        s.post("lead/", json!({"name": name})).ok();
    }
    // The running server holds the index: a second writer is refused, plainly.
    let busy = s.cli(&["reindex"]);
    assert!(!busy.status.success());
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(stderr.contains("in use by another rapport process"), "{stderr}");

    assert!(s.terminate().success());
    let index_dir = s.data_dir().join("search-index");
    assert!(index_dir.join("meta.json").exists(), "the index lives in the data dir");
    // A broken index (files lost) is rebuilt by `rapport reindex`.
    std::fs::remove_dir_all(&index_dir).unwrap();
    let out = s.cli(&["reindex"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("reindexed 3 leads"), "{stderr}");
    s.restart();
    let found = s.get("lead/?query=acme").ok();
    assert_eq!(found["total_results"], 2, "{found}");
}

fn user_create_adds_a_member(backend: Backend) {
    let Some(s) = TestServer::start(backend, "user_create_adds_a_member") else {
        return;
    };
    let key = s.new_member("mia@test.example", "member");
    let me = s.get_as(&key, "me/").ok();
    assert_eq!(me["role"], "member");
    assert_eq!(me["organization_id"], s.get("me/").ok()["organization_id"]);
    assert_eq!(s.get("user/").ok()["total_results"], 2);
    // Members see the organization's data, and the new user is a valid assignee at once.
    let lead = s.post("lead/", json!({"name": "Shared"})).ok();
    let task = s
        .post(
            "task/",
            json!({"lead_id": lead["id"], "text": "t", "assigned_to": me["id"]}),
        )
        .ok();
    assert_eq!(task["assigned_to_name"], "Mia");
    assert_eq!(
        s.get_as(&key, &format!("lead/{}/", lead["id"].as_str().unwrap()))
            .status,
        200
    );
    // Only admins rename the organization.
    let org = me["organization_id"].as_str().unwrap();
    let rename = s.request(
        "PUT",
        &format!("organization/{org}/"),
        Some(&key),
        Some(&json!({"name": "Mine"})),
        &[],
    );
    assert_eq!(rename.status, 403);
    let again = s.cli(&["user", "create", "--email", "mia@test.example", "--organization", org]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already a member"));
    let bad_role = s.cli(&[
        "user",
        "create",
        "--email",
        "x@test.example",
        "--organization",
        org,
        "--role",
        "owner",
    ]);
    assert!(!bad_role.status.success());
}

fn apikey_create_prints_only_a_working_key(backend: Backend) {
    let Some(s) = TestServer::start(backend, "apikey_create_prints_only_a_working_key") else {
        return;
    };
    let out = s.cli(&["apikey", "create", "--email", "admin@test.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout holds the key and nothing else: {stdout:?}");
    let key = lines[0];
    assert!(key.starts_with("api_") && key.len() > 40, "{key}");
    assert_ne!(key, s.api_key);
    assert_eq!(s.get_as(key, "me/").ok()["email"], "admin@test.example");

    let unknown = s.cli(&["apikey", "create", "--email", "nobody@test.example"]);
    assert!(!unknown.status.success());
    assert!(unknown.stdout.is_empty());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user with email `nobody@test.example`"));
}

fn org_create_makes_a_separate_tenant(backend: Backend) {
    let Some(s) = TestServer::start(backend, "org_create_makes_a_separate_tenant") else {
        return;
    };
    let key = s.new_organization("Second Team", "lead@second.example");
    let me = s.get_as(&key, "me/").ok();
    assert_eq!(me["organizations"][0]["name"], "Second Team");
    assert_eq!(s.post_as(&key, "lead/", json!({"name": "Theirs"})).status, 200);
    assert_eq!(
        s.get("lead/").ok()["total_results"],
        0,
        "the first organization sees none of it"
    );
    // The admin of the first organization joins the second: a key must then name the organization.
    let ambiguous = s.cli(&["org", "create", "--name", "Third", "--email", "admin@test.example"]);
    assert!(
        ambiguous.status.success(),
        "{}",
        String::from_utf8_lossy(&ambiguous.stderr)
    );
    let again = s.cli(&["apikey", "create", "--email", "admin@test.example"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("belongs to several organizations"));
}

#[test]
fn first_start_bootstraps_once_and_bad_settings_are_refused() {
    let dir = std::env::temp_dir().join(format!("rapport-cli-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rapport"))
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .current_dir(&dir)
            .env("RAPPORT_LOG", "warn")
            .output()
            .unwrap()
    };
    let migrate = run(&["migrate"]);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(
        dir.join("rapport.db").exists(),
        "the data dir holds the SQLite database"
    );
    // A fresh database has no user yet: the bootstrap happens on the first `serve`.
    let no_user = run(&["apikey", "create", "--email", "admin@example.com"]);
    assert!(!no_user.status.success());

    // The first `serve` prints the admin's credentials; a restart does not make new ones.
    let serve_output = || {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&dir)
            .current_dir(&dir)
            .env("RAPPORT_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut printed = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let done = line.starts_with("Listening on ");
            printed.push(line);
            if done {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        printed
    };
    let first = serve_output();
    assert!(first.iter().any(|l| l.trim().starts_with("API key: api_")), "{first:?}");
    assert!(
        first.iter().any(|l| l.contains("as admin@example.com with password: ")),
        "{first:?}"
    );
    let second = serve_output();
    assert_eq!(second.len(), 1, "only the address on a restart: {second:?}");
    let key = run(&["apikey", "create", "--email", "admin@example.com"]);
    assert!(
        key.status.success(),
        "the bootstrapped admin exists: {}",
        String::from_utf8_lossy(&key.stderr)
    );

    let bad = run(&["--sqlite-durability", "sometimes", "migrate"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sqlite_durability must be `normal` or `full`"));
    std::fs::write(dir.join("rapport.toml"), "listen = 5\n").unwrap();
    let bad_file = run(&["migrate"]);
    assert!(!bad_file.status.success());
    assert!(
        String::from_utf8_lossy(&bad_file.stderr).contains("rapport.toml"),
        "{}",
        String::from_utf8_lossy(&bad_file.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rapport user list|role|remove|password`: the team managed from the machine, under the
/// API's rules.
fn user_commands_manage_the_team(backend: Backend) {
    let Some(s) = TestServer::start(backend, "user_commands") else {
        return;
    };
    let org = s.get("me/").ok()["organization_id"].as_str().unwrap().to_string();
    let key = s.new_member("mia@test.example", "member");
    let stdout = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).to_string();

    let list = s.cli(&["user", "list", "--organization", &org]);
    assert!(list.status.success(), "{}", stderr(&list));
    let lines: Vec<String> = stdout(&list).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("mia@test.example\tmember")),
        "{lines:?}"
    );

    let promote = s.cli(&[
        "user",
        "role",
        "--email",
        "mia@test.example",
        "--organization",
        &org,
        "--role",
        "admin",
    ]);
    assert!(promote.status.success(), "{}", stderr(&promote));
    assert_eq!(s.get_as(&key, "me/").ok()["organizations"][0]["role"], "admin");

    // The password: piped in (not printed), or made up and printed.
    let out = s.cli_with_input(&["user", "password", "--email", "mia@test.example"], "piped password\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "a piped password is not printed");
    let login = |password: &str| {
        s.request(
            "POST",
            "auth/login/",
            None,
            Some(&json!({"email": "mia@test.example", "password": password})),
            &[],
        )
        .status
    };
    assert_eq!(login("piped password"), 200);
    let unknown = s.cli_with_input(
        &["user", "password", "--email", "nobody@test.example"],
        "whatever password\n",
    );
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("no account"), "{}", stderr(&unknown));

    // The admin is removed; Mia, admin now, is the last one and cannot be removed.
    let remove_admin = s.cli(&[
        "user",
        "remove",
        "--email",
        "admin@test.example",
        "--organization",
        &org,
    ]);
    assert!(remove_admin.status.success(), "{}", stderr(&remove_admin));
    assert_eq!(s.get("me/").status, 401, "the removed admin's key is dead");
    let last = s.cli(&["user", "remove", "--email", "mia@test.example", "--organization", &org]);
    assert!(!last.status.success());
    assert!(stderr(&last).contains("at least one admin"), "{}", stderr(&last));
}
