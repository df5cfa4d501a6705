//! One error type for every delivery, worded for an operator reading a job's `last_error`.
//!
//! Messages name the origin (`scheme://host:port`) of a URL, never its path or query:
//! Slack and many webhook receivers carry their secret in the path.

use std::net::IpAddr;
use std::time::Duration;

/// Why a delivery failed, and whether trying again later may succeed ([`is_retryable`]).
///
/// [`is_retryable`]: DeliveryError::is_retryable
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The URL cannot be delivered to at all: not http(s), no host, credentials in it.
    #[error("invalid delivery URL: {reason}")]
    BadUrl { reason: String },

    /// The address policy refused an address the host is (or resolves to).
    #[error(
        "refused to deliver to {}: {range} addresses are blocked by the delivery address policy (list the address under the policy's allow list if this receiver is intended)",
        describe_target(host, addr)
    )]
    Refused {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },

    /// A header given by the caller is not a valid HTTP header.
    #[error("invalid HTTP header {name:?} for a delivery")]
    InvalidHeader { name: String },

    /// The webhook's signature key is not a non-empty hex string.
    #[error("the webhook's signature key is not a non-empty hexadecimal string")]
    BadSignatureKey,

    /// The host name could not be resolved.
    #[error("could not resolve {host}: {error}")]
    Dns { host: String, error: String },

    /// No TCP connection could be opened to any of the host's addresses.
    #[error("could not connect to {origin}: {error}")]
    Connect { origin: String, error: String },

    /// Connecting, or the whole exchange, took longer than allowed.
    #[error("no answer from {origin} within {}", seconds(*after))]
    Timeout { origin: String, after: Duration },

    /// The TLS handshake failed (certificate not trusted, wrong name, protocol error).
    #[error("TLS handshake with {origin} failed: {error}")]
    Tls { origin: String, error: String },

    /// The connection broke, or the peer did not speak HTTP/1.1.
    #[error("HTTP exchange with {origin} failed: {error}")]
    Http { origin: String, error: String },

    /// The receiver answered, with a status other than 2xx (redirects are not followed).
    #[error("the receiver answered HTTP {status}{}: {}", redirect_note(*status), or_empty(body_excerpt))]
    Status { status: u16, body_excerpt: String },

    /// Slack did not answer `200 ok`; `body` is Slack's error code (`invalid_payload`,
    /// `no_service`, `channel_is_archived`, …).
    #[error("Slack did not accept the message (HTTP {status}): {}", or_empty(body))]
    Slack { status: u16, body: String },

    /// The SMTP configuration cannot be used (found when the [`Mailer`](crate::Mailer) is built).
    #[error("invalid SMTP configuration: {reason}")]
    InvalidSmtpConfig { reason: String },

    /// The SMTP exchange failed. `permanent` follows the server's reply (5xx): the same
    /// message would be refused again.
    #[error(
        "SMTP delivery through {server} failed{}: {error}",
        if *permanent { " permanently" } else { "" }
    )]
    Smtp {
        server: String,
        permanent: bool,
        error: String,
    },

    /// An email address given for `field` (`from`, `to[0]`, `reply_to`, …) does not parse.
    #[error("invalid email address in {field}: {value:?} ({reason})")]
    InvalidAddress {
        field: String,
        value: String,
        reason: String,
    },

    /// The email cannot be built (no recipient, a bad header or Message-ID).
    #[error("invalid email: {reason}")]
    InvalidEmail { reason: String },
}

impl DeliveryError {
    /// Whether a later attempt may succeed. Policy refusals and malformed input (URL,
    /// header, key, address, email) and permanent SMTP refusals will fail the same way
    /// again; everything else, including every HTTP status, is worth retrying.
    pub fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::BadUrl { .. }
            | DeliveryError::Refused { .. }
            | DeliveryError::InvalidHeader { .. }
            | DeliveryError::BadSignatureKey
            | DeliveryError::InvalidSmtpConfig { .. }
            | DeliveryError::InvalidAddress { .. }
            | DeliveryError::InvalidEmail { .. } => false,
            DeliveryError::Smtp { permanent, .. } => !permanent,
            DeliveryError::Dns { .. }
            | DeliveryError::Connect { .. }
            | DeliveryError::Timeout { .. }
            | DeliveryError::Tls { .. }
            | DeliveryError::Http { .. }
            | DeliveryError::Status { .. }
            | DeliveryError::Slack { .. } => true,
        }
    }
}

fn describe_target(host: &str, addr: &IpAddr) -> String {
    if host.trim_start_matches('[').trim_end_matches(']') == addr.to_string() {
        addr.to_string()
    } else {
        format!("{host} ({addr})")
    }
}

fn redirect_note(status: u16) -> &'static str {
    if (300..400).contains(&status) {
        " (redirects are not followed)"
    } else {
        ""
    }
}

fn or_empty(body: &str) -> &str {
    if body.is_empty() {
        "(empty body)"
    } else {
        body
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: DeliveryError, message: &str, retryable: bool) {
        assert_eq!(error.to_string(), message);
        assert_eq!(error.is_retryable(), retryable, "{message}");
    }

    #[test]
    fn messages_and_retryability() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        check(
            DeliveryError::Refused { host: "10.0.0.1".into(), addr: ip, range: "private (RFC 1918)" },
            "refused to deliver to 10.0.0.1: private (RFC 1918) addresses are blocked by the delivery address policy (list the address under the policy's allow list if this receiver is intended)",
            false,
        );
        check(
            DeliveryError::Refused { host: "intranet.example".into(), addr: ip, range: "private (RFC 1918)" },
            "refused to deliver to intranet.example (10.0.0.1): private (RFC 1918) addresses are blocked by the delivery address policy (list the address under the policy's allow list if this receiver is intended)",
            false,
        );
        check(
            DeliveryError::Status {
                status: 302,
                body_excerpt: String::new(),
            },
            "the receiver answered HTTP 302 (redirects are not followed): (empty body)",
            true,
        );
        check(
            DeliveryError::Status {
                status: 503,
                body_excerpt: "busy".into(),
            },
            "the receiver answered HTTP 503: busy",
            true,
        );
        check(
            DeliveryError::Timeout {
                origin: "https://example.com:443".into(),
                after: Duration::from_millis(2500),
            },
            "no answer from https://example.com:443 within 2.5 s",
            true,
        );
        check(
            DeliveryError::Smtp {
                server: "mail.example:587".into(),
                permanent: true,
                error: "550 no such user".into(),
            },
            "SMTP delivery through mail.example:587 failed permanently: 550 no such user",
            false,
        );
        check(
            DeliveryError::Smtp {
                server: "mail.example:587".into(),
                permanent: false,
                error: "421 try later".into(),
            },
            "SMTP delivery through mail.example:587 failed: 421 try later",
            true,
        );
        check(
            DeliveryError::BadSignatureKey,
            "the webhook's signature key is not a non-empty hexadecimal string",
            false,
        );
    }
}
