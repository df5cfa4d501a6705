//! The visitor's side of chat: `/widget.js`, its HTTP API (`/widget/v1/…`) and its
//! websocket (`/widget/ws`).
//!
//! A visitor proves two things on every request: the website (`X-Widget-Key`, or `key=` on
//! the websocket; the page's `Origin` must be one the website allows) and themselves (the
//! visitor token from `POST /widget/v1/session`, as `Authorization: Bearer …` or `token=`).
//! They can act on their own conversation only, never see private notes, and are rate
//! limited per visitor.
//!
//! Frames and answers show a message as `{"id", "client_id", "body", "author",
//! "operator_name", "date_created", "seq"}`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::FieldErrors;
use rapport_crm::{visitor_message, Visitor, Website};
use rapport_realtime::{Feed, Live, PresenceEntry, Scope, Typing};
use serde_json::{json, Map, Value};

use crate::client::ClientAddress;
use crate::openapi::{empty_response, json_response, Op};
use crate::params::parse_query;
use crate::route_table::Routes;
use crate::{ApiError, AppState};
use rapport_crm::limits;

const WIDGET_JS: &str = include_str!("../../../web/widget.js");

/// Longest wait of a long poll.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn routes() -> Routes {
    Routes::new()
        .unlisted(Method::GET, "/widget.js", widget_js)
        .post(
            "/widget/v1/session",
            session,
            widget_op("Start (or, with `Authorization: Bearer <visitor token>`, resume) a visitor's session: token, website, conversation, messages, `seq`"),
        )
        .post(
            "/widget/v1/message",
            send,
            widget_op("Send a message (`{\"client_id\", \"body\"}`) as the visitor"),
        )
        .get(
            "/widget/v1/message",
            poll,
            widget_op("Long poll: the visitor's messages after `after` (a `seq`), waiting up to `wait` seconds"),
        )
        .post(
            "/widget/v1/identify",
            identify,
            widget_op("Give the visitor's email (`{\"email\", \"name\", \"hash\"}`; `hash` = hex HMAC-SHA256 of the email with the website's identity secret)"),
        )
        .post(
            "/widget/v1/typing",
            typing,
            widget_op("The visitor types (`{\"typing\": bool}`)"),
        )
        .post("/widget/v1/read", read, widget_op("The visitor saw the messages"))
        .get(
            "/widget/ws",
            websocket,
            Op::bare("The visitor's websocket (`key`, `token`, `after`): `message`, `typing`, `operators`, `ready` frames; send `message`, `typing`, `read`, `ping`")
                .tag("widget")
                .public()
                .respond("101", empty_response("Switching to the websocket protocol")),
        )
        .unlisted(Method::OPTIONS, "/widget/v1/session", preflight)
        .unlisted(Method::OPTIONS, "/widget/v1/message", preflight)
        .unlisted(Method::OPTIONS, "/widget/v1/identify", preflight)
        .unlisted(Method::OPTIONS, "/widget/v1/typing", preflight)
        .unlisted(Method::OPTIONS, "/widget/v1/read", preflight)
}

/// A call of the widget's HTTP API: the website's key, no user.
fn widget_op(summary: &str) -> Op {
    Op::bare(summary)
        .tag("widget")
        .public()
        .param(json!({"name": "X-Widget-Key", "in": "header", "required": true, "schema": {"type": "string"}}))
        .ok(json_response("OK", json!({"type": "object"})))
        .respond("401", empty_response("Unknown key or visitor token"))
        .respond("403", empty_response("This page's origin is not allowed"))
        .respond("429", empty_response("Too many messages"))
}

async fn widget_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        WIDGET_JS,
    )
        .into_response()
}

