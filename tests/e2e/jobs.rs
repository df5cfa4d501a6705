//! Jobs end to end, with the real binary: webhooks signed as Close signs them and checked
//! by a real HTTP receiver, Slack messages, dead letters through the API and the CLI, and
//! processes really killed (`kill -9`) while jobs are in flight.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::receiver::{Received, Receiver};
use common::{Backend, TestServer};
use hmac::{Hmac, Mac};
use rapport_testkit::on_every_transport;
use serde_json::{json, Value};

const ALLOW_LOOPBACK: &[&str] = &["--allow-addresses", "127.0.0.1"];

fn subscribe(s: &TestServer, url: &str, events: Value, target: &str) -> Value {
    s.post("webhook/", json!({"url": url, "events": events, "target": target}))
        .ok()
}

fn lead_events() -> Value {
    json!([{"object_type": "lead", "action": "created"}, {"object_type": "lead", "action": "updated"}])
}

/// Recomputes `close-sig-hash` as a receiver would: HMAC-SHA256 keyed with the hex-decoded
/// signature key, over the timestamp then the raw body.
fn signature_valid(key_hex: &str, request: &Received) -> bool {
    let (Some(timestamp), Some(hash)) = (request.header("close-sig-timestamp"), request.header("close-sig-hash"))
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&hex::decode(key_hex).unwrap()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(&request.body);
    hex::encode(mac.finalize().into_bytes()) == hash
}

