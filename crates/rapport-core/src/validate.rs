//! Field errors and validators for single values: emails, phones (E.164), URLs, times.

use std::collections::BTreeMap;
use std::fmt;

/// Validation failures keyed by the field's path (`contacts[0].emails[1].email`), plus
/// errors that belong to no single field. Answered as HTTP 400 in Close's shape.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FieldErrors {
    pub errors: Vec<String>,
    pub fields: BTreeMap<String, String>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn field(name: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(name, message);
        e
    }

    pub fn general(message: impl Into<String>) -> Self {
        Self {
            errors: vec![message.into()],
            fields: BTreeMap::new(),
        }
    }

    /// Records the first error of a field; later ones for the same field are dropped.
    pub fn add(&mut self, name: impl Into<String>, message: impl Into<String>) {
        self.fields.entry(name.into()).or_insert_with(|| message.into());
    }

    /// Moves `other`'s errors in, each field name prefixed with `prefix`.
    pub fn merge_prefixed(&mut self, prefix: &str, other: FieldErrors) {
        for (name, message) in other.fields {
            self.add(format!("{prefix}{name}"), message);
        }
        self.errors.extend(other.errors);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.fields.is_empty()
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.errors.clone();
        parts.extend(self.fields.iter().map(|(k, v)| format!("{k}: {v}")));
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

/// The longest email address SMTP carries (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest URL browsers and servers reliably handle.
pub const MAX_URL_CHARS: usize = 2_048;
/// A phone number as typed, with spaces, dashes and an extension.
pub const MAX_PHONE_CHARS: usize = 64;
/// The most items of any list field (labels, emails, phones, addresses, choices…).
pub const MAX_LIST_ITEMS: usize = 1_000;
/// The longest label of a list (a choice, an origin, an operator id).
pub const MAX_LABEL_CHARS: usize = 500;

/// One rule for every text on both databases: no NUL character, in values or in keys
/// (PostgreSQL cannot store it in text, nor parse `\u0000` as JSON). Each string that
/// has one is named by its path (`contacts[0].name`).
pub fn refuse_nul(value: &serde_json::Value, path: &str, errors: &mut FieldErrors) {
    use serde_json::Value;
    const MESSAGE: &str = "must not contain the NUL character (\\u0000)";
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => errors.add(if path.is_empty() { "body" } else { path }, MESSAGE),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refuse_nul(item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains('\0') {
                    errors.add(join(&key.replace('\0', "\\u0000")), MESSAGE);
                } else {
                    refuse_nul(item, &join(key), errors);
                }
            }
        }
        _ => {}
    }
}

/// Trims and checks an email address: one `@`, a non-empty local part, a domain with a dot
/// and no spaces. Kept permissive on purpose: the mail server is the real judge.
pub fn email(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!(
            "at most {MAX_EMAIL_CHARS} characters (an email address cannot be longer)"
        ));
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(format!("`{s}` is not a valid email address"));
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if local.is_empty() || local.contains(char::is_whitespace) || local.contains('@') || !domain_ok {
        return Err(format!("`{s}` is not a valid email address"));
    }
    Ok(s.to_string())
}

/// Parses a phone number and returns it in E.164 (`+14155550123`). Numbers without a
/// country code are read as `default_region` numbers (ISO 3166 code, e.g. `US`).
pub fn phone_e164(raw: &str, default_region: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_PHONE_CHARS {
        return Err(format!("at most {MAX_PHONE_CHARS} characters"));
    }
    use phonenumber::country::Id;
    // A number with its country code needs no region; giving one anyway makes the
    // phonenumber crate strip that region's national prefix (`1` for the US) from foreign
    // numbers: `+33 1 42 92 81 00` came out as an invalid `+33 42928100`.
    let region: Option<Id> = if raw.trim_start().starts_with('+') {
        None
    } else {
        default_region.parse().ok()
    };
    let invalid = || format!("`{}` is not a valid phone number", raw.trim());
    let number = phonenumber::parse(region, raw.trim()).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The international display form of an E.164 number (`+1 415-555-0123`).
pub fn phone_formatted(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|n| n.format().mode(phonenumber::Mode::International).to_string())
        .unwrap_or_else(|_| e164.to_string())
}

/// Checks an absolute http(s) URL; a bare domain (`acme.com`) gets `http://`, as users
/// type them that way.
pub fn url(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.chars().count() > MAX_URL_CHARS {
        return Err(format!("at most {MAX_URL_CHARS} characters"));
    }
    let candidate = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    match url::Url::parse(&candidate) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| h.contains('.') || h == "localhost") =>
        {
            Ok(candidate)
        }
        _ => Err(format!("`{s}` is not a valid URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" jo@acme.com ").unwrap(), "jo@acme.com");
        for bad in [
            "",
            "jo",
            "jo@",
            "@acme.com",
            "jo@acme",
            "jo @acme.com",
            "jo@acme..com",
            "jo@.acme.com",
        ] {
            assert!(email(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(phone_e164("(415) 555-0123", "US").unwrap(), "+14155550123");
        assert_eq!(phone_e164("+44 20 7946 0958", "US").unwrap(), "+442079460958");
        assert_eq!(phone_e164("+33 1 42 92 81 00", "US").unwrap(), "+33142928100");
        assert_eq!(phone_e164("01 42 92 81 00", "FR").unwrap(), "+33142928100");
        assert!(phone_e164("12", "US").is_err());
        assert!(phone_e164("call me", "US").is_err());
        assert_eq!(phone_formatted("+14155550123"), "+1 415-555-0123");
    }

    #[test]
    fn urls() {
        assert_eq!(url("acme.com").unwrap(), "http://acme.com");
        assert_eq!(url("https://acme.com/x").unwrap(), "https://acme.com/x");
        assert!(url("not a url").is_err());
        assert!(url("ftp://acme.com").is_err());
        assert!(url("javascript:alert(1)").is_err());
    }

    #[test]
    fn field_errors_keep_the_first_message_per_field() {
        let mut e = FieldErrors::field("name", "first");
        e.add("name", "second");
        e.merge_prefixed("contacts[0].", FieldErrors::field("emails", "bad"));
        assert_eq!(e.fields["name"], "first");
        assert_eq!(e.fields["contacts[0].emails"], "bad");
        assert_eq!(e.to_string(), "contacts[0].emails: bad; name: first");
    }
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    #[test]
    fn nul_is_refused_anywhere_by_path() {
        let input = serde_json::json!({"name": "a\u{0}b", "contacts": [{"emails": [{"email": "x\u{0}"}]}], "k\u{0}": 1, "ok": "fine"});
        let mut errors = FieldErrors::new();
        refuse_nul(&input, "", &mut errors);
        let paths: Vec<&str> = errors.fields.keys().map(String::as_str).collect();
        assert_eq!(paths, ["contacts[0].emails[0].email", "k\\u0000", "name"]);
    }
}
