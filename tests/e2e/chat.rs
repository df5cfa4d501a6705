//! Live chat end to end, with the real binary and real websocket clients: a visitor on a
//! website's widget, operators on `/api/v1/realtime`, notifications by Slack and email to
//! servers the test runs, and sockets that drop and come back without missing an event.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::receiver::Receiver;
use common::ws::{Refused, Socket};
use common::{Answer, Backend, TestServer};
use hmac::{Hmac, Mac};
use rapport_testkit::on_both_backends;
use serde_json::{json, Value};

const SHOP: &str = "http://shop.example";

/// The widget's HTTP API, as a page of the shop calls it.
fn widget(s: &TestServer, method: &str, path: &str, key: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    widget_at(s, &s.base, method, path, key, token, body)
}

/// The same, on the node at `base`.
fn widget_at(
    s: &TestServer,
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("X-Widget-Key", key), ("Origin", SHOP)];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    s.request(
        method,
        &format!("{base}/widget/v1/{path}"),
        None,
        body.as_ref(),
        &headers,
    )
}

fn new_website(s: &TestServer, extra: Value) -> Value {
    let mut input = json!({"name": "Shop", "allowed_origins": [SHOP], "greeting": "Hi! Ask us anything."});
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let site = s.post("website/", input).ok();
    assert!(site["id"].as_str().unwrap().starts_with("site_"));
    assert!(site["widget_key"].as_str().unwrap().starts_with("wk_"));
    site
}

/// A visitor's session: their token.
fn visitor_session(s: &TestServer, key: &str) -> String {
    visitor_session_at(s, &s.base, key)
}

fn visitor_session_at(s: &TestServer, base: &str, key: &str) -> String {
    let session = widget_at(s, base, "POST", "session", key, None, Some(json!({}))).ok();
    assert_eq!(session["website"]["greeting"], "Hi! Ask us anything.");
    session["visitor_token"].as_str().unwrap().to_string()
}

fn visitor_socket(base: &str, key: &str, token: &str, after: Option<i64>) -> Socket {
    let path = match after {
        Some(seq) => format!("/widget/ws?key={key}&token={token}&after={seq}"),
        None => format!("/widget/ws?key={key}&token={token}"),
    };
    let mut socket = Socket::connect(base, &path, &[("Origin", SHOP)]).expect("the widget socket opens");
    socket.wait_for(10, "the widget's ready frame", |f| f["type"] == "ready");
    socket
}

