//! The OpenAPI 3.1 document, generated from the same field tables that validate input
//! (`rapport_core::fields`) and the same kind list the router is built from.

use rapport_core::fields::{specs, Access, FieldSpec, FieldType, ADDRESS_PARTS, COMMON_FIELDS};
use rapport_core::Kind;
use serde_json::{json, Map, Value};

fn schema_of(ty: FieldType) -> Value {
    let typed_list = |key: &str| json!({"type": "array", "items": {"type": "object", "required": [key], "properties": {key: {"type": "string"}, "type": {"type": "string"}}}});
    match ty {
        FieldType::Text(max) => json!({"type": ["string", "null"], "maxLength": max}),
        FieldType::Int { min, max } => {
            json!({"type": ["integer", "null"], "minimum": min, "maximum": max})
        }
        FieldType::Number => json!({"type": ["number", "null"]}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::DateTime => json!({"type": ["string", "null"], "format": "date-time"}),
        FieldType::Date => json!({"type": ["string", "null"], "format": "date"}),
        FieldType::DateOrDateTime => {
            json!({"type": ["string", "null"], "description": "YYYY-MM-DD or an ISO 8601 date-time"})
        }
        FieldType::Choice(options) => json!({"type": ["string", "null"], "enum": options}),
        FieldType::Url => json!({"type": ["string", "null"], "format": "uri"}),
        FieldType::Ref(kind) => {
            json!({"type": ["string", "null"], "description": format!("id of a {}", kind.label())})
        }
        FieldType::UserRef => json!({"type": ["string", "null"], "description": "id of a user"}),
        FieldType::Labels | FieldType::EmailAddresses => {
            json!({"type": "array", "items": {"type": "string"}})
        }
        FieldType::Emails => typed_list("email"),
        FieldType::Phones => typed_list("phone"),
        FieldType::Urls => typed_list("url"),
        FieldType::Addresses => {
            let props: Map<String, Value> = ADDRESS_PARTS
                .iter()
                .map(|p| (p.to_string(), json!({"type": ["string", "null"]})))
                .collect();
            json!({"type": "array", "items": {"type": "object", "properties": props}})
        }
        FieldType::Opens => {
            json!({"type": "array", "items": {"type": "object", "required": ["opened_at"], "properties": {
            "opened_at": {"type": "string", "format": "date-time"}, "opened_by": {"type": "string"},
            "ip_address": {"type": "string"}, "user_agent": {"type": "string"}}}})
        }
        FieldType::Contacts => {
            json!({"type": "array", "items": {"$ref": "#/components/schemas/contact"}})
        }
        FieldType::EventFilters => {
            json!({"type": "array", "items": {"type": "object", "required": ["object_type", "action"], "properties": {
            "object_type": {"type": "string"}, "action": {"type": "string", "enum": rapport_core::fields::EVENT_ACTIONS}}}})
        }
    }
}

fn property(spec: &FieldSpec) -> Value {
    let mut schema = schema_of(spec.ty);
    let obj = schema.as_object_mut().expect("schemas are objects");
    obj.insert("description".into(), spec.doc.into());
    match spec.access {
        Access::ReadOnly => {
            obj.insert("readOnly".into(), true.into());
        }
        // A lead's contacts are given on create and come back with it.
        Access::WriteOnly { .. } if spec.ty == FieldType::Contacts => {
            obj.insert(
                "description".into(),
                format!("{} Set on create only; read back with the lead.", spec.doc).into(),
            );
        }
        Access::WriteOnly { .. } => {
            obj.insert("writeOnly".into(), true.into());
        }
        Access::CreateOnly => {
            obj.insert("description".into(), format!("{} Set on create only.", spec.doc).into());
        }
        Access::ReadWrite => {}
    }
    schema
}

fn kind_schema(kind: Kind) -> Value {
    let own = specs(kind);
    let mut properties = Map::new();
    for spec in COMMON_FIELDS.iter().chain(own.iter()) {
        properties.insert(spec.name.into(), property(spec));
    }
    if kind.belongs_to_lead() && !properties.contains_key("lead_id") {
        properties.insert("lead_id".into(), json!({"type": "string", "readOnly": true}));
    }
    properties.insert("date_created".into(), json!({"type": "string", "format": "date-time"}));
    if kind == Kind::Pipeline {
        // Stored as labels, answered as the statuses themselves.
        properties.insert(
            "statuses".into(),
            json!({"type": "array", "readOnly": true, "description": "The pipeline's opportunity statuses.",
                "items": {"type": "object", "properties": {"id": {"type": "string"}, "label": {"type": "string"},
                "status_type": {"type": "string", "enum": rapport_core::fields::STATUS_TYPES}}}}),
        );
    }
    // No `required` here: the schema describes answers too, and `_fields` may leave out
    // anything; what a create needs is in `create_body`.
    let mut schema = json!({"type": "object", "properties": properties});
    if kind.custom_field_kind().is_some() {
        schema["patternProperties"] = json!({"^custom\\.cf_": {"description": "A custom field value, checked against the field's type and choices."}});
    }
    schema
}

/// Operation ids for a kind's five operations (`list_lead`, `create_lead`, `get_lead`,
/// `update_lead`, `delete_lead`).
fn name_object_operations(paths: &mut Map<String, Value>, path: &str, name: &str) {
    let ops = [
        (format!("/api/v1/{path}/"), "get", "list"),
        (format!("/api/v1/{path}/"), "post", "create"),
        (format!("/api/v1/{path}/{{id}}/"), "get", "get"),
        (format!("/api/v1/{path}/{{id}}/"), "put", "update"),
        (format!("/api/v1/{path}/{{id}}/"), "delete", "delete"),
    ];
    for (route, method, verb) in ops {
        if let Some(op) = paths.get_mut(&route).and_then(|item| item.get_mut(method)) {
            op["operationId"] = format!("{verb}_{name}").into();
        }
    }
}

/// An operation id for every operation without one (`post_conversation_by_id_read`), and
/// links from what a collection's list (its first object) and create (the new object)
/// answer to the operations on one object of it (`…/{id}/…`), so a client, or a fuzzer,
/// can follow them.
fn link_operations(paths: &mut Map<String, Value>) {
    let routes: Vec<String> = paths.keys().cloned().collect();
    for route in &routes {
        let slug = route
            .trim_start_matches("/api/v1/")
            .trim_matches('/')
            .replace("{id}", "by_id")
            .replace("{key}", "by_key")
            .replace(['/', '.'], "_");
        let Some(item) = paths.get_mut(route).and_then(Value::as_object_mut) else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if op.get("operationId").is_none() {
                op["operationId"] = format!("{method}_{slug}").into();
            }
        }
    }
    for route in routes.iter().filter(|r| r.ends_with('/') && !r.contains('{')) {
        let one = format!("{route}{{id}}/");
        let targets: Vec<String> = routes
            .iter()
            .filter(|r| r.starts_with(&one))
            .filter_map(|r| paths[r].as_object())
            .flat_map(|item| {
                item.values()
                    .filter_map(|op| op["operationId"].as_str().map(String::from))
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let links = |pointer: &str| -> Value {
            let id = format!("$response.body#{pointer}");
            let links: Map<String, Value> = targets
                .iter()
                .map(|target| (target.clone(), json!({"operationId": target, "parameters": {"id": id}})))
                .collect();
            Value::Object(links)
        };
        let Some(item) = paths.get_mut(route) else { continue };
        for (method, pointer) in [("get", "/data/0/id"), ("post", "/id")] {
            if let Some(ok) = item.get_mut(method).and_then(|op| op["responses"].get_mut("200")) {
                ok["links"] = links(pointer);
            }
        }
    }
}

/// A create's body: the kind's schema with the fields a create needs.
fn create_body(kind: Kind, name: &str) -> Value {
    let required: Vec<&str> = specs(kind).iter().filter(|s| s.required).map(|s| s.name).collect();
    if required.is_empty() {
        return schema_ref(name);
    }
    json!({"allOf": [schema_ref(name), {"required": required}]})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn list_schema(item: Value) -> Value {
    json!({"type": "object", "properties": {"data": {"type": "array", "items": item}, "has_more": {"type": "boolean"}, "total_results": {"type": "integer"}}})
}

fn errors() -> Map<String, Value> {
    let mut responses = Map::new();
    responses.insert(
        "400".into(),
        json_response("Invalid input", schema_ref("validation_error")),
    );
    responses.insert(
        "401".into(),
        json_response("Missing or invalid API key", schema_ref("error")),
    );
    responses.insert(
        "403".into(),
        json_response(
            "The caller's role does not allow this (see SECURITY.md's roles table)",
            schema_ref("error"),
        ),
    );
    responses.insert(
        "404".into(),
        json_response("Not found (or in another organization)", schema_ref("error")),
    );
    responses
}

fn operation(summary: String, tag: &str, params: Vec<Value>, body: Option<Value>, ok: Value) -> Value {
    let mut responses = errors();
    responses.insert("200".into(), ok);
    let mut op = json!({"summary": summary, "tags": [tag], "parameters": params, "responses": responses});
    if let Some(schema) = body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    op
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn list_params() -> Vec<Value> {
    vec![
        query_param(
            "_skip",
            "Objects to skip.",
            json!({"type": "integer", "minimum": 0, "maximum": crate::params::MAX_SKIP}),
        ),
        query_param(
            "_limit",
            "Page size; default 100, at most 200 (larger values are clamped).",
            json!({"type": "integer", "minimum": 0}),
        ),
        query_param(
            "_fields",
            "Comma-separated fields to return.",
            json!({"type": "string"}),
        ),
        query_param(
            "_order_by",
            "Comma-separated fields; `-` sorts descending.",
            json!({"type": "string"}),
        ),
        query_param("lead_id", "Objects of this lead.", json!({"type": "string"})),
    ]
}

/// The whole document.
pub fn openapi_document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let code = json!({"type": "string", "enum": crate::codes::names(),
        "description": "What went wrong, for programs: one of the codes in docs/errors.md; a code never changes meaning."});
    schemas.insert(
        "error".into(),
        json!({"type": "object", "required": ["error", "code"], "properties": {"error": {"type": "string"}, "code": code}}),
    );
    schemas.insert(
        "validation_error".into(),
        json!({"type": "object", "required": ["errors", "field-errors", "code"], "properties": {
            "errors": {"type": "array", "items": {"type": "string"}},
            "field-errors": {"type": "object", "additionalProperties": {"type": "string"}},
            "error": {"type": "string", "description": "A refusal that is not about one field (also the only item of `errors`)."},
            "code": code}}),
    );
    schemas.insert(
        "query_error".into(),
        json!({"type": "object", "required": ["error", "span", "hint", "code"], "properties": {"error": {"type": "string"}, "span": {"type": "array", "items": {"type": "integer"},
            "description": "Byte offsets [start, end) into the query"}, "hint": {"type": "string"}, "code": code}}),
    );
    for kind in Kind::ALL {
        let name = kind.object_type().replace('.', "_");
        schemas.insert(name.clone(), kind_schema(kind));
        let Some(path) = kind.path() else { continue };
        let tag = path.split('/').next().unwrap_or(path);
        let label = kind.label();
        let one = || json_response(&format!("The {label}"), schema_ref(&name));
        let mut params = list_params();
        params.push(query_param(
            "<field>[__gt|__gte|__lt|__lte|__in]",
            "Filter on any stored scalar field.",
            json!({"type": "string"}),
        ));
        if kind == Kind::Lead {
            params.push(query_param(
                "query",
                "The lead search language; answers 400 with `error`, `span` and `hint` when it cannot run.",
                json!({"type": "string"}),
            ));
        }
        paths.insert(
            format!("/api/v1/{path}/"),
            json!({
                "get": operation(format!("List {label}s"), tag, params, None, json_response("A page", list_schema(schema_ref(&name)))),
                "post": {
                    "summary": format!("Create a {label}"),
                    "tags": [tag],
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"},
                                    "description": "A retry with the same key returns the first result."}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": create_body(kind, &name)}}},
                    "responses": with_ok(one()),
                },
            }),
        );
        paths.insert(
            format!("/api/v1/{path}/{{id}}/"),
            json!({
                "get": operation(format!("Get a {label}"), tag, vec![id_param(), query_param("_fields", "Fields to return.", json!({"type": "string"}))], None, one()),
                "put": operation(format!("Update a {label} (only the given fields change)"), tag, vec![id_param()], Some(schema_ref(&name)), one()),
                "delete": operation(format!("Delete a {label}"), tag, vec![id_param()], None, json_response("Deleted", json!({"type": "object"}))),
            }),
        );
        name_object_operations(&mut paths, path, &name);
    }
    let any = json!({"type": "object"});
    paths.insert("/api/v1/me/".into(), json!({"get": operation("The caller, with their organizations".into(), "user", vec![], None, json_response("The user", any.clone()))}));
    let new_user = json!({"type": "object", "required": ["email", "password"], "properties": {
        "email": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "member"]}, "password": {"type": "string", "minLength": 8}}});
    paths.insert("/api/v1/user/".into(), json!({
        "get": operation("Users of the organization".into(), "user", vec![], None, json_response("Users", list_schema(any.clone()))),
        "post": operation("Add a member who logs in with a password (admins)".into(), "user", vec![], Some(new_user), json_response("The user", any.clone())),
    }));
    let user_change = json!({"type": "object", "properties": {
        "first_name": {"type": "string", "maxLength": 200}, "last_name": {"type": "string", "maxLength": 200},
        "role": {"type": "string", "enum": ["admin", "member"]}}});
    let no_content = json!({"204": {"description": "Done"}});
    paths.insert("/api/v1/user/{id}/".into(), json!({
        "get": operation("A user".into(), "user", vec![id_param()], None, json_response("The user", any.clone())),
        "put": operation("Change one's own name, or a member's role (admins); the organization keeps one admin".into(), "user", vec![id_param()], Some(user_change), json_response("The user", any.clone())),
        "delete": {"summary": "Remove a member (admins): their keys and sessions end, their data stays", "tags": ["user"], "parameters": [id_param()], "responses": errors_with(no_content.clone())},
    }));
    let password = |required: Vec<&str>| {
        let mut properties = Map::new();
        for field in &required {
            properties.insert(
                field.to_string(),
                json!({"type": "string", "minLength": 1, "maxLength": 1000}),
            );
        }
        json!({"type": "object", "required": required, "properties": properties})
    };
    paths.insert(
        "/api/v1/user/{id}/password/".into(),
        json!({"post": {
        "summary": "Set a member's password (admins; only for a member of no other organization)", "tags": ["user"],
        "parameters": [id_param()],
        "requestBody": {"required": true, "content": {"application/json": {"schema": password(vec!["password"])}}},
        "responses": errors_with(no_content.clone())}}),
    );
    paths.insert(
        "/api/v1/website/{id}/rotate_secret/".into(),
        json!({"post": operation(
        "A new identity secret for the website (admins), shown once in this answer; the old one stops verifying".into(),
        "chat", vec![id_param()], None, json_response("The website, with `identity_secret`", schema_ref("website")))}),
    );
    paths.insert("/api/v1/conversation/{id}/link/".into(), json!({"post": operation(
        "Confirm who the visitor is: the conversation and its messages join the lead of `contact_id` (default: `suggested_contact_id`, the contact an unverified email matched)".into(),
        "chat", vec![id_param()], Some(json!({"type": "object", "properties": {"contact_id": {"type": "string"}}})),
        json_response("The conversation", schema_ref("conversation")))}));
    paths.insert("/api/v1/me/password/".into(), json!({"post": {
        "summary": "Change one's own password; other sessions end", "tags": ["user"],
        "requestBody": {"required": true, "content": {"application/json": {"schema": password(vec!["current_password", "password"])}}},
        "responses": errors_with(no_content)}}));
    paths.insert(
        "/api/v1/organization/{id}/".into(),
        json!({
            "get": operation("The organization, with its statuses and members".into(), "organization", vec![id_param()], None, json_response("The organization", any.clone())),
            "put": operation("Rename the organization (admins)".into(), "organization", vec![id_param()],
                Some(json!({"type": "object", "properties": {"name": {"type": "string"}}})), json_response("The organization", any.clone())),
        }),
    );
    let mut activity_params = list_params();
    activity_params.push(query_param(
        "_type",
        "Note, Call, Email, SMS, Meeting, LeadStatusChange or Chat (a conversation of the lead's).",
        json!({"type": "string"}),
    ));
    let activity_kinds: Vec<Value> = Kind::TIMELINE
        .iter()
        .map(|k| schema_ref(&k.object_type().replace('.', "_")))
        .collect();
    paths.insert(
        "/api/v1/activity/".into(),
        json!({"get": operation("Activities of every kind, newest first".into(), "activity", activity_params, None,
            json_response("A page", list_schema(json!({"anyOf": activity_kinds}))))}),
    );
    let event_params = [
        "object_type",
        "object_id",
        "action",
        "lead_id",
        "user_id",
        "date_created__gt",
        "date_created__lt",
        "_cursor",
        "_limit",
    ]
    .iter()
    .map(|p| query_param(p, "Filter or paging.", json!({"type": "string"})))
    .collect();
    paths.insert(
        "/api/v1/event/".into(),
        json!({"get": operation("The event log, newest first, with cursor paging".into(), "event", event_params, None,
            json_response("A page of events", json!({"type": "object", "properties": {
                "data": {"type": "array", "items": schema_ref("event")}, "cursor_next": {"type": ["string", "null"]}}})))}),
    );
    paths.insert(
        "/api/v1/event/{id}/".into(),
        json!({"get": operation("One event".into(), "event", vec![id_param()], None, json_response("The event", schema_ref("event")))}),
    );
    schemas.insert(
        "event".into(),
        json!({"type": "object", "properties": {
            "id": {"type": "string"}, "seq": {"type": "integer"}, "object_type": {"type": "string"}, "object_id": {"type": "string"},
            "lead_id": {"type": ["string", "null"]}, "action": {"type": "string", "enum": ["created", "updated", "deleted"]},
            "changed_fields": {"type": "array", "items": {"type": "string"}}, "previous_data": {"type": "object"}, "data": {"type": "object"},
            "user_id": {"type": ["string", "null"]}, "organization_id": {"type": "string"}, "date_created": {"type": "string", "format": "date-time"}}}),
    );
    let tz = json!({"name": "X-TZ-Offset", "in": "header", "required": false, "schema": {"type": "number"},
        "description": "The caller's time zone in hours east of UTC, for today, this week and day boundaries."});
    let query_error = json_response(
        "The query cannot be run (`error`, `span`, `hint`), or another parameter is invalid (`errors`, `field-errors`)",
        json!({"anyOf": [schema_ref("query_error"), schema_ref("validation_error")]}),
    );
    paths.insert(
        "/api/v1/data/search/".into(),
        json!({"post": {
            "summary": "Search leads with the JSON form of the query language",
            "tags": ["search"],
            "parameters": [tz.clone()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "query": {"type": "object", "description": "A node: and/or (queries), not (query), text (value, phrase), field (field, op, value), related (object_type, query), saved_search (id)"},
                "sort": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "direction": {"enum": ["asc", "desc"]}}}},
                "_limit": {"type": "integer"}, "cursor": {"type": ["string", "null"]},
                "_fields": {"type": "array", "items": {"type": "string"}}}}}}},
            "responses": {"200": json_response("A page of leads", json!({"type": "object", "properties": {
                "data": {"type": "array", "items": schema_ref("lead")}, "has_more": {"type": "boolean"},
                "total_results": {"type": "integer"}, "cursor": {"type": ["string", "null"]}}})),
                "400": query_error.clone()},
        }}),
    );
    paths.insert(
        "/api/v1/query/parse/".into(),
        json!({"get": {
            "summary": "The JSON form of a query and what it does, in plain words with every date resolved",
            "tags": ["search"],
            "parameters": [query_param("query", "The query string.", json!({"type": "string"})), tz],
            "responses": {"200": json_response("The parsed query", json!({"type": "object", "properties": {
                "query": {"type": "object"}, "text": {"type": "string"}, "explanation": {"type": "string"}}})),
                "400": query_error},
        }}),
    );
    paths.insert(
        "/api/v1/query/complete/".into(),
        json!({"get": {
            "summary": "Suggestions for the search bar at the cursor: fields, statuses, users, custom fields, choices, Smart Views",
            "tags": ["search"],
            "parameters": [query_param("query", "The query typed so far.", json!({"type": "string"})),
                           query_param("cursor", "Byte offset of the cursor; the end when absent.", json!({"type": "integer"}))],
            "responses": {"200": json_response("What to replace and with what", json!({"type": "object", "properties": {
                "replace": {"type": "array", "items": {"type": "integer"}, "description": "Byte span [start, end) the suggestion replaces"},
                "suggestions": {"type": "array", "items": {"type": "object", "properties": {
                    "text": {"type": "string"}, "kind": {"type": "string"}, "detail": {"type": "string"}}}}}}))},
        }}),
    );
    let job = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "task": {"type": "string", "description": "email:send, slack:send_message or webhook:deliver"},
        "state": {"type": "string", "enum": ["scheduled", "queued", "running", "done", "dead"]}, "payload": {"type": "object"},
        "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"}, "event_seq": {"type": ["integer", "null"]},
        "dedupe_key": {"type": ["string", "null"]}, "last_error": {"type": ["string", "null"]}, "worker": {"type": ["string", "null"]},
        "date_created": {"type": "string", "format": "date-time"}, "run_at": {"type": "string", "format": "date-time"},
        "date_started": {"type": ["string", "null"], "format": "date-time"}, "date_finished": {"type": ["string", "null"], "format": "date-time"}}});
    let mut job_params = list_params();
    job_params.push(query_param(
        "state",
        "queued, running, done or dead.",
        json!({"type": "string"}),
    ));
    job_params.push(query_param("task", "A task name.", json!({"type": "string"})));
    paths.insert(
        "/api/v1/job/".into(),
        json!({"get": operation("Jobs of the organization (webhooks, Slack, email), newest first; `state=dead` lists dead letters".into(), "job", job_params, None,
            json_response("A page of jobs", json!({"type": "object", "properties": {"data": {"type": "array", "items": job.clone()}, "has_more": {"type": "boolean"}}})))}),
    );
    paths.insert(
        "/api/v1/job/{id}/".into(),
        json!({
            "get": operation("One job, with its attempts, last error and timings".into(), "job", vec![id_param()], None, json_response("The job", job.clone())),
            "delete": operation("Discard a dead job".into(), "job", vec![id_param()], None, json_response("Discarded", json!({"type": "object"}))),
        }),
    );
    paths.insert(
        "/api/v1/job/{id}/retry/".into(),
        json!({"post": operation("Queue a dead job again, its attempts reset".into(), "job", vec![id_param()], None, json_response("The job", job))}),
    );
    chat_paths(&mut paths);
    account_paths(&mut paths);
    paths.insert("/api/v1/openapi.json".into(), json!({"get": {"summary": "This document", "security": [], "responses": {"200": json_response("OpenAPI 3.1", any)}}}));
    link_operations(&mut paths);
    declare_errors(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Rapport API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Close-compatible REST API. Authenticate with an API key as the HTTP Basic user name and an empty password."},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}, {"session": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"},
            "session": {"type": "apiKey", "in": "cookie", "name": "rapport_session",
                        "description": "The web app's login (`POST /api/v1/auth/login/`). Writes must send the session's CSRF token in `X-CSRF-Token`."},
        }},
    })
}