fn wait_until(seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn webhooks_are_delivered_signed(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, "webhooks_are_delivered_signed", ALLOW_LOOPBACK) else {
        return;
    };
    let receiver = Receiver::start();
    let created = subscribe(&s, &receiver.url, lead_events(), "webhook");
    let key = created["signature_key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64, "32 bytes, hex");
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("whsub_"));
    // The key is shown once: not on reads, not in the event log.
    let read = s.get(&format!("webhook/{id}/")).ok();
    assert!(read.get("signature_key").is_none(), "{read}");
    let listed = s.get("webhook/").ok();
    assert!(!listed.to_string().contains(&key));
    let events = s.get(&format!("event/?object_id={id}")).ok();
    assert!(!events.to_string().contains(&key), "{events}");

    let lead = s.post("lead/", json!({"name": "Acme Webhooks"})).ok();
    let lead_id = lead["id"].as_str().unwrap();
    s.put(&format!("lead/{lead_id}/"), json!({"description": "updated"}))
        .ok();
    // Not subscribed: contacts.
    s.post("contact/", json!({"lead_id": lead_id, "name": "Ann"})).ok();
    let got = receiver.wait_for(20, "two deliveries", |r| r.len() >= 2);
    std::thread::sleep(Duration::from_millis(300));
    let got = if receiver.requests().len() > got.len() {
        receiver.requests()
    } else {
        got
    };
    let mut actions: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["event"]["object_type"].as_str().unwrap().to_string(),
                body["event"]["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    actions.sort();
    // A contact change also updates its lead (Close does the same): `lead updated` twice.
    assert!(actions.iter().all(|(t, _)| t == "lead"), "{actions:?}");
    assert!(actions.contains(&("lead".into(), "created".into())));
    for request in &got {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert!(signature_valid(&key, request), "the signature verifies");
        let body = request.json();
        assert_eq!(body["subscription_id"], id);
        assert_eq!(body["event"]["lead_id"], lead_id);
        assert!(body["event"]["id"].as_str().unwrap().starts_with("ev_"));
    }
    let mut tampered = got[0].clone();
    tampered.body.push(b' ');
    assert!(!signature_valid(&key, &tampered), "the check is real");

    // Paused: nothing more is sent.
    s.put(&format!("webhook/{id}/"), json!({"status": "paused"})).ok();
    let before = receiver.requests().len();
    s.post("lead/", json!({"name": "Not sent"})).ok();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(receiver.requests().len(), before);
}

fn bad_subscriptions_are_refused(backend: Backend) {
    let Some(s) = TestServer::start(backend, "bad_subscriptions_are_refused") else {
        return;
    };
    let answer = s.post(
        "webhook/",
        json!({"url": "http://example.com/x", "events": [{"object_type": "leed", "action": "created"}]}),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body["field-errors"]["events[0].object_type"]
            .as_str()
            .unwrap()
            .contains("leed"),
        "{}",
        answer.body
    );
    let answer = s.post(
        "webhook/",
        json!({"url": "http://example.com/x", "events": [{"object_type": "lead", "action": "merged"}]}),
    );
    assert_eq!(answer.status, 400);
    let answer = s.post(
        "webhook/",
        json!({"url": "not a url", "events": [{"object_type": "lead", "action": "created"}]}),
    );
    assert_eq!(answer.status, 400);
    assert!(answer.body["field-errors"]["url"].is_string());
    let answer = s.post("webhook/", json!({"url": "http://example.com/x", "events": []}));
    assert_eq!(answer.status, 400);
    assert_eq!(s.get("webhook/").ok()["data"], json!([]), "nothing stored");
}

fn refused_addresses_dead_letter_and_can_be_retried_or_discarded(backend: Backend) {
    // Loopback is not allowed here: the delivery is refused before any connection.
    let Some(s) = TestServer::start(backend, "refused_addresses_dead_letter") else {
        return;
    };
    let receiver = Receiver::start();
    subscribe(&s, &receiver.url, lead_events(), "webhook");
    s.post("lead/", json!({"name": "Refused"})).ok();
    let mut dead = Value::Null;
    wait_until(20, "a dead job", || {
        dead = s.get("job/?state=dead").ok();
        dead["data"].as_array().is_some_and(|d| !d.is_empty())
    });
    let job = &dead["data"][0];
    assert_eq!(job["task"], "webhook:deliver");
    assert_eq!(job["attempts"], 1, "a refused address is not retried");
    let error = job["last_error"].as_str().unwrap();
    assert!(error.contains("127.0.0.1"), "{error}");
    assert!(receiver.requests().is_empty());
    let id = job["id"].as_str().unwrap().to_string();

    // Another organization sees nothing of it.
    let other = s.new_organization("Other", "other@test.example");
    assert_eq!(s.get_as(&other, &format!("job/{id}/")).status, 404);
    assert_eq!(s.get_as(&other, "job/?state=dead").ok()["data"], json!([]));
    assert_eq!(
        s.request("POST", &format!("job/{id}/retry/"), Some(&other), None, &[])
            .status,
        404
    );

    let bad = s.get("job/?state=buried");
    assert_eq!(bad.status, 400);
    let retried = s
        .request("POST", &format!("job/{id}/retry/"), Some(&s.api_key), None, &[])
        .ok();
    assert_eq!(retried["attempts"], 0);
    wait_until(20, "the retried job to die again", || {
        s.get(&format!("job/{id}/")).ok()["state"] == "dead"
    });

    let listed = s.cli(&["jobs", "list", "--state", "dead"]);
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));
    let discarded = s.cli(&["jobs", "discard", &id]);
    assert!(
        discarded.status.success(),
        "{}",
        String::from_utf8_lossy(&discarded.stderr)
    );
    assert_eq!(s.get(&format!("job/{id}/")).status, 404);
    let again = s.cli(&["jobs", "discard", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no such job"));
}

fn slack_messages_reach_the_channel(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, "slack_messages_reach_the_channel", ALLOW_LOOPBACK) else {
        return;
    };
    let receiver = Receiver::start();
    subscribe(
        &s,
        &receiver.url,
        json!([{"object_type": "lead", "action": "created"}]),
        "slack",
    );
    s.post("lead/", json!({"name": "Acme <Slack>"})).ok();
    let got = receiver.wait_for(20, "a Slack message", |r| !r.is_empty());
    let body = got[0].json();
    assert_eq!(body["text"], "Lead *Acme &lt;Slack&gt;* was created");
    assert_eq!(body["blocks"][0]["type"], "section");
    assert!(
        got[0].header("close-sig-hash").is_none(),
        "Slack messages are not signed"
    );

    // Slack answers an error: the job retries, and the subscription remembers it is failing.
    receiver.answer(404, "no_service");
    s.post("lead/", json!({"name": "Second"})).ok();
    let mut subscription = Value::Null;
    wait_until(20, "the failure to be recorded", || {
        subscription = s.get("webhook/").ok()["data"][0].clone();
        subscription["failing_since"].is_string()
    });
    let mut jobs = Value::Null;
    wait_until(20, "a failed attempt to be recorded", || {
        jobs = s.get("job/?task=slack:send_message&state=queued").ok();
        jobs["data"].as_array().is_some_and(|d| !d.is_empty())
    });
    assert!(
        jobs["data"][0]["last_error"].as_str().unwrap().contains("no_service"),
        "{jobs}"
    );
    // It recovers: the next attempt succeeds and the failure clock is cleared.
    receiver.answer(200, "ok");
    receiver.wait_for(30, "the retried message", |r| {
        r.iter().any(|q| q.json()["text"] == "Lead *Second* was created")
    });
    wait_until(10, "the failure clock to clear", || {
        s.get("webhook/").ok()["data"][0]["failing_since"].is_null()
    });
}

