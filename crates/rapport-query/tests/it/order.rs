//! Result order (§2, §9) and the plain-words explanation.

use rapport_query::{explain, parse, resolve, search};

use crate::fixture::{context, context_at, leads, name};

#[track_caller]
fn check(input: &str, expect: &str) {
    let resolved = resolve(&parse(input).unwrap(), &context()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let leads = leads();
    let names: Vec<&str> = search(&resolved, &leads).into_iter().map(name).collect();
    assert_eq!(names.join(", "), expect, "for {input:?}");
}

#[test]
fn default_order_is_newest_update_first() {
    check(
        "",
        "Initech, Acme Corp, York Industries, Globex, Jean-Pierre & Fils, -, Société Générale Café, Umbrella",
    );
    // Negated free text is no reason for relevance.
    check(
        "-acme",
        "Initech, York Industries, Globex, Jean-Pierre & Fils, -, Société Générale Café, Umbrella",
    );
}

#[test]
fn sort_keys_with_missing_values_last_in_both_directions() {
    check(
        "sort:name",
        "Acme Corp, Globex, Initech, Jean-Pierre & Fils, Société Générale Café, Umbrella, York Industries, -",
    );
    check(
        "sort:-name",
        "York Industries, Umbrella, Société Générale Café, Jean-Pierre & Fils, Initech, Globex, Acme Corp, -",
    );
    check(
        "sort:last_called",
        "Globex, Jean-Pierre & Fils, Acme Corp, Initech, Société Générale Café, Umbrella, York Industries, -",
    );
    check(
        "sort:-last_called",
        "Acme Corp, Jean-Pierre & Fils, Globex, Initech, Société Générale Café, Umbrella, York Industries, -",
    );
    check(
        "sort:status",
        "Umbrella, Acme Corp, Jean-Pierre & Fils, Société Générale Café, Initech, Globex, York Industries, -",
    );
    check(
        "sort:custom.employees",
        "Initech, Acme Corp, Globex, Société Générale Café, Umbrella, Jean-Pierre & Fils, York Industries, -",
    );
    check(
        r#"sort:"-custom.Renewal Date" status:cold"#,
        "Acme Corp, Jean-Pierre & Fils",
    );
}

#[test]
fn several_keys_break_ties_in_order_then_the_id() {
    check(
        "sort:calls sort:name",
        "Initech, Société Générale Café, Umbrella, York Industries, -, Acme Corp, Globex, Jean-Pierre & Fils",
    );
    check(
        "sort:-calls",
        "Acme Corp, Globex, Jean-Pierre & Fils, Initech, Société Générale Café, Umbrella, York Industries, -",
    );
}

#[test]
fn user_fields_sort_by_the_users_name() {
    // Acme's owner is Bob Stone, Jean-Pierre's Ann Lee.
    check(
        r#"sort:"custom.account owner" -status:warm"#,
        "Jean-Pierre & Fils, Acme Corp, Initech, Société Générale Café, Umbrella, -",
    );
}

#[test]
fn free_text_orders_by_relevance_then_newest_update() {
    // Acme matches all three words; York and Jean-Pierre one each, York updated later.
    check(
        "pricing or anvil or rockets",
        "Acme Corp, York Industries, Jean-Pierre & Fils",
    );
    check(
        "pricing or anvil or rockets sort:name",
        "Acme Corp, Jean-Pierre & Fils, York Industries",
    );
}

#[track_caller]
fn check_explain(input: &str, tz: f64, expect: &str) {
    let ctx = context_at("2024-05-15T12:00:00", tz);
    let resolved = resolve(&parse(input).unwrap(), &ctx).unwrap();
    assert_eq!(explain(&resolved), expect, "for {input:?}");
}

#[test]
fn explanations_resolve_every_relative_date() {
    check_explain("", 0.0, "every lead; sorted by last update descending, then by id");
    check_explain(
        r#"status:cold called:never email_opened < "3 days ago""#,
        0.0,
        r#"leads where the status is "cold" and there has never been a call and the time of the latest email open is after 2024-05-12 12:00 +00:00; sorted by last update descending, then by id"#,
    );
    check_explain(
        r#"created:"this week" sort:-name"#,
        -7.0,
        "leads where the creation time is at or after 2024-05-13 00:00 -07:00 and before 2024-05-20 00:00 -07:00; sorted by name descending, then by id",
    );
    check_explain(
        "jo or (email:acme.com -contact(title:ceo)) created_by:me",
        0.0,
        r#"leads where the lead's text has a word starting with "jo" or (it has a contact where an email address has the words "acme com…" and not (it has a contact where its title has a word starting with "ceo") and the creator is "ann lee"); most relevant first (leads matching more of the words), then newest update first, then by id"#,
    );
    check_explain(
        "opportunity_close < \"1 week ago\" task_due:*",
        0.0,
        "leads where it has an opportunity where its close date is after 2024-05-08 and it has a task where (done is no and its due date has a value); sorted by last update descending, then by id",
    );
}
