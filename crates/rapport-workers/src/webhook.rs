//! `webhook:deliver`: an event POSTed to a subscription's URL, signed as Close signs it.
//! Also what Slack deliveries share with it: finding the subscription and the event, and
//! the failure clock that pauses a subscription failing for days.

use std::sync::Arc;

use rapport_core::{time, Kind};
use rapport_delivery::DeliveryError;
use rapport_queue::{Job, JobError};
use serde_json::{json, Map, Value};

use crate::{payload_str, retry, Context};

/// A subscription and the event a job delivers to it.
pub(crate) struct Delivery {
    pub subscription_id: String,
    pub subscription: Map<String, Value>,
    pub event: Value,
}

impl Delivery {
    pub fn url(&self) -> &str {
        self.subscription.get("url").and_then(Value::as_str).unwrap_or("")
    }
}

/// The job's subscription and event; `None` when there is nothing to deliver any more (the
/// subscription was deleted or paused).
pub(crate) async fn delivery_of(ctx: &Context, job: &Job) -> Result<Option<Delivery>, JobError> {
    let subscription_id = payload_str(job, "subscription_id")?;
    let seq = job
        .payload
        .get("event_seq")
        .and_then(Value::as_i64)
        .ok_or_else(|| JobError::Permanent("the payload has no `event_seq`".into()))?;
    let org = &job.organization_id;
    let Some(subscription) = ctx
        .crm
        .stored_object(org, Kind::WebhookSubscription, subscription_id)
        .await
        .map_err(retry)?
    else {
        return Ok(None);
    };
    if subscription.get("status").and_then(Value::as_str) == Some("paused") {
        return Ok(None);
    }
    let event = ctx
        .crm
        .event_by_seq(org, seq)
        .await
        .map_err(retry)?
        .ok_or_else(|| JobError::Permanent(format!("event {seq} is no longer in the event log")))?;
    Ok(Some(Delivery {
        subscription_id: subscription_id.into(),
        subscription,
        event,
    }))
}

pub(crate) async fn deliver(ctx: Arc<Context>, job: Job) -> Result<(), JobError> {
    let Some(delivery) = delivery_of(&ctx, &job).await? else {
        return Ok(());
    };
    let key = delivery
        .subscription
        .get("signature_key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let body = json!({"subscription_id": delivery.subscription_id, "event": delivery.event}).to_string();
    let now = time::now().timestamp();
    let sent = rapport_delivery::deliver_webhook(&ctx.policy, delivery.url(), &key, body.as_bytes(), now)
        .await
        .map(|_| ());
    record_outcome(&ctx, &job, &delivery, sent).await
}

/// Keeps the subscription's failure clock: cleared by a success, started by a first
/// failure; a subscription failing for longer than the configured time pauses itself.
pub(crate) async fn record_outcome(
    ctx: &Context,
    job: &Job,
    delivery: &Delivery,
    sent: Result<(), DeliveryError>,
) -> Result<(), JobError> {
    let failing_since = delivery
        .subscription
        .get("failing_since")
        .and_then(Value::as_str)
        .and_then(time::parse_datetime);
    let mut changes = Map::new();
    let outcome = match sent {
        Ok(()) => {
            if failing_since.is_some() {
                changes.insert("failing_since".into(), Value::Null);
            }
            Ok(())
        }
        Err(e) => {
            let now = time::now();
            match failing_since {
                None => {
                    changes.insert("failing_since".into(), time::format(now).into());
                }
                Some(since) if (now - since).to_std().unwrap_or_default() >= ctx.config.pause_failing_after => {
                    let reason = format!("deliveries failed since {}; last error: {e}", time::format(since));
                    tracing::warn!(subscription = %delivery.subscription_id, %reason, "pausing a failing subscription");
                    changes.insert("status".into(), "paused".into());
                    changes.insert("paused_reason".into(), reason.into());
                }
                Some(_) => {}
            }
            Err(crate::delivery_failed(e))
        }
    };
    if !changes.is_empty() {
        ctx.crm
            .system_update(
                &job.organization_id,
                Kind::WebhookSubscription,
                &delivery.subscription_id,
                &changes,
            )
            .await
            .map_err(retry)?;
    }
    outcome
}
