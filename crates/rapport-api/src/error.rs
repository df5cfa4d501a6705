//! One error type for every handler, answered in Close's shapes: `{"error": "…"}`, or for
//! validation HTTP 400 with `{"errors": [...], "field-errors": {...}}`. Internal causes
//! are logged, never sent.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::FieldErrors;
use rapport_crm::limits::LimitedError;
use rapport_crm::CrmError;
use rapport_store::DbError;

use crate::codes::{self, Code};
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    Unauthorized(&'static str),
    /// 401 to the web app: no `WWW-Authenticate` challenge, which would make the browser
    /// ask for a password in its own dialog instead of the app's login form.
    LoginRequired(&'static str),
    NotFound,
    Invalid(FieldErrors),
    BadRequest(String),
    Forbidden(String),
    Unprocessable(String),
    Conflict(String),
    RateLimited {
        limit: u32,
        reset_seconds: u64,
    },
    Unavailable(String),
    /// The database cannot write now: 503, nothing was changed.
    StoreUnwritable(String),
    /// Too many failed logins: 429 with `Retry-After` and `RateLimit`.
    TooManyLogins {
        message: String,
        retry_after_seconds: u64,
    },
    /// One client address did something too often (`rapport_crm::limits`): 429.
    TooManyFromClient {
        message: String,
        limit: u32,
        retry_after_seconds: u64,
    },
    /// A search query that cannot be run: `{"error", "span", "hint"}`.
    Query(rapport_query::QueryError),
    Internal(String),
}

impl From<CrmError> for ApiError {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::NotFound => ApiError::NotFound,
            CrmError::Invalid(errors) => ApiError::Invalid(errors),
            CrmError::Refused(message) => ApiError::BadRequest(message),
            CrmError::Forbidden(message) => ApiError::Forbidden(message),
            CrmError::IdempotencyMismatch => ApiError::Unprocessable(e.to_string()),
            CrmError::TooManyLogins { retry_after_seconds } => ApiError::TooManyLogins {
                message: e.to_string(),
                retry_after_seconds,
            },
            CrmError::Db(DbError::Conflict) => {
                ApiError::Conflict("the object kept changing while this request ran; try again".into())
            }
            CrmError::Db(DbError::Unique(index)) => {
                ApiError::BadRequest(format!("this would duplicate a unique value (in {index})"))
            }
            CrmError::Query(e) => ApiError::Query(e),
            CrmError::Unavailable(message) => ApiError::Unavailable(message),
            CrmError::Db(DbError::NulInText) => ApiError::Invalid(FieldErrors::general(DbError::NulInText.to_string())),
            CrmError::Db(DbError::Unwritable(cause)) => {
                tracing::error!(%cause, "the database cannot write");
                ApiError::StoreUnwritable(
                    "the server cannot store data right now (its disk is full or read-only); nothing was changed: try again shortly".into(),
                )
            }
            CrmError::Db(e @ (DbError::Backend(_) | DbError::Column { .. })) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<LimitedError> for ApiError {
    fn from(e: LimitedError) -> Self {
        match e {
            LimitedError::Client(too_many) => ApiError::TooManyFromClient {
                message: e.to_string(),
                limit: too_many.limit.burst,
                retry_after_seconds: too_many.retry_after_seconds,
            },
            LimitedError::Visitor(too_many) => ApiError::RateLimited {
                limit: too_many.limit.burst,
                reset_seconds: too_many.retry_after_seconds,
            },
            LimitedError::Crm(e) => e.into(),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}

impl ApiError {
    /// The error's machine-readable code (`codes.rs`).
    pub fn code(&self) -> Code {
        match self {
            ApiError::Unauthorized(_) => Code::Unauthorized,
            ApiError::LoginRequired(_) => Code::LoginRequired,
            ApiError::NotFound => Code::NotFound,
            ApiError::Invalid(_) => Code::InvalidInput,
            ApiError::BadRequest(_) => Code::Refused,
            ApiError::Forbidden(_) => Code::Forbidden,
            ApiError::Unprocessable(_) => Code::IdempotencyKeyReused,
            ApiError::Conflict(_) => Code::Conflict,
            ApiError::RateLimited { .. } => Code::RateLimited,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::StoreUnwritable(_) => Code::StoreUnwritable,
            ApiError::TooManyLogins { .. } => Code::TooManyLogins,
            ApiError::TooManyFromClient { .. } => Code::TooManyFromClient,
            ApiError::Query(_) => Code::InvalidQuery,
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = |text: String| codes::body(code, text);
        let body = match self {
            ApiError::Unauthorized(text) => {
                return (
                    code.status(),
                    [(header::WWW_AUTHENTICATE, "Basic realm=\"Rapport\"")],
                    Json(message(text.into())),
                )
                    .into_response();
            }
            ApiError::RateLimited { limit, reset_seconds } => {
                let text = format!("rate limit of {limit} requests per second exceeded; retry in {reset_seconds} s");
                return too_many_requests(message(text), limit.into(), reset_seconds);
            }
            ApiError::TooManyLogins {
                message: text,
                retry_after_seconds,
            } => return too_many_requests(message(text), rapport_crm::LOGIN_FAILURES_ALLOWED, retry_after_seconds),
            ApiError::TooManyFromClient {
                message: text,
                limit,
                retry_after_seconds,
            } => return too_many_requests(message(text), limit.into(), retry_after_seconds),
            ApiError::Unavailable(text) | ApiError::StoreUnwritable(text) => {
                return (code.status(), [(header::RETRY_AFTER, "1")], Json(message(text))).into_response();
            }
            ApiError::Query(e) => {
                let mut body = e.to_json();
                body["code"] = code.name().into();
                body
            }
            ApiError::NotFound => message("not found".into()),
            ApiError::Invalid(e) => json!({"errors": e.errors, "field-errors": e.fields, "code": code.name()}),
            ApiError::BadRequest(text) => {
                json!({"error": text, "errors": [text], "field-errors": {}, "code": code.name()})
            }
            ApiError::LoginRequired(text) => message(text.into()),
            ApiError::Forbidden(text) | ApiError::Unprocessable(text) | ApiError::Conflict(text) => message(text),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                message("internal error; the server log has the details".into())
            }
        };
        (code.status(), Json(body)).into_response()
    }
}

/// 429 with Close's `RateLimit` header and `Retry-After`.
fn too_many_requests(body: serde_json::Value, limit: i64, reset_seconds: u64) -> Response {
    let rate = format!("limit={limit}, remaining=0, reset={reset_seconds}");
    let headers = [("ratelimit", rate), ("retry-after", reset_seconds.to_string())];
    (StatusCode::TOO_MANY_REQUESTS, headers, Json(body)).into_response()
}
