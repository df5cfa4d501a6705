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

/// The longest string, in characters, that [`edit_distance`] compares: "did you mean"
/// hints are for names and short values, and the table costs the product of the lengths.
pub const MAX_EDIT_CHARS: usize = 64;

/// Edit distance over characters, counting a swap of two neighbours as one edit (the
/// commonest typo: `emial`), for "did you mean" suggestions. `None` (no suggestion) when
/// either string is longer than [`MAX_EDIT_CHARS`]: the work is at most 64 × 64 cells,
/// and the memory three rows of the shorter string, whatever the input.
pub fn edit_distance(a: &str, b: &str) -> Option<usize> {
    // `nth` stops reading at the bound: a long value is not even counted to its end.
    if a.chars().nth(MAX_EDIT_CHARS).is_some() || b.chars().nth(MAX_EDIT_CHARS).is_some() {
        return None;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // The distance is symmetric: the rows run along the shorter string.
    let (a, b) = if a.len() < b.len() { (b, a) } else { (a, b) };
    // Rows i - 2, i - 1 and i of the table, where row[j] is the distance between a[..i]
    // and b[..j]; the swap of two neighbours looks two rows back.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    Some(previous[b.len()])
}

/// The candidates nearest to `wanted` (at most three), if any is near enough to be a
/// plausible typo. Nothing is suggested for, or as, a string longer than
/// [`MAX_EDIT_CHARS`].
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    // Folding never makes a string more than a few times shorter (combining marks are
    // dropped): past this, it cannot come within the bound, and is not folded at all.
    if wanted.chars().nth(4 * MAX_EDIT_CHARS).is_some() {
        return Vec::new();
    }
    let wanted = fold(wanted);
    if wanted.chars().nth(MAX_EDIT_CHARS).is_some() {
        return Vec::new();
    }
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| Some((edit_distance(&wanted, &fold(c))?, c)))
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
        assert_eq!(edit_distance("staus", "status"), Some(1));
        assert_eq!(edit_distance("emial", "email"), Some(1));
        assert_eq!(edit_distance("", "abc"), Some(3));
        assert_eq!(edit_distance("abc", ""), Some(3));
        assert_eq!(edit_distance("kitten", "sitting"), Some(3));
        assert_eq!(edit_distance("sitting", "kitten"), Some(3));
        assert_eq!(edit_distance("ca", "abc"), Some(3));
        assert_eq!(nearest("staus", ["status", "state", "name"]), ["status"]);
        assert!(nearest("zzzzzz", ["status"]).is_empty());
    }

    #[test]
    fn long_strings_get_no_edit_distance_and_no_suggestion() {
        let at_bound = "a".repeat(MAX_EDIT_CHARS);
        assert_eq!(edit_distance(&at_bound, &"a".repeat(MAX_EDIT_CHARS - 1)), Some(1));
        let past = "a".repeat(MAX_EDIT_CHARS + 1);
        assert_eq!(edit_distance(&past, "a"), None);
        assert_eq!(edit_distance("a", &past), None);
        // The review's case: a 200,000-character value once took seconds and 740 MB.
        let huge = "s".repeat(200_000);
        assert_eq!(edit_distance(&huge, &huge), None);
        assert_eq!(edit_distance(&huge, "status"), None);
        assert!(nearest(&huge, ["status", &huge]).is_empty());
        let huge_accented = "é".repeat(200_000);
        assert!(nearest(&huge_accented, ["status"]).is_empty());
        // A long candidate is never suggested, a short one still is.
        assert_eq!(nearest("staus", [past.as_str(), "status"]), ["status"]);
    }
}
