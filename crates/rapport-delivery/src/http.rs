//! One HTTP/1.1 POST over a connection this module opens itself: resolve, check every
//! address against the [`AddressPolicy`], connect to a checked address, TLS if https,
//! then hyper's connection-level client. No pool, no redirects, no proxy.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use tokio_rustls::TlsConnector;

use crate::target::Target;
use crate::{AddressPolicy, DeliveryError};

/// How long resolving and opening the TCP connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole delivery may take when the caller does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body is read; the rest is never downloaded.
pub const RESPONSE_READ_LIMIT: usize = 64 * 1024;
/// How much of a response body an error message keeps, in characters.
pub const BODY_EXCERPT_CHARS: usize = 1024;

const DEFAULT_USER_AGENT: &str = "Rapport/1";

/// What came back: the status and up to [`RESPONSE_READ_LIMIT`] bytes of the body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `body` as `application/json` to `url` and returns the status if it is 2xx.
///
/// `headers` are added to (or replace) `content-type`, `user-agent: Rapport/1`, `host`
/// and `content-length`. Any other status, 3xx included, is [`DeliveryError::Status`]
/// with an excerpt of the body. `timeout` bounds the whole delivery; connecting alone
/// is bounded by [`CONNECT_TIMEOUT`] as well.
pub async fn post_json(
    policy: &AddressPolicy,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<u16, DeliveryError> {
    let answer = post(policy, url, headers, body, timeout).await?;
    if (200..300).contains(&answer.status) {
        return Ok(answer.status);
    }
    Err(DeliveryError::Status {
        status: answer.status,
        body_excerpt: excerpt(&answer.body),
    })
}

/// POSTs and returns whatever status came back, with the start of the body.
pub(crate) async fn post(
    policy: &AddressPolicy,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Answer, DeliveryError> {
    let target = Target::parse(url)?;
    let request = build_request(&target, headers, body)?;
    match tokio::time::timeout(timeout, exchange(policy, &target, request)).await {
        Ok(answer) => answer,
        Err(_) => Err(DeliveryError::Timeout {
            origin: target.origin,
            after: timeout,
        }),
    }
}

fn build_request(
    target: &Target,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Request<Full<Bytes>>, DeliveryError> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(target.path_and_query.as_str())
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| DeliveryError::BadUrl { reason: e.to_string() })?;
    let map = request.headers_mut();
    let host = HeaderValue::from_str(&target.host_header).map_err(|_| DeliveryError::BadUrl {
        reason: format!("host {:?} cannot be sent in a Host header", target.host_header),
    })?;
    map.insert(HOST, host);
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    map.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
    map.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    for (name, value) in headers {
        let invalid = || DeliveryError::InvalidHeader { name: name.to_string() };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        if name == HOST || name == CONTENT_LENGTH {
            return Err(invalid());
        }
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        map.insert(name, value);
    }
    Ok(request)
}

async fn exchange(
    policy: &AddressPolicy,
    target: &Target,
    request: Request<Full<Bytes>>,
) -> Result<Answer, DeliveryError> {
    let stream = connect(policy, target).await?;
    if !target.tls {
        return send(stream, request, target).await;
    }
    let name = ServerName::try_from(target.tls_name()).map_err(|e| DeliveryError::BadUrl {
        reason: format!("{:?} is not a valid TLS server name: {e}", target.tls_name()),
    })?;
    let stream = TlsConnector::from(tls_config())
        .connect(name, stream)
        .await
        .map_err(|e| DeliveryError::Tls {
            origin: target.origin.clone(),
            error: e.to_string(),
        })?;
    send(stream, request, target).await
}

/// Opens a TCP connection to one of the target's checked addresses, in resolver order.
async fn connect(policy: &AddressPolicy, target: &Target) -> Result<TcpStream, DeliveryError> {
    let attempt = async {
        let addrs = policy.resolve_target(target).await?;
        let mut errors = Vec::new();
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true).ok();
                    return Ok(stream);
                }
                Err(e) => errors.push(format!("{e} at {addr}")),
            }
        }
        Err(DeliveryError::Connect {
            origin: target.origin.clone(),
            error: errors.join("; "),
        })
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(DeliveryError::Timeout {
            origin: target.origin.clone(),
            after: CONNECT_TIMEOUT,
        }),
    }
}

async fn send<S>(io: S, request: Request<Full<Bytes>>, target: &Target) -> Result<Answer, DeliveryError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_error = |e: hyper::Error| DeliveryError::Http {
        origin: target.origin.clone(),
        error: e.to_string(),
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http_error)?;
    // The connection task reads and writes the socket; it ends with this function.
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(http_error)?;
    let status = response.status().as_u16();
    let body = read_start(response.into_body()).await;
    Ok(Answer { status, body })
}

/// Up to [`RESPONSE_READ_LIMIT`] bytes of the body. A body that breaks off midway
/// keeps what arrived: the status has been received, and it is what decides.
async fn read_start(mut body: Incoming) -> Vec<u8> {
    let mut read = Vec::new();
    while read.len() < RESPONSE_READ_LIMIT {
        let Some(Ok(frame)) = body.frame().await else { break };
        if let Some(data) = frame.data_ref() {
            let room = RESPONSE_READ_LIMIT - read.len();
            read.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    read
}

/// The body as text for an error message: trimmed, at most [`BODY_EXCERPT_CHARS`].
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Server certificates are checked against the Mozilla roots shipped in `webpki-roots`,
/// so delivery does not depend on the host's CA bundle being installed.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_trimmed_and_capped() {
        assert_eq!(excerpt(b"  invalid_payload\n"), "invalid_payload");
        assert_eq!(excerpt(b""), "");
        assert_eq!(excerpt(b"caf\xc3\xa9 \xff"), "café \u{fffd}");
        let long = "é".repeat(BODY_EXCERPT_CHARS + 10);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn caller_headers_replace_defaults_but_not_framing() {
        let target = Target::parse("http://example.com:8080/hook").unwrap();
        let request = build_request(&target, &[("user-agent", "Custom/2"), ("x-extra", "1")], b"{}").unwrap();
        let headers = request.headers();
        assert_eq!(headers[HOST], "example.com:8080");
        assert_eq!(headers[USER_AGENT], "Custom/2");
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(headers[CONTENT_LENGTH], "2");
        assert_eq!(headers["x-extra"], "1");
        assert_eq!(request.uri(), "/hook");
        for bad in [
            ("host", "evil.example"),
            ("content-length", "0"),
            ("bad name", "x"),
            ("x-ok", "line\nbreak"),
        ] {
            let error = build_request(&target, &[bad], b"{}").unwrap_err();
            assert!(matches!(error, DeliveryError::InvalidHeader { .. }), "{bad:?}: {error}");
            assert!(!error.is_retryable());
        }
    }
}
