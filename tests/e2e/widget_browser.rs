//! The website chat widget in a real browser: headless Chromium opens a page of another
//! origin that embeds `/widget.js`; a visitor writes with the keyboard only, an operator
//! answers through the REST API, and the answer shows in the widget
//! (`tests/browser/widget.mjs` drives the browser), over the websocket and, with websockets
//! failing in the page, over the long-poll fallback. The screenshots of the answered chat
//! are left in `target/test-artifacts/widget.png` and `widget-long-poll.png`.
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM`), `node` and `npm ci --prefix tests/browser`.
//! Without them the test is skipped loudly, unless `RAPPORT_REQUIRE_BROWSER=1` (CI) makes
//! that a failure.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::browser::{artifacts_dir, browser_available, run_script};
use common::{Backend, TestServer};
use serde_json::json;

const GREETING: &str = "Hi! Ask us anything.";
const VISITOR_MESSAGE: &str = "Hello from the browser test\nDo you ship to Norway?";
/// Written while the browser is offline; sent (once) when it is back.
const OFFLINE_MESSAGE: &str = "Written while offline";

/// The customer's page: any path but `/` is a 404. One thread per connection, because
/// Chromium opens speculative connections that never send a request.
fn serve_page(listener: TcpListener, html: String) {
    let html: &'static str = Box::leak(html.into_boxed_str());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_page_request(stream, html));
        }
    });
}

fn answer_page_request(mut stream: TcpStream, html: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = if path == "/" {
        ("200 OK", html)
    } else {
        ("404 Not Found", "")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A plain documentation page with some CSS of its own that would spoil an unshielded
/// widget; a link comes before the widget in the tab order.
fn page_html(rapport_base: &str, widget_key: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Docs site</title>
<style>
body {{ font: 18px/1.6 Georgia, serif; margin: 40px auto; max-width: 640px; color: #333; background: #fbfaf6 }}
div, li, p, button {{ color: #c00; font-size: 30px; letter-spacing: 4px }}
</style></head>
<body>
<h1>Docs site</h1>
<p>Everything about our product. <a href="/guide">Read the guide</a>.</p>
<script src="{rapport_base}/widget.js" data-key="{widget_key}" async></script>
</body></html>
"#
    )
}

/// How the widget gets its live updates in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSocket,
    /// Every websocket fails in the page: the widget falls back to long polling.
    LongPoll,
}

#[test]
fn a_visitor_chats_with_an_operator_through_the_widget_in_chromium() {
    visitor_chats_with_an_operator(Transport::WebSocket, "widget.png");
}

#[test]
fn the_widget_falls_back_to_long_polling_when_websockets_fail() {
    visitor_chats_with_an_operator(Transport::LongPoll, "widget-long-poll.png");
}

fn visitor_chats_with_an_operator(transport: Transport, screenshot_name: &str) {
    if !browser_available("the widget browser test") {
        return;
    }
    let Some(s) = TestServer::start(Backend::Sqlite, "widget_browser") else {
        return;
    };
    // Another port than Rapport's, so the page is cross-origin, like a customer's site.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let page_url = format!("http://{}/", listener.local_addr().unwrap());
    let origin = page_url.trim_end_matches('/').to_string();

    let website = s.post(
        "website/",
        json!({"name": "Docs site", "allowed_origins": [origin], "greeting": GREETING}),
    );
    assert!(
        (200..300).contains(&website.status),
        "creating the website: {} {}",
        website.status,
        website.body
    );
    let widget_key = website.body["widget_key"]
        .as_str()
        .unwrap_or_else(|| panic!("a website has a widget_key: {}", website.body));
    let website_id = website.body["id"].as_str().expect("a website has an id");
    serve_page(listener, page_html(&s.base, widget_key));

    let screenshot = artifacts_dir().join(screenshot_name);
    let _ = std::fs::remove_file(&screenshot);

    let args = [&page_url, &s.base, &s.api_key, screenshot.to_str().unwrap(), website_id];
    let no_websocket = if transport == Transport::LongPoll { "1" } else { "0" };
    let env = [("WIDGET_NO_WEBSOCKET", no_websocket), ("WIDGET_GREETING", GREETING)];
    let run = run_script("widget.mjs", &args, &env, Duration::from_secs(180));
    run.assert_ok("widget.mjs");
    let stdout = run.stdout;

    let png = std::fs::read(&screenshot).expect("the script wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");

    // What the visitor typed (with its Shift+Enter line break) is stored in the conversation.
    let conversation = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CONVERSATION "))
        .unwrap_or_else(|| panic!("the script names the conversation:\n{stdout}"))
        .trim();
    let messages = s.get(&format!("conversation/{conversation}/message/")).ok();
    let bodies: Vec<&str> = messages["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of messages: {messages}"))
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(
        bodies.contains(&VISITOR_MESSAGE),
        "the visitor's message is stored: {messages}"
    );
    let offline = bodies.iter().filter(|b| **b == OFFLINE_MESSAGE).count();
    assert_eq!(offline, 1, "the message written offline is stored once: {messages}");
}
