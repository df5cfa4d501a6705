//! The index's fields. One document per lead:
//!
//! * `org`, `id`: the organization and the lead (exact terms; `id` is also a fast field,
//!   the last sort key).
//! * `t`: words of text values, each token `{key}\x1f{word}`, one value per position run
//!   so that a phrase never spans two values.
//! * `k`: exact terms: `{key}={value}` (ids, labels, booleans), `{key}?` (the field has a
//!   value), `{key}~{digits}` (every suffix of a phone's digits), `obj={kind}`.
//! * `n`: numbers and dates as trie terms (`encode.rs`), dates under `{key}@` (instants)
//!   and `{key}/` (days).
//! * Sort columns: folded name, description, url, status; created, updated; every count
//!   and newest date.
//! * `doc`: the lead in the evaluator's form, for the clauses the terms cannot answer
//!   exactly.

use rapport_query::{Counted, Latest};
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, STORED,
    STRING,
};

/// Bumped whenever documents change shape: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 2;

pub const COUNTED: [Counted; 9] = [
    Counted::Contacts,
    Counted::Calls,
    Counted::Emails,
    Counted::Notes,
    Counted::Sms,
    Counted::Meetings,
    Counted::Chats,
    Counted::Opportunities,
    Counted::Tasks,
];

pub const LATEST: [Latest; 8] = [
    Latest::Call,
    Latest::Email,
    Latest::EmailOpen,
    Latest::Note,
    Latest::Sms,
    Latest::Meeting,
    Latest::Chat,
    Latest::Activity,
];

#[derive(Clone)]
pub struct Fields {
    pub schema: Schema,
    pub org: Field,
    pub id: Field,
    pub text: Field,
    pub keys: Field,
    pub numbers: Field,
    pub doc: Field,
    pub sort_name: Field,
    pub sort_description: Field,
    pub sort_url: Field,
    pub sort_status: Field,
    pub created: Field,
    pub updated: Field,
    pub counts: Vec<Field>,
    pub latest: Vec<Field>,
    /// `{custom field id: sortable string}` of the first value of number fields.
    pub sort_custom_number: Field,
    /// The same for text and choice fields (folded).
    pub sort_custom_text: Field,
}

pub fn count_column(counted: Counted) -> String {
    format!("count_{counted:?}")
}

pub fn latest_column(latest: Latest) -> String {
    format!("latest_{latest:?}")
}

impl Fields {
    pub fn new() -> Fields {
        let mut b = Schema::builder();
        let org = b.add_text_field("org", STRING);
        let id = b.add_text_field("id", STRING | FAST);
        let text_options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let text = b.add_text_field("t", text_options);
        let keys = b.add_text_field("k", STRING);
        let numbers = b.add_text_field("n", STRING);
        let doc = b.add_bytes_field("doc", STORED);
        let sort_only = TextOptions::default().set_fast("raw");
        let sort_name = b.add_text_field("sort_name", sort_only.clone());
        let sort_description = b.add_text_field("sort_description", sort_only.clone());
        let sort_url = b.add_text_field("sort_url", sort_only.clone());
        let sort_status = b.add_text_field("sort_status", sort_only);
        let column = NumericOptions::default().set_fast();
        let created = b.add_i64_field("created", column.clone());
        let updated = b.add_i64_field("updated", column.clone());
        let counts = COUNTED
            .iter()
            .map(|c| b.add_u64_field(&count_column(*c), column.clone()))
            .collect();
        let latest = LATEST
            .iter()
            .map(|l| b.add_i64_field(&latest_column(*l), column.clone()))
            .collect();
        let sort_json = JsonObjectOptions::default().set_fast("raw");
        let sort_custom_number = b.add_json_field("sort_custom_number", sort_json.clone());
        let sort_custom_text = b.add_json_field("sort_custom_text", sort_json);
        Fields {
            sort_custom_number,
            sort_custom_text,
            schema: b.build(),
            org,
            id,
            text,
            keys,
            numbers,
            doc,
            sort_name,
            sort_description,
            sort_url,
            sort_status,
            created,
            updated,
            counts,
            latest,
        }
    }
}
