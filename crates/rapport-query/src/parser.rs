//! Recursive descent over the tokens, one function per rule of the grammar in the crate
//! docs. Each error is returned where it is found, with the span of the token at fault.

use crate::ast::{Direction, FieldSpans, Node, ObjectType, Op, Query, SortKey, MAX_DEPTH};
use crate::error::{QueryError, QueryResult};
use crate::lexer::{tokenize, Token, TokenKind};
use crate::limits;
use crate::span::Span;
use crate::text;

/// Parses the string form of a query. Only the syntax is checked here; field names and
/// values are checked by [`crate::resolve`].
///
/// A query past the limits of [`crate::limits`] is refused here, before any of it runs:
/// the string's length first, then each clause in the order written.
pub fn parse(input: &str) -> QueryResult<Query> {
    limits::check_length(input)?;
    let mut parser = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        depth: 0,
        sort: Vec::new(),
        end: input.len(),
        inside: None,
    };
    let query = parser.or_expr(Place::Top)?.unwrap_or_else(Node::match_all);
    if let Some(token) = parser.peek() {
        // `or_expr` stops only at the end or at a `)` it did not open.
        return Err(QueryError::new("unmatched `)`", token.span, UNMATCHED_CLOSE));
    }
    let query = Query {
        query,
        sort: parser.sort,
    };
    limits::check(&query)?;
    Ok(query)
}

/// Where a clause stands: `sort:` is allowed only at the top level.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Top,
    Group,
    Related(ObjectType),
    Negated,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    sort: Vec<SortKey>,
    end: usize,
    /// The related clause being parsed, whatever parentheses or `not`s stand between.
    inside: Option<ObjectType>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Keyword {
    And,
    Or,
    Not,
}

