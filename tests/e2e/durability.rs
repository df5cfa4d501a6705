//! What a process crash or a deploy does to stored data: a write that was answered 2xx
//! survives `kill -9`; SIGTERM lets the server finish and exit cleanly.

use crate::common;

use common::{Backend, TestServer};
use rapport_testkit::on_both_backends;
use serde_json::json;

on_both_backends!(blocking: answered_writes_survive_kill_9, sigterm_stops_the_server_cleanly);

fn answered_writes_survive_kill_9(backend: Backend) {
    let Some(mut s) = TestServer::start(backend, "answered_writes_survive_kill_9") else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..200 {
        let lead = s
            .post(
                "lead/",
                json!({"name": format!("Durable {i}"), "contacts": [{"name": "C"}]}),
            )
            .ok();
        ids.push(lead["id"].as_str().unwrap().to_string());
    }
    s.kill_hard();
    s.restart();
    assert_eq!(
        s.get("lead/?_limit=0").ok()["total_results"],
        200,
        "every answered write is there after kill -9"
    );
    for id in [&ids[0], &ids[199]] {
        assert_eq!(
            s.get(&format!("lead/{id}/")).ok()["contacts"].as_array().unwrap().len(),
            1
        );
    }
    // The event log too, and the search replica rebuilt from the store finds them.
    let events = s.get("event/?object_type=lead&action=created&_limit=200").ok();
    assert_eq!(events["data"].as_array().unwrap().len(), 200);
    assert_eq!(s.get("lead/?query=durable&_limit=0").ok()["total_results"], 200);
}

fn sigterm_stops_the_server_cleanly(backend: Backend) {
    let Some(mut s) = TestServer::start(backend, "sigterm_stops_the_server_cleanly") else {
        return;
    };
    s.post("lead/", json!({"name": "Before"})).ok();
    let status = s.terminate();
    assert!(status.success(), "SIGTERM exits 0, got {status:?}");
}
