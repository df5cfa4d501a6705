//! Autocomplete: `$0` marks the cursor; the expectation shows the text the completion
//! replaces, in brackets, then the suggestions in order.

use proptest::prelude::*;
use rapport_query::{complete, parse, resolve, Completion, SearchContext, SuggestionKind};

use crate::fixture::context;

fn split(marked: &str) -> (String, usize) {
    let cursor = marked.find("$0").expect("the input marks the cursor with `$0`");
    (marked.replacen("$0", "", 1), cursor)
}

fn render(input: &str, completion: &Completion) -> String {
    let (start, end) = completion.replace;
    let texts: Vec<&str> = completion.suggestions.iter().map(|s| s.text.as_str()).collect();
    format!("[{}] {}", &input[start..end], texts.join(", "))
        .trim_end()
        .to_string()
}

#[track_caller]
fn check(marked: &str, expect: &str) {
    let (input, cursor) = split(marked);
    let completion = complete(&input, cursor, &context());
    assert_eq!(render(&input, &completion), expect, "completing {marked:?}");
}

/// The input with the suggestion put in place of the replaced span.
fn apply(input: &str, completion: &Completion, text: &str) -> String {
    let (start, end) = completion.replace;
    format!("{}{text}{}", &input[..start], &input[end..])
}

#[test]
fn empty_input_suggests_common_fields() {
    check(
        "$0",
        "[] status:, name:, email:, phone:, city:, created:, updated:, created_by:, last_activity:, last_called:, \
         calls:, opportunity_status:, opportunity_value:, has:, in:, sort:, contact(, call(, email(, opportunity(",
    );
    check(
        "acme $0",
        "[] status:, name:, email:, phone:, city:, created:, updated:, created_by:, last_activity:, last_called:, \
         calls:, opportunity_status:, opportunity_value:, has:, in:, sort:, contact(, call(, email(, opportunity(",
    );
}

#[test]
fn field_names_by_prefix() {
    check("sta$0", "[sta] status:, state:");
    check("STA$0", "[STA] status:, state:");
    check("call$0", "[call] call(, calls:, called:");
    check("email$0", "[email] email:, email(, emails:, emailed:, email_opened:");
    check("last_c$0", "[last_c] last_called:, last_chat:");
    check("created$0", "[created] created:, created_by:");
    check("so$0", "[so] sort:");
    check("zz$0", "[zz]");
}

#[test]
fn the_whole_word_at_the_cursor_is_replaced() {
    // An operator follows already: no second `:`.
    check("sta$0tus:cold", "[status] status, state");
    check("sta$0tus : cold", "[status] status, state");
    check("name:acme cre$0", "[cre] created:, created_by:");
    check("con$0tact(name:jo)", "[contact] contact");
    check("c$0all(", "[call] contact, call, chat");
}

#[test]
fn negation_is_kept_out_of_the_replaced_word() {
    check("-sta$0", "[sta] status:, state:");
    check("-so$0", "[so]");
    check("not so$0", "[so]");
}

#[test]
fn keywords_where_they_fit() {
    check("status:cold an$0", "[an] and");
    check("an$0", "[an]");
    check(
        "status:cold o$0",
        "[o] opportunities:, opportunity_status:, opportunity_status_type:, opportunity_value:, \
         opportunity_confidence:, opportunity_close:, opportunity(, or",
    );
    check("no$0", "[no] notes:, note(, not");
    check("-no$0", "[no] notes:, note(");
}

#[test]
fn custom_fields_are_named_and_quoted_as_the_binder_wants() {
    check(
        "custom.$0",
        "[custom.] \"custom.Lead Source\":, custom.Employees:, \"custom.Renewal Date\":, custom.Kickoff:, \
         \"custom.Internal Notes\":, custom.Tags:, \"custom.Account Owner\":",
    );
    check("lea$0", "[lea] \"custom.Lead Source\":");
    check("\"custom.lead$0", "[\"custom.lead] \"custom.Lead Source\":");
    check("custom.\"Le$0", "[custom.\"Le] \"custom.Lead Source\":");
    check("-custom.\"Le$0", "[custom.\"Le] \"custom.Lead Source\":");
}

