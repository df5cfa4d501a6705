//! What each kind of object accepts and returns. One table drives input validation, the
//! stored document and the OpenAPI schemas, so the three cannot drift apart. Each kind's own
//! table is in its file under `src/kinds/`, written with the types and constructors of
//! `src/kinds/field_spec.rs` (re-exported here); this module adds the fields every object and
//! every activity has, and checks input against the tables.

use serde_json::{Map, Value};

use crate::kind::Kind;
use crate::time;
use crate::validate::{self, FieldErrors};

use crate::kind::field_spec::{create_only, read_only, rw, ID, NAME};
pub use crate::kind::field_spec::{Access, FieldSpec, FieldType};

// The value sets of some kinds' fields, kept importable from here.
pub use crate::kind::conversation::CONVERSATION_STATUSES;
pub use crate::kind::custom_field::CUSTOM_FIELD_TYPES;
pub use crate::kind::status::STATUS_TYPES;
pub use crate::kind::webhook_subscription::WEBHOOK_STATUSES;

/// Fields every stored object returns.
pub const COMMON_FIELDS: &[FieldSpec] = &[
    read_only("id", ID, "Prefixed random id."),
    read_only("organization_id", ID, "The organization the object belongs to."),
    read_only("date_updated", FieldType::DateTime, "Last change."),
    read_only("created_by", ID, "User who created it."),
    read_only("updated_by", ID, "User who changed it last."),
];

/// Fields shared by every activity; each kind adds its own.
const ACTIVITY_FIELDS: &[FieldSpec] = &[
    create_only("lead_id", FieldType::Ref(Kind::Lead), true, "The activity's lead."),
    rw("contact_id", FieldType::Ref(Kind::Contact), "Contact on the same lead."),
    rw(
        "user_id",
        FieldType::UserRef,
        "User who did it; the caller when omitted.",
    ),
    rw(
        "activity_at",
        FieldType::DateTime,
        "When it happened; now when omitted.",
    ),
    create_only("date_created", FieldType::DateTime, false, "When it was recorded."),
    read_only(
        "_type",
        NAME,
        "Activity kind: Note, Call, Email, SMS, Meeting, LeadStatusChange.",
    ),
];

/// Actions an event can record (`created`, `updated`, `deleted`).
pub const EVENT_ACTIONS: &[&str] = &["created", "updated", "deleted"];

/// The kind's fields (without `COMMON_FIELDS`), in document order: for an activity, the
/// fields every activity has, then its own (`KindSpec::fields`, in `src/kinds/`).
pub fn specs(kind: Kind) -> Vec<FieldSpec> {
    let own = kind.spec().fields;
    if kind.is_activity() {
        ACTIVITY_FIELDS.iter().chain(own).copied().collect()
    } else {
        own.to_vec()
    }
}