/// The operators' chat routes, the real-time socket and the widget's API.
fn chat_paths(paths: &mut Map<String, Value>) {
    let message = schema_ref("message");
    paths.insert(
        "/api/v1/conversation/{id}/message/".into(),
        json!({
            "get": operation("The conversation's messages, oldest first, private notes included".into(), "conversation", vec![id_param()], None,
                json_response("The messages", list_schema(message.clone()))),
            "post": {
                "summary": "Reply to the visitor (or, with `private: true`, leave a note for operators only); a `client_id` sent again returns the first message (200)",
                "tags": ["conversation"],
                "parameters": [id_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["body"], "properties": {
                    "body": {"type": "string", "maxLength": 5000}, "client_id": {"type": "string", "maxLength": 100}, "private": {"type": "boolean"}}}}}},
                "responses": {"201": json_response("The new message", message.clone()), "200": json_response("The message first sent with this client_id", message)},
            },
        }),
    );
    paths.insert(
        "/api/v1/conversation/{id}/read/".into(),
        json!({"post": operation("Mark the conversation read: its unread count goes to 0".into(), "conversation", vec![id_param()], None,
            json_response("The conversation", schema_ref("conversation")))}),
    );
    paths.insert(
        "/api/v1/conversation/{id}/typing/".into(),
        json!({"post": {"summary": "Tell the visitor and the other operators that you type (`{\"typing\": bool}`)", "tags": ["conversation"],
            "parameters": [id_param()], "responses": {"204": {"description": "Sent"}}}}),
    );
    paths.insert(
        "/api/v1/realtime/".into(),
        json!({"get": {
            "summary": "Websocket of the organization's changes as `{\"type\": \"<object_type>.<action>\", \"seq\", \"data\": event}` frames, plus `typing`, `presence`, `hello` and `ready`",
            "description": "With `since`, every event after that sequence number is sent first, from the event log, then live ones: no gap, no duplicate. Send `{\"type\": \"view\", \"lead_id\"}` for presence, `{\"type\": \"typing\", \"conversation_id\", \"typing\"}`, `{\"type\": \"ping\"}`.",
            "tags": ["realtime"],
            "parameters": [query_param("since", "The `seq` of the last event received.", json!({"type": "integer"}))],
            "responses": {"101": {"description": "Switching to the websocket protocol"}},
        }}),
    );
    let widget = |summary: &str| {
        json!({"summary": summary, "tags": ["widget"], "security": [],
        "parameters": [{"name": "X-Widget-Key", "in": "header", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": json_response("OK", json!({"type": "object"})), "401": {"description": "Unknown key or visitor token"},
                      "403": {"description": "This page's origin is not allowed"}, "429": {"description": "Too many messages"}}})
    };
    paths.insert("/widget/v1/session".into(), json!({"post": widget("Start (or, with `Authorization: Bearer <visitor token>`, resume) a visitor's session: token, website, conversation, messages, `seq`")}));
    paths.insert(
        "/widget/v1/message".into(),
        json!({
            "post": widget("Send a message (`{\"client_id\", \"body\"}`) as the visitor"),
            "get": widget("Long poll: the visitor's messages after `after` (a `seq`), waiting up to `wait` seconds"),
        }),
    );
    paths.insert("/widget/v1/identify".into(), json!({"post": widget("Give the visitor's email (`{\"email\", \"name\", \"hash\"}`; `hash` = hex HMAC-SHA256 of the email with the website's identity secret)")}));
    paths.insert(
        "/widget/v1/typing".into(),
        json!({"post": widget("The visitor types (`{\"typing\": bool}`)")}),
    );
    paths.insert(
        "/widget/v1/read".into(),
        json!({"post": widget("The visitor saw the messages")}),
    );
    paths.insert("/widget/ws".into(), json!({"get": {
        "summary": "The visitor's websocket (`key`, `token`, `after`): `message`, `typing`, `operators`, `ready` frames; send `message`, `typing`, `read`, `ping`",
        "tags": ["widget"], "security": [], "responses": {"101": {"description": "Switching to the websocket protocol"}}}}));
}

