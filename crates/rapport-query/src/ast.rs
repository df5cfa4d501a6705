//! The syntax tree shared by the string form and the JSON form (QUERY_LANGUAGE.md §7).
//!
//! It records what was asked, not what it means: field names, statuses and dates are
//! checked and resolved later by [`crate::resolve`], which needs the organization's schema.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{QueryError, QueryResult};
use crate::limits::{self, MAX_QUERY_CHARS};
use crate::print;
use crate::text;

/// Nesting deeper than this (parentheses, related clauses, `not`) is refused, so that
/// recursion over the tree stays shallow whatever a user or a client sends.
pub const MAX_DEPTH: usize = 32;

/// How deep a tree from the JSON form may be before its nesting is measured. A level the
/// parser counts is at most three levels of the tree (`call(a b or c)`: related, `or`,
/// `and`), so this is never the limit that refuses a tree a query string can give.
const TREE_DEPTH: usize = 3 * MAX_DEPTH + 3;

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

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ":")]
    Matches,
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Matches => ":",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// The kinds of objects a related clause (`call( … )`) can look into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    Contact,
    Call,
    Email,
    Note,
    Sms,
    Meeting,
    Chat,
    Opportunity,
    Task,
}

impl ObjectType {
    pub const ALL: [ObjectType; 9] = [
        ObjectType::Contact,
        ObjectType::Call,
        ObjectType::Email,
        ObjectType::Note,
        ObjectType::Sms,
        ObjectType::Meeting,
        ObjectType::Chat,
        ObjectType::Opportunity,
        ObjectType::Task,
    ];

    /// The clause keyword: `contact`, `call`, …
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Contact => "contact",
            ObjectType::Call => "call",
            ObjectType::Email => "email",
            ObjectType::Note => "note",
            ObjectType::Sms => "sms",
            ObjectType::Meeting => "meeting",
            ObjectType::Chat => "chat",
            ObjectType::Opportunity => "opportunity",
            ObjectType::Task => "task",
        }
    }

    /// Case-insensitive, as field names are.
    pub fn from_name(name: &str) -> Option<ObjectType> {
        ObjectType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// For messages: "a call", "an email".
    pub fn with_article(self) -> String {
        match self {
            ObjectType::Email | ObjectType::Opportunity => format!("an {}", self.name()),
            ObjectType::Sms => "an SMS".to_string(),
            _ => format!("a {}", self.name()),
        }
    }

    /// A related clause of this kind with one typical condition, for hints.
    pub(crate) fn example(self) -> &'static str {
        match self {
            ObjectType::Contact => "`contact(title:ceo)`",
            ObjectType::Call => "`call(duration > 60)`",
            ObjectType::Email => "`email(subject:proposal)`",
            ObjectType::Note => "`note(pricing)`",
            ObjectType::Sms => "`sms(direction:inbound)`",
            ObjectType::Meeting => "`meeting(date:today)`",
            ObjectType::Chat => "`chat(status:open)`",
            ObjectType::Opportunity => "`opportunity(status_type:won)`",
            ObjectType::Task => "`task(done:no)`",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Asc,
    Desc,
}

/// One `sort:` key. Several break ties in order; the id breaks the last ties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    pub field: String,
    pub direction: Direction,
    #[serde(skip)]
    pub span: Span,
}

/// Where the parts of a `field OP value` clause were written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldSpans {
    pub field: Span,
    pub op: Span,
    pub value: Span,
}

impl FieldSpans {
    pub fn clause(&self) -> Span {
        self.field.to(self.value)
    }
}

/// A node of the query, in the JSON shape of §7.
///
/// `phrase` on a field records that the value was quoted (`name:"acme"` is the whole word,
/// `name:acme` a prefix); it is left out of the JSON when false.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    And {
        queries: Vec<Node>,
        #[serde(skip)]
        span: Span,
    },
    Or {
        queries: Vec<Node>,
        #[serde(skip)]
        span: Span,
    },
    Not {
        query: Box<Node>,
        #[serde(skip)]
        span: Span,
    },
    Text {
        value: String,
        phrase: bool,
        #[serde(skip)]
        span: Span,
    },
    Field {
        field: String,
        op: Op,
        value: String,
        #[serde(default, skip_serializing_if = "is_false")]
        phrase: bool,
        #[serde(skip)]
        spans: FieldSpans,
    },
    Related {
        object_type: ObjectType,
        query: Box<Node>,
        #[serde(skip)]
        span: Span,
    },
    SavedSearch {
        id: String,
        #[serde(skip)]
        span: Span,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Node {
    /// The empty `and`: matches every lead.
    pub fn match_all() -> Node {
        Node::And {
            queries: Vec::new(),
            span: Span::default(),
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Node::And { span, .. }
            | Node::Or { span, .. }
            | Node::Not { span, .. }
            | Node::Text { span, .. }
            | Node::Related { span, .. }
            | Node::SavedSearch { span, .. } => *span,
            Node::Field { spans, .. } => spans.clause(),
        }
    }

    /// Every Smart View this node includes with `in:`, as written (an id or a name), in
    /// the order they appear, repeats kept. The views they name are not expanded.
    pub fn saved_search_refs(&self) -> Vec<&str> {
        let mut refs = Vec::new();
        // An explicit stack: a tree built in code need not respect `MAX_DEPTH`.
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match node {
                Node::And { queries, .. } | Node::Or { queries, .. } => stack.extend(queries.iter().rev()),
                Node::Not { query, .. } | Node::Related { query, .. } => stack.push(query),
                Node::SavedSearch { id, .. } => refs.push(id.as_str()),
                Node::Text { .. } | Node::Field { .. } => {}
            }
        }
        refs
    }
}

/// A whole query: the filter and the explicit sort keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub query: Node,
    #[serde(default)]
    pub sort: Vec<SortKey>,
}

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

    /// Every Smart View the query includes with `in:` anywhere in its tree, as written
    /// (an id or a name), in order. A Smart View that another one refers to this way
    /// should not be deleted.
    pub fn saved_search_refs(&self) -> Vec<&str> {
        self.query.saved_search_refs()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print::print(self))
    }
}

/// Brings a node from the JSON form to the parser's form, refusing what no query string
/// could say.
///
/// `depth` counts every level of the tree, which is deeper than the parentheses, `not`s
/// and related clauses that [`MAX_DEPTH`] limits (`(a b or c)` is one group but two
/// levels); this bound only keeps the recursion shallow, [`print::nesting`] applies the
/// parser's limit afterwards.
/// The hint for a JSON node that does not read as one of the §7 shapes.
const NODE_SHAPES: &str = r#"a node has a "type" of and, or, not, text, field, related or saved_search, e.g. {"type": "field", "field": "status", "op": ":", "value": "Cold"}"#;

/// The hint for a JSON tree nested too deep to print as a query string.
const TOO_DEEP: &str = "flatten the tree: merge nested `and`s and `or`s, and remove some `not` or related nodes";

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