fn hmac_hex(secret: &str, text: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn is_message(frame: &Value, body: &str) -> bool {
    frame["type"] == "message" && frame["data"]["body"] == body
}

fn wait_until(seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn a_visitor_and_an_operator_chat(backend: Backend) {
    let slack = Receiver::start();
    let Some(smtp) = rapport_testkit::smtp::SmtpServer::start("a_visitor_and_an_operator_chat") else {
        return;
    };
    let smtp_url = format!(
        "smtp://127.0.0.1:{}?security=none&from=rapport%40test.example",
        smtp.port
    );
    let args = ["--allow-addresses", "127.0.0.1", "--smtp-url", smtp_url.as_str()];
    let Some(s) = TestServer::start_with(backend, "a_visitor_and_an_operator_chat", &args) else {
        return;
    };
    let site = new_website(&s, json!({"slack_webhook_url": slack.url, "notify_delay_seconds": 1}));
    let key = site["widget_key"].as_str().unwrap();

    // Only the website's pages, with its key.
    let refused = s.request(
        "POST",
        "/widget/v1/session",
        None,
        Some(&json!({})),
        &[("X-Widget-Key", key), ("Origin", "http://evil.example")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        widget(&s, "POST", "session", "wk_unknown", None, Some(json!({}))).status,
        401
    );
    assert_eq!(
        widget(&s, "POST", "session", key, Some("vt_stale"), Some(json!({}))).status,
        401
    );

    let mut operator = Socket::operator(&s.base, &s.api_key, None);
    operator.wait_for(10, "hello", |f| f["type"] == "hello");
    let token = visitor_session(&s, key);
    let mut visitor = visitor_socket(&s.base, key, &token, None);
    let online = visitor.wait_for(10, "operators online", |f| f["type"] == "operators");
    assert_eq!(online["data"]["online"], true, "an operator is connected");

    // The visitor writes; the body is kept as text.
    let hello = "Hello <b>there</b> & hi";
    visitor.send(json!({"type": "message", "client_id": "c-1", "body": hello}));
    let echoed = visitor.wait_for(10, "the visitor's own message", |f| is_message(f, hello));
    assert_eq!(echoed["data"]["author"], "visitor");
    assert_eq!(echoed["data"]["client_id"], "c-1");
    let created = operator.wait_for(10, "the message on the operator's socket", |f| {
        f["type"] == "message.created"
    });
    assert_eq!(created["data"]["data"]["body"], hello);
    let conversation_id = created["data"]["data"]["conversation_id"].as_str().unwrap().to_string();
    assert!(conversation_id.starts_with("conv_"));
    assert!(created["seq"].as_i64().unwrap() > 0);

    // The same client id again (a retry) gives back the first message.
    let again = widget(
        &s,
        "POST",
        "message",
        key,
        Some(&token),
        Some(json!({"client_id": "c-1", "body": hello})),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], echoed["data"]["id"]);
    let messages = s.get(&format!("conversation/{conversation_id}/message/")).ok();
    assert_eq!(messages["data"].as_array().unwrap().len(), 1, "{messages}");

    let conversation = s.get(&format!("conversation/{conversation_id}/")).ok();
    assert_eq!(conversation["status"], "open");
    assert_eq!(conversation["unread"], 1);
    assert_eq!(conversation["website_id"], site["id"]);
    assert_eq!(conversation["last_message_author"], "visitor");
    assert!(hello.starts_with(conversation["last_message_preview"].as_str().unwrap()));
    let unread = s.get("conversation/?unread__gt=0&status=open").ok();
    assert_eq!(unread["data"].as_array().unwrap().len(), 1, "{unread}");
    // Nobody owns it yet: it is in the unassigned list only.
    let unassigned = s.get("conversation/?assigned_to__isnull=true").ok();
    assert_eq!(unassigned["data"].as_array().unwrap().len(), 1, "{unassigned}");
    let assigned = s.get("conversation/?assigned_to__isnull=false").ok();
    assert_eq!(assigned["data"].as_array().unwrap().len(), 0, "{assigned}");
    assert_eq!(s.get("conversation/?assigned_to__isnull=maybe").status, 400);

    // Typing goes both ways.
    operator.send(json!({"type": "typing", "conversation_id": conversation_id, "typing": true}));
    let typing = visitor.wait_for(10, "the operator typing", |f| f["type"] == "typing");
    assert_eq!(typing["data"]["typing"], true);
    visitor.send(json!({"type": "typing", "typing": true}));
    let typing = operator.wait_for(10, "the visitor typing", |f| {
        f["type"] == "typing" && f["data"]["author"] == "visitor"
    });
    assert_eq!(typing["data"]["conversation_id"], conversation_id.as_str());

    // Nobody read it within the website's delay: the team is emailed.
    wait_until(30, "the unread-message email", || {
        smtp.messages()
            .iter()
            .any(|m| m.contains("admin@test.example") && m.contains("Hello <b>there</b>"))
    });
    // And Slack got it.
    let posted = slack.wait_for(20, "the Slack message", |r| !r.is_empty());
    assert!(posted[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("Hello &lt;b&gt;there&lt;/b&gt;"));

    // A private note never reaches the visitor; a reply does, with its author.
    let note = s.post(
        &format!("conversation/{conversation_id}/message/"),
        json!({"body": "VIP customer", "private": true}),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let reply = s.post(
        &format!("conversation/{conversation_id}/message/"),
        json!({"body": "How can we help?"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let got = visitor.wait_for(10, "the operator's reply", |f| is_message(f, "How can we help?"));
    assert_eq!(got["data"]["author"], "operator");
    assert!(got["data"]["operator_name"].is_string());
    assert!(
        !visitor.frames.iter().any(|f| f.to_string().contains("VIP customer")),
        "private notes stay with operators"
    );
    let session = widget(&s, "POST", "session", key, Some(&token), Some(json!({}))).ok();
    assert!(!session.to_string().contains("VIP customer"));
    assert_eq!(session["messages"].as_array().unwrap().len(), 2);
    // Answering read it; the inbox shows the reply, not the private note.
    let answered = s.get(&format!("conversation/{conversation_id}/")).ok();
    assert_eq!(answered["unread"], 0);
    assert_eq!(answered["last_message_preview"], "How can we help?");
    assert_eq!(answered["last_message_author"], "operator");

    // Resolved, then the visitor writes again: open again.
    s.put(
        &format!("conversation/{conversation_id}/"),
        json!({"status": "resolved"}),
    )
    .ok();
    visitor.send(json!({"type": "message", "client_id": "c-2", "body": "One more thing"}));
    visitor.wait_for(10, "the second message", |f| is_message(f, "One more thing"));
    wait_until(10, "the conversation to reopen", || {
        s.get(&format!("conversation/{conversation_id}/")).ok()["status"] == "open"
    });

    // The visitor gives their email with a valid identity hash: a lead with that contact.
    let secret = site["identity_secret"].as_str().unwrap();
    let wrong = widget(
        &s,
        "POST",
        "identify",
        key,
        Some(&token),
        Some(json!({"email": "jo@example.com", "hash": "00"})),
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let identified = widget(
        &s,
        "POST",
        "identify",
        key,
        Some(&token),
        Some(json!({"email": "Jo@Example.com", "name": "Jo Visitor", "hash": hmac_hex(secret, "jo@example.com")})),
    )
    .ok();
    assert_eq!(identified["visitor"]["email"], "jo@example.com");
    let conversation = s.get(&format!("conversation/{conversation_id}/")).ok();
    assert_eq!(conversation["email_verified"], true);
    let lead_id = conversation["lead_id"]
        .as_str()
        .expect("the conversation has a lead")
        .to_string();
    let lead = s.get(&format!("lead/{lead_id}/")).ok();
    assert_eq!(lead["name"], "Jo Visitor");
    assert_eq!(lead["contacts"][0]["emails"][0]["email"], "jo@example.com");
    // The conversation is on the lead's timeline as a chat.
    let timeline = s.get(&format!("activity/?lead_id={lead_id}")).ok();
    let chats: Vec<&Value> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["_type"] == "Chat")
        .collect();
    assert_eq!(chats.len(), 1, "{timeline}");
    assert_eq!(chats[0]["id"], conversation_id.as_str());
    assert!(chats[0]["activity_at"].is_string());
    let only_chats = s.get(&format!("activity/?lead_id={lead_id}&_type=chat")).ok();
    assert_eq!(only_chats["total_results"], 1, "{only_chats}");
    // The chat feeds search.
    let found = s.get("lead/?query=chat(body:%22one%20more%20thing%22)").ok();
    assert_eq!(found["total_results"], 1, "{found}");
    assert_eq!(found["data"][0]["id"], lead_id.as_str());
    let found = s.get("lead/?query=chats%20%3E%3D%201").ok();
    assert_eq!(found["total_results"], 1, "{found}");

    // The visitor leaves; an operator reply reaches them by email.
    visitor.close();
    std::thread::sleep(Duration::from_millis(300));
    s.post(
        &format!("conversation/{conversation_id}/message/"),
        json!({"body": "We shipped it today."}),
    )
    .created();
    wait_until(40, "the reply emailed to the visitor", || {
        smtp.messages()
            .iter()
            .any(|m| m.contains("jo@example.com") && m.contains("We shipped it today."))
    });
}

fn the_widget_is_held_to_its_visitor(backend: Backend) {
    let Some(s) = TestServer::start(backend, "the_widget_is_held_to_its_visitor") else {
        return;
    };
    let site_a = new_website(&s, json!({}));
    let site_b = new_website(&s, json!({"name": "Other"}));
    let (key_a, key_b) = (
        site_a["widget_key"].as_str().unwrap(),
        site_b["widget_key"].as_str().unwrap(),
    );
    let token = visitor_session(&s, key_a);
    // A token works on its website only.
    assert_eq!(
        widget(&s, "POST", "message", key_b, Some(&token), Some(json!({"body": "x"}))).status,
        401
    );
    assert!(matches!(
        Socket::connect(
            &s.base,
            &format!("/widget/ws?key={key_b}&token={token}"),
            &[("Origin", SHOP)]
        ),
        Err(Refused(401))
    ));
    // Empty and oversized bodies are refused with the field named.
    let empty = widget(&s, "POST", "message", key_a, Some(&token), Some(json!({"body": "  "})));
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert!(empty.body["field-errors"]["body"].is_string(), "{}", empty.body);
    let long = widget(
        &s,
        "POST",
        "message",
        key_a,
        Some(&token),
        Some(json!({"body": "x".repeat(5_001)})),
    );
    assert_eq!(long.status, 400);
    // A flood is slowed down.
    let statuses: Vec<u16> = (0..14)
        .map(|i| {
            widget(
                &s,
                "POST",
                "message",
                key_a,
                Some(&token),
                Some(json!({"body": format!("m{i}")})),
            )
            .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 201).count() >= 8, "{statuses:?}");
    // Missed messages come at once, by long poll and by a socket that comes back.
    let session = widget(&s, "POST", "session", key_a, Some(&token), Some(json!({}))).ok();
    let seq = session["seq"].as_i64().unwrap();
    let conversation_id = session["conversation"]["id"].as_str().unwrap().to_string();
    s.post(
        &format!("conversation/{conversation_id}/message/"),
        json!({"body": "Missed reply"}),
    )
    .created();
    let started = std::time::Instant::now();
    let polled = widget(
        &s,
        "GET",
        &format!("message?after={seq}&wait=20"),
        key_a,
        Some(&token),
        None,
    )
    .ok();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a backlog is answered without waiting"
    );
    let bodies: Vec<&str> = polled["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Missed reply"]);
    let back = visitor_socket(&s.base, key_a, &token, Some(seq));
    assert!(
        back.frames.iter().any(|f| is_message(f, "Missed reply")),
        "{:?}",
        back.frames
    );
    back.close();
    // Deleted with its messages; the visitor's next message starts a new conversation.
    let deleted = s.delete(&format!("conversation/{conversation_id}/"));
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(s.get(&format!("conversation/{conversation_id}/message/")).status, 404);
    let events = s.get("event/?object_type=message&action=deleted").ok();
    assert!(
        !events["data"].as_array().unwrap().is_empty(),
        "each message's deletion is an event"
    );
    std::thread::sleep(Duration::from_secs(2)); // the rate limit refills
    let again = widget(
        &s,
        "POST",
        "message",
        key_a,
        Some(&token),
        Some(json!({"body": "Still there?"})),
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_ne!(again.body["id"], Value::Null);
    let session = widget(&s, "POST", "session", key_a, Some(&token), Some(json!({}))).ok();
    assert_ne!(session["conversation"]["id"], conversation_id.as_str());
    // Two first messages at once start one conversation.
    let fresh = visitor_session(&s, key_a);
    std::thread::scope(|scope| {
        for i in 0..2 {
            let (s, fresh) = (&s, &fresh);
            scope.spawn(move || {
                let sent = widget(
                    s,
                    "POST",
                    "message",
                    key_a,
                    Some(fresh),
                    Some(json!({"body": format!("first {i}")})),
                );
                assert_eq!(sent.status, 201, "{}", sent.body);
            });
        }
    });
    let session = widget(&s, "POST", "session", key_a, Some(&fresh), Some(json!({}))).ok();
    assert_eq!(session["messages"].as_array().unwrap().len(), 2, "{session}");
    // Conversations are started by visitors only.
    assert_eq!(s.post("conversation/", json!({"status": "open"})).status, 400);
    // Another visitor cannot read the first one's conversation.
    let other = visitor_session(&s, key_a);
    let session = widget(&s, "POST", "session", key_a, Some(&other), Some(json!({}))).ok();
    assert!(session["messages"].as_array().unwrap().is_empty());
    assert!(session["conversation"].is_null());
    // Bad websites are refused with field errors.
    let bad = s.post(
        "website/",
        json!({"name": "X", "allowed_origins": ["not an origin"], "operators": ["user_nope"]}),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["field-errors"]["allowed_origins[0]"].is_string(),
        "{}",
        bad.body
    );
    assert!(bad.body["field-errors"]["operators[0]"].is_string(), "{}", bad.body);
}

/// The sequence numbers of the organization's events after `after`, from `/api/v1/event/`.
fn logged_seqs(s: &TestServer, after: i64) -> Vec<i64> {
    let mut seqs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("event/?_limit=200&_cursor={c}"),
            None => "event/?_limit=200".to_string(),
        };
        let page = s.get(&path).ok();
        let data = page["data"].as_array().unwrap();
        let mut done = false;
        for event in data {
            let seq = event["seq"].as_i64().unwrap();
            if seq <= after {
                done = true;
                break;
            }
            seqs.push(seq);
        }
        match page["cursor_next"].as_str() {
            Some(next) if !done => cursor = Some(next.to_string()),
            _ => break,
        }
    }
    seqs.sort();
    seqs
}

/// The event frames' sequence numbers, after checking they strictly increase.
#[track_caller]
fn event_seqs(socket: &Socket) -> Vec<i64> {
    let seqs: Vec<i64> = socket
        .frames
        .iter()
        .filter(|f| f["type"].as_str().is_some_and(|t| t.contains('.')))
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order, no repeats: {seqs:?}");
    seqs
}

fn a_dropped_socket_gets_every_missed_event_once(backend: Backend) {
    let Some(s) = TestServer::start(backend, "a_dropped_socket_gets_every_missed_event_once") else {
        return;
    };
    let mut first = Socket::operator(&s.base, &s.api_key, None);
    let hello = first.wait_for(10, "hello", |f| f["type"] == "hello");
    let start = hello["seq"].as_i64().unwrap();
    s.post("lead/", json!({"name": "Before the drop"})).ok();
    first.wait_for(10, "the first lead", |f| f["type"] == "lead.created");
    let last_seen = *event_seqs(&first).last().unwrap();
    first.close();

    // Dropped for 5 s while a colleague works.
    let writer = std::thread::scope(|scope| {
        let s = &s;
        let handle = scope.spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut n = 0;
            while std::time::Instant::now() < deadline {
                let lead = s.post("lead/", json!({"name": format!("During {n}")})).ok();
                s.post("activity/note/", json!({"lead_id": lead["id"], "note": "called back"}))
                    .ok();
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            n
        });
        handle.join().unwrap()
    });
    assert!(writer > 10);
    let mut back = Socket::operator(&s.base, &s.api_key, Some(last_seen));
    back.wait_for(20, "the end of the replay", |f| f["type"] == "ready");
    // Live again: a change made now arrives after the replayed ones.
    s.post("lead/", json!({"name": "After the drop"})).ok();
    back.wait_for(10, "the live change", |f| {
        f["type"] == "lead.created" && f["data"]["data"]["name"] == "After the drop"
    });
    let received = event_seqs(&back);
    assert_eq!(
        received,
        logged_seqs(&s, last_seen),
        "every event after the last seen, once, in order"
    );
    assert!(start <= last_seen);

    // A sequence number the log never reached asks the client to reload.
    let mut lost = Socket::operator(&s.base, &s.api_key, Some(1 << 40));
    let resync = lost.wait_for(10, "resync", |f| f["type"] == "resync");
    assert!(resync["seq"].as_i64().unwrap() < 1 << 40);
    lost.close();

    // Two minutes of a busy team's activity (1,200 changes), made while the socket is away.
    let mut third = Socket::operator(&s.base, &s.api_key, None);
    let resume = third.wait_for(10, "hello", |f| f["type"] == "hello")["seq"]
        .as_i64()
        .unwrap();
    third.close();
    let lead = s.post("lead/", json!({"name": "Busy"})).ok();
    let lead_id = lead["id"].as_str().unwrap();
    for i in 0..1_199 {
        s.put(&format!("lead/{lead_id}/"), json!({"description": format!("edit {i}")}))
            .ok();
    }
    let mut fourth = Socket::operator(&s.base, &s.api_key, Some(resume));
    fourth.wait_for(60, "the end of the replay", |f| f["type"] == "ready");
    let received = event_seqs(&fourth);
    let logged = logged_seqs(&s, resume);
    assert!(logged.len() >= 1_200, "{}", logged.len());
    assert_eq!(received, logged);
    let descriptions: BTreeSet<String> = fourth
        .frames
        .iter()
        .filter(|f| f["type"] == "lead.updated")
        .map(|f| f["data"]["data"]["description"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(descriptions.len(), 1_199);
}

fn presence_and_private_views(backend: Backend) {
    let Some(s) = TestServer::start(backend, "presence_and_private_views") else {
        return;
    };
    let other_key = s.new_member("joe@test.example", "member");
    let mut admin = Socket::operator(&s.base, &s.api_key, None);
    admin.wait_for(10, "hello", |f| f["type"] == "hello");
    let mut joe = Socket::operator(&s.base, &other_key, None);
    joe.wait_for(10, "hello", |f| f["type"] == "hello");
    let lead = s.post("lead/", json!({"name": "Viewed"})).ok();
    let lead_id = lead["id"].as_str().unwrap();
    joe.send(json!({"type": "view", "lead_id": lead_id}));
    let presence = admin.wait_for(10, "Joe viewing the lead", |f| {
        f["type"] == "presence"
            && f["data"]["users"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["viewing"] == lead_id)
    });
    assert_eq!(presence["data"]["users"].as_array().unwrap().len(), 2, "{presence}");
    // A private Smart View is its owner's business.
    s.post_as(
        &other_key,
        "saved_search/",
        json!({"name": "Mine", "query": "status:potential"}),
    )
    .ok();
    joe.wait_for(10, "Joe's own view", |f| f["type"] == "saved_search.created");
    s.post("lead/", json!({"name": "Marker"})).ok();
    admin.wait_for(10, "the marker", |f| {
        f["type"] == "lead.created" && f["data"]["data"]["name"] == "Marker"
    });
    assert!(
        admin.of_type("saved_search.created").is_empty(),
        "another user's private view stays hidden"
    );
    joe.close();
    admin.wait_for(10, "Joe going offline", |f| {
        f["type"] == "presence" && f["data"]["users"].as_array().unwrap().len() == 1
    });
}

on_both_backends!(blocking:
    a_visitor_and_an_operator_chat,
    the_widget_is_held_to_its_visitor,
    a_dropped_socket_gets_every_missed_event_once,
    presence_and_private_views,
    a_websites_identity_secret_is_shown_once,
    a_visitor_reaches_only_their_own_messages_and_an_unverified_email_no_lead,
    one_address_cannot_flood_a_website_with_visitors_and_conversations,
    widget_answers_are_readable_only_by_the_websites_origins,
    a_flood_of_messages_is_one_email_until_someone_reads,
);

/// Notifications are coalesced per conversation: ten unread messages are one email to
/// the operators; once an operator has read the conversation, the next message is news.
fn a_flood_of_messages_is_one_email_until_someone_reads(backend: Backend) {
    let Some(smtp) = rapport_testkit::smtp::SmtpServer::start("chat_emails_coalesced") else {
        return;
    };
    let smtp_url = format!(
        "smtp://127.0.0.1:{}?security=none&from=rapport%40test.example",
        smtp.port
    );
    let Some(s) = TestServer::start_with(backend, "chat_emails_coalesced", &["--smtp-url", smtp_url.as_str()]) else {
        return;
    };
    let site = new_website(&s, json!({"notify_delay_seconds": 1}));
    let key = site["widget_key"].as_str().unwrap();
    let token = visitor_session(&s, key);
    for i in 0..10 {
        let sent = widget(
            &s,
            "POST",
            "message",
            key,
            Some(&token),
            Some(json!({"body": format!("Flood {i}")})),
        );
        assert_eq!(sent.status, 201, "{}", sent.body);
    }
    let unread_emails = || smtp.messages().iter().filter(|m| m.contains("Flood")).count();
    wait_until(30, "the unread-message email", || unread_emails() >= 1);
    // Every job has had its chance to run (the delay is a second).
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(unread_emails(), 1, "one email for ten messages");
    let conversation_id = s.get("conversation/").ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(&format!("conversation/{conversation_id}/read/"), json!({})).ok();
    widget(
        &s,
        "POST",
        "message",
        key,
        Some(&token),
        Some(json!({"body": "Flood again"})),
    );
    wait_until(30, "the next email, after the read", || unread_emails() >= 2);
}

/// CORS: another site's page gets no `Access-Control-Allow-Origin`, on refusals too.
fn widget_answers_are_readable_only_by_the_websites_origins(backend: Backend) {
    let Some(s) = TestServer::start(backend, "widget_cors") else {
        return;
    };
    let site = new_website(&s, json!({}));
    let key = site["widget_key"].as_str().unwrap();
    let call = |origin: &str, key: &str, token: Option<&str>| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("X-Widget-Key", key), ("Origin", origin)];
        if let Some(b) = &bearer {
            headers.push(("Authorization", b.as_str()));
        }
        s.request(
            "POST",
            &format!("{}/widget/v1/session", s.base),
            None,
            Some(&json!({})),
            &headers,
        )
    };
    let ok = call(SHOP, key, None);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SHOP));
    let refused = call(SHOP, key, Some("vt_stale"));
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some(SHOP),
        "the widget reads its own refusals"
    );
    for (origin, key) in [("https://evil.example", key), (SHOP, "wk_unknown")] {
        let answer = call(origin, key, None);
        assert!(answer.status >= 400, "{}", answer.body);
        assert_eq!(answer.header("access-control-allow-origin"), None, "{origin} {key}");
    }
}

