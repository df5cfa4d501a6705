//! How the index spells its terms: written by `document.rs`, split by the tokenizers
//! (`keyed_words.rs`, `digit_runs.rs`), looked up by `translate.rs` and `lead_docs.rs`.
//! A leaf, so that the tokenizers the schema registers do not depend on the documents.

use rapport_query::ObjectType;

/// Separates a key from a word in `t`.
pub const WORD_SEP: &str = "\u{1f}";
/// The key of the phone digits indexed as runs (`digit_runs.rs`), for `phone:415`.
pub const PHONE_KEY: &str = "contact.ContactPhone";
/// Runs of digits this long are terms of their own (an area code, a prefix).
pub const DIGIT_RUN: usize = 3;

/// Marks the lead documents (the parents of their blocks).
pub const LEAD_MARKER: &str = "doc=lead";

/// Marks an object's document.
pub fn child_marker(kind: ObjectType) -> String {
    format!("child={}", kind.name())
}
