//! Chat notifications, as Crisp does them:
//!
//! | task | when | does |
//! |---|---|---|
//! | `chat:notify_unread` | a visitor message, run after the website's delay (default 3 min) | emails the assignee, else the website's operators, when no operator has read it |
//! | `chat:slack` | a visitor message on a website with a Slack URL | posts it to that Slack incoming webhook |
//! | `chat:email_visitor` | an operator's reply (not a private note) | emails it to the visitor when they left an email and did not see it in the widget |

use std::sync::Arc;

use rapport_core::{time, Kind};
use rapport_crm::Website;
use rapport_delivery::{section, slack_escape, Email, SlackMessage};
use rapport_log::{Action, Event};
use rapport_queue::{Job, JobError, NewJob};
use serde_json::{json, Map, Value};

use crate::{delivery_failed, payload_str, retry, send_email, Context};

pub const CHAT_NOTIFY_UNREAD: &str = "chat:notify_unread";
pub const CHAT_SLACK: &str = "chat:slack";
pub const CHAT_EMAIL_VISITOR: &str = "chat:email_visitor";

/// A reply waits this long for the visitor to see it in an open widget before it is
/// emailed.
const VISITOR_GRACE_SECONDS: i64 = 5;

/// The jobs a new message causes.
pub(crate) async fn jobs_for_message(
    crm: &rapport_crm::Crm,
    event: &Event,
) -> Result<Vec<NewJob>, rapport_crm::CrmError> {
    if !event.is(Kind::Message.object_type(), Action::Created) {
        return Ok(Vec::new());
    }
    let data = &event.data;
    let conversation_id = data.get("conversation_id").and_then(Value::as_str).unwrap_or_default();
    // The conversation is read once: its read marks key the emails below, and messages
    // written before they carried their website find it there.
    let Some(conversation) = crm.conversation(&event.organization_id, conversation_id).await? else {
        return Ok(Vec::new());
    };
    let website_id = data
        .get("website_id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| text(&conversation, "website_id"))
        .to_string();
    let Some(website) = crm.website(&event.organization_id, &website_id).await? else {
        return Ok(Vec::new());
    };
    let payload = json!({"conversation_id": conversation_id, "message_id": event.object_id});
    let job = |task: &str, delay_seconds: i64, dedupe_key: String| {
        NewJob::new(task, &event.organization_id, payload.clone())
            .dedupe_key(dedupe_key)
            .event_seq(event.seq)
            .run_at(time::now().timestamp_millis() + delay_seconds * 1000)
    };
    // Emails are coalesced per conversation: one per side until that side reads it (the
    // read mark is in the key), so a flood of messages is one email, not one each.
    let until_read = |mark: &str| {
        let read = conversation.get(mark).and_then(Value::as_str).unwrap_or("never");
        format!("{conversation_id}:{read}")
    };
    let mut jobs = Vec::new();
    match data.get("author").and_then(Value::as_str) {
        Some("visitor") => {
            let delay = website.notify_delay_seconds();
            jobs.push(job(CHAT_NOTIFY_UNREAD, delay, until_read("operator_read_at")));
            if website.slack_webhook_url().is_some() {
                jobs.push(job(CHAT_SLACK, 0, event.object_id.clone()));
            }
        }
        Some("operator") if data.get("private") != Some(&Value::Bool(true)) => {
            jobs.push(job(
                CHAT_EMAIL_VISITOR,
                VISITOR_GRACE_SECONDS,
                until_read("visitor_read_at"),
            ));
        }
        _ => {}
    }
    Ok(jobs)
}

/// What a chat job acts on, as it is now.
struct Subject {
    conversation: Map<String, Value>,
    message: Map<String, Value>,
    website: Website,
}

async fn subject_of(ctx: &Context, job: &Job) -> Result<Option<Subject>, JobError> {
    let org = &job.organization_id;
    let conversation_id = payload_str(job, "conversation_id")?;
    let message_id = payload_str(job, "message_id")?;
    let Some(conversation) = ctx.crm.conversation(org, conversation_id).await.map_err(retry)? else {
        return Ok(None);
    };
    let Some(message) = ctx.crm.message(org, message_id).await.map_err(retry)? else {
        return Ok(None);
    };
    let website_id = conversation
        .get("website_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(website) = ctx.crm.website(org, website_id).await.map_err(retry)? else {
        return Ok(None);
    };
    Ok(Some(Subject {
        conversation,
        message,
        website,
    }))
}

fn text<'a>(map: &'a Map<String, Value>, field: &str) -> &'a str {
    map.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn visitor_label(conversation: &Map<String, Value>) -> String {
    [text(conversation, "visitor_name"), text(conversation, "visitor_email")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("A visitor")
        .to_string()
}

/// Whether `at` (a stored time) is at or after `since`.
fn at_or_after(at: &str, since: &str) -> bool {
    match (time::parse_datetime(at), time::parse_datetime(since)) {
        (Some(at), Some(since)) => at >= since,
        _ => false,
    }
}

pub(crate) async fn notify_unread(ctx: Arc<Context>, job: Job) -> Result<(), JobError> {
    let Some(Subject {
        conversation,
        message,
        website,
    }) = subject_of(&ctx, &job).await?
    else {
        return Ok(());
    };
    let read = text(&conversation, "operator_read_at");
    if at_or_after(read, message_date(&message)) {
        return Ok(());
    }
    let recipients = ctx.crm.chat_recipients(&website, &conversation).await.map_err(retry)?;
    if recipients.is_empty() {
        return Ok(());
    }
    let who = visitor_label(&conversation);
    let body = text(&message, "body");
    send_email(
        &ctx,
        &Email {
            to: recipients,
            subject: format!("{who} wrote on {}", website.name()),
            text_body: format!(
                "{who} wrote on {}:\n\n{body}\n\nNobody has read it yet. Conversation: {}\n",
                website.name(),
                text(&conversation, "id")
            ),
            message_id: Some(format!("{}.unread@rapport", payload_str(&job, "message_id")?)),
            ..Email::default()
        },
    )
    .await
}

pub(crate) async fn slack(ctx: Arc<Context>, job: Job) -> Result<(), JobError> {
    let Some(Subject {
        conversation,
        message,
        website,
    }) = subject_of(&ctx, &job).await?
    else {
        return Ok(());
    };
    let Some(url) = website.slack_webhook_url() else {
        return Ok(());
    };
    let who = slack_escape(&visitor_label(&conversation));
    let body: String = text(&message, "body").chars().take(2_000).collect();
    let headline = format!("*{who}* on {}", slack_escape(website.name()));
    let slack_message = SlackMessage {
        text: format!("{headline}: {}", slack_escape(&body)),
        blocks: vec![section(&headline), section(&slack_escape(&body))],
    };
    rapport_delivery::send_slack(&ctx.policy, url, &slack_message)
        .await
        .map_err(delivery_failed)
}

pub(crate) async fn email_visitor(ctx: Arc<Context>, job: Job) -> Result<(), JobError> {
    let Some(Subject {
        conversation,
        message,
        website,
    }) = subject_of(&ctx, &job).await?
    else {
        return Ok(());
    };
    let email = text(&conversation, "visitor_email");
    if email.is_empty() {
        return Ok(());
    }
    let visitor_id = text(&conversation, "visitor_id");
    let online = ctx
        .crm
        .visitor_online(&job.organization_id, visitor_id)
        .await
        .map_err(retry)?;
    let seen = at_or_after(text(&conversation, "visitor_read_at"), message_date(&message));
    if online || seen {
        return Ok(());
    }
    let operator = Some(text(&message, "user_name"))
        .filter(|n| !n.is_empty())
        .unwrap_or("Our team");
    send_email(
        &ctx,
        &Email {
            to: vec![email.to_string()],
            subject: format!("New reply from {}", website.name()),
            text_body: format!(
                "{operator} replied to your chat on {}:\n\n{}\n",
                website.name(),
                text(&message, "body")
            ),
            message_id: Some(format!("{}.reply@rapport", payload_str(&job, "message_id")?)),
            ..Email::default()
        },
    )
    .await
}

fn message_date(message: &Map<String, Value>) -> &str {
    text(message, "date_created")
}
