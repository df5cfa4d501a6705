//! No input makes a 500 or a panic: every field of every route (taken from the OpenAPI
//! document, so new fields are covered as they appear) gets awkward values.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::ws::{Refused, Socket};
use common::{Backend, TestServer};
use rapport_testkit::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(blocking:
    awkward_values_in_every_field_get_clear_answers,
    unused_sessions_end_and_cookies_can_be_secure
);

fn awkward_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(12.5),
        json!(""),
        json!(" "),
        json!("x".repeat(20_000)),
        json!("💥 \u{0000} <script>alert(1)</script> ' OR 1=1 --"),
        json!("2024-13-45"),
        json!("lead_doesnotexist"),
        json!([]),
        json!([1, "a", null]),
        json!([{}]),
        json!([{"email": 5, "phone": [], "url": {}, "type": 3, "opened_at": "never"}]),
        json!({"a": {"b": [[[]]]}}),
    ]
}

fn awkward_values_in_every_field_get_clear_answers(backend: Backend) {
    // An SMTP server that does not answer: "forgot password" takes its input and fails
    // later, in the background, as with a mail server down.
    let smtp = "smtp://127.0.0.1:9?security=none&from=rapport%40test.example";
    let Some(s) = TestServer::start_with(
        backend,
        "awkward_values_in_every_field_get_clear_answers",
        &["--smtp-url", smtp],
    ) else {
        return;
    };
    let doc = s.request("GET", "openapi.json", None, None, &[]).ok();
    let lead = s
        .post("lead/", json!({"name": "Target", "contacts": [{"name": "C"}]}))
        .ok();
    let lead_id = lead["id"].as_str().unwrap().to_string();
    let existing = |path: &str| -> Option<String> {
        let body = match path {
            "lead" => return Some(lead_id.clone()),
            "contact" => return lead["contacts"][0]["id"].as_str().map(str::to_string),
            "opportunity" | "task" | "activity/note" | "activity/call" | "activity/meeting" => {
                json!({"lead_id": lead_id, "text": "t"})
            }
            "custom_field/lead" => json!({"name": "F", "type": "text"}),
            "status/lead" => json!({"label": "L"}),
            "pipeline" => json!({"name": "P"}),
            _ => return None,
        };
        let mut body = body;
        if path != "task" {
            body.as_object_mut().unwrap().remove("text");
        }
        Some(
            s.post(&format!("{path}/"), body).ok()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    };
    let mut requests = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(post) = item.get("post") else { continue };
        // Actions without a body (`job/{id}/retry/`) have no fields to get wrong.
        if post.get("requestBody").is_none() {
            continue;
        }
        let collection = path.trim_start_matches("/api/v1/").trim_end_matches('/').to_string();
        // A create's body is the kind's schema, or `allOf` it and its required fields.
        let body = &post["requestBody"]["content"]["application/json"]["schema"];
        let parts: Vec<&Value> = match body["allOf"].as_array() {
            Some(parts) => parts.iter().collect(),
            None => vec![body],
        };
        let mut fields: Vec<String> = parts
            .into_iter()
            .map(|part| match part["$ref"].as_str() {
                Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
                None => part,
            })
            .filter_map(|schema| schema["properties"].as_object())
            .flat_map(|properties| properties.keys().cloned())
            .collect();
        assert!(!fields.is_empty(), "{path} has a body with fields: {body}");
        fields.extend(["custom.cf_nope".to_string(), "no_such_field".to_string()]);
        let target = existing(&collection);
        for field in &fields {
            for value in awkward_values() {
                let mut body = json!({"lead_id": lead_id});
                body[field] = value.clone();
                // From addresses of their own: the per-address limits (logins, password
                // resets) have tests of their own; here every value must reach the route.
                let address = common::fresh_client_address();
                let post = s.request(
                    "POST",
                    &format!("{collection}/"),
                    Some(&s.api_key),
                    Some(&body),
                    &[(common::CLIENT_IP_HEADER, &address)],
                );
                let mut answers = vec![post];
                if let Some(id) = &target {
                    answers.push(s.put(&format!("{collection}/{id}/"), json!({field: value})));
                }
                for answer in answers {
                    requests += 1;
                    assert!(
                        [200, 400, 404, 409, 422].contains(&answer.status),
                        "{collection} {field}={value}: {} {}",
                        answer.status,
                        answer.body
                    );
                    if answer.status == 400 {
                        let body = &answer.body;
                        assert!(body["field-errors"].is_object() || body["error"].is_string(), "{body}");
                    }
                }
            }
        }
    }
    assert!(requests > 1000, "{requests} requests");
    // Still serving, and the target lead is still readable.
    assert_eq!(s.get(&format!("lead/{lead_id}/")).status, 200);
    for raw in [
        "{",
        "[",
        "\"text\"",
        "{\"name\": \"\\ud800\"}",
        "{\"a\":1}{\"b\":2}",
        &"[".repeat(10_000),
    ] {
        let answer = s.request_raw("POST", "lead/", raw);
        assert_eq!(answer.status, 400, "{raw:.40}: {}", answer.body);
    }
}

