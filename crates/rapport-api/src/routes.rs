//! The routes. Object kinds share five generic handlers; the rest are few and specific.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rapport_core::{FieldErrors, Kind};
use rapport_crm::{EventQuery, Idempotency, TimeZone, Written};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::Auth;
use crate::body::parse_body;
use crate::params::{list_params, param, parse_query, project, split_fields};
use crate::route_table::Routes;
use crate::{openapi, ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

/// The header carrying the sequence number of a write's last event, so a client can wait
/// for consumers of the event log (search, real time) to catch up with its own write.
pub const EVENT_SEQ_HEADER: &str = "x-rapport-event-seq";

pub fn routes() -> Routes {
    let mut router = Routes::new()
        .route(
            "/api/v1/organization/{id}",
            get(get_organization).put(update_organization),
        )
        .route("/api/v1/activity", get(list_activities))
        .route("/api/v1/event", get(list_events))
        .route("/api/v1/event/{id}", get(get_event))
        .route("/api/v1/data/search", axum::routing::post(data_search))
        .route("/api/v1/query/parse", get(query_parse))
        .route("/api/v1/query/complete", get(query_complete))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs))
        .fallback(not_found);
    for kind in Kind::ALL {
        let Some(path) = kind.path() else { continue };
        router = router
            .route(
                &format!("/api/v1/{path}"),
                get(
                    move |state: State<AppState>, auth: Auth, headers: HeaderMap, query: RawQuery| {
                        list(state, auth, headers, query, kind)
                    },
                )
                .post(
                    move |state: State<AppState>, auth: Auth, uri: Uri, headers: HeaderMap, body: Bytes| {
                        create(state, auth, uri, headers, body, kind)
                    },
                ),
            )
            .route(
                &format!("/api/v1/{path}/{{id}}"),
                get(
                    move |state: State<AppState>, auth: Auth, id: Path<String>, query: RawQuery| {
                        read(state, auth, id, query, kind)
                    },
                )
                .put(
                    move |state: State<AppState>, auth: Auth, id: Path<String>, body: Bytes| {
                        update(state, auth, id, body, kind)
                    },
                )
                .delete(move |state: State<AppState>, auth: Auth, id: Path<String>| delete(state, auth, id, kind)),
            );
    }
    router
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
            .crm
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
        .crm
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
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 255);
            let key = key.ok_or_else(|| {
                FieldErrors::general("the Idempotency-Key header must be 1 to 255 visible characters")
            })?;
            let mut hasher = Sha256::new();
            hasher.update(Method::POST.as_str());
            hasher.update(uri.path().trim_end_matches('/'));
            hasher.update(&body);
            Some(Idempotency {
                key: key.to_string(),
                request_hash: hex::encode(hasher.finalize()),
            })
        }
    };
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
    Json(openapi::openapi_document()).into_response()
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
