//! `slack:send_message`: an event as a message in a Slack channel (a subscription whose
//! `target` is `slack`, its URL a Slack incoming webhook).

use std::sync::Arc;

use rapport_delivery::{section, slack_escape, SlackMessage};
use rapport_queue::{Job, JobError};
use serde_json::{json, Value};

use crate::webhook::{delivery_of, record_outcome};
use crate::Context;

pub(crate) async fn send(ctx: Arc<Context>, job: Job) -> Result<(), JobError> {
    let Some(delivery) = delivery_of(&ctx, &job).await? else {
        return Ok(());
    };
    let message = message_for(&delivery.event);
    let sent = rapport_delivery::send_slack(&ctx.policy, delivery.url(), &message).await;
    record_outcome(&ctx, &job, &delivery, sent).await
}

/// "Lead *Acme* was created", with the object's id in a context line.
pub(crate) fn message_for(event: &Value) -> SlackMessage {
    let object_type = event["object_type"].as_str().unwrap_or("object");
    let what = object_type.rsplit('.').next().unwrap_or(object_type).replace('_', " ");
    let what = capitalized(&what);
    let action = event["action"].as_str().unwrap_or("changed");
    let data = &event["data"];
    let name = ["display_name", "name", "subject", "title", "text", "note", "label"]
        .iter()
        .find_map(|field| data[field].as_str().filter(|s| !s.trim().is_empty()))
        .map(|s| s.chars().take(150).collect::<String>());
    let text = match &name {
        Some(name) => format!("{what} *{}* was {action}", slack_escape(name)),
        None => format!("{what} was {action}"),
    };
    let context = json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_escape(event["object_id"].as_str().unwrap_or(""))}],
    });
    SlackMessage {
        text: text.clone(),
        blocks: vec![section(&text), context],
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_object_and_escapes_it() {
        let event = json!({"object_type": "lead", "object_id": "lead_1", "action": "created", "data": {"display_name": "Acme <&> Co"}});
        let message = message_for(&event);
        assert_eq!(message.text, "Lead *Acme &lt;&amp;&gt; Co* was created");
        assert_eq!(
            message.blocks[0]["text"]["text"],
            "Lead *Acme &lt;&amp;&gt; Co* was created"
        );
        let event = json!({"object_type": "activity.email", "object_id": "acti_1", "action": "deleted", "data": {}});
        assert_eq!(message_for(&event).text, "Email was deleted");
    }
}