/// Whether input is for a new object or changes an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Checks input against the kind's fields: unknown and read-only fields, types, formats,
/// required fields. Returns the normalized values (`null` kept: it clears a field) and the
/// `custom.<id>` entries left for the caller, which knows the custom-field definitions.
pub fn check_input(
    kind: Kind,
    input: &Map<String, Value>,
    mode: Mode,
    phone_region: &str,
) -> Result<Checked, FieldErrors> {
    let specs = specs(kind);
    let mut errors = FieldErrors::new();
    for (name, value) in input {
        crate::validate::refuse_nul(value, name, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut checked = Checked::default();
    for (name, value) in input {
        if let Some(cf_id) = name.strip_prefix("custom.") {
            if kind.custom_field_kind().is_some() {
                checked.custom.push((cf_id.to_string(), value.clone()));
            } else {
                errors.add(name, format!("a {} has no custom fields", kind.label()));
            }
            continue;
        }
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            if COMMON_FIELDS.iter().any(|s| s.name == name) {
                errors.add(name, "this field is read-only");
            } else {
                errors.add(name, format!("unknown field for a {}", kind.label()));
            }
            continue;
        };
        let writable = match (spec.access, mode) {
            (Access::ReadOnly, _) => false,
            (Access::CreateOnly, m) => m == Mode::Create,
            (Access::WriteOnly { update }, Mode::Update) => update,
            _ => true,
        };
        if !writable {
            let why = if spec.access == Access::ReadOnly {
                "this field is read-only"
            } else {
                "this field cannot be changed after creation"
            };
            errors.add(name, why);
            continue;
        }
        if value.is_null() {
            if spec.required {
                errors.add(name, "this field is required");
            } else {
                checked.values.insert(name.clone(), Value::Null);
            }
            continue;
        }
        match check_value(spec.ty, value, phone_region) {
            Ok(v) => {
                checked.values.insert(name.clone(), v);
            }
            Err(e) => errors.merge_prefixed(name, e),
        }
    }
    if mode == Mode::Create {
        for spec in specs.iter().filter(|s| s.required) {
            if !input.contains_key(spec.name) {
                errors.add(spec.name, "this field is required");
            }
        }
    }
    errors.into_result(checked)
}

/// The outcome of `check_input`.
#[derive(Debug, Default)]
pub struct Checked {
    pub values: Map<String, Value>,
    /// `(custom field id, raw value)` pairs in input order.
    pub custom: Vec<(String, Value)>,
}

/// Checks one value; errors are keyed by the path *below* the field (`""` for the field
/// itself, `[0].email` inside lists), so callers prefix them with the field's name.
pub fn check_value(ty: FieldType, value: &Value, phone_region: &str) -> Result<Value, FieldErrors> {
    let here = |msg: String| FieldErrors::field("", msg);
    match ty {
        FieldType::Text(max) => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a string, got {}", type_name(value))))?;
            if s.chars().count() > max {
                return Err(here(format!("must be at most {max} characters")));
            }
            Ok(Value::String(s.to_string()))
        }
        FieldType::Ref(_) | FieldType::UserRef => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected an id string, got {}", type_name(value))))?;
            Ok(Value::String(s.trim().to_string()))
        }
        FieldType::Int { min, max } => {
            let n = value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| here(format!("expected an integer, got {}", type_name(value))))?;
            if n < min || n > max {
                return Err(here(format!("must be between {min} and {max}")));
            }
            Ok(Value::from(n))
        }
        FieldType::Number => value
            .as_f64()
            .map(|_| value.clone())
            .ok_or_else(|| here(format!("expected a number, got {}", type_name(value)))),
        FieldType::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| here(format!("expected true or false, got {}", type_name(value)))),
        FieldType::DateTime => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected an ISO 8601 date-time, got {}", type_name(value))))?;
            let t = time::parse_datetime(s).ok_or_else(|| here(format!("`{s}` is not an ISO 8601 date-time")))?;
            Ok(Value::String(time::format(t)))
        }
        FieldType::Date => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a date YYYY-MM-DD, got {}", type_name(value))))?;
            let d = time::parse_date(s).ok_or_else(|| here(format!("`{s}` is not a date YYYY-MM-DD")))?;
            Ok(Value::String(d.format("%Y-%m-%d").to_string()))
        }
        FieldType::DateOrDateTime => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a date or date-time, got {}", type_name(value))))?;
            if let Some(d) = time::parse_date(s) {
                return Ok(Value::String(d.format("%Y-%m-%d").to_string()));
            }
            let t =
                time::parse_datetime(s).ok_or_else(|| here(format!("`{s}` is not a date or ISO 8601 date-time")))?;
            Ok(Value::String(time::format(t)))
        }
        FieldType::Choice(options) => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected one of {}", options.join(", "))))?;
            options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(s.trim()))
                .map(|o| Value::String(o.to_string()))
                .ok_or_else(|| here(format!("`{s}` is not one of {}", options.join(", "))))
        }
        FieldType::Url => {
            let s = value
                .as_str()
                .ok_or_else(|| here(format!("expected a URL string, got {}", type_name(value))))?;
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            validate::url(s).map(Value::String).map_err(here)
        }
        FieldType::Labels => {
            let items = list(value)?;
            let mut out = Vec::with_capacity(items.len());
            let mut errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::trim) {
                    Some(s) if s.chars().count() > validate::MAX_LABEL_CHARS => errors.add(
                        format!("[{i}]"),
                        format!("at most {} characters", validate::MAX_LABEL_CHARS),
                    ),
                    Some(s) if !s.is_empty() => out.push(Value::String(s.to_string())),
                    _ => errors.add(format!("[{i}]"), "expected a non-empty string"),
                }
            }
            errors.into_result(Value::Array(out))
        }
        FieldType::EmailAddresses => {
            let items = list(value)?;
            let mut out = Vec::with_capacity(items.len());
            let mut errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(validate::email) {
                    Some(Ok(e)) => out.push(Value::String(e)),
                    Some(Err(msg)) => errors.add(format!("[{i}]"), msg),
                    None => errors.add(format!("[{i}]"), "expected an email address string"),
                }
            }
            errors.into_result(Value::Array(out))
        }
        FieldType::Emails => typed_list(value, "email", "office", validate::email),
        // The display form is computed once here: parsing a number is too slow to do on every read.
        // `phone_formatted` is accepted (and recomputed) so a client can send back what it read.
        FieldType::Phones => objects(value, &["phone", "type", "phone_formatted"], |_, mut obj, errors| {
            match obj
                .get("phone")
                .and_then(Value::as_str)
                .map(|s| validate::phone_e164(s, phone_region))
            {
                Some(Ok(e164)) => {
                    obj.insert(
                        "phone_formatted".into(),
                        Value::String(validate::phone_formatted(&e164)),
                    );
                    obj.insert("phone".into(), Value::String(e164));
                }
                Some(Err(msg)) => errors.add("phone", msg),
                None => errors.add("phone", "this field is required"),
            }
            if obj.get("type").is_none_or(Value::is_null) {
                obj.insert("type".into(), Value::String("office".into()));
            }
            Ok(obj)
        }),
        FieldType::Urls => typed_list(value, "url", "url", validate::url),
        FieldType::Addresses => objects(value, ADDRESS_PARTS, |_, obj, _| Ok(obj)),
        FieldType::Opens => objects(
            value,
            &["opened_at", "opened_by", "ip_address", "user_agent"],
            |_, mut obj, errors| {
                match obj
                    .get("opened_at")
                    .and_then(Value::as_str)
                    .and_then(time::parse_datetime)
                {
                    Some(t) => {
                        obj.insert("opened_at".into(), Value::String(time::format(t)));
                    }
                    None => errors.add("opened_at", "an ISO 8601 date-time is required"),
                }
                Ok(obj)
            },
        ),
        FieldType::EventFilters => event_filters(value),
        FieldType::Contacts => {
            let items = list(value)?;
            let mut errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_object() {
                    Some(obj) => {
                        if let Err(e) = check_input(Kind::Contact, obj, Mode::Create, phone_region) {
                            errors.merge_prefixed(&format!("[{i}]."), e);
                        }
                        if obj.contains_key("lead_id") {
                            errors.add(format!("[{i}].lead_id"), "contacts created with a lead belong to it");
                        }
                    }
                    None => errors.add(format!("[{i}]"), "expected a contact object"),
                }
            }
            // The contacts are checked and normalized again when they are created.
            errors.into_result(value.clone())
        }
    }
}

