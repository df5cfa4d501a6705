//! Rapport's HTTP API: Close-compatible REST routes under `/api/v1/`, HTTP Basic auth
//! with API keys, Close's list and error conventions, and the OpenAPI document.
//!
//! Handlers stay thin: they parse the request, call [`rapport_crm::Crm`], and shape the
//! answer. Routes for object kinds are generated from `rapport_core::Kind`, the same table
//! the OpenAPI document is generated from.

mod account;
mod auth;
mod chat;
mod error;
mod jobs;
mod openapi;
mod params;
mod rate_limit;
mod routes;
mod webapp;
mod widget;

use std::future::Future;

use axum::extract::Request;
use axum::Router;
use rapport_crm::Crm;
use tower::ServiceExt;

pub use error::ApiError;
pub use openapi::openapi_document;
pub use rate_limit::RateLimiter;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub crm: Crm,
    pub rate_limiter: RateLimiter,
    /// The job ledger (`/api/v1/job/`, `/metrics`).
    pub queue: rapport_queue::Queue,
    /// This process's workers' counters, for `/metrics`.
    pub worker_metrics: rapport_queue::WorkerMetrics,
    /// Real-time push (`/api/v1/realtime`, `/widget/ws`).
    pub hub: rapport_realtime::Hub,
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    routes::routes()
        .merge(account::routes())
        .merge(jobs::routes())
        .merge(chat::routes())
        .merge(widget::routes())
        .merge(webapp::routes())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Close clients call `/lead/` and `/lead` alike: the trailing slash is dropped before routing.
    let app = router(state).map_request(strip_trailing_slash);
    axum::serve(listener, axum::ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(shutdown)
        .await
}

fn strip_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = new.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}