/// A raw connection to the server.
fn connect(s: &TestServer) -> TcpStream {
    TcpStream::connect(s.base.trim_start_matches("http://")).expect("the server accepts connections")
}

/// What the server sends until it closes the connection or `wait` passes; and whether it
/// closed it.
fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let deadline = Instant::now() + wait;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&received).into_owned(), false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&received).into_owned(), true),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (String::from_utf8_lossy(&received).into_owned(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), true),
        }
    }
}

fn basic(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
}

#[test]
fn stalled_headers_bodies_and_idle_connections_are_closed() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        "stalled_headers_bodies_and_idle_connections_are_closed",
        &["--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "1"],
    )
    .unwrap();
    // Half a header, then nothing.
    let started = Instant::now();
    let mut half = connect(&s);
    half.write_all(b"GET /api/v1/me/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let (_, closed) = read_until_closed(&mut half, Duration::from_secs(6));
    assert!(closed, "a half-sent header is cut off");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    // Nothing at all.
    let mut silent = connect(&s);
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(6));
    assert!(closed, "a connection that never sends is closed");
    // A kept-alive connection answered, then left idle.
    let mut idle = connect(&s);
    let started = Instant::now();
    idle.write_all(b"GET /api/v1/me/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(6));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(closed, "an idle kept-alive connection is closed");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    // A body that stops halfway.
    let mut slow = connect(&s);
    let started = Instant::now();
    write!(
        slow,
        "POST /api/v1/lead/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": ",
        basic(&s.api_key)
    )
    .unwrap();
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(6));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\""), "{answer}");
    assert!(closed, "the connection of a stalled body is closed");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    // Whole requests are served as before.
    assert_eq!(s.get("me/").status, 200);
}

#[test]
fn connections_past_the_cap_wait_until_one_closes() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        "connections_past_the_cap_wait_until_one_closes",
        &[
            "--max-connections",
            "2",
            "--header-timeout",
            "30",
            "--idle-timeout",
            "30",
        ],
    )
    .unwrap();
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = connect(&s);
            c.write_all(b"GET /api/v1/me/ HTTP/1.1\r\nHost: x\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = connect(&s);
    third
        .write_all(b"GET /api/v1/me/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, _) = read_until_closed(&mut third, Duration::from_millis(1500));
    assert_eq!(answer, "", "a third connection waits while two are open");
    held.clear();
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 401"), "served once one closed: {answer}");
    assert!(closed);
    assert_eq!(s.get("me/").status, 200);
}

#[test]
fn websockets_past_their_cap_are_refused() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        "websockets_past_their_cap_are_refused",
        &["--max-websockets", "1"],
    )
    .unwrap();
    let auth = format!("Basic {}", basic(&s.api_key));
    let first = Socket::operator(&s.base, &s.api_key, None);
    match Socket::connect(&s.base, "/api/v1/realtime", &[("Authorization", &auth)]) {
        Err(Refused(status)) => assert_eq!(status, 503),
        Ok(_) => panic!("a second websocket opened past the cap of 1"),
    }
    first.close();
    // Its permit goes with the socket.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Socket::connect(&s.base, "/api/v1/realtime", &[("Authorization", &auth)]) {
            Ok(socket) => break socket.close(),
            Err(Refused(503)) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(Refused(status)) => panic!("refused with {status} after the first closed"),
        }
    }
}