/// Sessions, conversations and leads a single address may start per minute are bounded;
/// other addresses go on as usual.
fn one_address_cannot_flood_a_website_with_visitors_and_conversations(backend: Backend) {
    let Some(s) = TestServer::start(backend, "visitor_caps_per_address") else {
        return;
    };
    let site = new_website(&s, json!({}));
    let key = site["widget_key"].as_str().unwrap();
    let from = |address: &str, path: &str, token: Option<&str>, body: Value| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("X-Widget-Key", key),
            ("Origin", SHOP),
            (common::CLIENT_IP_HEADER, address),
        ];
        if let Some(b) = &bearer {
            headers.push(("Authorization", b.as_str()));
        }
        s.request(
            "POST",
            &format!("{}/widget/v1/{path}", s.base),
            None,
            Some(&body),
            &headers,
        )
    };
    let flooder = "198.51.100.9";
    let sessions = rapport_crm::limits::VISITOR_SESSIONS.burst;
    let mut tokens = Vec::new();
    for _ in 0..sessions {
        let session = from(flooder, "session", None, json!({})).ok();
        tokens.push(session["visitor_token"].as_str().unwrap().to_string());
    }
    let refused = from(flooder, "session", None, json!({}));
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body["error"].as_str().unwrap().contains("from your address"));
    // A returning visitor (with their token) is not a new session.
    assert_eq!(from(flooder, "session", Some(&tokens[0]), json!({})).status, 200);
    // Conversations: each visitor's first message starts one.
    let conversations = rapport_crm::limits::CONVERSATIONS.burst as usize;
    for token in &tokens[..conversations] {
        let sent = from(flooder, "message", Some(token), json!({"body": "spam"}));
        assert_eq!(sent.status, 201, "{}", sent.body);
    }
    let refused = from(
        flooder,
        "message",
        Some(&tokens[conversations]),
        json!({"body": "spam"}),
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    // A visitor already in a conversation goes on writing.
    assert_eq!(
        from(flooder, "message", Some(&tokens[0]), json!({"body": "more"})).status,
        201
    );
    assert_eq!(
        s.get("conversation/").ok()["data"].as_array().unwrap().len(),
        conversations
    );
    // Someone else is served as usual.
    let other = from("198.51.100.10", "session", None, json!({})).ok();
    let token = other["visitor_token"].as_str().unwrap();
    assert_eq!(
        from("198.51.100.10", "message", Some(token), json!({"body": "Hello"})).status,
        201
    );
}

