//! The reference evaluator over the fixture's leads: query → the names of the leads it
//! accepts, in id order (Acme Corp, Globex, Initech, Société Générale Café, Umbrella,
//! Jean-Pierre & Fils, York Industries, and `-`, the lead without a name).
//! Now is Wednesday 2024-05-15 12:00 UTC.

use std::collections::BTreeSet;

use rapport_query::{matches, parse, resolve, CustomFieldType, Lead, SearchContext};

use crate::fixture::{context, context_at, leads, name};

/// The names of the leads the query accepts, checked to be the same whether the leads'
/// text was prepared (`Lead::prepare`, as the search replica does) or not.
fn found(input: &str, ctx: &SearchContext) -> String {
    let query = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let resolved = resolve(&query, ctx).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let leads = leads();
    let names: Vec<&str> = leads.iter().filter(|l| matches(&resolved, l)).map(name).collect();
    let text_fields: BTreeSet<String> = ctx
        .custom_fields
        .iter()
        .filter(|f| f.value_type == CustomFieldType::Text)
        .map(|f| f.id.clone())
        .collect();
    let prepared: Vec<Lead> = leads
        .iter()
        .cloned()
        .map(|mut lead| {
            lead.prepare(text_fields.clone());
            lead
        })
        .collect();
    let prepared_names: Vec<&str> = prepared.iter().filter(|l| matches(&resolved, l)).map(name).collect();
    assert_eq!(names, prepared_names, "prepared text changes the answer for {input:?}");
    names.join(", ")
}

#[track_caller]
fn check(input: &str, expect: &str) {
    assert_eq!(found(input, &context()), expect, "for {input:?}");
}

const ALL: &str = "Acme Corp, Globex, Initech, Société Générale Café, Umbrella, Jean-Pierre & Fils, York Industries, -";

#[test]
fn empty_and_sort_only_queries_match_every_lead() {
    check("", ALL);
    check("sort:name", ALL);
}

