//! A lead as an index document (see `schema.rs` for the fields).

use std::collections::BTreeSet;

use rapport_query::facts::{lead_facts, FactValue};
use rapport_query::{fold, words, Lead};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::TantivyDocument;

use crate::encode;
use crate::schema::{Fields, COUNTED, LATEST};

/// Separates a key from a word in `t`.
pub const WORD_SEP: char = '\u{1f}';
/// The key of the phone digits whose suffixes are indexed, for `phone:415`.
pub const PHONE_KEY: &str = "contact.ContactPhone";

pub fn document(
    fields: &Fields,
    organization_id: &str,
    lead: &Lead,
    text_fields: &BTreeSet<String>,
) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.org, organization_id);
    doc.add_text(fields.id, &lead.id);
    let facts = lead_facts(lead, text_fields);
    for kind in &facts.kinds {
        doc.add_text(fields.keys, format!("obj={}", kind.name()));
    }
    let mut seen_terms = BTreeSet::new();
    let mut seen_numbers = BTreeSet::new();
    for (key, values) in &facts.facts {
        seen_terms.insert(format!("{key}?"));
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
    }
    for term in seen_terms {
        doc.add_text(fields.keys, term);
    }
    for term in seen_numbers {
        doc.add_text(fields.numbers, term);
    }
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
    let mut stored = lead.clone();
    stored.prepared = None;
    doc.add_bytes(
        fields.doc,
        &bincode::serialize(&stored).expect("a lead always serializes"),
    );
    doc
}

/// An instant as the sort columns keep it.
pub fn nanos(t: chrono::DateTime<chrono::Utc>) -> i64 {
    (encode::instant(t) ^ (1 << 63)) as i64
}
