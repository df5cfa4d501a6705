//! The operators' side of chat — messages of a conversation, read marks, typing — and
//! `/api/v1/realtime`, the websocket that pushes the organization's changes.
//!
//! Websites and conversations themselves use the generic object routes
//! (`/api/v1/website/`, `/api/v1/conversation/?status=open&assigned_to=…&unread__gt=0`).

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rapport_crm::Actor;
use rapport_realtime::{Feed, Live, Scope, Typing};
use serde_json::{json, Map, Value};

use crate::auth::{Auth, Credential};
use crate::openapi::{empty_response, id_param, json_response, list_schema, query_param, schema_ref, Op};
use crate::params::parse_query;
use crate::route_table::Routes;
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Routes {
    let message = schema_ref("message");
    let conversation = || json_response("The conversation", schema_ref("conversation"));
    Routes::new()
        .get(
            "/api/v1/conversation/{id}/message/",
            list_messages,
            Op::new(
                "The conversation's messages, oldest first, private notes included",
                "conversation",
            )
            .param(id_param())
            .ok(json_response("The messages", list_schema(message.clone()))),
        )
        .post(
            "/api/v1/conversation/{id}/message/",
            post_message,
            Op::bare("Reply to the visitor (or, with `private: true`, leave a note for operators only); a `client_id` sent again returns the first message (200)")
                .tag("conversation")
                .param(id_param())
                .body(json!({"type": "object", "required": ["body"], "properties": {
                    "body": {"type": "string", "maxLength": 5000}, "client_id": {"type": "string", "maxLength": 100}, "private": {"type": "boolean"}}}))
                .respond("201", json_response("The new message", message.clone()))
                .ok(json_response("The message first sent with this client_id", message)),
        )
        .post(
            "/api/v1/conversation/{id}/read/",
            mark_read,
            Op::new("Mark the conversation read: its unread count goes to 0", "conversation")
                .param(id_param())
                .ok(conversation()),
        )
        .post(
            "/api/v1/conversation/{id}/link/",
            link,
            Op::new("Confirm who the visitor is: the conversation and its messages join the lead of `contact_id` (default: `suggested_contact_id`, the contact an unverified email matched)", "chat")
                .param(id_param())
                .body(json!({"type": "object", "properties": {"contact_id": {"type": "string"}}}))
                .ok(conversation()),
        )
        .post(
            "/api/v1/conversation/{id}/typing/",
            typing,
            Op::bare("Tell the visitor and the other operators that you type (`{\"typing\": bool}`)")
                .tag("conversation")
                .param(id_param())
                .respond("204", empty_response("Sent")),
        )
        .post(
            "/api/v1/website/{id}/rotate_secret/",
            rotate_secret,
            Op::new("A new identity secret for the website (admins), shown once in this answer; the old one stops verifying", "chat")
                .param(id_param())
                .ok(json_response("The website, with `identity_secret`", schema_ref("website"))),
        )
        .get(
            "/api/v1/realtime/",
            realtime,
            Op::bare("Websocket of the organization's changes as `{\"type\": \"<object_type>.<action>\", \"seq\", \"data\": event}` frames, plus `typing`, `presence`, `hello` and `ready`")
                .description("With `since`, every event after that sequence number is sent first, from the event log, then live ones: no gap, no duplicate. Send `{\"type\": \"view\", \"lead_id\"}` for presence, `{\"type\": \"typing\", \"conversation_id\", \"typing\"}`, `{\"type\": \"ping\"}`.")
                .tag("realtime")
                .param(query_param("since", "The `seq` of the last event received.", json!({"type": "integer"})))
                .respond("101", empty_response("Switching to the websocket protocol")),
        )
}

/// `POST /website/{id}/rotate_secret/` (admins): the new identity secret, shown once.
async fn rotate_secret(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(Value::Object(state.crm.rotate_identity_secret(&actor, &id).await?)).into_response())
}

async fn list_messages(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    let org = &actor.organization_id;
    if state.crm.conversation(org, &id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(crate::body::whole_list(
        state.crm.conversation_messages(org, &id, true).await?,
    ))
}

async fn post_message(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let input = crate::body::parse_body(&body)?;
    let posted = state.crm.post_operator_message(&actor, &id, &input).await?;
    let status = if posted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Value::Object(posted.message))).into_response())
}

/// `POST /conversation/{id}/link/` `{contact_id?}`: the visitor is that contact.
async fn link(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let input = if body.is_empty() {
        json!({})
    } else {
        crate::body::parse_body(&body)?
    };
    Ok(Json(Value::Object(state.crm.link_conversation(&actor, &id, &input).await?)).into_response())
}

async fn mark_read(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    let conversation = state.crm.mark_read_by_operator(&actor, &id).await?;
    Ok(Json(Value::Object(conversation)).into_response())
}

