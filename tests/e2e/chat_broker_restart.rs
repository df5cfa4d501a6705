//! Two nodes lose their RabbitMQ broker in the middle of a chat (`rabbitmqctl stop_app`)
//! and get it back: no message is missed, and signals between the nodes work again.
//! In a test binary of its own, because stopping the broker affects every test using it.

use crate::common;

use std::time::Duration;

use common::ws::Socket;
use common::{Backend, TestServer};
use serde_json::json;

const SHOP: &str = "http://shop.example";

#[test]
fn a_broker_restart_loses_no_chat_message() {
    if !rapport_testkit::broker_control_available("a_broker_restart_loses_no_chat_message") {
        return;
    }
    let Some(mut s) = TestServer::start(Backend::PostgresRabbitMq, "a_broker_restart_loses_no_chat_message") else {
        return;
    };
    let node_b = s.start_second_node();
    let site = s
        .post("website/", json!({"name": "Shop", "allowed_origins": [SHOP]}))
        .ok();
    let key = site["widget_key"].as_str().unwrap();
    let session = s
        .request(
            "POST",
            &format!("{node_b}/widget/v1/session"),
            None,
            Some(&json!({})),
            &[("X-Widget-Key", key), ("Origin", SHOP)],
        )
        .ok();
    let token = session["visitor_token"].as_str().unwrap();
    let mut operator = Socket::operator(&s.base, &s.api_key, None);
    operator.wait_for(10, "hello", |f| f["type"] == "hello");
    let mut visitor = Socket::connect(
        &node_b,
        &format!("/widget/ws?key={key}&token={token}"),
        &[("Origin", SHOP)],
    )
    .expect("the widget socket opens");
    visitor.wait_for(20, "operators online", |f| {
        f["type"] == "operators" && f["data"]["online"] == true
    });
    visitor.send(json!({"type": "message", "client_id": "b-0", "body": "before"}));
    let created = operator.wait_for(10, "the first message", |f| f["type"] == "message.created");
    let conversation_id = created["data"]["data"]["conversation_id"].as_str().unwrap().to_string();

    let restart = rapport_testkit::StoppedBroker::stop();
    // Messages written while the broker is away still reach both sides: changes come
    // from the event log, not from the broker.
    for i in 0..8 {
        // Paced: a visitor may send 10 messages at once, then one every 2 s.
        std::thread::sleep(Duration::from_millis(300));
        visitor.send(json!({"type": "message", "client_id": format!("b-{}", i + 1), "body": format!("during {i}")}));
        s.post(
            &format!("conversation/{conversation_id}/message/"),
            json!({"body": format!("reply {i}")}),
        )
        .created();
    }
    for i in 0..8 {
        let body = format!("during {i}");
        operator.wait_for(20, &body, |f| {
            f["type"] == "message.created" && f["data"]["data"]["body"] == body.as_str()
        });
        let reply = format!("reply {i}");
        visitor.wait_for(20, &reply, |f| {
            f["type"] == "message" && f["data"]["body"] == reply.as_str()
        });
    }
    drop(restart);
    // Signals cross again once both nodes have reconnected.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        operator.send(json!({"type": "typing", "conversation_id": conversation_id, "typing": true}));
        visitor.drain(Duration::from_millis(500));
        if visitor.frames.iter().any(|f| f["type"] == "typing") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "typing did not cross the nodes after the restart"
        );
    }
    // Every message once, in order, on both sides.
    let received: Vec<String> = visitor
        .frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["data"]["body"].as_str().unwrap().to_string())
        .collect();
    let mut unique = received.clone();
    unique.dedup();
    assert_eq!(received, unique, "no duplicates");
    assert_eq!(received.len(), 17, "{received:?}");
    let messages = s.get(&format!("conversation/{conversation_id}/message/")).ok();
    assert_eq!(messages["data"].as_array().unwrap().len(), 17);
}
