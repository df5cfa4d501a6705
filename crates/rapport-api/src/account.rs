//! A person's routes: login and logout (the web app's session), the team (users, roles,
//! passwords), one's own API keys and drafts.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rapport_core::FieldErrors;
use serde_json::{json, Map, Value};

use crate::auth::{Auth, CsrfToken, SessionAuth, SESSION_COOKIE};
use crate::body::{parse_body, whole_list};
use crate::client::ClientAddress;
use crate::openapi::{any_object, empty_response, id_param, json_response, list_schema, schema_ref, Op};
use crate::route_table::Routes;
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Routes {
    let any = any_object();
    let done = || empty_response("Done");
    Routes::new()
        .get(
            "/api/v1/me/",
            me,
            Op::new("The caller, with their organizations", "user").ok(json_response("The user", any.clone())),
        )
        .post("/api/v1/auth/login/", login, login_op())
        .post(
            "/api/v1/auth/logout/",
            logout,
            Op::bare("End the session and clear its cookie")
                .tag("auth")
                .security(json!([{"session": []}]))
                .respond("204", empty_response("Logged out")),
        )
        .post(
            "/api/v1/auth/password_reset/",
            request_password_reset,
            request_password_reset_op(),
        )
        .post(
            "/api/v1/auth/password_reset/confirm/",
            confirm_password_reset,
            Op::bare("Set the new password with the emailed link's token; every session of the account ends")
                .tag("auth")
                .public()
                .body(json!({"type": "object", "required": ["token", "password"], "properties": {
                    "token": {"type": "string"}, "password": {"type": "string", "minLength": 8, "maxLength": 1000}}}))
                .respond("204", empty_response("Password set"))
                .respond(
                    "400",
                    json_response(
                        "A used, expired or unknown token, or a password too short",
                        schema_ref("validation_error"),
                    ),
                ),
        )
        .get(
            "/api/v1/user/",
            list_users,
            Op::new("Users of the organization", "user").ok(json_response("Users", list_schema(any.clone()))),
        )
        .post(
            "/api/v1/user/",
            create_user,
            Op::new("Add a member who logs in with a password (admins)", "user")
                .body(json!({"type": "object", "required": ["email", "password"], "properties": {
                    "email": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
                    "role": {"type": "string", "enum": ["admin", "member"]}, "password": {"type": "string", "minLength": 8}}}))
                .ok(json_response("The user", any.clone())),
        )
        .get(
            "/api/v1/user/{id}/",
            get_user,
            Op::new("A user", "user")
                .param(id_param())
                .ok(json_response("The user", any.clone())),
        )
        .put(
            "/api/v1/user/{id}/",
            update_user,
            Op::new(
                "Change one's own name, or a member's role (admins); the organization keeps one admin",
                "user",
            )
            .param(id_param())
            .body(json!({"type": "object", "properties": {
                "first_name": {"type": "string", "maxLength": 200}, "last_name": {"type": "string", "maxLength": 200},
                "role": {"type": "string", "enum": ["admin", "member"]}}}))
            .ok(json_response("The user", any.clone())),
        )
        .delete(
            "/api/v1/user/{id}/",
            remove_user,
            Op::new(
                "Remove a member (admins): their keys and sessions end, their data stays",
                "user",
            )
            .param(id_param())
            .respond("204", done()),
        )
        .post(
            "/api/v1/user/{id}/password/",
            reset_password,
            Op::new(
                "Set a member's password (admins; only for a member of no other organization)",
                "user",
            )
            .param(id_param())
            .body(password_body(&["password"]))
            .respond("204", done()),
        )
        .post(
            "/api/v1/me/password/",
            change_password,
            Op::new("Change one's own password; other sessions end", "user")
                .body(password_body(&["current_password", "password"]))
                .respond("204", done()),
        )
        .get(
            "/api/v1/api_key/",
            list_api_keys,
            Op::new(
                "The caller's API keys (names and dates; a key is shown only when made)",
                "api_key",
            )
            .ok(json_response("Keys", list_schema(api_key_schema()))),
        )
        .post(
            "/api/v1/api_key/",
            create_api_key,
            Op::new(
                "Make an API key for the caller; the answer's `key` is the only time it is shown",
                "api_key",
            )
            .body(json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}))
            .ok(json_response("The key", any)),
        )
        .delete(
            "/api/v1/api_key/{id}/",
            delete_api_key,
            Op::bare("Revoke one of the caller's API keys")
                .tag("api_key")
                .param(id_param())
                .respond("204", empty_response("Revoked")),
        )
        .get(
            "/api/v1/draft/",
            list_drafts,
            Op::new(
                "The caller's drafts (autosaved notes, replies, emails), newest first",
                "draft",
            )
            .ok(json_response("Drafts", list_schema(draft_schema()))),
        )
        .get(
            "/api/v1/draft/{key}/",
            get_draft,
            Op::bare("One of the caller's drafts")
                .tag("draft")
                .param(draft_key_param())
                .ok(json_response("The draft", draft_schema()))
                .respond("404", empty_response("No such draft")),
        )
        .put(
            "/api/v1/draft/{key}/",
            save_draft,
            Op::bare("Save a draft (`{\"body\": \"…\"}`, at most 100,000 characters); only its owner sees it")
                .tag("draft")
                .param(draft_key_param())
                .body(json!({"type": "object", "required": ["body"], "properties": {"body": {"type": "string"}}}))
                .ok(json_response("The draft", draft_schema())),
        )
        .delete(
            "/api/v1/draft/{key}/",
            delete_draft,
            Op::bare("Delete a draft (once sent)")
                .tag("draft")
                .param(draft_key_param())
                .respond("204", empty_response("Deleted")),
        )
}