/// The page's origin, when the browser sent one.
fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Adds the CORS headers that let the website's pages read the answer.
fn with_cors(mut response: Response, headers: &HeaderMap) -> Response {
    if let Some(origin) = origin(headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Preflight: the website is checked on the request itself (a preflight carries no key).
async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, authorization, x-widget-key"),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    with_cors(response, &headers)
}

/// The website of the key, if the page may use it.
async fn website_of(state: &AppState, key: Option<&str>, headers: &HeaderMap) -> Result<Website, ApiError> {
    let key = key.ok_or(ApiError::Unauthorized("the widget key is missing (X-Widget-Key)"))?;
    let website = state
        .crm
        .website_by_key(key)
        .await?
        .ok_or(ApiError::Unauthorized("unknown widget key"))?;
    if !website.allows_origin(origin(headers)) {
        return Err(ApiError::Forbidden(
            "this website does not allow the widget on this page's origin".into(),
        ));
    }
    Ok(website)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

async fn visitor_of(state: &AppState, website: &Website, token: Option<&str>) -> Result<Visitor, ApiError> {
    let token = token.ok_or(ApiError::Unauthorized(
        "the visitor token is missing; start a session first",
    ))?;
    state
        .crm
        .visitor_by_token(website, token)
        .await?
        .ok_or(ApiError::Unauthorized("unknown visitor token; start a new session"))
}

/// Website and visitor of an HTTP request.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<(Website, Visitor), ApiError> {
    let key = headers.get("x-widget-key").and_then(|v| v.to_str().ok());
    let website = website_of(state, key, headers).await?;
    let visitor = visitor_of(state, &website, bearer(headers)).await?;
    Ok((website, visitor))
}

/// Whether an operator of the website is online on any node.
fn operators_online(state: &AppState, website: &Website) -> bool {
    operators_among(&state.hub.presence(&website.organization_id), website)
}

/// Whether these people online include an operator of the website.
fn operators_among(online: &[PresenceEntry], website: &Website) -> bool {
    website.has_operator_among(online.iter().map(|entry| entry.user_id.as_str()))
}

/// The answer, readable by the page only when its website allows the page's origin: an
/// answer came after `website_of` allowed it; a refusal is checked again, since it may be
/// the refusal of that very origin or key.
async fn answer(state: &AppState, result: Result<Response, ApiError>, headers: &HeaderMap) -> Response {
    match result {
        Ok(response) => with_cors(response, headers),
        Err(e) => {
            let key = headers.get("x-widget-key").and_then(|v| v.to_str().ok());
            let allowed = match key {
                Some(key) => website_of(state, Some(key), headers).await.is_ok(),
                None => false,
            };
            let response = e.into_response();
            if allowed {
                with_cors(response, headers)
            } else {
                response
            }
        }
    }
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match crate::body::parse_body(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(FieldErrors::general("the request body must be a JSON object").into()),
    }
}

async fn session(State(state): State<AppState>, client: ClientAddress, headers: HeaderMap) -> Response {
    let result = async {
        let key = headers.get("x-widget-key").and_then(|v| v.to_str().ok());
        let website = website_of(&state, key, &headers).await?;
        // A stale token is refused, so the widget knows to drop it.
        let (visitor, token) = match bearer(&headers) {
            Some(token) => (visitor_of(&state, &website, Some(token)).await?, token.to_string()),
            None => state.crm.new_visitor_from(&website, client.0).await?,
        };
        let seq = state.hub.position();
        let (conversation, messages) = state.crm.visitor_conversation(&visitor).await?;
        Ok(Json(json!({
            "visitor_token": token,
            "visitor": visitor.public(),
            "website": {
                "name": website.name(),
                "greeting": website.greeting(),
                "operators_online": operators_online(&state, &website),
            },
            "conversation": conversation,
            "messages": messages,
            "seq": seq,
        }))
        .into_response())
    }
    .await;
    answer(&state, result, &headers).await
}

async fn send(State(state): State<AppState>, client: ClientAddress, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let (_, visitor) = caller(&state, &headers).await?;
        let input = body_object(&body)?;
        let posted = post_from_visitor(&state, &visitor, &input, &client).await?;
        let status = if posted.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, Json(visitor_message(&posted.message, posted.event_seq))).into_response())
    }
    .await;
    answer(&state, result, &headers).await
}

