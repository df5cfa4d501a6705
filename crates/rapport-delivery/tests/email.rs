//! Email through a real SMTP server (`rapport_testkit::smtp`: Python's `aiosmtpd`, storing
//! what it accepts in a Maildir that the tests read back).

use rapport_delivery::{DeliveryError, Email, Mailer, SmtpConfig};
use rapport_testkit::smtp::{free_port, header, SmtpServer};

/// The settings of a client of `server`, in the documented TOML shape.
fn config(server: &SmtpServer) -> SmtpConfig {
    let toml = format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"Rapport CRM <crm@rapport.test>\"\ntimeout = 10\n",
        server.port
    );
    toml::from_str(&toml).expect("the documented TOML shape parses")
}

fn quote_email() -> Email {
    Email {
        to: vec!["Ada Lovelace <ada@example.test>".into(), "bob@example.test".into()],
        cc: vec!["carol@example.test".into()],
        bcc: vec!["dave@example.test".into()],
        reply_to: Some("Sales <sales@rapport.test>".into()),
        subject: "Your quote #42".into(),
        text_body: "Hello Ada,\n\nHere is the quote we discussed.\n".into(),
        html_body: None,
        message_id: Some("job_42.email@rapport.test".into()),
        headers: vec![("X-Rapport-Job".into(), "job_42".into())],
    }
}

#[tokio::test]
async fn an_email_arrives_with_its_recipients_headers_and_body() {
    let Some(server) = SmtpServer::start("arrives") else {
        return;
    };
    let mailer = Mailer::new(config(&server)).unwrap();

    mailer.send(&quote_email()).await.unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    let h = |name| header(message, name).unwrap_or_else(|| panic!("no {name} header in {message}"));
    assert_eq!(h("From"), "\"Rapport CRM\" <crm@rapport.test>");
    assert_eq!(h("To"), "\"Ada Lovelace\" <ada@example.test>, bob@example.test");
    assert_eq!(h("Cc"), "carol@example.test");
    assert_eq!(h("Reply-To"), "Sales <sales@rapport.test>");
    assert_eq!(h("Subject"), "Your quote #42");
    assert_eq!(h("Message-ID"), "<job_42.email@rapport.test>");
    assert_eq!(h("X-Rapport-Job"), "job_42");
    assert_eq!(
        header(message, "Bcc"),
        None,
        "Bcc must not be shown to the other recipients"
    );
    // aiosmtpd records the envelope: Bcc recipients are in it.
    assert_eq!(
        h("X-RcptTo"),
        "ada@example.test, bob@example.test, carol@example.test, dave@example.test"
    );
    assert_eq!(h("X-MailFrom"), "crm@rapport.test");
    assert!(
        message.contains("Hello Ada,\n\nHere is the quote we discussed."),
        "{message}"
    );
}

#[tokio::test]
async fn a_retried_send_repeats_the_message_id_and_html_goes_as_an_alternative() {
    let Some(server) = SmtpServer::start("retried") else {
        return;
    };
    let mailer = Mailer::new(config(&server)).unwrap();
    let email = Email {
        html_body: Some("<p>Hello <b>Ada</b></p>".into()),
        message_id: Some("<job_43.email@rapport.test>".into()),
        ..quote_email()
    };

    mailer.send(&email).await.unwrap();
    mailer.send(&email).await.unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert_eq!(
            header(message, "Message-ID").as_deref(),
            Some("<job_43.email@rapport.test>")
        );
        assert!(
            header(message, "Content-Type")
                .unwrap()
                .starts_with("multipart/alternative"),
            "{message}"
        );
        assert!(message.contains("Content-Type: text/plain"), "{message}");
        assert!(message.contains("Content-Type: text/html"), "{message}");
        assert!(message.contains("<p>Hello <b>Ada</b></p>"), "{message}");
    }
}

