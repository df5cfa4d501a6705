//! A website (`website`): a chat inbox, the widget on a site and who answers it.

use rapport_core::{new_id, FieldErrors};
use serde_json::{Map, Value};

use super::{new_signature_key, Writing};
use crate::doc::Doc;
use crate::meta::OrgMeta;

/// How long a visitor message may stay unread before operators are emailed (Crisp's
/// default: 3 minutes).
pub const DEFAULT_NOTIFY_DELAY_SECONDS: i64 = 180;

/// A new website's widget key: public, in the page's `<script>` tag.
pub fn new_widget_key() -> String {
    new_id("wk")
}

/// No origins or operators until given; the default notification delay; on creation its
/// widget key (also its unique key) and identity secret.
pub(super) fn fill(w: &Writing<'_>, doc: &mut Doc, errors: &mut FieldErrors) {
    w.default(doc, "allowed_origins", Value::Array(vec![]));
    w.default(doc, "operators", Value::Array(vec![]));
    w.default(doc, "notify_delay_seconds", DEFAULT_NOTIFY_DELAY_SECONDS.into());
    if w.creating {
        let key = new_widget_key();
        doc.unique_key = Some(key.clone());
        doc.data.insert("widget_key".into(), key.into());
        doc.data.insert("identity_secret".into(), new_signature_key().into());
    }
    check_website(doc, w.meta, errors);
}

/// Checks a website's operators and origins.
fn check_website(doc: &Doc, meta: &OrgMeta, errors: &mut FieldErrors) {
    let strings = |field: &str| strings(&doc.data, field);
    for (i, id) in strings("operators").iter().enumerate() {
        if meta.user(id).is_none() {
            errors.add(
                format!("operators[{i}]"),
                format!("`{id}` is not a user of this organization"),
            );
        }
    }
    for (i, origin) in strings("allowed_origins").iter().enumerate() {
        if normalize_origin(origin).is_none() {
            errors.add(
                format!("allowed_origins[{i}]"),
                "an origin is a scheme and a host, with an optional port: `https://example.com`",
            );
        }
    }
}

/// A list of strings stored in `field` (origins, user ids).
pub(crate) fn strings(data: &Map<String, Value>, field: &str) -> Vec<String> {
    data.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `https://Example.com:443/` → `https://example.com:443`; `None` when it is not an origin.
pub(crate) fn normalize_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    let valid_host = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    (matches!(scheme, "http" | "https") && valid_host).then_some(origin)
}
