//! Printing and the JSON form: `parse(print(q)) == q`, and the JSON of §7 reads back to
//! the same tree.

use rapport_query::{parse, print, Query};
use serde_json::json;

use crate::errors::assert_has_hint;
use crate::parse::sexp;

/// Parses, prints (the printed form must be `expect`), and parses again to the same tree;
/// the JSON form must give the same tree too.
#[track_caller]
fn check(input: &str, expect: &str) {
    let query = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let printed = print(&query);
    assert_eq!(printed, expect, "printing {input:?}");
    let reparsed = parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(reparsed, query, "{} vs {}", sexp(&reparsed), sexp(&query));
    let from_json = Query::from_json(&query.to_json()).unwrap_or_else(|e| panic!("{}: {e}", query.to_json()));
    assert_eq!(from_json, query, "JSON of {input:?}");
}

#[test]
fn prints_canonical_strings_that_parse_back() {
    check("", "");
    check("john", "john");
    check("  john   smith ", "john smith");
    check("a AND b", "a b");
    check(r#""new york""#, r#""new york""#);
    check(r#""say \"hi\" \\""#, r#""say \"hi\" \\""#);
    check("status : cold", "status:cold");
    check(r#""custom.Lead Source":web"#, r#""custom.Lead Source":web"#);
    check(r#"name:"acme""#, r#"name:"acme""#);
    check(r#"last_called > "2 weeks ago""#, r#"last_called>"2 weeks ago""#);
    check("calls > -1", "calls>-1");
    check("a b or c", "a b or c");
    check("(a b) or c", "a b or c");
    check("a (b or c)", "a (b or c)");
    check("a (b c)", "a (b c)");
    check("a or (b or c)", "a or (b or c)");
    check("not a", "-a");
    check("not not a", "not -a");
    check("-(a b)", "-(a b)");
    check("-(a or b) c", "-(a or b) c");
    check(r#"-"new york""#, r#"-"new york""#);
    check("contact(name:john title:ceo)", "contact(name:john title:ceo)");
    check(
        "CALL(duration > 60 or direction:inbound)",
        "call(duration>60 or direction:inbound)",
    );
    check("-contact(a)", "-contact(a)");
    check(r#"in:"Cold Leads" in:v_1"#, r#"in:"Cold Leads" in:v_1"#);
    check("sort:-created a sort:name", "a sort:-created sort:name");
    check(r#"sort:"-custom.Lead Source""#, r#"sort:"-custom.Lead Source""#);
    check(r#"email:* email:"*""#, r#"email:* email:"*""#);
    check("name:not", "name:not");
    check(r#""not""#, r#""not""#);
    check(r#""-x":y"#, r#""-x":y"#);
    check(r#""and":y"#, r#""and":y"#);
    check("jean-pierre", "jean-pierre");
    check("contact (a b)", "contact (a b)");
}

#[test]
fn json_has_the_shape_of_section_7() {
    let query = parse(r#"status:cold -"new york" call(duration > 60) in:v_1 sort:-created"#).unwrap();
    assert_eq!(
        query.to_json(),
        json!({
            "query": {"type": "and", "queries": [
                {"type": "field", "field": "status", "op": ":", "value": "cold"},
                {"type": "not", "query": {"type": "text", "value": "new york", "phrase": true}},
                {"type": "related", "object_type": "call", "query":
                    {"type": "field", "field": "duration", "op": ">", "value": "60"}},
                {"type": "saved_search", "id": "v_1"},
            ]},
            "sort": [{"field": "created", "direction": "desc"}],
        })
    );
    let quoted = parse(r#"name:"acme" a or b"#).unwrap();
    assert_eq!(
        quoted.to_json(),
        json!({"query": {"type": "or", "queries": [
            {"type": "and", "queries": [
                {"type": "field", "field": "name", "op": ":", "value": "acme", "phrase": true},
                {"type": "text", "value": "a", "phrase": false},
            ]},
            {"type": "text", "value": "b", "phrase": false},
        ]}, "sort": []})
    );
}

/// JSON that no string parses to is brought to the parser's form, or refused.
#[track_caller]
fn check_json(body: serde_json::Value, expect: &str) {
    let got = match Query::from_json(&body) {
        Ok(q) => {
            assert_eq!(parse(&print(&q)).as_ref(), Ok(&q), "round trip of {body}");
            print(&q)
        }
        Err(e) => {
            assert_has_hint(&e, &body.to_string());
            assert_eq!(e.span, (0, 0), "for {body}");
            format!("error: {}", e.message)
        }
    };
    assert_eq!(got, expect, "for {body}");
}

#[test]
fn json_is_normalized_or_refused() {
    check_json(json!({}), "");
    check_json(json!({"query": null, "_limit": 10}), "");
    check_json(
        json!({"query": {"type": "and", "queries": [{"type": "text", "value": "a", "phrase": false}]}}),
        "a",
    );
    check_json(
        json!({"query": {"type": "text", "value": "new york", "phrase": false}}),
        r#""new york""#,
    );
    check_json(
        json!({"query": {"type": "text", "value": "-x", "phrase": false}}),
        r#""-x""#,
    );
    check_json(
        json!({"query": {"type": "text", "value": "or", "phrase": false}}),
        r#""or""#,
    );
    check_json(
        json!({"query": {"type": "field", "field": "created", "op": "<", "value": "3 days ago"}}),
        r#"created<"3 days ago""#,
    );
    check_json(
        json!({"query": {"type": "field", "field": "in", "op": ":", "value": "My View"}}),
        r#"in:"My View""#,
    );
    check_json(
        json!({"query": {"type": "and", "queries": [{"type": "and", "queries": [
            {"type": "text", "value": "a", "phrase": false}, {"type": "text", "value": "b", "phrase": false}]},
            {"type": "text", "value": "c", "phrase": false}]}}),
        "(a b) c",
    );
    check_json(json!({"sort": [{"field": "name", "direction": "desc"}]}), "sort:-name");
    check_json(
        json!({"query": {"type": "or", "queries": []}}),
        "error: an `and` or `or` node needs at least one query",
    );
    check_json(
        json!({"query": {"type": "text", "value": "&", "phrase": true}}),
        "error: the text `&` has no letter or digit to search for",
    );
    check_json(
        json!({"query": {"type": "related", "object_type": "call", "query": {"type": "and", "queries": []}}}),
        "error: `call()` needs at least one condition inside",
    );
    check_json(
        json!({"query": {"type": "field", "field": "sort", "op": ":", "value": "name"}}),
        "error: `sort` is not a filter",
    );
    check_json(
        json!({"query": {"type": "related", "object_type": "contact", "query":
            {"type": "not", "query": {"type": "related", "object_type": "call", "query":
                {"type": "text", "value": "x", "phrase": false}}}}}),
        "error: a related clause cannot stand inside `contact(`",
    );
    check_json(
        json!({"sort": [{"field": "-name", "direction": "asc"}]}),
        "error: `-name` is not a field to sort on",
    );
    check_json(json!([]), "error: a search body must be a JSON object");
    let bad_type = Query::from_json(&json!({"query": {"type": "xor", "queries": []}})).unwrap_err();
    assert!(
        bad_type
            .message
            .starts_with("`query` is not a valid query node: unknown variant `xor`"),
        "{}",
        bad_type.message
    );
    let extra_key = Query::from_json(&json!({"query": {"type": "text", "value": "a", "phrase": false, "boost": 2}}));
    assert!(extra_key.unwrap_err().message.contains("unknown field `boost`"));
    let bad_op = Query::from_json(&json!({"query": {"type": "field", "field": "a", "op": "~", "value": "b"}}));
    assert!(bad_op.unwrap_err().message.contains("unknown variant `~`"));
}

/// The JSON form's errors say what to send instead.
#[test]
fn json_errors_have_hints() {
    let hint = |body: serde_json::Value| {
        let e = Query::from_json(&body).unwrap_err();
        assert_has_hint(&e, &body.to_string());
        e.hint
    };
    assert_eq!(
        hint(json!([])),
        r#"send an object such as {"query": {"type": "text", "value": "acme"}, "sort": []}"#
    );
    assert!(hint(json!({"query": {"type": "xor"}})).starts_with(r#"a node has a "type" of and, or, not, text"#));
    assert!(
        hint(json!({"query": {"type": "or", "queries": []}})).starts_with(r#"list at least one node in its "queries""#)
    );
    assert_eq!(
        hint(json!({"query": {"type": "field", "field": "", "op": ":", "value": "x"}})),
        r#"name the field in "field": {"type": "field", "field": "status", "op": ":", "value": "Cold"}"#
    );
    assert_eq!(
        hint(json!({"query": {"type": "related", "object_type": "call", "query": {"type": "and", "queries": []}}})),
        r#"give its "query" a condition on the call, as the query string `call(duration > 60)` does"#
    );
    assert_eq!(
        hint(json!({"query": {"type": "saved_search", "id": ""}})),
        r#"give the Smart View's id or name: {"type": "saved_search", "id": "Hot leads"}"#
    );
    assert_eq!(
        hint(json!({"query": {"type": "text", "value": "&", "phrase": true}})),
        r#"search for words: letters or digits, e.g. {"type": "text", "value": "acme"}"#
    );
}

#[test]
fn json_nesting_is_capped() {
    let mut node = json!({"type": "text", "value": "a", "phrase": false});
    for _ in 0..40 {
        node = json!({"type": "not", "query": node});
    }
    let e = Query::from_json(&json!({ "query": node })).unwrap_err();
    assert_eq!(e.message, "the query nests more than 32 levels deep");
    assert_eq!(e.span, (0, 0));
    assert_eq!(
        e.hint,
        "flatten the tree: merge nested `and`s and `or`s, and remove some `not` or related nodes"
    );
}

/// The JSON of the deepest query strings is accepted: the JSON form limits nesting as the
/// parser counts it (parentheses, `not`s, related clauses), not the depth of the tree.
#[test]
fn json_accepts_whatever_the_parser_accepts() {
    let groups = (0..32).fold("a".to_string(), |inner, i| format!("({inner} b{i})")) + " z";
    let groups_with_or = (0..31).fold("a".to_string(), |inner, i| format!("(x {inner} or b{i})"));
    let related = format!("call({groups_with_or}) z or y");
    let nots = format!("{}a", "-".repeat(32));
    for input in [groups, related, nots] {
        let query = parse(&input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(Query::from_json(&query.to_json()), Ok(query.clone()), "{input:?}");
        assert_eq!(parse(&print(&query)), Ok(query));
    }
    let mut node = json!({"type": "text", "value": "a", "phrase": false});
    for depth in 1..=33 {
        node = json!({"type": "not", "query": node});
        let result = Query::from_json(&json!({ "query": node }));
        assert_eq!(result.is_ok(), depth <= 32, "{depth} nots");
    }
}
