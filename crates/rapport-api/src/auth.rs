//! Who is calling: a program with an API key as the HTTP Basic user name and an empty
//! password, as Close does; or a person in the web app, with the session cookie set by
//! `POST /api/v1/auth/login/`.
//!
//! A cookie is sent by the browser on its own, so a cookie-authenticated request must
//! prove it comes from the app: every write carries the session's CSRF token in
//! `X-CSRF-Token`, and any request with an `Origin` must come from this server's origin
//! (which also keeps other sites from opening `/api/v1/realtime` as the user).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use base64::Engine;
use rapport_crm::{Actor, Session};

use crate::{ApiError, AppState};

/// The web app's session cookie.
pub const SESSION_COOKIE: &str = "rapport_session";
/// The header that echoes the session's CSRF token on writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A session unused for this long ends, unless the server says otherwise: 7 days.
pub const DEFAULT_SESSION_IDLE_SECONDS: i64 = 7 * 24 * 3600;

/// How long a session may go unused (seconds), left in each request's extensions by the
/// server.
#[derive(Clone, Copy)]
pub struct SessionIdle(pub i64);

/// The authenticated caller.
pub struct Auth(pub Actor);

/// The credential a request was authenticated with, left in its extensions by [`Auth`]:
/// a long-lived socket checks it again, so that revoking it closes the socket.
#[derive(Clone)]
pub enum Credential {
    ApiKey(String),
    Session { token: String, idle_seconds: i64 },
}

impl Credential {
    /// Whether the credential still authenticates `actor` (not deleted, logged out,
    /// expired, or its user removed from the organization).
    pub async fn still_valid(&self, state: &AppState, actor: &Actor) -> Result<bool, ApiError> {
        let now = match self {
            Credential::ApiKey(key) => state.crm.authenticate_api_key(key).await?,
            Credential::Session { token, idle_seconds } => state
                .crm
                .authenticate_session(token, *idle_seconds)
                .await?
                .map(|s| s.actor),
        };
        Ok(now.is_some_and(|now| now.user_id == actor.user_id && now.organization_id == actor.organization_id))
    }
}

/// The caller authenticated by the session cookie (the web app's own routes).
pub struct SessionAuth(pub Session);

/// The session's CSRF token, left in the request's extensions by [`Auth`] when the
/// cookie authenticated it (so `GET /me/` can show it without a second lookup).
#[derive(Clone)]
pub struct CsrfToken(pub String);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let key = basic_user(header.to_str().unwrap_or("")).ok_or(ApiError::Unauthorized(
                "malformed Authorization header; expected HTTP Basic",
            ))?;
            let actor = state
                .crm
                .authenticate_api_key(&key)
                .await?
                .ok_or(ApiError::Unauthorized("invalid API key"))?;
            check_rate(state, &key).await?;
            parts.extensions.insert(Credential::ApiKey(key));
            return Ok(Auth(actor));
        }
        if session_token(&parts.headers).is_none() && !from_web_app(&parts.headers) {
            return Err(ApiError::Unauthorized(
                "authentication required: send your API key as the HTTP Basic user name",
            ));
        }
        let SessionAuth(session) = SessionAuth::from_request_parts(parts, state).await?;
        parts.extensions.insert(CsrfToken(session.csrf_token));
        Ok(Auth(session.actor))
    }
}

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or(ApiError::LoginRequired("not logged in"))?;
        let idle = parts
            .extensions
            .get::<SessionIdle>()
            .map_or(DEFAULT_SESSION_IDLE_SECONDS, |idle| idle.0);
        let session = state
            .crm
            .authenticate_session(token, idle)
            .await?
            .ok_or(ApiError::LoginRequired("the session has ended; log in again"))?;
        if !same_origin(&parts.headers) {
            return Err(ApiError::Forbidden(
                "a request with the session cookie must come from this server's own pages (Origin)".into(),
            ));
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let echoed = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !safe && !echoed.is_some_and(|echoed| same_secret(echoed, &session.csrf_token)) {
            return Err(ApiError::Forbidden(format!(
                "a write with the session cookie must send the session's CSRF token in {CSRF_HEADER} (from the login answer or GET /api/v1/me/)"
            )));
        }
        check_rate(state, &session.actor.user_id).await?;
        parts.extensions.insert(Credential::Session {
            token: token.to_string(),
            idle_seconds: idle,
        });
        Ok(SessionAuth(session))
    }
}

async fn check_rate(state: &AppState, key: &str) -> Result<(), ApiError> {
    state.rate_limiter.check(key).await.map_err(|l| ApiError::RateLimited {
        limit: l.limit,
        reset_seconds: l.reset_seconds,
    })
}

/// The session token of the request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The app marks its requests, so that a 401 does not make the browser show its own
/// password dialog.
fn from_web_app(headers: &HeaderMap) -> bool {
    headers.contains_key("x-requested-with")
}

/// No `Origin`, or the origin of the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| !host.is_empty() && authority.eq_ignore_ascii_case(host))
}

/// Whether two secrets are equal, in a time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// The user name of a `Basic …` header value.
fn basic_user(value: &str) -> Option<String> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn reads_the_user_of_basic_credentials() {
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("api_abc:"));
        assert_eq!(basic_user(&header).as_deref(), Some("api_abc"));
        assert_eq!(basic_user("Bearer api_abc"), None);
        assert_eq!(basic_user("Basic !!!"), None);
        let empty = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(":"));
        assert_eq!(basic_user(&empty), None);
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn compares_secrets_whole() {
        assert!(same_secret("csrf_abc", "csrf_abc"));
        assert!(!same_secret("csrf_abc", "csrf_abd"));
        assert!(!same_secret("csrf_abc", "csrf_ab"));
        assert!(!same_secret("", "csrf_abc"));
    }

    #[test]
    fn finds_the_session_among_cookies() {
        let h = headers(&[("cookie", "theme=dark; rapport_session=sess_abc; other=1")]);
        assert_eq!(session_token(&h), Some("sess_abc"));
        assert_eq!(session_token(&headers(&[("cookie", "rapport_session=")])), None);
        assert_eq!(session_token(&headers(&[("cookie", "xrapport_session=a")])), None);
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn accepts_only_the_servers_own_origin() {
        assert!(same_origin(&headers(&[("host", "crm.example.com")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9090")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "crm.example.com"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "crm.example.com"),
            ("origin", "null")
        ])));
    }
}
