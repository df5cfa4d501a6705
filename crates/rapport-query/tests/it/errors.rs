//! Every error of §6 and §9: message, span (`start..end` bytes) and hint.

use rapport_query::{parse, resolve, Query, QueryError, SavedView, SearchContext};

use crate::fixture::context;

fn error_with(input: &str, ctx: &SearchContext) -> QueryError {
    let result = parse(input).and_then(|q| resolve(&q, ctx).map(|_| ()));
    let Err(e) = result else {
        panic!("{input:?} should fail");
    };
    assert!(
        e.span.0 <= e.span.1 && e.span.1 <= input.len(),
        "span {:?} out of {input:?}",
        e.span
    );
    assert_has_hint(&e, input);
    e
}

/// Every error says what to do about it, and its JSON always has the three keys.
#[track_caller]
pub(crate) fn assert_has_hint(e: &QueryError, input: &str) {
    assert!(!e.hint.trim().is_empty(), "no hint for {:?} from {input:?}", e.message);
    assert_ne!(e.hint, e.message, "the hint of {input:?} only repeats the message");
    let json = e.to_json();
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["error", "span", "hint"], "JSON of {input:?}");
    assert_eq!(json["hint"].as_str(), Some(e.hint.as_str()), "JSON of {input:?}");
}

/// `expect` is `start..end message`.
#[track_caller]
fn check(input: &str, expect: &str) {
    let e = error_with(input, &context());
    assert_eq!(
        format!("{}..{} {}", e.span.0, e.span.1, e.message),
        expect,
        "for {input:?}"
    );
}

#[track_caller]
fn check_hint(input: &str, hint: &str) {
    check_hint_with(input, &context(), hint);
}

#[track_caller]
fn check_hint_with(input: &str, ctx: &SearchContext, hint: &str) {
    let e = error_with(input, ctx);
    assert_eq!(e.hint, hint, "for {input:?}");
}

#[test]
fn unknown_fields_suggest_the_nearest() {
    check("staus:cold", "0..5 unknown field `staus`; did you mean `status`?");
    check("a STAUS:cold", "2..7 unknown field `STAUS`; did you mean `status`?");
    check("zzzz:1", "0..4 unknown field `zzzz`");
    check(
        "lead_source:web",
        r#"0..11 unknown field `lead_source`; did you mean `"custom.Lead Source"`?"#,
    );
    check(
        r#""custom.Lead Sorce":web"#,
        r#"0..19 unknown custom field `custom.Lead Sorce`; did you mean `"custom.Lead Source"`?"#,
    );
    check("contact(statu:x)", "8..13 unknown field `statu`");
    check_hint(
        "duration > 60",
        "`duration` is a field of a call: write `call(duration …)`",
    );
    check_hint("zzzz:1", "to search for it as text, put the whole clause in quotes");
    check_hint(
        "contact(statu:x)",
        "the fields of a contact are `name`, `title`, `email` or `phone`",
    );
    check_hint(
        "custom.Role:buyer",
        "`Role` is a contact field: write `contact(custom.Role:…)`",
    );
    check("call(custom.x:1)", "5..13 a call has no custom fields");
    check_hint(
        "call(custom.x:1)",
        "custom fields belong to leads, contacts and opportunities: write `custom.…` outside `call(…)`, \
         or inside `contact(…)` or `opportunity(…)`",
    );
    check(
        "has:emial",
        "4..9 `has:emial` is not something a lead has; did you mean `has:email`?",
    );
}

