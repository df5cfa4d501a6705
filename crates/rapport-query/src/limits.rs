//! How much one query may ask for. A query is checked against these bounds before any
//! of it runs (when it is parsed, read from JSON, and again as Smart Views are expanded
//! into it), so that the work and memory of one search stay bounded whatever is sent.

use crate::ast::{Node, Query};
use crate::error::{QueryError, QueryResult};
use crate::span::Span;
use crate::text;

/// The longest query string, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;

/// The longest word, phrase or value, in characters (also a field's name, a Smart View's
/// name or id, a sort key). The search index looks a word up with an automaton of at most
/// about a thousand states, one per byte: a longer word would silently match nothing.
pub const MAX_VALUE_CHARS: usize = 256;

/// The longest word the search looks up, in bytes of its folded form (UTF-8): 256
/// characters of any common script. Only letters outside the Basic Multilingual Plane
/// or characters that fold into several (`㌀` → `アパート`) reach it within
/// [`MAX_VALUE_CHARS`]; past it, the index's automaton could not hold the word.
pub const MAX_WORD_BYTES: usize = 3 * MAX_VALUE_CHARS;

/// The most clauses in one query, those of the Smart Views it includes counted in: every
/// word or phrase searched for, field clause (`status:cold`, `has:email`), `in:` and
/// related clause (`call(…)`) is one.
pub const MAX_CLAUSES: usize = 200;

/// The most words in all the values of one query (Smart Views included): each is a term
/// the search index looks up (`"new york"` is two, `calls > 3` one).
pub const MAX_TERMS: usize = 1_000;

/// The most levels of the tree of a query with the Smart Views it includes expanded in
/// place. One query string is at most about a hundred levels ([`crate::MAX_DEPTH`]
/// parentheses, `not`s and related clauses, each up to three levels of `and` and `or`),
/// but views that include views each add theirs; every walk of the resolved query (the
/// binder, the evaluator, the index's translation) recurses over it.
pub const MAX_EXPANDED_DEPTH: usize = 128;

/// Refuses a query string longer than [`MAX_QUERY_CHARS`], pointing at what is past it.
pub(crate) fn check_length(input: &str) -> QueryResult<()> {
    let Some((past, _)) = input.char_indices().nth(MAX_QUERY_CHARS) else {
        return Ok(());
    };
    Err(QueryError::new(
        format!("the query is longer than {MAX_QUERY_CHARS} characters"),
        Span::new(past, input.len()),
        format!(
            "a query has at most {MAX_QUERY_CHARS} characters: search for fewer things at once, or split the search in several"
        ),
    ))
}

/// What a query has used of its allowance, clause by clause in the order written.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    clauses: usize,
    terms: usize,
    /// The levels of the tree the binder is in, across Smart Views.
    depth: usize,
}

impl Budget {
    /// Counts one node of the tree (not its children) and checks its own values.
    pub(crate) fn charge(&mut self, node: &Node) -> QueryResult<()> {
        match node {
            Node::And { .. } | Node::Or { .. } | Node::Not { .. } => return Ok(()),
            Node::Text { value, span, .. } => self.value(value, *span)?,
            Node::Field {
                field, value, spans, ..
            } => {
                check_name(field, spans.field)?;
                self.value(value, spans.value)?;
            }
            Node::SavedSearch { id, span } => check_name(id, *span)?,
            Node::Related { .. } => {}
        }
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return Err(QueryError::new(
                format!("the query has more than {MAX_CLAUSES} clauses"),
                node.span(),
                format!(
                    "a query has at most {MAX_CLAUSES} clauses (words, field clauses, `in:` and `kind(…)`, \
                     those of the Smart Views it includes counted in): split the search in several"
                ),
            ));
        }
        Ok(())
    }

    /// Goes one level down the tree, into `node`; [`Budget::leave`] comes back up.
    pub(crate) fn enter(&mut self, node: &Node) -> QueryResult<()> {
        self.depth += 1;
        if self.depth > MAX_EXPANDED_DEPTH {
            return Err(QueryError::new(
                format!("the query nests more than {MAX_EXPANDED_DEPTH} levels deep with its Smart Views expanded"),
                node.span(),
                "include fewer Smart Views that include others, or write their conditions with less nesting",
            ));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    fn value(&mut self, value: &str, span: Span) -> QueryResult<()> {
        check_name(value, span)?;
        let words = text::words(value);
        if let Some(word) = words.iter().find(|w| w.len() > MAX_WORD_BYTES) {
            return Err(QueryError::new(
                format!("the word `{}` is too long to search for", preview(word)),
                span,
                format!("a word is at most {MAX_WORD_BYTES} bytes once folded: search for a part of it"),
            ));
        }
        self.terms += words.len();
        if self.terms > MAX_TERMS {
            return Err(QueryError::new(
                format!("the query has more than {MAX_TERMS} words to search for"),
                span,
                format!(
                    "a query's values have at most {MAX_TERMS} words in all (those of the Smart Views it \
                     includes counted in): search for fewer, or split the search in several"
                ),
            ));
        }
        Ok(())
    }
}

/// A word, phrase, value or name of at most [`MAX_VALUE_CHARS`] characters.
pub(crate) fn check_name(value: &str, span: Span) -> QueryResult<()> {
    if value.chars().nth(MAX_VALUE_CHARS).is_none() {
        return Ok(());
    }
    Err(QueryError::new(
        format!("`{}` is longer than {MAX_VALUE_CHARS} characters", preview(value)),
        span,
        format!("a word, phrase or value has at most {MAX_VALUE_CHARS} characters: search for a part of it"),
    ))
}

/// Checks a whole tree and its sort keys, clause by clause in the order they are
/// written, so that the error points at the first clause past a limit.
pub(crate) fn check(query: &Query) -> QueryResult<()> {
    let mut budget = Budget::default();
    // An explicit stack: the tree's depth is bounded, but the walk need not rely on it.
    let mut stack = vec![&query.query];
    while let Some(node) = stack.pop() {
        budget.charge(node)?;
        match node {
            Node::And { queries, .. } | Node::Or { queries, .. } => stack.extend(queries.iter().rev()),
            Node::Not { query, .. } | Node::Related { query, .. } => stack.push(query),
            Node::Text { .. } | Node::Field { .. } | Node::SavedSearch { .. } => {}
        }
    }
    for key in &query.sort {
        check_name(&key.field, key.span)?;
    }
    Ok(())
}

/// The start of a long value, for messages.
fn preview(value: &str) -> String {
    const SHOWN: usize = 20;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}
