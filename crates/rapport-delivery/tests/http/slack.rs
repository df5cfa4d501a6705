use rapport_delivery::{section, send_slack, slack_escape, DeliveryError, SlackMessage};
use serde_json::{json, Value};

use crate::allow_loopback;
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn slack_answering_ok_is_success_and_gets_incoming_webhook_json() {
    let receiver = Receiver::start(Reply::status(200, "ok")).await;
    let lead = slack_escape("Acme & <Co>");
    let message = SlackMessage {
        text: format!("New lead: {lead}"),
        blocks: vec![section(&format!("*{lead}* was created")), json!({ "type": "divider" })],
    };

    send_slack(&allow_loopback(), &receiver.url("/services/T000/B000/XXXX"), &message)
        .await
        .unwrap();

    let request = receiver.request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/services/T000/B000/XXXX");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "text": "New lead: Acme &amp; &lt;Co&gt;",
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": "*Acme &amp; &lt;Co&gt;* was created" } },
                { "type": "divider" }
            ]
        })
    );
}

#[tokio::test]
async fn a_message_without_blocks_sends_no_blocks_key() {
    let receiver = Receiver::start(Reply::status(200, "ok")).await;
    send_slack(
        &allow_loopback(),
        &receiver.url("/s"),
        &SlackMessage {
            text: "plain".into(),
            blocks: vec![],
        },
    )
    .await
    .unwrap();
    let body: Value = serde_json::from_slice(&receiver.request().body).unwrap();
    assert_eq!(body, json!({ "text": "plain" }));
}

#[tokio::test]
async fn anything_but_200_ok_is_an_error_carrying_slacks_answer() {
    for (status, answer) in [
        (400, "invalid_payload"),
        (404, "no_service"),
        (410, "channel_is_archived"),
        (500, "rollup_error"),
        (200, ""),
    ] {
        let receiver = Receiver::start(Reply::status(status, answer)).await;
        let message = SlackMessage {
            text: "hi".into(),
            blocks: vec![],
        };
        let error = send_slack(&allow_loopback(), &receiver.url("/s"), &message)
            .await
            .unwrap_err();
        match &error {
            DeliveryError::Slack { status: got, body } => assert_eq!((*got, body.as_str()), (status, answer)),
            other => panic!("{status} {answer}: {other:?}"),
        }
        assert!(error.to_string().contains(&format!("HTTP {status}")), "{error}");
        assert!(
            error
                .to_string()
                .contains(if answer.is_empty() { "(empty body)" } else { answer }),
            "{error}"
        );
        assert!(
            !error.to_string().contains("/s"),
            "the webhook path must stay out of errors: {error}"
        );
    }
}