/// Sends `request` as it is on a connection of its own; the status and the body of the
/// answer.
fn raw(s: &TestServer, request: &[u8]) -> (u16, String, String) {
    let mut stream = connect(s);
    let _ = stream.write_all(request);
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (status, head.to_string(), body.to_string())
}

fn post_raw(
    s: &TestServer,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    auth: Option<&str>,
) -> (u16, String, String) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if let Some(key) = auth {
        request.push_str(&format!("Authorization: Basic {}\r\n", basic(key)));
    }
    request.push_str("\r\n");
    request.push_str(body);
    raw(s, request.as_bytes())
}

#[track_caller]
fn assert_json_error(status: u16, expected: u16, head: &str, body: &str) {
    assert_eq!(status, expected, "{head}\n\n{body}");
    assert!(
        head.to_ascii_lowercase().contains("content-type: application/json"),
        "{head}"
    );
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(!body["error"].as_str().unwrap().is_empty(), "{body}");
}

#[test]
fn bodies_that_are_not_json_are_refused_before_a_login() {
    let s = TestServer::start(Backend::Sqlite, "bodies_that_are_not_json_are_refused_before_a_login").unwrap();
    let password = "correct horse battery";
    s.post(
        "user/",
        json!({"email": "ann@test.example", "first_name": "Ann", "password": password}),
    )
    .ok();
    let credentials = json!({"email": "ann@test.example", "password": password}).to_string();
    // What a form on another site can send, with no preflight: text/plain, a form, nothing.
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let (status, head, body) = post_raw(&s, "/api/v1/auth/login/", content_type, &credentials, None);
        assert_json_error(status, 415, &head, &body);
        assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
        let (status, head, body) = post_raw(
            &s,
            "/api/v1/lead/",
            content_type,
            r#"{"name": "Via form"}"#,
            Some(&s.api_key),
        );
        assert_json_error(status, 415, &head, &body);
    }
    assert_eq!(s.get("lead/").ok()["total_results"], 0, "nothing was stored");
    let (status, head, _) = post_raw(
        &s,
        "/api/v1/auth/login/",
        Some("application/json; charset=utf-8"),
        &credentials,
        None,
    );
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("set-cookie: rapport_session="),
        "{head}"
    );
}