/// `[{"object_type", "action"}]` with known object types and actions.
fn event_filters(value: &Value) -> Result<Value, FieldErrors> {
    let checked = objects(value, &["object_type", "action"], |_, obj, errors| {
        match obj.get("object_type").and_then(Value::as_str) {
            Some(t) if Kind::from_object_type(t).is_some() => {}
            Some(t) => errors.add("object_type", format!("`{t}` is not an object type of the event log")),
            None => errors.add("object_type", "this field is required"),
        }
        match obj.get("action").and_then(Value::as_str) {
            Some(a) if EVENT_ACTIONS.contains(&a) => {}
            Some(a) => errors.add("action", format!("`{a}` is not one of {}", EVENT_ACTIONS.join(", "))),
            None => errors.add("action", "this field is required"),
        }
        Ok(obj)
    })?;
    if checked.as_array().is_some_and(Vec::is_empty) {
        return Err(FieldErrors::field("", "subscribe to at least one event"));
    }
    Ok(checked)
}

pub const ADDRESS_PARTS: &[&str] = &["label", "address_1", "address_2", "city", "state", "zipcode", "country"];

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn list(value: &Value) -> Result<&Vec<Value>, FieldErrors> {
    let items = value
        .as_array()
        .ok_or_else(|| FieldErrors::field("", format!("expected a list, got {}", type_name(value))))?;
    if items.len() > validate::MAX_LIST_ITEMS {
        return Err(FieldErrors::field(
            "",
            format!("at most {} items", validate::MAX_LIST_ITEMS),
        ));
    }
    Ok(items)
}

/// The longest string inside a list's object (an address line, a user agent).
const MAX_PART_CHARS: usize = 2_000;

/// A list of objects whose keys are all in `allowed` and whose values are strings or null;
/// `finish` checks and normalizes each one further.
fn objects(
    value: &Value,
    allowed: &[&str],
    finish: impl Fn(usize, Map<String, Value>, &mut FieldErrors) -> Result<Map<String, Value>, ()>,
) -> Result<Value, FieldErrors> {
    let items = list(value)?;
    let mut errors = FieldErrors::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            errors.add(format!("[{i}]"), "expected an object");
            continue;
        };
        let mut item_errors = FieldErrors::new();
        let mut clean = Map::new();
        for (k, v) in obj {
            if !allowed.contains(&k.as_str()) {
                item_errors.add(k, format!("unknown field; expected one of {}", allowed.join(", ")));
            } else if !(v.is_string() || v.is_null()) {
                item_errors.add(k, format!("expected a string, got {}", type_name(v)));
            } else if v.as_str().is_some_and(|s| s.chars().count() > MAX_PART_CHARS) {
                item_errors.add(k, format!("at most {MAX_PART_CHARS} characters"));
            } else {
                clean.insert(k.clone(), v.clone());
            }
        }
        if let Ok(clean) = finish(i, clean, &mut item_errors) {
            out.push(Value::Object(clean));
        }
        errors.merge_prefixed(&format!("[{i}]."), item_errors);
    }
    errors.into_result(Value::Array(out))
}

