//! Splits a query string into words, quoted strings, parentheses and operators (§1).
//! White space only separates tokens; whether two tokens touch is read from their spans
//! (`contact(` is a related clause, `contact (` a word and a group).

use crate::ast::Op;
use crate::error::{QueryError, QueryResult};
use crate::span::Span;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Op(Op),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Characters that end a word (besides white space).
pub(crate) fn is_special(c: char) -> bool {
    matches!(c, '(' | ')' | '"' | ':' | '<' | '>' | '=' | '!')
}

pub(crate) fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !is_special(c)
}

pub(crate) fn tokenize(input: &str) -> QueryResult<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = |kind| Token {
            kind,
            span: Span::new(start, start + c.len_utf8()),
        };
        match c {
            '(' => {
                chars.next();
                tokens.push(single(TokenKind::Open));
            }
            ')' => {
                chars.next();
                tokens.push(single(TokenKind::Close));
            }
            ':' => {
                chars.next();
                tokens.push(single(TokenKind::Op(Op::Matches)));
            }
            '=' => {
                chars.next();
                tokens.push(single(TokenKind::Op(Op::Eq)));
            }
            '<' | '>' | '!' => {
                chars.next();
                let followed_by_eq = chars.next_if(|&(_, c)| c == '=').is_some();
                let op = match (c, followed_by_eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    ('!', true) => Op::Ne,
                    _ => {
                        return Err(QueryError::new(
                            "`!` must be followed by `=`",
                            Span::new(start, start + 1),
                            "write `field != value`; to leave something out, put `-` or `not` before it",
                        ))
                    }
                };
                let end = start + if followed_by_eq { 2 } else { 1 };
                tokens.push(Token {
                    kind: TokenKind::Op(op),
                    span: Span::new(start, end),
                });
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        // Only `\"` and `\\` are escapes; any other backslash is itself.
                        '\\' => match chars.next_if(|&(_, n)| n == '"' || n == '\\') {
                            Some((_, escaped)) => value.push(escaped),
                            None => value.push('\\'),
                        },
                        c => value.push(c),
                    }
                }
                let Some(end) = end else {
                    return Err(QueryError::new(
                        "unclosed quote",
                        Span::new(start, start + 1),
                        "close the quoted text with `\"`; to search for a quote mark itself, write `\\\"`",
                    ));
                };
                tokens.push(Token {
                    kind: TokenKind::Quoted(value),
                    span: Span::new(start, end),
                });
            }
            _ => {
                let mut end = start;
                while let Some((i, c)) = chars.next_if(|&(_, c)| is_word_char(c)) {
                    end = i + c.len_utf8();
                }
                tokens.push(Token {
                    kind: TokenKind::Word(input[start..end].to_string()),
                    span: Span::new(start, end),
                });
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn splits_words_operators_and_quotes() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"calls>=3 "a \"b\" \\ \c"(x)"#),
            [
                Word("calls".into()),
                Op(crate::ast::Op::Ge),
                Word("3".into()),
                Quoted(r#"a "b" \ \c"#.into()),
                Open,
                Word("x".into()),
                Close
            ]
        );
    }

    #[test]
    fn reports_unclosed_quotes_and_lone_bangs() {
        assert_eq!(tokenize(r#"a "bc"#).unwrap_err().span, (2, 3));
        assert_eq!(tokenize("a ! b").unwrap_err().span, (2, 3));
    }
}
