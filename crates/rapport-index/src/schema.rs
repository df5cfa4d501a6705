//! The index's fields. A lead is a block of documents: one per related object (marked
//! `child={kind}` in `k`), then the lead's (marked `doc=lead`).
//!
//! * `org` and `id` (lead documents only; `id` is a column too, the last sort key);
//!   `objects`, a column of the lead documents: how many documents of objects come before
//!   it in its block (`block.rs` deletes a block by it).
//! * `t`: words of text values, each value `{key}\x1f{text}` split by `keyed_words.rs`
//!   into tokens `{key}\x1f{word}`, one position run per value so that a phrase never
//!   spans two values.
//! * `k`: exact terms: `{key}={value}` (ids, labels, booleans), `{key}?` (the field has a
//!   value), `{key}~{digits}` (a phone's last one and two digits), `{key}#n` (several
//!   distinct values), the markers.
//! * `p`: every run of three digits of a contact's phones, at its position in the number
//!   (`digit_runs.rs`): digits anywhere in a number are a phrase of runs.
//! * `n`: numbers and dates as trie terms (`encode.rs`), dates under `{key}@` (instants)
//!   and `{key}/` (days), for values with several per document (custom fields).
//! * Range columns: single-valued numbers and dates (created, counts, newest dates; an
//!   object's date, duration, value, …), which range clauses scan without terms.
//! * Sort columns: folded name, description, url, status; created, updated; every count
//!   and newest date.
//! * Custom-field sort columns (JSON columns keyed by field id).

use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use rapport_query::facts::field_key;
use rapport_query::{Counted, Field as QField, Latest, ObjectType};
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST,
};

use crate::digit_runs::DIGIT_RUNS;
use crate::keyed_words::KEYED_WORDS;

/// Bumped whenever documents change shape: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 9;

/// The column of [`Fields::objects`].
pub const OBJECTS_COLUMN: &str = "objects";

pub use rapport_query::facts::{COUNTED, LATEST};

#[derive(Clone)]
pub struct Fields {
    pub schema: Schema,
    pub org: Field,
    /// The lead's id, on its own document only (a column: the last sort key).
    pub id: Field,
    /// On a lead's document, the number of its objects' documents (before it).
    pub objects: Field,
    pub text: Field,
    pub keys: Field,
    pub numbers: Field,
    /// The runs of digits of contacts' phones.
    pub phone_runs: Field,
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
    pub range_columns: FxHashMap<String, RangeColumns>,
    /// Keys whose values are all exact terms (`{key}={value}`: labels, users, booleans) of
    /// a few distinct values: the field has a value when one of those terms holds, so no
    /// `{key}?` term is kept for them.
    pub presence_from_values: FxHashSet<String>,
}

/// The columns of one key's values: numbers as `f64`, instants as nanoseconds and days
/// as days since the common era, both `i64`. A key in columns has no presence term: the
/// columns answer whether there is a value.
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeColumns {
    pub number: Option<Field>,
    pub instant: Option<Field>,
    pub day: Option<Field>,
    /// Other keys' values are in these columns too (an activity's date, for every kind
    /// of activity): a value there does not say which kind of object has it.
    pub shared: bool,
}

impl RangeColumns {
    fn instant(field: Field) -> RangeColumns {
        RangeColumns {
            instant: Some(field),
            ..RangeColumns::default()
        }
    }

    fn number(field: Field) -> RangeColumns {
        RangeColumns {
            number: Some(field),
            ..RangeColumns::default()
        }
    }

    fn day(field: Field) -> RangeColumns {
        RangeColumns {
            day: Some(field),
            ..RangeColumns::default()
        }
    }

