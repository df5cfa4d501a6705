//! Custom-field values (`"custom.<cf_id>": value`), checked against their definitions.

use rapport_core::{time, FieldErrors, Kind};
use serde_json::{Map, Value};

use crate::meta::OrgMeta;

/// Applies `values` to `stored` (the object's `custom` map): each value is checked against
/// its field's type and choices; `null` removes it. Errors go to `errors` under
/// `custom.<cf_id>`.
pub fn apply(
    kind: Kind,
    meta: &OrgMeta,
    values: Vec<(String, Value)>,
    stored: &mut Map<String, Value>,
    errors: &mut FieldErrors,
) {
    let Some(cf_kind) = kind.custom_field_kind() else {
        return;
    };
    for (cf_id, value) in values {
        let key = format!("custom.{cf_id}");
        let Some(field) = meta.find(cf_kind, &cf_id) else {
            errors.add(
                key,
                format!(
                    "unknown custom field; this {} has {}",
                    kind.label(),
                    known_fields(meta, cf_kind)
                ),
            );
            continue;
        };
        if value.is_null() {
            stored.remove(&cf_id);
            continue;
        }
        let multiple = field
            .data
            .get("accepts_multiple_values")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let checked = match (&value, multiple) {
            (Value::Array(items), true) if items.len() > MAX_VALUES => Err(format!("at most {MAX_VALUES} values")),
            (Value::Array(items), true) => items
                .iter()
                .map(|v| check(field, meta, v))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (Value::Array(_), false) => Err("this field takes one value, not a list".to_string()),
            (single, true) => check(field, meta, single).map(|v| Value::Array(vec![v])),
            (single, false) => check(field, meta, single),
        };
        match checked {
            Ok(v) => {
                stored.insert(cf_id, v);
            }
            Err(message) => errors.add(key, message),
        }
    }
}

/// The longest text value of a custom field.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most values of a field that accepts several.
pub const MAX_VALUES: usize = 1_000;

/// A value as an error message quotes it: at most 100 characters.
fn short(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn known_fields(meta: &OrgMeta, cf_kind: Kind) -> String {
    let ids: Vec<String> = meta
        .of_kind(cf_kind)
        .map(|f| format!("{} ({})", f.id, f.str("name").unwrap_or("")))
        .collect();
    if ids.is_empty() {
        "no custom fields".into()
    } else {
        ids.join(", ")
    }
}

fn check(field: &crate::doc::Doc, meta: &OrgMeta, value: &Value) -> Result<Value, String> {
    let ty = field.str("type").unwrap_or("text");
    match ty {
        "text" => match value {
            Value::String(s) if s.chars().count() > MAX_TEXT_CHARS => {
                Err(format!("at most {MAX_TEXT_CHARS} characters"))
            }
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err("expected text".into()),
        },
        "number" => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .ok_or_else(|| format!("`{}` is not a number", short(s))),
            _ => Err("expected a number".into()),
        },
        "date" => value
            .as_str()
            .and_then(time::parse_date)
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| format!("expected a date YYYY-MM-DD, got {}", short(&value.to_string()))),
        "datetime" => value
            .as_str()
            .and_then(time::parse_datetime)
            .map(|t| Value::String(time::format(t)))
            .ok_or_else(|| format!("expected an ISO 8601 date-time, got {}", short(&value.to_string()))),
        "choices" => {
            let choices: Vec<&str> = field
                .data
                .get("choices")
                .and_then(Value::as_array)
                .map(|c| c.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let given = value
                .as_str()
                .ok_or_else(|| format!("expected one of: {}", choices.join(", ")))?;
            choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(given.trim()))
                .map(|c| Value::String(c.to_string()))
                .ok_or_else(|| format!("`{}` is not one of: {}", short(given), choices.join(", ")))
        }
        "user" => {
            let given = value.as_str().ok_or("expected a user id")?;
            meta.users
                .iter()
                .find(|u| u.id == given || u.email.eq_ignore_ascii_case(given))
                .map(|u| Value::String(u.id.clone()))
                .ok_or_else(|| format!("`{}` is not a user of this organization", short(given)))
        }
        other => Err(format!("custom field has unknown type `{other}`")),
    }
}
