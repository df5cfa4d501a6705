//! The values that cross the store boundary: integers, text and null. Everything richer
//! (JSON documents, times) is text in a documented format, so both databases agree.

/// A SQL parameter or column value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SqlValue {
    #[default]
    Null,
    Int(i64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}
impl From<&String> for SqlValue {
    fn from(s: &String) -> Self {
        SqlValue::Text(s.clone())
    }
}
impl From<i64> for SqlValue {
    fn from(n: i64) -> Self {
        SqlValue::Int(n)
    }
}
impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        SqlValue::Int(b as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A result row, columns in `SELECT` order.
pub type Row = Vec<SqlValue>;

/// Typed access to a row's columns. Reading a column of the wrong type gives the type's
/// empty value: the schema is ours, so a mismatch is a bug caught by tests, not input.
pub trait RowExt {
    fn text(&self, i: usize) -> &str;
    fn opt_text(&self, i: usize) -> Option<&str>;
    fn int(&self, i: usize) -> i64;
    /// An integer column that may be null.
    fn opt_int(&self, i: usize) -> Option<i64>;
}

impl RowExt for Row {
    fn text(&self, i: usize) -> &str {
        self.opt_text(i).unwrap_or("")
    }

    fn opt_text(&self, i: usize) -> Option<&str> {
        match self.get(i) {
            Some(SqlValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    fn opt_int(&self, i: usize) -> Option<i64> {
        match self.get(i) {
            Some(SqlValue::Null) | None => None,
            _ => Some(self.int(i)),
        }
    }

    fn int(&self, i: usize) -> i64 {
        match self.get(i) {
            Some(SqlValue::Int(n)) => *n,
            Some(SqlValue::Text(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }
}
