//! The work that follows events: the dispatcher that turns events into jobs, and the
//! handlers of the named tasks.
//!
//! | task | does | idempotent by |
//! |---|---|---|
//! | `webhook:deliver` | POSTs an event to a subscription's URL, signed as Close signs it | the event id in the body (receivers de-duplicate on it) |
//! | `slack:send_message` | posts an event as a message to a Slack incoming webhook | the job's dedupe key (subscription, event) |
//! | `email:send` | sends an email activity in the outbox over SMTP, then marks it sent | the activity's status (only `outbox` is sent) and a stable `Message-ID` |
//! | `chat:notify_unread`, `chat:slack`, `chat:email_visitor` | chat notifications (see `chat.rs`) | the message id (dedupe key) and a stable `Message-ID` |
//!
//! Payloads are small JSON objects of ids (`{"subscription_id", "event_seq"}`,
//! `{"activity_id"}`); a handler reads the current state from the store, so a job that
//! waited in the queue acts on what is true when it runs.

mod chat;
mod dispatcher;
mod email;
mod slack;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use rapport_crm::Crm;
use rapport_delivery::{AddressPolicy, Mailer, SmtpConfig};
use rapport_queue::{Job, JobError, Registry};

pub use chat::{CHAT_EMAIL_VISITOR, CHAT_NOTIFY_UNREAD, CHAT_SLACK};
pub use dispatcher::{dispatch_batch, run_dispatcher, DispatchError, Dispatched, DISPATCHER};

pub const EMAIL_SEND: &str = "email:send";
pub const SLACK_SEND_MESSAGE: &str = "slack:send_message";
pub const WEBHOOK_DELIVER: &str = "webhook:deliver";

/// Every task this crate handles.
pub const TASKS: [&str; 6] = [
    EMAIL_SEND,
    SLACK_SEND_MESSAGE,
    WEBHOOK_DELIVER,
    CHAT_NOTIFY_UNREAD,
    CHAT_SLACK,
    CHAT_EMAIL_VISITOR,
];

/// Settings of the handlers.
#[derive(Debug, Clone)]
pub struct WorkersConfig {
    /// Where `email:send` sends; `None`: emails in the outbox fail with a clear error.
    pub smtp: Option<SmtpConfig>,
    /// Addresses (IPs or CIDR ranges) that webhooks and Slack may reach although they are
    /// private, loopback or link-local. Empty by default.
    pub allowed_addresses: Vec<String>,
    /// A subscription whose deliveries have failed for this long pauses itself.
    pub pause_failing_after: Duration,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            smtp: None,
            allowed_addresses: Vec::new(),
            pause_failing_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkersError {
    #[error("invalid worker settings: {0}")]
    Config(String),
}

/// What the handlers share.
pub(crate) struct Context {
    pub crm: Crm,
    pub policy: AddressPolicy,
    pub mailer: Option<Mailer>,
    pub config: WorkersConfig,
}

/// The handlers of every task, ready for a worker.
pub fn registry(crm: Crm, config: WorkersConfig) -> Result<Registry, WorkersError> {
    let allow = config
        .allowed_addresses
        .iter()
        .map(|a| {
            a.trim()
                .parse()
                .map_err(|e| WorkersError::Config(format!("allowed address `{a}`: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let policy = AddressPolicy { allow };
    let mailer = match &config.smtp {
        Some(smtp) => Some(Mailer::new(smtp.clone()).map_err(|e| WorkersError::Config(e.to_string()))?),
        None => None,
    };
    let context = Arc::new(Context {
        crm,
        policy,
        mailer,
        config,
    });
    let mut registry = Registry::new();
    let ctx = context.clone();
    registry.register(WEBHOOK_DELIVER, move |job: Job| webhook::deliver(ctx.clone(), job));
    let ctx = context.clone();
    registry.register(SLACK_SEND_MESSAGE, move |job: Job| slack::send(ctx.clone(), job));
    let ctx = context.clone();
    registry.register(EMAIL_SEND, move |job: Job| email::send(ctx.clone(), job));
    let ctx = context.clone();
    registry.register(CHAT_NOTIFY_UNREAD, move |job: Job| {
        chat::notify_unread(ctx.clone(), job)
    });
    let ctx = context.clone();
    registry.register(CHAT_SLACK, move |job: Job| chat::slack(ctx.clone(), job));
    let ctx = context;
    registry.register(CHAT_EMAIL_VISITOR, move |job: Job| {
        chat::email_visitor(ctx.clone(), job)
    });
    Ok(registry)
}

/// A string field of a job's payload, or a permanent error naming it.
pub(crate) fn payload_str<'a>(job: &'a Job, field: &str) -> Result<&'a str, JobError> {
    job.payload
        .get(field)
        .and_then(|v| v.as_str())
        .ok_or_else(|| JobError::Permanent(format!("the payload has no `{field}`")))
}

/// A failed delivery as a job's outcome: tried again later only when that may help.
pub(crate) fn delivery_failed(e: rapport_delivery::DeliveryError) -> JobError {
    if e.is_retryable() {
        JobError::Retry(e.to_string())
    } else {
        JobError::Permanent(e.to_string())
    }
}

/// Sends an email through the configured SMTP server.
pub(crate) async fn send_email(ctx: &Context, email: &rapport_delivery::Email) -> Result<(), JobError> {
    let mailer = ctx.mailer.as_ref().ok_or_else(|| {
        JobError::Permanent(
            "no SMTP server is configured: set [smtp] in the settings (host, port, security, username, password, from)"
                .into(),
        )
    })?;
    mailer.send(email).await.map_err(delivery_failed)
}

/// A store error while running a job: worth another try.
pub(crate) fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retry(e.to_string())
}
