//! The tokenizer of the field `p`: a phone's digits become every run of
//! [`DIGIT_RUN`](crate::terms::DIGIT_RUN) digits, each at the position it starts at, so
//! that digits anywhere in a number are a phrase of runs (`translate.rs`). A thousand
//! distinct terms serve every number, where a term per suffix made one per phone and digit.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

use crate::keyed_words::set_token;
use crate::terms::DIGIT_RUN;

/// The name the tokenizer is registered under.
pub const DIGIT_RUNS: &str = "rapport_digit_runs";

#[derive(Clone, Default)]
pub struct DigitRuns {
    token: Token,
}

pub struct DigitRunsStream<'a> {
    digits: &'a str,
    /// Where the next run starts.
    start: usize,
    token: &'a mut Token,
}

impl Tokenizer for DigitRuns {
    type TokenStream<'a> = DigitRunsStream<'a>;

    fn token_stream<'a>(&'a mut self, digits: &'a str) -> DigitRunsStream<'a> {
        self.token.reset();
        DigitRunsStream {
            digits,
            start: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for DigitRunsStream<'_> {
    fn advance(&mut self) -> bool {
        // Digits are ASCII (`rapport_query::text::digits`); anything else ends the runs
        // rather than splitting a character.
        let end = self.start + DIGIT_RUN;
        let Some(run) = self.digits.get(self.start..end) else {
            return false;
        };
        set_token(self.token, &[run], self.start, self.start..end);
        self.start += 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyed_words::tokens_of;

    fn runs(digits: &str) -> Vec<(String, usize)> {
        tokens_of(DigitRuns::default(), digits)
    }

    #[test]
    fn every_run_at_its_start() {
        assert_eq!(
            runs("41555"),
            [("415".to_string(), 0), ("155".to_string(), 1), ("555".to_string(), 2)]
        );
        assert_eq!(runs("123"), [("123".to_string(), 0)]);
        assert!(runs("12").is_empty());
        assert!(runs("").is_empty());
    }
}