fn login_op() -> Op {
    let throttled = format!(
        "{} failed logins for this email in the last {} minutes: refused, the password unchecked, until the oldest leaves that window (`Retry-After`, seconds). A successful login clears the count.",
        rapport_crm::LOGIN_FAILURES_ALLOWED,
        rapport_crm::LOGIN_WINDOW_SECONDS / 60
    );
    Op::bare("Log in with email and password: sets the `rapport_session` cookie (HttpOnly, SameSite=Lax, 30 days) and answers the user and the CSRF token that cookie-authenticated writes send in `X-CSRF-Token`")
        .tag("auth")
        .public()
        .body(json!({"type": "object", "required": ["email", "password"], "properties": {
            "email": {"type": "string"}, "password": {"type": "string"}, "organization_id": {"type": "string", "description": "For a user of several organizations; the first one otherwise."}}}))
        .ok(json_response(
            "Logged in",
            json!({"type": "object", "properties": {"user": any_object(), "csrf_token": {"type": "string"}}}),
        ))
        .respond("401", empty_response("Wrong email or password"))
        .respond("429", empty_response(&throttled))
}

fn request_password_reset_op() -> Op {
    Op::bare(format!(
        "Forgot password: emails the account a link that sets a new password, valid {} minutes and once, at most {} per hour. The same 202 answer whether the email has an account or not; 503 when the server has no SMTP",
        rapport_crm::RESET_SECONDS / 60,
        rapport_crm::RESETS_PER_HOUR
    ))
    .tag("auth")
    .public()
    .body(json!({"type": "object", "required": ["email"], "properties": {"email": {"type": "string", "maxLength": 254}}}))
    .respond(
        "202",
        json_response("Sent, if the email has an account", any_object()),
    )
    .respond(
        "400",
        json_response("Not an email address", schema_ref("validation_error")),
    )
    .respond(
        "503",
        json_response("No SMTP configured", schema_ref("error")),
    )
}

/// A body of password fields, each required.
fn password_body(required: &[&str]) -> Value {
    let properties: Map<String, Value> = required
        .iter()
        .map(|field| {
            (
                field.to_string(),
                json!({"type": "string", "minLength": 1, "maxLength": 1000}),
            )
        })
        .collect();
    json!({"type": "object", "required": required, "properties": properties})
}

fn api_key_schema() -> Value {
    json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "date_created": {"type": "string"}}})
}

fn draft_schema() -> Value {
    json!({"type": "object", "properties": {"key": {"type": "string"}, "body": {"type": "string"}, "date_updated": {"type": "string"}}})
}

fn draft_key_param() -> Value {
    json!({"name": "key", "in": "path", "required": true, "schema": {"type": "string", "maxLength": 200},
        "description": "The draft's name, e.g. `note:lead_…` or `reply:conv_…`."})
}

