use hmac::{Hmac, Mac};
use rapport_delivery::{deliver_webhook, new_signature_key, DeliveryError};
use sha2::Sha256;

use crate::allow_loopback;
use crate::receiver::{Receiver, Reply};

/// The documented recipe, written out again here rather than calling `sign`.
fn verifies(signature_key_hex: &str, timestamp: &str, body: &[u8], hash_hex: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(signature_key_hex).unwrap()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body);
    hex::decode(hash_hex).is_ok_and(|hash| mac.verify_slice(&hash).is_ok())
}

#[tokio::test]
async fn delivers_the_body_signed_as_close_signs_it() {
    let receiver = Receiver::start(Reply::status(200, "thanks")).await;
    let key = new_signature_key();
    let body = br#"{"event":{"id":"ev_1","action":"created","data":{"name":"Zo\u00eb & Co"}}}"#;

    let status = deliver_webhook(
        &allow_loopback(),
        &receiver.url("/hooks/close?src=rapport"),
        &key,
        body,
        1_700_000_123,
    )
    .await
    .unwrap();

    assert_eq!(status, 200);
    let request = receiver.request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/hooks/close?src=rapport");
    assert_eq!(request.body, body);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("user-agent"), Some("Rapport-Webhooks/1"));
    assert_eq!(request.header("host"), Some(receiver.addr.to_string().as_str()));
    assert_eq!(request.header("close-sig-timestamp"), Some("1700000123"));
    let hash = request.header("close-sig-hash").expect("close-sig-hash is sent");
    assert_eq!(hash.len(), 64);
    assert_eq!(hash, hash.to_ascii_lowercase());
    assert!(verifies(&key, "1700000123", &request.body, hash));
    // The check above can fail: another timestamp, body or key does not verify.
    assert!(!verifies(&key, "1700000124", &request.body, hash));
    assert!(!verifies(&key, "1700000123", b"{}", hash));
    assert!(!verifies(&new_signature_key(), "1700000123", &request.body, hash));
}

#[tokio::test]
async fn any_2xx_is_success_and_anything_else_a_retryable_failure() {
    for (status, ok) in [
        (200, true),
        (201, true),
        (202, true),
        (204, true),
        (400, false),
        (404, false),
        (410, false),
        (500, false),
        (503, false),
    ] {
        let receiver = Receiver::start(Reply::status(status, if status == 204 { "" } else { "answer" })).await;
        let result = deliver_webhook(&allow_loopback(), &receiver.url("/"), &new_signature_key(), b"{}", 1).await;
        match result {
            Ok(got) => assert!(ok && got == status, "{status}: delivered, got {got}"),
            Err(error) => {
                let DeliveryError::Status {
                    status: got,
                    body_excerpt,
                } = &error
                else {
                    panic!("{status}: {error}")
                };
                assert!(!ok && *got == status, "{status}: failed with {got}");
                assert_eq!(body_excerpt, "answer");
                assert!(error.is_retryable(), "{status}");
            }
        }
        assert_eq!(
            receiver.requests().len(),
            1,
            "{status}: one attempt, no retry inside the call"
        );
    }
}

#[tokio::test]
async fn a_500_is_a_retryable_status_error_with_the_body() {
    let receiver = Receiver::start(Reply::status(500, "database is down")).await;
    let error = deliver_webhook(
        &allow_loopback(),
        &receiver.url("/hook"),
        &new_signature_key(),
        b"{}",
        1,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DeliveryError::Status { status: 500, .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(error.to_string(), "the receiver answered HTTP 500: database is down");
}

#[tokio::test]
async fn redirects_are_failures_and_not_followed() {
    let elsewhere = Receiver::start(Reply::status(200, "ok")).await;
    let receiver = Receiver::start(Reply::status(302, "").header("location", &elsewhere.url("/stolen"))).await;

    let error = deliver_webhook(
        &allow_loopback(),
        &receiver.url("/hook"),
        &new_signature_key(),
        b"{}",
        1,
    )
    .await
    .unwrap_err();

    assert!(matches!(error, DeliveryError::Status { status: 302, .. }), "{error:?}");
    assert!(error.to_string().contains("redirects are not followed"), "{error}");
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(elsewhere.connections(), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_bad_signature_key_sends_nothing() {
    let receiver = Receiver::start(Reply::status(200, "")).await;
    for key in ["", "not hex", "abc"] {
        let error = deliver_webhook(&allow_loopback(), &receiver.url("/"), key, b"{}", 1)
            .await
            .unwrap_err();
        assert!(matches!(error, DeliveryError::BadSignatureKey), "{key:?}: {error:?}");
        assert!(!error.is_retryable());
    }
    assert_eq!(receiver.connections(), 0);
}