fn metrics_describe_the_queues(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, "metrics_describe_the_queues", ALLOW_LOOPBACK) else {
        return;
    };
    let receiver = Receiver::start();
    subscribe(&s, &receiver.url, lead_events(), "webhook");
    s.post("lead/", json!({"name": "Counted"})).ok();
    receiver.wait_for(20, "a delivery", |r| !r.is_empty());
    let mut text = String::new();
    wait_until(10, "the counter", || {
        text = ureq::get(&format!("{}/metrics", s.base))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        text.contains("rapport_jobs_processed_total{task=\"webhook:deliver\"} 1")
    });
    assert!(text.contains("rapport_dispatcher_lag_events 0"), "{text}");
    assert!(
        text.contains("rapport_job_start_latency_ms_count{task=\"webhook:deliver\"} 1"),
        "{text}"
    );
}

/// Creates leads from 8 threads until `stop_after` of them were answered, then returns the
/// ids of those answered 2xx while the rest of the burst goes on in the background.
fn burst(s: &TestServer, total: usize) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let (acknowledged, next) = (acknowledged.clone(), next.clone());
        let (url, key) = (s.url("lead/"), s.api_key.clone());
        std::thread::spawn(move || {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .new_agent();
            let auth = format!("Basic {}", base64_encode(&format!("{key}:")));
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= total {
                    return;
                }
                let answer = agent
                    .post(&url)
                    .header("authorization", &auth)
                    .send_json(json!({"name": format!("Burst {n}")}));
                match answer {
                    Ok(mut r) if r.status().is_success() => {
                        let body: Value = r.body_mut().read_json().unwrap();
                        acknowledged
                            .lock()
                            .unwrap()
                            .push(body["id"].as_str().unwrap().to_string());
                    }
                    // The server is gone: this write is not acknowledged.
                    _ => return,
                }
            }
        });
    }
    acknowledged
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn delivered_lead_ids(receiver: &Receiver) -> (HashSet<String>, HashSet<String>) {
    let mut leads = HashSet::new();
    let mut events = HashSet::new();
    for request in receiver.requests() {
        let body = request.json();
        leads.insert(body["event"]["object_id"].as_str().unwrap_or("").to_string());
        events.insert(body["event"]["id"].as_str().unwrap_or("").to_string());
    }
    (leads, events)
}