/// A visitor resending an operator's client id gets a message of their own, not the
/// operator's private note; an unverified email matching a customer does not attach the
/// chat to the customer's lead until an operator confirms it.
fn a_visitor_reaches_only_their_own_messages_and_an_unverified_email_no_lead(backend: Backend) {
    let Some(s) = TestServer::start(backend, "visitor_own_messages_unverified") else {
        return;
    };
    let site = new_website(&s, json!({}));
    let key = site["widget_key"].as_str().unwrap();
    let token = visitor_session(&s, key);
    let say = |message: Value| widget(&s, "POST", "message", key, Some(&token), Some(message));
    let first = say(json!({"client_id": "v-1", "body": "Hello"}));
    assert_eq!(first.status, 201, "{}", first.body);
    let conversation_id = s.get("conversation/").ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let note = s
        .post(
            &format!("conversation/{conversation_id}/message/"),
            json!({"client_id": "note-1", "body": "Private: their card was declined", "private": true}),
        )
        .created();
    let guess = say(json!({"client_id": "note-1", "body": "Hi again"}));
    assert_eq!(guess.status, 201, "a message of the visitor's own: {}", guess.body);
    assert_ne!(guess.body["id"], note["id"]);
    assert!(!guess.body.to_string().contains("declined"), "{}", guess.body);
    // Their own resend still finds their own message.
    let resend = say(json!({"client_id": "v-1", "body": "Hello"}));
    assert_eq!(resend.status, 200, "{}", resend.body);
    assert_eq!(resend.body["id"], first.body["id"]);

    // A customer's lead; a visitor types the customer's email, with no identity hash.
    let customer = s
        .post("lead/", json!({"name": "Big Customer", "contacts": [{"name": "Ceo", "emails": [{"email": "ceo@customer.example"}]}]}))
        .ok();
    let contact_id = customer["contacts"][0]["id"].as_str().unwrap();
    let identified = widget(
        &s,
        "POST",
        "identify",
        key,
        Some(&token),
        Some(json!({"email": "CEO@customer.example"})),
    );
    assert_eq!(identified.status, 200, "{}", identified.body);
    let conversation = s.get(&format!("conversation/{conversation_id}/")).ok();
    assert_eq!(
        conversation["lead_id"],
        Value::Null,
        "not on the customer's lead: {conversation}"
    );
    assert_eq!(conversation["email_verified"], false);
    assert_eq!(conversation["visitor_email"], "ceo@customer.example");
    assert_eq!(conversation["suggested_contact_id"], contact_id);
    let timeline = s
        .get(&format!("activity/?lead_id={}", customer["id"].as_str().unwrap()))
        .ok();
    assert!(!timeline.to_string().contains(&conversation_id), "{timeline}");
    // Later messages stay off the lead too.
    say(json!({"body": "Please refund me"}));
    let messages = s.get(&format!("conversation/{conversation_id}/message/")).ok();
    assert!(
        messages["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["lead_id"].is_null()),
        "{messages}"
    );

    // An operator confirms: the chat joins the customer's lead.
    let linked = s.post(&format!("conversation/{conversation_id}/link/"), json!({})).ok();
    assert_eq!(linked["lead_id"], customer["id"]);
    assert_eq!(linked["suggested_contact_id"], Value::Null);
    assert_eq!(linked["contact_id"], contact_id);
    let bad = s.post(
        &format!("conversation/{conversation_id}/link/"),
        json!({"contact_id": "cont_nope"}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
}

/// The identity secret signs visitors' emails: shown to the admin who creates or rotates
/// it, once, and never in reads, the event log or a replayed answer.
fn a_websites_identity_secret_is_shown_once(backend: Backend) {
    let Some(s) = TestServer::start(backend, "identity_secret_shown_once") else {
        return;
    };
    let site = s
        .request(
            "POST",
            "website/",
            Some(&s.api_key),
            Some(&json!({"name": "Shop", "allowed_origins": [SHOP], "greeting": "Hi! Ask us anything."})),
            &[("Idempotency-Key", "site-1")],
        )
        .ok();
    let id = site["id"].as_str().unwrap();
    let first = site["identity_secret"]
        .as_str()
        .expect("shown in the create's answer")
        .to_string();
    let member = s.new_member("mia@test.example", "member");
    let replay = s.request(
        "POST",
        "website/",
        Some(&s.api_key),
        Some(&json!({"name": "Shop", "allowed_origins": [SHOP], "greeting": "Hi! Ask us anything."})),
        &[("Idempotency-Key", "site-1")],
    );
    assert_eq!(replay.body["id"], id, "{}", replay.body);
    let webhook = s
        .request(
            "POST",
            "webhook/",
            Some(&s.api_key),
            Some(&json!({"url": "https://hooks.example/x", "events": [{"object_type": "lead", "action": "created"}]})),
            &[("Idempotency-Key", "hook-1")],
        )
        .ok();
    let signature_key = webhook["signature_key"].as_str().expect("shown once").to_string();
    let hook_replay = s.request(
        "POST",
        "webhook/",
        Some(&s.api_key),
        Some(&json!({"url": "https://hooks.example/x", "events": [{"object_type": "lead", "action": "created"}]})),
        &[("Idempotency-Key", "hook-1")],
    );
    assert_eq!(hook_replay.body["id"], webhook["id"]);

    let rotated = s.post(&format!("website/{id}/rotate_secret/"), json!({})).ok();
    let second = rotated["identity_secret"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        s.post_as(&member, &format!("website/{id}/rotate_secret/"), json!({}))
            .status,
        403
    );
    let everything_read = [
        s.get(&format!("website/{id}/")).ok(),
        s.get("website/").ok(),
        s.get_as(&member, &format!("website/{id}/")).ok(),
        s.get("event/?_limit=100").ok(),
        s.get(&format!("webhook/{}/", webhook["id"].as_str().unwrap())).ok(),
        replay.body.clone(),
        hook_replay.body.clone(),
    ]
    .map(|v| v.to_string());
    for text in &everything_read {
        for secret in [&first, &second, &signature_key] {
            assert!(!text.contains(secret.as_str()), "a secret in {text}");
        }
    }

    // Hashes made with the old secret no longer verify; the new one's do.
    let key = site["widget_key"].as_str().unwrap();
    let token = visitor_session(&s, key);
    let identify = |secret: &str| {
        widget(
            &s,
            "POST",
            "identify",
            key,
            Some(&token),
            Some(json!({"email": "jo@example.com", "hash": hmac_hex(secret, "jo@example.com")})),
        )
    };
    assert_eq!(identify(&first).status, 401);
    assert_eq!(identify(&second).status, 200);
}

/// Two nodes on PostgreSQL and RabbitMQ: the visitor on one, the operator on the other.
#[test]
fn a_visitor_and_an_operator_on_two_nodes() {
    let Some(mut s) = TestServer::start(Backend::PostgresRabbitMq, "a_visitor_and_an_operator_on_two_nodes") else {
        return;
    };
    let node_b = s.start_second_node();
    let site = new_website(&s, json!({}));
    let key = site["widget_key"].as_str().unwrap();
    let mut operator = Socket::operator(&s.base, &s.api_key, None);
    operator.wait_for(10, "hello", |f| f["type"] == "hello");
    let token = visitor_session_at(&s, &node_b, key);
    let mut visitor = visitor_socket(&node_b, key, &token, None);
    // The operator on node A is online for the visitor on node B.
    visitor.wait_for(20, "operators online", |f| {
        f["type"] == "operators" && f["data"]["online"] == true
    });
    visitor.send(json!({"type": "message", "client_id": "n-1", "body": "Hello from node B"}));
    let created = operator.wait_for(10, "the message on node A", |f| {
        f["type"] == "message.created" && f["data"]["data"]["body"] == "Hello from node B"
    });
    let conversation_id = created["data"]["data"]["conversation_id"].as_str().unwrap().to_string();
    operator.send(json!({"type": "typing", "conversation_id": conversation_id, "typing": true}));
    visitor.wait_for(10, "typing from node A", |f| {
        f["type"] == "typing" && f["data"]["typing"] == true
    });
    visitor.send(json!({"type": "typing", "typing": true}));
    operator.wait_for(10, "typing from node B", |f| {
        f["type"] == "typing" && f["data"]["author"] == "visitor"
    });
    s.post(
        &format!("conversation/{conversation_id}/message/"),
        json!({"body": "Hello from node A"}),
    )
    .created();
    visitor.wait_for(10, "the reply on node B", |f| is_message(f, "Hello from node A"));
}
