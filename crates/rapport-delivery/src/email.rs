//! Email over SMTP with `lettre`: one pooled transport per [`Mailer`].
//!
//! The SMTP server is the operator's own configuration, not user input, so it is not
//! subject to the [`AddressPolicy`](crate::AddressPolicy).

use std::fmt;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Deserializer};

use crate::DeliveryError;

/// How the connection to the SMTP server is secured (`none`, `starttls` or `tls` in a
/// config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text: only for a relay on the same host or in tests.
    None,
    /// STARTTLS is required (the session fails rather than continue unencrypted).
    StartTls,
    /// TLS from the first byte ("SMTPS", implicit TLS).
    Tls,
}

impl SmtpSecurity {
    /// The usual port: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// The SMTP server mail goes out through. In TOML:
///
/// ```toml
/// host = "smtp.example.com"
/// security = "starttls"     # none | starttls | tls
/// port = 587                # optional: 25, 587 or 465 by `security`
/// username = "rapport"      # optional
/// password = "…"            # optional
/// from = "Rapport <crm@example.com>"
/// timeout = 30              # seconds, optional
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The `From` of every email: `crm@example.com` or `Name <crm@example.com>`.
    pub from: String,
    /// How long one SMTP command may wait for the server.
    #[serde(default = "default_smtp_timeout", deserialize_with = "seconds")]
    pub timeout: Duration,
}

/// The SMTP command timeout when the config does not give one.
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(30);

fn default_smtp_timeout() -> Duration {
    DEFAULT_SMTP_TIMEOUT
}

fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

impl SmtpConfig {
    /// The configured port, or the usual one for the security mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.security.default_port())
    }
}

// By hand, so that the password never reaches a log.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One email. Addresses are `user@example.com` or `Name <user@example.com>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Email {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Envelope recipients only: no `Bcc` header is sent.
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text_body: String,
    /// When given, the email is `multipart/alternative` with the text as the fallback.
    pub html_body: Option<String>,
    /// The `Message-ID`, with or without angle brackets (`<id@host>`). Give a
    /// deterministic one so that a retried job sends the same message, which receiving
    /// systems can recognise; without one a random id is generated per attempt.
    pub message_id: Option<String>,
    /// Extra headers (`List-Unsubscribe`, `X-…`). Headers the message builds itself
    /// (addresses, subject, ids, MIME structure) cannot be given here.
    pub headers: Vec<(String, String)>,
}

/// Headers built from the [`Email`]'s fields or by the MIME encoder; setting them again
/// through `headers` would contradict those.
const BUILT_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// Sends email through one SMTP server, over a pool of reused connections.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl Mailer {
    /// Builds the pooled transport. Opens no connection yet, so an unreachable server
    /// shows on the first [`send`](Mailer::send). Call it inside a Tokio runtime: the
    /// pool starts a task that closes idle connections.
    pub fn new(config: SmtpConfig) -> Result<Mailer, DeliveryError> {
        let from = parse_mailbox("from", &config.from)?;
        let invalid = |e: lettre::transport::smtp::Error| DeliveryError::InvalidSmtpConfig { reason: e.to_string() };
        let builder = match config.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host).map_err(invalid)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(invalid)?,
        };
        let mut builder = builder.port(config.port()).timeout(Some(config.timeout));
        if let Some(username) = &config.username {
            let password = config.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            server: format!("{}:{}", config.host, config.port()),
        })
    }

    /// Sends one email. Bad addresses or headers fail before any connection, and are
    /// not retryable; SMTP failures are retryable unless the server refused permanently.
    pub async fn send(&self, email: &Email) -> Result<(), DeliveryError> {
        let message = build_message(&self.from, email)?;
        self.transport.send(message).await.map_err(|e| DeliveryError::Smtp {
            server: self.server.clone(),
            permanent: e.is_permanent(),
            error: e.to_string(),
        })?;
        Ok(())
    }
}