#[test]
fn too_large_too_long_and_malformed_requests_answer_json() {
    let s = TestServer::start(Backend::Sqlite, "too_large_too_long_and_malformed_requests_answer_json").unwrap();
    let auth = basic(&s.api_key);
    // Too large: declared, and sent in chunks with no length.
    let (status, head, body) = raw(
        &s,
        format!("POST /api/v1/lead/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n").as_bytes(),
    );
    assert_json_error(status, 413, &head, &body);
    let mut chunked = format!("POST /api/v1/lead/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    let chunk = "x".repeat(1 << 20);
    for _ in 0..3 {
        chunked.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, head, body) = raw(&s, &chunked);
    assert_json_error(status, 413, &head, &body);
    // A URI longer than hyper takes, and headers larger than it takes.
    let long = format!("GET /api/v1/lead/?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let (status, head, body) = raw(&s, long.as_bytes());
    assert_json_error(status, 414, &head, &body);
    let large = format!(
        "GET /api/v1/lead/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let (status, head, body) = raw(&s, large.as_bytes());
    assert_json_error(status, 431, &head, &body);
    // Not HTTP.
    for malformed in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\n\r\n",
    ] {
        let (status, head, body) = raw(&s, malformed);
        assert_json_error(status, 400, &head, &body);
    }
    // No such route, a method the route does not take.
    let (status, head, body) = raw(
        &s,
        b"GET /api/v1/nothing_here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_json_error(status, 404, &head, &body);
    let (status, head, body) = raw(
        &s,
        b"PATCH /api/v1/lead HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_json_error(status, 405, &head, &body);
    assert_eq!(s.get("me/").status, 200);
}

#[test]
fn the_app_and_the_widget_script_carry_security_headers() {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let s = TestServer::start(Backend::Sqlite, "the_app_and_the_widget_script_carry_security_headers").unwrap();
    let page = s.request("GET", "/", None, None, &[]);
    assert_eq!(page.status, 200);
    let policy = page
        .header("content-security-policy")
        .expect("the app has a policy")
        .to_string();
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    // The inline import map is allowed by its hash, as a browser computes it.
    let html = page.body.as_str().unwrap();
    let start = html.find("<script type=\"importmap\">").unwrap() + "<script type=\"importmap\">".len();
    let map = &html[start..start + html[start..].find("</script>").unwrap()];
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(map.as_bytes()));
    assert!(
        policy.contains(&format!("script-src 'self' 'sha256-{hash}'")),
        "{policy}"
    );
    for answer in [&page, &s.request("GET", "/app/main.js", None, None, &[]), &s.get("me/")] {
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("x-frame-options"), Some("DENY"));
        assert_eq!(answer.header("referrer-policy"), Some("same-origin"));
        assert!(answer
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
    assert_eq!(
        s.get("me/").header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    // The widget lives in customers' pages: its script and endpoints may be embedded.
    let options = s.request(
        "OPTIONS",
        "/widget/v1/session",
        None,
        None,
        &[("Origin", "https://customer.example")],
    );
    for answer in [&s.request("GET", "/widget.js", None, None, &[]), &options] {
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("x-frame-options"), None);
        assert!(
            !answer
                .header("content-security-policy")
                .unwrap_or("")
                .contains("frame-ancestors"),
            "{:?}",
            answer.headers
        );
    }
}

fn unused_sessions_end_and_cookies_can_be_secure(backend: Backend) {
    // A session unused for 5 s (0.00006 days) ends.
    let args = ["--secure-cookies", "--session-idle-days", "0.00006"];
    let Some(s) = TestServer::start_with(backend, "unused_sessions_end_and_cookies_can_be_secure", &args) else {
        return;
    };
    let password = "correct horse battery";
    s.post(
        "user/",
        json!({"email": "ann@test.example", "first_name": "Ann", "password": password}),
    )
    .ok();
    let login = s.request(
        "POST",
        "auth/login/",
        None,
        Some(&json!({"email": "ann@test.example", "password": password})),
        &[],
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let set_cookie = login.header("set-cookie").unwrap().to_string();
    assert!(set_cookie.ends_with("; Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me = || {
        s.request(
            "GET",
            "me/",
            None,
            None,
            &[("Cookie", &cookie), ("X-Requested-With", "rapport-web")],
        )
        .status
    };
    // Used every 2.5 s, it lasts past 5 s; left alone longer, it ends.
    for _ in 0..3 {
        assert_eq!(me(), 200);
        std::thread::sleep(Duration::from_millis(2500));
    }
    assert_eq!(me(), 200);
    std::thread::sleep(Duration::from_millis(6500));
    assert_eq!(me(), 401, "a session unused for longer than --session-idle-days ends");
}

#[test]
fn metrics_need_the_token_or_a_local_client_no_proxy_forwarded() {
    let s = TestServer::start(
        Backend::Sqlite,
        "metrics_need_the_token_or_a_local_client_no_proxy_forwarded",
    )
    .unwrap();
    assert_eq!(s.request("GET", "/metrics", None, None, &[]).status, 200);
    for forwarded in ["x-forwarded-for", "forwarded", "x-real-ip"] {
        let answer = s.request("GET", "/metrics", None, None, &[(forwarded, "203.0.113.9")]);
        assert_eq!(answer.status, 403, "{forwarded}: {}", answer.body);
        assert!(answer.body["error"].is_string());
    }
    let s = TestServer::start_with(
        Backend::Sqlite,
        "metrics_need_the_token_or_a_local_client_no_proxy_forwarded",
        &["--metrics-token", "s3cret-metrics"],
    )
    .unwrap();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cret-metric"),
        Some("Basic czNjcmV0LW1ldHJpY3M6"),
    ] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        assert_eq!(
            s.request("GET", "/metrics", None, None, &headers).status,
            401,
            "{auth:?}"
        );
    }
    let answer = s.request(
        "GET",
        "/metrics",
        None,
        None,
        &[
            ("Authorization", "Bearer s3cret-metrics"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
    );
    assert_eq!(answer.status, 200);
    assert!(answer.body.as_str().unwrap().contains("rapport_"), "{}", answer.body);
}
