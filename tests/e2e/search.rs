//! The lead search language through the API, on SQLite and PostgreSQL: a fixed set of
//! leads made through the REST API, and a table of queries with the leads each must find.

use crate::common;

use chrono::{Duration, Utc};
use common::{Backend, TestServer};
use rapport_testkit::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(blocking:
    query_table,
    smart_views,
    search_errors_answer_with_a_span_and_a_hint,
    parse_and_json_forms,
    every_write_is_visible_to_the_next_search,
    a_write_on_one_node_is_found_on_another,
    completion_suggests_fields_and_values,
    oversized_queries_are_refused_naming_the_limit,
);

fn ago(d: Duration) -> String {
    (Utc::now() - d).to_rfc3339()
}

struct Fixture {
    server: TestServer,
    source: String,
    seats: String,
}

/// Seven leads covering every kind of related object.
fn fixture(backend: Backend, test: &str) -> Option<Fixture> {
    let s = TestServer::start(backend, test)?;
    for label in ["Cold", "Hot"] {
        s.post("status/lead/", json!({"label": label})).ok();
    }
    let source = s
        .post(
            "custom_field/lead/",
            json!({"name": "Lead Source", "type": "choices", "choices": ["Web", "Referral", "Event"]}),
        )
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let seats = s
        .post("custom_field/lead/", json!({"name": "Seats", "type": "number"}))
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lead = |body: Value| s.post("lead/", body).ok()["id"].as_str().unwrap().to_string();
    let acme = lead(json!({
        "name": "Acme Corp", "status": "Cold", "url": "acme.com", "description": "Anvils and rockets",
        "addresses": [{"city": "Paris", "country": "FR"}],
        "contacts": [{"name": "John Smith", "title": "CEO", "emails": [{"email": "john@acme.com"}], "phones": [{"phone": "+1 415 555 0123"}]}],
        format!("custom.{source}"): "Web", format!("custom.{seats}"): 50,
    }));
    s.post("activity/email/", json!({"lead_id": acme, "subject": "Pricing proposal", "body_text": "Our offer", "activity_at": ago(Duration::days(5)),
        "opens": [{"opened_at": ago(Duration::days(1))}]})).ok();
    s.post(
        "opportunity/",
        json!({"lead_id": acme, "status": "Won", "value": 500000, "confidence": 100}),
    )
    .ok();
    s.post("task/", json!({"lead_id": acme, "text": "Send contract", "date": (Utc::now() + Duration::days(2)).format("%Y-%m-%d").to_string()})).ok();

    let globex = lead(
        json!({"name": "Globex", "status": "Cold", "contacts": [{"name": "Hank Scorpio", "emails": [{"email": "hank@globex.com"}]}],
        format!("custom.{source}"): "Referral", format!("custom.{seats}"): 10}),
    );
    s.post("activity/call/", json!({"lead_id": globex, "direction": "outbound", "duration": 300, "note": "Discussed pricing", "activity_at": ago(Duration::days(2))})).ok();
    s.post("activity/email/", json!({"lead_id": globex, "subject": "Hello", "activity_at": ago(Duration::days(12)), "opens": [{"opened_at": ago(Duration::days(10))}]})).ok();

    let initech = lead(
        json!({"name": "Initech", "status": "Hot", "contacts": [{"name": "Peter Gibbons", "title": "Engineer"}, {"name": "Bill Lumbergh", "title": "VP"}],
        format!("custom.{seats}"): 200}),
    );
    s.post(
        "activity/note/",
        json!({"lead_id": initech, "note": "TPS reports", "activity_at": ago(Duration::days(40))}),
    )
    .ok();
    s.post(
        "opportunity/",
        json!({"lead_id": initech, "status": "Active", "value": 120000, "confidence": 50}),
    )
    .ok();
    s.post(
        "opportunity/",
        json!({"lead_id": initech, "status": "Lost", "value": 9900}),
    )
    .ok();

    let cafe = lead(
        json!({"name": "Jean-Pierre Café", "status": "Qualified", "description": "Crème brûlée",
        "contacts": [{"name": "Zoë", "emails": [{"email": "zoe@cafe.fr"}], "phones": [{"phone": "+33 1 42 92 81 00"}]}]}),
    );
    s.post(
        "activity/sms/",
        json!({"lead_id": cafe, "direction": "inbound", "text": "Bonjour", "activity_at": ago(Duration::hours(1))}),
    )
    .ok();
    s.post(
        "activity/meeting/",
        json!({"lead_id": cafe, "title": "Tasting", "starts_at": ago(Duration::days(3))}),
    )
    .ok();

    let umbrella = lead(json!({"name": "Umbrella", "status": "Customer"}));
    s.post("activity/call/", json!({"lead_id": umbrella, "direction": "inbound", "duration": 30, "status": "no-answer", "activity_at": ago(Duration::days(20))})).ok();
    s.post(
        "task/",
        json!({"lead_id": umbrella, "text": "Follow up", "is_complete": true}),
    )
    .ok();

    let vandelay = lead(
        json!({"name": "Vandelay Industries", "status": "Potential", "url": "vandelay.com",
        "contacts": [{"name": "Art Vandelay", "emails": [{"email": "art@vandelay.com"}], "phones": [{"phone": "+1 212 555 0199"}]}],
        format!("custom.{source}"): "Event"}),
    );
    s.post(
        "activity/note/",
        json!({"lead_id": vandelay, "note": "Importer exporter of latex", "activity_at": ago(Duration::hours(3))}),
    )
    .ok();

    lead(json!({"name": "Nameless Co", "status": "Bad Fit"}));
    Some(Fixture {
        server: s,
        source,
        seats,
    })
}

