//! The routes of online evaluation:
//!
//! - `GET|POST /v1/projects/{project}/evaluators`
//! - `GET|PUT|DELETE /v1/projects/{project}/evaluators/{name}`
//! - `POST /v1/projects/{project}/evaluators/{name}/backfills`: judge existing sessions
//! - `GET  /v1/projects/{project}/backfills/{id}`: its progress
//! - `GET  /v1/projects/{project}/evaluation_jobs`: jobs by session, evaluator,
//!   state or backfill; `wait` long-polls until one matches

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::spec::EvaluatorSpec;
use crate::AppState;
use crate::api::{SESSION_PARAMS, blocking, parse_session_query};
use crate::error::{ApiError, ErrorBody};
use crate::model::{Page, rfc3339};
use crate::request::{Params, QueryParams, from_json_value, json_body};
use crate::store::{
    Backfill, EvaluationJob, JobCounts, JobQuery, JobState, NewJob, Put, StoredEvaluator,
};

/// Longest `wait` of a job listing.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Sessions a backfill lists per page.
const BACKFILL_PAGE: usize = 500;

/// An evaluator as the API shows it: its definition, version and jobs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Evaluator {
    /// The definition.
    #[serde(flatten)]
    pub spec: EvaluatorSpec,
    /// 1 at creation, one more at each change of the definition.
    pub version: i64,
    /// Created, RFC 3339.
    pub created_at: String,
    /// Last changed, RFC 3339.
    pub updated_at: String,
    /// Its jobs, by state.
    pub jobs: JobCounts,
}

fn shown(stored: StoredEvaluator, jobs: JobCounts) -> Result<Evaluator, ApiError> {
    let mut spec: EvaluatorSpec = serde_json::from_value(stored.definition).map_err(|e| {
        ApiError::internal(format!(
            "stored evaluator {:?} does not read: {e}",
            stored.name
        ))
    })?;
    spec.name = stored.name;
    spec.enabled = stored.enabled;
    Ok(Evaluator {
        spec,
        version: stored.version,
        created_at: rfc3339(stored.created_ns),
        updated_at: rfc3339(stored.updated_ns),
        jobs,
    })
}

/// The stored definition: the spec without its name and `enabled` (which do
/// not change the version).
fn definition(spec: &EvaluatorSpec) -> Value {
    let mut value = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("name");
        object.remove("enabled");
    }
    value
}

async fn spec_body(
    state: &AppState,
    headers: &HeaderMap,
    request: Body,
) -> Result<EvaluatorSpec, ApiError> {
    let value: Value = json_body(headers, request, &state.body_limits()).await?;
    if let Some(llm) = value.get("llm").and_then(Value::as_object)
        && llm.contains_key("api_key")
    {
        return Err(ApiError::invalid_body(
            "llm.api_key is not accepted: put the key in an environment variable of the server and name it in llm.api_key_env",
        )
        .at("llm.api_key"));
    }
    from_json_value(value, "evaluator")
}

fn checked(state: &AppState, spec: &EvaluatorSpec) -> Result<(), ApiError> {
    spec.validate(&state.evaluations.settings.allowed_hosts)
        .map_err(|e| ApiError::invalid_body(e.message).at(e.field))
}