async fn post_from_visitor(
    state: &AppState,
    visitor: &Visitor,
    input: &Map<String, Value>,
    client: &ClientAddress,
) -> Result<rapport_crm::Posted, ApiError> {
    let body = input.get("body").and_then(Value::as_str).unwrap_or("");
    let client_id = input.get("client_id").and_then(Value::as_str);
    Ok(state
        .crm
        .post_visitor_message_from(visitor, client.0, client_id, body)
        .await?)
}

/// Long poll: the visitor's messages after `after`, as soon as there is one (or after
/// `wait` seconds).
async fn poll(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let result = async {
        let (_, visitor) = caller(&state, &headers).await?;
        let params = parse_query(raw.as_deref());
        let number = |name: &str| -> Result<Option<i64>, ApiError> {
            match params.iter().find(|(k, _)| k == name) {
                None => Ok(None),
                Some((_, v)) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| FieldErrors::field(name, "a whole number").into()),
            }
        };
        let after = number("after")?.unwrap_or_else(|| state.hub.position());
        let wait = Duration::from_secs(number("wait")?.unwrap_or(25).clamp(0, MAX_WAIT.as_secs() as i64) as u64);
        let mut view = VisitorFeed::new(&state, visitor, Some(after)).await?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut messages = Vec::new();
        let mut operator_typing = false;
        let mut caught_up = false;
        loop {
            let next = tokio::time::timeout_at(deadline, view.next()).await;
            match next {
                Ok(Some(Frame::Message(m))) => {
                    messages.push(m);
                    if caught_up {
                        break;
                    }
                }
                Ok(Some(Frame::Typing(t, _))) => {
                    operator_typing = t;
                    if caught_up {
                        break;
                    }
                }
                Ok(Some(Frame::Operators(_))) => {}
                // Answer at once with what was missed, else wait for something new.
                Ok(Some(Frame::Ready)) if !messages.is_empty() => break,
                Ok(Some(Frame::Ready)) => caught_up = true,
                Ok(None) | Err(_) => break,
            }
        }
        Ok(
            Json(json!({"messages": messages, "seq": view.feed.last_seq(), "operator_typing": operator_typing}))
                .into_response(),
        )
    }
    .await;
    answer(&state, result, &headers).await
}

async fn identify(State(state): State<AppState>, client: ClientAddress, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let (website, visitor) = caller(&state, &headers).await?;
        client.take(&state, &limits::VISITOR_LEADS).await?;
        let input = body_object(&body)?;
        let text = |name: &str| input.get(name).and_then(Value::as_str);
        let email = text("email").ok_or_else(|| ApiError::from(FieldErrors::field("email", "required")))?;
        let visitor = state
            .crm
            .identify_visitor(&website, &visitor, email, text("name"), text("hash"))
            .await
            .map_err(|e| match e {
                rapport_crm::CrmError::Forbidden(_) => {
                    ApiError::Unauthorized("the identity hash does not match this email")
                }
                e => e.into(),
            })?;
        Ok(Json(json!({"visitor": visitor.public()})).into_response())
    }
    .await;
    answer(&state, result, &headers).await
}

async fn typing(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let (_, visitor) = caller(&state, &headers).await?;
        let input = body_object(&body)?;
        visitor_typing(
            &state,
            &visitor,
            input.get("typing").and_then(Value::as_bool).unwrap_or(true),
        );
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    answer(&state, result, &headers).await
}

fn visitor_typing(state: &AppState, visitor: &Visitor, typing: bool) {
    if let Some(conversation_id) = &visitor.conversation_id {
        state.hub.typing(
            &visitor.organization_id,
            Typing {
                conversation_id: conversation_id.clone(),
                visitor_id: visitor.id.clone(),
                author: "visitor".into(),
                user_id: None,
                name: visitor.name.clone(),
                typing,
            },
        );
    }
}

async fn read(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let (_, visitor) = caller(&state, &headers).await?;
        state.crm.mark_read_by_visitor(&visitor).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    answer(&state, result, &headers).await
}

