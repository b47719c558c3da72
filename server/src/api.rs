//! The JSON API under `/v1/projects`: query parameters are parsed strictly (an
//! unknown or malformed parameter is a 400 naming it), the store is called off
//! the async runtime, and every list answers `{data, next_cursor}`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::model::{
    Page, ProjectInfo, SessionInfo, TraceDetail, TraceInfo, Turn, parse_rfc3339, unhex,
};
use crate::store::{Order, PageQuery, SessionQuery, SessionSort, Store, StoreError, TraceQuery};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;
/// Longest accepted text parameter, in bytes.
const MAX_PARAM_BYTES: usize = 1024;

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Runs a store call off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(ApiError::internal)??)
}

/// Checked access to query parameters.
struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    fn new(params: Params, allowed: &[&str], allow_metadata: bool) -> Result<Self, ApiError> {
        let Query(pairs) = params.map_err(|e| {
            ApiError::bad_parameter("query", format!("malformed query string: {e}"))
        })?;
        let mut seen = std::collections::HashSet::new();
        for (k, v) in &pairs {
            let known = allowed.contains(&k.as_str())
                || (allow_metadata && k.starts_with("metadata.") && k.len() > 9);
            if !known {
                return Err(ApiError::bad_parameter(
                    k,
                    format!("unknown parameter {k:?}"),
                ));
            }
            if !seen.insert(k.as_str()) {
                return Err(ApiError::bad_parameter(
                    k,
                    format!("parameter {k:?} given more than once"),
                ));
            }
            if v.len() > MAX_PARAM_BYTES || k.len() > MAX_PARAM_BYTES {
                return Err(ApiError::bad_parameter(
                    k,
                    format!("parameter {k:?} is longer than {MAX_PARAM_BYTES} bytes"),
                ));
            }
        }
        Ok(Self { pairs })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("") => Err(ApiError::bad_parameter(
                key,
                format!("{key} must not be empty"),
            )),
            Some(v) => Ok(Some(v.to_owned())),
        }
    }

    fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_rfc3339(v).ok_or_else(|| {
                    ApiError::bad_parameter(
                        key,
                        format!("{key} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"),
                    )
                })
            })
            .transpose()
    }

    fn page(&self) -> Result<PageQuery, ApiError> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_parameter(
                        "limit",
                        format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        Ok(PageQuery {
            limit,
            cursor: self.text("cursor")?,
        })
    }
}

/// `GET /v1/projects`.
pub async fn projects(State(state): State<AppState>) -> Result<Json<Page<ProjectInfo>>, ApiError> {
    let data = blocking(&state, |s| s.projects()).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

const SESSION_PARAMS: &[&str] = &[
    "limit",
    "cursor",
    "sort",
    "order",
    "start_time",
    "end_time",
    "user_id",
    "tag",
    "has_error",
    "min_traces",
    "q",
];

fn parse_session_query(p: &QueryParams) -> Result<SessionQuery, ApiError> {
    let sort = match p.get("sort") {
        None => SessionSort::default(),
        Some(v) => SessionSort::ALL
            .iter()
            .find(|(n, _)| *n == v)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let names: Vec<&str> = SessionSort::ALL.iter().map(|(n, _)| *n).collect();
                ApiError::bad_parameter("sort", format!("sort must be one of {}", names.join(", ")))
            })?,
    };
    let order = match p.get("order") {
        None => Order::default(),
        Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        Some(_) => {
            return Err(ApiError::bad_parameter(
                "order",
                "order must be asc or desc",
            ));
        }
    };
    let has_error = match p.get("has_error") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_parameter(
                "has_error",
                "has_error must be true or false",
            ));
        }
    };
    let min_traces = p
        .get("min_traces")
        .map(|v| {
            v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_parameter("min_traces", "min_traces must be a non-negative integer")
            })
        })
        .transpose()?;
    let mut metadata: Vec<(String, String)> = p
        .pairs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata.")
                .map(|k| (k.to_owned(), v.clone()))
        })
        .collect();
    metadata.sort();
    let start_ns = p.time("start_time")?;
    let end_ns = p.time("end_time")?;
    if let (Some(s), Some(e)) = (start_ns, end_ns)
        && e < s
    {
        return Err(ApiError::bad_parameter(
            "end_time",
            "end_time is before start_time",
        ));
    }
    Ok(SessionQuery {
        page: p.page()?,
        sort,
        order,
        start_ns,
        end_ns,
        user_id: p.text("user_id")?,
        tag: p.text("tag")?,
        metadata,
        has_error,
        min_traces,
        q: p.text("q")?,
    })
}

/// `GET /v1/projects/{project}/sessions`.
pub async fn sessions(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<SessionInfo>>, ApiError> {
    let p = QueryParams::new(params, SESSION_PARAMS, true)?;
    let query = parse_session_query(&p)?;
    Ok(Json(
        blocking(&state, move |s| s.sessions(&project, &query)).await?,
    ))
}

/// `GET /v1/projects/{project}/sessions/{session_id}`.
pub async fn session(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<SessionInfo>, ApiError> {
    QueryParams::new(params, &[], false)?;
    Ok(Json(
        blocking(&state, move |s| s.session(&project, &session_id)).await?,
    ))
}

/// `GET /v1/projects/{project}/sessions/{session_id}/turns`.
pub async fn turns(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Page<Turn>>, ApiError> {
    let page = QueryParams::new(params, &["limit", "cursor"], false)?.page()?;
    Ok(Json(
        blocking(&state, move |s| s.turns(&project, &session_id, &page)).await?,
    ))
}

/// `DELETE /v1/projects/{project}/sessions/{session_id}`.
pub async fn delete_session(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    blocking(&state, move |s| s.delete_session(&project, &session_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/projects/{project}/traces`.
pub async fn traces(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<TraceInfo>>, ApiError> {
    let p = QueryParams::new(
        params,
        &["limit", "cursor", "session_id", "start_time", "end_time"],
        false,
    )?;
    let query = TraceQuery {
        page: p.page()?,
        session_id: p.text("session_id")?,
        start_ns: p.time("start_time")?,
        end_ns: p.time("end_time")?,
    };
    Ok(Json(
        blocking(&state, move |s| s.traces(&project, &query)).await?,
    ))
}

/// `GET /v1/projects/{project}/traces/{trace_id}`.
pub async fn trace(
    State(state): State<AppState>,
    Path((project, trace_id)): Path<(String, String)>,
) -> Result<Json<TraceDetail>, ApiError> {
    let id: [u8; 16] = unhex(&trace_id)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::bad_parameter("trace_id", "trace_id must be 32 hex digits"))?;
    Ok(Json(
        blocking(&state, move |s| s.trace(&project, &id)).await?,
    ))
}

/// `GET /healthz`: the store answers; `ui` says whether the web UI is embedded.
pub async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(&state, |s| s.health()).await?;
    Ok(Json(
        serde_json::json!({"status": "ok", "ui": crate::ui::embedded()}),
    ))
}

/// `GET /openapi.json`: the committed OpenAPI document.
pub async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::OPENAPI_JSON,
    )
        .into_response()
}

/// Any other path.
pub async fn fallback() -> ApiError {
    ApiError::not_found("route")
}
