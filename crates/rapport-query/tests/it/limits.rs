//! The bounds on one query (security issue #16): each limit takes a query at the limit and
//! refuses one past it, with a span on what is past it and a hint naming the limit.

use rapport_query::{
    parse, resolve, Query, QueryError, SavedView, SearchContext, MAX_CLAUSES, MAX_DEPTH, MAX_EXPANDED_DEPTH,
    MAX_QUERY_CHARS, MAX_TERMS, MAX_VALUE_CHARS, MAX_WORD_BYTES,
};
use serde_json::{json, Value};

use crate::errors::assert_has_hint;
use crate::fixture::context;

#[track_caller]
fn accepted(input: &str) {
    accepted_in(input, &context());
}

#[track_caller]
fn accepted_in(input: &str, ctx: &SearchContext) {
    let query = parse(input).unwrap_or_else(|e| panic!("refused: {e:?}"));
    resolve(&query, ctx).unwrap_or_else(|e| panic!("not resolved: {e:?}"));
}

#[track_caller]
fn refused(input: &str) -> QueryError {
    let e = parse(input).expect_err("should be refused");
    assert!(e.span.0 <= e.span.1 && e.span.1 <= input.len(), "span {:?}", e.span);
    assert_has_hint(&e, "a query past a limit");
    e
}

/// The span of the `n`-th (from 0) occurrence of `needle` in `haystack`.
fn nth_span(haystack: &str, needle: &str, n: usize) -> (usize, usize) {
    let start = haystack.match_indices(needle).nth(n).expect("present").0;
    (start, start + needle.len())
}

fn from_json(node: Value) -> Result<Query, QueryError> {
    Query::from_json(&json!({ "query": node }))
}

fn text(value: &str) -> Value {
    json!({"type": "text", "value": value, "phrase": false})
}

#[test]
fn the_query_string_is_at_most_10000_characters() {
    assert_eq!(MAX_QUERY_CHARS, 10_000);
    // Characters, not bytes: `é` is two bytes.
    let at_limit = format!("café{}", " ".repeat(MAX_QUERY_CHARS - 4));
    assert_eq!(at_limit.chars().count(), MAX_QUERY_CHARS);
    accepted(&at_limit);
    let past = format!("{at_limit} x");
    let e = refused(&past);
    assert_eq!(e.message, "the query is longer than 10000 characters");
    assert_eq!(e.span, (at_limit.len(), past.len()));
    assert!(e.hint.contains("at most 10000 characters"), "{}", e.hint);
}

#[test]
fn a_word_or_value_is_at_most_256_characters() {
    assert_eq!(MAX_VALUE_CHARS, 256);
    let word = "a".repeat(MAX_VALUE_CHARS);
    let long = "a".repeat(MAX_VALUE_CHARS + 1);
    for at_limit in [
        format!("x {word}"),
        format!("x \"{word}\""),
        format!("x name:{word}"),
        format!("x -{word}"),
    ] {
        accepted(&at_limit);
    }
    let preview = format!("`{}…` is longer than 256 characters", "a".repeat(20));
    for (past, span) in [
        (format!("x {long}"), (2, 2 + long.len())),
        (format!("x \"{long}\""), (2, 4 + long.len())),
        (format!("x name:{long}"), (7, 7 + long.len())),
        (format!("x {long}:y"), (2, 2 + long.len())),
        (format!("x in:{long}"), (2, 5 + long.len())),
        (format!("x sort:{long}"), (7, 7 + long.len())),
        (format!("x call({long})"), (7, 7 + long.len())),
    ] {
        let e = refused(&past);
        assert_eq!((e.message.as_str(), e.span), (preview.as_str(), span), "{past}");
        assert_eq!(
            e.hint,
            "a word, phrase or value has at most 256 characters: search for a part of it"
        );
    }
    // Characters, not bytes.
    accepted(&"é".repeat(MAX_VALUE_CHARS));
    refused(&"é".repeat(MAX_VALUE_CHARS + 1));
    // The review's word of about a thousand characters, which the index's automaton
    // cannot hold, so that it matched nothing without a word.
    let thousand = "x".repeat(1_000);
    assert!(refused(&thousand).message.ends_with("is longer than 256 characters"));
    // The JSON form, with no span to give.
    from_json(text(&word)).unwrap();
    let e = from_json(text(&long)).unwrap_err();
    assert_eq!((e.message.as_str(), e.span), (preview.as_str(), (0, 0)));
    let e = from_json(json!({"type": "field", "field": "name", "op": ":", "value": long})).unwrap_err();
    assert_eq!(e.message, preview);
}