#[test]
fn sort_only_at_the_top_level() {
    check("(so$0", "[so]");
    check("status:cold (so$0 or a)", "[so]");
    check("(a) so$0", "[so] sort:");
}

#[test]
fn related_clauses_offer_their_own_fields() {
    check(
        "call($0",
        "[] date:, user:, duration:, direction:, status:, note:, has:",
    );
    check("call(d$0)", "[d] date:, duration:, direction:");
    check("-call(d$0", "[d] date:, duration:, direction:");
    check("contact(cu$0", "[cu] custom.Role:");
    check("opportunity(s$0", "[s] status:, status_type:");
    check("task((d$0", "[d] due:, done:");
    check("task(done:yes) d$0", "[d] description:");
    check("note(in$0", "[in]");
}

#[test]
fn lead_and_opportunity_statuses() {
    check("status:$0", "[] Potential, Cold, Warm, Customer, \"Bad Fit\", *");
    check("status:c$0", "[c] Cold, Customer");
    check("status:cold$0", "[cold] Cold");
    check("STATUS = w$0", "[w] Warm");
    check("status:b$0", "[b] \"Bad Fit\"");
    check("status:\"bad f$0", "[\"bad f] \"Bad Fit\"");
    check("status:\"Bad $0Fit\" calls:0", "[\"Bad Fit\"] \"Bad Fit\"");
    check("-status:$0", "[] Potential, Cold, Warm, Customer, \"Bad Fit\", *");
    check(
        "status:$0cold",
        "[cold] Potential, Cold, Warm, Customer, \"Bad Fit\", *",
    );
    check("status < $0", "[]");
    check("opportunity_status:$0", "[] Active, \"Demo Scheduled\", Won, Lost, *");
    check("opportunity(status:d$0", "[d] \"Demo Scheduled\"");
    check("opportunity_status_type:$0", "[] active, won, lost, *");
    check("opportunity(value > 10 status_type:w$0)", "[w] won");
}

#[test]
fn users_by_email_with_the_full_name() {
    check(
        "created_by:$0",
        "[] me, ann@rapport.test, bob@rapport.test, chloe@rapport.test, *",
    );
    check("Created_By : a$0", "[a] ann@rapport.test");
    check("task(assignee:chl$0", "[chl] chloe@rapport.test");
    check("call(user:mar$0", "[mar] chloe@rapport.test");
    check("\"custom.Account Owner\":b$0", "[b] bob@rapport.test");
    check("updated_by != m$0", "[m] me, chloe@rapport.test");
}

#[test]
fn choices_dates_and_booleans() {
    check("custom.tags:$0", "[] vip, partner, churn-risk, *");
    check("\"custom.Lead Source\":r$0", "[r] Referral");
    check("custom.cf_src:$0", "[] Web, Referral, Event, *");
    check(
        "created:$0",
        "[] today, yesterday, \"this week\", \"last week\", \"this month\", \"last month\", \"this year\", *",
    );
    check("last_called:n$0", "[n] never");
    check("email(opened:n$0", "[n] never");
    check("\"custom.Renewal Date\":n$0", "[n]");
    check(
        "last_called < $0",
        "[] today, yesterday, \"this week\", \"last week\", \"this month\", \"last month\", \"this year\"",
    );
    check("created:\"this w$0", "[\"this w] \"this week\"");
    check("created:la$0", "[la] \"last week\", \"last month\"");
    check("task(done:$0", "[] yes, no, *");
    check("call(direction:$0", "[] inbound, outbound, *");
    check("email(status:d$0", "[d] draft");
    check("calls > $0", "[]");
    check("calls:$0", "[]");
    check("name:$0", "[] *");
    check("nope:$0", "[]");
    check(":$0", "[]");
}

