//! A delivery URL, checked and taken apart for connecting and for the request line.

use url::{Host, Position, Url};

use crate::DeliveryError;

/// Where an HTTP delivery goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub host: Host<String>,
    pub port: u16,
    pub tls: bool,
    /// `scheme://host:port`: what error messages name (the path may hold a secret).
    pub origin: String,
    /// The `Host` header: the port is left out when it is the scheme's default.
    pub host_header: String,
    /// The request target in origin form: path and query, never the fragment.
    pub path_and_query: String,
}

impl Target {
    pub fn parse(raw: &str) -> Result<Target, DeliveryError> {
        let bad = |reason: String| DeliveryError::BadUrl { reason };
        let url = Url::parse(raw).map_err(|e| bad(format!("{e}")))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(bad(format!("scheme {other:?} is not supported (only http and https)"))),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not supported".into()));
        }
        let (Some(host), Some(host_str), Some(port)) = (url.host(), url.host_str(), url.port_or_known_default()) else {
            return Err(bad("the URL has no host".into()));
        };
        let host_header = match url.port() {
            Some(port) => format!("{host_str}:{port}"),
            None => host_str.to_string(),
        };
        Ok(Target {
            host: host.to_owned(),
            port,
            tls,
            origin: format!("{}://{host_str}:{port}", url.scheme()),
            host_header,
            path_and_query: url[Position::BeforePath..Position::AfterQuery].to_string(),
        })
    }

    /// The name the TLS certificate must be valid for: the host without IPv6 brackets.
    pub fn tls_name(&self) -> String {
        match &self.host {
            Host::Domain(name) => name.clone(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expect` is `origin | host header | request target`, or the error message.
    fn check(raw: &str, expect: &str) {
        let got = match Target::parse(raw) {
            Ok(t) => format!("{} | {} | {}", t.origin, t.host_header, t.path_and_query),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expect, "{raw}");
    }

    #[test]
    fn urls() {
        check(
            "https://hooks.example.com/services/T0/B0/x",
            "https://hooks.example.com:443 | hooks.example.com | /services/T0/B0/x",
        );
        check(
            "http://127.0.0.1:8080/hook?a=1#frag",
            "http://127.0.0.1:8080 | 127.0.0.1:8080 | /hook?a=1",
        );
        check("http://[::1]:9000", "http://[::1]:9000 | [::1]:9000 | /");
        check("HTTP://Example.COM:80/x", "http://example.com:80 | example.com | /x");
        check("http://2130706433/", "http://127.0.0.1:80 | 127.0.0.1 | /");
        check(
            "ftp://example.com/",
            "invalid delivery URL: scheme \"ftp\" is not supported (only http and https)",
        );
        check(
            "file:///etc/passwd",
            "invalid delivery URL: scheme \"file\" is not supported (only http and https)",
        );
        check("not a url", "invalid delivery URL: relative URL without a base");
        check(
            "https://user:secret@example.com/",
            "invalid delivery URL: credentials in the URL are not supported",
        );
    }
}
