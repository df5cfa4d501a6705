//! The values that cross the store boundary: integers, text and null. Everything richer
//! (JSON documents, times) is text in a documented format, so both databases agree.

use std::sync::Arc;

use crate::{DbError, DbResult};

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

/// A result row: its values by column name, as the `SELECT` names them.
///
/// Read with [`Row::get`]: a column that is missing, null where a value is required, or of
/// the wrong type is a [`DbError::Column`](crate::DbError::Column) naming it, never a
/// silent empty value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl Row {
    /// `values` in the order of `columns` (shared by every row of one result).
    pub fn new(columns: Arc<[String]>, values: Vec<SqlValue>) -> Row {
        debug_assert_eq!(columns.len(), values.len());
        Row { columns, values }
    }

    /// The column `name`, decoded as `T` (`&str`, `String`, `i64`, `bool`, or an `Option`
    /// of one of them for a nullable column).
    pub fn get<'a, T: FromColumn<'a>>(&'a self, name: &str) -> DbResult<T> {
        let value = self.value(name)?;
        T::from_column(value).ok_or_else(|| DbError::Column {
            column: name.to_string(),
            problem: format!("{} is not {}", value.describe(), T::EXPECTED),
        })
    }

    /// The column `name`, moved out of the row (which keeps a null in its place): reading
    /// many rows' text without copying it.
    pub fn take<T: for<'a> FromColumn<'a> + TakeColumn>(&mut self, name: &str) -> DbResult<T> {
        self.get::<T>(name)?;
        let i = self.columns.iter().position(|c| c == name).expect("checked by get");
        Ok(T::take_column(std::mem::take(&mut self.values[i])))
    }

    /// The raw value of the column `name`.
    pub fn value(&self, name: &str) -> DbResult<&SqlValue> {
        match self.columns.iter().position(|c| c == name) {
            Some(i) => Ok(&self.values[i]),
            None => Err(DbError::Column {
                column: name.to_string(),
                problem: format!("not in the result (its columns: {})", self.columns.join(", ")),
            }),
        }
    }

    /// The column names, in `SELECT` order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, in `SELECT` order.
    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }

    pub fn into_values(self) -> Vec<SqlValue> {
        self.values
    }
}

impl SqlValue {
    fn describe(&self) -> &'static str {
        match self {
            SqlValue::Null => "null",
            SqlValue::Int(_) => "an integer",
            SqlValue::Text(_) => "text",
        }
    }
}

/// A Rust type a column decodes to; `None` when the value does not fit.
pub trait FromColumn<'a>: Sized {
    /// What the type expects, for the error message.
    const EXPECTED: &'static str;
    fn from_column(value: &'a SqlValue) -> Option<Self>;
}

impl<'a> FromColumn<'a> for &'a str {
    const EXPECTED: &'static str = "text";
    fn from_column(value: &'a SqlValue) -> Option<Self> {
        match value {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl<'a> FromColumn<'a> for String {
    const EXPECTED: &'static str = "text";
    fn from_column(value: &'a SqlValue) -> Option<Self> {
        <&str>::from_column(value).map(str::to_string)
    }
}

/// An owned type a column can be moved into ([`Row::take`]).
pub trait TakeColumn {
    /// `value` has already been checked by [`FromColumn::from_column`].
    fn take_column(value: SqlValue) -> Self;
}

impl TakeColumn for String {
    fn take_column(value: SqlValue) -> Self {
        match value {
            SqlValue::Text(s) => s,
            _ => String::new(),
        }
    }
}

impl TakeColumn for Option<String> {
    fn take_column(value: SqlValue) -> Self {
        match value {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl<'a> FromColumn<'a> for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_column(value: &'a SqlValue) -> Option<Self> {
        match value {
            SqlValue::Int(n) => Some(*n),
            // SQLite gives text for a numeric expression over text; PostgreSQL for NUMERIC.
            SqlValue::Text(s) => s.parse().ok(),
            SqlValue::Null => None,
        }
    }
}

impl<'a> FromColumn<'a> for bool {
    const EXPECTED: &'static str = "a boolean (0 or 1)";
    fn from_column(value: &'a SqlValue) -> Option<Self> {
        i64::from_column(value).map(|n| n != 0)
    }
}

impl<'a, T: FromColumn<'a>> FromColumn<'a> for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_column(value: &'a SqlValue) -> Option<Self> {
        match value {
            SqlValue::Null => Some(None),
            v => T::from_column(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        let columns: Arc<[String]> = ["id", "n", "gone"].map(String::from).into();
        Row::new(columns, vec!["le_1".into(), SqlValue::Int(7), SqlValue::Null])
    }

    #[test]
    fn columns_are_read_by_name() {
        let r = row();
        assert_eq!(r.get::<&str>("id").unwrap(), "le_1");
        assert_eq!(r.get::<i64>("n").unwrap(), 7);
        assert!(r.get::<bool>("n").unwrap());
        assert_eq!(r.get::<Option<String>>("gone").unwrap(), None);
        assert_eq!(r.get::<Option<i64>>("n").unwrap(), Some(7));
    }

    #[test]
    fn a_wrong_read_names_the_column_and_what_was_there() {
        let r = row();
        let missing = r.get::<&str>("name").unwrap_err().to_string();
        assert_eq!(missing, "column `name`: not in the result (its columns: id, n, gone)");
        let null = r.get::<String>("gone").unwrap_err().to_string();
        assert_eq!(null, "column `gone`: null is not text");
        let wrong = r.get::<i64>("id").unwrap_err().to_string();
        assert_eq!(wrong, "column `id`: text is not an integer");
    }
}