/// `[{"<key>": "...", "type": "..."}]` with each value checked by `check`.
fn typed_list(
    value: &Value,
    key: &'static str,
    default_type: &'static str,
    check: impl Fn(&str) -> Result<String, String>,
) -> Result<Value, FieldErrors> {
    objects(value, &[key, "type"], |_, mut obj, errors| {
        match obj.get(key).and_then(Value::as_str).map(&check) {
            Some(Ok(v)) => {
                obj.insert(key.into(), Value::String(v));
            }
            Some(Err(msg)) => errors.add(key, msg),
            None => errors.add(key, "this field is required"),
        }
        if obj.get("type").is_none_or(Value::is_null) {
            obj.insert("type".into(), Value::String(default_type.into()));
        }
        Ok(obj)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: Kind, input: Value, mode: Mode) -> Result<Value, Value> {
        check_input(kind, input.as_object().unwrap(), mode, "US")
            .map(|c| Value::Object(c.values))
            .map_err(|e| json!(e.fields))
    }

    #[test]
    fn normalizes_contact_values() {
        let out = check(
            Kind::Contact,
            json!({"name": "Jo", "emails": [{"email": " jo@acme.com "}], "phones": [{"phone": "415 555 0123", "type": "mobile"}]}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(out["emails"], json!([{"email": "jo@acme.com", "type": "office"}]));
        assert_eq!(
            out["phones"],
            json!([{"phone": "+14155550123", "type": "mobile", "phone_formatted": "+1 415-555-0123"}])
        );
    }

    #[test]
    fn names_each_bad_field() {
        let errors = check(
            Kind::Lead,
            json!({"name": 3, "url": "not a url", "bogus": 1, "id": "lead_x", "status_label": "x",
                   "contacts": [{"emails": [{"email": "nope"}]}], "addresses": [{"city": "Paris", "planet": "Mars"}]}),
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            json!({
                "addresses[0].planet": "unknown field; expected one of label, address_1, address_2, city, state, zipcode, country",
                "bogus": "unknown field for a lead",
                "contacts[0].emails[0].email": "`nope` is not a valid email address",
                "id": "this field is read-only",
                "name": "expected a string, got a number",
                "status_label": "this field is read-only",
                "url": "`not a url` is not a valid URL",
            })
        );
    }

    #[test]
    fn required_and_create_only_fields() {
        assert_eq!(
            check(Kind::Task, json!({}), Mode::Create).unwrap_err(),
            json!({"lead_id": "this field is required", "text": "this field is required"})
        );
        assert_eq!(
            check(Kind::Task, json!({"lead_id": "lead_x"}), Mode::Update).unwrap_err(),
            json!({"lead_id": "this field cannot be changed after creation"})
        );
        assert_eq!(
            check(Kind::Task, json!({"text": null}), Mode::Update).unwrap_err(),
            json!({"text": "this field is required"})
        );
    }

    #[test]
    fn numbers_dates_and_choices() {
        let out = check(
            Kind::Opportunity,
            json!({"lead_id": "lead_x", "value": 150000.0, "confidence": 80, "close_date": "2024-06-30", "value_period": "MONTHLY"}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(out["value"], json!(150000));
        assert_eq!(out["value_period"], json!("monthly"));
        let errors = check(
            Kind::Opportunity,
            json!({"lead_id": "l", "confidence": 101, "close_date": "June", "value": 1.5}),
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            json!({"close_date": "`June` is not a date YYYY-MM-DD", "confidence": "must be between 0 and 100", "value": "expected an integer, got a number"})
        );
    }

    #[test]
    fn custom_values_are_passed_through_for_the_caller() {
        let checked = check_input(
            Kind::Lead,
            json!({"custom.cf_1": "x"}).as_object().unwrap(),
            Mode::Create,
            "US",
        )
        .unwrap();
        assert_eq!(checked.custom, vec![("cf_1".to_string(), json!("x"))]);
        assert!(check(Kind::Task, json!({"custom.cf_1": "x"}), Mode::Update).is_err());
    }
}
