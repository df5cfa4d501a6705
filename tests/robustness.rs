//! No input makes a 500 or a panic: every field of every route (taken from the OpenAPI
//! document, so new fields are covered as they appear) gets awkward values.

mod common;

use common::{Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(awkward_values_in_every_field_get_clear_answers);

fn awkward_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(12.5),
        json!(""),
        json!(" "),
        json!("x".repeat(20_000)),
        json!("💥 \u{0000} <script>alert(1)</script> ' OR 1=1 --"),
        json!("2024-13-45"),
        json!("lead_doesnotexist"),
        json!([]),
        json!([1, "a", null]),
        json!([{}]),
        json!([{"email": 5, "phone": [], "url": {}, "type": 3, "opened_at": "never"}]),
        json!({"a": {"b": [[[]]]}}),
    ]
}

fn awkward_values_in_every_field_get_clear_answers(backend: Backend) {
    let Some(s) = TestServer::start(backend, "awkward_values_in_every_field_get_clear_answers") else {
        return;
    };
    let doc = s.request("GET", "openapi.json", None, None, &[]).ok();
    let lead = s
        .post("lead/", json!({"name": "Target", "contacts": [{"name": "C"}]}))
        .ok();
    let lead_id = lead["id"].as_str().unwrap().to_string();
    let existing = |path: &str| -> Option<String> {
        let body = match path {
            "lead" => return Some(lead_id.clone()),
            "contact" => return lead["contacts"][0]["id"].as_str().map(str::to_string),
            "opportunity" | "task" | "activity/note" | "activity/call" | "activity/meeting" => {
                json!({"lead_id": lead_id, "text": "t"})
            }
            "custom_field/lead" => json!({"name": "F", "type": "text"}),
            "status/lead" => json!({"label": "L"}),
            "pipeline" => json!({"name": "P"}),
            _ => return None,
        };
        let mut body = body;
        if path != "task" {
            body.as_object_mut().unwrap().remove("text");
        }
        Some(
            s.post(&format!("{path}/"), body).ok()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    };
    let mut requests = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(post) = item.get("post") else { continue };
        // Actions without a body (`job/{id}/retry/`) have no fields to get wrong.
        if post.get("requestBody").is_none() {
            continue;
        }
        let collection = path.trim_start_matches("/api/v1/").trim_end_matches('/').to_string();
        let schema = &post["requestBody"]["content"]["application/json"]["schema"];
        let schema = match schema["$ref"].as_str() {
            Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
            None => schema,
        };
        let mut fields: Vec<String> = schema["properties"].as_object().unwrap().keys().cloned().collect();
        fields.extend(["custom.cf_nope".to_string(), "no_such_field".to_string()]);
        let target = existing(&collection);
        for field in &fields {
            for value in awkward_values() {
                let mut body = json!({"lead_id": lead_id});
                body[field] = value.clone();
                let mut answers = vec![s.post(&format!("{collection}/"), body.clone())];
                if let Some(id) = &target {
                    answers.push(s.put(&format!("{collection}/{id}/"), json!({field: value})));
                }
                for answer in answers {
                    requests += 1;
                    assert!(
                        [200, 400, 404, 409, 422].contains(&answer.status),
                        "{collection} {field}={value}: {} {}",
                        answer.status,
                        answer.body
                    );
                    if answer.status == 400 {
                        let body = &answer.body;
                        assert!(body["field-errors"].is_object() || body["error"].is_string(), "{body}");
                    }
                }
            }
        }
    }
    assert!(requests > 1000, "{requests} requests");
    // Still serving, and the target lead is still readable.
    assert_eq!(s.get(&format!("lead/{lead_id}/")).status, 200);
    for raw in [
        "{",
        "[",
        "\"text\"",
        "{\"name\": \"\\ud800\"}",
        "{\"a\":1}{\"b\":2}",
        &"[".repeat(10_000),
    ] {
        let answer = s.request_raw("POST", "lead/", raw);
        assert_eq!(answer.status, 400, "{raw:.40}: {}", answer.body);
    }
}
