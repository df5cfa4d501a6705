//! The tokenizer of the text field `t`: a value `{key}\x1f{text}` becomes the words of the
//! text as the search sees them ([`rapport_query::words`]), each token `{key}\x1f{word}`,
//! at positions 0, 1, 2… so that phrases match within one value.

use rapport_query::fold;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

use crate::terms::WORD_SEP;

/// The name the tokenizer is registered under.
pub const KEYED_WORDS: &str = "rapport_keyed_words";

#[derive(Clone, Default)]
pub struct KeyedWords {
    token: Token,
}

pub struct KeyedWordsStream<'a> {
    /// The key and its separator, the start of every token.
    head: &'a str,
    folded: String,
    /// Where in `folded` the next word is looked for.
    cursor: usize,
    position: usize,
    token: &'a mut Token,
}

impl Tokenizer for KeyedWords {
    type TokenStream<'a> = KeyedWordsStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> KeyedWordsStream<'a> {
        let split = text.find(WORD_SEP).map_or(0, |at| at + WORD_SEP.len());
        self.token.reset();
        KeyedWordsStream {
            head: &text[..split],
            folded: fold(&text[split..]),
            cursor: 0,
            position: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for KeyedWordsStream<'_> {
    fn advance(&mut self) -> bool {
        let rest = &self.folded[self.cursor..];
        let Some(start) = rest.find(char::is_alphanumeric) else {
            self.cursor = self.folded.len();
            return false;
        };
        let len = rest[start..]
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        let from = self.cursor + start;
        set_token(self.token, &[self.head, word], self.position, from..from + len);
        self.position += 1;
        self.cursor += start + len;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Makes `token` the concatenation of `parts`, one position long, at `position`, from
/// the input's bytes `offsets` (the index's tokenizers).
pub(crate) fn set_token(token: &mut Token, parts: &[&str], position: usize, offsets: std::ops::Range<usize>) {
    token.text.clear();
    for part in parts {
        token.text.push_str(part);
    }
    token.position = position;
    token.position_length = 1;
    token.offset_from = offsets.start;
    token.offset_to = offsets.end;
}

/// The tokens of a text and their positions, for tests of the index's tokenizers.
#[cfg(test)]
pub(crate) fn tokens_of(mut tokenizer: impl Tokenizer, text: &str) -> Vec<(String, usize)> {
    let mut stream = tokenizer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push((stream.token().text.clone(), stream.token().position));
    }
    out
}

#[cfg(test)]
mod tests {
    use rapport_query::words;

    use super::*;

    fn tokens(text: &str) -> Vec<(String, usize)> {
        tokens_of(KeyedWords::default(), text)
    }

    #[test]
    fn words_of_the_value_under_its_key() {
        assert_eq!(
            tokens("call.CallNote\u{1f}Jo@Acme.com, São-Paulo"),
            [
                ("call.CallNote\u{1f}jo".to_string(), 0),
                ("call.CallNote\u{1f}acme".to_string(), 1),
                ("call.CallNote\u{1f}com".to_string(), 2),
                ("call.CallNote\u{1f}sao".to_string(), 3),
                ("call.CallNote\u{1f}paulo".to_string(), 4),
            ]
        );
        assert!(tokens("*\u{1f} -- ").is_empty());
    }

    #[test]
    fn the_same_words_as_the_evaluator() {
        for text in ["Éric DUPONT", "ﬁle ½ İstanbul", "a  b\tc", "", "x", "日本語 テキスト"] {
            let expected: Vec<String> = words(text).into_iter().map(|w| format!("k\u{1f}{w}")).collect();
            let got: Vec<String> = tokens(&format!("k\u{1f}{text}")).into_iter().map(|t| t.0).collect();
            assert_eq!(got, expected, "{text:?}");
        }
    }
}
