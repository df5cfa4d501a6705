//! A person's routes: login and logout (the web app's session), the team (users, roles,
//! passwords), one's own API keys and drafts.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use rapport_core::FieldErrors;
use serde_json::{json, Value};

use crate::auth::{Auth, CsrfToken, SessionAuth, SESSION_COOKIE};
use crate::body::{parse_body, whole_list};
use crate::client::ClientAddress;
use crate::route_table::Routes;
use crate::{ApiError, AppState};
use rapport_crm::limits;

type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Routes {
    Routes::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password_reset", post(request_password_reset))
        .route("/api/v1/auth/password_reset/confirm", post(confirm_password_reset))
        .route("/api/v1/user", get(list_users).post(create_user))
        .route("/api/v1/user/{id}", get(get_user).put(update_user).delete(remove_user))
        .route("/api/v1/user/{id}/password", post(reset_password))
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/api_key", get(list_api_keys).post(create_api_key))
        .route("/api/v1/api_key/{id}", axum::routing::delete(delete_api_key))
        .route("/api/v1/draft", get(list_drafts))
        .route(
            "/api/v1/draft/{key}",
            get(get_draft).put(save_draft).delete(delete_draft),
        )
}

/// `POST /auth/login/` `{email, password, organization_id?}`: sets the session cookie and
/// answers the user with the CSRF token that writes must echo.
async fn login(State(state): State<AppState>, client: ClientAddress, headers: HeaderMap, body: Bytes) -> ApiResult {
    let input = parse_body(&body)?;
    client.take(&state, &limits::LOGINS).await?;
    let text = |field: &str| input.get(field).and_then(Value::as_str).unwrap_or_default();
    let organization = input.get("organization_id").and_then(Value::as_str);
    let session = state
        .crm
        .login(text("email"), text("password"), organization)
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
    if let Err(message) = rapport_core::validate::email(email) {
        return Err(FieldErrors::field("email", message).into());
    }
    client.take(&state, &limits::PASSWORD_RESETS).await?;
    let Some(mail) = state.account_mail.clone() else {
        return Err(ApiError::Unavailable(
            "this server sends no email (no SMTP configured); an admin can set a new password for you".into(),
        ));
    };
    if let Some(reset) = state.crm.request_password_reset(email).await? {
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
