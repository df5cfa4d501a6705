//! A lead as an index document (see `schema.rs` for the fields).

use std::collections::{BTreeMap, BTreeSet};

use rapport_query::facts::{lead_facts, FactValue, Facts};
use rapport_query::{fold, words, CustomValue, Lead, ObjectType};
use tantivy::schema::OwnedValue;
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::TantivyDocument;

use crate::encode;
use crate::schema::{Fields, COUNTED, LATEST};

/// Separates a key from a word in `t`.
pub const WORD_SEP: char = '\u{1f}';
/// The key of the phone digits whose suffixes are indexed, for `phone:415`.
pub const PHONE_KEY: &str = "contact.ContactPhone";

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
    doc.add_i64(fields.created, nanos(lead.created));
    doc.add_i64(fields.updated, nanos(lead.updated));
    for (field, counted) in fields.counts.iter().zip(COUNTED) {
        doc.add_u64(*field, rapport_query::facts::count(lead, counted) as u64);
    }
    for (field, latest) in fields.latest.iter().zip(LATEST) {
        if let Some(t) = rapport_query::facts::latest_date(lead, latest) {
            doc.add_i64(*field, nanos(t));
        }
    }
    // A custom field sorts by its first value: numbers and texts as sortable strings.
    let (mut numbers, mut texts) = (BTreeMap::new(), BTreeMap::new());
    for (id, values) in &lead.custom {
        match values.first() {
            Some(CustomValue::Number(n)) => {
                numbers.insert(id.clone(), OwnedValue::Str(format!("{:016x}", encode::number(*n))));
            }
            Some(CustomValue::Text(t)) if !t.is_empty() => {
                texts.insert(id.clone(), OwnedValue::Str(fold(t)));
            }
            _ => {}
        }
    }
    doc.add_object(fields.sort_custom_number, numbers);
    doc.add_object(fields.sort_custom_text, texts);
    let mut stored = lead.clone();
    stored.prepared = None;
    doc.add_bytes(
        fields.doc,
        &bincode::serialize(&stored).expect("a lead always serializes"),
    );
    block.push(doc);
    block
}

/// An instant as the sort columns keep it.
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
    let mut seen_terms = BTreeSet::new();
    let mut seen_numbers = BTreeSet::new();
    for (key, values) in facts {
        seen_terms.insert(format!("{key}?"));
        let mut keys = BTreeSet::new();
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
                        for start in 0..text.len() {
                            if text.is_char_boundary(start) {
                                seen_terms.insert(format!("{key}~{}", &text[start..]));
                            }
                        }
                    }
                }
                FactValue::Key(k) => {
                    keys.insert(k.as_str());
                    seen_terms.insert(format!("{key}={k}"));
                }
                FactValue::Bool(b) => {
                    seen_terms.insert(format!("{key}={b}"));
                }
                FactValue::Number(n) => seen_numbers.extend(encode::trie_terms(key, encode::number(*n))),
                FactValue::Instant(t) => {
                    seen_numbers.extend(encode::trie_terms(&format!("{key}@"), encode::instant(*t)))
                }
                FactValue::Day(d) => seen_numbers.extend(encode::trie_terms(&format!("{key}/"), encode::day(*d))),
            }
        }
        if keys.len() == 1 {
            seen_terms.insert(format!("{key}#1"));
        }
    }
    for term in seen_terms {
        doc.add_text(fields.keys, term);
    }
    for term in seen_numbers {
        doc.add_text(fields.numbers, term);
    }
}