/// What a visitor receives.
enum Frame {
    Message(Value),
    /// Whether an operator types, and who.
    Typing(bool, Option<String>),
    Operators(bool),
    /// The messages missed before the feed started are all out.
    Ready,
}

/// The organization's feed narrowed to one visitor: their conversation's public messages,
/// operators typing in it, whether operators are online.
struct VisitorFeed {
    feed: Feed,
    visitor: Visitor,
    website: Website,
    operators_online: bool,
}

impl VisitorFeed {
    async fn new(state: &AppState, visitor: Visitor, after: Option<i64>) -> Result<VisitorFeed, ApiError> {
        let website = state
            .crm
            .website(&visitor.organization_id, &visitor.website_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        // Never from before the visitor's own history: the log is the organization's.
        let start = state.crm.visitor_log_start(&visitor).await?;
        let after = after.map(|after| after.max(start));
        Ok(VisitorFeed {
            feed: state
                .hub
                .feed(&visitor.organization_id, Scope::Visitor(visitor.id.clone()), after),
            operators_online: operators_online(state, &website),
            visitor,
            website,
        })
    }

    /// The next frame for the visitor; `None` when the node stops.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            let live = self.feed.next().await.ok()?;
            match live {
                Live::Event(live) => {
                    if let Some(message) = self.visitor.visitor_frame(&live.event.event, live.seq()) {
                        return Some(Frame::Message(message));
                    }
                }
                Live::Typing(typing) => {
                    if self.visitor.sees_typing(&typing.conversation_id, &typing.author) {
                        return Some(Frame::Typing(typing.typing, typing.name.clone()));
                    }
                }
                Live::Ready => return Some(Frame::Ready),
                Live::Presence(entries) => {
                    let online = operators_among(&entries, &self.website);
                    if online != self.operators_online {
                        self.operators_online = online;
                        return Some(Frame::Operators(online));
                    }
                }
            }
        }
    }
}

