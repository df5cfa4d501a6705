//! The JSON form of a query (QUERY_LANGUAGE.md §7): reading it, and bringing the tree to
//! the form the parser gives. Apart from `ast.rs` because it checks the tree with the
//! printer and the limits, which themselves read the tree.

use serde::Deserialize;

use crate::ast::{Node, Query, SortKey, MAX_DEPTH};
use crate::error::{QueryError, QueryResult};
use crate::limits::{self, MAX_QUERY_CHARS};
use crate::print;
use crate::span::Span;
use crate::text;

/// How deep a tree from the JSON form may be before its nesting is measured. A level the
/// parser counts is at most three levels of the tree (`call(a b or c)`: related, `or`,
/// `and`), so this is never the limit that refuses a tree a query string can give.
const TREE_DEPTH: usize = 3 * MAX_DEPTH + 3;

impl Query {
    /// Reads the JSON form: `{"query": <node>, "sort": [...]}`. Other keys of the request
    /// body (`_limit`, `cursor`, `_fields`) belong to the HTTP layer and are not looked at.
    /// A missing `query` matches every lead.
    ///
    /// The tree is checked and brought to the form the parser produces, so printing it
    /// and parsing the text gives it back: one-child groups are unwrapped, a value that
    /// cannot be written bare is a phrase, `{"type":"field","field":"in"}` is a saved search.
    pub fn from_json(body: &serde_json::Value) -> QueryResult<Query> {
        let here = Span::default();
        let Some(object) = body.as_object() else {
            return Err(QueryError::new(
                "a search body must be a JSON object",
                here,
                r#"send an object such as {"query": {"type": "text", "value": "acme"}, "sort": []}"#,
            ));
        };
        let query = match object.get("query") {
            None | Some(serde_json::Value::Null) => Node::match_all(),
            Some(node) => Node::deserialize(node)
                .map_err(|e| QueryError::new(format!("`query` is not a valid query node: {e}"), here, NODE_SHAPES))?,
        };
        let sort = match object.get("sort") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(keys) => Vec::<SortKey>::deserialize(keys).map_err(|e| {
                QueryError::new(
                    format!("`sort` is not a valid list of sort keys: {e}"),
                    here,
                    r#"each key is {"field": "name", "direction": "asc"} or "desc""#,
                )
            })?,
        };
        for key in &sort {
            if key.field.is_empty() || key.field.starts_with('-') {
                return Err(QueryError::new(
                    format!("`{}` is not a field to sort on", key.field),
                    here,
                    "give the field's name and the direction apart: {\"field\": \"name\", \"direction\": \"desc\"}",
                ));
            }
        }
        // The empty query is the one empty group a query string can say.
        let query = match query {
            Node::And { ref queries, .. } if queries.is_empty() => query,
            node => canonical(node, 1)?,
        };
        // The same limit as the parser's, on the string the tree prints as: the JSON of
        // every query string is accepted, and every tree accepted prints to a query string
        // that parses.
        if print::nesting(&query) > MAX_DEPTH {
            return Err(QueryError::new(
                format!("the query nests more than {MAX_DEPTH} levels deep"),
                here,
                TOO_DEEP,
            ));
        }
        let query = Query { query, sort };
        // The limits of the string form, in the same order; and the tree must print as a
        // query string the parser takes, so its length is the string form's too.
        limits::check(&query)?;
        let printed = print::print(&query);
        if printed.chars().nth(MAX_QUERY_CHARS).is_some() {
            return Err(QueryError::new(
                format!("the query is longer than {MAX_QUERY_CHARS} characters written as a query string"),
                here,
                format!(
                    "a query has at most {MAX_QUERY_CHARS} characters in its string form: search for fewer things \
                     at once, or split the search in several"
                ),
            ));
        }
        Ok(query)
    }
}

/// The hint for a JSON node that does not read as one of the §7 shapes.
const NODE_SHAPES: &str = r#"a node has a "type" of and, or, not, text, field, related or saved_search, e.g. {"type": "field", "field": "status", "op": ":", "value": "Cold"}"#;

/// The hint for a JSON tree nested too deep to print as a query string.
const TOO_DEEP: &str = "flatten the tree: merge nested `and`s and `or`s, and remove some `not` or related nodes";

