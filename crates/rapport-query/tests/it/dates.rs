//! Date resolution (§4, §5, §9) against a fixed `now` in several time zones. A range is
//! shown as instants (UTC) then as local days: `[a, b)` includes a, excludes b.

use std::ops::Bound;

use rapport_query::{parse, resolve, DateRange, Filter, Test};

use crate::fixture::context_at;

fn show<T>(start: &Bound<T>, end: &Bound<T>, f: impl Fn(&T) -> String) -> String {
    let s = match start {
        Bound::Included(t) => format!("[{}", f(t)),
        Bound::Excluded(t) => format!("({}", f(t)),
        Bound::Unbounded => "(-inf".to_string(),
    };
    let e = match end {
        Bound::Included(t) => format!("{}]", f(t)),
        Bound::Excluded(t) => format!("{})", f(t)),
        Bound::Unbounded => "+inf)".to_string(),
    };
    format!("{s}, {e}")
}

fn render(range: &DateRange) -> String {
    let instants = show(&range.start, &range.end, |t| t.format("%Y-%m-%d %H:%M").to_string());
    let days = show(&range.start_day, &range.end_day, |d| d.to_string());
    format!("{instants} days {days}")
}

fn find_range(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Field(_, Test::InRange(r)) => Some(render(r)),
        Filter::Field(_, Test::OutOfRange(r)) => Some(format!("not {}", render(r))),
        Filter::And(items) | Filter::Or(items) => items.iter().find_map(find_range),
        Filter::Not(inner) | Filter::Related(_, inner) => find_range(inner),
        _ => None,
    }
}

/// Resolves `clause` at `now` (UTC) with the caller `tz` hours east.
#[track_caller]
fn check_at(now: &str, tz: f64, clause: &str, expect: &str) {
    let query = parse(clause).unwrap();
    let resolved = resolve(&query, &context_at(now, tz)).unwrap_or_else(|e| panic!("{clause}: {e}"));
    assert_eq!(
        find_range(&resolved.filter).as_deref(),
        Some(expect),
        "{clause} at {now} {tz:+}h"
    );
}

/// Now is Wednesday 2024-05-15 12:00 UTC.
#[track_caller]
fn check(clause: &str, expect: &str) {
    check_at("2024-05-15T12:00:00", 0.0, clause, expect);
}

#[test]
fn calendar_words_are_local_day_ranges() {
    check(
        "created:today",
        "[2024-05-15 00:00, 2024-05-16 00:00) days [2024-05-15, 2024-05-16)",
    );
    check(
        "created:yesterday",
        "[2024-05-14 00:00, 2024-05-15 00:00) days [2024-05-14, 2024-05-15)",
    );
    check(
        r#"created:"this week""#,
        "[2024-05-13 00:00, 2024-05-20 00:00) days [2024-05-13, 2024-05-20)",
    );
    check(
        r#"created:"Last  Week""#,
        "[2024-05-06 00:00, 2024-05-13 00:00) days [2024-05-06, 2024-05-13)",
    );
    check(
        r#"created:"this month""#,
        "[2024-05-01 00:00, 2024-06-01 00:00) days [2024-05-01, 2024-06-01)",
    );
    check(
        r#"created:"last month""#,
        "[2024-04-01 00:00, 2024-05-01 00:00) days [2024-04-01, 2024-05-01)",
    );
    check(
        r#"created:"this year""#,
        "[2024-01-01 00:00, 2025-01-01 00:00) days [2024-01-01, 2025-01-01)",
    );
    check(
        "created:2024-05-01",
        "[2024-05-01 00:00, 2024-05-02 00:00) days [2024-05-01, 2024-05-02)",
    );
    check(
        "created:2024-02",
        "[2024-02-01 00:00, 2024-03-01 00:00) days [2024-02-01, 2024-03-01)",
    );
    check(
        "created:2023-12",
        "[2023-12-01 00:00, 2024-01-01 00:00) days [2023-12-01, 2024-01-01)",
    );
}

#[test]
fn weeks_start_on_monday() {
    // Monday itself, and Sunday at the end of the week.
    check_at(
        "2024-05-13T00:00:00",
        0.0,
        r#"created:"this week""#,
        "[2024-05-13 00:00, 2024-05-20 00:00) days [2024-05-13, 2024-05-20)",
    );
    check_at(
        "2024-05-19T23:59:00",
        0.0,
        r#"created:"this week""#,
        "[2024-05-13 00:00, 2024-05-20 00:00) days [2024-05-13, 2024-05-20)",
    );
    check_at(
        "2024-01-03T12:00:00",
        0.0,
        r#"created:"last week""#,
        "[2023-12-25 00:00, 2024-01-01 00:00) days [2023-12-25, 2024-01-01)",
    );
}

#[test]
fn comparisons_with_absolute_dates() {
    check(
        "created < 2024-01-01",
        "(-inf, 2024-01-01 00:00) days (-inf, 2024-01-01)",
    );
    check(
        "created <= 2024-01-01",
        "(-inf, 2024-01-02 00:00) days (-inf, 2024-01-02)",
    );
    check(
        "created > 2024-01-01",
        "[2024-01-02 00:00, +inf) days [2024-01-02, +inf)",
    );
    check(
        "created >= 2024-01-01",
        "[2024-01-01 00:00, +inf) days [2024-01-01, +inf)",
    );
    check("created > 2024-01", "[2024-02-01 00:00, +inf) days [2024-02-01, +inf)");
    check(
        "created = 2024-01-01",
        "[2024-01-01 00:00, 2024-01-02 00:00) days [2024-01-01, 2024-01-02)",
    );
    check(
        "created != 2024-01-01",
        "not [2024-01-01 00:00, 2024-01-02 00:00) days [2024-01-01, 2024-01-02)",
    );
}

