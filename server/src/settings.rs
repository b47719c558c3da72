//! A project's own settings over the server's defaults: the idle period that
//! ends a session's activity (`--session-idle`) and how long its sessions are
//! kept after their last activity (`--retention`).
//!
//! - `GET /v1/projects/{project}/settings`: each setting, the server's default
//!   and the one in force;
//! - `PUT /v1/projects/{project}/settings`: the fields given change (`null`
//!   goes back to the server's), the others stay.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::api::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::ids;
use crate::request::{Params, QueryParams, json_body};
use crate::store::ProjectSettings;

/// The shortest idle period.
pub const MIN_SESSION_IDLE: Duration = Duration::from_secs(1);
/// The shortest retention (a typo of `30s` for `30d` would empty a project).
pub const MIN_RETENTION: Duration = Duration::from_secs(60);
/// What a retention of for ever is written as.
pub const FOREVER: &str = "forever";

/// Parses a duration (`90s`, `5m`, `30d`, `1h 30m`) of at least `min` and at
/// most ten years.
pub fn parse_period(text: &str, min: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 30s, 5m, 12h or 30d: {e}"))?;
    if d < min {
        return Err(format!(
            "must be at least {}",
            humantime::format_duration(min)
        ));
    }
    if d > Duration::from_secs(10 * 365 * 24 * 3600) {
        return Err("must be at most ten years".to_owned());
    }
    Ok(d)
}

/// A retention flag or setting: a duration, or `forever` (0).
pub fn parse_retention(text: &str) -> Result<Duration, String> {
    if text.trim() == FOREVER {
        return Ok(Duration::ZERO);
    }
    parse_period(text, MIN_RETENTION)
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn text(ns: i64) -> String {
    humantime::format_duration(Duration::from_nanos(u64::try_from(ns).unwrap_or(0))).to_string()
}

fn retention_text(ns: i64) -> String {
    if ns <= 0 {
        FOREVER.to_owned()
    } else {
        text(ns)
    }
}

/// A project's settings as the API shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectSettingsInfo {
    /// The project's own idle period (`5m`), or null for the server's.
    #[schema(required = true)]
    pub session_idle: Option<String>,
    /// The server's idle period (`--session-idle`).
    pub default_session_idle: String,
    /// The idle period in force: a session is active until no trace arrived
    /// for this long.
    pub effective_session_idle: String,
    /// The project's own retention (`30d`, or `forever`), or null for the
    /// server's.
    #[schema(required = true)]
    pub retention: Option<String>,
    /// The server's retention (`--retention`; `forever` by default).
    pub default_retention: String,
    /// The retention in force: sessions whose last activity is older are
    /// deleted, whole.
    pub effective_retention: String,
}

/// `PUT .../settings`: the settings to change. A field left out stays as it
/// is; `null` goes back to the server's default.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettingsUpdate {
    /// The project's idle period (`90s`, `10m`, at least 1s), or null.
    #[serde(default)]
    pub session_idle: Option<String>,
    /// How long the project's sessions are kept after their last activity
    /// (`30d`, at least 1m, or `forever`), or null.
    #[serde(default)]
    pub retention: Option<String>,
}

fn info(state: &AppState, settings: &ProjectSettings) -> ProjectSettingsInfo {
    let idle = ns(state.session_idle);
    let retention = state.retention.map_or(0, ns);
    ProjectSettingsInfo {
        session_idle: settings.session_idle_ns.map(text),
        default_session_idle: text(idle),
        effective_session_idle: text(settings.session_idle_ns.unwrap_or(idle)),
        retention: settings.retention_ns.map(retention_text),
        default_retention: retention_text(retention),
        effective_retention: retention_text(settings.retention_ns.unwrap_or(retention)),
    }
}

/// `GET /v1/projects/{project}/settings`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/settings", tag = "projects",
    params(("project" = String, Path, description = "Project name")),
    responses(
        (status = 200, description = "The project's settings", body = ProjectSettingsInfo),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<ProjectSettingsInfo>, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    let settings = blocking(&state, move |s| s.project_settings(&project)).await?;
    Ok(Json(info(&state, &settings)))
}

/// `PUT /v1/projects/{project}/settings`.
#[utoipa::path(
    put, path = "/v1/projects/{project}/settings", tag = "projects",
    params(("project" = String, Path, description = "Project name")),
    request_body(content = ProjectSettingsUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The project's settings as stored", body = ProjectSettingsInfo),
        (status = 400, description = "A setting is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<ProjectSettingsInfo>, ApiError> {
    QueryParams::none(params)?;
    // read as an object: a field left out and a field set to null differ
    let body: serde_json::Map<String, Value> =
        json_body(&headers, request, &state.body_limits()).await?;
    let field = |key: &str,
                 parse: fn(&str) -> Result<Duration, String>|
     -> Result<Option<Option<i64>>, ApiError> {
        match body.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(t)) => parse(t)
                .map(|d| Some(Some(ns(d))))
                .map_err(|m| ApiError::invalid_body(format!("{key} {m}")).at(key)),
            Some(_) => {
                Err(ApiError::invalid_body(format!("{key} must be a string or null")).at(key))
            }
        }
    };
    if let Some(unknown) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "session_idle" | "retention"))
    {
        return Err(
            ApiError::invalid_body(format!("unknown field {unknown:?}")).at(unknown.clone())
        );
    }
    let idle = field("session_idle", |t| parse_period(t, MIN_SESSION_IDLE))?;
    let retention = field("retention", parse_retention)?;
    let project = ids::project_name(&project);
    let stored = blocking(&state, move |s| {
        let mut settings = s.project_settings(&project)?;
        if let Some(v) = idle {
            settings.session_idle_ns = v;
        }
        if let Some(v) = retention {
            settings.retention_ns = v;
        }
        s.set_project_settings(&project, &settings)
    })
    .await?;
    // sessions idle under the new period are judged now, not at the next tick
    state.evaluations.wake.notify_one();
    Ok(Json(info(&state, &stored)))
}
