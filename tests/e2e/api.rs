//! The REST API end to end: the real binary, on SQLite and on PostgreSQL.

use crate::common;

use common::{Answer, Backend, TestServer};
use rapport_testkit::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(blocking:
    me_users_and_organization,
    leads_with_contacts_addresses_and_custom_fields,
    contacts_move_their_lead_and_make_one_when_missing,
    statuses_and_pipelines,
    opportunities,
    activities_of_every_kind,
    tasks,
    custom_field_values_are_checked_by_type,
    event_log_records_every_write,
    list_conventions,
    idempotency_keys,
    bad_input_is_answered_with_field_errors_and_stores_nothing,
    other_organizations_see_nothing,
    openapi_document_and_docs_page,
    rate_limit_answers_429_as_close_does,
    nul_characters_are_refused_and_the_log_stays_readable,
    every_text_is_bounded_and_refused_with_a_field_error,
    a_put_may_repeat_unchanged_create_only_fields,
    every_error_answer_carries_its_code,
);

/// Programs branch on `code`, never on the text: every error answer has one, from the
/// table in docs/errors.md.
fn every_error_answer_carries_its_code(backend: Backend) {
    let Some(s) = server(backend, "error_codes") else {
        return;
    };
    let member = s.new_member("mia@test.example", "member");
    let raw = |method: &str, path: &str, headers: &[(&str, &str)]| s.request(method, path, None, None, headers);
    let cases = [
        (s.get("lead/lead_missing/"), "not_found"),
        (s.get("no_such_route/"), "not_found"),
        (raw("GET", "lead/", &[]), "unauthorized"),
        (s.post("lead/", json!({"name": 3})), "invalid_input"),
        (s.get("lead/?query=stauts:potential"), "invalid_query"),
        (s.post_as(&member, "pipeline/", json!({"name": "P"})), "forbidden"),
        (s.request_raw("POST", "lead/", "not json"), "invalid_input"),
        (
            s.request("DELETE", "me/", Some(&s.api_key), None, &[]),
            "method_not_allowed",
        ),
        (
            s.request(
                "POST",
                "lead/",
                Some(&s.api_key),
                None,
                &[("Content-Type", "text/plain"), ("Content-Length", "0")],
            ),
            "invalid_input",
        ),
    ];
    for (answer, code) in cases {
        assert!(answer.status >= 400, "{}", answer.body);
        assert_eq!(answer.body["code"], code, "status {}: {}", answer.status, answer.body);
        assert!(
            rapport_api::CODES
                .iter()
                .any(|(_, name, status, _)| *name == code && *status == answer.status),
            "{code} {}",
            answer.status
        );
    }
    let status = s.post("status/lead/", json!({"label": "Hot"})).ok();
    s.post("lead/", json!({"name": "Uses Hot", "status_id": status["id"]}))
        .ok();
    let in_use = s.delete(&format!("status/lead/{}/", id(&status)));
    assert_eq!(
        (in_use.status, in_use.body["code"].as_str()),
        (400, Some("refused")),
        "{}",
        in_use.body
    );
}

/// Clients read an object and send it back: an unchanged `lead_id` is no change, a new
/// one is still refused.
fn a_put_may_repeat_unchanged_create_only_fields(backend: Backend) {
    let Some(s) = server(backend, "put_repeats_lead_id") else {
        return;
    };
    let lead = new_lead(&s, "Acme");
    let other = new_lead(&s, "Other");
    let task = s.post("task/", json!({"lead_id": id(&lead), "text": "Call back"})).ok();
    let path = format!("task/{}/", id(&task));
    let changed = s
        .put(&path, json!({"lead_id": id(&lead), "text": "Call back today"}))
        .ok();
    assert_eq!(changed["text"], "Call back today");
    assert_eq!(changed["lead_id"], lead["id"]);
    let moved = s.put(&path, json!({"lead_id": id(&other)}));
    assert_eq!(moved.status, 400);
    assert!(moved.body["field-errors"]["lead_id"].is_string(), "{}", moved.body);
    let note = s
        .post("activity/note/", json!({"lead_id": id(&lead), "note": "n"}))
        .ok();
    let back = s
        .put(
            &format!("activity/note/{}/", id(&note)),
            json!({"lead_id": id(&lead), "note": "m"}),
        )
        .ok();
    assert_eq!(back["note"], "m");
}

