//! Jobs as operators see them: `GET /api/v1/job/` (`?state=dead&task=…`), one job, retry
//! and discard of dead jobs; and `/metrics` in Prometheus' text format.

use std::fmt::Write;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::FieldErrors;
use rapport_crm::JobAction;
use rapport_queue::{JobFilter, JobState, QueueError, LATENCY_BUCKETS_MS};
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::openapi::{self, any_object, id_param, json_response, query_param, Op};
use crate::params::{list_params, parse_query, project};
use crate::route_table::Routes;
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Routes {
    let mut list_params = openapi::list_params();
    list_params.push(query_param(
        "state",
        "queued, running, done or dead.",
        json!({"type": "string"}),
    ));
    list_params.push(query_param("task", "A task name.", json!({"type": "string"})));
    Routes::new()
        .get(
            "/api/v1/job/",
            list_jobs,
            Op::new("Jobs of the organization (webhooks, Slack, email), newest first; `state=dead` lists dead letters", "job")
                .params(list_params)
                .ok(json_response(
                    "A page of jobs",
                    json!({"type": "object", "properties": {"data": {"type": "array", "items": job_schema()}, "has_more": {"type": "boolean"}}}),
                )),
        )
        .get(
            "/api/v1/job/{id}/",
            get_job,
            Op::new("One job, with its attempts, last error and timings", "job")
                .param(id_param())
                .ok(json_response("The job", job_schema())),
        )
        .delete(
            "/api/v1/job/{id}/",
            discard_job,
            Op::new("Discard a dead job", "job")
                .param(id_param())
                .ok(json_response("Discarded", any_object())),
        )
        .post(
            "/api/v1/job/{id}/retry/",
            retry_job,
            Op::new("Queue a dead job again, its attempts reset", "job")
                .param(id_param())
                .ok(json_response("The job", job_schema())),
        )
        .unlisted(Method::GET, "/metrics", metrics)
}

/// A job as the ledger shows it.
fn job_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "string"}, "task": {"type": "string", "description": "email:send, slack:send_message or webhook:deliver"},
        "state": {"type": "string", "enum": ["scheduled", "queued", "running", "done", "dead"]}, "payload": {"type": "object"},
        "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"}, "event_seq": {"type": ["integer", "null"]},
        "dedupe_key": {"type": ["string", "null"]}, "last_error": {"type": ["string", "null"]}, "worker": {"type": ["string", "null"]},
        "date_created": {"type": "string", "format": "date-time"}, "run_at": {"type": "string", "format": "date-time"},
        "date_started": {"type": ["string", "null"], "format": "date-time"}, "date_finished": {"type": ["string", "null"], "format": "date-time"}}})
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound => ApiError::NotFound,
            QueueError::Refused(message) => ApiError::BadRequest(message),
            QueueError::Db(e) => rapport_crm::CrmError::Db(e).into(),
            QueueError::Broker(message) => {
                ApiError::Unavailable(format!("the message broker is unavailable: {message}"))
            }
        }
    }
}

async fn list_jobs(State(state): State<AppState>, Auth(actor): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let params = list_params(parse_query(raw.as_deref()), &[])?;
    let mut filter = JobFilter {
        organization_id: Some(actor.job_scope(JobAction::Read)?.into()),
        skip: params.query.skip,
        limit: params.query.limit,
        ..JobFilter::default()
    };
    let mut errors = FieldErrors::new();
    for (name, value) in &params.query.filters {
        match name.as_str() {
            "state" => match JobState::parse(value) {
                Some(s) => filter.state = Some(s),
                None => errors.add(
                    "state",
                    format!("`{value}` is not one of scheduled, queued, running, done, dead"),
                ),
            },
            "task" => filter.task = Some(value.clone()),
            other => errors.add(other, "unknown filter; expected state or task"),
        }
    }
    errors.into_result(())?;
    let (jobs, has_more) = state.queue.ledger().list(&filter).await?;
    let data: Vec<Value> = jobs
        .iter()
        .map(|j| match j.to_json() {
            Value::Object(o) => Value::Object(project(o, params.fields.as_deref())),
            other => other,
        })
        .collect();
    Ok(Json(json!({"data": data, "has_more": has_more})).into_response())
}

async fn get_job(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    let job = state
        .queue
        .ledger()
        .get(&id, Some(actor.job_scope(JobAction::Read)?))
        .await?;
    Ok(Json(job.to_json()).into_response())
}

async fn retry_job(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    let scope = actor.job_scope(JobAction::Retry)?;
    let job = state.queue.ledger().retry(&id, Some(scope)).await?;
    Ok(Json(job.to_json()).into_response())
}

async fn discard_job(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    let scope = actor.job_scope(JobAction::Discard)?;
    state.queue.ledger().discard(&id, Some(scope)).await?;
    Ok(Json(json!({})).into_response())
}

/// Queue depth per task and state, this process's workers' counters and start latency,
/// and how far the dispatcher is behind the event log.
async fn metrics(State(state): State<AppState>) -> ApiResult {
    let mut out = String::new();
    let depths = state.queue.ledger().depths().await?;
    out.push_str("# HELP rapport_jobs Jobs in the ledger by task and state (done jobs are counted by rapport_jobs_processed_total).\n# TYPE rapport_jobs gauge\n");
    for d in &depths {
        let _ = writeln!(
            out,
            "rapport_jobs{{task=\"{}\",state=\"{}\"}} {}",
            d.task,
            d.state.as_str(),
            d.count
        );
    }
    let counters = state.worker_metrics.snapshot();
    for (name, help, get) in [
        (
            "processed",
            "Jobs this process finished successfully.",
            (|c: &rapport_queue::TaskCounters| c.processed) as fn(&rapport_queue::TaskCounters) -> u64,
        ),
        ("failed", "Failed attempts in this process.", |c| c.failed),
        (
            "dead",
            "Jobs that died in this process (attempts spent or a permanent error).",
            |c| c.dead,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP rapport_jobs_{name}_total {help}\n# TYPE rapport_jobs_{name}_total counter"
        );
        for (task, c) in &counters {
            let _ = writeln!(out, "rapport_jobs_{name}_total{{task=\"{task}\"}} {}", get(c));
        }
    }
    out.push_str("# HELP rapport_job_start_latency_ms From enqueue to the start of an attempt.\n# TYPE rapport_job_start_latency_ms histogram\n");
    for (task, c) in &counters {
        for (bound, count) in LATENCY_BUCKETS_MS.iter().zip(c.start_latency_buckets) {
            let _ = writeln!(
                out,
                "rapport_job_start_latency_ms_bucket{{task=\"{task}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "rapport_job_start_latency_ms_bucket{{task=\"{task}\",le=\"+Inf\"}} {}",
            c.start_latency_count
        );
        let _ = writeln!(
            out,
            "rapport_job_start_latency_ms_sum{{task=\"{task}\"}} {}",
            c.start_latency_sum_ms
        );
        let _ = writeln!(
            out,
            "rapport_job_start_latency_ms_count{{task=\"{task}\"}} {}",
            c.start_latency_count
        );
    }
    let last = state.crm.last_event_seq().await?;
    let cursor = state.queue.ledger().cursor(rapport_workers::DISPATCHER).await?;
    out.push_str("# HELP rapport_dispatcher_lag_events Events of the log not yet turned into jobs.\n# TYPE rapport_dispatcher_lag_events gauge\n");
    let _ = writeln!(out, "rapport_dispatcher_lag_events {}", (last - cursor).max(0));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