#[test]
fn relative_ages_compare_the_time_elapsed() {
    check(
        r#"email_opened < "3 days ago""#,
        "(2024-05-12 12:00, +inf) days (2024-05-12, +inf)",
    );
    check(
        r#"email_opened <= "3 days ago""#,
        "[2024-05-12 12:00, +inf) days [2024-05-12, +inf)",
    );
    check(
        r#"last_called > "2 weeks ago""#,
        "(-inf, 2024-05-01 12:00) days (-inf, 2024-05-01)",
    );
    check(
        r#"last_called >= "2 weeks ago""#,
        "(-inf, 2024-05-01 12:00] days (-inf, 2024-05-01]",
    );
    check(
        r#"created < "90 minutes ago""#,
        "(2024-05-15 10:30, +inf) days (2024-05-15, +inf)",
    );
    check(
        r#"created < "1 hour ago""#,
        "(2024-05-15 11:00, +inf) days (2024-05-15, +inf)",
    );
    check(
        r#"created < "an hour ago""#,
        "(2024-05-15 11:00, +inf) days (2024-05-15, +inf)",
    );
    check(
        r#"created < "1 year ago""#,
        "(2023-05-15 12:00, +inf) days (2023-05-15, +inf)",
    );
}

#[test]
fn an_age_with_a_colon_is_that_calendar_day() {
    check(
        r#"last_called:"3 days ago""#,
        "[2024-05-12 00:00, 2024-05-13 00:00) days [2024-05-12, 2024-05-13)",
    );
    check(
        r#"last_called != "1 day ago""#,
        "not [2024-05-14 00:00, 2024-05-15 00:00) days [2024-05-14, 2024-05-15)",
    );
}

#[test]
fn months_and_years_are_calendar_months_clamped_to_the_month_end() {
    check_at(
        "2024-03-31T12:00:00",
        0.0,
        r#"created < "1 month ago""#,
        "(2024-02-29 12:00, +inf) days (2024-02-29, +inf)",
    );
    check_at(
        "2023-03-31T12:00:00",
        0.0,
        r#"created < "1 month ago""#,
        "(2023-02-28 12:00, +inf) days (2023-02-28, +inf)",
    );
    check_at(
        "2024-02-29T12:00:00",
        0.0,
        r#"created < "1 year ago""#,
        "(2023-02-28 12:00, +inf) days (2023-02-28, +inf)",
    );
    check_at(
        "2024-05-31T12:00:00",
        0.0,
        r#"created:"last month""#,
        "[2024-04-01 00:00, 2024-05-01 00:00) days [2024-04-01, 2024-05-01)",
    );
}

#[test]
fn days_follow_the_callers_time_zone() {
    // 2024-05-15 12:00 UTC is 05:00 in UTC-7, and 2024-05-16 03:30 in UTC+15.5 would be
    // out of range, so UTC+13 (01:00 on the 16th).
    check_at(
        "2024-05-15T12:00:00",
        -7.0,
        "created:today",
        "[2024-05-15 07:00, 2024-05-16 07:00) days [2024-05-15, 2024-05-16)",
    );
    check_at(
        "2024-05-15T12:00:00",
        13.0,
        "created:today",
        "[2024-05-15 11:00, 2024-05-16 11:00) days [2024-05-16, 2024-05-17)",
    );
    check_at(
        "2024-05-15T03:00:00",
        -7.0,
        "created:today",
        "[2024-05-14 07:00, 2024-05-15 07:00) days [2024-05-14, 2024-05-15)",
    );
    check_at(
        "2024-05-15T12:00:00",
        5.5,
        "created:2024-05-01",
        "[2024-04-30 18:30, 2024-05-01 18:30) days [2024-05-01, 2024-05-02)",
    );
    check_at(
        "2024-05-13T02:00:00",
        3.0,
        r#"created:"this week""#,
        "[2024-05-12 21:00, 2024-05-19 21:00) days [2024-05-13, 2024-05-20)",
    );
    check_at(
        "2024-05-13T02:00:00",
        -3.0,
        r#"created:"this week""#,
        "[2024-05-06 03:00, 2024-05-13 03:00) days [2024-05-06, 2024-05-13)",
    );
    // An age is the same instant anywhere; `:` with it is the local day it falls on.
    check_at(
        "2024-05-15T12:00:00",
        -7.0,
        r#"created < "1 day ago""#,
        "(2024-05-14 12:00, +inf) days (2024-05-14, +inf)",
    );
    check_at(
        "2024-05-15T02:00:00",
        -7.0,
        r#"created:"1 day ago""#,
        "[2024-05-13 07:00, 2024-05-14 07:00) days [2024-05-13, 2024-05-14)",
    );
}

#[test]
fn every_date_field_resolves() {
    for clause in [
        "updated:today",
        "last_emailed:today",
        "emailed:today",
        "last_note:today",
        "last_sms:today",
        "last_meeting:today",
        "last_chat:today",
        "chatted:today",
        "last_activity:today",
        "opportunity_close:today",
        "task_due:today",
        "custom.kickoff:today",
        r#""custom.Renewal Date":today"#,
        "call(date:today)",
        "email(opened:today)",
        "task(due:today)",
        "opportunity(close:today)",
    ] {
        check(
            clause,
            "[2024-05-15 00:00, 2024-05-16 00:00) days [2024-05-15, 2024-05-16)",
        );
    }
}
