//! The string form: every clause form, precedence, negation and `sort:` placement.
//! Trees are shown as compact S-expressions: `(and [status : cold] jo "new york")`.

use rapport_query::{parse, Direction, Node, Query};

pub fn sexp(query: &Query) -> String {
    let mut out = node(&query.query);
    for key in &query.sort {
        let dir = match key.direction {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        };
        out.push_str(&format!(" sort({} {dir})", key.field));
    }
    out
}

fn node(n: &Node) -> String {
    let quote = |s: &str, phrase: bool| if phrase { format!("{s:?}") } else { s.to_string() };
    match n {
        Node::And { queries, .. } if queries.is_empty() => "(all)".into(),
        Node::And { queries, .. } => format!("(and {})", queries.iter().map(node).collect::<Vec<_>>().join(" ")),
        Node::Or { queries, .. } => format!("(or {})", queries.iter().map(node).collect::<Vec<_>>().join(" ")),
        Node::Not { query, .. } => format!("(not {})", node(query)),
        Node::Text { value, phrase, .. } => quote(value, *phrase),
        Node::Field {
            field,
            op,
            value,
            phrase,
            ..
        } => format!("[{field} {op} {}]", quote(value, *phrase)),
        Node::Related { object_type, query, .. } => format!("({} {})", object_type.name(), node(query)),
        Node::SavedSearch { id, .. } => format!("(in {id})"),
    }
}

#[track_caller]
fn check(input: &str, expect: &str) {
    match parse(input) {
        Ok(query) => assert_eq!(sexp(&query), expect, "parsing {input:?}"),
        Err(e) => panic!("parsing {input:?} failed: {e} at {:?}", e.span),
    }
}