#[test]
fn a_folded_word_is_at_most_768_bytes() {
    assert_eq!(MAX_WORD_BYTES, 768);
    // 256 letters of three bytes: the longest word of the common scripts.
    accepted(&"中".repeat(MAX_VALUE_CHARS));
    // 193 letters of four bytes are 772 bytes, within 256 characters.
    let wide = "𠀀".repeat(MAX_WORD_BYTES / 4 + 1);
    let e = refused(&format!("x {wide}"));
    assert_eq!(
        e.message,
        format!("the word `{}…` is too long to search for", "𠀀".repeat(20))
    );
    assert_eq!(e.span, (2, 2 + wide.len()));
    assert!(e.hint.contains("at most 768 bytes"), "{}", e.hint);
    accepted(&"𠀀".repeat(MAX_WORD_BYTES / 4));
    // A character that folds into several: `㌀` is `アパート`, 12 bytes.
    let e = refused(&format!("name:{}", "㌀".repeat(65)));
    assert!(e.message.ends_with("is too long to search for"), "{}", e.message);
    accepted(&format!("name:{}", "㌀".repeat(64)));
}

#[test]
fn a_query_has_at_most_200_clauses() {
    assert_eq!(MAX_CLAUSES, 200);
    let words = |n: usize, sep: &str| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(sep);
    for sep in [" ", " or ", " and "] {
        accepted(&words(MAX_CLAUSES, sep));
        let past = words(MAX_CLAUSES + 1, sep);
        let e = refused(&past);
        assert_eq!(e.message, "the query has more than 200 clauses");
        // The first clause past the limit, `w200`.
        assert_eq!(e.span, nth_span(&past, "w200", 0));
        assert!(e.hint.contains("at most 200 clauses"), "{}", e.hint);
    }
    // A related clause counts, and so do the clauses inside it; `sort:` does not.
    let related = format!("{} call(a) sort:name", words(MAX_CLAUSES - 2, " "));
    accepted(&related);
    let past = format!("{} call(a b)", words(MAX_CLAUSES - 2, " "));
    assert_eq!(refused(&past).span, nth_span(&past, "b", 0));
    // Field clauses, `has:` and `in:` count alike.
    let fields = vec!["status:cold"; MAX_CLAUSES].join(" or ");
    accepted(&fields);
    let past = format!("{fields} or has:email");
    assert_eq!(refused(&past).span, nth_span(&past, "has:email", 0));
}

#[test]
fn the_json_form_has_the_same_clause_limit() {
    let or = |n: usize| json!({"type": "or", "queries": (0..n).map(|i| text(&format!("w{i}"))).collect::<Vec<_>>()});
    from_json(or(MAX_CLAUSES)).unwrap();
    let e = from_json(or(MAX_CLAUSES + 1)).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.span),
        ("the query has more than 200 clauses", (0, 0))
    );
    // The review's query: 20,000 words in one `or`, refused before anything runs.
    let e = from_json(or(20_000)).unwrap_err();
    assert_eq!(e.message, "the query has more than 200 clauses");
    assert!(e.hint.contains("at most 200 clauses"), "{}", e.hint);
}

#[test]
fn the_json_form_prints_within_the_string_limit() {
    // 39 values of 256 characters are within the clause limit but print longer than
    // 10,000 characters, which the string form would refuse.
    let value = "a".repeat(MAX_VALUE_CHARS);
    let and = |n: usize| json!({"type": "and", "queries": vec![text(&value); n]});
    let fits = MAX_QUERY_CHARS / (MAX_VALUE_CHARS + 1);
    let query = from_json(and(fits)).unwrap();
    assert_eq!(parse(&rapport_query::print(&query)).unwrap(), query);
    let e = from_json(and(fits + 1)).unwrap_err();
    assert_eq!(
        e.message,
        "the query is longer than 10000 characters written as a query string"
    );
}