/// The names of the leads a query finds, in the order returned.
fn search(s: &TestServer, query: &str) -> Vec<String> {
    let encoded: String = query.bytes().map(|b| format!("%{b:02X}")).collect();
    let page = s.get(&format!("lead/?query={encoded}&_limit=200&_fields=name")).ok();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

const ALL: &[&str] = &[
    "Acme Corp",
    "Globex",
    "Initech",
    "Jean-Pierre Café",
    "Umbrella",
    "Vandelay Industries",
    "Nameless Co",
];

fn query_table(backend: Backend) {
    let Some(f) = fixture(backend, "query_table") else {
        return;
    };
    let s = &f.server;
    let source_by_id = format!("custom.{}:web", f.source);
    let seats_by_id = format!("custom.{} <= 50", f.seats);
    // (query, expected names; sorted unless the query sorts)
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("", ALL.to_vec()),
        ("acme", vec!["Acme Corp"]),
        ("ac", vec!["Acme Corp"]),
        ("ACME", vec!["Acme Corp"]),
        ("\"acme corp\"", vec!["Acme Corp"]),
        ("\"corp acme\"", vec![]),
        ("anvils", vec!["Acme Corp"]),
        ("rockets anvils", vec!["Acme Corp"]),
        ("creme", vec!["Jean-Pierre Café"]),
        ("brulee", vec!["Jean-Pierre Café"]),
        ("cafe", vec!["Jean-Pierre Café"]),
        ("jean-pierre", vec!["Jean-Pierre Café"]),
        ("zoe", vec!["Jean-Pierre Café"]),
        ("john", vec!["Acme Corp"]),
        ("smith", vec!["Acme Corp"]),
        ("ceo", vec!["Acme Corp"]),
        ("acme.com", vec!["Acme Corp"]),
        ("john@acme.com", vec!["Acme Corp"]),
        ("paris", vec!["Acme Corp"]),
        ("14155550123", vec!["Acme Corp"]),
        ("pricing", vec!["Acme Corp", "Globex"]),
        ("tps", vec!["Initech"]),
        ("bonjour", vec!["Jean-Pierre Café"]),
        ("tasting", vec!["Jean-Pierre Café"]),
        ("latex", vec!["Vandelay Industries"]),
        ("nosuchword", vec![]),
        ("acme or globex", vec!["Acme Corp", "Globex"]),
        ("acme and globex", vec![]),
        (
            "-acme",
            vec![
                "Globex",
                "Initech",
                "Jean-Pierre Café",
                "Umbrella",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        (
            "not acme not globex",
            vec![
                "Initech",
                "Jean-Pierre Café",
                "Umbrella",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        ("(acme or globex) status:cold", vec!["Acme Corp", "Globex"]),
        ("status:cold", vec!["Acme Corp", "Globex"]),
        ("status:COLD", vec!["Acme Corp", "Globex"]),
        ("status:hot", vec!["Initech"]),
        ("status:\"bad fit\"", vec!["Nameless Co"]),
        (
            "-status:cold",
            vec![
                "Initech",
                "Jean-Pierre Café",
                "Umbrella",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        ("status:cold or status:hot", vec!["Acme Corp", "Globex", "Initech"]),
        ("name:acme", vec!["Acme Corp"]),
        ("name:corp", vec!["Acme Corp"]),
        ("name:anvils", vec![]),
        ("description:anvils", vec!["Acme Corp"]),
        ("url:vandelay", vec!["Vandelay Industries"]),
        ("url:*", vec!["Acme Corp", "Vandelay Industries"]),
        (
            "not url:*",
            vec!["Globex", "Initech", "Jean-Pierre Café", "Umbrella", "Nameless Co"],
        ),
        ("city:paris", vec!["Acme Corp"]),
        ("country:fr", vec!["Acme Corp"]),
        ("has:address", vec!["Acme Corp"]),
        ("contact_name:hank", vec!["Globex"]),
        ("title:vp", vec!["Initech"]),
        ("email:acme.com", vec!["Acme Corp"]),
        ("email:globex.com", vec!["Globex"]),
        (
            "has:email",
            vec!["Acme Corp", "Globex", "Jean-Pierre Café", "Vandelay Industries"],
        ),
        (
            "has:phone",
            vec!["Acme Corp", "Jean-Pierre Café", "Vandelay Industries"],
        ),
        ("phone:415", vec!["Acme Corp"]),
        ("phone:5550199", vec!["Vandelay Industries"]),
        ("phone:33142", vec!["Jean-Pierre Café"]),
        ("contacts:0", vec!["Umbrella", "Nameless Co"]),
        ("contacts:2", vec!["Initech"]),
        ("contacts > 1", vec!["Initech"]),
        (
            "contacts >= 1",
            vec![
                "Acme Corp",
                "Globex",
                "Initech",
                "Jean-Pierre Café",
                "Vandelay Industries",
            ],
        ),
        (
            "calls:0",
            vec![
                "Acme Corp",
                "Initech",
                "Jean-Pierre Café",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        ("calls > 0", vec!["Globex", "Umbrella"]),
        ("has:calls", vec!["Globex", "Umbrella"]),
        ("emails:1", vec!["Acme Corp", "Globex"]),
        ("notes > 0", vec!["Initech", "Vandelay Industries"]),
        ("sms:1", vec!["Jean-Pierre Café"]),
        ("meetings:1", vec!["Jean-Pierre Café"]),
        ("opportunities:2", vec!["Initech"]),
        ("has:opportunities", vec!["Acme Corp", "Initech"]),
        ("tasks:1", vec!["Acme Corp", "Umbrella"]),
        (
            "called:never",
            vec![
                "Acme Corp",
                "Initech",
                "Jean-Pierre Café",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        ("status:cold called:never", vec!["Acme Corp"]),
        (
            "status:cold called:never email_opened < \"3 days ago\"",
            vec!["Acme Corp"],
        ),
        ("email_opened < \"3 days ago\"", vec!["Acme Corp"]),
        ("email_opened > \"3 days ago\"", vec!["Globex"]),
        (
            "email_opened:never",
            vec![
                "Initech",
                "Jean-Pierre Café",
                "Umbrella",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        ("last_called < \"1 week ago\"", vec!["Globex"]),
        ("last_called > \"1 week ago\"", vec!["Umbrella"]),
        ("last_called < \"3 days ago\"", vec!["Globex"]),
        ("last_note < \"1 day ago\"", vec!["Vandelay Industries"]),
        ("last_note > \"30 days ago\"", vec!["Initech"]),
        ("last_activity < \"2 hours ago\"", vec!["Jean-Pierre Café"]),
        ("last_activity:never", vec!["Nameless Co"]),
        ("created:today", ALL.to_vec()),
        ("created < 2020-01-01", vec![]),
        ("created > 2020-01-01", ALL.to_vec()),
        ("updated:yesterday", vec![]),
        ("call(duration > 60)", vec!["Globex"]),
        ("call(duration > 60 direction:inbound)", vec![]),
        ("call(direction:inbound)", vec!["Umbrella"]),
        ("call(status:no-answer)", vec!["Umbrella"]),
        ("call(pricing)", vec!["Globex"]),
        ("note(tps)", vec!["Initech"]),
        ("note(pricing)", vec![]),
        ("email(subject:pricing)", vec!["Acme Corp"]),
        ("email(opened < \"3 days ago\")", vec!["Acme Corp"]),
        ("sms(direction:inbound)", vec!["Jean-Pierre Café"]),
        ("meeting(title:tasting)", vec!["Jean-Pierre Café"]),
        ("contact(name:john title:ceo)", vec!["Acme Corp"]),
        ("contact(name:peter title:vp)", vec![]),
        ("contact(name:bill title:vp)", vec!["Initech"]),
        (
            "-contact(title:vp)",
            vec![
                "Acme Corp",
                "Globex",
                "Jean-Pierre Café",
                "Umbrella",
                "Vandelay Industries",
                "Nameless Co",
            ],
        ),
        ("opportunity(status:won)", vec!["Acme Corp"]),
        ("opportunity(status_type:lost)", vec!["Initech"]),
        ("opportunity(value > 1000)", vec!["Acme Corp", "Initech"]),
        ("opportunity(value > 1000 status_type:lost)", vec![]),
        ("opportunity(value < 100)", vec!["Initech"]),
        ("opportunity_value >= 5000", vec!["Acme Corp"]),
        ("opportunity_value >= 1234.50", vec!["Acme Corp"]),
        ("opportunity_status_type:active", vec!["Initech"]),
        ("opportunity_status:lost", vec!["Initech"]),
        ("opportunity_confidence:100", vec!["Acme Corp"]),
        ("task(done:yes)", vec!["Umbrella"]),
        ("task(text:contract)", vec!["Acme Corp"]),
        ("task_due < \"this month\"", vec![]),
        ("has:tasks -task(done:no)", vec!["Umbrella"]),
        ("\"custom.Lead Source\":web", vec!["Acme Corp"]),
        (
            "\"custom.lead source\":referral or \"custom.Lead Source\":event",
            vec!["Globex", "Vandelay Industries"],
        ),
        (source_by_id.as_str(), vec!["Acme Corp"]),
        (
            "\"custom.Lead Source\":*",
            vec!["Acme Corp", "Globex", "Vandelay Industries"],
        ),
        ("custom.seats > 20", vec!["Acme Corp", "Initech"]),
        (seats_by_id.as_str(), vec!["Acme Corp", "Globex"]),
        ("created_by:me", ALL.to_vec()),
        ("created_by:admin@test.example", ALL.to_vec()),
    ]
    .into_iter()
    .map(|(q, names)| (q.to_string(), names))
    .collect();
    assert!(cases.len() >= 80, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (query, expected) in &cases {
        let mut got = search(s, query);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|n| n.to_string()).collect();
        want.sort();
        if got != want {
            failures.push(format!("{query:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Ordered queries: the order itself is the answer.
    let sorted: &[(&str, &[&str])] = &[
        (
            "sort:name",
            &[
                "Acme Corp",
                "Globex",
                "Initech",
                "Jean-Pierre Café",
                "Nameless Co",
                "Umbrella",
                "Vandelay Industries",
            ],
        ),
        ("status:cold sort:-name", &["Globex", "Acme Corp"]),
        ("has:calls sort:last_called", &["Umbrella", "Globex"]),
        ("has:calls sort:-last_called", &["Globex", "Umbrella"]),
        (
            "contacts > 0 sort:-contacts sort:name",
            &[
                "Initech",
                "Acme Corp",
                "Globex",
                "Jean-Pierre Café",
                "Vandelay Industries",
            ],
        ),
        ("custom.seats:* sort:-custom.seats", &["Initech", "Acme Corp", "Globex"]),
    ];
    for (query, expected) in sorted {
        assert_eq!(search(s, query), *expected, "{query}");
    }
}

fn smart_views(backend: Backend) {
    let Some(f) = fixture(backend, "smart_views") else {
        return;
    };
    let s = &f.server;
    let cold = s
        .post("saved_search/", json!({"name": "Cold leads", "query": "status:cold"}))
        .ok();
    assert_eq!(cold["is_shared"], false);
    assert_eq!(cold["user_id"], s.get("me/").ok()["id"]);
    let never = s
        .post(
            "saved_search/",
            json!({"name": "Never called", "query": "in:\"cold leads\" called:never", "is_shared": true}),
        )
        .ok();
    assert_eq!(search(s, "in:\"Never called\""), ["Acme Corp"]);
    assert_eq!(search(s, &format!("in:{}", cold["id"].as_str().unwrap())).len(), 2);
    // A cycle is refused when it would be saved.
    let cycle = s.put(
        &format!("saved_search/{}/", cold["id"].as_str().unwrap()),
        json!({"query": "in:\"never called\""}),
    );
    assert_eq!(cycle.status, 400, "{}", cycle.body);
    let message = cycle.body["field-errors"]["query"].as_str().unwrap();
    assert!(
        message.contains("includes itself: Never called → Cold leads → Never called"),
        "{message}"
    );
    let bad = s.post("saved_search/", json!({"name": "Typo", "query": "staus:cold"}));
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["field-errors"]["query"]
            .as_str()
            .unwrap()
            .starts_with("unknown field `staus`; did you mean `status`?"),
        "{}",
        bad.body
    );
    // A view that another uses cannot go.
    let refused = s.delete(&format!("saved_search/{}/", cold["id"].as_str().unwrap()));
    assert_eq!(refused.status, 400);
    assert!(
        refused.body["error"].as_str().unwrap().contains("Never called"),
        "{}",
        refused.body
    );
    assert_eq!(s.get("saved_search/").ok()["total_results"], 2);
    // Another member does not see a private view, nor its events, but sees the shared one.
    let member = s.new_member("member@test.example", "member");
    let views: Vec<String> = s.get_as(&member, "saved_search/").ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(views, ["Never called"]);
    assert_eq!(
        s.get_as(&member, &format!("saved_search/{}/", cold["id"].as_str().unwrap()))
            .status,
        404
    );
    let events = s.get_as(&member, "event/?object_type=saved_search").ok();
    let names: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Never called"], "the private view's events are hidden too");
    let not_theirs = s.request(
        "DELETE",
        &format!("saved_search/{}/", never["id"].as_str().unwrap()),
        Some(&member),
        None,
        &[],
    );
    assert_eq!(
        not_theirs.status, 403,
        "only the owner or an admin changes a shared view"
    );
    // A private view of the member is counted, not named, when it blocks a deletion.
    let hot = s
        .post(
            "saved_search/",
            json!({"name": "Hot", "query": "status:hot", "is_shared": true}),
        )
        .ok();
    let mine = s
        .post_as(&member, "saved_search/", json!({"name": "Mine", "query": "in:hot"}))
        .ok();
    let blocked = s.delete(&format!("saved_search/{}/", hot["id"].as_str().unwrap()));
    assert_eq!(
        blocked.body["error"],
        "this Smart View is used by a private Smart View of another user with `in:`; change them first"
    );
    let other = s.new_organization("Other", "other@test.example");
    assert_eq!(
        s.get_as(&other, "saved_search/").ok()["total_results"],
        0,
        "other organizations see none"
    );
    s.delete(&format!("saved_search/{}/", never["id"].as_str().unwrap()))
        .ok();
    s.delete(&format!("saved_search/{}/", cold["id"].as_str().unwrap()))
        .ok();
    let mine = format!("saved_search/{}/", mine["id"].as_str().unwrap());
    assert_eq!(s.request("DELETE", &mine, Some(&member), None, &[]).status, 200);
    s.delete(&format!("saved_search/{}/", hot["id"].as_str().unwrap())).ok();
    assert_eq!(s.get("saved_search/").ok()["total_results"], 0);
}

fn search_errors_answer_with_a_span_and_a_hint(backend: Backend) {
    let Some(f) = fixture(backend, "search_errors_answer_with_a_span_and_a_hint") else {
        return;
    };
    let s = &f.server;
    let cases: &[(&str, &str, [u64; 2])] = &[
        ("staus:cold", "unknown field `staus`; did you mean `status`?", [0, 5]),
        ("calls > many", "`calls` takes a number, not `many`", [8, 12]),
        ("name:\"acme", "unclosed quote", [5, 10]),
        ("(acme", "unclosed parenthesis", [0, 1]),
        ("status:frozen", "unknown status", [7, 13]),
        ("sort:description acme", "", [0, 0]),
    ];
    for (query, message, _span) in cases {
        let encoded: String = query.bytes().map(|b| format!("%{b:02X}")).collect();
        let answer = s.get(&format!("lead/?query={encoded}"));
        if message.is_empty() {
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            continue;
        }
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        let error = answer.body["error"].as_str().unwrap();
        assert!(
            error.to_lowercase().contains(&message.to_lowercase()),
            "{query}: {error}"
        );
        let span = answer.body["span"].as_array().unwrap();
        let (start, end) = (span[0].as_u64().unwrap() as usize, span[1].as_u64().unwrap() as usize);
        assert!(start <= end && end <= query.len(), "{query}: span {span:?}");
        assert!(answer.body.get("hint").is_some(), "{query}: {}", answer.body);
    }
    let mixed = s.get("lead/?query=acme&status_id=x");
    assert_eq!(mixed.status, 400);
    let tz = s.request(
        "GET",
        "lead/?query=created%3Atoday",
        Some(&s.api_key),
        None,
        &[("X-TZ-Offset", "lunch")],
    );
    assert_eq!(tz.status, 400);
    assert!(tz.body["field-errors"]["X-TZ-Offset"].is_string());
}

fn parse_and_json_forms(backend: Backend) {
    let Some(f) = fixture(backend, "parse_and_json_forms") else {
        return;
    };
    let s = &f.server;
    let parsed = s
        .get("query/parse?query=status%3Acold%20called%3Anever%20email_opened%20%3C%20%223%20days%20ago%22")
        .ok();
    assert_eq!(parsed["text"], "status:cold called:never email_opened<\"3 days ago\"");
    assert_eq!(parsed["query"]["query"]["type"], "and");
    let explanation = parsed["explanation"].as_str().unwrap();
    assert!(
        !explanation.contains("3 days ago"),
        "relative dates are resolved: {explanation}"
    );
    // The JSON form finds what the string form finds.
    let body = json!({"query": parsed["query"]["query"], "_limit": 1, "_fields": ["name"]});
    let page = s.post("data/search/", body).ok();
    assert_eq!(page["data"], json!([{"name": "Acme Corp"}]));
    assert_eq!(page["total_results"], 1);
    let two = json!({"query": {"type": "field", "field": "status", "op": ":", "value": "cold"}, "sort": [{"field": "name", "direction": "desc"}], "_limit": 1});
    let first = s.post("data/search/", two.clone()).ok();
    assert_eq!(first["data"][0]["name"], "Globex");
    let mut next = two;
    next["cursor"] = first["cursor"].clone();
    let second = s.post("data/search/", next).ok();
    assert_eq!(second["data"][0]["name"], "Acme Corp");
    assert_eq!(second["has_more"], false);
    let close_form =
        json!({"query": {"type": "text", "value": "globex", "phrase": false}, "_fields": {"lead": ["id", "name"]}});
    let page = s.post("data/search/", close_form).ok();
    assert_eq!(
        page["data"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "name"]
    );
    let bad = s.post("data/search/", json!({"query": {"type": "nonsense"}}));
    assert_eq!(bad.status, 400);
    assert!(bad.body["error"].is_string());
}

fn every_write_is_visible_to_the_next_search(backend: Backend) {
    let Some(f) = fixture(backend, "every_write_is_visible_to_the_next_search") else {
        return;
    };
    let s = &f.server;
    let fresh = s.post("lead/", json!({"name": "Freshly Made", "status": "Hot"})).ok();
    assert_eq!(search(s, "freshly"), ["Freshly Made"]);
    assert_eq!(search(s, "status:hot sort:name"), ["Freshly Made", "Initech"]);
    let id = fresh["id"].as_str().unwrap();
    s.post("contact/", json!({"lead_id": id, "name": "Newly Added"})).ok();
    assert_eq!(search(s, "contact(name:newly)"), ["Freshly Made"]);
    s.post("activity/call/", json!({"lead_id": id, "duration": 999})).ok();
    assert_eq!(search(s, "call(duration > 900)"), ["Freshly Made"]);
    // A renamed status changes how every lead of the organization is found.
    let statuses = s.get("status/lead/").ok();
    let cold = statuses["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["label"] == "Cold")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.put(&format!("status/lead/{cold}/"), json!({"label": "Frozen"})).ok();
    assert_eq!(search(s, "status:frozen sort:name"), ["Acme Corp", "Globex"]);
    assert_eq!(
        s.get("lead/?query=status%3Acold").status,
        400,
        "the old label is no longer a status"
    );
    s.delete(&format!("lead/{id}/")).ok();
    assert!(search(s, "freshly").is_empty());
}

/// Two server processes on one database: what one writes, the other's next search finds
/// (on PostgreSQL its replica is woken by LISTEN/NOTIFY; on SQLite by its idle recheck).
fn a_write_on_one_node_is_found_on_another(backend: Backend) {
    let Some(mut f) = fixture(backend, "a_write_on_one_node_is_found_on_another") else {
        return;
    };
    let other = f.server.start_second_node();
    let s = &f.server;
    for i in 0..5 {
        let name = format!("Crossnode{i}");
        s.post("lead/", json!({"name": name})).ok();
        let url = format!("{other}/api/v1/lead/?query={}&_fields=name", name.to_lowercase());
        let found = s.get_as(&s.api_key, &url).ok();
        assert_eq!(
            found["data"],
            json!([{"name": name}]),
            "node 2 finds what node 1 just wrote"
        );
    }
    assert_eq!(search(s, "crossnode1"), ["Crossnode1"]);
}

fn completion_suggests_fields_and_values(backend: Backend) {
    let Some(f) = fixture(backend, "completion_suggests_fields_and_values") else {
        return;
    };
    let s = &f.server;
    let texts = |query: &str| -> Vec<String> {
        let encoded: String = query.bytes().map(|b| format!("%{b:02X}")).collect();
        let answer = s.get(&format!("query/complete/?query={encoded}")).ok();
        answer["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(texts("stat").contains(&"status:".to_string()), "{:?}", texts("stat"));
    assert_eq!(texts("status:co"), ["Cold"]);
    assert!(
        texts("\"custom.lead").iter().any(|t| t.contains("Lead Source")),
        "{:?}",
        texts("\"custom.lead")
    );
    assert!(texts("\"custom.Lead Source\":re").contains(&"Referral".to_string()));
    let mid = s.get("query/complete/?query=stat%20acme&cursor=2").ok();
    assert_eq!(mid["replace"], json!([0, 4]));
    assert_eq!(s.get("query/complete/?query=x&cursor=many").status, 400);
}

/// Security issue #16: a query past the limits (`rapport_query::MAX_*`) is answered 400
/// with the query error shape naming the limit, before the index runs any of it.
fn oversized_queries_are_refused_naming_the_limit(backend: Backend) {
    let Some(s) = TestServer::start(backend, "oversized_queries_are_refused_naming_the_limit") else {
        return;
    };
    s.post("lead/", json!({"name": "Acme Corp"})).ok();
    let get = |query: &str| {
        let encoded: String = query.bytes().map(|b| format!("%{b:02X}")).collect();
        s.get(&format!("lead/?query={encoded}"))
    };
    #[track_caller]
    fn refused(answer: common::Answer, message: &str, span: [usize; 2], limit: &str) {
        assert_eq!(answer.status, 400, "{}", answer.body);
        let body = answer.body.as_object().unwrap();
        assert_eq!(
            body.keys().collect::<Vec<_>>(),
            ["error", "span", "hint", "code"],
            "{answer:?}"
        );
        assert_eq!(answer.body["code"], "invalid_query");
        assert_eq!(answer.body["error"], message, "{}", answer.body);
        assert_eq!(answer.body["span"], json!(span), "{}", answer.body);
        let hint = answer.body["hint"].as_str().unwrap();
        assert!(hint.contains(limit), "the hint names the limit {limit}: {hint}");
    }

    // The review's query: 20,000 words in one `or`, in the JSON form (as a query string
    // it would not fit in a URL).
    let words: Vec<Value> = (0..20_000)
        .map(|i| json!({"type": "text", "value": format!("word{i}"), "phrase": false}))
        .collect();
    let body = json!({"query": {"type": "or", "queries": words}});
    assert!(body.to_string().len() > 900_000);
    refused(
        s.post("data/search/", body),
        "the query has more than 200 clauses",
        [0, 0],
        "at most 200 clauses",
    );
    // As a query string: 200 clauses are searched, the 201st is pointed at.
    let or = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" or ");
    assert_eq!(get(&or(200)).ok()["total_results"], 0);
    let past = or(201);
    let at = past.find("w200").unwrap();
    refused(
        get(&past),
        "the query has more than 200 clauses",
        [at, at + 4],
        "at most 200 clauses",
    );

    // A word of a thousand characters could never be found (the index's automaton holds
    // about a thousand bytes): it is refused clearly, not answered with nothing.
    let word = "a".repeat(1_000);
    refused(
        get(&format!("acme {word}")),
        &format!("`{}…` is longer than 256 characters", "a".repeat(20)),
        [5, 1_005],
        "at most 256 characters",
    );
    assert_eq!(get(&format!("acme {}", "a".repeat(256))).ok()["total_results"], 0);
    assert_eq!(get("acme").ok()["total_results"], 1);

    // The query string itself, and a Smart View's query when it is saved.
    let long = format!("acme{}", " ".repeat(10_000));
    refused(
        get(&long),
        "the query is longer than 10000 characters",
        [10_000, 10_004],
        "at most 10000 characters",
    );
    let view = s.post("saved_search/", json!({"name": "Too much", "query": or(201)}));
    assert_eq!(view.status, 400, "{}", view.body);
    let message = view.body["field-errors"]["query"].as_str().unwrap();
    assert!(
        message.starts_with("the query has more than 200 clauses at"),
        "{message}"
    );
    s.post("saved_search/", json!({"name": "Enough", "query": or(200)}))
        .ok();
}
