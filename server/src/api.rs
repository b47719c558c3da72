//! The JSON API under `/v1/projects`: query parameters are parsed strictly (an
//! unknown or malformed parameter is a 400 naming it), the store is called off
//! the async runtime, and every list answers `{data, next_cursor}`. Each
//! handler's `#[utoipa::path]` is its entry in the generated OpenAPI document
//! ([`crate::openapi`]).
//!
//! The project list, the session list and the trace list are also Phoenix's
//! (same paths): they take Phoenix's parameters besides ours and answer rows
//! that carry Phoenix's fields besides ours ([`crate::phoenix`] has the rest of
//! Phoenix's API). A `{project}` in a path is a project's name or its id
//! ([`crate::ids`]).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::ids;
use crate::model::{
    HealthInfo, Page, ProjectInfo, SessionInfo, TraceDetail, TraceRow, Turn, unhex,
};
use crate::request::{MAX_PARAM_BYTES, Params, QueryParams, decode_component};
use crate::store::queries::fold_case;
use crate::store::stats::{MAX_BUCKETS, ProjectStats, StatsQuery};
use crate::store::{
    Cursor, Order, SessionQuery, SessionSort, SessionStatus, Store, StoreError, TraceQuery,
    TraceSort,
};

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

/// Most values of one repeatable parameter.
pub const MAX_LIST_VALUES: usize = 1000;

/// Parameters that may be given several times (Phoenix's lists:
/// `session_identifier=a&session_identifier=b`), taken out of the query string
/// before the rest is read strictly: each value non-empty and within the
/// length limit.
pub(crate) struct Lists(HashMap<String, Vec<String>>);

impl Lists {
    /// Splits the `repeatable` parameters off `params`.
    pub(crate) fn split(params: Params, repeatable: &[&str]) -> Result<(Params, Self), ApiError> {
        let axum::extract::RawQuery(raw) = params;
        let mut lists: HashMap<String, Vec<String>> = HashMap::new();
        let mut rest = Vec::new();
        for part in raw
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            // a malformed name stays in the rest: the strict reading reports it
            let Some(k) = decode_component(k).filter(|k| repeatable.contains(&k.as_str())) else {
                rest.push(part);
                continue;
            };
            let v = decode_component(v).ok_or_else(|| {
                ApiError::bad_parameter(
                    &k,
                    format!("parameter {k:?} is not valid percent-encoded UTF-8"),
                )
            })?;
            if v.is_empty() || v.len() > MAX_PARAM_BYTES {
                return Err(ApiError::bad_parameter(
                    &k,
                    format!("each {k} must be 1 to {MAX_PARAM_BYTES} bytes"),
                ));
            }
            let values = lists.entry(k.clone()).or_default();
            if values.len() == MAX_LIST_VALUES {
                return Err(ApiError::bad_parameter(
                    &k,
                    format!("{k} given more than {MAX_LIST_VALUES} times"),
                ));
            }
            values.push(v);
        }
        Ok((axum::extract::RawQuery(Some(rest.join("&"))), Self(lists)))
    }

    /// The values of a parameter, in the order given (none when absent).
    pub(crate) fn take(&mut self, key: &str) -> Vec<String> {
        self.0.remove(key).unwrap_or_default()
    }
}

/// `limit` and `cursor`, with a route's own default and largest page
/// (Phoenix's routes have theirs).
pub(crate) fn page_within(
    p: &QueryParams,
    default: usize,
    max: usize,
) -> Result<crate::store::PageQuery, ApiError> {
    let limit = match p.get("limit") {
        None => default,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "limit",
                    format!("limit must be an integer from 1 to {max}"),
                )
            })?,
    };
    Ok(crate::store::PageQuery {
        limit,
        cursor: p.text("cursor")?,
    })
}

/// `limit` without a default: `None` when absent.
fn optional_limit(p: &QueryParams) -> Result<Option<usize>, ApiError> {
    match p.get("limit") {
        None => Ok(None),
        Some(_) => p.page().map(|page| Some(page.limit)),
    }
}

