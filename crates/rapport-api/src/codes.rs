//! Every error answer carries a machine-readable `code` beside Close's `error` (and, for
//! invalid input, `errors` and `field-errors`): one table, [`CODES`], that the answers,
//! the OpenAPI document and `docs/errors.md` read. A code never changes meaning; a new
//! kind of error is a new row.

use axum::http::StatusCode;

/// What went wrong, as a program reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidInput,
    InvalidQuery,
    Refused,
    BadRequest,
    Unauthorized,
    LoginRequired,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    IdempotencyKeyReused,
    RateLimited,
    TooManyLogins,
    TooManyFromClient,
    HeadersTooLarge,
    Internal,
    Unavailable,
    StoreUnwritable,
}

/// The table: code, its name in answers, its HTTP status, what it means.
pub const CODES: &[(Code, &str, u16, &str)] = &[
    (
        Code::InvalidInput,
        "invalid_input",
        400,
        "A field is missing or wrong: `field-errors` names each one by its path.",
    ),
    (
        Code::InvalidQuery,
        "invalid_query",
        400,
        "A search query that cannot run: `span` and `hint` say where and why.",
    ),
    (
        Code::Refused,
        "refused",
        400,
        "Refused because of other objects' state (a status still in use, the last admin…).",
    ),
    (
        Code::BadRequest,
        "bad_request",
        400,
        "The request is not valid HTTP or its body cannot be read.",
    ),
    (
        Code::Unauthorized,
        "unauthorized",
        401,
        "No API key, or one that is not valid (HTTP Basic, the key as user name).",
    ),
    (
        Code::LoginRequired,
        "login_required",
        401,
        "The web app's session is missing or has ended: log in.",
    ),
    (
        Code::Forbidden,
        "forbidden",
        403,
        "The caller's role, origin or CSRF token does not allow this (see SECURITY.md).",
    ),
    (
        Code::NotFound,
        "not_found",
        404,
        "No such object, route or object in the caller's organization.",
    ),
    (
        Code::MethodNotAllowed,
        "method_not_allowed",
        405,
        "The route does not take this method.",
    ),
    (
        Code::RequestTimeout,
        "request_timeout",
        408,
        "The body did not arrive within the body timeout.",
    ),
    (
        Code::Conflict,
        "conflict",
        409,
        "The object kept changing while the request ran: try again.",
    ),
    (
        Code::PayloadTooLarge,
        "payload_too_large",
        413,
        "The body is over 2 MiB.",
    ),
    (Code::UriTooLong, "uri_too_long", 414, "The URI is too long."),
    (
        Code::UnsupportedMediaType,
        "unsupported_media_type",
        415,
        "A body that is not `Content-Type: application/json`.",
    ),
    (
        Code::IdempotencyKeyReused,
        "idempotency_key_reused",
        422,
        "An `Idempotency-Key` reused with a different request.",
    ),
    (
        Code::RateLimited,
        "rate_limited",
        429,
        "Over `--rate-limit` for this key or user (`RateLimit`, `Retry-After`).",
    ),
    (
        Code::TooManyLogins,
        "too_many_logins",
        429,
        "Too many failed logins for this email lately (`Retry-After`).",
    ),
    (
        Code::TooManyFromClient,
        "too_many_from_client",
        429,
        "This client address did this too often (`Retry-After`).",
    ),
    (
        Code::HeadersTooLarge,
        "headers_too_large",
        431,
        "The request's headers are too large.",
    ),
    (
        Code::Internal,
        "internal",
        500,
        "A fault of the server; its log has the details.",
    ),
    (
        Code::Unavailable,
        "unavailable",
        503,
        "Not now: the index catching up, a busy server, no SMTP… (`Retry-After`).",
    ),
    (
        Code::StoreUnwritable,
        "store_unwritable",
        503,
        "The database cannot write (full or read-only disk); nothing was changed.",
    ),
];

impl Code {
    fn row(self) -> &'static (Code, &'static str, u16, &'static str) {
        CODES
            .iter()
            .find(|(code, ..)| *code == self)
            .expect("every code has a row in CODES")
    }

    pub fn name(self) -> &'static str {
        self.row().1
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.row().2).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The code of an error answered outside the application's handlers (axum's
    /// rejections, the server's own refusals), by its status.
    pub fn of_status(status: StatusCode) -> Code {
        match status.as_u16() {
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            408 => Code::RequestTimeout,
            409 => Code::Conflict,
            413 => Code::PayloadTooLarge,
            414 => Code::UriTooLong,
            415 => Code::UnsupportedMediaType,
            422 => Code::InvalidInput,
            429 => Code::RateLimited,
            431 => Code::HeadersTooLarge,
            503 => Code::Unavailable,
            500..=599 => Code::Internal,
            _ => Code::BadRequest,
        }
    }
}

/// `{"error": message, "code": name}`: the body of every error that is not about fields.
pub fn body(code: Code, message: impl Into<String>) -> serde_json::Value {
    serde_json::json!({"error": message.into(), "code": code.name()})
}

/// The table in Markdown, as `docs/errors.md` prints it.
pub fn codes_markdown() -> String {
    let mut out = String::from("| code | status | meaning |\n|---|---|---|\n");
    for (_, name, status, meaning) in CODES {
        out.push_str(&format!("| `{name}` | {status} | {meaning} |\n"));
    }
    out
}

/// Every code's name, for the OpenAPI document's `enum`.
pub fn names() -> Vec<&'static str> {
    CODES.iter().map(|(_, name, ..)| *name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_row_and_a_unique_name() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CODES.len());
        for (code, ..) in CODES {
            assert_eq!(CODES.iter().filter(|(c, ..)| c == code).count(), 1, "{code:?}");
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn docs_print_this_table() {
        let doc = include_str!("../../../docs/errors.md");
        assert!(
            doc.contains(&codes_markdown()),
            "docs/errors.md's table differs from CODES; paste:\n{}",
            codes_markdown()
        );
    }
}
