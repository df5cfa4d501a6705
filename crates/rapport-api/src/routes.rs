//! The routes. Object kinds share five generic handlers; the rest are few and specific.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use rapport_core::{FieldErrors, Kind};
use rapport_crm::{EventQuery, Idempotency, TimeZone, Written};
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::body::parse_body;
use crate::openapi::{self, any_object, id_param, json_response, list_schema, query_param, schema_ref, Op};
use crate::params::{list_params, param, parse_query, project, split_fields};
use crate::route_table::Routes;
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

/// The header carrying the sequence number of a write's last event, so a client can wait
/// for consumers of the event log (search, real time) to catch up with its own write.
pub const EVENT_SEQ_HEADER: &str = "x-rapport-event-seq";

pub fn routes() -> Routes {
    let any = any_object();
    let mut routes = Routes::new()
        .get(
            "/api/v1/organization/{id}/",
            get_organization,
            Op::new("The organization, with its statuses and members", "organization")
                .param(id_param())
                .ok(json_response("The organization", any.clone())),
        )
        .put(
            "/api/v1/organization/{id}/",
            update_organization,
            Op::new("Rename the organization (admins)", "organization")
                .param(id_param())
                .body(json!({"type": "object", "properties": {"name": {"type": "string"}}}))
                .ok(json_response("The organization", any.clone())),
        )
        .get("/api/v1/activity/", list_activities, list_activities_op())
        .get("/api/v1/event/", list_events, list_events_op())
        .get(
            "/api/v1/event/{id}/",
            get_event,
            Op::new("One event", "event")
                .param(id_param())
                .ok(json_response("The event", schema_ref("event"))),
        )
        .post("/api/v1/data/search/", data_search, data_search_op())
        .get("/api/v1/query/parse/", query_parse, query_parse_op())
        .get("/api/v1/query/complete/", query_complete, query_complete_op())
        .get(
            "/api/v1/openapi.json",
            openapi_json,
            Op::bare("This document").public().ok(json_response("OpenAPI 3.1", any)),
        )
        .unlisted(Method::GET, "/api/docs", docs)
        .fallback(not_found);
    for kind in Kind::ALL {
        if kind.path().is_some() {
            routes = routes.merge(object_routes(kind));
        }
    }
    routes
}

/// The five routes of an object kind with a REST path: list, create, get, update, delete.
fn object_routes(kind: Kind) -> Routes {
    let path = kind.path().expect("a kind with routes");
    let name = openapi::schema_name(kind);
    let tag = path.split('/').next().unwrap_or(path);
    let label = kind.label();
    let one = || json_response(&format!("The {label}"), schema_ref(&name));
    let mut list_params = openapi::list_params();
    list_params.push(query_param(
        "<field>[__gt|__gte|__lt|__lte|__in]",
        "Filter on any stored scalar field.",
        json!({"type": "string"}),
    ));
    if kind == Kind::Lead {
        list_params.push(query_param(
            "query",
            "The lead search language; answers 400 with `error`, `span` and `hint` when it cannot run.",
            json!({"type": "string"}),
        ));
    }
    let idempotency_key = json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"},
        "description": "A retry with the same key returns the first result."});
    let collection = format!("/api/v1/{path}/");
    let one_object = format!("/api/v1/{path}/{{id}}/");
    Routes::new()
        .get(
            &collection,
            move |state: State<AppState>, auth: Auth, headers: HeaderMap, query: RawQuery| {
                list(state, auth, headers, query, kind)
            },
            Op::new(format!("List {label}s"), tag)
                .id(format!("list_{name}"))
                .params(list_params)
                .ok(json_response("A page", list_schema(schema_ref(&name)))),
        )
        .post(
            &collection,
            move |state: State<AppState>, auth: Auth, uri: Uri, headers: HeaderMap, body: Bytes| {
                create(state, auth, uri, headers, body, kind)
            },
            Op::new(format!("Create a {label}"), tag)
                .id(format!("create_{name}"))
                .param(idempotency_key)
                .body(openapi::create_body(kind))
                .ok(one()),
        )
        .get(
            &one_object,
            move |state: State<AppState>, auth: Auth, id: Path<String>, query: RawQuery| {
                read(state, auth, id, query, kind)
            },
            Op::new(format!("Get a {label}"), tag)
                .id(format!("get_{name}"))
                .params([
                    id_param(),
                    query_param("_fields", "Fields to return.", json!({"type": "string"})),
                ])
                .ok(one()),
        )
        .put(
            &one_object,
            move |state: State<AppState>, auth: Auth, id: Path<String>, body: Bytes| {
                update(state, auth, id, body, kind)
            },
            Op::new(format!("Update a {label} (only the given fields change)"), tag)
                .id(format!("update_{name}"))
                .param(id_param())
                .body(schema_ref(&name))
                .ok(one()),
        )
        .delete(
            &one_object,
            move |state: State<AppState>, auth: Auth, id: Path<String>| delete(state, auth, id, kind),
            Op::new(format!("Delete a {label}"), tag)
                .id(format!("delete_{name}"))
                .param(id_param())
                .ok(json_response("Deleted", any_object())),
        )
}