/// `POST /auth/login/` `{email, password, organization_id?}`: sets the session cookie and
/// answers the user with the CSRF token that writes must echo.
async fn login(State(state): State<AppState>, client: ClientAddress, headers: HeaderMap, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    let text = |field: &str| input.get(field).and_then(Value::as_str).unwrap_or_default();
    let organization = input.get("organization_id").and_then(Value::as_str);
    let session = state
        .crm
        .login(client.0, text("email"), text("password"), organization)
        .await?
        .ok_or(ApiError::LoginRequired("wrong email or password"))?;
    let mut user = state.crm.me(&session.actor).await?;
    user["csrf_token"] = session.csrf_token.clone().into();
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        session.token,
        rapport_crm::SESSION_SECONDS,
        if behind_https(&headers) { "; Secure" } else { "" }
    );
    let mut response = Json(json!({"user": user, "csrf_token": session.csrf_token})).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /auth/password_reset/` `{email}`: emails a single-use link to set a new
/// password. Answered 202 at once, whether the email has an account or not; the email
/// is sent after the answer (a slow SMTP server tells nothing either).
async fn request_password_reset(State(state): State<AppState>, client: ClientAddress, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    let email = input.get("email").and_then(Value::as_str).unwrap_or_default();
    let mail = state.account_mail.clone();
    let reset = state
        .crm
        .request_password_reset(client.0, email, mail.is_some())
        .await?;
    if let (Some(reset), Some(mail)) = (reset, mail) {
        tokio::spawn(async move {
            let link = format!(
                "{}/#/reset-password/{}",
                mail.public_url.trim_end_matches('/'),
                reset.token
            );
            let minutes = rapport_crm::RESET_SECONDS / 60;
            let email = rapport_delivery::Email {
                to: vec![reset.email.clone()],
                subject: "Set a new Rapport password".into(),
                text_body: format!(
                    "Someone asked to set a new password for the Rapport account {}.\n\n\
                     To choose one, open this link within {minutes} minutes (it works once):\n{link}\n\n\
                     If it was not you, ignore this email: your password stays as it is.\n",
                    reset.email
                ),
                ..Default::default()
            };
            if let Err(e) = mail.mailer.send(&email).await {
                tracing::warn!(error = %e, "cannot send a password reset email");
            }
        });
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"sent_if_known": true}))).into_response())
}

/// `POST /auth/password_reset/confirm/` `{token, password}`: the new password; every
/// session of the account ends.
async fn confirm_password_reset(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    let text = |field: &str| input.get(field).and_then(Value::as_str).unwrap_or_default();
    state.crm.reset_password(text("token"), text("password")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A TLS proxy in front says so; the cookie is then never sent over plain HTTP.
fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

async fn logout(State(state): State<AppState>, SessionAuth(session): SessionAuth) -> ApiResult {
    state.crm.logout(&session.token).await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /me/`: with the session cookie, the CSRF token too (the app reads it after a reload).
async fn me(State(state): State<AppState>, Auth(actor): Auth, csrf: Option<Extension<CsrfToken>>) -> ApiResult {
    let mut user = state.crm.me(&actor).await?;
    if let Some(Extension(CsrfToken(token))) = csrf {
        user["csrf_token"] = token.into();
    }
    Ok(Json(user).into_response())
}

async fn list_users(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult {
    Ok(whole_list(state.crm.list_users(&actor).await?))
}

async fn get_user(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(state.crm.user(&actor, &id).await?).into_response())
}

/// `POST /user/`: an admin adds a member: a new account with a password, or an existing
/// account, untouched, as a member.
async fn create_user(State(state): State<AppState>, Auth(actor): Auth, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    Ok(Json(state.crm.create_user(&actor, &input).await?).into_response())
}

/// `PUT /user/{id}/`: one's own name; an admin changes a member's role.
async fn update_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let input = parse_body(&body)?;
    Ok(Json(state.crm.update_user(&actor, &id, &input).await?).into_response())
}

/// `DELETE /user/{id}/`: an admin removes a member from the organization.
async fn remove_user(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    state.crm.remove_member(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /user/{id}/password/` `{password}`: an admin resets a member's password.
async fn reset_password(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let input = parse_body(&body)?;
    state.crm.reset_member_password(&actor, &id, &input).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /me/password/` `{current_password, password}`: the caller's own password.
async fn change_password(State(state): State<AppState>, Auth(actor): Auth, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    state.crm.change_own_password(&actor, &input).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_api_keys(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult {
    Ok(whole_list(state.crm.api_keys(&actor).await?))
}

async fn create_api_key(State(state): State<AppState>, Auth(actor): Auth, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    Ok(Json(state.crm.create_own_api_key(&actor, &input).await?).into_response())
}

async fn delete_api_key(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    state.crm.delete_api_key(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_drafts(State(state): State<AppState>, Auth(actor): Auth) -> ApiResult {
    Ok(whole_list(state.crm.drafts(&actor).await?))
}

async fn get_draft(State(state): State<AppState>, Auth(actor): Auth, Path(key): Path<String>) -> ApiResult {
    Ok(Json(state.crm.draft(&actor, &key).await?).into_response())
}

async fn save_draft(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult {
    let input = parse_body(&body)?;
    if !input.is_object() {
        return Err(FieldErrors::general("expected a JSON object: {\"body\": \"…\"}").into());
    }
    Ok(Json(state.crm.save_draft(&actor, &key, &input).await?).into_response())
}

async fn delete_draft(State(state): State<AppState>, Auth(actor): Auth, Path(key): Path<String>) -> ApiResult {
    state.crm.delete_draft(&actor, &key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