fn every_acknowledged_write_is_delivered_after_kill_9(backend: Backend) {
    let Some(mut s) = TestServer::start_with(
        backend,
        "every_acknowledged_write_is_delivered_after_kill_9",
        ALLOW_LOOPBACK,
    ) else {
        return;
    };
    let receiver = Receiver::start();
    subscribe(
        &s,
        &receiver.url,
        json!([{"object_type": "lead", "action": "created"}]),
        "webhook",
    );
    let acknowledged = burst(&s, 5_000);
    wait_until(120, "part of the burst", || acknowledged.lock().unwrap().len() >= 1_500);
    s.kill_hard();
    std::thread::sleep(Duration::from_millis(300));
    let acknowledged: HashSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    assert!(acknowledged.len() < 5_000, "killed mid-burst");
    s.restart();
    wait_until(180, "every acknowledged write's webhook", || {
        let (leads, _) = delivered_lead_ids(&receiver);
        acknowledged.is_subset(&leads)
    });
    let (leads, events) = delivered_lead_ids(&receiver);
    assert!(events.len() >= acknowledged.len());
    assert_eq!(
        events.len(),
        leads.len(),
        "one event per lead: {} events for {} leads",
        events.len(),
        leads.len()
    );
}

fn a_killed_worker_loses_no_job(backend: Backend) {
    let Some((s, receiver)) =
        server_for_worker_processes(backend, "a_killed_worker_loses_no_job", Duration::from_millis(150))
    else {
        return;
    };
    let worker_args = [
        "--task",
        "webhook:deliver",
        "--concurrency",
        "4",
        "--lease-seconds",
        "2",
        "--allow-addresses",
        "127.0.0.1",
    ];
    let mut first = KillOnDrop(s.spawn_worker(&worker_args));
    let _second = KillOnDrop(s.spawn_worker(&worker_args));
    let mut ids = HashSet::new();
    for n in 0..60 {
        ids.insert(
            s.post("lead/", json!({"name": format!("Job {n}")})).ok()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    receiver.wait_for(30, "some deliveries", |r| r.len() >= 10);
    // Mid-job: the receiver holds each request for 150 ms.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    // Its jobs come back two ways: those it ran, when their lease expires (2 s); those its
    // own relay had marked for publishing but not yet published (every process relays),
    // when the mark is older than REPUBLISH_AFTER_MS.
    let republished = (rapport_queue::REPUBLISH_AFTER_MS / 1000) as u64;
    wait_until(republished + 60, "every job to be delivered", || {
        delivered_lead_ids(&receiver).0.is_superset(&ids)
    });
    // The killed worker's jobs run again once their lease (2 s) expires.
    wait_until(60, "every job to be done", || {
        s.get("job/?state=done&_limit=100").ok()["data"]
            .as_array()
            .unwrap()
            .len()
            == 60
    });
    assert_eq!(s.get("job/?state=dead").ok()["data"], json!([]));
}

/// A server that leaves its jobs to `rapport worker` processes, with a receiver that holds
/// each request for `delay` subscribed to new leads.
fn server_for_worker_processes(backend: Backend, test: &str, delay: Duration) -> Option<(TestServer, Receiver)> {
    let mut args = vec!["--no-workers"];
    args.extend_from_slice(ALLOW_LOOPBACK);
    let s = TestServer::start_with(backend, test, &args)?;
    let receiver = Receiver::start();
    receiver.delay(delay);
    subscribe(
        &s,
        &receiver.url,
        json!([{"object_type": "lead", "action": "created"}]),
        "webhook",
    );
    Some((s, receiver))
}

/// A child process killed when the test ends, also when it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm_lets_a_worker_finish_its_jobs(backend: Backend) {
    let Some((s, receiver)) = server_for_worker_processes(
        backend,
        "sigterm_lets_a_worker_finish_its_jobs",
        Duration::from_millis(700),
    ) else {
        return;
    };
    let mut worker = KillOnDrop(s.spawn_worker(&["--task", "webhook:deliver", "--allow-addresses", "127.0.0.1"]));
    for n in 0..3 {
        s.post("lead/", json!({"name": format!("Drain {n}")})).ok();
    }
    wait_until(20, "the jobs to start", || {
        s.get("job/?state=running").ok()["data"]
            .as_array()
            .is_some_and(|d| d.len() == 3)
    });
    std::process::Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status()
        .unwrap();
    let status = worker.0.wait().unwrap();
    assert!(status.success(), "a drained worker exits 0: {status}");
    assert_eq!(
        receiver.requests().len(),
        3,
        "the running jobs finished before the exit"
    );
    assert_eq!(s.get("job/?state=done").ok()["data"].as_array().unwrap().len(), 3);
}

on_every_transport!(blocking:
    webhooks_are_delivered_signed,
    bad_subscriptions_are_refused,
    refused_addresses_dead_letter_and_can_be_retried_or_discarded,
    slack_messages_reach_the_channel,
    metrics_describe_the_queues,
    every_acknowledged_write_is_delivered_after_kill_9,
    a_killed_worker_loses_no_job,
    sigterm_lets_a_worker_finish_its_jobs,
    outbox_emails_are_sent_over_smtp,
);

fn outbox_emails_are_sent_over_smtp(backend: Backend) {
    let Some(smtp) = rapport_testkit::smtp::SmtpServer::start("outbox_emails") else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}?security=none&from=crm%40rapport.test", smtp.port);
    let Some(s) = TestServer::start_with(backend, "outbox_emails_are_sent_over_smtp", &["--smtp-url", &url]) else {
        return;
    };
    let lead = s.post("lead/", json!({"name": "Mail Co"})).ok();
    let lead_id = lead["id"].as_str().unwrap();
    let email = s
        .post(
            "activity/email/",
            json!({"lead_id": lead_id, "status": "outbox", "subject": "Our offer", "body_text": "Dear Ada,\nhere it is.",
                   "to": ["ada@example.test"], "sender": "joe@rapport.test"}),
        )
        .ok();
    let id = email["id"].as_str().unwrap().to_string();
    wait_until(20, "the email to be sent", || {
        s.get(&format!("activity/email/{id}/")).ok()["status"] == "sent"
    });
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "sent once: {messages:?}");
    let header = |name| rapport_testkit::smtp::header(&messages[0], name);
    assert_eq!(header("Subject").as_deref(), Some("Our offer"));
    assert_eq!(header("To").as_deref(), Some("ada@example.test"));
    assert_eq!(header("From").as_deref(), Some("crm@rapport.test"));
    assert_eq!(header("Reply-To").as_deref(), Some("joe@rapport.test"));
    assert_eq!(header("Message-ID"), Some(format!("<{id}@rapport>")));
    assert!(messages[0].contains("Dear Ada,\nhere it is."), "{}", messages[0]);

    // Drafts are not sent; a permanent refusal marks the email `error` and the job dead.
    s.post(
        "activity/email/",
        json!({"lead_id": lead_id, "status": "draft", "subject": "Later", "to": ["ada@example.test"]}),
    )
    .ok();
    let refused = s
        .post(
            "activity/email/",
            json!({"lead_id": lead_id, "status": "outbox", "subject": "Nope", "to": ["permanent@refuse.test"]}),
        )
        .ok();
    let refused_id = refused["id"].as_str().unwrap().to_string();
    wait_until(20, "the refusal", || {
        s.get(&format!("activity/email/{refused_id}/")).ok()["status"] == "error"
    });
    let dead = s.get("job/?state=dead&task=email:send").ok();
    assert!(
        dead["data"][0]["last_error"].as_str().unwrap().contains("550"),
        "{dead}"
    );
    assert_eq!(
        smtp.messages().len(),
        1,
        "neither the draft nor the refused email arrived"
    );
}
