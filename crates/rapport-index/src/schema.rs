//! The index's fields. A lead is a block of documents: one per related object (marked
//! `child={kind}` in `k`), then the lead's (marked `doc=lead`).
//!
//! * `org` (lead documents only), `id` (every document of the block, so that deleting
//!   the lead's id deletes the block; a column too, the last sort key).
//! * `t`: words of text values, each token `{key}\x1f{word}`, one value per position run
//!   so that a phrase never spans two values.
//! * `k`: exact terms: `{key}={value}` (ids, labels, booleans), `{key}?` (the field has a
//!   value), `{key}~{digits}` (every suffix of a phone's digits), `{key}#1` (one distinct value), the
//!   markers.
//! * `n`: numbers and dates as trie terms (`encode.rs`), dates under `{key}@` (instants)
//!   and `{key}/` (days), for values with several per document (custom fields).
//! * Range columns: single-valued numbers and dates (created, counts, newest dates; an
//!   object's date, duration, value, …), which range clauses scan without terms.
//! * Sort columns: folded name, description, url, status; created, updated; every count
//!   and newest date.
//! * Custom-field sort columns (JSON columns keyed by field id).

use std::collections::HashMap;

use rapport_query::facts::field_key;
use rapport_query::{Counted, Field as QField, Latest, ObjectType};
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, STRING,
};

/// Bumped whenever documents change shape: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 5;

pub use rapport_query::facts::{COUNTED, LATEST};

#[derive(Clone)]
pub struct Fields {
    pub schema: Schema,
    pub org: Field,
    pub id: Field,
    pub text: Field,
    pub keys: Field,
    pub numbers: Field,
    pub sort_name: Field,
    pub sort_description: Field,
    pub sort_url: Field,
    pub sort_status: Field,
    /// `{custom field id: sortable string}` of the first value of number fields.
    pub sort_custom_number: Field,
    /// The same for text and choice fields (folded).
    pub sort_custom_text: Field,
    /// The same for date and date-time fields.
    pub sort_custom_date: Field,
    /// The same for user fields (the user id).
    pub sort_custom_user: Field,
    /// Keys whose numbers and dates are columns (range clauses scan them) rather than
    /// trie terms: every single-valued number or date of a lead or of an object.
    pub range_columns: HashMap<String, RangeColumns>,
}

/// The columns (by field name) of one key's values: numbers as `f64`, instants as
/// nanoseconds and days as days since the common era, both `i64`.
#[derive(Clone, Debug, Default)]
pub struct RangeColumns {
    pub number: Option<String>,
    pub instant: Option<String>,
    pub day: Option<String>,
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
        let sort_only = TextOptions::default().set_fast("raw");
        let sort_name = b.add_text_field("sort_name", sort_only.clone());
        let sort_description = b.add_text_field("sort_description", sort_only.clone());
        let sort_url = b.add_text_field("sort_url", sort_only.clone());
        let sort_status = b.add_text_field("sort_status", sort_only);
        let column = NumericOptions::default().set_fast();
        b.add_i64_field("created", column.clone());
        b.add_i64_field("updated", column.clone());
        for counted in COUNTED {
            b.add_f64_field(&count_column(counted), column.clone());
        }
        for latest in LATEST {
            b.add_i64_field(&latest_column(latest), column.clone());
        }
        let mut range_columns = HashMap::new();
        let instant = |name: &str| RangeColumns {
            instant: Some(name.to_string()),
            ..RangeColumns::default()
        };
        range_columns.insert(field_key(None, &QField::LeadCreated), instant("created"));
        range_columns.insert(field_key(None, &QField::LeadUpdated), instant("updated"));
        for counted in COUNTED {
            let number = RangeColumns {
                number: Some(count_column(counted)),
                ..RangeColumns::default()
            };
            range_columns.insert(field_key(None, &QField::Count(counted)), number);
        }
        for latest in LATEST {
            range_columns.insert(
                field_key(None, &QField::Latest(latest)),
                instant(&latest_column(latest)),
            );
        }
        // An object's single-valued numbers and dates, one column each, shared by the kinds.
        let object_columns: [(&str, RangeColumns); 8] = [
            ("obj_at", instant("obj_at")),
            ("obj_opened", instant("obj_opened")),
            ("obj_due_at", instant("obj_due_at")),
            (
                "obj_duration",
                RangeColumns {
                    number: Some("obj_duration".into()),
                    ..Default::default()
                },
            ),
            (
                "obj_value",
                RangeColumns {
                    number: Some("obj_value".into()),
                    ..Default::default()
                },
            ),
            (
                "obj_confidence",
                RangeColumns {
                    number: Some("obj_confidence".into()),
                    ..Default::default()
                },
            ),
            (
                "obj_close",
                RangeColumns {
                    day: Some("obj_close".into()),
                    ..Default::default()
                },
            ),
            (
                "obj_due_day",
                RangeColumns {
                    day: Some("obj_due_day".into()),
                    ..Default::default()
                },
            ),
        ];
        for (name, columns) in &object_columns {
            if columns.number.is_some() {
                b.add_f64_field(name, column.clone());
            } else {
                b.add_i64_field(name, column.clone());
            }
        }
        let activities = [
            ObjectType::Call,
            ObjectType::Email,
            ObjectType::Note,
            ObjectType::Sms,
            ObjectType::Meeting,
            ObjectType::Chat,
        ];
        for kind in activities {
            range_columns.insert(field_key(Some(kind), &QField::ActivityDate), instant("obj_at"));
        }
        let object = |kind, field: QField, columns: RangeColumns| (field_key(Some(kind), &field), columns);
        for (key, columns) in [
            object(ObjectType::Email, QField::EmailOpened, instant("obj_opened")),
            object(
                ObjectType::Call,
                QField::CallDuration,
                RangeColumns {
                    number: Some("obj_duration".into()),
                    ..Default::default()
                },
            ),
            object(
                ObjectType::Opportunity,
                QField::OpportunityValue,
                RangeColumns {
                    number: Some("obj_value".into()),
                    ..Default::default()
                },
            ),
            object(
                ObjectType::Opportunity,
                QField::OpportunityConfidence,
                RangeColumns {
                    number: Some("obj_confidence".into()),
                    ..Default::default()
                },
            ),
            object(
                ObjectType::Opportunity,
                QField::OpportunityClose,
                RangeColumns {
                    day: Some("obj_close".into()),
                    ..Default::default()
                },
            ),
            object(
                ObjectType::Task,
                QField::TaskDue,
                RangeColumns {
                    instant: Some("obj_due_at".into()),
                    day: Some("obj_due_day".into()),
                    ..Default::default()
                },
            ),
        ] {
            range_columns.insert(key, columns);
        }
        let sort_json = JsonObjectOptions::default().set_fast("raw");
        let sort_custom_number = b.add_json_field("sort_custom_number", sort_json.clone());
        let sort_custom_text = b.add_json_field("sort_custom_text", sort_json.clone());
        let sort_custom_date = b.add_json_field("sort_custom_date", sort_json.clone());
        let sort_custom_user = b.add_json_field("sort_custom_user", sort_json);
        Fields {
            sort_custom_number,
            sort_custom_text,
            sort_custom_date,
            sort_custom_user,
            range_columns,
            schema: b.build(),
            org,
            id,
            text,
            keys,
            numbers,
            sort_name,
            sort_description,
            sort_url,
            sort_status,
        }
    }
}
