//! The query string of a tree, such that parsing it gives the tree back.
//!
//! Groups are parenthesized exactly where the parser would otherwise read another tree:
//! an `or` inside an `and`, and any group inside a group of the same kind. `sort:` keys
//! go at the end.

use std::fmt;

use crate::ast::{Direction, Node, Query};
use crate::lexer::is_word_char;

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

pub fn print(query: &Query) -> String {
    let mut out = String::new();
    if !matches!(&query.query, Node::And { queries, .. } if queries.is_empty()) {
        write_node(&mut out, &query.query, Context::Top);
    }
    for key in &query.sort {
        if !out.is_empty() {
            out.push(' ');
        }
        let value = match key.direction {
            Direction::Asc => key.field.clone(),
            Direction::Desc => format!("-{}", key.field),
        };
        out.push_str("sort:");
        write_value(&mut out, &value, false);
    }
    out
}

/// What encloses a node, which decides whether a group needs parentheses.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Top,
    InAnd,
    InOr,
    Negated,
}

fn write_node(out: &mut String, node: &Node, context: Context) {
    match node {
        Node::And { queries, .. } => {
            let parenthesize = matches!(context, Context::InAnd | Context::Negated);
            write_group(out, queries, " ", Context::InAnd, parenthesize);
        }
        Node::Or { queries, .. } => {
            let parenthesize = context != Context::Top;
            write_group(out, queries, " or ", Context::InOr, parenthesize);
        }
        Node::Not { query, .. } => {
            if matches!(**query, Node::Not { .. }) {
                out.push_str("not ");
            } else {
                out.push('-');
            }
            write_node(out, query, Context::Negated);
        }
        Node::Text { value, phrase, .. } => {
            if *phrase || !is_bare_text(value) {
                write_quoted(out, value);
            } else {
                out.push_str(value);
            }
        }
        Node::Field {
            field,
            op,
            value,
            phrase,
            ..
        } => {
            if is_bare_field(field) {
                out.push_str(field);
            } else {
                write_quoted(out, field);
            }
            out.push_str(op.symbol());
            write_value(out, value, *phrase);
        }
        Node::Related { object_type, query, .. } => {
            out.push_str(object_type.name());
            out.push('(');
            write_node(out, query, Context::Top);
            out.push(')');
        }
        Node::SavedSearch { id, .. } => {
            out.push_str("in:");
            write_value(out, id, false);
        }
    }
}

/// How deep the parser nests when it reads the node back (parentheses, `not`/`-` and
/// related clauses, as `MAX_DEPTH` counts them), with the parentheses `write_node` adds.
pub(crate) fn nesting(node: &Node) -> usize {
    fn depth(node: &Node, context: Context) -> usize {
        let deepest = |queries: &[Node], inner| queries.iter().map(|q| depth(q, inner)).max().unwrap_or(0);
        match node {
            Node::And { queries, .. } => {
                let parenthesized = matches!(context, Context::InAnd | Context::Negated);
                usize::from(parenthesized) + deepest(queries, Context::InAnd)
            }
            Node::Or { queries, .. } => usize::from(context != Context::Top) + deepest(queries, Context::InOr),
            Node::Not { query, .. } => 1 + depth(query, Context::Negated),
            Node::Related { query, .. } => 1 + depth(query, Context::Top),
            Node::Text { .. } | Node::Field { .. } | Node::SavedSearch { .. } => 0,
        }
    }
    depth(node, Context::Top)
}

fn write_group(out: &mut String, queries: &[Node], separator: &str, inner: Context, parenthesize: bool) {
    if parenthesize {
        out.push('(');
    }
    for (i, query) in queries.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        write_node(out, query, inner);
    }
    if parenthesize {
        out.push(')');
    }
}

/// How a value is written after an operator: quoted when it must be.
pub(crate) fn value_text(value: &str) -> String {
    let mut out = String::new();
    write_value(&mut out, value, false);
    out
}

fn write_value(out: &mut String, value: &str, phrase: bool) {
    if phrase || !is_bare_value(value) {
        write_quoted(out, value);
    } else {
        out.push_str(value);
    }
}

fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn is_keyword(s: &str) -> bool {
    ["and", "or", "not"].iter().any(|k| k.eq_ignore_ascii_case(s))
}

/// Whether a value after an operator can be written without quotes.
pub(crate) fn is_bare_value(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_word_char)
}

/// Whether a free-text word can be written without quotes: a leading `-` would negate
/// it and `and`/`or`/`not` would be read as keywords.
pub(crate) fn is_bare_text(s: &str) -> bool {
    is_bare_value(s) && !s.starts_with('-') && !is_keyword(s)
}

/// Field names follow the rules of free-text words.
pub(crate) fn is_bare_field(s: &str) -> bool {
    is_bare_text(s)
}
