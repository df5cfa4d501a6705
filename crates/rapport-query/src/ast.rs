//! The syntax tree shared by the string form and the JSON form (QUERY_LANGUAGE.md §7).
//!
//! It records what was asked, not what it means: field names, statuses and dates are
//! checked and resolved later by [`crate::resolve`], which needs the organization's schema.
//! Reading the JSON form, which checks the tree against the limits, is `json.rs`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::span::Span;

/// Nesting deeper than this (parentheses, related clauses, `not`) is refused, so that
/// recursion over the tree stays shallow whatever a user or a client sends.
pub const MAX_DEPTH: usize = 32;

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
