//! Query-string parameters: Close's `_skip`, `_limit`, `_fields`, `_order_by`, the rest
//! being filters.

use percent_encoding::percent_decode_str;
use rapport_core::FieldErrors;
use rapport_crm::{ListQuery, DEFAULT_LIMIT, MAX_LIMIT};
use serde_json::{Map, Value};

/// The largest `_skip`: a page that deep costs the server a sort of `_skip + _limit`
/// candidates (an offset in SQL, a bounded buffer in the search index), so the cost of a
/// request stays bounded; more is an export's job.
pub const MAX_SKIP: usize = 100_000;

/// Decodes `a=1&b=x+y` into pairs, in order.
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// The value of the first parameter called `name`.
pub fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Paging and projection common to every list.
pub struct ListParams {
    pub query: ListQuery,
    pub fields: Option<Vec<String>>,
    /// Parameters this list handles itself (e.g. `query` on leads), removed from filters.
    pub extra: Vec<(String, String)>,
}

/// Splits list parameters; `extra_names` are kept apart for the caller.
pub fn list_params(pairs: Vec<(String, String)>, extra_names: &[&str]) -> Result<ListParams, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut query = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    let mut fields = None;
    let mut extra = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "_skip" => match value.parse::<usize>() {
                Ok(n) if n <= MAX_SKIP => query.skip = n,
                Ok(_) => errors.add("_skip", format!("must be at most {MAX_SKIP}")),
                Err(_) => errors.add("_skip", format!("`{value}` is not a non-negative integer")),
            },
            // Above the maximum is clamped, as Close does.
            "_limit" => match value.parse::<usize>() {
                Ok(n) => query.limit = n.min(MAX_LIMIT),
                Err(_) => errors.add("_limit", format!("`{value}` is not a non-negative integer")),
            },
            "_fields" => fields = Some(split_fields(&value)),
            "_order_by" => query.order_by = Some(value),
            n if extra_names.contains(&n) => extra.push((name, value)),
            _ => query.filters.push((name, value)),
        }
    }
    errors.into_result(ListParams { query, fields, extra })
}

pub fn split_fields(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// Keeps only the requested top-level fields (`_fields=id,name`).
pub fn project(object: Map<String, Value>, fields: Option<&[String]>) -> Map<String, Value> {
    match fields {
        None => object,
        Some(fields) => object
            .into_iter()
            .filter(|(k, _)| fields.iter().any(|f| f == k))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_pairs_in_order() {
        assert_eq!(
            parse_query(Some("query=status%3Acold+x&_limit=5&flag")),
            vec![
                ("query".into(), "status:cold x".into()),
                ("_limit".into(), "5".into()),
                ("flag".into(), "".into())
            ]
        );
        assert!(parse_query(None).is_empty());
    }

    #[test]
    fn splits_paging_from_filters_and_clamps_the_limit() {
        let pairs = parse_query(Some("_skip=10&_limit=500&lead_id=lead_1&_fields=id,name&query=x"));
        let p = list_params(pairs, &["query"]).unwrap();
        assert_eq!((p.query.skip, p.query.limit), (10, MAX_LIMIT));
        assert_eq!(p.query.filters, vec![("lead_id".to_string(), "lead_1".to_string())]);
        assert_eq!(p.fields, Some(vec!["id".to_string(), "name".to_string()]));
        assert_eq!(p.extra, vec![("query".to_string(), "x".to_string())]);
        let errors = list_params(parse_query(Some("_limit=many")), &[]).err().unwrap();
        assert_eq!(errors.fields["_limit"], "`many` is not a non-negative integer");
    }

    #[test]
    fn projects_requested_fields() {
        let obj = json!({"id": 1, "name": "x", "url": null}).as_object().unwrap().clone();
        assert_eq!(Value::Object(project(obj, Some(&["id".to_string()]))), json!({"id": 1}));
    }
}
