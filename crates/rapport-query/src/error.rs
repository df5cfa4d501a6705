//! The one error type of the crate: what is wrong, where (byte offsets into the query
//! string) and what to do about it.

use serde::Serialize;

use crate::span::Span;

/// A query that cannot be run. The HTTP layer answers it as 400 with [`QueryError::to_json`].
///
/// `span` is `(start, end)` in bytes into the query string, always within it and on
/// character boundaries. For a query sent as JSON it is `(0, 0)`: there is no string to
/// point into.
///
/// `hint` is never empty: it says what to write instead, in the user's words. The only
/// constructor, [`QueryError::new`], takes it, so no error can be made without one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
    pub span: (usize, usize),
    pub hint: String,
}

impl QueryError {
    pub(crate) fn new(message: impl Into<String>, span: Span, hint: impl Into<String>) -> Self {
        let error = QueryError {
            message: message.into(),
            span: (span.start, span.end),
            hint: hint.into(),
        };
        debug_assert!(!error.message.trim().is_empty(), "an error without a message");
        debug_assert!(!error.hint.trim().is_empty(), "no hint for `{}`", error.message);
        error
    }

    /// The body of the 400 answer: `{"error": "…", "span": [start, end], "hint": "…"}`,
    /// always with all three keys.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            span: [usize; 2],
            hint: &'a str,
        }
        serde_json::to_value(Body {
            error: &self.message,
            span: [self.span.0, self.span.1],
            hint: &self.hint,
        })
        .unwrap_or(serde_json::Value::Null)
    }
}

pub type QueryResult<T> = Result<T, QueryError>;

/// `a`, `a or b`, `a, b or c`: for messages that list choices.
pub(crate) fn list_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Backticked names, at most `max` of them, then "…".
pub(crate) fn ticked(names: impl IntoIterator<Item = impl AsRef<str>>, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        if i == max {
            out.push("…".to_string());
            break;
        }
        out.push(format!("`{}`", name.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_always_has_a_hint() {
        let e = QueryError::new("unknown field `x`", Span::new(0, 1), "write `status:cold`");
        assert_eq!(
            e.to_json().to_string(),
            r#"{"error":"unknown field `x`","span":[0,1],"hint":"write `status:cold`"}"#
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "no hint")]
    fn an_empty_hint_is_a_bug() {
        let _ = QueryError::new("unknown field `x`", Span::new(0, 1), " ");
    }
}