/// The errors any request may meet, whatever its route: a 400 answers
/// `validation_error`, every other status `error`.
const STANDARD_ERRORS: &[(&str, &str)] = &[
    ("400", "Invalid input: `errors` and `field-errors` (a refusal not about one field also has `error`)"),
    ("401", "Missing or invalid credentials"),
    ("403", "Not allowed to this caller (see SECURITY.md's roles table), or a cookie request from another origin or without its CSRF token"),
    ("404", "Not found (or in another organization)"),
    ("408", "The request body came too slowly"),
    ("409", "The object kept changing while this request ran; try again"),
    ("413", "The request body is too large"),
    ("415", "A body that is not `application/json`"),
    ("422", "An `Idempotency-Key` sent again with another request"),
    ("429", "Too many requests (`--rate-limit`, failed logins, a visitor's messages); `Retry-After` says when to retry"),
    ("503", "Busy or a dependency is unavailable; `Retry-After` says when to retry"),
];

/// Every operation declares the standard errors, each with its body; an operation's own
/// description of one is kept.
fn declare_errors(paths: &mut Map<String, Value>) {
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for op in item.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, description) in STANDARD_ERRORS {
                let schema = schema_ref(if *status == "400" { "validation_error" } else { "error" });
                match responses.get_mut(*status) {
                    None => {
                        responses.insert(status.to_string(), json_response(description, schema));
                    }
                    Some(response) if response.get("content").is_none() => {
                        response["content"] = json!({"application/json": {"schema": schema}});
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// The error responses with `ok` as the success ones (e.g. `{"204": …}`).
fn errors_with(ok: Value) -> Value {
    let mut responses = errors();
    if let Value::Object(ok) = ok {
        responses.extend(ok);
    }
    Value::Object(responses)
}

fn with_ok(ok: Value) -> Map<String, Value> {
    let mut responses = errors();
    responses.insert("200".into(), ok);
    responses
}

/// Logins, one's own API keys and drafts.
fn account_paths(paths: &mut Map<String, Value>) {
    let any = json!({"type": "object"});
    let draft = json!({"type": "object", "properties": {"key": {"type": "string"}, "body": {"type": "string"}, "date_updated": {"type": "string"}}});
    let key_param = json!({"name": "key", "in": "path", "required": true, "schema": {"type": "string", "maxLength": 200},
        "description": "The draft's name, e.g. `note:lead_…` or `reply:conv_…`."});
    paths.insert(
        "/api/v1/auth/login/".into(),
        json!({"post": {
            "summary": "Log in with email and password: sets the `rapport_session` cookie (HttpOnly, SameSite=Lax, 30 days) and answers the user and the CSRF token that cookie-authenticated writes send in `X-CSRF-Token`",
            "tags": ["auth"], "security": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "properties": {
                "email": {"type": "string"}, "password": {"type": "string"}, "organization_id": {"type": "string", "description": "For a user of several organizations; the first one otherwise."}}}}}},
            "responses": {"200": json_response("Logged in", json!({"type": "object", "properties": {"user": any.clone(), "csrf_token": {"type": "string"}}})),
                          "401": {"description": "Wrong email or password"},
                          "429": {"description": format!(
                              "{} failed logins for this email in the last {} minutes: refused, the password unchecked, until the oldest leaves that window (`Retry-After`, seconds). A successful login clears the count.",
                              rapport_crm::LOGIN_FAILURES_ALLOWED, rapport_crm::LOGIN_WINDOW_SECONDS / 60)}},
        }}),
    );
    paths.insert(
        "/api/v1/auth/logout/".into(),
        json!({"post": {"summary": "End the session and clear its cookie", "tags": ["auth"], "security": [{"session": []}], "responses": {"204": {"description": "Logged out"}}}}),
    );
    paths.insert(
        "/api/v1/auth/password_reset/".into(),
        json!({"post": {
            "summary": format!("Forgot password: emails the account a link that sets a new password, valid {} minutes and once, at most {} per hour. The same 202 answer whether the email has an account or not; 503 when the server has no SMTP", rapport_crm::RESET_SECONDS / 60, rapport_crm::RESETS_PER_HOUR),
            "tags": ["auth"], "security": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string", "maxLength": 254}}}}}},
            "responses": {"202": json_response("Sent, if the email has an account", json!({"type": "object"})),
                          "400": json_response("Not an email address", schema_ref("validation_error")),
                          "503": json_response("No SMTP configured", schema_ref("error"))},
        }}),
    );
    paths.insert(
        "/api/v1/auth/password_reset/confirm/".into(),
        json!({"post": {
            "summary": "Set the new password with the emailed link's token; every session of the account ends",
            "tags": ["auth"], "security": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["token", "password"], "properties": {
                "token": {"type": "string"}, "password": {"type": "string", "minLength": 8, "maxLength": 1000}}}}}},
            "responses": {"204": {"description": "Password set"},
                          "400": json_response("A used, expired or unknown token, or a password too short", schema_ref("validation_error"))},
        }}),
    );
    let key = json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "date_created": {"type": "string"}}});
    paths.insert(
        "/api/v1/api_key/".into(),
        json!({
            "get": operation("The caller's API keys (names and dates; a key is shown only when made)".into(), "api_key", vec![], None, json_response("Keys", list_schema(key))),
            "post": operation("Make an API key for the caller; the answer's `key` is the only time it is shown".into(), "api_key", vec![],
                Some(json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}})), json_response("The key", any.clone())),
        }),
    );
    paths.insert(
        "/api/v1/api_key/{id}/".into(),
        json!({"delete": {"summary": "Revoke one of the caller's API keys", "tags": ["api_key"], "parameters": [id_param()], "responses": {"204": {"description": "Revoked"}}}}),
    );
    paths.insert(
        "/api/v1/draft/".into(),
        json!({"get": operation("The caller's drafts (autosaved notes, replies, emails), newest first".into(), "draft", vec![], None, json_response("Drafts", list_schema(draft.clone())))}),
    );
    paths.insert(
        "/api/v1/draft/{key}/".into(),
        json!({
            "get": {"summary": "One of the caller's drafts", "tags": ["draft"], "parameters": [key_param.clone()], "responses": {"200": json_response("The draft", draft.clone()), "404": {"description": "No such draft"}}},
            "put": {"summary": "Save a draft (`{\"body\": \"…\"}`, at most 100,000 characters); only its owner sees it", "tags": ["draft"], "parameters": [key_param.clone()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["body"], "properties": {"body": {"type": "string"}}}}}},
                "responses": {"200": json_response("The draft", draft)}},
            "delete": {"summary": "Delete a draft (once sent)", "tags": ["draft"], "parameters": [key_param], "responses": {"204": {"description": "Deleted"}}},
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_with_a_route_has_its_paths_and_schema() {
        let doc = openapi_document();
        assert_eq!(doc["openapi"], "3.1.0");
        for kind in Kind::ALL {
            let schema = &doc["components"]["schemas"][kind.object_type().replace('.', "_")];
            assert!(schema["properties"]["id"]["readOnly"].as_bool().unwrap(), "{kind:?}");
            if let Some(path) = kind.path() {
                assert!(doc["paths"][format!("/api/v1/{path}/")]["post"].is_object(), "{kind:?}");
                assert!(
                    doc["paths"][format!("/api/v1/{path}/{{id}}/")]["delete"].is_object(),
                    "{kind:?}"
                );
            }
        }
        assert_eq!(
            doc["components"]["schemas"]["lead"]["properties"]["status"]["writeOnly"],
            true
        );
    }

    #[test]
    fn the_document_describes_what_the_server_answers() {
        let doc = openapi_document();
        let schemas = &doc["components"]["schemas"];
        // `_fields` may leave anything out: only a create's body has required fields.
        assert!(schemas["pipeline"].get("required").is_none());
        let create = &doc["paths"]["/api/v1/pipeline/"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(create["allOf"][1]["required"], json!(["name"]));
        assert_eq!(schemas["pipeline"]["properties"]["statuses"]["items"]["type"], "object");
        assert!(schemas["lead"]["properties"]["contacts"].get("writeOnly").is_none());
        let created = &doc["paths"]["/api/v1/lead/"]["post"]["responses"]["200"]["links"]["update_lead"];
        assert_eq!(created["parameters"]["id"], "$response.body#/id");
        let listed = &doc["paths"]["/api/v1/conversation/"]["get"]["responses"]["200"]["links"];
        assert_eq!(
            listed["post_conversation_by_id_read"]["parameters"]["id"],
            "$response.body#/data/0/id"
        );
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, _) in STANDARD_ERRORS {
                    let schema = &op["responses"][*status]["content"]["application/json"]["schema"];
                    assert!(schema.is_object(), "{method} {path} declares no {status} body");
                }
            }
        }
    }
}