#[test]
fn wrong_value_types() {
    check("calls:many", "6..10 `calls` takes a number, not `many`");
    check("calls > 1,000", "8..13 `calls` takes a number, not `1,000`");
    check(
        "opportunity_value > lots",
        "20..24 `opportunity_value` takes a number, not `lots`",
    );
    check_hint(
        "opportunity_value > lots",
        "amounts are in currency units and may have cents: `>= 1234.50`",
    );
    check("task(done:maybe)", "10..15 `done` takes yes or no, not `maybe`");
    check("phone:abc", "6..9 `phone` takes digits, not `abc`");
    check(
        "created:someday",
        "8..15 `created` takes a date: `someday` is not a date this search understands",
    );
    check("name:&", "5..6 `&` has no letter or digit to search for");
    check(r#"name:"""#, "5..7 empty quotes");
}

#[test]
fn unknown_labels_list_the_valid_ones() {
    check(
        "status:hot",
        "7..10 unknown status `hot`; valid statuses are `Potential`, `Cold`, `Warm`, `Customer` or `Bad Fit`",
    );
    check_hint("status:cld", "did you mean `Cold`?");
    check(
        "status:frozen",
        "7..13 unknown status `frozen`; valid statuses are `Potential`, `Cold`, `Warm`, `Customer` or `Bad Fit`",
    );
    check_hint(
        "status:frozen",
        r#"write one of the statuses, quoted when it has a space: `status:"Bad Fit"`"#,
    );
    check_hint(
        "opportunity_status:pending",
        r#"write one of the opportunity statuses, quoted when it has a space: `opportunity_status:"Demo Scheduled"`"#,
    );
    check_hint(
        "opportunity(status_type:open)",
        "write one of the status types: `status_type:active`",
    );
    check_hint(
        r#""custom.Lead Source":tv"#,
        r#"write one of the choices of `custom.Lead Source`: `"custom.Lead Source":Web`"#,
    );
    check_hint(
        "created_by:zed",
        r#"write `me`, a user's email or full name, quoted when it has a space: `created_by:"Ann Lee"`"#,
    );
    check(
        "opportunity_status:pending",
        "19..26 unknown opportunity status `pending`; valid opportunity statuses are `Active`, `Demo Scheduled`, `Won` or `Lost`",
    );
    check(
        "opportunity(status_type:open)",
        "24..28 unknown status type `open`; valid status types are `active`, `won` or `lost`",
    );
    check(
        r#""custom.Lead Source":tv"#,
        "21..23 unknown choice for `custom.Lead Source` `tv`; valid choices of `custom.Lead Source` are `Web`, `Referral` or `Event`",
    );
    check(
        "created_by:zed",
        "11..14 unknown user `zed`; valid users are `me`, `Ann Lee`, `Bob Stone` or `Chloé Martin`",
    );
    check_hint("created_by:bob@rapport.tst", "did you mean `bob@rapport.test`?");
}

#[test]
fn unclosed_quotes_and_parentheses_point_at_their_start() {
    check(r#"a "new york"#, "2..3 unclosed quote");
    check_hint(
        r#"a "new york"#,
        "close the quoted text with `\"`; to search for a quote mark itself, write `\\\"`",
    );
    check("(a or b", "0..1 unclosed parenthesis");
    check("x (a (b)", "2..3 unclosed parenthesis");
    check("contact(name:john", "0..8 unclosed `contact(`");
    check("a)", "1..2 unmatched `)`");
    check_hint("a)", "remove it, or add the `(` it closes");
    check_hint("(a or b", "add the `)` that closes it");
}

#[test]
fn empty_groups_and_words_without_letters() {
    check("()", "0..1 empty parentheses");
    check("a () b", "2..3 empty parentheses");
    check("call()", "0..5 `call()` needs at least one condition inside");
    check_hint("call()", "for example `call(duration > 60)`");
    check("&", "0..1 `&` has no letter or digit to search for");
    check("a * b", "2..3 `*` has no letter or digit to search for");
    check(r#""""#, "0..2 empty quotes");
    check(r#"a "":x"#, "2..4 empty quotes");
    check(r#"in:"" a"#, "3..5 empty quotes");
    check_hint(
        r#""" : x"#,
        r#"put the field's name inside the quotes: `"custom.Lead Source":web`"#,
    );
    check("- a", "0..1 `-` must touch the clause it leaves out");
    check("calls(x)", "0..6 `calls(` is not a related clause");
    check_hint(
        "calls(x)",
        "did you mean `call(`? To group clauses, put a space before `(`",
    );
}

#[test]
fn keywords_need_clauses_on_both_sides() {
    check("or a", "0..2 `or` needs a clause before it");
    check("a or", "2..4 `or` needs a clause after it");
    check("a or or b", "2..4 `or` needs a clause after it");
    check("and a", "0..3 `and` needs a clause before it");
    check("a and", "2..5 `and` needs a clause after it");
    check("a not", "2..5 `not` needs a clause after it");
    check("a or sort:name", "2..4 `or` needs a clause after it");
    check("sort:name or a", "10..12 `or` needs a clause before it");
    check_hint(
        "and a",
        "write `a and b`, or leave `and` out: clauses side by side must all match",
    );
    check_hint(
        "a and",
        "write `a and b`, or remove the `and`; `sort:` clauses do not count as clauses",
    );
    check_hint(
        "a not",
        "put the clause to leave out right after `not`: `not status:lost`",
    );
    check_hint("- a", r#"write `-status:lost` or `-"new york"`, without a space"#);
}

#[test]
fn misplaced_operators() {
    check(":cold", "0..1 `:` needs a field name before it");
    check("status:", "0..7 `status:` needs a value");
    check("status: (a)", "0..7 `status:` needs a value");
    check("a ! b", "2..3 `!` must be followed by `=`");
    check("a:b:c", "3..4 `:` needs a field name before it");
}

#[test]
fn sort_placement_and_sortable_fields() {
    check("(a sort:name)", "3..12 `sort:` cannot stand inside parentheses");
    check("call(sort:name)", "5..14 `sort:` cannot stand inside `call(…)`");
    check("-sort:name", "1..10 `sort:` cannot be negated");
    check("not sort:name", "4..13 `sort:` cannot be negated");
    check("sort>name", "4..5 `sort` takes `:`, not `>`");
    check("sort:-", "5..6 `sort:` needs a field name");
    check(
        "sort:email",
        "5..10 `email` cannot be sorted on: a lead may have several",
    );
    check(
        "sort:custom.tags",
        "5..16 `custom.tags` can hold several values and cannot be sorted on",
    );
    check("sort:staus", "5..10 unknown field `staus`; did you mean `status`?");
}

#[test]
fn operators_that_do_not_fit_the_field() {
    check("name < acme", "5..6 `name` is a text field and takes only `:`, not `<`");
    check_hint("name < acme", "write `name:…`; to leave matches out, write `-name:…`");
    check("name = acme", "5..6 `name` is a text field and takes only `:`, not `=`");
    check("phone > 4", "6..7 `phone` is a phone field and takes only `:`, not `>`");
    check("id != lead_1", "3..5 `id` is an id and takes only `:`, not `!=`");
    check("status > cold", "7..8 `status` cannot be compared with `>`");
    check("email > *", "6..7 `*` works only with `:`, not `>`");
    check("has > calls", "4..5 `has` takes `:`, not `>`");
    check("in = x", "3..4 `in` takes `:`, not `=`");
}

#[test]
fn dates_that_are_not_understood() {
    check(
        "created:tomorrow",
        "8..16 `created` takes a date: `tomorrow` is not a date this search understands",
    );
    check(
        r#"created:"next week""#,
        "8..19 `created` takes a date: `next week` is not a date this search understands",
    );
    check(
        "created:2024",
        "8..12 `created` takes a date: `2024` is a bare year, which is not a date here",
    );
    check_hint(
        "created:2024",
        "for the whole year write `>= 2024-01-01` and `< 2025-01-01`",
    );
    check(
        "created:2024-02-30",
        "8..18 `created` takes a date: `2024-02-30` is not a valid date",
    );
    check(
        r#"created < "3 fortnights ago""#,
        "10..28 `created` takes a date: `3 fortnights ago` is not an age this search understands",
    );
    check(
        r#"created < "99999999999 years ago""#,
        "10..33 `created` takes a date: `99999999999 years ago` is too far from today",
    );
    check(
        r#"created < "4000000 years ago""#,
        "10..29 `created` takes a date: `4000000 years ago` is too far from today",
    );
}

#[test]
fn never_applies_only_to_activity_dates() {
    check(
        "created:never",
        "8..13 `:never` applies only to activity dates, not to `created`",
    );
    check(
        "opportunity_close:never",
        "18..23 `:never` applies only to activity dates, not to `opportunity_close`",
    );
    check(
        "call(date:never)",
        "10..15 `:never` applies only to activity dates, not to `date`",
    );
    check("called < never", "7..8 `never` works only with `:`, not `<`");
}

#[test]
fn smart_views() {
    check("in:nope", "0..7 unknown Smart View `nope`");
    check(
        "in:v_a",
        "0..6 Smart View `Loop A` includes itself: Loop A → Loop B → Loop A",
    );
    check("in:dupe", "0..7 two Smart Views are named `dupe`: `v_dup1` or `v_dup2`");
    check(
        "in:broken",
        "0..9 the Smart View `Broken` cannot be used: unknown field `staus`; did you mean `status`?",
    );
    check("call(in:v_cold)", "5..14 `in:` cannot stand inside `call(`");
    check_hint("in:dupe", "use the id: `in:v_dup1`");
}

#[test]
fn nesting_is_capped() {
    let deep = format!("{}a{}", "(".repeat(33), ")".repeat(33));
    check(&deep, "32..33 the query nests more than 32 levels deep");
    let nots = format!("{}a", "not ".repeat(40));
    check(&nots, "128..131 the query nests more than 32 levels deep");
    check("contact(call(x))", "8..13 `call(` cannot stand inside `contact(`");
    check("contact(-(call(x)))", "10..15 `call(` cannot stand inside `contact(`");
    check(
        "contact((a) or not call(x))",
        "19..24 `call(` cannot stand inside `contact(`",
    );
    check_hint(
        "contact(call(x))",
        "write related clauses side by side: `contact(…) call(…)`",
    );
}

#[test]
fn me_needs_a_current_user_and_offsets_must_be_real() {
    let mut ctx = context();
    ctx.current_user_id = None;
    let e = error_with("created_by:me", &ctx);
    assert_eq!((e.span, e.message.as_str()), ((11, 13), "`me` is not known here"));
    assert_eq!(e.hint, "name the user by email or full name");
    let mut ctx = context();
    ctx.tz_offset_hours = 30.0;
    let e = error_with("a", &ctx);
    assert_eq!(e.message, "the time-zone offset 30 hours is out of range");
    assert_eq!(
        e.hint,
        "X-TZ-Offset is hours east of UTC, between -24 and 24, e.g. -7 or 5.5"
    );
}

/// The hints that depend on the organization: no statuses, no users, two fields of a name,
/// Smart Views included too often.
#[test]
fn hints_follow_the_organization() {
    let mut ctx = context();
    ctx.lead_statuses.clear();
    ctx.users.clear();
    let e = error_with("status:cold", &ctx);
    assert_eq!(e.message, "unknown status `cold`; there are no statuses");
    assert_eq!(e.hint, "leave this clause out, or write `status:*` for any value");
    check_hint_with(
        "created_by:zed",
        &ctx,
        "write `me`, a user's email or full name, quoted when it has a space: `created_by:me`",
    );

    let mut ctx = context();
    let mut twin = ctx.custom_fields[0].clone();
    twin.id = "cf_twin".into();
    let name = twin.name.clone();
    ctx.custom_fields.push(twin);
    let first = ctx.custom_fields[0].id.clone();
    let e = error_with(&format!("\"custom.{name}\":x"), &ctx);
    assert!(e.message.starts_with("two custom fields are named"), "{}", e.message);
    assert_eq!(e.hint, format!("use the id: `custom.{first}:…`"));

    let mut ctx = context();
    ctx.saved_views.push(SavedView {
        id: "v_many".into(),
        name: "Many".into(),
        query: vec!["in:v_cold"; 65].join(" "),
    });
    let e = error_with("in:v_many", &ctx);
    assert_eq!(
        e.message,
        "the Smart View `Many` cannot be used: the query includes Smart Views more than 64 times"
    );
    assert_eq!(
        e.hint,
        "use fewer `in:` clauses, or write the conditions of the views that are included many times directly"
    );
}

#[test]
fn errors_serialize_in_the_api_shape() {
    let e = error_with("staus:cold", &context());
    assert_eq!(
        e.to_json().to_string(),
        r#"{"error":"unknown field `staus`; did you mean `status`?","span":[0,5],"hint":"to search for it as text, put the whole clause in quotes"}"#
    );
    let e = error_with("status:frozen", &context());
    assert_eq!(
        e.to_json().to_string(),
        r#"{"error":"unknown status `frozen`; valid statuses are `Potential`, `Cold`, `Warm`, `Customer` or `Bad Fit`","span":[7,13],"hint":"write one of the statuses, quoted when it has a space: `status:\"Bad Fit\"`"}"#
    );
    let q: Query = parse("a").unwrap();
    assert_eq!(q.sort.len(), 0);
}