/// `GET /widget/ws?key=…&token=…&after=SEQ`.
async fn websocket(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let result = async {
        let params = parse_query(raw.as_deref());
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let website = website_of(&state, param("key"), &headers).await?;
        let visitor = visitor_of(&state, &website, param("token")).await?;
        let after = match param("after") {
            Some(v) => Some(
                v.parse::<i64>()
                    .map_err(|_| ApiError::from(FieldErrors::field("after", "a whole number")))?,
            ),
            None => None,
        };
        let view = VisitorFeed::new(&state, visitor, after).await?;
        Ok::<_, ApiError>(
            crate::chat::small_buffers(upgrade).on_upgrade(move |socket| visitor_socket(state, view, client, socket)),
        )
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn text_frame(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

async fn visitor_socket(state: AppState, mut view: VisitorFeed, client: ClientAddress, mut socket: WebSocket) {
    let online_until = || {
        Some(rapport_core::time::now() + chrono::TimeDelta::seconds(rapport_crm::VISITOR_ONLINE_FOR.as_secs() as i64))
    };
    let _ = state.crm.set_visitor_online(&view.visitor, online_until()).await;
    let mut heartbeat = tokio::time::interval(rapport_crm::VISITOR_HEARTBEAT);
    heartbeat.tick().await;
    let sent_ok = loop {
        tokio::select! {
            frame = view.next() => {
                let values = match frame {
                    None => break true,
                    Some(Frame::Message(m)) => vec![json!({"type": "message", "seq": m["seq"], "data": m})],
                    Some(Frame::Typing(t, name)) => vec![json!({"type": "typing", "data": {"typing": t, "operator_name": name}})],
                    Some(Frame::Operators(online)) => vec![json!({"type": "operators", "data": {"online": online}})],
                    Some(Frame::Ready) => vec![
                        json!({"type": "ready", "seq": view.feed.last_seq()}),
                        json!({"type": "operators", "data": {"online": view.operators_online}}),
                    ],
                };
                let mut failed = false;
                for value in values {
                    failed |= socket.send(text_frame(value)).await.is_err();
                }
                if failed {
                    break false;
                }
            }
            _ = heartbeat.tick() => {
                let _ = state.crm.set_visitor_online(&view.visitor, online_until()).await;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { break false };
                let Message::Text(text) = message else { continue };
                let reply = visitor_request(&state, &mut view, &client, text.as_str()).await;
                if let Some(reply) = reply {
                    if socket.send(text_frame(reply)).await.is_err() {
                        break false;
                    }
                }
            }
        }
    };
    if sent_ok {
        let _ = socket.send(Message::Close(None)).await;
    }
    let _ = state.crm.set_visitor_online(&view.visitor, None).await;
}

/// Handles a frame from the visitor; the answer to send back, if any.
async fn visitor_request(
    state: &AppState,
    view: &mut VisitorFeed,
    client: &ClientAddress,
    text: &str,
) -> Option<Value> {
    let Ok(Value::Object(request)) = serde_json::from_str::<Value>(text) else {
        return Some(json!({"type": "error", "data": {"error": "frames are JSON objects"}}));
    };
    match request.get("type").and_then(Value::as_str) {
        Some("ping") => Some(json!({"type": "pong"})),
        Some("typing") => {
            visitor_typing(
                state,
                &view.visitor,
                request.get("typing").and_then(Value::as_bool).unwrap_or(true),
            );
            None
        }
        Some("read") => {
            // Re-read: the conversation may have started since the socket opened.
            if let Ok(Some(fresh)) = state.crm.visitor(&view.visitor.organization_id, &view.visitor.id).await {
                view.visitor = fresh;
            }
            let _ = state.crm.mark_read_by_visitor(&view.visitor).await;
            None
        }
        Some("message") => {
            let client_id = request.get("client_id").cloned().unwrap_or(Value::Null);
            match post_from_visitor(state, &view.visitor, &request, client).await {
                Ok(posted) => {
                    // The store chose the conversation (the visitor's, or a new one).
                    view.visitor.conversation_id = posted
                        .message
                        .get("conversation_id")
                        .and_then(Value::as_str)
                        .map(Into::into);
                    // The message itself arrives as a `message` frame from the log; a
                    // duplicate client id answers with the first one at once.
                    (!posted.created).then(|| {
                        let seq = posted.event_seq;
                        json!({"type": "message", "seq": seq, "data": visitor_message(&posted.message, seq)})
                    })
                }
                Err(e) => Some(json!({"type": "error", "data": {"error": error_text(&e), "client_id": client_id}})),
            }
        }
        _ => Some(
            json!({"type": "error", "data": {"error": "unknown frame type; expected message, typing, read or ping"}}),
        ),
    }
}

/// An error as a visitor reads it: what they can act on, never the server's internals.
fn error_text(e: &ApiError) -> String {
    match e {
        ApiError::Invalid(errors) => errors.to_string(),
        ApiError::RateLimited { .. } => "too many messages; wait a moment".into(),
        ApiError::TooManyFromClient { message, .. } => message.clone(),
        ApiError::NotFound => "this conversation is no longer available".into(),
        ApiError::BadRequest(message) | ApiError::Forbidden(message) | ApiError::Conflict(message) => message.clone(),
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "a visitor's request failed");
            "something went wrong on our side; try again in a moment".into()
        }
        _ => "the message could not be sent; try again in a moment".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_never_reads_the_servers_internals() {
        let internal = ApiError::Internal("database error: connection to 10.0.0.5 refused, password=hunter2".into());
        let text = error_text(&internal);
        assert!(!text.contains("10.0.0.5") && !text.contains("hunter2"), "{text}");
        let unavailable = ApiError::Unavailable("the index is 3 batches behind on node-b".into());
        assert!(!error_text(&unavailable).contains("node-b"));
        let invalid = ApiError::Invalid(FieldErrors::field("body", "a message needs some text"));
        assert!(error_text(&invalid).contains("a message needs some text"));
    }
}
