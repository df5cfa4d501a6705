//! HTTP Basic with an API key as the user name and an empty password, as Close does.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use rapport_crm::Actor;

use crate::{ApiError, AppState};

/// The authenticated caller.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or(ApiError::Unauthorized(
            "authentication required: send your API key as the HTTP Basic user name",
        ))?;
        let key = basic_user(header.to_str().unwrap_or("")).ok_or(ApiError::Unauthorized(
            "malformed Authorization header; expected HTTP Basic",
        ))?;
        let actor = state
            .crm
            .authenticate_api_key(&key)
            .await?
            .ok_or(ApiError::Unauthorized("invalid API key"))?;
        state.rate_limiter.check(&key).map_err(|l| ApiError::RateLimited {
            limit: l.limit,
            reset_seconds: l.reset_seconds,
        })?;
        Ok(Auth(actor))
    }
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
}