fn build_message(from: &Mailbox, email: &Email) -> Result<Message, DeliveryError> {
    let invalid = |reason: String| DeliveryError::InvalidEmail { reason };
    if email.to.is_empty() && email.cc.is_empty() && email.bcc.is_empty() {
        return Err(invalid("the email has no recipient (to, cc and bcc are empty)".into()));
    }
    let mut builder = Message::builder().from(from.clone()).subject(email.subject.as_str());
    for (i, address) in email.to.iter().enumerate() {
        builder = builder.to(parse_mailbox(&format!("to[{i}]"), address)?);
    }
    for (i, address) in email.cc.iter().enumerate() {
        builder = builder.cc(parse_mailbox(&format!("cc[{i}]"), address)?);
    }
    for (i, address) in email.bcc.iter().enumerate() {
        builder = builder.bcc(parse_mailbox(&format!("bcc[{i}]"), address)?);
    }
    if let Some(address) = &email.reply_to {
        builder = builder.reply_to(parse_mailbox("reply_to", address)?);
    }
    if let Some(id) = &email.message_id {
        builder = builder.message_id(Some(message_id(id)?));
    }
    for (i, (name, value)) in email.headers.iter().enumerate() {
        builder = builder.raw_header(extra_header(i, name, value)?);
    }
    let built = match &email.html_body {
        None => builder.singlepart(SinglePart::plain(email.text_body.clone())),
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text_body.clone(), html.clone())),
    };
    built.map_err(|e| invalid(e.to_string()))
}

fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, DeliveryError> {
    value
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| DeliveryError::InvalidAddress {
            field: field.to_string(),
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// `<left@right>`, brackets added when missing.
fn message_id(id: &str) -> Result<String, DeliveryError> {
    let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
    let well_formed = bare
        .split_once('@')
        .is_some_and(|(left, right)| !left.is_empty() && !right.is_empty())
        && bare.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>'));
    if !well_formed {
        return Err(DeliveryError::InvalidEmail {
            reason: format!("message_id {id:?} is not of the form <left@right> in printable ASCII"),
        });
    }
    Ok(format!("<{bare}>"))
}

fn extra_header(index: usize, name: &str, value: &str) -> Result<HeaderValue, DeliveryError> {
    let invalid = |why: &str| DeliveryError::InvalidEmail {
        reason: format!("headers[{index}] ({name:?}) {why}"),
    };
    if BUILT_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(invalid("is built from the email's own fields"));
    }
    if value.contains(['\r', '\n']) {
        return Err(invalid("has a line break in its value"));
    }
    let name = HeaderName::new_from_ascii(name.to_string()).map_err(|_| invalid("is not a valid header name"))?;
    Ok(HeaderValue::new(name, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        for (input, expect) in [
            ("abc@rapport.example", Ok("<abc@rapport.example>")),
            ("<abc@rapport.example>", Ok("<abc@rapport.example>")),
            ("  job-42.1@host  ", Ok("<job-42.1@host>")),
            ("no-at-sign", Err(())),
            ("@host", Err(())),
            ("a b@host", Err(())),
            ("a@host\r\nBcc: x@evil.example", Err(())),
            ("", Err(())),
        ] {
            let got = message_id(input).map_err(|e| assert!(!e.is_retryable()));
            assert_eq!(got.as_deref().map_err(|_| ()), expect, "{input:?}");
        }
    }

    #[test]
    fn config_from_toml_shape() {
        let config: SmtpConfig = serde_json::from_value(serde_json::json!({
            "host": "smtp.example.com", "security": "starttls", "username": "u", "password": "hunter2",
            "from": "Rapport <crm@example.com>"
        }))
        .unwrap();
        assert_eq!(config.security, SmtpSecurity::StartTls);
        assert_eq!(config.port(), 587);
        assert_eq!(config.timeout, DEFAULT_SMTP_TIMEOUT);
        assert!(!format!("{config:?}").contains("hunter2"));
        for (word, security, port) in [("none", SmtpSecurity::None, 25), ("tls", SmtpSecurity::Tls, 465)] {
            let config: SmtpConfig = serde_json::from_value(serde_json::json!({
                "host": "h", "security": word, "from": "a@b.example", "timeout": 5, "port": null
            }))
            .unwrap();
            assert_eq!(
                (config.security, config.port(), config.timeout),
                (security, port, Duration::from_secs(5))
            );
        }
        let error = serde_json::from_value::<SmtpConfig>(serde_json::json!({
            "host": "h", "security": "ssl", "from": "a@b.example"
        }))
        .unwrap_err();
        assert!(error.to_string().contains("unknown variant `ssl`"), "{error}");
    }
}
