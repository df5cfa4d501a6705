//! Property tests: the parser never panics on any input, its error spans stay within the
//! input, every error has a hint, and whatever parses prints back to itself and survives
//! the JSON form. The binder and evaluator never panic on what parses; nor does the JSON
//! form on any JSON.

use proptest::prelude::*;
use rapport_query::{explain, matches, parse, print, resolve, search, Query, QueryError};
use serde_json::{json, Value};

use crate::fixture::{context, leads};

/// Pieces of the language, so random strings are mostly near-queries, plus any text.
fn fragment() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        " ",
        " ",
        " ",
        "(",
        ")",
        "\"",
        "\\",
        ":",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "!",
        "-",
        "*",
        "and",
        "or",
        "not",
        "AND",
        "status",
        "cold",
        "name",
        "acme",
        "jo",
        "calls",
        "3",
        "-1",
        "12.5",
        "sort",
        "in",
        "has",
        "email",
        "phone",
        "415",
        "contact",
        "call",
        "opportunity",
        "task",
        "never",
        "today",
        "\"3 days ago\"",
        "created",
        "last_called",
        "custom.tags",
        "vip",
        "é",
        "ß",
        "İ",
        "&",
        "v_cold",
        "\"this week\"",
        "2024-05",
        "value",
        "status_type",
        "won",
        "done",
        "yes",
    ]);
    prop_oneof![
        8 => pieces.prop_map(str::to_string),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ]
}

/// Fragments joined mostly by spaces, sometimes touching.
fn query_text() -> impl Strategy<Value = String> {
    let separator = prop_oneof![3 => Just(" "), 1 => Just("")];
    prop::collection::vec((fragment(), separator), 0..16).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(fragment, separator)| fragment + separator)
            .collect()
    })
}

/// Well-formed queries from known fields and values, nested with `and`, `or`, `-` and
/// related clauses, so the binder and evaluator are exercised beyond syntax errors.
fn structured_query() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "status",
        "name",
        "calls",
        "email",
        "phone",
        "created",
        "last_called",
        "custom.tags",
        "custom.employees",
        "opportunity_value",
        "task_due",
        "has",
        "id",
        "url",
        "city",
        "emails",
    ]);
    let op = prop::sample::select(vec![":", " : ", "=", "!=", "<", "<=", " > ", ">="]);
    let value = prop::sample::select(vec![
        "cold",
        "warm",
        "acme",
        "3",
        "-1",
        "12.5",
        "*",
        "never",
        "today",
        "\"3 days ago\"",
        "2024-05",
        "vip",
        "415",
        "email",
        "calls",
        "\"new york\"",
        "lead_01",
        "yesterday",
        "\"last week\"",
    ]);
    let word = prop::sample::select(vec!["acme", "jo", "\"new york\"", "pricing", "é", "415"]);
    let leaf = prop_oneof![
        3 => (field, op, value).prop_map(|(f, o, v)| format!("{f}{o}{v}")),
        1 => word.prop_map(str::to_string),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let kind = prop::sample::select(vec!["contact", "call", "email", "opportunity", "task", "note"]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|parts| parts.join(" ")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|parts| parts.join(" or ")),
            inner.clone().prop_map(|q| format!("-({q})")),
            inner.clone().prop_map(|q| format!("not {q}")),
            (kind, inner).prop_map(|(k, q)| format!("{k}({q})")),
        ]
    })
}

/// JSON bodies near the §7 shapes: known and unknown node types and keys, values of the
/// right and the wrong JSON type, nested.
fn json_body() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..100).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "a",
            "&",
            "acme",
            "new york",
            "status",
            "cold",
            "in",
            "sort",
            "has",
            "calls",
            ":",
            "<",
            "~",
            "and",
            "or",
            "not",
            "text",
            "field",
            "related",
            "saved_search",
            "call",
            "contact",
            "xor",
            "-name",
            "asc",
            "desc",
            "custom.tags",
            "created",
            "3 days ago",
            "v_cold",
            "Cold Leads",
            "staus",
        ])
        .prop_map(Value::from),
    ];
    let key = prop::sample::select(vec![
        "type",
        "type",
        "type",
        "queries",
        "query",
        "value",
        "phrase",
        "field",
        "op",
        "object_type",
        "id",
        "direction",
        "boost",
    ]);
    scalar.prop_recursive(6, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|entries| { Value::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
        ]
    })
}

