//! `email:send`: an email activity in the outbox, sent over SMTP, then marked `sent` (or
//! `error` when it cannot be sent), as Close does with `status: "outbox"`.

use std::sync::Arc;

use rapport_core::Kind;
use rapport_delivery::Email;
use rapport_queue::{Job, JobError};
use serde_json::{Map, Value};

use crate::{payload_str, retry, send_email, Context};

pub(crate) async fn send(ctx: Arc<Context>, job: Job) -> Result<(), JobError> {
    let id = payload_str(&job, "activity_id")?;
    let org = &job.organization_id;
    let Some(activity) = ctx.crm.stored_object(org, Kind::Email, id).await.map_err(retry)? else {
        return Ok(());
    };
    // Sent already (a retry after the SMTP server took it), or taken out of the outbox.
    if activity.get("status").and_then(Value::as_str) != Some("outbox") {
        return Ok(());
    }
    let email = email_of(id, &activity);
    let outcome = if email.to.is_empty() && email.cc.is_empty() && email.bcc.is_empty() {
        Err(JobError::Permanent("the email has no recipient".into()))
    } else {
        send_email(&ctx, &email).await
    };
    let status = match &outcome {
        Ok(()) => Some("sent"),
        Err(JobError::Permanent(_)) => Some("error"),
        Err(JobError::Retry(_)) if job.attempt >= job.max_attempts => Some("error"),
        Err(JobError::Retry(_)) => None,
    };
    if let Some(status) = status {
        let mut changes = Map::new();
        changes.insert("status".into(), status.into());
        ctx.crm
            .system_update(org, Kind::Email, id, &changes)
            .await
            .map_err(retry)?;
    }
    outcome
}

fn addresses(activity: &Map<String, Value>, field: &str) -> Vec<String> {
    activity
        .get(field)
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|a| a.as_str().map(Into::into)).collect())
        .unwrap_or_default()
}

fn text(activity: &Map<String, Value>, field: &str) -> Option<String> {
    activity.get(field).and_then(Value::as_str).map(Into::into)
}

/// The message of an email activity. Its `Message-ID` is derived from the activity, so a
/// retry sends the same message (receivers' de-duplication applies).
fn email_of(id: &str, activity: &Map<String, Value>) -> Email {
    Email {
        to: addresses(activity, "to"),
        cc: addresses(activity, "cc"),
        bcc: addresses(activity, "bcc"),
        // Sent from the configured address; answers go to the user who wrote it.
        reply_to: text(activity, "sender").filter(|s| s.contains('@')),
        subject: text(activity, "subject").unwrap_or_default(),
        text_body: text(activity, "body_text").unwrap_or_default(),
        html_body: text(activity, "body_html").filter(|s| !s.trim().is_empty()),
        message_id: Some(format!("{id}@rapport")),
        headers: Vec::new(),
    }
}
