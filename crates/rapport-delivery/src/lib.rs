//! Outgoing deliveries for background jobs: signed webhooks, Slack messages and SMTP
//! email. Each call makes one attempt and says, through
//! [`DeliveryError::is_retryable`], whether the job should try again; retries, backoff
//! and idempotency records belong to the job runner. This crate knows nothing of the rest
//! of Rapport, so it builds on its own.
//!
//! # The address policy (SSRF)
//!
//! Webhook and Slack URLs come from users, so a delivery must not become a way to reach
//! the server's own network. Only `http` and `https` URLs without credentials are
//! accepted. The host is resolved here, **every** resolved address is checked against
//! the [`AddressPolicy`], and the TCP connection goes to one of those checked addresses:
//! the name is never resolved a second time, so there is no DNS-rebinding gap. Refused
//! unless listed in the policy's `allow` list: loopback, private (RFC 1918,
//! `fc00::/7`), link-local (`169.254.0.0/16` with the cloud metadata service,
//! `fe80::/10`), carrier-grade NAT (`100.64.0.0/10`), unspecified, multicast, reserved
//! and broadcast addresses, including these IPv4 addresses written as IPv4-mapped or
//! NAT64 IPv6 ones. A host with any refused address is refused as a whole. Redirects
//! are never followed (a 3xx is a failed delivery), so a receiver cannot bounce the
//! request elsewhere either.
//!
//! # The HTTP client
//!
//! hyper's connection-level HTTP/1.1 client, over a socket this crate opens itself. The
//! policy must hold for the address actually connected to, which is simplest to
//! guarantee when resolving and connecting are our own code rather than a hook inside a
//! client: `reqwest` skips its resolver hook for IP-literal URLs and brings a pool, proxy
//! support and redirects that would each need turning off; `ureq` is blocking and its
//! resolver trait is not a stable API. hyper is already in the workspace (under axum).
//! Each delivery opens one connection, which suits jobs that reach many different
//! receivers. TLS is rustls with the `ring` provider and the Mozilla roots of
//! `webpki-roots` (shared with `lettre`): no OpenSSL, no aws-lc build, and no dependency
//! on the host's CA bundle.
//!
//! Connecting (resolution included) may take [`CONNECT_TIMEOUT`] (5 s); a whole delivery
//! [`DEFAULT_TIMEOUT`] (10 s) unless [`post_json`] is given another. At most
//! [`RESPONSE_READ_LIMIT`] (64 KiB) of a response is read, and errors keep an excerpt.
//! Error messages name a URL's origin only: Slack and many receivers put a secret in
//! the path.
//!
//! # Webhook signatures
//!
//! As Close signs them, so receivers written for Close verify ours unchanged:
//!
//! ```text
//! close-sig-timestamp: <unix seconds>
//! close-sig-hash:      lowercase hex( HMAC-SHA256( key     = hex_decode(signature_key),
//!                                                  message = timestamp bytes ‖ raw body ) )
//! ```
//!
//! A receiver recomputes the hash over the exact bytes it received and compares it in
//! constant time, and rejects old timestamps to stop replays.
//!
//! # Email
//!
//! [`Mailer`] wraps one pooled `lettre` SMTP transport (`none`, `starttls` or `tls`).
//! Give [`Email::message_id`] a deterministic id so that a retried job sends the same
//! `Message-ID`.

mod address_policy;
mod email;
mod error;
mod http;
mod slack;
mod target;
mod webhook;

pub use address_policy::{AddressPolicy, IpNet, IpNetParseError};
pub use email::{Email, Mailer, SmtpConfig, SmtpSecurity, DEFAULT_SMTP_TIMEOUT};
pub use error::DeliveryError;
pub use http::{post_json, BODY_EXCERPT_CHARS, CONNECT_TIMEOUT, DEFAULT_TIMEOUT, RESPONSE_READ_LIMIT};
pub use slack::{section, send_slack, slack_escape, SlackMessage};
pub use webhook::{deliver_webhook, new_signature_key, sign, WEBHOOK_USER_AGENT};
