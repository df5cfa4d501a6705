//! Rapport's HTTP API: Close-compatible REST routes under `/api/v1/`, HTTP Basic auth
//! with API keys, Close's list and error conventions, and the OpenAPI document.
//!
//! Handlers stay thin: they parse the request, call [`rapport_crm::Crm`], and shape the
//! answer. Each route is declared once, in its handler's module, with the OpenAPI
//! operation that documents it (`route_table.rs`); routes for object kinds are generated
//! from `rapport_core::Kind`.

mod account;
mod auth;
mod body;
mod chat;
mod client;
mod codes;
mod error;
mod guard;
mod jobs;
mod openapi;
mod params;
mod rate_limit;
mod route_table;
mod routes;
mod server;
mod webapp;
mod widget;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
pub use codes::{codes_markdown, Code, CODES};
pub use error::ApiError;
pub use guard::MAX_BODY_BYTES;
use rapport_crm::Crm;
pub use rate_limit::RateLimiter;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub crm: Crm,
    /// This node's search index (`query=` on leads, `/data/search/`).
    pub search: rapport_search::Search,
    pub rate_limiter: RateLimiter,
    /// The job ledger (`/api/v1/job/`, `/metrics`).
    pub queue: rapport_queue::Queue,
    /// This process's workers' counters, for `/metrics`.
    pub worker_metrics: rapport_queue::WorkerMetrics,
    /// Real-time push (`/api/v1/realtime`, `/widget/ws`).
    pub hub: rapport_realtime::Hub,
    /// Email to people about their account ("forgot password"); `None` without SMTP.
    pub account_mail: Option<AccountMail>,
}

/// What account emails need: an SMTP server, and the address links in them point to
/// (configured, never taken from a request's `Host`, which the requester chooses).
#[derive(Clone)]
pub struct AccountMail {
    pub mailer: std::sync::Arc<rapport_delivery::Mailer>,
    pub public_url: String,
}

/// Every route of the application, with its paths.
fn all_routes() -> route_table::Routes {
    routes::routes()
        .merge(account::routes())
        .merge(jobs::routes())
        .merge(chat::routes())
        .merge(widget::routes())
        .merge(webapp::routes())
}

/// The OpenAPI document: the operation declared with each route, in the document's frame.
pub fn openapi_document() -> serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| openapi::document(all_routes().operations()))
        .clone()
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    all_routes().into_router().with_state(state)
}

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Longest wait for a request's whole header (and, on a kept-alive connection, for
    /// the next request's header).
    pub header_timeout: Duration,
    /// Longest wait for a request's whole body once its header arrived.
    pub body_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open sockets at most, websockets included; more wait to be accepted.
    pub max_connections: usize,
    /// Open websockets at most (`/api/v1/realtime`, `/widget/ws`); more are answered 503.
    pub max_websockets: usize,
    /// Mark the session cookie `Secure` (behind TLS) on every login, not only when a
    /// proxy says `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// The header a reverse proxy puts the client's address in (`X-Forwarded-For`, last
    /// entry); `None`: the connection's address.
    pub client_ip_header: Option<String>,
    /// `/metrics` answers a request with `Authorization: Bearer <token>`; without a token,
    /// only a client on this machine that no proxy forwarded.
    pub metrics_token: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(10),
            max_connections: 20_000,
            max_websockets: 16_000,
            secure_cookies: false,
            session_idle: Duration::from_secs(auth::DEFAULT_SESSION_IDLE_SECONDS as u64),
            metrics_token: None,
            client_ip_header: None,
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Arc::new(guard::Guard::new(&options));
    let app = router(state).layer(axum::middleware::from_fn_with_state(guard, guard::guard));
    server::run(listener, app, &options, shutdown).await
}

/// Close clients call `/lead/` and `/lead` alike: the trailing slash is dropped before routing.
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Routes the document leaves out on purpose: the web app's files, the widget's script
    /// and its CORS preflights, Prometheus' text and the page that renders the document.
    const UNLISTED: &[(&str, &str)] = &[
        ("GET", "/"),
        ("GET", "/app/{*path}"),
        ("GET", "/widget.js"),
        ("OPTIONS", "/widget/v1/session"),
        ("OPTIONS", "/widget/v1/message"),
        ("OPTIONS", "/widget/v1/identify"),
        ("OPTIONS", "/widget/v1/typing"),
        ("OPTIONS", "/widget/v1/read"),
        ("GET", "/metrics"),
        ("GET", "/api/docs"),
    ];

    #[test]
    fn every_route_is_in_the_document_and_every_documented_operation_is_routed() {
        let routes = super::all_routes();
        let routed: BTreeSet<(String, String)> = routes
            .operations()
            .map(|(path, method, _)| (path.to_string(), method.as_str().to_ascii_lowercase()))
            .collect();
        let document = super::openapi_document();
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (path.clone(), method.clone()))
            })
            .collect();
        assert!(
            routed.len() > 100 && routed.contains(&("/api/v1/lead/{id}/".into(), "put".into())),
            "{routed:?}"
        );
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}; documented operations with no route: {unrouted:?}"
        );
        // A route is left out of the document only on purpose.
        let unlisted: BTreeSet<(String, String)> = routes
            .unlisted_routes()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        let expected: BTreeSet<(String, String)> = UNLISTED
            .iter()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        assert_eq!(unlisted, expected);
    }
}