fn list_activities_op() -> Op {
    let mut params = openapi::list_params();
    params.push(query_param(
        "_type",
        "Note, Call, Email, SMS, Meeting, LeadStatusChange or Chat (a conversation of the lead's).",
        json!({"type": "string"}),
    ));
    let kinds: Vec<Value> = Kind::TIMELINE
        .iter()
        .map(|k| schema_ref(&openapi::schema_name(*k)))
        .collect();
    Op::new("Activities of every kind, newest first", "activity")
        .params(params)
        .ok(json_response("A page", list_schema(json!({"anyOf": kinds}))))
}

fn list_events_op() -> Op {
    let params = [
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
    .map(|p| query_param(p, "Filter or paging.", json!({"type": "string"})));
    Op::new("The event log, newest first, with cursor paging", "event")
        .params(params)
        .ok(json_response(
            "A page of events",
            json!({"type": "object", "properties": {
                "data": {"type": "array", "items": schema_ref("event")}, "cursor_next": {"type": ["string", "null"]}}}),
        ))
}

/// The `X-TZ-Offset` header of the search routes.
fn time_zone_header() -> Value {
    json!({"name": "X-TZ-Offset", "in": "header", "required": false, "schema": {"type": "number"},
        "description": "The caller's time zone in hours east of UTC, for today, this week and day boundaries."})
}

/// What a query that cannot run answers.
fn query_error() -> Value {
    json_response(
        "The query cannot be run (`error`, `span`, `hint`), or another parameter is invalid (`errors`, `field-errors`)",
        json!({"anyOf": [schema_ref("query_error"), schema_ref("validation_error")]}),
    )
}

fn data_search_op() -> Op {
    Op::bare("Search leads with the JSON form of the query language")
        .tag("search")
        .param(time_zone_header())
        .body(json!({"type": "object", "properties": {
            "query": {"type": "object", "description": "A node: and/or (queries), not (query), text (value, phrase), field (field, op, value), related (object_type, query), saved_search (id)"},
            "sort": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "direction": {"enum": ["asc", "desc"]}}}},
            "_limit": {"type": "integer"}, "cursor": {"type": ["string", "null"]},
            "_fields": {"type": "array", "items": {"type": "string"}}}}))
        .ok(json_response(
            "A page of leads",
            json!({"type": "object", "properties": {
                "data": {"type": "array", "items": schema_ref("lead")}, "has_more": {"type": "boolean"},
                "total_results": {"type": "integer"}, "cursor": {"type": ["string", "null"]}}}),
        ))
        .respond("400", query_error())
}

fn query_parse_op() -> Op {
    Op::bare("The JSON form of a query and what it does, in plain words with every date resolved")
        .tag("search")
        .params([
            query_param("query", "The query string.", json!({"type": "string"})),
            time_zone_header(),
        ])
        .ok(json_response(
            "The parsed query",
            json!({"type": "object", "properties": {
                "query": {"type": "object"}, "text": {"type": "string"}, "explanation": {"type": "string"}}}),
        ))
        .respond("400", query_error())
}

fn query_complete_op() -> Op {
    Op::bare(
        "Suggestions for the search bar at the cursor: fields, statuses, users, custom fields, choices, Smart Views",
    )
    .tag("search")
    .params([
        query_param("query", "The query typed so far.", json!({"type": "string"})),
        query_param(
            "cursor",
            "Byte offset of the cursor; the end when absent.",
            json!({"type": "integer"}),
        ),
    ])
    .ok(json_response(
        "What to replace and with what",
        json!({"type": "object", "properties": {
            "replace": {"type": "array", "items": {"type": "integer"}, "description": "Byte span [start, end) the suggestion replaces"},
            "suggestions": {"type": "array", "items": {"type": "object", "properties": {
                "text": {"type": "string"}, "kind": {"type": "string"}, "detail": {"type": "string"}}}}}}),
    ))
}

fn written(w: Written) -> Response {
    let mut response = Json(Value::Object(w.object)).into_response();
    if w.event_seq > 0 {
        if let Ok(v) = HeaderValue::from_str(&w.event_seq.to_string()) {
            response.headers_mut().insert(EVENT_SEQ_HEADER, v);
        }
    }
    response
}