/// `GET /v1/projects/{project}/evaluators`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/evaluators", tag = "evaluations",
    params(("project" = String, Path, description = "Project name")),
    responses(
        (status = 200, description = "The project's evaluators, by name", body = Page<Evaluator>),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list_evaluators(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<Evaluator>>, ApiError> {
    QueryParams::none(params)?;
    let rows = blocking(&state, move |s| {
        let evaluators = s.evaluators(&project)?;
        evaluators
            .into_iter()
            .map(|e| {
                let counts = s.evaluator_job_counts(&project, &e.name)?;
                Ok((e, counts))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let data = rows
        .into_iter()
        .map(|(e, c)| shown(e, c))
        .collect::<Result<_, _>>()?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `POST /v1/projects/{project}/evaluators`.
#[utoipa::path(
    post, path = "/v1/projects/{project}/evaluators", tag = "evaluations",
    params(("project" = String, Path, description = "Project name")),
    request_body(content = EvaluatorSpec, content_type = "application/json"),
    responses(
        (status = 201, description = "The evaluator, version 1", body = Evaluator),
        (status = 400, description = "The definition is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "An evaluator of that name exists", body = ErrorBody),
    )
)]
pub async fn create_evaluator(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let spec = spec_body(&state, &headers, request).await?;
    checked(&state, &spec)?;
    let evaluator = put(&state, project, spec, Put::Create).await?;
    Ok((StatusCode::CREATED, Json(evaluator)).into_response())
}

async fn put(
    state: &AppState,
    project: String,
    spec: EvaluatorSpec,
    mode: Put,
) -> Result<Evaluator, ApiError> {
    let def = definition(&spec);
    let (name, enabled) = (spec.name.clone(), spec.enabled);
    let (stored, counts) = blocking(state, move |s| {
        let stored = s.put_evaluator(&project, &name, enabled, &def, mode)?;
        let counts = s.evaluator_job_counts(&project, &name)?;
        Ok((stored, counts))
    })
    .await?;
    shown(stored, counts)
}

/// `GET /v1/projects/{project}/evaluators/{name}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/evaluators/{name}", tag = "evaluations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Evaluator name"),
    ),
    responses(
        (status = 200, description = "The evaluator", body = Evaluator),
        (status = 404, description = "No such project or evaluator", body = ErrorBody),
    )
)]
pub async fn get_evaluator(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Evaluator>, ApiError> {
    QueryParams::none(params)?;
    let (stored, counts) = blocking(&state, move |s| {
        Ok((
            s.evaluator(&project, &name)?,
            s.evaluator_job_counts(&project, &name)?,
        ))
    })
    .await?;
    Ok(Json(shown(stored, counts)?))
}

/// `PUT /v1/projects/{project}/evaluators/{name}`: creates or replaces (the
/// version goes up when the definition changed; `enabled` alone does not
/// change it).
#[utoipa::path(
    put, path = "/v1/projects/{project}/evaluators/{name}", tag = "evaluations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Evaluator name"),
    ),
    request_body(content = EvaluatorSpec, content_type = "application/json"),
    responses(
        (status = 200, description = "The evaluator as stored", body = Evaluator),
        (status = 400, description = "The definition is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn put_evaluator(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Evaluator>, ApiError> {
    QueryParams::none(params)?;
    let mut spec = spec_body(&state, &headers, request).await?;
    if !spec.name.is_empty() && spec.name != name {
        return Err(ApiError::invalid_body("name in the body differs from the path").at("name"));
    }
    spec.name = name;
    checked(&state, &spec)?;
    Ok(Json(put(&state, project, spec, Put::Upsert).await?))
}

/// `DELETE /v1/projects/{project}/evaluators/{name}`: its queued jobs are
/// skipped; its verdicts stay.
#[utoipa::path(
    delete, path = "/v1/projects/{project}/evaluators/{name}", tag = "evaluations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Evaluator name"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such project or evaluator", body = ErrorBody),
    )
)]
pub async fn delete_evaluator(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    QueryParams::none(params)?;
    blocking(&state, move |s| s.delete_evaluator(&project, &name)).await?;
    state.evaluations.changed.notify_waiters();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../backfills`: which sessions to judge.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// The session list's filters as an object: `user_id`, `tag`, `has_error`,
    /// `min_traces`, `q`, `status`, `start_time`, `end_time`, and `metadata`
    /// as an object of key to value; all sessions when empty.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filter: serde_json::Map<String, Value>,
}

/// The filter's names: the session list's, without paging and sorting.
const FILTER_NAMES: &[&str] = &[
    "start_time",
    "end_time",
    "user_id",
    "tag",
    "has_error",
    "min_traces",
    "q",
    "status",
];

/// The filter object as the query string it stands for, checked by the
/// session list's own parser (one set of rules and messages).
fn filter_query(
    filter: &serde_json::Map<String, Value>,
) -> Result<crate::store::SessionQuery, ApiError> {
    let mut pairs = Vec::new();
    let text = |key: &str, v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(_) | Value::Number(_) => Ok(v.to_string()),
        _ => Err(ApiError::invalid_body(format!(
            "filter.{key} must be a string, number or boolean"
        ))
        .at(format!("filter.{key}"))),
    };
    for (key, value) in filter {
        if key == "metadata" {
            let Some(object) = value.as_object() else {
                return Err(ApiError::invalid_body("filter.metadata must be an object")
                    .at("filter.metadata"));
            };
            for (k, v) in object {
                pairs.push((format!("metadata.{k}"), text(&format!("metadata.{k}"), v)?));
            }
        } else {
            pairs.push((key.clone(), text(key, value)?));
        }
    }
    let params = QueryParams::from_pairs(pairs, FILTER_NAMES, true).map_err(in_filter)?;
    debug_assert!(FILTER_NAMES.iter().all(|n| SESSION_PARAMS.contains(n)));
    parse_session_query(&params).map_err(in_filter)
}

/// A query-parameter error re-said as one of the body's `filter`.
fn in_filter(e: ApiError) -> ApiError {
    let at = e.parameter.clone().map(|p| format!("filter.{p}"));
    let mut error = ApiError::invalid_body(format!("filter: {}", e.message));
    error.parameter = at;
    error
}

/// `POST /v1/projects/{project}/evaluators/{name}/backfills`: queues the
/// evaluator for every existing session matching the filter (its scope and
/// sample apply; a session it already judged at its last activity, same
/// version, is skipped). Listing runs in the background; the answer is the
/// backfill to follow.
#[utoipa::path(
    post, path = "/v1/projects/{project}/evaluators/{name}/backfills", tag = "evaluations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Evaluator name"),
    ),
    request_body(content = BackfillRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Started: follow it at /v1/projects/{project}/backfills/{id}", body = Backfill),
        (status = 400, description = "The filter is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project or evaluator", body = ErrorBody),
    )
)]
pub async fn create_backfill(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let body: BackfillRequest = json_body(&headers, request, &state.body_limits()).await?;
    let mut query = filter_query(&body.filter)?;
    query.page.limit = BACKFILL_PAGE;
    let filter = Value::Object(body.filter);
    let (p, n) = (project.clone(), name.clone());
    let (stored, backfill) = blocking(&state, move |s| {
        let stored = s.evaluator(&p, &n)?;
        let id = s.create_backfill(&p, &n, &filter)?;
        Ok((stored, s.backfill(&p, id)?))
    })
    .await?;
    let mut spec: EvaluatorSpec = serde_json::from_value(stored.definition)
        .map_err(|e| ApiError::internal(format!("stored evaluator does not read: {e}")))?;
    spec.name = stored.name;
    let id = backfill.id;
    let task_state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = list_backfill(&task_state, project, spec, stored.version, id, query).await {
            tracing::warn!(backfill = id, error = %e.message, "listing a backfill's sessions failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(backfill)).into_response())
}

/// Lists the backfill's sessions page by page, queuing those the evaluator
/// takes; marks it listed at the end.
async fn list_backfill(
    state: &AppState,
    project: String,
    spec: EvaluatorSpec,
    version: i64,
    id: i64,
    mut query: crate::store::SessionQuery,
) -> Result<(), ApiError> {
    loop {
        let (p, q) = (project.clone(), query.clone());
        let page = blocking(state, move |s| s.sessions(&p, &q)).await?;
        let mut jobs = Vec::new();
        let mut skipped = 0;
        for session in &page.data {
            if spec.filter.matches(session) && spec.samples(&session.session_id) {
                jobs.push(NewJob {
                    session_id: session.session_id.clone(),
                    evaluator: spec.name.clone(),
                    version,
                    activity_ns: session.last_activity_ns,
                    backfill_id: Some(id),
                });
            } else {
                skipped += 1;
            }
        }
        let matched = page.data.len() as i64;
        let candidates = jobs.len() as i64;
        let listed = page.next_cursor.is_none();
        let p = project.clone();
        blocking(state, move |s| {
            let queued = s.enqueue_jobs(&p, &jobs, &[])? as i64;
            // a job already there (same version, same activity) was judged or is queued
            s.update_backfill(id, matched, skipped + candidates - queued, listed)
        })
        .await?;
        state.evaluations.wake.notify_one();
        state.evaluations.changed.notify_waiters();
        match page.next_cursor {
            Some(c) => query.page.cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// `GET /v1/projects/{project}/backfills/{id}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/backfills/{id}", tag = "evaluations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("id" = i64, Path, description = "Backfill id"),
        ("wait" = Option<String>, Query, description = "Long-poll: answer once the backfill is finished, or after this long (`10s`, at most 60s)"),
    ),
    responses(
        (status = 200, description = "The backfill and its jobs' counts", body = Backfill),
        (status = 404, description = "No such project or backfill", body = ErrorBody),
    )
)]
pub async fn get_backfill(
    State(state): State<AppState>,
    Path((project, id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Backfill>, ApiError> {
    let p = QueryParams::new(params, &["wait"], false)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_parameter("id", "id must be an integer"))?;
    let deadline = tokio::time::Instant::now() + wait_param(&p)?;
    loop {
        let changed = state.evaluations.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let project = project.clone();
        let backfill = blocking(&state, move |s| s.backfill(&project, id)).await?;
        if backfill.finished || tokio::time::Instant::now() >= deadline {
            return Ok(Json(backfill));
        }
        recheck(deadline, changed).await;
    }
}

/// The `wait` parameter of a long-poll: a duration of at most [`MAX_WAIT`].
fn wait_param(p: &QueryParams) -> Result<Duration, ApiError> {
    Ok(p.get("wait")
        .map(|v| {
            humantime::parse_duration(v)
                .ok()
                .filter(|d| *d <= MAX_WAIT)
                .ok_or_else(|| {
                    ApiError::bad_parameter(
                        "wait",
                        "wait must be a duration of at most 60s, like 10s",
                    )
                })
        })
        .transpose()?
        .unwrap_or_default())
}

/// Waits for a change of jobs, at most a second (another server sharing the
/// database changes jobs this one does not hear of) and not past `deadline`.
async fn recheck(
    deadline: tokio::time::Instant,
    changed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) {
    let at = (tokio::time::Instant::now() + Duration::from_secs(1)).min(deadline);
    let _ = tokio::time::timeout_at(at, changed).await;
}

const JOB_PARAMS: &[&str] = &[
    "limit",
    "cursor",
    "session_id",
    "evaluator",
    "state",
    "backfill_id",
    "wait",
    "at_least",
];

/// `GET /v1/projects/{project}/evaluation_jobs`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/evaluation_jobs", tag = "evaluations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("session_id" = Option<String>, Query, description = "Jobs of this session"),
        ("evaluator" = Option<String>, Query, description = "Jobs of this evaluator"),
        ("state" = Option<JobState>, Query, description = "Jobs in this state"),
        ("backfill_id" = Option<i64>, Query, description = "Jobs of this backfill"),
        ("wait" = Option<String>, Query, description = "Long-poll: when fewer jobs match than `at_least`, answer as soon as enough do, or after this long (`10s`, at most 60s) with what matches then"),
        ("at_least" = Option<usize>, Query, description = "With `wait`: how many matching jobs to wait for (default 1, at most the page size)"),
    ),
    responses(
        (status = 200, description = "Jobs, newest first", body = Page<EvaluationJob>),
        (status = 400, description = "A parameter is unknown or malformed", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn jobs(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<EvaluationJob>>, ApiError> {
    let p = QueryParams::new(params, JOB_PARAMS, false)?;
    let query = JobQuery {
        page: p.page()?,
        session_id: p.text("session_id")?,
        evaluator: p.text("evaluator")?,
        state: p
            .get("state")
            .map(|v| {
                JobState::parse(v).ok_or_else(|| {
                    ApiError::bad_parameter(
                        "state",
                        "state must be queued, running, done, failed or skipped",
                    )
                })
            })
            .transpose()?,
        backfill_id: p
            .get("backfill_id")
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_parameter("backfill_id", "backfill_id must be an integer")
                })
            })
            .transpose()?,
    };
    let wait = wait_param(&p)?;
    let at_least = p
        .get("at_least")
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=query.page.limit).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_parameter(
                        "at_least",
                        "at_least must be an integer from 1 to the page size",
                    )
                })
        })
        .transpose()?
        .unwrap_or(1);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // registered before the read, so a change between the two is not missed
        let changed = state.evaluations.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (project, q) = (project.clone(), query.clone());
        let page = blocking(&state, move |s| s.jobs(&project, &q)).await?;
        if page.data.len() >= at_least || tokio::time::Instant::now() >= deadline {
            return Ok(Json(page));
        }
        recheck(deadline, changed).await;
    }
}
