//! The index's own document type. Tantivy's `TantivyDocument` copies every value into its
//! compact encoding (and pre-tokenized text through JSON); this one keeps every string of
//! a document in one buffer, so building a document allocates a handful of times, not
//! once per term.

use std::fmt::Write as _;

use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{Document, Field, Value};

/// A document: `(field, value)` pairs, strings kept in one buffer.
#[derive(Debug, Default)]
pub struct IndexDoc {
    strings: String,
    values: Vec<(Field, Slot)>,
    objects: Vec<Vec<(String, String)>>,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    /// A byte range of `strings`.
    Str(u32, u32),
    I64(i64),
    F64(f64),
    /// An index into `objects`.
    Object(u32),
}

impl IndexDoc {
    pub fn new() -> IndexDoc {
        IndexDoc::default()
    }

    pub fn add_str(&mut self, field: Field, value: &str) {
        let start = self.strings.len();
        self.strings.push_str(value);
        self.push_str_from(field, start);
    }

    /// Adds the concatenation of `parts` (cheaper than [`add_fmt`](Self::add_fmt) for
    /// plain strings, which most terms are).
    pub fn add_joined(&mut self, field: Field, parts: &[&str]) {
        let start = self.strings.len();
        for part in parts {
            self.strings.push_str(part);
        }
        self.push_str_from(field, start);
    }

    /// Adds a string written by `write` (with `write!`), without a `String` of its own.
    pub fn add_fmt(&mut self, field: Field, args: std::fmt::Arguments<'_>) {
        let start = self.strings.len();
        self.strings.write_fmt(args).expect("writing to a String cannot fail");
        self.push_str_from(field, start);
    }

    fn push_str_from(&mut self, field: Field, start: usize) {
        let end = self.strings.len();
        self.values.push((field, Slot::Str(offset(start), offset(end))));
    }

    pub fn add_i64(&mut self, field: Field, value: i64) {
        self.values.push((field, Slot::I64(value)));
    }

    pub fn add_f64(&mut self, field: Field, value: f64) {
        self.values.push((field, Slot::F64(value)));
    }

    /// A JSON object of string values (for the JSON columns).
    pub fn add_object(&mut self, field: Field, entries: Vec<(String, String)>) {
        self.values.push((field, Slot::Object(offset(self.objects.len()))));
        self.objects.push(entries);
    }

    fn value(&self, slot: Slot) -> DocValue<'_> {
        match slot {
            Slot::Str(start, end) => DocValue::Str(&self.strings[start as usize..end as usize]),
            Slot::I64(v) => DocValue::I64(v),
            Slot::F64(v) => DocValue::F64(v),
            Slot::Object(i) => DocValue::Object(&self.objects[i as usize]),
        }
    }
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a document's strings stay under 4 GiB")
}

/// One value of an [`IndexDoc`], borrowed from it.
#[derive(Debug, Clone, Copy)]
pub enum DocValue<'a> {
    Str(&'a str),
    I64(i64),
    F64(f64),
    Object(&'a [(String, String)]),
}

impl<'a> Value<'a> for DocValue<'a> {
    type ArrayIter = std::iter::Empty<DocValue<'a>>;
    type ObjectIter = ObjectEntries<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            DocValue::Str(s) => ReferenceValueLeaf::Str(s).into(),
            DocValue::I64(v) => ReferenceValueLeaf::I64(v).into(),
            DocValue::F64(v) => ReferenceValueLeaf::F64(v).into(),
            DocValue::Object(entries) => ReferenceValue::Object(ObjectEntries(entries.iter())),
        }
    }
}

pub struct ObjectEntries<'a>(std::slice::Iter<'a, (String, String)>);

impl<'a> Iterator for ObjectEntries<'a> {
    type Item = (&'a str, DocValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = self.0.next()?;
        Some((key.as_str(), DocValue::Str(value)))
    }
}

pub struct FieldValues<'a> {
    doc: &'a IndexDoc,
    next: std::slice::Iter<'a, (Field, Slot)>,
}

impl<'a> Iterator for FieldValues<'a> {
    type Item = (Field, DocValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (field, slot) = self.next.next()?;
        Some((*field, self.doc.value(*slot)))
    }
}

impl Document for IndexDoc {
    type Value<'a> = DocValue<'a>;
    type FieldsValuesIter<'a> = FieldValues<'a>;

    fn iter_fields_and_values(&self) -> FieldValues<'_> {
        FieldValues {
            doc: self,
            next: self.values.iter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tantivy::schema::{Schema, FAST, STRING};

    use super::*;

    #[test]
    fn values_come_back_as_added() {
        let mut schema = Schema::builder();
        let text = schema.add_text_field("text", STRING);
        let number = schema.add_i64_field("number", FAST);
        let json = schema.add_json_field("json", FAST);
        let mut doc = IndexDoc::new();
        doc.add_str(text, "alpha");
        doc.add_fmt(text, format_args!("{}={}", "key", 7));
        doc.add_joined(text, &["key", "=", "8"]);
        doc.add_i64(number, -3);
        doc.add_object(json, vec![("a".into(), "b".into())]);
        let values: Vec<String> = doc
            .iter_fields_and_values()
            .map(|(field, value)| match value {
                DocValue::Str(s) => format!("{}:{s}", field.field_id()),
                DocValue::I64(v) => format!("{}:{v}", field.field_id()),
                DocValue::F64(v) => format!("{}:{v}", field.field_id()),
                DocValue::Object(entries) => format!("{}:{entries:?}", field.field_id()),
            })
            .collect();
        assert_eq!(values, ["0:alpha", "0:key=7", "0:key=8", "1:-3", r#"2:[("a", "b")]"#]);
    }
}
