//! The web app in headless Chromium, as its users use it (`tests/browser/webapp.mjs` and
//! `inbox.mjs` drive the browser): logging in, searching and saving a Smart View, editing
//! a lead and adding a note that survives a reload, a query's typo shown inline, two users
//! seeing each other's changes and presence live, an admin managing the team (a member
//! added, given another role and password, renamed by themselves and removed, landing on
//! the login screen), "forgot password", and the inbox answering a visitor of the website
//! widget. Screenshots of each screen are left in `target/test-artifacts/`.
//!
//! The page-load budget is measured here with the Performance API; the JavaScript size
//! is checked (it does not depend on the machine's speed), the timings are printed and kept
//! in `target/test-artifacts/webapp-metrics.json` (speed is judged in benchmarks, not in
//! tests).

use crate::common;

use std::time::Duration;

use common::browser::{artifacts_dir, browser_available, run_script, ScriptRun};
use common::{Backend, TestServer};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
/// The budget: JavaScript on first load, gzipped.
const JS_BUDGET_BYTES: u64 = 200 * 1024;

/// Ann (an admin) and Joe (a member), who log in with `PASSWORD`, and an API key of
/// Ann's for the script's own setup through the REST API.
struct Team {
    ann_key: String,
}

fn team(s: &TestServer) -> Team {
    for (email, first_name, role) in [
        ("ann@test.example", "Ann", "admin"),
        ("joe@test.example", "Joe", "member"),
    ] {
        s.post(
            "user/",
            json!({"email": email, "first_name": first_name, "last_name": "Test", "role": role, "password": PASSWORD}),
        )
        .ok();
    }
    let login = s.request(
        "POST",
        "auth/login/",
        None,
        Some(&json!({"email": "ann@test.example", "password": PASSWORD})),
        &[],
    );
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let csrf = login.body["csrf_token"].as_str().expect("a CSRF token").to_string();
    let key = s.request(
        "POST",
        "api_key/",
        None,
        Some(&json!({"name": "browser test"})),
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
    );
    Team {
        ann_key: key.ok()["key"].as_str().expect("the new key").to_string(),
    }
}

/// A server with Ann and Joe, and what `script` did in the browser against it: the script
/// succeeded and left each of `screenshots` (removed first, so old ones cannot pass).
/// `None` when the browser is missing and not required.
fn run_in_browser(test: &str, script: &str, screenshots: &[&str]) -> Option<(TestServer, Team, ScriptRun)> {
    if !browser_available(test) {
        return None;
    }
    let s = TestServer::start(Backend::Sqlite, test)?;
    let team = team(&s);
    for name in screenshots {
        let _ = std::fs::remove_file(artifacts_dir().join(name));
    }
    let artifacts = artifacts_dir().to_string_lossy().to_string();
    let env = [
        ("RAPPORT_URL", s.base.as_str()),
        ("RAPPORT_USER1_EMAIL", "ann@test.example"),
        ("RAPPORT_USER1_PASSWORD", PASSWORD),
        ("RAPPORT_USER2_EMAIL", "joe@test.example"),
        ("RAPPORT_USER2_PASSWORD", PASSWORD),
        ("RAPPORT_API_KEY", team.ann_key.as_str()),
        ("ARTIFACTS_DIR", artifacts.as_str()),
    ];
    let run = run_script(script, &[], &env, Duration::from_secs(300));
    run.assert_ok(script);
    for name in screenshots {
        let path = artifacts_dir().join(name);
        let png = std::fs::read(&path).unwrap_or_else(|e| panic!("the script wrote {}: {e}", path.display()));
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    }
    Some((s, team, run))
}

#[test]
fn sales_people_search_edit_and_see_each_other_live_in_chromium() {
    let screenshots = [
        "login.png",
        "leads.png",
        "lead.png",
        "query-error.png",
        "two-users.png",
        "team.png",
    ];
    let Some((s, _team, run)) = run_in_browser("webapp_browser", "webapp.mjs", &screenshots) else {
        return;
    };

    // What the browser did is in the store: the Smart View it saved, the note it added.
    let views = s.get("saved_search/").ok();
    assert!(
        views["data"].as_array().is_some_and(|v| !v.is_empty()),
        "the Smart View saved in the browser is stored: {views}"
    );
    let notes = s.get("activity/note/").ok();
    assert!(
        notes["data"].as_array().is_some_and(|n| !n.is_empty()),
        "the note added in the browser is stored: {notes}"
    );

    // The member the admin added in the browser was removed again.
    let users = s.get("user/").ok();
    let emails: Vec<&str> = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert!(
        emails.contains(&"ann@test.example") && !emails.iter().any(|e| e.starts_with("max.")),
        "the member added and removed in the browser is gone: {users}"
    );

    let metrics: Value = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("METRICS "))
        .map(|m| serde_json::from_str(m).expect("METRICS is JSON"))
        .unwrap_or_else(|| panic!("the script prints METRICS:\n{}", run.stdout));
    eprintln!("web app budget figures: {metrics}");
    std::fs::write(artifacts_dir().join("webapp-metrics.json"), metrics.to_string()).unwrap();
    let js = metrics["js_gzip_bytes"].as_u64().expect("js_gzip_bytes");
    assert!(js > 0, "the page loaded some JavaScript");
    assert!(
        js <= JS_BUDGET_BYTES,
        "{js} bytes of gzipped JavaScript on first load; the budget is {JS_BUDGET_BYTES}"
    );
}

#[test]
fn the_inbox_answers_a_website_visitor_in_chromium() {
    let screenshots = ["inbox.png", "conversation.png", "widget-reply.png"];
    let Some((s, team, _run)) = run_in_browser("inbox_browser", "inbox.mjs", &screenshots) else {
        return;
    };

    // The reply typed in the inbox is stored as an operator's message of a conversation.
    let conversations = s.get("conversation/").ok();
    let conversation = conversations["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the visitor's conversation is stored: {conversations}"));
    let messages = s.get(&format!("conversation/{conversation}/message/")).ok();
    let authors: Vec<(&str, &str)> = messages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["author"].as_str().unwrap_or(""), m["user_id"].as_str().unwrap_or("")))
        .collect();
    assert!(
        authors.iter().any(|(a, _)| *a == "visitor"),
        "the visitor wrote: {messages}"
    );
    let ann = s.get_as(&team.ann_key, "me/").ok();
    assert!(
        authors
            .iter()
            .any(|(a, u)| *a == "operator" && *u == ann["id"].as_str().unwrap()),
        "Ann replied from the inbox: {messages}"
    );
}
