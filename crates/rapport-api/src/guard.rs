//! What every request goes through before its route, and every answer after it: a
//! body sent to the API must be JSON (`Content-Type: application/json`: a form or
//! `text/plain` body is what another site can make a browser send, with its cookie);
//! the body is read whole within the body timeout and the size limit; a cap on open
//! websockets; an error answered without a JSON body (axum's rejections, a route that
//! is not there) gets `{"error": …}`; and every answer gets the security headers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

use crate::auth::{same_secret, SessionIdle, SESSION_COOKIE};
use crate::codes::Code;
use crate::server::ConnectionInfo;
use crate::ServeOptions;

/// The largest request body (axum's default limit, which the handlers' extractors apply too).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub(crate) struct Guard {
    options: ServeOptions,
    websockets: Arc<Semaphore>,
}

impl Guard {
    pub fn new(options: &ServeOptions) -> Guard {
        Guard {
            options: options.clone(),
            websockets: Arc::new(Semaphore::new(options.max_websockets)),
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(crate::codes::body(Code::of_status(status), message))).into_response()
}

fn too_large() -> Response {
    let mut response = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    );
    // The rest of the body is not read: the connection cannot serve another request.
    response
        .headers_mut()
        .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Routes whose bodies are JSON.
fn takes_json(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/widget/v1/")
}

/// `application/json`, with any parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let embeddable = is_embedded_in_other_sites(request.uri().path());
    let response = admit(&guard, request, next).await;
    with_security_headers(with_json_error(response).await, embeddable)
}

/// The widget's script and endpoints, which customers' pages load and call.
fn is_embedded_in_other_sites(path: &str) -> bool {
    path == "/widget.js" || path.starts_with("/widget/")
}

/// No sniffing of content types and no referrer to other sites, on every answer; and
/// except for the widget, which lives in customers' pages, no framing by other sites and
/// (for answers that do not set their own) a policy that lets nothing load.
fn with_security_headers(mut response: Response, embeddable: bool) -> Response {
    use header::HeaderValue;
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !embeddable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        // A 304 lends its headers to the cached answer, whose own policy stands.
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) && status != StatusCode::NOT_MODIFIED {
            // An HTML page of its own (`/api/docs`, with its inline script) is only kept
            // out of frames.
            let policy = if html {
                "frame-ancestors 'none'"
            } else {
                "default-src 'none'; frame-ancestors 'none'"
            };
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
        }
    }
    response
}

async fn admit(guard: &Guard, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path() == "/metrics" {
        if let Some(refused) = may_read_metrics(guard, &parts) {
            return refused;
        }
    }
    // Read here, whole, so that a client sending its body slowly is cut off at the body
    // timeout instead of holding a connection and a task for as long as it likes.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body = if has_body(&parts.headers) {
        let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
        match tokio::time::timeout(guard.options.body_timeout, limited.collect()).await {
            Ok(Ok(collected)) => {
                let bytes = collected.to_bytes();
                // An empty chunked body (a bodiless POST from some clients) is no body.
                if !bytes.is_empty() && takes_json(parts.uri.path()) && !is_json(&parts.headers) {
                    return error(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "the request body must be JSON, sent with Content-Type: application/json",
                    );
                }
                Body::from(bytes)
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Ok(Err(_)) => return error(StatusCode::BAD_REQUEST, "the request body could not be read"),
            Err(_) => {
                let mut response = error(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        guard.options.body_timeout.as_secs_f64()
                    ),
                );
                response
                    .headers_mut()
                    .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
                return response;
            }
        }
    } else {
        body
    };
    let websocket_permit = if is_websocket(&parts.headers) {
        match guard.websockets.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let mut response = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many websockets are open on this server; try again later",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
                return response;
            }
        }
    } else {
        None
    };
    let connection = parts.extensions.get::<ConnectionInfo>().cloned();
    let mut parts = parts;
    if let Some(name) = &guard.options.client_ip_header {
        parts.extensions.insert(crate::client::ClientIpHeader(name.clone()));
    }
    parts.extensions.insert(SessionIdle(
        i64::try_from(guard.options.session_idle.as_secs()).unwrap_or(i64::MAX),
    ));
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if guard.options.secure_cookies {
        secure_session_cookie(response.headers_mut());
    }
    // An upgraded socket keeps its permit until it closes.
    if let (Some(permit), Some(connection)) = (websocket_permit, connection) {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            *connection.websocket_permit.lock().expect("not poisoned") = Some(permit);
        }
    }
    response
}

/// `/metrics` tells about the jobs of every organization: with `--metrics-token`, only
/// to who sends it; without, only to a client on this machine that no proxy forwarded.
/// The refusal, if any.
fn may_read_metrics(guard: &Guard, parts: &axum::http::request::Parts) -> Option<Response> {
    let headers = &parts.headers;
    match &guard.options.metrics_token {
        Some(token) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            if sent.is_some_and(|sent| same_secret(sent, token)) {
                return None;
            }
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "/metrics needs the metrics token: Authorization: Bearer <token>",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            Some(response)
        }
        None => {
            let local = parts
                .extensions
                .get::<ConnectionInfo>()
                .is_some_and(|c| c.peer.ip().is_loopback());
            let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
                .iter()
                .any(|name| headers.contains_key(*name));
            if local && !forwarded {
                return None;
            }
            Some(error(
                StatusCode::FORBIDDEN,
                "/metrics answers only on this machine; set --metrics-token to scrape it from elsewhere",
            ))
        }
    }
}

/// Marks the session cookie `Secure`, so that the browser never sends it over plain HTTP.
fn secure_session_cookie(headers: &mut HeaderMap) {
    let cookies: Vec<header::HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let secured = cookie
            .to_str()
            .ok()
            .filter(|c| c.starts_with(&format!("{SESSION_COOKIE}=")) && !c.to_ascii_lowercase().contains("; secure"))
            .and_then(|c| header::HeaderValue::from_str(&format!("{c}; Secure")).ok());
        headers.append(header::SET_COOKIE, secured.unwrap_or(cookie));
    }
}

/// An error answered with no body or a plain-text one, as `{"error": …}`.
async fn with_json_error(response: Response) -> Response {
    let status = response.status();
    let plain = match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|v| v.starts_with("text/plain")),
    };
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, 64 * 1024).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let body = crate::codes::body(Code::of_status(status), message).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
