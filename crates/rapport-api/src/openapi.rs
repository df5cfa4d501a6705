//! The OpenAPI 3.1 document: its frame and the components every operation shares. Each
//! operation is declared once, beside its handler, with its route
//! (`Routes::get(path, handler, Op::new(…))`, `route_table.rs`); [`document`] gathers
//! them into `paths`. Schemas of the object kinds come from the same field tables that
//! validate input (`rapport_core::fields`).

use axum::http::Method;
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

/// The name of a kind's schema in `components` (`lead`, `activity_note`).
pub(crate) fn schema_name(kind: Kind) -> String {
    kind.object_type().replace('.', "_")
}

/// A create's body: the kind's schema with the fields a create needs.
pub(crate) fn create_body(kind: Kind) -> Value {
    let name = schema_name(kind);
    let required: Vec<&str> = specs(kind).iter().filter(|s| s.required).map(|s| s.name).collect();
    if required.is_empty() {
        return schema_ref(&name);
    }
    json!({"allOf": [schema_ref(&name), {"required": required}]})
}

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub(crate) fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// A response with no body.
pub(crate) fn empty_response(description: &str) -> Value {
    json!({"description": description})
}

/// Any JSON object.
pub(crate) fn any_object() -> Value {
    json!({"type": "object"})
}

pub(crate) fn list_schema(item: Value) -> Value {
    json!({"type": "object", "properties": {"data": {"type": "array", "items": item}, "has_more": {"type": "boolean"}, "total_results": {"type": "integer"}}})
}

/// The errors of an authenticated call to an object of the organization.
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

pub(crate) fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

pub(crate) fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

/// The paging, projection, ordering and `lead_id` parameters of a list.
pub(crate) fn list_params() -> Vec<Value> {
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

/// One operation of the document, declared with its route.
#[derive(Clone, Debug)]
pub struct Op(Map<String, Value>);

impl Op {
    /// An authenticated call on the organization's data, tagged `tag`: it may answer the
    /// usual 400, 401, 403 and 404 (besides the errors every operation declares).
    pub fn new(summary: impl Into<String>, tag: &str) -> Op {
        Op::bare(summary).tag(tag).responses(errors())
    }

    /// An operation with a summary only: its tag, parameters and responses are given.
    pub fn bare(summary: impl Into<String>) -> Op {
        let mut op = Map::new();
        op.insert("summary".into(), Value::String(summary.into()));
        Op(op)
    }

    pub fn tag(mut self, tag: &str) -> Op {
        self.0.insert("tags".into(), json!([tag]));
        self
    }

    /// A longer explanation than the summary.
    pub fn description(mut self, description: &str) -> Op {
        self.0.insert("description".into(), description.into());
        self
    }

    /// `operationId`; by default one is made from the method and the path.
    pub fn id(mut self, id: impl Into<String>) -> Op {
        self.0.insert("operationId".into(), Value::String(id.into()));
        self
    }

    pub fn param(self, param: Value) -> Op {
        self.params([param])
    }

    pub fn params(mut self, params: impl IntoIterator<Item = Value>) -> Op {
        let list = self.0.entry("parameters").or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.extend(params);
        }
        self
    }

    /// A required JSON request body of this schema.
    pub fn body(mut self, schema: Value) -> Op {
        self.0.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
        self
    }

    /// The 200 answer.
    pub fn ok(self, response: Value) -> Op {
        self.respond("200", response)
    }

    pub fn respond(self, status: &str, response: Value) -> Op {
        let mut one = Map::new();
        one.insert(status.into(), response);
        self.responses(one)
    }

    fn responses(mut self, responses: Map<String, Value>) -> Op {
        let all = self.0.entry("responses").or_insert_with(|| json!({}));
        if let Value::Object(all) = all {
            all.extend(responses);
        }
        self
    }

    /// Called without credentials.
    pub fn public(self) -> Op {
        self.security(json!([]))
    }

    pub fn security(mut self, security: Value) -> Op {
        self.0.insert("security".into(), security);
        self
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

/// The whole document, with `operations` (path as documented, method, operation) as its
/// `paths`.
pub(crate) fn document<'a>(operations: impl IntoIterator<Item = (&'a str, &'a Method, &'a Op)>) -> Value {
    let mut paths = Map::new();
    for (path, method, op) in operations {
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method.as_str().to_ascii_lowercase()] = Value::Object(op.0.clone());
    }
    link_operations(&mut paths);
    declare_errors(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Rapport API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Close-compatible REST API. Authenticate with an API key as the HTTP Basic user name and an empty password."},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}, {"session": []}],
        "paths": paths,
        "components": {"schemas": schemas(), "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"},
            "session": {"type": "apiKey", "in": "cookie", "name": "rapport_session",
                        "description": "The web app's login (`POST /api/v1/auth/login/`). Writes must send the session's CSRF token in `X-CSRF-Token`."},
        }},
    })
}

/// The schemas operations refer to (`#/components/schemas/…`): errors, every object
/// kind, events.
fn schemas() -> Map<String, Value> {
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
        schemas.insert(schema_name(kind), kind_schema(kind));
    }
    schemas.insert(
        "event".into(),
        json!({"type": "object", "properties": {
            "id": {"type": "string"}, "seq": {"type": "integer"}, "object_type": {"type": "string"}, "object_id": {"type": "string"},
            "lead_id": {"type": ["string", "null"]}, "action": {"type": "string", "enum": ["created", "updated", "deleted"]},
            "changed_fields": {"type": "array", "items": {"type": "string"}}, "previous_data": {"type": "object"}, "data": {"type": "object"},
            "user_id": {"type": ["string", "null"]}, "organization_id": {"type": "string"}, "date_created": {"type": "string", "format": "date-time"}}}),
    );
    schemas
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_with_a_route_has_its_paths_and_schema() {
        let doc = crate::openapi_document();
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
        let doc = crate::openapi_document();
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
