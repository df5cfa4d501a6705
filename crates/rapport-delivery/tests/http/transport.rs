use std::time::{Duration, Instant};

use rapport_delivery::{post_json, AddressPolicy, DeliveryError, BODY_EXCERPT_CHARS};

use crate::allow_loopback;
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn caller_headers_and_the_exact_body_are_sent() {
    let receiver = Receiver::start(Reply::status(201, "")).await;
    let body = br#"{"a":[1,2,3]}"#;
    let status = post_json(
        &allow_loopback(),
        &receiver.url("/in"),
        &[("x-event", "lead.created")],
        body,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let request = receiver.request();
    assert_eq!(request.header("x-event"), Some("lead.created"));
    assert_eq!(request.header("user-agent"), Some("Rapport/1"));
    assert_eq!(request.header("content-length"), Some("13"));
    assert_eq!(request.body, body);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let receiver = Receiver::start(Reply::hang()).await;
    let started = Instant::now();
    let error = post_json(
        &allow_loopback(),
        &receiver.url("/"),
        &[],
        b"{}",
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DeliveryError::Timeout { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(receiver.requests().len(), 1, "the request was sent before the wait");
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = post_json(
        &allow_loopback(),
        &format!("http://127.0.0.1:{port}/"),
        &[],
        b"{}",
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DeliveryError::Connect { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        error
            .to_string()
            .starts_with(&format!("could not connect to http://127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test]
async fn long_error_bodies_are_cut_to_an_excerpt() {
    let receiver = Receiver::start(Reply::status(502, &"x".repeat(200_000))).await;
    let error = post_json(
        &allow_loopback(),
        &receiver.url("/"),
        &[],
        b"{}",
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    let DeliveryError::Status {
        status: 502,
        body_excerpt,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(body_excerpt.chars().count(), BODY_EXCERPT_CHARS + 1);
    assert!(body_excerpt.starts_with("xxxx") && body_excerpt.ends_with('…'));
}

#[tokio::test]
async fn https_urls_are_sent_over_tls_with_the_host_name() {
    let receiver = Receiver::start(Reply::status(200, "ok")).await;
    let policy = AddressPolicy {
        allow: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    };
    let url = format!("https://localhost:{}/hook", receiver.addr.port());

    let error = post_json(&policy, &url, &[], b"{}", Duration::from_secs(5))
        .await
        .unwrap_err();

    // The receiver speaks plain HTTP, so the handshake fails, retryably.
    assert!(matches!(error, DeliveryError::Tls { .. }), "{error:?}");
    assert!(error.is_retryable());
    let openings = receiver.openings();
    assert_eq!(openings.len(), 1);
    let hello = &openings[0];
    assert_eq!(hello[0], 0x16, "a TLS handshake record");
    assert!(
        hello.windows(9).any(|w| w == b"localhost"),
        "the ClientHello names the server (SNI)"
    );
    assert!(receiver.requests().is_empty(), "no plain-text request was sent");
}
