//! A lead as an index document (see `schema.rs` for the fields).

use std::collections::BTreeSet;

use rapport_query::facts::{lead_facts, FactValue, Facts};
use rapport_query::{fold, CustomValue, Lead};

use crate::encode;
use crate::index_doc::IndexDoc;
use crate::schema::Fields;
use crate::terms::{child_marker, DIGIT_RUN, LEAD_MARKER, PHONE_KEY, WORD_SEP};

/// A lead as a block of documents: one per related object, then the lead's (the
/// parent), added together so that they stay adjacent in one segment.
pub fn documents(fields: &Fields, organization_id: &str, lead: &Lead, text_fields: &BTreeSet<String>) -> Vec<IndexDoc> {
    let facts = lead_facts(lead, text_fields);
    let mut block = Vec::with_capacity(facts.objects.len() + 1);
    for (kind, object_facts) in &facts.objects {
        let mut child = IndexDoc::new();
        child.add_str(fields.keys, &child_marker(*kind));
        add_facts(&mut child, fields, object_facts);
        block.push(child);
    }
    let mut doc = IndexDoc::new();
    doc.add_str(fields.org, organization_id);
    doc.add_str(fields.id, &lead.id);
    // So that deleting the lead finds its objects' documents (`block.rs`).
    doc.add_i64(fields.objects, block.len() as i64);
    doc.add_str(fields.keys, LEAD_MARKER);
    add_facts(&mut doc, fields, &facts.facts);
    for (field, value) in [
        (fields.sort_name, &lead.name),
        (fields.sort_description, &lead.description),
        (fields.sort_url, &lead.url),
        (fields.sort_status, &lead.status),
    ] {
        if let Some(value) = value.as_deref().filter(|s| !s.is_empty()) {
            doc.add_str(field, &fold(value));
        }
    }
    // A custom field sorts by its first value, as a string that sorts as the value does:
    // numbers as order-preserving hex; texts folded; dates ranked instants before days,
    // as the evaluator compares them; users by id (ranked by name at search time).
    let (mut numbers, mut texts, mut dates, mut users) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, values) in &lead.custom {
        let key = id.clone();
        match values.first() {
            Some(CustomValue::Number(n)) => numbers.push((key, format!("{:016x}", encode::number(*n)))),
            Some(CustomValue::Text(t)) => {
                if !t.is_empty() {
                    texts.push((key.clone(), fold(t)));
                }
                users.push((key, t.clone()));
            }
            Some(CustomValue::DateTime(t)) => dates.push((key, format!("2{:016x}", encode::instant(*t)))),
            Some(CustomValue::Date(d)) => dates.push((key, format!("3{:016x}", encode::day(*d)))),
            None => {}
        }
    }
    for (field, entries) in [
        (fields.sort_custom_number, numbers),
        (fields.sort_custom_text, texts),
        (fields.sort_custom_date, dates),
        (fields.sort_custom_user, users),
    ] {
        if !entries.is_empty() {
            doc.add_object(field, entries);
        }
    }
    block.push(doc);
    block
}

/// A day as the columns keep it.
pub fn days(d: chrono::NaiveDate) -> i64 {
    (encode::day(d) ^ (1 << 63)) as i64
}

/// An instant as the columns keep it.
pub fn nanos(t: chrono::DateTime<chrono::Utc>) -> i64 {
    (encode::instant(t) ^ (1 << 63)) as i64
}

/// The terms of facts: words in `t`; exact values, presence (`{key}?`, for keys that are
/// neither columns nor [`Fields::presence_from_values`]), "several distinct values"
/// (`{key}#n`, for `!=`) and a phone's last digits in `k`; a phone's runs of digits in
/// `p`; numbers and dates in `n` or in their columns.
fn add_facts(doc: &mut IndexDoc, fields: &Fields, facts: &Facts) {
    // Terms go in as they come: `k` and `n` index documents only (no frequencies, no
    // positions), so a term given twice is the same as once, and no set is needed.
    let mut distinct_keys: Vec<&str> = Vec::new();
    for (key, values) in facts {
        let key: &str = key;
        if let Some(columns) = fields.range_columns.get(key) {
            // Created, counts, an object's date…: one value, in a column, which also
            // answers whether there is one.
            for value in values {
                match value {
                    FactValue::Number(n) => {
                        if let Some(field) = columns.number {
                            doc.add_f64(field, *n);
                        }
                    }
                    FactValue::Instant(t) => {
                        if let Some(field) = columns.instant {
                            doc.add_i64(field, nanos(*t));
                        }
                    }
                    FactValue::Day(d) => {
                        if let Some(field) = columns.day {
                            doc.add_i64(field, days(*d));
                        }
                    }
                    _ => {}
                }
            }
            continue;
        }
        let presence_from_values = fields.presence_from_values.contains(key);
        if !presence_from_values {
            doc.add_joined(fields.keys, &[key, "?"]);
        }
        debug_assert!(
            !presence_from_values
                || values
                    .iter()
                    .all(|v| matches!(v, FactValue::Key(_) | FactValue::Bool(_))),
            "{key} has values that are not exact terms"
        );
        distinct_keys.clear();
        for value in values {
            match value {
                FactValue::Text(text) => {
                    // Split into words by the field's tokenizer (`keyed_words.rs`).
                    doc.add_joined(fields.text, &[key, WORD_SEP, text]);
                    if key == PHONE_KEY {
                        add_phone_digits(doc, fields, key, text);
                    }
                }
                FactValue::Key(k) => {
                    if !distinct_keys.contains(&k.as_str()) {
                        distinct_keys.push(k.as_str());
                    }
                    doc.add_joined(fields.keys, &[key, "=", k]);
                }
                FactValue::Bool(b) => doc.add_joined(fields.keys, &[key, "=", if *b { "true" } else { "false" }]),
                FactValue::Number(n) => add_numbers(doc, fields, key, "", encode::number(*n)),
                FactValue::Instant(t) => add_numbers(doc, fields, key, "@", encode::instant(*t)),
                FactValue::Day(d) => add_numbers(doc, fields, key, "/", encode::day(*d)),
            }
        }
        if distinct_keys.len() > 1 {
            doc.add_joined(fields.keys, &[key, "#n"]);
        }
    }
}

/// A phone's digits, for `phone:415`: every run of [`DIGIT_RUN`] digits at its position
/// (`p`, tokenized by `digit_runs.rs`), and the last one and two digits, which start no
/// run (`{key}~{digits}` in `k`).
fn add_phone_digits(doc: &mut IndexDoc, fields: &Fields, key: &str, digits: &str) {
    doc.add_str(fields.phone_runs, digits);
    for len in 1..DIGIT_RUN.min(digits.len() + 1) {
        let start = digits.len() - len;
        if digits.is_char_boundary(start) {
            doc.add_joined(fields.keys, &[key, "~", &digits[start..]]);
        }
    }
}

/// A number's trie terms (`encode.rs`) under `{key}{suffix}`.
fn add_numbers(doc: &mut IndexDoc, fields: &Fields, key: &str, suffix: &str, value: u64) {
    for level in 0..encode::LEVELS {
        let shifted = value >> (level * encode::STEP);
        doc.add_fmt(
            fields.numbers,
            format_args!(
                "{}",
                encode::TrieTerm {
                    key,
                    suffix,
                    level,
                    shifted
                }
            ),
        );
    }
}