async fn typing(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let input = crate::body::parse_body(&body)?;
    let typing = input.get("typing").and_then(Value::as_bool).unwrap_or(true);
    let conversation = state
        .crm
        .conversation(&actor.organization_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    operator_typing(&state, &actor, &conversation, typing).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn operator_typing(state: &AppState, actor: &Actor, conversation: &Map<String, Value>, typing: bool) {
    let name = state.crm.user_name(actor).await;
    let text = |field: &str| {
        conversation
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    state.hub.typing(
        &actor.organization_id,
        Typing {
            conversation_id: text("id"),
            visitor_id: text("visitor_id"),
            author: "operator".into(),
            user_id: Some(actor.user_id.clone()),
            name,
            typing,
        },
    );
}

/// `GET /api/v1/realtime?since=SEQ`: a websocket of `{"type", "seq", "data"}` frames.
async fn realtime(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Extension(credential): Extension<Credential>,
    RawQuery(raw): RawQuery,
    upgrade: WebSocketUpgrade,
) -> ApiResult {
    let since = match parse_query(raw.as_deref()).into_iter().find(|(k, _)| k == "since") {
        Some((_, v)) => Some(v.parse::<i64>().map_err(|_| {
            ApiError::Invalid(rapport_core::FieldErrors::field(
                "since",
                "the sequence number of the last event received",
            ))
        })?),
        None => None,
    };
    Ok(small_buffers(upgrade).on_upgrade(move |socket| operator_socket(state, actor, credential, since, socket)))
}

/// Sockets mostly idle: tungstenite's default 128 KiB read buffer per socket would be
/// most of a server's memory at 10,000 sockets. Frames from clients are small.
pub(crate) fn small_buffers(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(4 << 10)
        .write_buffer_size(4 << 10)
        .max_message_size(64 << 10)
        .max_frame_size(64 << 10)
}

/// A frame as text.
fn frame(kind: &str, seq: Option<i64>, data: Value) -> Message {
    let mut frame = json!({"type": kind, "data": data});
    if let Some(seq) = seq {
        frame["seq"] = seq.into();
    }
    Message::Text(frame.to_string().into())
}

pub(crate) fn live_frame(actor: &Actor, live: &Live) -> Option<Message> {
    match live {
        Live::Event(live) => actor
            .sees_event(&live.event.event)
            .then(|| Message::Text(live.frame.as_str().into())),
        Live::Typing(typing) => Some(frame("typing", None, json!(typing.as_ref()))),
        Live::Presence(entries) => Some(frame("presence", None, json!({"users": entries.as_ref()}))),
        Live::Ready => None,
    }
}

/// How often an open socket checks its credential again: a deleted key, a logout, a
/// password change or a removal closes it within this.
const RECHECK_CREDENTIAL: std::time::Duration = std::time::Duration::from_secs(1);
/// The close code of a socket whose credential was revoked (4000–4999: the application's).
const CLOSE_REVOKED: u16 = 4401;

async fn operator_socket(
    state: AppState,
    actor: Actor,
    credential: Credential,
    since: Option<i64>,
    mut socket: WebSocket,
) {
    // A sequence number this log never reached (another server's, a restored backup): the
    // client's state cannot be caught up; it must reload, then follow from now.
    let newest = state.crm.last_event_seq().await.unwrap_or(0);
    let since = match since {
        Some(seq) if seq > newest => {
            let resync =
                json!({"error": "`since` is ahead of this server's event log; reload, then follow from `seq`"});
            if socket.send(frame("resync", Some(newest), resync)).await.is_err() {
                return;
            }
            None
        }
        since => since,
    };
    let mut feed: Feed = state.hub.feed(&actor.organization_id, Scope::Organization, since);
    let presence = state.hub.join(&actor.organization_id, &actor.user_id);
    let hello = json!({
        "user_id": actor.user_id,
        "presence": {"users": state.hub.presence(&actor.organization_id)},
    });
    if socket.send(frame("hello", Some(feed.last_seq()), hello)).await.is_err() {
        return;
    }
    let mut recheck = tokio::time::interval(RECHECK_CREDENTIAL);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = recheck.tick() => {
                // A store that does not answer keeps the socket: it is not a revocation.
                if let Ok(false) = credential.still_valid(&state, &actor).await {
                    let close = CloseFrame { code: CLOSE_REVOKED, reason: "the credential was revoked; sign in again".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
            }
            item = feed.next() => {
                let Ok(live) = item else {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                };
                let message = match live {
                    Live::Ready => Some(frame("ready", Some(feed.last_seq()), Value::Null)),
                    live => live_frame(&actor, &live),
                };
                if let Some(message) = message {
                    if socket.send(message).await.is_err() {
                        return;
                    }
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let Message::Text(text) = message else { continue };
                let Ok(request) = serde_json::from_str::<Value>(text.as_str()) else {
                    let _ = socket.send(frame("error", None, json!({"error": "frames are JSON objects"}))).await;
                    continue;
                };
                match request["type"].as_str() {
                    Some("ping") => {
                        if socket.send(frame("pong", None, Value::Null)).await.is_err() {
                            return;
                        }
                    }
                    Some("view") => presence.view(request["lead_id"].as_str().map(str::to_string)),
                    Some("typing") => {
                        let Some(conversation_id) = request["conversation_id"].as_str() else { continue };
                        let typing = request["typing"].as_bool().unwrap_or(true);
                        if let Ok(Some(conversation)) = state.crm.conversation(&actor.organization_id, conversation_id).await {
                            operator_typing(&state, &actor, &conversation, typing).await;
                        }
                    }
                    _ => {
                        let error = json!({"error": "unknown frame type; expected ping, view or typing"});
                        if socket.send(frame("error", None, error)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}