async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> ApiResult {
    let extra: &[&str] = if kind == Kind::Lead { &["query"] } else { &[] };
    let params = list_params(parse_query(raw.as_deref()), extra)?;
    if let Some((_, text)) = params.extra.iter().find(|(k, _)| k == "query") {
        if !params.query.filters.is_empty() || params.query.order_by.is_some() {
            let message = "`query` cannot be combined with filters or `_order_by`; say it in the query (`sort:name`)";
            return Err(FieldErrors::field("query", message).into());
        }
        let query = rapport_query::parse(text).map_err(ApiError::Query)?;
        let tz = time_zone(&headers)?;
        let page = state
            .search
            .search_leads(&actor, &query, tz, params.query.skip, params.query.limit)
            .await?;
        return page_response(page, params.fields.as_deref());
    }
    page_response(
        state.crm.list(&actor, &[kind], &params.query).await?,
        params.fields.as_deref(),
    )
}

/// The caller's time zone: `X-TZ-Offset` in hours east of UTC, as Close clients send it.
fn time_zone(headers: &HeaderMap) -> Result<TimeZone, ApiError> {
    let Some(value) = headers.get("x-tz-offset") else {
        return Ok(TimeZone(0.0));
    };
    let hours = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|h| h.abs() <= 24.0);
    hours.map(TimeZone).ok_or_else(|| {
        FieldErrors::field(
            "X-TZ-Offset",
            "expected hours east of UTC between -24 and 24, e.g. -7 or 5.5",
        )
        .into()
    })
}

/// `POST /data/search/`: the query in its JSON form.
async fn data_search(State(state): State<AppState>, Auth(actor): Auth, headers: HeaderMap, body: Bytes) -> ApiResult {
    // Up to 2 MiB of JSON made into a query tree: work for a blocking thread.
    let (body, query) = tokio::task::spawn_blocking(move || {
        let body = parse_body(&body)?;
        let query = rapport_query::Query::from_json(&body).map_err(ApiError::Query)?;
        Ok::<_, ApiError>((body, query))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the query parser stopped: {e}")))??;
    let mut errors = FieldErrors::new();
    let limit = match body.get("_limit") {
        None | Some(Value::Null) => rapport_crm::DEFAULT_LIMIT,
        Some(v) => v
            .as_u64()
            .map(|n| (n as usize).min(rapport_crm::MAX_LIMIT))
            .unwrap_or_else(|| {
                errors.add("_limit", "expected a non-negative integer");
                0
            }),
    };
    let skip = match body.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_str()
            .and_then(|c| c.strip_prefix('o'))
            .and_then(|n| n.parse().ok())
            .filter(|n| *n <= crate::params::MAX_SKIP)
            .unwrap_or_else(|| {
                errors.add("cursor", "not a cursor this server returned");
                0
            }),
    };
    let fields = match body.get("_fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>(),
        ),
        Some(Value::String(s)) => Some(split_fields(s)),
        // Close's form: `{"lead": ["id", "display_name"]}`.
        Some(Value::Object(by_type)) => Some(
            by_type
                .get("lead")
                .and_then(Value::as_array)
                .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
        ),
        Some(_) => {
            errors.add("_fields", "expected a list of field names");
            None
        }
    };
    errors.into_result(())?;
    let page = state
        .search
        .search_leads(&actor, &query, time_zone(&headers)?, skip, limit)
        .await?;
    let cursor = page.has_more.then(|| format!("o{}", skip + page.data.len()));
    let data: Vec<Value> = page
        .data
        .into_iter()
        .map(|o| Value::Object(project(o, fields.as_deref())))
        .collect();
    let body = json!({"data": data, "has_more": page.has_more, "total_results": page.total_results, "cursor": cursor});
    Ok(Json(body).into_response())
}

/// `GET /query/complete?query=&cursor=`: suggestions for the search bar at the cursor (a
/// byte offset; the end of the query when absent).
async fn query_complete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let pairs = parse_query(raw.as_deref());
    let text = param(&pairs, "query").unwrap_or_default();
    let cursor = match param(&pairs, "cursor") {
        None => text.len(),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| FieldErrors::field("cursor", "expected a byte offset into the query"))?,
    };
    let ctx = state.crm.search_context(&actor, time_zone(&headers)?).await?;
    let completion = rapport_query::complete(&text, cursor, &ctx);
    Ok(Json(completion).into_response())
}