/// `GET /v1/projects`: every project by name, or a page of them when `limit`
/// is given.
#[utoipa::path(
    get, path = "/v1/projects", tag = "projects",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default: every project on one page)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("name_contains" = Option<String>, Query, description = "Projects whose name contains this text, case-insensitively"),
        ("include_experiment_projects" = Option<bool>, Query, description = "Phoenix's; accepted (there are no experiment projects here)"),
        ("include_dataset_evaluator_projects" = Option<bool>, Query, description = "Phoenix's; accepted (there are no evaluator projects here)"),
    ),
    responses(
        (status = 200, description = "Projects by name", body = Page<ProjectInfo>),
        (status = 400, description = "A parameter is unknown or malformed", body = ErrorBody),
    )
)]
pub async fn projects(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Page<ProjectInfo>>, ApiError> {
    let p = QueryParams::new(
        params,
        &[
            "limit",
            "cursor",
            "name_contains",
            "include_experiment_projects",
            "include_dataset_evaluator_projects",
        ],
        false,
    )?;
    p.flag("include_experiment_projects")?;
    p.flag("include_dataset_evaluator_projects")?;
    let limit = optional_limit(&p)?.unwrap_or(usize::MAX);
    let after = p
        .text("cursor")?
        .map(|c| Cursor::decode(&c, "projects").map(|c| c.value))
        .transpose()?;
    let contains = p.text("name_contains")?.map(|t| fold_case(&t));
    let all = blocking(&state, |s| s.projects()).await?;
    let mut data: Vec<ProjectInfo> = all
        .into_iter()
        .filter(|p| after.as_ref().is_none_or(|a| p.name > *a))
        .filter(|p| {
            contains
                .as_ref()
                .is_none_or(|c| fold_case(&p.name).contains(c.as_str()))
        })
        .collect();
    let next_cursor = (data.len() > limit).then(|| {
        data.truncate(limit);
        Cursor {
            scope: "projects".to_owned(),
            value: data[limit - 1].name.clone(),
            id: 0,
        }
        .encode()
    });
    Ok(Json(Page { data, next_cursor }))
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
    "annotation",
    "annotation_label",
    "annotation_score_min",
    "annotation_score_max",
    "missing_annotation",
];

/// A parameter that names one of `choices`.
pub(crate) fn parse_choice<T: Copy>(
    p: &QueryParams,
    key: &str,
    choices: &[(&str, T)],
) -> Result<Option<T>, ApiError> {
    p.get(key)
        .map(|v| {
            choices
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, c)| *c)
                .ok_or_else(|| {
                    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                    ApiError::bad_parameter(
                        key,
                        format!("{key} must be one of {}", names.join(", ")),
                    )
                })
        })
        .transpose()
}

/// `order`: `asc` or `desc` (default).
pub(crate) fn parse_order(p: &QueryParams) -> Result<Order, ApiError> {
    Ok(
        parse_choice(p, "order", &[("asc", Order::Asc), ("desc", Order::Desc)])?
            .unwrap_or_default(),
    )
}

pub(crate) fn parse_session_query(p: &QueryParams) -> Result<SessionQuery, ApiError> {
    let sort = parse_choice(p, "sort", SessionSort::ALL)?.unwrap_or_default();
    let order = parse_order(p)?;
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
    let annotation = p.text("annotation")?;
    if sort == SessionSort::AnnotationScore && annotation.is_none() {
        return Err(ApiError::bad_parameter(
            "sort",
            "sort=annotation_score needs annotation=<name>: the annotation whose score orders the list",
        ));
    }
    for key in [
        "annotation_label",
        "annotation_score_min",
        "annotation_score_max",
    ] {
        if p.get(key).is_some() && annotation.is_none() {
            return Err(ApiError::bad_parameter(
                key,
                format!("{key} needs annotation=<name>"),
            ));
        }
    }
    let score = |key: &str| {
        p.get(key)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| ApiError::bad_parameter(key, format!("{key} must be a number")))
            })
            .transpose()
    };
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
        annotation: annotation.clone(),
        annotation_label: p.text("annotation_label")?,
        annotation_score_min: score("annotation_score_min")?,
        annotation_score_max: score("annotation_score_max")?,
        missing_annotation: p.text("missing_annotation")?,
    })
}

