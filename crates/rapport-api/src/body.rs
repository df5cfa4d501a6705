//! Request and answer bodies every route module shares: a JSON body read and checked, a
//! list answered whole in Close's page shape.

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::FieldErrors;
use serde_json::{json, Value};

use crate::ApiError;

/// The request's JSON body; an empty body, invalid JSON or a NUL character is a 400.
pub(crate) fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FieldErrors::general("the request body is empty; expected a JSON object").into());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::from(FieldErrors::general(format!("invalid JSON: {e}"))))?;
    let mut errors = FieldErrors::new();
    rapport_core::validate::refuse_nul(&value, "", &mut errors);
    errors.into_result(value).map_err(ApiError::from)
}

/// A list answered whole, in Close's page shape.
pub(crate) fn whole_list<T: serde::Serialize>(data: Vec<T>) -> Response {
    let total = data.len();
    Json(json!({"data": data, "has_more": false, "total_results": total})).into_response()
}