#[test]
fn free_text_words_and_phrases() {
    check("acme", "Acme Corp");
    check("jo", "Acme Corp");
    check(r#""john""#, "Acme Corp");
    check(r#""jo""#, "");
    check("acme.com", "Acme Corp");
    check(r#""new york""#, "Société Générale Café, Jean-Pierre & Fils");
    check("new york", "Société Générale Café, Jean-Pierre & Fils, York Industries");
    check("jean-pierre", "Jean-Pierre & Fils");
    check("pricing", "Acme Corp, Jean-Pierre & Fils, York Industries");
    check("demo", "Globex");
    check("bonjour", "Société Générale Café");
    check("draft", "Globex");
    check("coyotes", "Acme Corp");
    check(
        "-acme",
        "Globex, Initech, Société Générale Café, Umbrella, Jean-Pierre & Fils, York Industries, -",
    );
    check("acme or globex", "Acme Corp, Globex");
}

#[test]
fn free_text_folds_accents_and_case() {
    check("eric", "Société Générale Café");
    check("ÉRIC", "Société Générale Café");
    check("creme brulee", "Société Générale Café");
    check("societe", "Société Générale Café");
}

#[test]
fn phones_are_searchable_as_digits() {
    check("1415555", "Acme Corp, Jean-Pierre & Fils");
    check("phone:415", "Acme Corp, Jean-Pierre & Fils");
    check("phone:5550123", "Acme Corp");
    check(r#"phone:"+33 1 42""#, "Société Générale Café");
    check(
        "has:phone",
        "Acme Corp, Globex, Société Générale Café, Jean-Pierre & Fils",
    );
}

#[test]
fn labels_and_private_text_are_not_free_text() {
    check("cold", "");
    check("vip", "");
    check("contract", "");
    check("deal", "");
}

#[test]
fn lead_text_fields() {
    check("name:acme", "Acme Corp");
    check("name:corp", "Acme Corp");
    check(r#"name:"acme corp""#, "Acme Corp");
    check(r#"name:"acme co""#, "");
    check("name:york", "York Industries");
    check(
        "name:*",
        "Acme Corp, Globex, Initech, Société Générale Café, Umbrella, Jean-Pierre & Fils, York Industries",
    );
    check("-name:*", "-");
    check("description:rockets", "Acme Corp");
    check("url:acme.com", "Acme Corp");
    check("has:url", "Acme Corp");
    check("id:lead_03", "Initech");
    check("id:LEAD_03", "");
}

#[test]
fn addresses() {
    check(r#"city:"san francisco""#, "Acme Corp");
    check("city:york", "York Industries");
    check("country:gb", "Globex, York Industries");
    check("address:market", "Acme Corp");
    check("zipcode:941", "Acme Corp");
    check(
        "has:address",
        "Acme Corp, Globex, Société Générale Café, York Industries",
    );
}

#[test]
fn contact_fields_of_the_lead() {
    check("email:acme.com", "Acme Corp");
    check("email:jane", "Acme Corp");
    check(
        "has:email",
        "Acme Corp, Globex, Initech, Société Générale Café, Jean-Pierre & Fils, York Industries",
    );
    check("title:ceo", "Acme Corp");
    check("contact_name:peter", "Initech");
}

#[test]
fn status() {
    check("status:cold", "Acme Corp, Jean-Pierre & Fils");
    check("status:COLD", "Acme Corp, Jean-Pierre & Fils");
    check("STATUS:cold", "Acme Corp, Jean-Pierre & Fils");
    check(r#"status:"bad fit""#, "Umbrella");
    // `!=` needs a value; `-` does not.
    check(
        "status != cold",
        "Globex, Initech, Société Générale Café, Umbrella, York Industries",
    );
    check(
        "-status:cold",
        "Globex, Initech, Société Générale Café, Umbrella, York Industries, -",
    );
}

#[test]
fn counts() {
    check("contacts:0", "Umbrella, -");
    check("contacts > 1", "Acme Corp");
    check("has:calls", "Acme Corp, Globex, Jean-Pierre & Fils");
    check(
        "calls:0",
        "Initech, Société Générale Café, Umbrella, York Industries, -",
    );
    check(
        "calls != 1",
        "Initech, Société Générale Café, Umbrella, York Industries, -",
    );
    // Globex's only email is a draft.
    check("emails:1", "Acme Corp, Jean-Pierre & Fils, York Industries");
    check("emails:0", "Globex, Initech, Société Générale Café, Umbrella, -");
    check("notes >= 1", "Acme Corp, Société Générale Café");
    check("meetings:1", "Globex, York Industries");
    check("chats:1", "Société Générale Café");
    check("sms:1", "Globex");
    check("opportunities:2", "Globex");
    check("has:opportunities", "Acme Corp, Globex, Jean-Pierre & Fils");
    check("tasks:2", "Initech");
    check("has:tasks", "Acme Corp, Initech, York Industries");
}

#[test]
fn activity_dates() {
    check(
        "called:never",
        "Initech, Société Générale Café, Umbrella, York Industries, -",
    );
    check(r#"last_called < "3 days ago""#, "Acme Corp");
    // A lead never called is not "called more than two weeks ago".
    check(r#"last_called > "2 weeks ago""#, "Globex");
    check("last_called:yesterday", "Acme Corp");
    check(r#"email_opened < "3 days ago""#, "Acme Corp, York Industries");
    check(
        "email_opened:never",
        "Globex, Initech, Société Générale Café, Umbrella, Jean-Pierre & Fils, -",
    );
    check(
        "last_emailed:never",
        "Globex, Initech, Société Générale Café, Umbrella, -",
    );
    check("last_activity:never", "Initech, Umbrella, -");
    check("last_activity >= 2024-05-14", "Acme Corp, Globex");
    check(r#"last_meeting > "1 day ago""#, "York Industries");
    check(r#"chatted:"this week""#, "");
    check(r#"chatted:"last week""#, "Société Générale Café");
}

#[test]
fn lead_dates() {
    check("created:today", "Initech");
    check("created < 2024-01-01", "Globex, Société Générale Café, Umbrella");
    check("created:2024-05", "Initech, -");
    // Updated exactly a week ago is not "less than a week ago".
    check(
        r#"updated < "1 week ago""#,
        "Acme Corp, Globex, Initech, York Industries",
    );
}

#[test]
fn users() {
    check("created_by:me", "Acme Corp");
    check(r#"created_by:"bob stone""#, "Globex");
    check("created_by:chloe@rapport.test", "Initech");
    check(r#"created_by:"CHLOE MARTIN""#, "Initech");
    check("created_by != me", "Globex, Initech");
}

#[test]
fn opportunity_fields_of_the_lead() {
    check("opportunity_status:won", "Acme Corp");
    check("opportunity_status_type:active", "Globex, Jean-Pierre & Fils");
    check("opportunity_value > 5000", "Acme Corp");
    check("opportunity_value >= 5000", "Acme Corp, Globex");
    check("opportunity_value >= 12345.50", "Acme Corp");
    check("opportunity_value > 12345.50", "");
    check("opportunity_value:2500", "Jean-Pierre & Fils");
    check("opportunity_value != 5000", "Acme Corp, Globex, Jean-Pierre & Fils");
    check("opportunity_confidence < 50", "Globex");
    check("opportunity_close < 2024-05-01", "Globex");
    check(r#"opportunity_close:"this month""#, "Acme Corp");
    // Close dates are days: "more than a week ago" is a day before 2024-05-08.
    check(r#"opportunity_close > "1 week ago""#, "Globex");
    check(r#"opportunity_close < "1 week ago""#, "Acme Corp, Globex");
    check(r#"opportunity_close:"5 days ago""#, "Acme Corp");
    check("opportunity_status != won", "Globex, Jean-Pierre & Fils");
    check(
        "-opportunity_status:won",
        "Globex, Initech, Société Générale Café, Umbrella, Jean-Pierre & Fils, York Industries, -",
    );
    // Two clauses may hold for different opportunities; a related clause needs one.
    check("opportunity_status:lost opportunity_value > 2000", "Globex");
    check("opportunity(status:lost value > 2000)", "");
    check("opportunity(status:lost value > 500)", "Globex");
}

#[test]
fn related_opportunities() {
    check("opportunity(user:me)", "Acme Corp");
    check("opportunity(note:anvil)", "Acme Corp");
    check("opportunity(anvil)", "Acme Corp");
    check("opportunity(custom.region:west)", "Acme Corp");
    check("opportunity(status_type:won or confidence < 10)", "Acme Corp, Globex");
    check("opportunity(close:*)", "Acme Corp, Globex");
    check("opportunity(has:close)", "Acme Corp, Globex");
}

#[test]
fn tasks() {
    check("task_due < 2024-05-15", "Initech, York Industries");
    check(r#"task_due:"this week""#, "York Industries");
    check("task_due:*", "Acme Corp, Initech, York Industries");
    check("task(done:yes)", "Initech");
    check("task(done != yes)", "Acme Corp, Initech, York Industries");
    check("task(text:contract)", "Acme Corp");
    check("task(contract)", "Acme Corp");
    check(r#"task(assignee:"bob stone")"#, "York Industries");
}

#[test]
fn custom_fields() {
    check(r#""custom.Lead Source":web"#, "Acme Corp");
    check("custom.cf_src:referral", "Globex");
    check(r#""custom.lead source" != web"#, "Globex, Société Générale Café");
    check("custom.employees > 200", "Acme Corp, Globex");
    check("custom.tags:vip", "Acme Corp");
    check("custom.tags != vip", "Acme Corp, Globex");
    check(
        "-custom.tags:vip",
        "Globex, Initech, Société Générale Café, Umbrella, Jean-Pierre & Fils, York Industries, -",
    );
    check("custom.tags:*", "Acme Corp, Globex");
    check(r#""custom.account owner":me"#, "Jean-Pierre & Fils");
    check(r#""custom.Renewal Date":today"#, "Jean-Pierre & Fils");
    check(r#""custom.Renewal Date" > today"#, "Acme Corp");
    check("custom.kickoff:yesterday", "Société Générale Café");
    check(r#""custom.internal notes":coyote"#, "Acme Corp");
}

#[test]
fn custom_datetimes_follow_the_callers_day() {
    // The kickoff is 2024-05-14 23:30 UTC: "today" two hours east of UTC.
    let east = context_at("2024-05-15T12:00:00", 2.0);
    assert_eq!(found("custom.kickoff:today", &east), "Société Générale Café");
    assert_eq!(found("custom.kickoff:yesterday", &east), "");
}

#[test]
fn related_contacts() {
    check("contact(name:john title:ceo)", "Acme Corp");
    check("contact(name:john title:cto)", "");
    check("contact(custom.role:buyer)", "Acme Corp");
    check("contact(phone:0123)", "Acme Corp");
    check("contact(jane)", "Acme Corp");
    check("-contact(email:*)", "Umbrella, -");
    check(
        "contact(has:title)",
        "Acme Corp, Globex, Initech, Société Générale Café, Jean-Pierre & Fils, York Industries",
    );
}

#[test]
fn related_activities() {
    check("call(duration > 600)", "Jean-Pierre & Fils");
    check("call(direction:inbound)", "Globex");
    check("call(direction:sideways)", "");
    check(r#"call(status:"no-answer")"#, "Globex");
    check("call(user:me)", "Acme Corp");
    check(r#"call(date < "3 days ago")"#, "Acme Corp");
    check("call(pricing)", "Acme Corp, Jean-Pierre & Fils");
    check("email(status:draft)", "Globex");
    check("email(direction:incoming)", "Jean-Pierre & Fils");
    check("email(opened:never)", "Globex, Jean-Pierre & Fils");
    check("email(subject:proposal)", "Acme Corp");
    check("email(body:office)", "Jean-Pierre & Fils");
    check("note(pricing)", "");
    check("note(email)", "Acme Corp");
    check("sms(direction:inbound)", "Globex");
    check("meeting(title:demo)", "Globex");
    check("meeting(date > today)", "Globex");
    check(r#"chat(status:open assignee:"chloe martin")"#, "Société Générale Café");
    check("chat(user:me)", "");
}

#[test]
fn smart_views() {
    check(r#"in:"cold leads""#, "Acme Corp, Jean-Pierre & Fils");
    check("in:v_big", "Acme Corp");
    check(r#"in:"Cold and big""#, "Acme Corp");
    check(
        "-in:v_cold",
        "Globex, Initech, Société Générale Café, Umbrella, York Industries, -",
    );
}

#[test]
fn precedence() {
    check(
        "status:cold or status:warm calls:0",
        "Acme Corp, Jean-Pierre & Fils, York Industries",
    );
    check("(status:cold or status:warm) calls:0", "York Industries");
    check("status:cold and not called:never", "Acme Corp, Jean-Pierre & Fils");
}
