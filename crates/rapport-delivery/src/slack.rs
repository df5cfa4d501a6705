//! Messages to Slack's incoming webhooks.

use serde::Serialize;
use serde_json::{json, Value};

use crate::http::{excerpt, post, DEFAULT_TIMEOUT};
use crate::{AddressPolicy, DeliveryError};

const SLACK_USER_AGENT: &str = "Rapport-Slack/1";

/// An incoming-webhook message: `text` is the notification (and the fallback where
/// blocks are not shown); `blocks` are Block Kit blocks, left out of the JSON when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlackMessage {
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
}

/// POSTs `message` to a Slack incoming webhook. Slack answers `200 ok`; anything else is
/// [`DeliveryError::Slack`] carrying Slack's answer (`invalid_payload`, `no_service`, …).
pub async fn send_slack(
    policy: &AddressPolicy,
    webhook_url: &str,
    message: &SlackMessage,
) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(message).expect("a SlackMessage serializes");
    let answer = post(
        policy,
        webhook_url,
        &[("user-agent", SLACK_USER_AGENT)],
        &body,
        DEFAULT_TIMEOUT,
    )
    .await?;
    if answer.status == 200 && answer.body.trim_ascii() == b"ok" {
        return Ok(());
    }
    Err(DeliveryError::Slack {
        status: answer.status,
        body: excerpt(&answer.body),
    })
}

/// Escapes the three characters Slack's mrkdwn treats as control characters
/// (`&`, `<`, `>`), so user text cannot form links or mentions.
pub fn slack_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A section block of mrkdwn text (escape user text with [`slack_escape`] first).
pub fn section(markdown_text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": markdown_text } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        for (input, expect) in [
            ("plain", "plain"),
            ("a & b", "a &amp; b"),
            ("<!channel> <@U123>", "&lt;!channel&gt; &lt;@U123&gt;"),
            ("&amp;", "&amp;amp;"),
            ("Zoë *bold*", "Zoë *bold*"),
        ] {
            assert_eq!(slack_escape(input), expect, "{input}");
        }
    }

    #[test]
    fn message_json() {
        let bare = SlackMessage {
            text: "hi".into(),
            blocks: vec![],
        };
        assert_eq!(serde_json::to_value(&bare).unwrap(), json!({ "text": "hi" }));
        let with_blocks = SlackMessage {
            text: "hi".into(),
            blocks: vec![section("*New lead*")],
        };
        assert_eq!(
            serde_json::to_value(&with_blocks).unwrap(),
            json!({ "text": "hi", "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "*New lead*" } }] })
        );
    }
}