/// Brings a node from the JSON form to the parser's form, refusing what no query string
/// could say.
///
/// `depth` counts every level of the tree, which is deeper than the parentheses, `not`s
/// and related clauses that [`MAX_DEPTH`] limits (`(a b or c)` is one group but two
/// levels); this bound only keeps the recursion shallow, [`print::nesting`] applies the
/// parser's limit afterwards.
fn canonical(node: Node, depth: usize) -> QueryResult<Node> {
    let here = Span::default();
    if depth > TREE_DEPTH {
        return Err(QueryError::new(
            format!("the query nests more than {MAX_DEPTH} levels deep"),
            here,
            TOO_DEEP,
        ));
    }
    Ok(match node {
        Node::And { queries, .. } | Node::Or { queries, .. } if queries.is_empty() => {
            return Err(QueryError::new(
                "an `and` or `or` node needs at least one query",
                here,
                r#"list at least one node in its "queries", or remove it: {"type": "and", "queries": [{"type": "text", "value": "acme"}]}"#,
            ));
        }
        Node::And { mut queries, .. } | Node::Or { mut queries, .. } if queries.len() == 1 => {
            canonical(queries.remove(0), depth)?
        }
        Node::And { queries, span } => Node::And {
            queries: canonical_all(queries, depth)?,
            span,
        },
        Node::Or { queries, span } => Node::Or {
            queries: canonical_all(queries, depth)?,
            span,
        },
        Node::Not { query, span } => Node::Not {
            query: Box::new(canonical(*query, depth + 1)?),
            span,
        },
        Node::Text { value, phrase, span } => {
            if text::words(&value).is_empty() {
                return Err(QueryError::new(
                    format!("the text `{value}` has no letter or digit to search for"),
                    here,
                    "search for words: letters or digits, e.g. {\"type\": \"text\", \"value\": \"acme\"}",
                ));
            }
            let phrase = phrase || !print::is_bare_text(&value);
            Node::Text { value, phrase, span }
        }
        Node::Field {
            field,
            op,
            value,
            phrase,
            spans,
        } => {
            if field.is_empty() {
                return Err(QueryError::new(
                    "a field node needs a field name",
                    here,
                    r#"name the field in "field": {"type": "field", "field": "status", "op": ":", "value": "Cold"}"#,
                ));
            }
            if field.eq_ignore_ascii_case("sort") {
                return Err(QueryError::new(
                    "`sort` is not a filter",
                    here,
                    "put sort keys in the body's `sort` list",
                ));
            }
            if field.eq_ignore_ascii_case("in") {
                return canonical(Node::SavedSearch { id: value, span: here }, depth);
            }
            let phrase = phrase || !print::is_bare_value(&value);
            Node::Field {
                field,
                op,
                value,
                phrase,
                spans,
            }
        }
        Node::Related {
            object_type,
            query,
            span,
        } => {
            if matches!(&*query, Node::And { queries, .. } if queries.is_empty()) {
                return Err(QueryError::new(
                    format!("`{}()` needs at least one condition inside", object_type.name()),
                    here,
                    format!(
                        "give its \"query\" a condition on the {}, as the query string {} does",
                        object_type.name(),
                        object_type.example()
                    ),
                ));
            }
            if contains_related(&query) {
                return Err(QueryError::new(
                    format!("a related clause cannot stand inside `{}(`", object_type.name()),
                    here,
                    r#"put related nodes side by side in an "and" node instead of one inside another"#,
                ));
            }
            Node::Related {
                object_type,
                query: Box::new(canonical(*query, depth + 1)?),
                span,
            }
        }
        Node::SavedSearch { id, span } => {
            if id.is_empty() {
                return Err(QueryError::new(
                    "a saved search node needs an id",
                    here,
                    r#"give the Smart View's id or name: {"type": "saved_search", "id": "Hot leads"}"#,
                ));
            }
            Node::SavedSearch { id, span }
        }
    })
}

fn contains_related(node: &Node) -> bool {
    match node {
        Node::Related { .. } => true,
        Node::And { queries, .. } | Node::Or { queries, .. } => queries.iter().any(contains_related),
        Node::Not { query, .. } => contains_related(query),
        Node::Text { .. } | Node::Field { .. } | Node::SavedSearch { .. } => false,
    }
}

fn canonical_all(queries: Vec<Node>, depth: usize) -> QueryResult<Vec<Node>> {
    queries.into_iter().map(|q| canonical(q, depth + 1)).collect()
}
