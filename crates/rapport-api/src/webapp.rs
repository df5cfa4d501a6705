//! The web app: `/` is its page, `/app/…` its files (`web/app/`, embedded in the binary by
//! `build.rs`). No build step: the browser loads the ES modules as they are.
//!
//! `RAPPORT_WEB_DIR` serves the files from a directory instead, so that a change to the
//! app shows on reload without rebuilding the server (development only).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::route_table::Routes;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_app_files.rs"));
}

pub fn routes() -> Routes {
    Routes::new()
        .unlisted(Method::GET, "/", |headers: HeaderMap| async move {
            file("index.html", &headers)
        })
        .unlisted(
            Method::GET,
            "/app/{*path}",
            |Path(path): Path<String>, headers: HeaderMap| async move { file(&path, &headers) },
        )
}

struct Asset {
    bytes: &'static [u8],
    etag: String,
}

fn embedded_assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        embedded::FILES
            .iter()
            .map(|(path, bytes)| {
                (
                    *path,
                    Asset {
                        bytes,
                        etag: etag(bytes),
                    },
                )
            })
            .collect()
    })
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..32])
}

fn development_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("RAPPORT_WEB_DIR").map(PathBuf::from))
        .as_ref()
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Embedded files are served from the binary as they are, never copied.
    let (bytes, tag): (Bytes, String) = match development_dir() {
        Some(dir) => match std::fs::read(dir.join(path)) {
            Ok(bytes) => {
                let tag = etag(&bytes);
                (Bytes::from(bytes), tag)
            }
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
        None => match embedded_assets().get(path) {
            Some(asset) => (Bytes::from_static(asset.bytes), asset.etag.clone()),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    // Revalidated on every load (a new binary may serve new files), answered 304 when unchanged.
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];
    let content_type = content_type(path);
    let policy = content_security_policy(if content_type.starts_with("text/html") {
        &bytes
    } else {
        b""
    });
    let policy = HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'self'"));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        // A browser keeps the page it has with the headers of this answer: the same policy.
        let mut response = (StatusCode::NOT_MODIFIED, cache).into_response();
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
        return response;
    }
    let mut response = (cache, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The app acts with the user's session: no other site may frame it (clickjacking).
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    response
}

/// The page's policy: scripts, styles and connections from this server only (`'self'`
/// also covers its websockets), nothing framed or framing. The one inline script, the
/// import map, is allowed by its hash, taken from the page as served.
fn content_security_policy(page: &[u8]) -> String {
    let hashes: String = inline_scripts(page)
        .map(|script| {
            use base64::Engine;
            let digest = Sha256::digest(script);
            format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The contents of the page's inline `<script>` elements (those without `src`).
fn inline_scripts(page: &[u8]) -> impl Iterator<Item = &[u8]> {
    let text = std::str::from_utf8(page).unwrap_or("");
    text.match_indices("<script").filter_map(move |(start, _)| {
        let open_end = start + text[start..].find('>')?;
        if text[start..open_end].contains(" src=") {
            return None;
        }
        let close = open_end + 1 + text[open_end + 1..].find("</script>")?;
        Some(&page[open_end + 1..close])
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_the_page_and_its_modules_but_not_the_tooling() {
        let assets = embedded_assets();
        for path in [
            "index.html",
            "api.js",
            "vendor/preact.mjs",
            "vendor/hooks.mjs",
            "vendor/htm.mjs",
        ] {
            assert!(assets.contains_key(path), "{path} is embedded");
        }
        assert!(!assets.contains_key("package.json"));
        assert!(!assets.contains_key("vendor.sh"));
    }

    #[test]
    fn the_policy_allows_the_import_map_by_its_hash() {
        let page = embedded_assets()["index.html"].bytes;
        let scripts: Vec<&[u8]> = inline_scripts(page).collect();
        assert_eq!(scripts.len(), 1, "the import map is the only inline script");
        assert!(String::from_utf8_lossy(scripts[0]).contains("\"imports\""));
        let policy = content_security_policy(page);
        assert!(policy.contains("script-src 'self' 'sha256-"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(
            inline_scripts(b"<script src=\"/a.js\"></script><script type=\"x\">ab</script>").collect::<Vec<_>>(),
            vec![&b"ab"[..]]
        );
    }

    #[test]
    fn refuses_paths_that_leave_the_app() {
        let headers = HeaderMap::new();
        assert_eq!(file("../Cargo.toml", &headers).status(), StatusCode::NOT_FOUND);
        assert_eq!(file("vendor//preact.mjs", &headers).status(), StatusCode::NOT_FOUND);
        assert_eq!(file("index.html", &headers).status(), StatusCode::OK);
    }
}