/// `GET /query/parse?query=`: the JSON form of a query and what it does, in words.
async fn query_parse(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let pairs = parse_query(raw.as_deref());
    let text = param(&pairs, "query").unwrap_or_default();
    let query = rapport_query::parse(&text).map_err(ApiError::Query)?;
    let resolved = state.crm.resolve_query(&actor, &query, time_zone(&headers)?).await?;
    Ok(Json(json!({
        "query": query.to_json(),
        "text": rapport_query::print(&query),
        "explanation": rapport_query::explain(&resolved),
    }))
    .into_response())
}

async fn list_activities(State(state): State<AppState>, Auth(actor): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let params = list_params(parse_query(raw.as_deref()), &[])?;
    page_response(
        state.crm.list(&actor, &Kind::TIMELINE, &params.query).await?,
        params.fields.as_deref(),
    )
}

fn page_response(page: rapport_crm::Page, fields: Option<&[String]>) -> ApiResult {
    let data: Vec<Value> = page
        .data
        .into_iter()
        .map(|o| Value::Object(project(o, fields)))
        .collect();
    Ok(Json(json!({"data": data, "has_more": page.has_more, "total_results": page.total_results})).into_response())
}

async fn read(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> ApiResult {
    let object = state.crm.get(&actor, kind, &id).await?;
    let fields = parse_query(raw.as_deref())
        .into_iter()
        .find(|(k, _)| k == "_fields")
        .map(|(_, v)| split_fields(&v));
    Ok(Json(Value::Object(project(object, fields.as_deref()))).into_response())
}

async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    kind: Kind,
) -> ApiResult {
    let input = parse_body(&body)?;
    // A header that is not text is refused like any other bad key.
    let idempotency = headers
        .get("idempotency-key")
        .map(|key| Idempotency::new(&String::from_utf8_lossy(key.as_bytes()), "POST", uri.path(), &body))
        .transpose()?;
    Ok(written(
        state.crm.create(&actor, kind, &input, idempotency.as_ref()).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    body: Bytes,
    kind: Kind,
) -> ApiResult {
    let input = parse_body(&body)?;
    Ok(written(state.crm.update(&actor, kind, &id, &input).await?))
}

async fn delete(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>, kind: Kind) -> ApiResult {
    Ok(written(state.crm.delete(&actor, kind, &id).await?))
}

async fn get_organization(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(state.crm.organization(&actor, &id).await?).into_response())
}

async fn update_organization(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let input = parse_body(&body)?;
    Ok(Json(state.crm.update_organization(&actor, &id, &input).await?).into_response())
}

async fn list_events(State(state): State<AppState>, Auth(actor): Auth, RawQuery(raw): RawQuery) -> ApiResult {
    let mut q = EventQuery {
        limit: 50,
        ..EventQuery::default()
    };
    let mut errors = FieldErrors::new();
    for (name, value) in parse_query(raw.as_deref()) {
        let slot = match name.as_str() {
            "object_type" => &mut q.object_type,
            "object_id" => &mut q.object_id,
            "action" => &mut q.action,
            "lead_id" => &mut q.lead_id,
            "user_id" => &mut q.user_id,
            "date_created__gt" | "date_updated__gt" | "date_created__lt" | "date_updated__lt" => {
                // Compared as stored: canonical UTC text.
                match rapport_core::time::parse_datetime(&value) {
                    Some(t) => {
                        let slot = if name.ends_with("__gt") {
                            &mut q.date_created_gt
                        } else {
                            &mut q.date_created_lt
                        };
                        *slot = Some(rapport_core::time::format(t));
                    }
                    None => errors.add(name, format!("`{value}` is not an ISO 8601 date-time")),
                }
                continue;
            }
            "_cursor" => &mut q.cursor,
            "_limit" => {
                match value.parse::<usize>() {
                    Ok(n) => q.limit = n,
                    Err(_) => errors.add("_limit", format!("`{value}` is not a positive integer")),
                }
                continue;
            }
            _ => {
                errors.add(name, "unknown filter for events");
                continue;
            }
        };
        *slot = Some(value);
    }
    errors.into_result(())?;
    let page = state.crm.list_events(&actor, &q).await?;
    Ok(Json(json!({"data": page.data, "cursor_next": page.cursor_next, "cursor_previous": null})).into_response())
}

async fn get_event(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> ApiResult {
    Ok(Json(state.crm.event(&actor, &id).await?).into_response())
}

async fn openapi_json() -> Response {
    Json(crate::openapi_document()).into_response()
}

async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

async fn not_found(uri: Uri) -> Response {
    let body = Json(crate::codes::body(
        crate::Code::NotFound,
        format!("no route for {}", uri.path()),
    ));
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], body).into_response()
}