fn on_char_boundaries(input: &str, span: (usize, usize)) -> bool {
    span.0 <= span.1 && span.1 <= input.len() && input.is_char_boundary(span.0) && input.is_char_boundary(span.1)
}

/// The error points inside the input, and says what to do about it.
fn well_formed(input: &str, e: &QueryError) -> bool {
    on_char_boundaries(input, e.span)
        && !e.hint.trim().is_empty()
        && e.to_json().get("hint").and_then(Value::as_str) == Some(e.hint.as_str())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_never_panics_and_spans_stay_inside(input in query_text()) {
        match parse(&input) {
            Err(e) => prop_assert!(well_formed(&input, &e), "{:?} for {:?}", e, input),
            Ok(query) => {
                let printed = print(&query);
                prop_assert_eq!(parse(&printed), Ok(query.clone()), "printed {:?} from {:?}", printed, input);
                prop_assert_eq!(Query::from_json(&query.to_json()), Ok(query.clone()), "JSON of {:?}", input);
                match resolve(&query, &context()) {
                    Err(e) => prop_assert!(well_formed(&input, &e), "{:?} for {:?}", e, input),
                    Ok(resolved) => {
                        for lead in leads() {
                            matches(&resolved, &lead);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn structured_queries_round_trip_and_evaluate(input in structured_query()) {
        let leads = leads();
        match parse(&input) {
            Err(e) => prop_assert!(well_formed(&input, &e), "{:?} for {:?}", e, input),
            Ok(query) => {
                prop_assert_eq!(parse(&print(&query)), Ok(query.clone()));
                prop_assert_eq!(Query::from_json(&query.to_json()), Ok(query.clone()));
                let resolved = resolve(&query, &context());
                if let Err(e) = &resolved {
                    prop_assert!(well_formed(&input, e), "{:?} for {:?}", e, input);
                }
                if let Ok(resolved) = resolved {
                    let found = search(&resolved, &leads);
                    // `-(q)` accepts exactly the leads `q` rejects.
                    let negated = resolve(&parse(&format!("-({input})")).unwrap(), &context()).unwrap();
                    for lead in &leads {
                        prop_assert_ne!(matches(&resolved, lead), matches(&negated, lead));
                    }
                    prop_assert!(found.iter().all(|lead| matches(&resolved, lead)));
                    let _ = explain(&resolved);
                }
            }
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(input in any::<String>()) {
        match parse(&input) {
            Err(e) => prop_assert!(well_formed(&input, &e), "{:?} for {:?}", e, input),
            Ok(query) => {
                prop_assert_eq!(parse(&print(&query)), Ok(query.clone()));
                prop_assert_eq!(Query::from_json(&query.to_json()), Ok(query.clone()));
            }
        }
    }

    #[test]
    fn json_bodies_are_read_or_refused_with_a_hint(node in json_body(), sort in json_body()) {
        for body in [json!({ "query": node, "sort": sort }), json!({ "query": node }), node.clone()] {
            match Query::from_json(&body) {
                Err(e) => {
                    prop_assert_eq!(e.span, (0, 0));
                    prop_assert!(well_formed("", &e), "{:?} for {}", e, body);
                }
                Ok(query) => {
                    let printed = print(&query);
                    prop_assert_eq!(parse(&printed), Ok(query.clone()), "printed from {}", body);
                    if let Err(e) = resolve(&query, &context()) {
                        prop_assert!(!e.hint.trim().is_empty(), "{:?} for {}", e, body);
                    }
                }
            }
        }
    }
}