    pub fn all(&self) -> impl Iterator<Item = Field> {
        [self.number, self.instant, self.day].into_iter().flatten()
    }
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
        // Searches never score, so no field keeps the lengths that scores are made of.
        let indexed = |tokenizer: &str, record: IndexRecordOption| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tokenizer)
                    .set_index_option(record)
                    .set_fieldnorms(false),
            )
        };
        let exact = indexed("raw", IndexRecordOption::Basic);
        let org = b.add_text_field("org", exact.clone());
        let id = b.add_text_field("id", exact.clone() | FAST);
        let text = b.add_text_field("t", indexed(KEYED_WORDS, IndexRecordOption::WithFreqsAndPositions));
        let keys = b.add_text_field("k", exact.clone());
        let numbers = b.add_text_field("n", exact);
        let phone_runs = b.add_text_field("p", indexed(DIGIT_RUNS, IndexRecordOption::WithFreqsAndPositions));
        let sort_only = TextOptions::default().set_fast("raw");
        let sort_name = b.add_text_field("sort_name", sort_only.clone());
        let sort_description = b.add_text_field("sort_description", sort_only.clone());
        let sort_url = b.add_text_field("sort_url", sort_only.clone());
        let sort_status = b.add_text_field("sort_status", sort_only);
        let column = NumericOptions::default().set_fast();
        let mut i64_column = |name: &str| b.add_i64_field(name, column.clone());
        let objects = i64_column(OBJECTS_COLUMN);
        let mut range_columns = FxHashMap::default();
        let instants = [
            (QField::LeadCreated, "created".to_string()),
            (QField::LeadUpdated, "updated".to_string()),
        ]
        .into_iter()
        .chain(LATEST.map(|latest| (QField::Latest(latest), latest_column(latest))));
        for (field, column) in instants {
            range_columns.insert(field_key(None, &field), RangeColumns::instant(i64_column(&column)));
        }
        // An object's single-valued numbers and dates, one column each, shared by the kinds.
        let obj_at = i64_column("obj_at");
        let obj_opened = i64_column("obj_opened");
        let obj_due_at = i64_column("obj_due_at");
        let obj_close = i64_column("obj_close");
        let obj_due_day = i64_column("obj_due_day");
        let mut f64_column = |name: &str| b.add_f64_field(name, column.clone());
        for counted in COUNTED {
            range_columns.insert(
                field_key(None, &QField::Count(counted)),
                RangeColumns::number(f64_column(&count_column(counted))),
            );
        }
        let obj_duration = f64_column("obj_duration");
        let obj_value = f64_column("obj_value");
        let obj_confidence = f64_column("obj_confidence");
        let activities = [
            ObjectType::Call,
            ObjectType::Email,
            ObjectType::Note,
            ObjectType::Sms,
            ObjectType::Meeting,
            ObjectType::Chat,
        ];
        for kind in activities {
            range_columns.insert(
                field_key(Some(kind), &QField::ActivityDate),
                RangeColumns::instant(obj_at),
            );
        }
        let object = |kind, field: QField, columns: RangeColumns| (field_key(Some(kind), &field), columns);
        for (key, columns) in [
            object(
                ObjectType::Email,
                QField::EmailOpened,
                RangeColumns::instant(obj_opened),
            ),
            object(
                ObjectType::Call,
                QField::CallDuration,
                RangeColumns::number(obj_duration),
            ),
            object(
                ObjectType::Opportunity,
                QField::OpportunityValue,
                RangeColumns::number(obj_value),
            ),
            object(
                ObjectType::Opportunity,
                QField::OpportunityConfidence,
                RangeColumns::number(obj_confidence),
            ),
            object(
                ObjectType::Opportunity,
                QField::OpportunityClose,
                RangeColumns::day(obj_close),
            ),
            object(
                ObjectType::Task,
                QField::TaskDue,
                RangeColumns {
                    instant: Some(obj_due_at),
                    day: Some(obj_due_day),
                    ..RangeColumns::default()
                },
            ),
        ] {
            range_columns.insert(key, columns);
        }
        let mut keys_per_column: HashMap<Field, usize> = HashMap::new();
        for column in range_columns.values().flat_map(RangeColumns::all) {
            *keys_per_column.entry(column).or_default() += 1;
        }
        for columns in range_columns.values_mut() {
            columns.shared = columns.all().any(|column| keys_per_column[&column] > 1);
        }
        let presence_from_values = presence_from_values();
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
            presence_from_values,
            schema: b.build(),
            org,
            id,
            objects,
            text,
            keys,
            numbers,
            phone_runs,
            sort_name,
            sort_description,
            sort_url,
            sort_status,
        }
    }
}

/// See [`Fields::presence_from_values`]: the built-in fields valued by labels, users and
/// booleans (not the lead's id, which has a value per lead).
fn presence_from_values() -> FxHashSet<String> {
    let object_fields = [
        QField::ActivityUser,
        QField::CallDirection,
        QField::CallStatus,
        QField::EmailDirection,
        QField::EmailStatus,
        QField::SmsDirection,
        QField::ChatStatus,
        QField::ChatAssignee,
        QField::OpportunityStatus,
        QField::OpportunityStatusType,
        QField::OpportunityUser,
        QField::TaskAssignee,
        QField::TaskDone,
    ];
    let lead_fields = [QField::LeadStatus, QField::LeadCreatedBy, QField::LeadUpdatedBy];
    ObjectType::ALL
        .into_iter()
        .flat_map(|kind| object_fields.iter().map(move |field| field_key(Some(kind), field)))
        .chain(lead_fields.iter().map(|field| field_key(None, field)))
        .collect()
}
