//! Byte spans into the query string. A leaf of the crate: the syntax tree, the lexer and
//! the error type all carry spans, and the error type is used by everything else.

/// Where a node came from in the query string, in bytes; empty for the JSON form.
///
/// Spans are not part of a node's identity (like `syn`'s spans): two trees that differ
/// only in where they were written compare equal, so `parse(print(q)) == q` holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
impl Eq for Span {}