#[test]
fn a_query_has_at_most_1000_words_to_search_for() {
    assert_eq!(MAX_TERMS, 1_000);
    // Phrases of 125 one-letter words (249 characters each): eight of them are 1,000.
    let phrase = format!("\"{}\"", vec!["x"; 125].join(" "));
    let eight = [phrase.as_str(); 8].join(" ");
    accepted(&eight);
    let past = format!("{eight} last");
    let e = refused(&past);
    assert_eq!(e.message, "the query has more than 1000 words to search for");
    assert_eq!(e.span, nth_span(&past, "last", 0));
    assert!(e.hint.contains("at most 1000 words"), "{}", e.hint);
    let value_words = format!("{eight} name:\"a b\"");
    assert_eq!(refused(&value_words).span, nth_span(&value_words, "\"a b\"", 0));
}

#[test]
fn smart_views_count_in_the_query_that_includes_them() {
    let mut ctx = context();
    let half = (0..MAX_CLAUSES / 2 - 1)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    ctx.saved_views.push(SavedView {
        id: "v_half".into(),
        name: "Half".into(),
        query: half,
    });
    // `in:` is a clause, and so is each of the view's: 2 × (1 + 99) = 200.
    accepted_in("in:v_half in:v_half", &ctx);
    let past = "in:v_half in:v_half x";
    let e = resolve(&parse(past).unwrap(), &ctx).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.span),
        ("the query has more than 200 clauses", (20, 21))
    );
    // Past the limit inside a view: the error points at the `in:` that brought it.
    let past = "x in:v_half in:v_half";
    let e = resolve(&parse(past).unwrap(), &ctx).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.span),
        (
            "the Smart View `Half` cannot be used: the query has more than 200 clauses",
            (12, 21)
        )
    );
    assert!(e.hint.contains("at most 200 clauses"), "{}", e.hint);
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    for deep in [
        "(".repeat(MAX_QUERY_CHARS),
        format!("{}a", "-".repeat(MAX_QUERY_CHARS - 1)),
        "not ".repeat(MAX_QUERY_CHARS / 4),
        "call(".repeat(MAX_QUERY_CHARS / 5),
        format!(
            "{}a{}",
            "(".repeat(MAX_QUERY_CHARS / 2 - 1),
            ")".repeat(MAX_QUERY_CHARS / 2 - 1)
        ),
    ] {
        let e = refused(&deep);
        assert!(
            e.message.contains("nests more than 32 levels deep") || e.message.contains("cannot stand inside"),
            "{}",
            e.message
        );
    }
    let at_limit = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    accepted(&at_limit);
}

#[test]
fn smart_views_that_include_smart_views_nest_within_a_bound() {
    // Each view is 32 `not`s deep and includes the next: 64 of them would be a tree of
    // two thousand levels, which the binder, evaluator and index would recurse over.
    let mut ctx = context();
    for i in 0..64 {
        ctx.saved_views.push(SavedView {
            id: format!("v_n{i}"),
            name: format!("Nested {i}"),
            query: format!("{}in:v_n{}", "not ".repeat(MAX_DEPTH - 1), i + 1),
        });
    }
    ctx.saved_views.push(SavedView {
        id: "v_n64".into(),
        name: "Nested 64".into(),
        query: "acme".into(),
    });
    let e = resolve(&parse("in:v_n0").unwrap(), &ctx).unwrap_err();
    assert!(
        e.message
            .ends_with("the query nests more than 128 levels deep with its Smart Views expanded"),
        "{}",
        e.message
    );
    assert_eq!(e.span, (0, 7));
    assert_has_hint(&e, "in:v_n0");
    // Three views of 32 levels (and their `in:`s) are within it.
    accepted_in("in:v_n61", &ctx);
    // The deepest query string, three levels of the tree per group, is within it.
    let deepest = (0..MAX_DEPTH).fold("a".to_string(), |inner, i| format!("(x{i} {inner} or b{i})"));
    accepted(&deepest);
    const { assert!(MAX_EXPANDED_DEPTH > 3 * MAX_DEPTH + 3) };
}