#[test]
fn has_in_and_sort_values() {
    check(
        "has:$0",
        "[] email, phone, url, address, contacts, calls, emails, notes, sms, meetings, chats, opportunities, tasks",
    );
    check("has:c$0", "[c] contacts, calls, chats");
    check(
        "opportunity(has:$0",
        "[] status, status_type, value, confidence, close, user, note, custom.Region",
    );
    check("contact(has:$0", "[] name, title, email, phone, custom.Role");
    check("has < $0", "[]");
    check(
        "in:$0",
        "[] \"Cold Leads\", \"Big Deals\", \"Loop A\", \"Loop B\", v_dup1, v_dup2, Broken, \"Cold and big\"",
    );
    check("in:\"lo$0", "[\"lo] \"Loop A\", \"Loop B\"");
    check("in:v_c$0", "[v_c] \"Cold Leads\"");
    check("call(in:$0", "[]");
    check(
        "sort:$0",
        "[] created, -created, updated, -updated, name, -name, status, -status, last_activity, -last_activity, \
         last_called, -last_called, last_emailed, -last_emailed, email_opened, -email_opened, last_note, -last_note, \
         last_sms, -last_sms",
    );
    check(
        "sort:-la$0",
        "[-la] -last_activity, -last_called, -last_emailed, -last_note, -last_sms, -last_meeting, \
         -last_chat",
    );
    check(
        "sort:cu$0",
        "[cu] \"custom.Lead Source\", custom.Employees, \"custom.Renewal Date\", custom.Kickoff, \
         \"custom.Internal Notes\", \"custom.Account Owner\"",
    );
    check("(sort:$0", "[]");
}

#[test]
fn cursors_are_clamped_and_rounded_down() {
    let ctx = context();
    let completion = complete("sta", 99, &ctx);
    assert_eq!(completion.replace, (0, 3));
    // Inside `é` (two bytes): rounded down to the start of the word.
    let completion = complete("é", 1, &ctx);
    assert_eq!(completion.replace, (0, 2));
    assert_eq!(complete("", 5, &SearchContext::default()).replace, (0, 0));
}

