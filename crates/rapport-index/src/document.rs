//! A lead as an index document (see `schema.rs` for the fields).

use std::collections::{BTreeMap, BTreeSet};

use rapport_query::facts::{lead_facts, FactValue, Facts};
use rapport_query::{fold, words, CustomValue, Lead, ObjectType};
use tantivy::schema::OwnedValue;
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::TantivyDocument;

use crate::encode;
use crate::schema::Fields;

/// Separates a key from a word in `t`.
pub const WORD_SEP: char = '\u{1f}';
/// The key of the phone digits whose suffixes are indexed, for `phone:415`.
pub const PHONE_KEY: &str = "contact.ContactPhone";
/// Runs of digits up to this long are terms of their own (an area code, a prefix).
pub const SHORT_DIGITS: usize = 3;

/// A lead as a block of documents: one per related object, then the lead's (the
/// parent), added together so that they stay adjacent in one segment.
pub fn documents(
    fields: &Fields,
    organization_id: &str,
    lead: &Lead,
    text_fields: &BTreeSet<String>,
) -> Vec<TantivyDocument> {
    let facts = lead_facts(lead, text_fields);
    let mut block = Vec::with_capacity(facts.objects.len() + 1);
    for (kind, object_facts) in &facts.objects {
        let mut child = TantivyDocument::new();
        // The lead's id, so that deleting the lead deletes its block.
        child.add_text(fields.id, &lead.id);
        child.add_text(fields.keys, child_marker(*kind));
        add_facts(&mut child, fields, object_facts);
        block.push(child);
    }
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.org, organization_id);
    doc.add_text(fields.id, &lead.id);
    doc.add_text(fields.keys, LEAD_MARKER);
    add_facts(&mut doc, fields, &facts.facts);
    let sort_text = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(fold);
    for (field, value) in [
        (fields.sort_name, sort_text(&lead.name)),
        (fields.sort_description, sort_text(&lead.description)),
        (fields.sort_url, sort_text(&lead.url)),
        (fields.sort_status, sort_text(&lead.status)),
    ] {
        if let Some(value) = value {
            doc.add_text(field, value);
        }
    }
    // A custom field sorts by its first value, as a string that sorts as the value does:
    // numbers as order-preserving hex; texts folded; dates ranked instants before days,
    // as the evaluator compares them; users by id (ranked by name at search time).
    let (mut numbers, mut texts, mut dates, mut users) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for (id, values) in &lead.custom {
        let key = id.clone();
        match values.first() {
            Some(CustomValue::Number(n)) => {
                numbers.insert(key, OwnedValue::Str(format!("{:016x}", encode::number(*n))));
            }
            Some(CustomValue::Text(t)) => {
                if !t.is_empty() {
                    texts.insert(key.clone(), OwnedValue::Str(fold(t)));
                }
                users.insert(key, OwnedValue::Str(t.clone()));
            }
            Some(CustomValue::DateTime(t)) => {
                dates.insert(key, OwnedValue::Str(format!("2{:016x}", encode::instant(*t))));
            }
            Some(CustomValue::Date(d)) => {
                dates.insert(key, OwnedValue::Str(format!("3{:016x}", encode::day(*d))));
            }
            None => {}
        }
    }
    doc.add_object(fields.sort_custom_number, numbers);
    doc.add_object(fields.sort_custom_text, texts);
    doc.add_object(fields.sort_custom_date, dates);
    doc.add_object(fields.sort_custom_user, users);
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

/// Marks the lead documents (the parents of their blocks).
pub const LEAD_MARKER: &str = "doc=lead";

/// Marks an object's document.
pub fn child_marker(kind: ObjectType) -> String {
    format!("child={}", kind.name())
}

/// The terms of facts: words in `t`; exact values, presence (`{key}?`), "only one distinct
/// value" (`{key}#1`, for `!=`) and phone suffixes in `k`; numbers and dates in `n`.
fn add_facts(doc: &mut TantivyDocument, fields: &Fields, facts: &Facts) {
    // Terms go in as they come: `k` and `n` index documents only (no frequencies, no
    // positions), so a term given twice is the same as once, and no set is needed.
    let mut distinct_keys: Vec<&str> = Vec::new();
    for (key, values) in facts {
        doc.add_text(fields.keys, format!("{key}?"));
        if let Some(columns) = fields.range_columns.get(key) {
            // Created, counts, an object's date…: one value, in a column.
            for value in values {
                let (name, value) = match value {
                    FactValue::Number(n) => (&columns.number, OwnedValue::F64(*n)),
                    FactValue::Instant(t) => (&columns.instant, OwnedValue::I64(nanos(*t))),
                    FactValue::Day(d) => (&columns.day, OwnedValue::I64(days(*d))),
                    _ => (&None, OwnedValue::Null),
                };
                if let Some(field) = name.as_deref().and_then(|n| fields.schema.get_field(n).ok()) {
                    doc.add_field_value(field, &value);
                }
            }
            continue;
        }
        distinct_keys.clear();
        for value in values {
            match value {
                FactValue::Text(text) => {
                    let tokens = words(text)
                        .into_iter()
                        .enumerate()
                        .map(|(position, word)| Token {
                            position,
                            text: format!("{key}{WORD_SEP}{word}"),
                            position_length: 1,
                            ..Token::default()
                        })
                        .collect();
                    doc.add_pre_tokenized_text(
                        fields.text,
                        PreTokenizedString {
                            text: String::new(),
                            tokens,
                        },
                    );
                    if key == PHONE_KEY {
                        // Digits: every suffix (`phone:4155` is a prefix of one), and every
                        // short run whole (`phone:415`, one term rather than a million).
                        for start in 0..text.len() {
                            if !text.is_char_boundary(start) {
                                continue;
                            }
                            doc.add_text(fields.keys, format!("{key}~{}", &text[start..]));
                            for end in start + 1..=(start + SHORT_DIGITS).min(text.len()) {
                                if text.is_char_boundary(end) {
                                    doc.add_text(fields.keys, format!("{key}~~{}", &text[start..end]));
                                }
                            }
                        }
                    }
                }
                FactValue::Key(k) => {
                    if !distinct_keys.contains(&k.as_str()) {
                        distinct_keys.push(k.as_str());
                    }
                    doc.add_text(fields.keys, format!("{key}={k}"));
                }
                FactValue::Bool(b) => doc.add_text(fields.keys, format!("{key}={b}")),
                FactValue::Number(n) => add_numbers(doc, fields, encode::trie_terms(key, encode::number(*n))),
                FactValue::Instant(t) => {
                    add_numbers(doc, fields, encode::trie_terms(&format!("{key}@"), encode::instant(*t)))
                }
                FactValue::Day(d) => add_numbers(doc, fields, encode::trie_terms(&format!("{key}/"), encode::day(*d))),
            }
        }
        if distinct_keys.len() == 1 {
            doc.add_text(fields.keys, format!("{key}#1"));
        }
    }
}

fn add_numbers(doc: &mut TantivyDocument, fields: &Fields, terms: impl IntoIterator<Item = String>) {
    for term in terms {
        doc.add_text(fields.numbers, term);
    }
}
