//! Words, as the search sees them (§2 and §9): Unicode NFKD, combining marks dropped,
//! lower-cased, split at every character that is not a letter or digit.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The folded form of a whole string: `Éric Dupont` → `eric dupont`. Labels, names and
/// text sort keys compare in this form.
pub fn fold(s: &str) -> String {
    // ASCII has no compatibility forms and no combining marks: only case to fold.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        for lower in c.to_lowercase() {
            // Lower-casing can itself decompose (`İ` → `i̇`), so fold what it yields again.
            if lower.is_ascii() {
                out.push(lower);
            } else {
                out.extend(lower.nfkd().filter(|c| !is_combining_mark(*c)));
            }
        }
    }
    out
}

/// The words of a text: `Jo@Acme.com` → `["jo", "acme", "com"]`.
pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The digits of a phone number: `+1 (415) 555-0123` → `14155550123`.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// What a text clause looks for in one text value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPattern {
    /// Folded words, adjacent and in order.
    pub words: Vec<String>,
    /// Whether the last word may be the start of a longer word (`jo` matches `john`).
    pub last_is_prefix: bool,
}

impl TextPattern {
    /// A bare query word: one word is a prefix; several are a phrase whose last word
    /// is a prefix (`acme.com`). A quoted string is a phrase of whole words. `None` when
    /// the value has no letter or digit.
    pub fn new(value: &str, quoted: bool) -> Option<TextPattern> {
        let words = words(value);
        if words.is_empty() {
            return None;
        }
        Some(TextPattern {
            words,
            last_is_prefix: !quoted,
        })
    }

    /// Whether one text value (one field of one object) contains the pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_words(&words(text))
    }

    pub fn matches_words(&self, text: &[String]) -> bool {
        let n = self.words.len();
        if n == 0 || text.len() < n {
            return false;
        }
        text.windows(n).any(|window| {
            let (last, init) = window.split_last().expect("n > 0");
            init == &self.words[..n - 1] && self.word_matches_last(last)
        })
    }

    fn word_matches_last(&self, word: &str) -> bool {
        let wanted = &self.words[self.words.len() - 1];
        if self.last_is_prefix {
            word.starts_with(wanted.as_str())
        } else {
            word == wanted
        }
    }
}

/// Edit distance over characters, counting a swap of two neighbours as one edit (the
/// commonest typo: `emial`), for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The candidates nearest to `wanted` (at most three), if any is near enough to be a
/// plausible typo.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = fold(wanted);
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (edit_distance(&wanted, &fold(c)), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let Some(best) = scored.first().map(|(d, _)| *d) else {
        return Vec::new();
    };
    scored
        .into_iter()
        .filter(|(d, _)| *d == best)
        .take(3)
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_case_and_compatibility_forms() {
        assert_eq!(fold("Éric DUPONT"), "eric dupont");
        assert_eq!(fold("Plain ASCII, 42!"), "plain ascii, 42!");
        assert_eq!(fold("ﬁle"), "file");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(words("Jo@Acme.com"), ["jo", "acme", "com"]);
        assert_eq!(words("São-Paulo  ½"), ["sao", "paulo", "1", "2"]);
    }

    #[test]
    fn patterns_match_words_prefixes_and_phrases() {
        let bare = |s| TextPattern::new(s, false).unwrap();
        let quoted = |s| TextPattern::new(s, true).unwrap();
        assert!(bare("jo").matches("John Smith"));
        assert!(!quoted("jo").matches("John Smith"));
        assert!(quoted("john").matches("John Smith"));
        assert!(bare("acme.c").matches("jo@acme.com"));
        assert!(!bare("acme.c").matches("acme jo.com"));
        assert!(quoted("new york").matches("New York City"));
        assert!(!quoted("new york").matches("York New"));
        assert_eq!(TextPattern::new("&", false), None);
    }

    #[test]
    fn suggests_the_nearest_names() {
        assert_eq!(edit_distance("staus", "status"), 1);
        assert_eq!(edit_distance("emial", "email"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(nearest("staus", ["status", "state", "name"]), ["status"]);
        assert!(nearest("zzzzzz", ["status"]).is_empty());
    }
}
