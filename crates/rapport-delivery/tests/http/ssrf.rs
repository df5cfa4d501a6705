use std::io::Write;

use rapport_delivery::{
    deliver_webhook, new_signature_key, post_json, send_slack, AddressPolicy, DeliveryError, SlackMessage,
};

use crate::allow_loopback;
use crate::receiver::{Receiver, Reply};

fn assert_refused(result: Result<impl std::fmt::Debug, DeliveryError>, url: &str) {
    match result {
        Err(error @ DeliveryError::Refused { .. }) => assert!(!error.is_retryable(), "{url}"),
        other => panic!("{url}: expected a refusal, got {other:?}"),
    }
}

/// Every kind of HTTP delivery, aimed at a live receiver, is refused before connecting.
async fn assert_every_delivery_refused(policy: &AddressPolicy, url: &str) {
    assert_refused(deliver_webhook(policy, url, &new_signature_key(), b"{}", 1).await, url);
    assert_refused(
        post_json(policy, url, &[], b"{}", rapport_delivery::DEFAULT_TIMEOUT).await,
        url,
    );
    assert_refused(
        send_slack(
            policy,
            url,
            &SlackMessage {
                text: "hi".into(),
                blocks: vec![],
            },
        )
        .await,
        url,
    );
}

#[tokio::test]
async fn loopback_receivers_are_refused_before_any_connection() {
    let receiver = Receiver::start(Reply::status(200, "ok")).await;
    let port = receiver.addr.port();
    let policy = AddressPolicy::default();

    assert_every_delivery_refused(&policy, &receiver.url("/hook")).await;
    assert_every_delivery_refused(&policy, &format!("http://localhost:{port}/hook")).await;
    assert_every_delivery_refused(&policy, &format!("http://[::ffff:127.0.0.1]:{port}/hook")).await;
    assert_every_delivery_refused(&policy, &format!("http://2130706433:{port}/hook")).await;

    assert_eq!(receiver.connections(), 0, "a refused delivery connected");
}

#[tokio::test]
async fn ipv6_loopback_receiver_is_refused_before_any_connection() {
    let Ok(receiver) = Receiver::bind("[::1]:0", Reply::status(200, "ok")).await else {
        // Straight to stderr: the test harness would hide an `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED the [::1] receiver: this host has no IPv6 loopback (the address table is unit-tested) ***\n"
        );
        return;
    };
    // Allowing 127.0.0.1 does not open ::1.
    assert_every_delivery_refused(&allow_loopback(), &receiver.url("/hook")).await;
    assert_eq!(receiver.connections(), 0, "a refused delivery connected");
}

#[tokio::test]
async fn allowing_127_0_0_1_lets_deliveries_through() {
    let receiver = Receiver::start(Reply::status(200, "ok")).await;
    let status = deliver_webhook(
        &allow_loopback(),
        &receiver.url("/hook"),
        &new_signature_key(),
        b"{}",
        1,
    )
    .await;
    assert_eq!(status.unwrap(), 200);
    assert_eq!(receiver.connections(), 1);
}

/// Internal addresses off this host are checked with `resolve`, which never connects:
/// a test must not send packets to them even when the code under test is broken.
#[tokio::test]
async fn internal_addresses_are_refused_when_resolving() {
    let policy = AddressPolicy::default();
    for (url, range) in [
        ("http://10.0.0.1/hook", "RFC 1918"),
        ("https://192.168.1.20:8443/hook", "RFC 1918"),
        ("http://172.20.0.5/", "RFC 1918"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "unique local"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[::1]/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://127.0.0.1/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "RFC 1918"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
    ] {
        match policy.resolve(url).await {
            Err(DeliveryError::Refused { range: got, .. }) => assert!(got.contains(range), "{url}: refused as {got}"),
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn public_and_allowed_addresses_resolve_to_what_is_connected() {
    let policy = AddressPolicy::default();
    let addrs = policy.resolve("https://93.184.216.34/hook").await.unwrap();
    assert_eq!(addrs, vec!["93.184.216.34:443".parse().unwrap()]);
    let addrs = allow_loopback().resolve("http://127.0.0.1:9/").await.unwrap();
    assert_eq!(addrs, vec!["127.0.0.1:9".parse().unwrap()]);
    let policy = AddressPolicy {
        allow: vec!["10.20.0.0/16".parse().unwrap()],
    };
    assert_eq!(
        policy.resolve("http://10.20.3.4:8080/").await.unwrap(),
        vec!["10.20.3.4:8080".parse().unwrap()]
    );
    assert!(policy.resolve("http://10.21.0.1/").await.is_err());
}

#[tokio::test]
async fn only_http_urls_without_credentials_are_delivered_to() {
    let receiver = Receiver::start(Reply::status(200, "ok")).await;
    let port = receiver.addr.port();
    for url in [
        format!("ftp://127.0.0.1:{port}/"),
        "file:///etc/passwd".to_string(),
        format!("gopher://127.0.0.1:{port}/"),
        format!("http://user:secret@127.0.0.1:{port}/"),
        "not a url".to_string(),
        "http://".to_string(),
    ] {
        let error = deliver_webhook(&allow_loopback(), &url, &new_signature_key(), b"{}", 1)
            .await
            .unwrap_err();
        assert!(matches!(error, DeliveryError::BadUrl { .. }), "{url}: {error:?}");
        assert!(!error.is_retryable(), "{url}");
        assert!(!error.to_string().contains("secret"), "{url}: {error}");
    }
    assert_eq!(receiver.connections(), 0);
}