#[test]
fn kinds_details_and_json_shape() {
    let completion = complete("status:c", 8, &context());
    assert_eq!(
        serde_json::to_value(&completion).unwrap(),
        serde_json::json!({
            "replace": [7, 8],
            "suggestions": [{"text": "Cold", "kind": "status"}, {"text": "Customer", "kind": "status"}],
        })
    );
    let kinds = |input: &str| -> Vec<(SuggestionKind, Option<String>)> {
        complete(input, input.len(), &context())
            .suggestions
            .into_iter()
            .map(|s| (s.kind, s.detail))
            .collect()
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(kinds("created_by:a"), [(SuggestionKind::User, some("Ann Lee"))]);
    assert_eq!(kinds("created_by:me"), [(SuggestionKind::User, some("you (Ann Lee)"))]);
    assert_eq!(
        kinds("called"),
        [(SuggestionKind::Field, some("activity date, same as last_called"))]
    );
    assert_eq!(kinds("phon"), [(SuggestionKind::Field, some("phone of any contact"))]);
    assert_eq!(
        kinds("not")[0],
        (SuggestionKind::Keyword, some("leave out what follows"))
    );
    assert_eq!(kinds("custom.tags:v"), [(SuggestionKind::Choice, None)]);
    assert_eq!(kinds("opportunity_status:w"), [(SuggestionKind::Status, some("won"))]);
    assert_eq!(
        kinds("in:cold"),
        [
            (SuggestionKind::View, some("status:cold")),
            (SuggestionKind::View, some("in:v_cold in:\"big deals\""))
        ]
    );
    assert_eq!(
        kinds("in:dup"),
        [
            (SuggestionKind::View, some("Dupe: acme")),
            (SuggestionKind::View, some("dupe: globex"))
        ]
    );
    assert_eq!(kinds("sort:-emp"), [(SuggestionKind::CustomField, some("descending"))]);
    assert_eq!(
        kinds("lead"),
        [(SuggestionKind::CustomField, some("choices custom field"))]
    );
    assert_eq!(
        kinds("opportunity")[0],
        (
            SuggestionKind::Kind,
            some("an opportunity for which every inner clause holds")
        )
    );
}

/// Whatever is suggested is accepted by the parser and the binder.
#[test]
fn suggestions_resolve() {
    let ctx = context();
    let accepted = |query: &str| {
        let parsed = parse(query).unwrap_or_else(|e| panic!("{query:?} does not parse: {e}"));
        if let Err(e) = resolve(&parsed, &ctx) {
            panic!("{query:?} does not resolve: {e}");
        }
    };
    let scopes = [
        "",
        "call(",
        "contact(",
        "email(",
        "note(",
        "sms(",
        "meeting(",
        "chat(",
        "opportunity(",
        "task(",
    ];
    for scope in scopes {
        let close = if scope.is_empty() { "" } else { ")" };
        for letter in ('a'..='z')
            .map(String::from)
            .chain(["".to_string(), "custom.".to_string()])
        {
            let input = format!("{scope}{letter}");
            let completion = complete(&input, input.len(), &ctx);
            for s in &completion.suggestions {
                let field = matches!(s.kind, SuggestionKind::Field | SuggestionKind::CustomField);
                if field && s.text.ends_with(':') && !["has:", "in:", "sort:"].contains(&s.text.as_str()) {
                    accepted(&format!("{}*{close}", apply(&input, &completion, &s.text)));
                }
            }
        }
    }
    let values = [
        "status:",
        "opportunity_status:",
        "opportunity_status_type:",
        "opportunity(status:",
        "opportunity(status_type:",
        "created_by:",
        "\"custom.Account Owner\":",
        "\"custom.Lead Source\":",
        "custom.tags:",
        "created:",
        "last_called:",
        "created >",
        "task(done:",
        "call(direction:",
        "email(status:",
        "has:",
        "contact(has:",
        "opportunity(has:",
        "sort:",
        "sort:-",
        "sort:c",
        "sort:-c",
        "in:cold",
        "in:dup",
        "in:big",
    ];
    for input in values {
        let close = if input.contains('(') { ")" } else { "" };
        let completion = complete(input, input.len(), &ctx);
        assert!(!completion.suggestions.is_empty(), "nothing for {input:?}");
        for s in &completion.suggestions {
            accepted(&format!("{}{close}", apply(input, &completion, &s.text)));
        }
    }
}

fn fragment() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        " ",
        " ",
        "(",
        ")",
        "\"",
        "\\",
        ":",
        "=",
        "!",
        "!=",
        "<",
        ">=",
        "-",
        "*",
        "and",
        "or",
        "not",
        "status",
        "sta",
        "cold",
        "call",
        "contact",
        "opportunity",
        "custom.",
        "custom.tags",
        "has",
        "in",
        "sort",
        "created_by",
        "é",
        "ß",
        "İ",
        "\"custom.Lead",
        "Lead Source\"",
        "me",
        "task",
        "done",
        "$",
    ]);
    prop_oneof![
        6 => pieces.prop_map(str::to_string),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn near_query() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
}

fn check_invariants(input: &str, cursor: usize) -> Result<(), TestCaseError> {
    let completion = complete(input, cursor, &context());
    let mut at = cursor.min(input.len());
    while !input.is_char_boundary(at) {
        at -= 1;
    }
    let (start, end) = completion.replace;
    prop_assert!(
        start <= at && at <= end && end <= input.len(),
        "{:?} at {}",
        completion.replace,
        cursor
    );
    prop_assert!(input.is_char_boundary(start) && input.is_char_boundary(end));
    prop_assert!(completion.suggestions.len() <= rapport_query::MAX_SUGGESTIONS);
    prop_assert!(completion.suggestions.iter().all(|s| !s.text.is_empty()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn never_panics_on_near_queries(input in near_query(), cursor in 0usize..64) {
        check_invariants(&input, cursor)?;
    }

    #[test]
    fn never_panics_on_any_text_or_cursor(input in any::<String>(), cursor in any::<usize>()) {
        check_invariants(&input, cursor)?;
        check_invariants(&input, cursor % (input.len() + 1))?;
    }
}