/// PostgreSQL stores no NUL in text and parses no `\u0000` as JSON: one rule refuses it
/// everywhere, with the field's path, and nothing is stored.
fn nul_characters_are_refused_and_the_log_stays_readable(backend: Backend) {
    let Some(s) = server(backend, "nul_refused") else {
        return;
    };
    let lead = new_lead(&s, "Plain");
    let cases = [
        (
            "saved_search/",
            json!({"name": "Cold\u{0}", "query": "status:potential"}),
            "name",
        ),
        ("website/", json!({"name": "Shop\u{0}"}), "name"),
        (
            "lead/",
            json!({"name": "Acme", "contacts": [{"name": "Jo\u{0}"}]}),
            "contacts[0].name",
        ),
        (
            "activity/note/",
            json!({"lead_id": lead["id"], "note": "a\u{0}b"}),
            "note",
        ),
    ];
    for (path, body, field) in cases {
        let refused = s.post(path, body);
        assert_eq!(refused.status, 400, "{path}: {}", refused.body);
        let message = refused.body["field-errors"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {}", refused.body));
        assert!(message.contains("NUL"), "{message}");
    }
    let renamed = s.put(&format!("lead/{}/", id(&lead)), json!({"name": "x\u{0}"}));
    assert_eq!(renamed.status, 400);
    let draft = s.request(
        "PUT",
        "draft/k/",
        Some(&s.api_key),
        Some(&json!({"body": "\u{0}"})),
        &[],
    );
    assert_eq!(draft.status, 400, "{}", draft.body);
    let events = s.get("event/?_limit=100").ok();
    assert!(!events["data"].as_array().unwrap().is_empty());
    assert_eq!(
        s.get("saved_search/").ok()["data"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

fn every_text_is_bounded_and_refused_with_a_field_error(backend: Backend) {
    let Some(s) = server(backend, "texts_bounded") else {
        return;
    };
    let long = |n: usize| "x".repeat(n);
    let email = format!("{}@example.com", long(12_000));
    let cases = [
        ("user/", json!({"email": email, "password": "long enough"}), "email"),
        (
            "lead/",
            json!({"name": "A", "contacts": [{"emails": [{"email": email}]}]}),
            "contacts[0].emails[0].email",
        ),
        (
            "webhook/",
            json!({"url": format!("https://hooks.example/{}", long(3_000)), "events": [{"object_type": "lead", "action": "created"}]}),
            "url",
        ),
        ("lead/", json!({"name": long(600)}), "name"),
        (
            "lead/",
            json!({"name": "A", "url": format!("https://a.example/{}", long(3_000))}),
            "url",
        ),
        (
            "website/",
            json!({"name": "S", "allowed_origins": [format!("https://{}.example", long(600))]}),
            "allowed_origins[0]",
        ),
        (
            "custom_field/lead/",
            json!({"name": "Tier", "type": "choices", "choices": vec!["c"; 1_001]}),
            "choices",
        ),
        (
            "custom_field/lead/",
            json!({"name": "Tier", "type": "choices", "choices": [long(501)]}),
            "choices[0]",
        ),
    ];
    for (path, body, field) in cases {
        let refused = s.post(path, body);
        assert_eq!(refused.status, 400, "{path}: {}", refused.body);
        assert!(
            refused.body["field-errors"][field].is_string(),
            "{field} in {}",
            refused.body
        );
        assert!(
            refused.body.to_string().len() < 2_000,
            "the answer does not echo the value: {}",
            refused.body
        );
    }
    let org = s.get("me/").ok()["organization_id"].as_str().unwrap().to_string();
    let renamed = s.put(&format!("organization/{org}/"), json!({"name": long(201)}));
    assert!(renamed.body["field-errors"]["name"].is_string(), "{}", renamed.body);
    let skip = s.get("lead/?_skip=99999999999");
    assert_eq!(skip.status, 400);
    assert!(skip.body["field-errors"]["_skip"].is_string());
    // A user's drafts are bounded in number.
    for i in 0..rapport_crm::MAX_DRAFTS {
        let saved = s.request(
            "PUT",
            &format!("draft/d{i}/"),
            Some(&s.api_key),
            Some(&json!({"body": "x"})),
            &[],
        );
        assert_eq!(saved.status, 200, "{}", saved.body);
    }
    let over = s.request(
        "PUT",
        "draft/one-more/",
        Some(&s.api_key),
        Some(&json!({"body": "x"})),
        &[],
    );
    assert_eq!(over.status, 400, "{}", over.body);
    let again = s.request("PUT", "draft/d0/", Some(&s.api_key), Some(&json!({"body": "y"})), &[]);
    assert_eq!(again.status, 200, "an existing draft is still saved");
    assert_eq!(
        s.get("lead/").ok()["data"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

fn server(backend: Backend, test: &str) -> Option<TestServer> {
    TestServer::start(backend, test)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(id).collect()
}

fn new_lead(s: &TestServer, name: &str) -> Value {
    s.post("lead/", json!({"name": name})).ok()
}

fn me_users_and_organization(backend: Backend) {
    let Some(s) = server(backend, "me_users_and_organization") else {
        return;
    };
    let me = s.get("me/").ok();
    assert_eq!(me["email"], "admin@test.example");
    let org_id = me["organization_id"].as_str().unwrap().to_string();
    assert_eq!(me["organizations"][0]["id"], org_id.as_str());
    let users = s.get("user/").ok();
    assert_eq!(users["total_results"], 1);
    assert_eq!(users["data"][0]["id"], me["id"]);
    assert_eq!(s.get(&format!("user/{}/", id(&me))).ok()["email"], "admin@test.example");
    assert_eq!(s.get("user/user_missing/").status, 404);

    let org = s.get(&format!("organization/{org_id}/")).ok();
    let lead_statuses: Vec<&str> = org["lead_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(lead_statuses, ["Potential", "Bad Fit", "Qualified", "Customer"]);
    let opp_statuses: Vec<(&str, &str)> = org["opportunity_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["label"].as_str().unwrap(), s["status_type"].as_str().unwrap()))
        .collect();
    assert_eq!(opp_statuses, [("Active", "active"), ("Won", "won"), ("Lost", "lost")]);
    let renamed = s
        .put(&format!("organization/{org_id}/"), json!({"name": "Acme Sales"}))
        .ok();
    assert_eq!(renamed["name"], "Acme Sales");
    assert_eq!(s.get(&format!("organization/{org_id}")).ok()["name"], "Acme Sales");
    let bad = s.put(&format!("organization/{org_id}/"), json!({"name": "", "plan": "gold"}));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["field-errors"]["plan"],
        "unknown or read-only field for an organization"
    );

    assert_eq!(s.request("GET", "me/", None, None, &[]).status, 401);
    let wrong = s.request("GET", "me/", Some("api_not_a_key"), None, &[]);
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"], "invalid API key");
    assert!(wrong.header("www-authenticate").unwrap().starts_with("Basic"));
}

fn leads_with_contacts_addresses_and_custom_fields(backend: Backend) {
    let Some(s) = server(backend, "leads_with_contacts_addresses_and_custom_fields") else {
        return;
    };
    let source = s
        .post(
            "custom_field/lead/",
            json!({"name": "Lead Source", "type": "choices", "choices": ["Web", "Referral"]}),
        )
        .ok();
    let seats = s
        .post("custom_field/lead/", json!({"name": "Seats", "type": "number"}))
        .ok();
    let lead = s
        .post(
            "lead/",
            json!({
                "name": "Acme Corp", "url": "acme.com", "description": "Anvils", "status": "qualified",
                "contacts": [
                    {"name": "Jo Doe", "title": "CEO", "emails": [{"email": "jo@acme.com", "type": "office"}], "phones": [{"phone": "(415) 555-0123", "type": "mobile"}]},
                    {"name": "Al", "urls": [{"url": "https://al.example.com"}]}
                ],
                "addresses": [{"label": "business", "address_1": "1 Main St", "city": "Paris", "zipcode": "75001", "country": "FR"}],
                format!("custom.{}", id(&source)): "web",
                format!("custom.{}", id(&seats)): 12,
                "date_created": "2020-01-02T03:04:05+00:00",
            }),
        )
        .ok();
    let lead_id = id(&lead);
    assert!(lead_id.starts_with("lead_"));
    assert_eq!(lead["url"], "http://acme.com");
    assert_eq!(lead["status_label"], "Qualified");
    assert_eq!(lead["date_created"], "2020-01-02T03:04:05.000000+00:00");
    assert_eq!(lead[format!("custom.{}", id(&source))], "Web");
    assert_eq!(lead[format!("custom.{}", id(&seats))], 12);
    assert_eq!(lead["addresses"][0]["city"], "Paris");
    assert_eq!(lead["contacts"].as_array().unwrap().len(), 2);
    assert_eq!(lead["contacts"][0]["phones"][0]["phone"], "+14155550123");
    assert_eq!(lead["contacts"][0]["lead_id"], lead_id.as_str());
    assert_eq!(lead["created_by"], s.get("me/").ok()["id"]);

    let read = s.get(&format!("lead/{lead_id}/")).ok();
    assert_eq!(read, lead);
    let projected = s.get(&format!("lead/{lead_id}/?_fields=id,name")).ok();
    assert_eq!(projected, json!({"id": lead_id, "name": "Acme Corp"}));

    let updated = s
        .put(
            &format!("lead/{lead_id}/"),
            json!({"name": "Acme Inc", format!("custom.{}", id(&seats)): null}),
        )
        .ok();
    assert_eq!(updated["name"], "Acme Inc");
    assert_eq!(updated["description"], "Anvils", "fields not sent stay");
    assert!(updated.get(format!("custom.{}", id(&seats))).is_none());
    assert!(updated["date_updated"].as_str() > lead["date_updated"].as_str());
    assert_eq!(s.get(&format!("lead/{lead_id}")).ok()["name"], "Acme Inc");

    // Deleting a lead takes its contacts, activities and opportunities along.
    let contact_id = id(&lead["contacts"][0]);
    let note = s
        .post("activity/note/", json!({"lead_id": lead_id, "note": "hello"}))
        .ok();
    assert_eq!(s.delete(&format!("lead/{lead_id}/")).ok(), json!({}));
    assert_eq!(s.get(&format!("lead/{lead_id}/")).status, 404);
    assert_eq!(s.get(&format!("contact/{contact_id}/")).status, 404);
    assert_eq!(s.get(&format!("activity/note/{}/", id(&note))).status, 404);
    assert_eq!(s.delete(&format!("lead/{lead_id}/")).status, 404);
}

fn contacts_move_their_lead_and_make_one_when_missing(backend: Backend) {
    let Some(s) = server(backend, "contacts_move_their_lead_and_make_one_when_missing") else {
        return;
    };
    let lead = new_lead(&s, "Globex");
    let lead_id = id(&lead);
    let contact = s.post("contact/", json!({"lead_id": lead_id, "name": "Hank", "emails": [{"email": "hank@globex.com"}], "phones": [{"phone": "+44 20 7946 0958"}]})).ok();
    assert_eq!(contact["phones"][0]["phone"], "+442079460958");
    assert_eq!(contact["display_name"], "Hank");
    let after_add = s.get(&format!("lead/{lead_id}")).ok();
    assert!(
        after_add["date_updated"].as_str() > lead["date_updated"].as_str(),
        "a new contact moves the lead's date_updated"
    );
    assert_eq!(after_add["contacts"][0]["id"], contact["id"]);

    let changed = s
        .put(
            &format!("contact/{}/", id(&contact)),
            json!({"title": "VP", "emails": []}),
        )
        .ok();
    assert_eq!(changed["title"], "VP");
    assert_eq!(changed["emails"], json!([]));
    let after_change = s.get(&format!("lead/{lead_id}")).ok();
    assert!(after_change["date_updated"].as_str() > after_add["date_updated"].as_str());
    assert_eq!(after_change["contacts"][0]["title"], "VP");

    let listed = s.get(&format!("contact/?lead_id={lead_id}")).ok();
    assert_eq!(ids(&listed), [id(&contact)]);

    // A contact without a lead gets a new lead named after it, as Close does.
    let orphan = s.post("contact/", json!({"name": "Solo Person"})).ok();
    let made = s.get(&format!("lead/{}", orphan["lead_id"].as_str().unwrap())).ok();
    assert_eq!(made["name"], "Solo Person");
    assert_eq!(made["contacts"][0]["id"], orphan["id"]);

    let moved = s.put(&format!("contact/{}/", id(&contact)), json!({"lead_id": id(&made)}));
    assert_eq!(moved.status, 400);
    assert_eq!(
        moved.body["field-errors"]["lead_id"],
        "this field cannot be changed after creation"
    );

    s.delete(&format!("contact/{}/", id(&contact))).ok();
    let after_delete = s.get(&format!("lead/{lead_id}")).ok();
    assert_eq!(after_delete["contacts"], json!([]));
    assert!(after_delete["date_updated"].as_str() > after_change["date_updated"].as_str());
}

fn statuses_and_pipelines(backend: Backend) {
    let Some(s) = server(backend, "statuses_and_pipelines") else {
        return;
    };
    let cold = s.post("status/lead/", json!({"label": "Cold"})).ok();
    assert!(id(&cold).starts_with("stat_"));
    let dup = s.post("status/lead/", json!({"label": "cold"}));
    assert_eq!(dup.status, 400);
    assert_eq!(
        dup.body["field-errors"]["label"],
        "a lead status with this label already exists"
    );
    let lead = s.post("lead/", json!({"name": "Initech", "status_id": id(&cold)})).ok();
    assert_eq!(lead["status_label"], "Cold");
    let renamed = s
        .put(&format!("status/lead/{}/", id(&cold)), json!({"label": "Frozen"}))
        .ok();
    assert_eq!(renamed["label"], "Frozen");
    assert_eq!(
        s.get(&format!("lead/{}", id(&lead))).ok()["status_label"],
        "Frozen",
        "labels are resolved at read time"
    );
    let in_use = s.delete(&format!("status/lead/{}/", id(&cold)));
    assert_eq!(in_use.status, 400);
    assert_eq!(
        in_use.body["error"],
        "this lead status is used by 1 lead; move them to another first"
    );
    assert_eq!(s.get("status/lead/").ok()["total_results"], 5);

    let pipeline = s.post("pipeline/", json!({"name": "Renewals"})).ok();
    let pending = s
        .post(
            "status/opportunity/",
            json!({"label": "Pending", "status_type": "active", "pipeline_id": id(&pipeline)}),
        )
        .ok();
    assert_eq!(pending["pipeline_id"], pipeline["id"]);
    let signed = s
        .post(
            "status/opportunity/",
            json!({"label": "Signed", "status_type": "won", "pipeline_id": id(&pipeline)}),
        )
        .ok();
    let read = s.get(&format!("pipeline/{}/", id(&pipeline))).ok();
    let labels: Vec<&str> = read["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Pending", "Signed"]);
    let refused = s.delete(&format!("pipeline/{}/", id(&pipeline)));
    assert_eq!(refused.status, 400);
    s.delete(&format!("status/opportunity/{}/", id(&pending))).ok();
    s.delete(&format!("status/opportunity/{}/", id(&signed))).ok();
    s.delete(&format!("pipeline/{}/", id(&pipeline))).ok();
    assert_eq!(s.get("pipeline/").ok()["total_results"], 1);
    let bad_type = s.post(
        "status/opportunity/",
        json!({"label": "Maybe", "status_type": "perhaps"}),
    );
    assert_eq!(
        bad_type.body["field-errors"]["status_type"],
        "`perhaps` is not one of active, won, lost"
    );
    s.put(&format!("lead/{}/", id(&lead)), json!({"status": "Potential"}))
        .ok();
    s.delete(&format!("status/lead/{}/", id(&cold))).ok();
    assert_eq!(s.get(&format!("status/lead/{}/", id(&cold))).status, 404);
}

fn opportunities(backend: Backend) {
    let Some(s) = server(backend, "opportunities") else {
        return;
    };
    let lead = new_lead(&s, "Umbrella");
    let opp = s
        .post("opportunity/", json!({"lead_id": id(&lead), "status": "Active", "value": 500000, "value_period": "annual", "confidence": 60, "close_date": "2025-03-31", "note": "Big one"}))
        .ok();
    assert_eq!(opp["status_type"], "active");
    assert_eq!(opp["value"], 500000);
    assert_eq!(opp["user_id"], s.get("me/").ok()["id"]);
    assert_eq!(opp["user_name"], "Admin");
    let won = s
        .put(
            &format!("opportunity/{}/", id(&opp)),
            json!({"status": "won", "confidence": 100}),
        )
        .ok();
    assert_eq!(won["status_label"], "Won");
    assert_eq!(won["status_type"], "won");
    let other = s
        .post("opportunity/", json!({"lead_id": id(&lead), "value": 1000}))
        .ok();
    assert_eq!(
        other["status_label"], "Active",
        "the first active status is the default"
    );
    assert_eq!(ids(&s.get("opportunity/?status_type=won").ok()), [id(&opp)]);
    assert_eq!(
        ids(&s
            .get(&format!("opportunity/?lead_id={}&_order_by=value", id(&lead)))
            .ok()),
        [id(&other), id(&opp)]
    );
    let unknown = s.post("opportunity/", json!({"lead_id": id(&lead), "status": "Maybe"}));
    assert_eq!(
        unknown.body["field-errors"]["status"],
        "unknown opportunity status `Maybe`; valid ones: Active, Won, Lost"
    );
    s.delete(&format!("opportunity/{}/", id(&other))).ok();
    assert_eq!(s.get("opportunity/").ok()["total_results"], 1);
    // New opportunities do not move the lead's date_updated.
    assert_eq!(
        s.get(&format!("lead/{}", id(&lead))).ok()["date_updated"],
        lead["date_updated"]
    );
}

fn activities_of_every_kind(backend: Backend) {
    let Some(s) = server(backend, "activities_of_every_kind") else {
        return;
    };
    let lead = new_lead(&s, "Hooli");
    let lead_id = id(&lead);
    let contact = s.post("contact/", json!({"lead_id": lead_id, "name": "Gavin"})).ok();
    let lead = s.get(&format!("lead/{lead_id}")).ok();
    let cases = [
        ("note", json!({"note": "Met at the fair"}), "Note"),
        (
            "call",
            json!({"direction": "inbound", "duration": 300, "note": "Pricing", "status": "completed", "contact_id": id(&contact)}),
            "Call",
        ),
        (
            "email",
            json!({"subject": "Hello", "body_text": "Hi Gavin", "to": ["gavin@hooli.com"], "opens": [{"opened_at": "2024-05-02T10:00:00Z"}]}),
            "Email",
        ),
        ("sms", json!({"text": "Ping", "direction": "outbound"}), "SMS"),
        (
            "meeting",
            json!({"title": "Demo", "starts_at": "2024-06-01T15:00:00Z", "ends_at": "2024-06-01T16:00:00Z"}),
            "Meeting",
        ),
    ];
    let mut created = Vec::new();
    for (path, mut body, ty) in cases {
        body["lead_id"] = lead_id.clone().into();
        let activity = s.post(&format!("activity/{path}/"), body).ok();
        assert_eq!(activity["_type"], ty);
        assert_eq!(activity["lead_id"], lead_id.as_str());
        assert!(id(&activity).starts_with("acti_"));
        let read = s.get(&format!("activity/{path}/{}/", id(&activity))).ok();
        assert_eq!(read, activity);
        created.push((path, activity));
    }
    let (_, meeting) = &created[4];
    assert_eq!(
        meeting["activity_at"], "2024-06-01T15:00:00.000000+00:00",
        "a meeting happens when it starts"
    );
    let (_, email) = &created[2];
    assert_eq!(email["direction"], "outgoing");
    assert_eq!(email["status"], "sent");
    assert_eq!(email["opens"][0]["opened_at"], "2024-05-02T10:00:00.000000+00:00");
    let all = s.get(&format!("activity/?lead_id={lead_id}")).ok();
    assert_eq!(all["total_results"], 5);
    let calls = s.get(&format!("activity/?lead_id={lead_id}&_type=Call")).ok();
    assert_eq!(ids(&calls), [id(&created[1].1)]);
    assert_eq!(s.get("activity/call/").ok()["total_results"], 1);
    // An activity id under another kind's path is not found.
    assert_eq!(s.get(&format!("activity/note/{}/", id(&created[1].1))).status, 404);
    let edited = s
        .put(
            &format!("activity/call/{}/", id(&created[1].1)),
            json!({"duration": 420}),
        )
        .ok();
    assert_eq!(edited["duration"], 420);
    assert_eq!(edited["note"], "Pricing");
    let wrong_contact = s.post(
        "activity/note/",
        json!({"lead_id": new_lead(&s, "Other")["id"], "contact_id": id(&contact), "note": "x"}),
    );
    assert_eq!(
        wrong_contact.body["field-errors"]["contact_id"],
        format!("no contact with id `{}` on this lead", id(&contact))
    );
    for (path, activity) in &created {
        s.delete(&format!("activity/{path}/{}/", id(activity))).ok();
    }
    assert_eq!(s.get(&format!("activity/?lead_id={lead_id}")).ok()["total_results"], 0);
    assert_eq!(
        s.get(&format!("lead/{lead_id}")).ok()["date_updated"],
        lead["date_updated"],
        "activities do not move the lead"
    );
}

fn tasks(backend: Backend) {
    let Some(s) = server(backend, "tasks") else {
        return;
    };
    let lead = new_lead(&s, "Vandelay");
    let task = s
        .post(
            "task/",
            json!({"lead_id": id(&lead), "text": "Call back", "date": "2024-07-01"}),
        )
        .ok();
    assert_eq!(task["_type"], "lead");
    assert_eq!(task["is_complete"], false);
    assert_eq!(task["assigned_to"], s.get("me/").ok()["id"]);
    assert_eq!(task["date"], "2024-07-01");
    let timed = s
        .post(
            "task/",
            json!({"lead_id": id(&lead), "text": "Send deck", "date": "2024-07-02T09:30:00+02:00"}),
        )
        .ok();
    assert_eq!(timed["date"], "2024-07-02T07:30:00.000000+00:00");
    s.put(&format!("task/{}/", id(&task)), json!({"is_complete": true}))
        .ok();
    assert_eq!(ids(&s.get("task/?is_complete=true").ok()), [id(&task)]);
    assert_eq!(ids(&s.get("task/?is_complete=false").ok()), [id(&timed)]);
    let bad = s.post(
        "task/",
        json!({"lead_id": id(&lead), "text": "x", "assigned_to": "user_nobody"}),
    );
    assert_eq!(
        bad.body["field-errors"]["assigned_to"],
        "`user_nobody` is not a user of this organization"
    );
    s.delete(&format!("task/{}/", id(&task))).ok();
    assert_eq!(s.get(&format!("task/{}/", id(&task))).status, 404);
}

fn custom_field_values_are_checked_by_type(backend: Backend) {
    let Some(s) = server(backend, "custom_field_values_are_checked_by_type") else {
        return;
    };
    let me = id(&s.get("me/").ok());
    let field = |path: &str, body: Value| id(&s.post(&format!("custom_field/{path}/"), body).ok());
    let number = field("lead", json!({"name": "Employees", "type": "number"}));
    let date = field("lead", json!({"name": "Renewal", "type": "date"}));
    let when = field("lead", json!({"name": "Last Touch", "type": "datetime"}));
    let tags = field(
        "lead",
        json!({"name": "Tags", "type": "choices", "choices": ["a", "b"], "accepts_multiple_values": true}),
    );
    let owner = field("lead", json!({"name": "Owner", "type": "user"}));
    let birthday = field("contact", json!({"name": "Birthday", "type": "date"}));
    let segment = field("opportunity", json!({"name": "Segment", "type": "text"}));
    let ok = s
        .post(
            "lead/",
            json!({
                format!("custom.{number}"): "250", format!("custom.{date}"): "2025-01-31", format!("custom.{when}"): "2025-01-31T10:00:00Z",
                format!("custom.{tags}"): ["A", "b"], format!("custom.{owner}"): "admin@test.example", "name": "Typed",
                "contacts": [{"name": "C", format!("custom.{birthday}"): "1990-04-01"}],
            }),
        )
        .ok();
    assert_eq!(ok[format!("custom.{number}")], 250.0);
    assert_eq!(ok[format!("custom.{when}")], "2025-01-31T10:00:00.000000+00:00");
    assert_eq!(ok[format!("custom.{tags}")], json!(["a", "b"]));
    assert_eq!(ok[format!("custom.{owner}")], me.as_str());
    assert_eq!(ok["contacts"][0][format!("custom.{birthday}")], "1990-04-01");
    let opp = s
        .post(
            "opportunity/",
            json!({"lead_id": id(&ok), format!("custom.{segment}"): "SMB"}),
        )
        .ok();
    assert_eq!(opp[format!("custom.{segment}")], "SMB");
    let bad = s.post(
        "lead/",
        json!({format!("custom.{number}"): "many", format!("custom.{date}"): "tomorrow", format!("custom.{tags}"): ["c"],
               format!("custom.{owner}"): "nobody", "custom.cf_nope": 1, format!("custom.{segment}"): "x"}),
    );
    assert_eq!(bad.status, 400);
    let errors = &bad.body["field-errors"];
    assert_eq!(errors[format!("custom.{number}")], "`many` is not a number");
    assert_eq!(
        errors[format!("custom.{date}")],
        "expected a date YYYY-MM-DD, got \"tomorrow\""
    );
    assert_eq!(errors[format!("custom.{tags}")], "`c` is not one of: a, b");
    assert_eq!(
        errors[format!("custom.{owner}")],
        "`nobody` is not a user of this organization"
    );
    assert!(errors["custom.cf_nope"]
        .as_str()
        .unwrap()
        .starts_with("unknown custom field"));
    assert!(
        errors[format!("custom.{segment}")]
            .as_str()
            .unwrap()
            .starts_with("unknown custom field"),
        "an opportunity field is not a lead field"
    );
    let missing_choices = s.post("custom_field/lead/", json!({"name": "Empty", "type": "choices"}));
    assert_eq!(
        missing_choices.body["field-errors"]["choices"],
        "a choices field needs at least one choice"
    );
    let renamed = s
        .put(&format!("custom_field/lead/{number}/"), json!({"name": "Headcount"}))
        .ok();
    assert_eq!(renamed["name"], "Headcount");
    assert_eq!(
        s.put(&format!("custom_field/lead/{number}/"), json!({"type": "text"}))
            .body["field-errors"]["type"],
        "this field cannot be changed after creation"
    );
    assert_eq!(s.get("custom_field/lead/").ok()["total_results"], 5);
    assert_eq!(s.get("custom_field/contact/").ok()["total_results"], 1);
    s.delete(&format!("custom_field/lead/{number}/")).ok();
    assert!(
        s.get(&format!("lead/{}", id(&ok)))
            .ok()
            .get(format!("custom.{number}"))
            .is_none(),
        "a deleted field's values are no longer shown"
    );
}

fn event_log_records_every_write(backend: Backend) {
    let Some(s) = server(backend, "event_log_records_every_write") else {
        return;
    };
    let lead = s
        .post("lead/", json!({"name": "Evented", "contacts": [{"name": "E"}]}))
        .ok();
    let lead_id = id(&lead);
    let answer = s.put(&format!("lead/{lead_id}/"), json!({"description": "changed"}));
    let seq: i64 = answer
        .header("x-rapport-event-seq")
        .expect("writes return their event seq")
        .parse()
        .unwrap();
    assert!(seq > 0);
    s.post("activity/note/", json!({"lead_id": lead_id, "note": "n"})).ok();
    s.delete(&format!("lead/{lead_id}/")).ok();

    let events = s.get(&format!("event/?lead_id={lead_id}")).ok();
    let summary: Vec<(String, String)> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["object_type"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("lead", "deleted"),
        ("contact", "deleted"),
        ("activity.note", "deleted"),
        ("activity.note", "created"),
        ("lead", "updated"),
        ("contact", "created"),
        ("lead", "created"),
    ];
    let mut got = summary.clone();
    // The two child deletions of one transaction may come in either order.
    got[1..3].sort();
    let mut want: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    want[1..3].sort();
    assert_eq!(got, want, "newest first");
    let update = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "updated")
        .unwrap();
    assert_eq!(update["changed_fields"], json!(["description"]));
    assert_eq!(update["previous_data"], json!({"description": null}));
    assert_eq!(update["data"]["description"], "changed");
    assert_eq!(update["seq"], seq);
    assert_eq!(update["user_id"], s.get("me/").ok()["id"]);
    let one = s.get(&format!("event/{}/", update["id"].as_str().unwrap())).ok();
    assert_eq!(&one, update, "one event reads as it lists");
    assert_eq!(s.get("event/ev_missing/").status, 404);
    let seqs: Vec<i64> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "strictly decreasing: {seqs:?}");

    // Cursor paging walks the whole log exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = s.get(&format!("event/?_limit=3{cursor}")).ok();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["cursor_next"].as_str() {
            Some(next) => cursor = format!("&_cursor={next}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "no duplicates, newest first");
    // Bootstrap: the organization, a pipeline, 4 lead and 3 opportunity statuses; then this
    // test's 7 writes (lead + contact, update, note, and three deletions).
    assert_eq!(seen.len(), 9 + 7);
    assert_eq!(
        s.get("event/?object_type=lead&action=deleted").ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.get("event/?_cursor=garbage").status, 400);
    // Date filters compare times, whatever offset they are written with.
    let all = s.get("event/?_limit=200").ok()["data"].as_array().unwrap().len();
    assert_eq!(
        s.get("event/?_limit=200&date_created__gt=2000-01-01T00:00:00Z").ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        all
    );
    assert_eq!(
        s.get("event/?_limit=200&date_created__lt=2000-01-01T02:00:00%2B02:00")
            .ok()["data"],
        json!([])
    );
    assert_eq!(
        s.get("event/?date_created__gt=soon").body["field-errors"]["date_created__gt"],
        "`soon` is not an ISO 8601 date-time"
    );
    assert_eq!(
        s.get("event/?colour=red").body["field-errors"]["colour"],
        "unknown filter for events"
    );
}

fn list_conventions(backend: Backend) {
    let Some(s) = server(backend, "list_conventions") else {
        return;
    };
    let names: Vec<String> = (0..7).map(|i| format!("Lead {i}")).collect();
    for name in &names {
        new_lead(&s, name);
    }
    let page = s.get("lead/?_limit=3&_skip=2&_order_by=name").ok();
    let got: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["Lead 2", "Lead 3", "Lead 4"]);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["total_results"], 7);
    let last = s.get("lead?_limit=3&_skip=6&_order_by=-name").ok();
    assert_eq!(last["data"][0]["name"], "Lead 0");
    assert_eq!(last["has_more"], false);
    let projected = s.get("lead/?_fields=id,name&_limit=1").ok();
    assert_eq!(
        projected["data"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "name"]
    );
    assert_eq!(s.get("lead/?_limit=0").ok()["data"], json!([]));
    assert_eq!(s.get("lead/?_limit=0").ok()["total_results"], 7);
    // Every lead, through the Close way of paging.
    assert_eq!(s.list_all(&s.api_key, "lead/").len(), 7);
    for i in 0..200 {
        s.post("status/lead/", json!({"label": format!("S{i}")})).ok();
    }
    let clamped = s.get("status/lead/?_limit=1000").ok();
    assert_eq!(
        clamped["data"].as_array().unwrap().len(),
        200,
        "_limit above the maximum is clamped"
    );
    assert_eq!(clamped["has_more"], true);
    let bad = s.get("lead/?colour=red&_order_by=colour&_limit=x");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["field-errors"]["_limit"], "`x` is not a non-negative integer");
    let bad = s.get("lead/?colour=red&_order_by=colour");
    assert_eq!(bad.body["field-errors"]["colour"], "unknown filter for this list");
    assert_eq!(bad.body["field-errors"]["_order_by"], "cannot order by `colour`");
    let cutoff = s.get("lead/?_limit=1&_order_by=date_created").ok()["data"][0]["date_created"]
        .as_str()
        .unwrap()
        .to_string();
    let newer = s
        .get(&format!("lead/?date_created__gt={}", cutoff.replace('+', "%2B")))
        .ok();
    assert_eq!(newer["total_results"], 6);
    let query = s.get("lead/?query=status%3Apotential%20sort%3Aname&_limit=2").ok();
    assert_eq!(query["total_results"], 7, "new leads get the first status");
    assert_eq!(query["data"][0]["name"], "Lead 0");
    assert_eq!(query["has_more"], true);
    let huge = s.get("lead/?_skip=18446744073709551615");
    assert_eq!(huge.body["field-errors"]["_skip"], "must be at most 100000");
    let many: Vec<String> = (0..1001).map(|i| format!("lead_{i}")).collect();
    let too_many = s.get(&format!("lead/?id__in={}", many.join(",")));
    assert_eq!(too_many.body["field-errors"]["id__in"], "at most 1000 values");
    assert_eq!(
        s.get(&format!("lead/?id__in={}", many[..1000].join(","))).ok()["total_results"],
        0
    );
    assert_eq!(s.get("no-such-thing/").status, 404);
    assert_eq!(s.request("PATCH", "lead/", Some(&s.api_key), None, &[]).status, 405);
}

fn idempotency_keys(backend: Backend) {
    let Some(s) = server(backend, "idempotency_keys") else {
        return;
    };
    let body = json!({"name": "Once"});
    let first = s
        .request(
            "POST",
            "lead/",
            Some(&s.api_key),
            Some(&body),
            &[("Idempotency-Key", "k-1")],
        )
        .ok();
    let retry = s
        .request(
            "POST",
            "lead/",
            Some(&s.api_key),
            Some(&body),
            &[("Idempotency-Key", "k-1")],
        )
        .ok();
    assert_eq!(first, retry);
    assert_eq!(s.get("lead/").ok()["total_results"], 1);
    let other = s.request(
        "POST",
        "lead/",
        Some(&s.api_key),
        Some(&json!({"name": "Twice"})),
        &[("Idempotency-Key", "k-1")],
    );
    assert_eq!(other.status, 422);
    assert_eq!(
        other.body["error"],
        "this Idempotency-Key was already used with a different request"
    );
    let fresh = s
        .request(
            "POST",
            "lead/",
            Some(&s.api_key),
            Some(&body),
            &[("Idempotency-Key", "k-2")],
        )
        .ok();
    assert_ne!(fresh["id"], first["id"]);
    assert_eq!(s.get("lead/").ok()["total_results"], 2);
}

fn bad_input_is_answered_with_field_errors_and_stores_nothing(backend: Backend) {
    let Some(s) = server(backend, "bad_input_is_answered_with_field_errors_and_stores_nothing") else {
        return;
    };
    let lead = new_lead(&s, "Keep");
    let events_before = s.get("event/?_limit=200").ok()["data"].as_array().unwrap().len();
    let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "POST",
            "lead/",
            json!({"name": 5}),
            "name",
            "expected a string, got a number",
        ),
        (
            "POST",
            "lead/",
            json!({"url": "not a url"}),
            "url",
            "`not a url` is not a valid URL",
        ),
        (
            "POST",
            "lead/",
            json!({"id": "lead_mine"}),
            "id",
            "this field is read-only",
        ),
        (
            "POST",
            "lead/",
            json!({"colour": "red"}),
            "colour",
            "unknown field for a lead",
        ),
        (
            "POST",
            "lead/",
            json!({"status": "Nope"}),
            "status",
            "unknown lead status `Nope`; valid ones: Potential, Bad Fit, Qualified, Customer",
        ),
        (
            "POST",
            "lead/",
            json!({"date_created": "last week"}),
            "date_created",
            "`last week` is not an ISO 8601 date-time",
        ),
        (
            "POST",
            "lead/",
            json!({"contacts": [{"emails": [{"email": "nope"}]}]}),
            "contacts[0].emails[0].email",
            "`nope` is not a valid email address",
        ),
        (
            "POST",
            "lead/",
            json!({"contacts": [{"phones": [{"phone": "12"}]}]}),
            "contacts[0].phones[0].phone",
            "`12` is not a valid phone number",
        ),
        (
            "POST",
            "contact/",
            json!({"lead_id": "lead_nope"}),
            "lead_id",
            "no lead with id `lead_nope`",
        ),
        (
            "POST",
            "opportunity/",
            json!({"lead_id": "x", "confidence": 120}),
            "confidence",
            "must be between 0 and 100",
        ),
        (
            "POST",
            "opportunity/",
            json!({"lead_id": "x", "close_date": "soon"}),
            "close_date",
            "`soon` is not a date YYYY-MM-DD",
        ),
        (
            "POST",
            "activity/call/",
            json!({"lead_id": "x", "direction": "sideways"}),
            "direction",
            "`sideways` is not one of outbound, inbound",
        ),
        (
            "POST",
            "task/",
            json!({"lead_id": "x"}),
            "text",
            "this field is required",
        ),
        (
            "PUT",
            "lead/LEAD/",
            json!({"name": ["x"]}),
            "name",
            "expected a string, got a list",
        ),
        (
            "PUT",
            "lead/LEAD/",
            json!({"contacts": []}),
            "contacts",
            "this field cannot be changed after creation",
        ),
        (
            "PUT",
            "lead/LEAD/",
            json!({"date_updated": "2020-01-01"}),
            "date_updated",
            "this field is read-only",
        ),
    ];
    for (method, path, body, field, message) in cases {
        let path = path.replace("LEAD", &id(&lead));
        let answer = s.request(method, &path, Some(&s.api_key), Some(&body), &[]);
        assert_eq!(answer.status, 400, "{method} {path} {body}: {}", answer.body);
        assert_eq!(
            answer.body["field-errors"][field], message,
            "{method} {path} {body}: {}",
            answer.body
        );
        assert!(answer.body["errors"].is_array());
    }
    for raw in ["{not json", "[1, 2]", "", "null"] {
        let answer = s.request_raw("POST", "lead/", raw);
        assert_eq!(answer.status, 400, "{raw:?}: {}", answer.body);
        assert!(!answer.body["errors"][0].as_str().unwrap().is_empty());
    }
    assert_eq!(s.get("lead/").ok()["total_results"], 1, "nothing was stored");
    assert_eq!(
        s.get(&format!("lead/{}", id(&lead))).ok(),
        lead,
        "the stored lead is untouched"
    );
    assert_eq!(
        s.get("event/?_limit=200").ok()["data"].as_array().unwrap().len(),
        events_before,
        "no event for refused input"
    );
}

/// One object of every kind in organization A; organization B must not see or touch any.
fn other_organizations_see_nothing(backend: Backend) {
    let Some(s) = server(backend, "other_organizations_see_nothing") else {
        return;
    };
    let a = s.api_key.clone();
    let b = s.new_organization("Rival", "boss@rival.example");
    let lead = s
        .post("lead/", json!({"name": "Secret", "contacts": [{"name": "Hidden"}]}))
        .ok();
    let lead_id = id(&lead);
    let contact_id = id(&lead["contacts"][0]);
    let pipeline = s.post("pipeline/", json!({"name": "Private"})).ok();
    let mut objects: Vec<(String, String)> = vec![
        ("lead".into(), lead_id.clone()),
        ("contact".into(), contact_id.clone()),
        (
            "status/lead".into(),
            id(&s.post("status/lead/", json!({"label": "Mine"})).ok()),
        ),
        ("pipeline".into(), id(&pipeline)),
        (
            "status/opportunity".into(),
            id(&s
                .post(
                    "status/opportunity/",
                    json!({"label": "Mine", "pipeline_id": id(&pipeline)}),
                )
                .ok()),
        ),
        (
            "opportunity".into(),
            id(&s.post("opportunity/", json!({"lead_id": lead_id, "value": 1})).ok()),
        ),
        (
            "task".into(),
            id(&s.post("task/", json!({"lead_id": lead_id, "text": "t"})).ok()),
        ),
        (
            "custom_field/lead".into(),
            id(&s.post("custom_field/lead/", json!({"name": "L", "type": "text"})).ok()),
        ),
        (
            "custom_field/contact".into(),
            id(&s
                .post("custom_field/contact/", json!({"name": "C", "type": "text"}))
                .ok()),
        ),
        (
            "custom_field/opportunity".into(),
            id(&s
                .post("custom_field/opportunity/", json!({"name": "O", "type": "text"}))
                .ok()),
        ),
    ];
    for kind in ["note", "call", "email", "sms", "meeting"] {
        objects.push((
            format!("activity/{kind}"),
            id(&s.post(&format!("activity/{kind}/"), json!({"lead_id": lead_id})).ok()),
        ));
    }
    let me_a = s.get("me/").ok();
    let org_a = me_a["organization_id"].as_str().unwrap().to_string();
    objects.push(("user".into(), id(&me_a)));
    objects.push(("organization".into(), org_a.clone()));

    for (path, object_id) in &objects {
        let url = format!("{path}/{object_id}/");
        let get = s.get_as(&b, &url);
        assert_eq!(
            (get.status, &get.body),
            (404, &json!({"error": "not found", "code": "not_found"})),
            "GET {url} as B"
        );
        assert_eq!(s.get_as(&a, &url).status, 200, "GET {url} as A");
        if path != "user" {
            let put = s.request("PUT", &url, Some(&b), Some(&json!({})), &[]);
            assert_eq!(put.status, 404, "PUT {url} as B: {}", put.body);
        }
        if path != "user" && path != "organization" {
            assert_eq!(
                s.request("DELETE", &url, Some(&b), None, &[]).status,
                404,
                "DELETE {url} as B"
            );
        }
    }
    let all_ids: Vec<&str> = objects.iter().map(|(_, id)| id.as_str()).collect();
    let lists = [
        "lead/",
        "contact/",
        "status/lead/",
        "status/opportunity/",
        "pipeline/",
        "opportunity/",
        "task/",
        "activity/",
        "activity/note/",
        "activity/call/",
        "activity/email/",
        "activity/sms/",
        "activity/meeting/",
        "custom_field/lead/",
        "custom_field/contact/",
        "custom_field/opportunity/",
        "user/",
        "event/",
    ];
    for list in lists {
        for filter in ["", &format!("?lead_id={lead_id}")] {
            if list == "user/" && !filter.is_empty() {
                continue;
            }
            let body = s.get_as(&b, &format!("{list}{filter}")).ok();
            let text = body.to_string();
            for object_id in &all_ids {
                assert!(!text.contains(object_id), "{list}{filter} as B leaks {object_id}");
            }
        }
    }
    // Nor A's events, one by one.
    for event in s.get("event/?_limit=50").ok()["data"].as_array().unwrap() {
        let url = format!("event/{}/", event["id"].as_str().unwrap());
        assert_eq!(s.get_as(&b, &url).status, 404, "GET {url} as B");
    }
    // B cannot attach its objects to A's lead either.
    let attach = s.post_as(&b, "contact/", json!({"lead_id": lead_id, "name": "Spy"}));
    assert_eq!(
        attach.body["field-errors"]["lead_id"],
        format!("no lead with id `{lead_id}`")
    );
    let b_org = s.get_as(&b, "me/").ok()["organization_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(b_org, org_a);
    // A's objects are intact.
    assert_eq!(
        s.get(&format!("lead/{lead_id}/")).ok()["contacts"][0]["id"],
        contact_id.as_str()
    );
}

fn openapi_document_and_docs_page(backend: Backend) {
    let Some(s) = server(backend, "openapi_document_and_docs_page") else {
        return;
    };
    let doc = s.request("GET", "openapi.json", None, None, &[]).ok();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/me/",
        "/api/v1/user/",
        "/api/v1/user/{id}/",
        "/api/v1/organization/{id}/",
        "/api/v1/lead/",
        "/api/v1/lead/{id}/",
        "/api/v1/contact/",
        "/api/v1/status/lead/",
        "/api/v1/status/opportunity/{id}/",
        "/api/v1/pipeline/",
        "/api/v1/opportunity/",
        "/api/v1/activity/",
        "/api/v1/activity/note/",
        "/api/v1/activity/call/{id}/",
        "/api/v1/activity/email/",
        "/api/v1/activity/sms/",
        "/api/v1/activity/meeting/",
        "/api/v1/task/",
        "/api/v1/custom_field/lead/",
        "/api/v1/custom_field/contact/",
        "/api/v1/custom_field/opportunity/{id}/",
        "/api/v1/event/",
        "/api/v1/event/{id}/",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    let docs = s.request("GET", "/api/docs", None, None, &[]);
    assert_eq!(docs.status, 200);
    assert!(docs.body.as_str().unwrap().contains("/api/v1/openapi.json"));
    assert!(
        !docs.body.as_str().unwrap().contains("https://"),
        "the docs page loads nothing from elsewhere"
    );
}

fn rate_limit_answers_429_as_close_does(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, "rate_limit_answers_429_as_close_does", &["--rate-limit", "5"])
    else {
        return;
    };
    let statuses: Vec<Answer> = (0..30).map(|_| s.get("me/")).collect();
    let limited = statuses
        .iter()
        .find(|a| a.status == 429)
        .expect("more than 5 requests in a second are refused");
    assert_eq!(limited.header("ratelimit"), Some("limit=5, remaining=0, reset=1"));
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert!(limited.body["error"]
        .as_str()
        .unwrap()
        .starts_with("rate limit of 5 requests per second exceeded"));
    assert!(statuses.iter().filter(|a| a.status == 200).count() >= 5);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(s.get("me/").status, 200, "the next window accepts requests again");
}