/// `GET /v1/projects/{project}/sessions`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name or id"),
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
        ("q" = Option<String>, Query, description = "The session's id or its start (exact case), or case-insensitive text in any turn's input or output"),
        ("status" = Option<SessionStatus>, Query, description = "Active sessions (a trace arrived within the project's idle period) or idle ones"),
        ("annotation" = Option<String>, Query, description = "Sessions with an annotation of this name; `sort=annotation_score` orders them by its mean score"),
        ("annotation_label" = Option<String>, Query, description = "With `annotation`: its label is this"),
        ("annotation_score_min" = Option<f64>, Query, description = "With `annotation`: its score is at least this"),
        ("annotation_score_max" = Option<f64>, Query, description = "With `annotation`: its score is at most this"),
        ("missing_annotation" = Option<String>, Query, description = "Sessions without an annotation of this name"),
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
    let project = ids::project_name(&project);
    Ok(Json(
        blocking(&state, move |s| s.sessions(&project, &query)).await?,
    ))
}

/// `GET /v1/projects/{project}/sessions/{session_id}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions/{session_id}", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name or id"),
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
    let project = ids::project_name(&project);
    Ok(Json(
        blocking(&state, move |s| s.session(&project, &session_id)).await?,
    ))
}

/// `GET /v1/projects/{project}/sessions/{session_id}/turns`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions/{session_id}/turns", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name or id"),
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
    let project = ids::project_name(&project);
    Ok(Json(
        blocking(&state, move |s| s.turns(&project, &session_id, &page)).await?,
    ))
}