#[test]
fn free_text() {
    check("", "(all)");
    check("   ", "(all)");
    check("john", "john");
    check("john smith", "(and john smith)");
    check(r#""new york""#, r#""new york""#);
    check(r#""say \"hi\" \\ now""#, r#""say \"hi\" \\ now""#);
    check("acme.com", "acme.com");
    check("jean-pierre", "jean-pierre");
    check("Éric", "Éric");
    check("contact", "contact");
    check("contact (a b)", "(and contact (and a b))");
}

#[test]
fn field_clauses() {
    check("status:cold", "[status : cold]");
    check("Status:Cold", "[Status : Cold]");
    check("created_by : justin", "[created_by : justin]");
    check("calls>3", "[calls > 3]");
    check("calls > 3", "[calls > 3]");
    check(
        "calls >= 3 calls<=5 calls<2 calls=1 calls != 0",
        "(and [calls >= 3] [calls <= 5] [calls < 2] [calls = 1] [calls != 0])",
    );
    check("calls > -1", "[calls > -1]");
    check(r#""custom.Lead Source":web"#, "[custom.Lead Source : web]");
    check(r#"name:"acme corp""#, r#"[name : "acme corp"]"#);
    check(r#"email_opened < "3 days ago""#, r#"[email_opened < "3 days ago"]"#);
    check("email:*", "[email : *]");
    check(r#"email:"*""#, r#"[email : "*"]"#);
    check("has:email", "[has : email]");
    check("called:never", "[called : never]");
    check("name:not", "[name : not]");
    check("status:cold(x)", "(and [status : cold] x)");
}

#[test]
fn boolean_structure_and_precedence() {
    check("a and b", "(and a b)");
    check("a AND b c", "(and a b c)");
    check("a or b", "(or a b)");
    check("a b or c", "(or (and a b) c)");
    check("a or b c", "(or a (and b c))");
    check("a or b or c", "(or a b c)");
    check("not a b", "(and (not a) b)");
    check("not a or b", "(or (not a) b)");
    check("NOT not a", "(not (not a))");
    check("(a or b) c", "(and (or a b) c)");
    check("a (b c)", "(and a (and b c))");
    check("((a))", "a");
    check("a or (b or c)", "(or a (or b c))");
    check("not(a b)", "(not (and a b))");
}

#[test]
fn negation_sign() {
    check("-status:lost", "(not [status : lost])");
    check(r#"-"new york""#, r#"(not "new york")"#);
    check("-(a or b)", "(not (or a b))");
    check("-contact(name:john)", "(not (contact [name : john]))");
    check("--a", "(not (not a))");
    check("-not a", "(not (not a))");
    check("a -b", "(and a (not b))");
    check("jean-pierre -pierre", "(and jean-pierre (not pierre))");
    check("-5", "(not 5)");
}

#[test]
fn related_clauses() {
    check("contact(name:john)", "(contact [name : john])");
    check(
        "Contact(name:john title:ceo)",
        "(contact (and [name : john] [title : ceo]))",
    );
    check(
        "opportunity(status:won value > 1000)",
        "(opportunity (and [status : won] [value > 1000]))",
    );
    check(
        "call(duration > 60 or direction:inbound)",
        "(call (or [duration > 60] [direction : inbound]))",
    );
    check("note(pricing)", "(note pricing)");
    for kind in [
        "contact",
        "call",
        "email",
        "note",
        "sms",
        "meeting",
        "chat",
        "opportunity",
        "task",
    ] {
        check(&format!("{kind}(x)"), &format!("({kind} x)"));
    }
    check(
        "email(opened:never) emails > 2",
        "(and (email [opened : never]) [emails > 2])",
    );
}

#[test]
fn saved_views() {
    check(r#"in:"Smart View name""#, "(in Smart View name)");
    check("in:view_1 john", "(and (in view_1) john)");
    check(r#""IN":x"#, "(in x)");
}

#[test]
fn sort_placement() {
    check("sort:name", "(all) sort(name asc)");
    check("sort:-name", "(all) sort(name desc)");
    check(
        "status:cold sort:-created sort:name",
        "[status : cold] sort(created desc) sort(name asc)",
    );
    check("sort:name status:cold", "[status : cold] sort(name asc)");
    check("a or b sort:name", "(or a b) sort(name asc)");
    check("sort:name and a", "a sort(name asc)");
    check(r#"sort:"-custom.Lead Source""#, "(all) sort(custom.Lead Source desc)");
    check("SORT:Name", "(all) sort(Name asc)");
}

#[test]
fn nesting_up_to_the_limit_is_fine() {
    let deep = format!("{}a{}", "(".repeat(32), ")".repeat(32));
    check(&deep, "a");
    let nots = format!("{}a", "-".repeat(32));
    assert!(parse(&nots).is_ok());
}

#[test]
fn saved_search_refs_lists_every_in_clause_as_written() {
    let refs = |input: &str| -> Vec<String> {
        let query = parse(input).unwrap();
        query.saved_search_refs().into_iter().map(String::from).collect()
    };
    assert!(refs("").is_empty());
    assert!(refs("status:cold inbox:x \"in:y\" sort:name").is_empty());
    assert_eq!(
        refs(r#"in:v_cold (a or -in:"Big Deals") not (b IN:x) in:v_cold sort:-name"#),
        ["v_cold", "Big Deals", "x", "v_cold"]
    );
    // Inside a related clause it is an error for the binder, but still a reference.
    assert_eq!(refs("call(in:v_a) or in:v_b"), ["v_a", "v_b"]);
    let json = serde_json::json!({"query": {"type": "or", "queries": [
        {"type": "saved_search", "id": "v_1"},
        {"type": "not", "query": {"type": "field", "field": "in", "op": ":", "value": "Cold Leads"}},
    ]}});
    let query = Query::from_json(&json).unwrap();
    assert_eq!(query.saved_search_refs(), ["v_1", "Cold Leads"]);
    assert_eq!(query.query.saved_search_refs(), ["v_1", "Cold Leads"]);
}
