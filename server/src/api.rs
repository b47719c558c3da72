//! The JSON API under `/v1/projects`: query parameters are parsed strictly (an
//! unknown or malformed parameter is a 400 naming it), the store is called off
//! the async runtime, and every list answers `{data, next_cursor}`. Each
//! handler's `#[utoipa::path]` is its entry in the generated OpenAPI document
//! ([`crate::openapi`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::model::{
    HealthInfo, Page, ProjectInfo, SessionInfo, TraceDetail, TraceInfo, Turn, unhex,
};
use crate::request::{Params, QueryParams};
use crate::store::{Order, SessionQuery, SessionSort, SessionStatus, Store, StoreError, TraceQuery};

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

/// `GET /v1/projects`.
#[utoipa::path(
    get, path = "/v1/projects", tag = "projects",
    responses(
        (status = 200, description = "Every project", body = Page<ProjectInfo>),
        (status = 400, description = "A query parameter was given", body = ErrorBody),
    )
)]
pub async fn projects(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Page<ProjectInfo>>, ApiError> {
    QueryParams::none(params)?;
    let data = blocking(&state, |s| s.projects()).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

pub(crate) const SESSION_PARAMS: &[&str] = &[
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
    "status",
];

pub(crate) fn parse_session_query(p: &QueryParams) -> Result<SessionQuery, ApiError> {
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
    let has_error = p.flag("has_error")?;
    let min_traces = p
        .get("min_traces")
        .map(|v| {
            v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_parameter("min_traces", "min_traces must be a non-negative integer")
            })
        })
        .transpose()?;
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
        metadata: p.metadata(),
        has_error,
        min_traces,
        q: p.text("q")?,
        status: p
            .get("status")
            .map(|v| {
                SessionStatus::parse(v).ok_or_else(|| {
                    ApiError::bad_parameter("status", "status must be active or idle")
                })
            })
            .transpose()?,
    })
}

/// `GET /v1/projects/{project}/sessions`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("sort" = Option<SessionSort>, Query, description = "What the list is sorted by (default start_time)"),
        ("order" = Option<Order>, Query, description = "Sort direction (default desc)"),
        ("start_time" = Option<String>, Query, description = "Sessions that end at or after this RFC 3339 time"),
        ("end_time" = Option<String>, Query, description = "Sessions that start at or before this RFC 3339 time"),
        ("user_id" = Option<String>, Query, description = "Sessions with a trace of this user"),
        ("tag" = Option<String>, Query, description = "Sessions with a trace carrying this tag"),
        ("has_error" = Option<bool>, Query, description = "Sessions with (true) or without (false) an errored trace"),
        ("min_traces" = Option<i64>, Query, description = "Sessions with at least this many traces"),
        ("q" = Option<String>, Query, description = "Case-insensitive text in any turn's input or output"),
        ("status" = Option<SessionStatus>, Query, description = "Active sessions (a trace arrived within the project's idle period) or idle ones"),
        ("metadata.<key>" = Option<String>, Query, description = "Sessions with a trace whose metadata maps <key> to this value (repeat for several keys)"),
    ),
    responses(
        (status = 200, description = "A page of sessions", body = Page<SessionInfo>),
        (status = 400, description = "A parameter is unknown or malformed", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions/{session_id}", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name"),
        ("session_id" = String, Path, description = "The session id the app sent"),
    ),
    responses(
        (status = 200, description = "The session", body = SessionInfo),
        (status = 404, description = "No such project or session", body = ErrorBody),
    )
)]
pub async fn session(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<SessionInfo>, ApiError> {
    QueryParams::none(params)?;
    Ok(Json(
        blocking(&state, move |s| s.session(&project, &session_id)).await?,
    ))
}

/// `GET /v1/projects/{project}/sessions/{session_id}/turns`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions/{session_id}/turns", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name"),
        ("session_id" = String, Path, description = "The session id the app sent"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the session's turns, in time order", body = Page<Turn>),
        (status = 400, description = "A parameter is unknown or malformed", body = ErrorBody),
        (status = 404, description = "No such project or session", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    delete, path = "/v1/projects/{project}/sessions/{session_id}", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name"),
        ("session_id" = String, Path, description = "The session id the app sent"),
    ),
    responses(
        (status = 204, description = "Deleted with its traces, spans and annotations"),
        (status = 404, description = "No such project or session", body = ErrorBody),
    )
)]
pub async fn delete_session(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    blocking(&state, move |s| s.delete_session(&project, &session_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/projects/{project}/traces`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/traces", tag = "traces",
    params(
        ("project" = String, Path, description = "Project name"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("session_id" = Option<String>, Query, description = "Traces of this session only"),
        ("has_session" = Option<bool>, Query, description = "Traces with (true) or without (false) a session id"),
        ("start_time" = Option<String>, Query, description = "Traces that end at or after this RFC 3339 time"),
        ("end_time" = Option<String>, Query, description = "Traces that start at or before this RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "A page of traces, newest first", body = Page<TraceInfo>),
        (status = 400, description = "A parameter is unknown or malformed", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn traces(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<TraceInfo>>, ApiError> {
    let p = QueryParams::new(
        params,
        &[
            "limit",
            "cursor",
            "session_id",
            "has_session",
            "start_time",
            "end_time",
        ],
        false,
    )?;
    let query = TraceQuery {
        page: p.page()?,
        session_id: p.text("session_id")?,
        has_session: p.flag("has_session")?,
        start_ns: p.time("start_time")?,
        end_ns: p.time("end_time")?,
    };
    Ok(Json(
        blocking(&state, move |s| s.traces(&project, &query)).await?,
    ))
}

/// `GET /v1/projects/{project}/traces/{trace_id}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/traces/{trace_id}", tag = "traces",
    params(
        ("project" = String, Path, description = "Project name"),
        ("trace_id" = String, Path, description = "32 hex digits"),
    ),
    responses(
        (status = 200, description = "The trace with every span", body = TraceDetail),
        (status = 400, description = "Not a trace id, or a query parameter was given", body = ErrorBody),
        (status = 404, description = "No such project or trace", body = ErrorBody),
    )
)]
pub async fn trace(
    State(state): State<AppState>,
    Path((project, trace_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<TraceDetail>, ApiError> {
    QueryParams::none(params)?;
    let id: [u8; 16] = unhex(&trace_id)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::bad_parameter("trace_id", "trace_id must be 32 hex digits"))?;
    Ok(Json(
        blocking(&state, move |s| s.trace(&project, &id)).await?,
    ))
}

/// `GET /healthz`: what the server knows of itself: whether its store reads
/// and writes and passed its integrity check, and whether the UI is embedded.
/// 200 when all is well, 503 (same body) when something is not.
#[utoipa::path(
    get, path = "/healthz", tag = "server",
    responses(
        (status = 200, description = "The store reads, writes and passed its integrity check", body = HealthInfo),
        (status = 503, description = "Something is not well: `store` says what", body = HealthInfo),
    )
)]
pub async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let store = tokio::task::spawn_blocking(move || store.health())
        .await
        .map_err(ApiError::internal)?;
    let ok = store.ok();
    let body = HealthInfo {
        status: if ok { "ok" } else { "failing" }.to_owned(),
        ui: crate::ui::embedded(),
        store,
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(body)).into_response())
}

/// `GET /openapi.json`: the OpenAPI document, generated from these handlers
/// and the model's types.
pub async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}

/// Any other path under the API.
pub async fn fallback() -> ApiError {
    ApiError::not_found("route")
}