/// `DELETE /v1/projects/{project}/sessions/{session_id}`.
#[utoipa::path(
    delete, path = "/v1/projects/{project}/sessions/{session_id}", tag = "sessions",
    params(
        ("project" = String, Path, description = "Project name or id"),
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
    let project = ids::project_name(&project);
    blocking(&state, move |s| s.delete_session(&project, &session_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/projects/{project}/traces`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/traces", tag = "traces",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("sort" = Option<TraceSort>, Query, description = "What the list is sorted by (default start_time)"),
        ("order" = Option<Order>, Query, description = "Sort direction (default desc)"),
        ("session_id" = Option<String>, Query, description = "Traces of this session only"),
        ("session_identifier" = Option<Vec<String>>, Query, description = "Traces of any of these sessions, each a session id or a session's opaque id (repeat the parameter)"),
        ("has_session" = Option<bool>, Query, description = "Traces with (true) or without (false) a session id"),
        ("error" = Option<bool>, Query, description = "Traces with (true) or without (false) an errored span"),
        ("min_latency_ms" = Option<f64>, Query, description = "Traces that take at least this long"),
        ("max_latency_ms" = Option<f64>, Query, description = "Traces that take at most this long"),
        ("start_time" = Option<String>, Query, description = "Traces that end at or after this RFC 3339 time"),
        ("end_time" = Option<String>, Query, description = "Traces that start at or before this RFC 3339 time"),
        ("include_spans" = Option<bool>, Query, description = "With each trace's spans in brief (`spans`)"),
    ),
    responses(
        (status = 200, description = "A page of traces, newest first by default", body = Page<TraceRow>),
        (status = 400, description = "A parameter is unknown or malformed", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn traces(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<TraceRow>>, ApiError> {
    let (params, mut lists) = Lists::split(params, &["session_identifier"])?;
    let p = QueryParams::new(
        params,
        &[
            "limit",
            "cursor",
            "sort",
            "order",
            "session_id",
            "has_session",
            "error",
            "min_latency_ms",
            "max_latency_ms",
            "start_time",
            "end_time",
            "include_spans",
        ],
        false,
    )?;
    let project = ids::project_name(&project);
    let identifiers = lists.take("session_identifier");
    // Another project's sessions hold none of this project's traces.
    let session_ids: Vec<String> = identifiers
        .iter()
        .filter_map(|i| match ids::parse_session(i) {
            Some((p, session)) => (p == project).then_some(session),
            None => Some(i.clone()),
        })
        .collect();
    let latency = |key: &str, round: fn(f64) -> f64| -> Result<Option<i64>, ApiError> {
        p.get(key)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)
                    .map(|ms| round(ms * 1e6) as i64)
                    .ok_or_else(|| {
                        ApiError::bad_parameter(
                            key,
                            format!("{key} must be a number of milliseconds, 0 or more"),
                        )
                    })
            })
            .transpose()
    };
    let query = TraceQuery {
        page: p.page()?,
        sort: parse_choice(&p, "sort", TraceSort::ALL)?.unwrap_or_default(),
        order: parse_order(&p)?,
        session_id: p.text("session_id")?,
        session_ids,
        has_session: p.flag("has_session")?,
        has_error: p.flag("error")?,
        min_latency_ns: latency("min_latency_ms", f64::ceil)?,
        max_latency_ns: latency("max_latency_ms", f64::floor)?,
        start_ns: p.time("start_time")?,
        end_ns: p.time("end_time")?,
    };
    let include_spans = p.flag("include_spans")?.unwrap_or(false);
    if !identifiers.is_empty() && query.session_ids.is_empty() {
        return Ok(Json(Page {
            data: Vec::new(),
            next_cursor: None,
        }));
    }
    let (page, mut spans) = blocking(&state, move |s| {
        let page = s.traces(&project, &query)?;
        let spans = if include_spans {
            let ids: Vec<[u8; 16]> = page
                .data
                .iter()
                .filter_map(|t| unhex(&t.trace_id).and_then(|b| b.try_into().ok()))
                .collect();
            s.span_summaries(&project, &ids)?.into_iter().collect()
        } else {
            HashMap::new()
        };
        Ok((page, spans))
    })
    .await?;
    let data = page
        .data
        .into_iter()
        .map(|trace| TraceRow {
            spans: include_spans.then(|| spans.remove(&trace.trace_id).unwrap_or_default()),
            trace,
        })
        .collect();
    Ok(Json(Page {
        data,
        next_cursor: page.next_cursor,
    }))
}

/// `GET /v1/projects/{project}/traces/{trace_id}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/traces/{trace_id}", tag = "traces",
    params(
        ("project" = String, Path, description = "Project name or id"),
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
    let project = ids::project_name(&project);
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
        version: crate::VERSION.to_owned(),
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

/// `GET /v1/projects/{project}/stats`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/stats", tag = "projects",
    params(
        ("project" = String, Path, description = "Project name"),
        ("start_time" = Option<String>, Query, description = "Sessions that end at or after this RFC 3339 time"),
        ("end_time" = Option<String>, Query, description = "Sessions that start at or before this RFC 3339 time"),
        ("bucket" = Option<String>, Query, description = "The trend's bucket: `hour`, `day`, `week` or a duration (`6h`); by default an hour for windows up to 2 days, a day up to 180 days, else a week"),
    ),
    responses(
        (status = 200, description = "Sessions, turns, durations and every annotation's verdicts over the window, with their trends", body = ProjectStats),
        (status = 400, description = "A parameter is unknown or malformed, or the window holds too many buckets", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn project_stats(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<ProjectStats>, ApiError> {
    let p = QueryParams::new(params, &["start_time", "end_time", "bucket"], false)?;
    let (start_ns, end_ns) = (p.time("start_time")?, p.time("end_time")?);
    const HOUR: i64 = 3_600_000_000_000;
    let span = start_ns.map(|s| {
        end_ns
            .unwrap_or_else(crate::store::queries::now_ns)
            .saturating_sub(s)
    });
    let bucket_ns = match p.get("bucket") {
        None => match span {
            Some(w) if w <= 48 * HOUR => HOUR,
            Some(w) if w > 180 * 24 * HOUR => 7 * 24 * HOUR,
            _ => 24 * HOUR,
        },
        Some("hour") => HOUR,
        Some("day") => 24 * HOUR,
        Some("week") => 7 * 24 * HOUR,
        Some(other) => humantime::parse_duration(other)
            .ok()
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .filter(|ns| *ns >= 60_000_000_000)
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "bucket",
                    "bucket must be hour, day, week or a duration of at least 1m",
                )
            })?,
    };
    if span.is_some_and(|w| w / bucket_ns > MAX_BUCKETS) {
        return Err(ApiError::bad_parameter(
            "bucket",
            format!("the window holds more than {MAX_BUCKETS} buckets: choose a wider bucket"),
        ));
    }
    let query = StatsQuery {
        start_ns,
        end_ns,
        bucket_ns,
    };
    let project = ids::project_name(&project);
    Ok(Json(
        blocking(&state, move |s| s.project_stats(&project, &query)).await?,
    ))
}