#[tokio::test]
async fn refusals_are_permanent_or_transient_as_the_server_says() {
    let Some(server) = SmtpServer::start("refusals") else {
        return;
    };
    let mailer = Mailer::new(config(&server)).unwrap();
    for (recipient, permanent, code) in [
        ("permanent@refuse.test", true, "550"),
        ("transient@refuse.test", false, "451"),
    ] {
        let email = Email {
            to: vec![recipient.into()],
            cc: vec![],
            bcc: vec![],
            ..quote_email()
        };
        let error = mailer.send(&email).await.unwrap_err();
        assert!(
            matches!(error, DeliveryError::Smtp { permanent: p, .. } if p == permanent),
            "{recipient}: {error:?}"
        );
        assert_eq!(error.is_retryable(), !permanent, "{recipient}");
        let text = error.to_string();
        assert!(
            text.contains(&format!("127.0.0.1:{}", server.port)) && text.contains(code),
            "{text}"
        );
    }
    assert!(server.messages().is_empty());
    // The pool recovers: the next email goes through.
    mailer.send(&quote_email()).await.unwrap();
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_smtp_error() {
    let port = free_port();
    let config: SmtpConfig = toml::from_str(&format!(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"crm@rapport.test\"\n"
    ))
    .unwrap();
    let error = Mailer::new(config).unwrap().send(&quote_email()).await.unwrap_err();
    assert!(
        matches!(error, DeliveryError::Smtp { permanent: false, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        error
            .to_string()
            .starts_with(&format!("SMTP delivery through 127.0.0.1:{port} failed: ")),
        "{error}"
    );
}

#[tokio::test]
async fn bad_emails_are_refused_before_connecting_and_not_retried() {
    // A listener that must see no connection: every email below is refused first.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"crm@rapport.test\"\n");
    let mailer = Mailer::new(toml::from_str(&config).unwrap()).unwrap();

    let cases: Vec<(Email, &str)> = vec![
        (
            Email {
                to: vec!["not-an-address".into()],
                ..quote_email()
            },
            "invalid email address in to[0]: \"not-an-address\"",
        ),
        (
            Email {
                cc: vec!["carol@example.test".into(), "carol@".into()],
                ..quote_email()
            },
            "in cc[1]: \"carol@\"",
        ),
        (
            Email {
                bcc: vec!["dave example.test".into()],
                ..quote_email()
            },
            "in bcc[0]",
        ),
        (
            Email {
                reply_to: Some("sales".into()),
                ..quote_email()
            },
            "in reply_to",
        ),
        (
            Email {
                to: vec![],
                cc: vec![],
                bcc: vec![],
                ..quote_email()
            },
            "no recipient",
        ),
        (
            Email {
                message_id: Some("no at sign".into()),
                ..quote_email()
            },
            "message_id",
        ),
        (
            Email {
                headers: vec![("Bcc".into(), "eve@evil.test".into())],
                ..quote_email()
            },
            "headers[0] (\"Bcc\")",
        ),
        (
            Email {
                headers: vec![("X-Ok".into(), "a\r\nBcc: eve@evil.test".into())],
                ..quote_email()
            },
            "line break",
        ),
        (
            Email {
                headers: vec![("Bad Name".into(), "x".into())],
                ..quote_email()
            },
            "not a valid header name",
        ),
    ];
    for (email, expect) in cases {
        let error = mailer.send(&email).await.unwrap_err();
        assert!(error.to_string().contains(expect), "expected {expect:?} in: {error}");
        assert!(!error.is_retryable(), "{error}");
    }
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "an invalid email connected"
    );

    let bad_from = format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"Rapport\"\n");
    let error = Mailer::new(toml::from_str(&bad_from).unwrap())
        .err()
        .expect("a bad from is refused");
    assert!(
        error
            .to_string()
            .starts_with("invalid email address in from: \"Rapport\""),
        "{error}"
    );
    assert!(!error.is_retryable());
}