fn keyword(token: &Token) -> Option<Keyword> {
    let TokenKind::Word(w) = &token.kind else {
        return None;
    };
    match w.to_ascii_lowercase().as_str() {
        "and" => Some(Keyword::And),
        "or" => Some(Keyword::Or),
        "not" => Some(Keyword::Not),
        _ => None,
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn at_keyword(&self, kw: Keyword) -> bool {
        self.peek().and_then(keyword) == Some(kw)
    }

    /// Whether the next token can start a clause.
    fn at_clause_start(&self) -> bool {
        match self.peek() {
            None => false,
            Some(t) => match &t.kind {
                TokenKind::Close | TokenKind::Op(_) => false,
                _ => !matches!(keyword(t), Some(Keyword::And | Keyword::Or)),
            },
        }
    }

    fn end_span(&self) -> Span {
        Span::new(self.end, self.end)
    }

    /// `or_expr := and_expr ("or" and_expr)*`. `None` when there is no clause at all
    /// (only `sort:` clauses, or nothing).
    fn or_expr(&mut self, place: Place) -> QueryResult<Option<Node>> {
        let first = self.and_expr(place)?;
        if !self.at_keyword(Keyword::Or) {
            return Ok(first);
        }
        let mut branches = Vec::new();
        let mut left = first;
        while self.at_keyword(Keyword::Or) {
            let or_span = self.advance().map(|t| t.span).unwrap_or_default();
            let Some(l) = left.take() else {
                return Err(QueryError::new(
                    "`or` needs a clause before it",
                    or_span,
                    "write `a or b`; `sort:` clauses do not count as clauses",
                ));
            };
            branches.push(l);
            left = self.and_expr(place)?;
            if left.is_none() {
                return Err(QueryError::new(
                    "`or` needs a clause after it",
                    or_span,
                    "write `a or b`; `sort:` clauses do not count as clauses",
                ));
            }
        }
        branches.extend(left);
        let span = branches[0].span().to(branches[branches.len() - 1].span());
        Ok(Some(Node::Or {
            queries: branches,
            span,
        }))
    }

    /// `and_expr := unary (["and"] unary)*`
    fn and_expr(&mut self, place: Place) -> QueryResult<Option<Node>> {
        let mut items = Vec::new();
        let mut seen_clause = false;
        while let Some(token) = self.peek() {
            if matches!(token.kind, TokenKind::Close) || keyword(token) == Some(Keyword::Or) {
                break;
            }
            if keyword(token) == Some(Keyword::And) {
                let and_span = token.span;
                self.advance();
                if !seen_clause {
                    return Err(QueryError::new(
                        "`and` needs a clause before it",
                        and_span,
                        "write `a and b`, or leave `and` out: clauses side by side must all match",
                    ));
                }
                if !self.at_clause_start() {
                    return Err(QueryError::new(
                        "`and` needs a clause after it",
                        and_span,
                        "write `a and b`, or remove the `and`; `sort:` clauses do not count as clauses",
                    ));
                }
                continue;
            }
            seen_clause = true;
            if let Some(node) = self.unary(place)? {
                items.push(node);
            }
        }
        Ok(match items.len() {
            0 => None,
            1 => items.pop(),
            _ => {
                let span = items[0].span().to(items[items.len() - 1].span());
                Some(Node::And { queries: items, span })
            }
        })
    }

    /// `unary := ("not" | "-") unary | primary`
    fn unary(&mut self, place: Place) -> QueryResult<Option<Node>> {
        let Some(token) = self.peek().cloned() else {
            return Err(QueryError::new("expected a clause", self.end_span(), EXPECTED_CLAUSE));
        };
        if keyword(&token) == Some(Keyword::Not) {
            self.advance();
            return self.negated(token.span, "not").map(Some);
        }
        if let TokenKind::Word(word) = &token.kind {
            if let Some(rest) = word.strip_prefix('-') {
                let minus = Span::new(token.span.start, token.span.start + 1);
                if rest.is_empty() {
                    self.advance();
                    let touches = self.peek().is_some_and(|next| next.span.start == token.span.end);
                    if !touches {
                        return Err(QueryError::new(
                            "`-` must touch the clause it leaves out",
                            minus,
                            "write `-status:lost` or `-\"new york\"`, without a space",
                        ));
                    }
                } else {
                    // The rest of the word is the clause being negated.
                    self.tokens[self.pos] = Token {
                        kind: TokenKind::Word(rest.to_string()),
                        span: Span::new(minus.end, token.span.end),
                    };
                }
                return self.negated(minus, "-").map(Some);
            }
        }
        self.primary(place)
    }

    fn negated(&mut self, op_span: Span, op: &str) -> QueryResult<Node> {
        if !self.at_clause_start() {
            return Err(QueryError::new(
                format!("`{op}` needs a clause after it"),
                op_span,
                negation_hint(op),
            ));
        }
        self.enter(op_span)?;
        let inner = self.unary(Place::Negated)?;
        self.depth -= 1;
        // `unary` gives `None` only for a `sort:` clause, which is refused when negated.
        let Some(inner) = inner else {
            return Err(QueryError::new(
                format!("`{op}` needs a clause after it"),
                op_span,
                negation_hint(op),
            ));
        };
        let span = op_span.to(inner.span());
        Ok(Node::Not {
            query: Box::new(inner),
            span,
        })
    }

    fn enter(&mut self, span: Span) -> QueryResult<()> {
        if self.depth >= MAX_DEPTH {
            return Err(QueryError::new(
                format!("the query nests more than {MAX_DEPTH} levels deep"),
                span,
                "remove some parentheses or `not`s",
            ));
        }
        self.depth += 1;
        Ok(())
    }

    /// `primary := "(" or_expr ")" | KIND "(" or_expr ")" | clause`
    fn primary(&mut self, place: Place) -> QueryResult<Option<Node>> {
        let Some(token) = self.advance() else {
            return Err(QueryError::new("expected a clause", self.end_span(), EXPECTED_CLAUSE));
        };
        match &token.kind {
            TokenKind::Open => self.group(token.span).map(Some),
            TokenKind::Close => Err(QueryError::new("unmatched `)`", token.span, UNMATCHED_CLOSE)),
            TokenKind::Op(op) => Err(QueryError::new(
                format!("`{op}` needs a field name before it"),
                token.span,
                "write `status:cold`; put a value that contains `:`, `<`, `>`, `=` or `!` in quotes",
            )),
            TokenKind::Word(word) => {
                if let Some(open) = self
                    .peek()
                    .filter(|t| t.kind == TokenKind::Open && t.span.start == token.span.end)
                {
                    let open = open.span;
                    return self.related(word, token.span, open).map(Some);
                }
                self.clause(token, place)
            }
            TokenKind::Quoted(_) => self.clause(token, place),
        }
    }

    fn group(&mut self, open: Span) -> QueryResult<Node> {
        self.enter(open)?;
        let inner = self.or_expr(Place::Group)?;
        self.close(open, "unclosed parenthesis")?;
        self.depth -= 1;
        inner.ok_or_else(|| {
            QueryError::new(
                "empty parentheses",
                open,
                "put clauses inside, or remove the parentheses",
            )
        })
    }

    fn close(&mut self, open: Span, message: &str) -> QueryResult<()> {
        match self.advance() {
            Some(Token {
                kind: TokenKind::Close, ..
            }) => Ok(()),
            _ => Err(QueryError::new(message, open, "add the `)` that closes it")),
        }
    }

    fn related(&mut self, word: &str, word_span: Span, open: Span) -> QueryResult<Node> {
        let head = word_span.to(open);
        let Some(object_type) = ObjectType::from_name(word) else {
            let kinds = ObjectType::ALL.map(ObjectType::name);
            let hint = match text::nearest(word, kinds).first() {
                Some(kind) => format!("did you mean `{kind}(`? To group clauses, put a space before `(`"),
                None => format!(
                    "related clauses are {}; to group clauses, put a space before `(`",
                    kinds.map(|k| format!("`{k}(`")).join(", ")
                ),
            };
            return Err(QueryError::new(
                format!("`{word}(` is not a related clause"),
                head,
                hint,
            ));
        };
        if let Some(outer) = self.inside {
            return Err(QueryError::new(
                format!("`{}(` cannot stand inside `{}(`", object_type.name(), outer.name()),
                head,
                "write related clauses side by side: `contact(…) call(…)`",
            ));
        }
        self.pos += 1; // the `(`
        self.enter(head)?;
        self.inside = Some(object_type);
        let inner = self.or_expr(Place::Related(object_type))?;
        self.close(head, &format!("unclosed `{}(`", object_type.name()))?;
        self.inside = None;
        self.depth -= 1;
        let Some(inner) = inner else {
            return Err(QueryError::new(
                format!("`{}()` needs at least one condition inside", object_type.name()),
                head,
                format!("for example {}", object_type.example()),
            ));
        };
        let end = self.tokens.get(self.pos - 1).map_or(head.end, |t| t.span.end);
        Ok(Node::Related {
            object_type,
            query: Box::new(inner),
            span: Span::new(head.start, end),
        })
    }

    /// `clause := term [op value]`: free text, or a field clause.
    fn clause(&mut self, term: Token, place: Place) -> QueryResult<Option<Node>> {
        let op = match self.peek() {
            Some(Token {
                kind: TokenKind::Op(op),
                span,
            }) => Some((*op, *span)),
            _ => None,
        };
        let Some((op, op_span)) = op else {
            return free_text(term).map(Some);
        };
        self.advance();
        let (field, field_quoted) = match term.kind {
            TokenKind::Word(w) => (w, false),
            TokenKind::Quoted(q) => (q, true),
            _ => unreachable!("clauses start with a word or a quoted string"),
        };
        // No field has an empty name, and the JSON form refuses one: say so here, so that
        // every query that parses can be sent as JSON.
        if field.is_empty() {
            return Err(QueryError::new(
                "empty quotes",
                term.span,
                "put the field's name inside the quotes: `\"custom.Lead Source\":web`",
            ));
        }
        let (value, phrase, value_span) = match self.advance() {
            Some(Token {
                kind: TokenKind::Word(w),
                span,
            }) => (w, false, span),
            Some(Token {
                kind: TokenKind::Quoted(q),
                span,
            }) => (q, true, span),
            next => {
                let field_text = if field_quoted { format!("\"{field}\"") } else { field };
                let message = format!("`{field_text}{op}` needs a value");
                let hint = match next.map(|t| t.kind) {
                    Some(TokenKind::Open) => "a value cannot be a group: write `status:a or status:b`",
                    _ => "put the value right after the operator, in quotes if it has spaces",
                };
                return Err(QueryError::new(message, term.span.to(op_span), hint));
            }
        };
        let spans = FieldSpans {
            field: term.span,
            op: op_span,
            value: value_span,
        };
        if field.eq_ignore_ascii_case("sort") {
            self.sort_clause(op, value, spans, place)?;
            return Ok(None);
        }
        if field.eq_ignore_ascii_case("in") {
            if op != Op::Matches {
                return Err(QueryError::new(
                    format!("`in` takes `:`, not `{op}`"),
                    op_span,
                    "write `in:\"Smart View name\"`",
                ));
            }
            if value.is_empty() {
                return Err(QueryError::new(
                    "empty quotes",
                    spans.value,
                    "write the Smart View's name or id: `in:\"Smart View name\"`",
                ));
            }
            return Ok(Some(Node::SavedSearch {
                id: value,
                span: spans.clause(),
            }));
        }
        Ok(Some(Node::Field {
            field,
            op,
            value,
            phrase,
            spans,
        }))
    }

    fn sort_clause(&mut self, op: Op, value: String, spans: FieldSpans, place: Place) -> QueryResult<()> {
        let clause = spans.clause();
        if op != Op::Matches {
            return Err(QueryError::new(
                format!("`sort` takes `:`, not `{op}`"),
                spans.op,
                "write `sort:name` (ascending) or `sort:-name` (descending)",
            ));
        }
        let misplaced = match place {
            Place::Top => None,
            Place::Group => Some("`sort:` cannot stand inside parentheses".to_string()),
            Place::Related(kind) => Some(format!("`sort:` cannot stand inside `{}(…)`", kind.name())),
            Place::Negated => Some("`sort:` cannot be negated".to_string()),
        };
        if let Some(message) = misplaced {
            return Err(QueryError::new(
                message,
                clause,
                "`sort:` orders the whole query: put it at the top level, e.g. at the end",
            ));
        }
        let (direction, field) = match value.strip_prefix('-') {
            Some(rest) => (Direction::Desc, rest.to_string()),
            None => (Direction::Asc, value),
        };
        if field.is_empty() || field.starts_with('-') {
            return Err(QueryError::new(
                "`sort:` needs a field name",
                spans.value,
                "write `sort:name` (ascending) or `sort:-name` (descending)",
            ));
        }
        self.sort.push(SortKey {
            field,
            direction,
            span: spans.value,
        });
        Ok(())
    }
}

fn free_text(term: Token) -> QueryResult<Node> {
    let (value, phrase) = match term.kind {
        TokenKind::Word(w) => (w, false),
        TokenKind::Quoted(q) => (q, true),
        _ => unreachable!("free text is a word or a quoted string"),
    };
    if text::words(&value).is_empty() {
        let message = if value.is_empty() {
            "empty quotes".to_string()
        } else {
            format!("`{value}` has no letter or digit to search for")
        };
        return Err(QueryError::new(
            message,
            term.span,
            "search for words: letters or digits; put punctuation inside a quoted phrase",
        ));
    }
    Ok(Node::Text {
        value,
        phrase,
        span: term.span,
    })
}

const EXPECTED_CLAUSE: &str =
    "end the query with a clause: a word to search for or a field clause such as `status:cold`";

const UNMATCHED_CLOSE: &str = "remove it, or add the `(` it closes";

/// What to write after `not` or `-`.
fn negation_hint(op: &str) -> String {
    let example = if op == "-" { "-status:lost" } else { "not status:lost" };
    format!("put the clause to leave out right after `{op}`: `{example}`")
}
