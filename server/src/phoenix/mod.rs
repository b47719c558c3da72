//! Phoenix's REST API for sessions, session annotations and notes, spans,
//! traces and projects, as Arize Phoenix's routers define it (paths,
//! parameters, answers), so that Phoenix's own clients (`arize-phoenix-client`,
//! `@arizeai/phoenix-client`) work unchanged against this server.
//!
//! A thin layer: each handler reads Phoenix's request, calls the same store
//! methods as our own API ([`crate::api`], [`crate::annotation_api`]) and
//! answers in Phoenix's shape. The project list, session list and trace list
//! are one handler for both APIs (in [`crate::api`]); the rest is here:
//!
//! - `GET /arize_phoenix_version`: [`PHOENIX_VERSION`], the Phoenix release
//!   whose API this implements, which the clients check before each call
//! - [`sessions`]: `GET`/`DELETE /v1/sessions/{session_identifier}`,
//!   `POST /v1/sessions/delete`
//! - [`annotations`]: `POST /v1/session_annotations`, `POST /v1/session_notes`,
//!   `GET`/`DELETE /v1/projects/{project}/session_annotations`
//! - [`spans`]: `GET /v1/projects/{project}/spans`
//! - [`projects`]: `GET`/`PUT`/`DELETE /v1/projects/{project}`,
//!   `POST /v1/projects`
//!
//! Phoenix's session ids are unique across projects; ours are per project. A
//! session is named here either by its opaque id ([`crate::ids`], the `id` of
//! every session row) or by the id the app sent, which must then be in one
//! project only: in several, the answer is a 409 naming them. Errors are the
//! server's one error body, which carries Phoenix's `detail` as well.

pub mod annotations;
pub mod projects;
pub mod sessions;
pub mod spans;

use std::collections::BTreeMap;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use crate::AppState;
use crate::api::blocking;
use crate::error::ApiError;
use crate::ids;

/// The Phoenix release whose REST API (for the routes listed above) this
/// server implements. The clients compare it with each method's minimum:
/// `arize-phoenix-client` 3.5 needs 20.8.0 for the trace filters `error`,
/// `min_latency_ms`, `max_latency_ms`. A later Phoenix's additions (filter
/// expressions, span sorting) are not here, so a client asking for them is
/// told the server is too old rather than getting a wrong answer.
pub const PHOENIX_VERSION: &str = "20.8.0";

/// `{"data": ...}`: how Phoenix answers with one item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    /// The item.
    pub data: T,
}

/// `GET /arize_phoenix_version`.
#[utoipa::path(
    get, path = "/arize_phoenix_version", operation_id = "arizePhoenixVersion", tag = "phoenix",
    responses(
        (status = 200, description = "The Phoenix release whose API this server implements", body = String, content_type = "text/plain"),
    )
)]
pub async fn version() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        PHOENIX_VERSION,
    )
}

/// The projects each session id is in, by session id.
async fn projects_of(
    state: &AppState,
    session_ids: Vec<String>,
) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let found = blocking(state, move |s| s.sessions_named(&session_ids)).await?;
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (session_id, project) in found {
        by_id.entry(session_id).or_default().push(project);
    }
    Ok(by_id)
}

/// The 409 of a session id found in several projects.
fn ambiguous(session_id: &str, projects: &[String]) -> ApiError {
    ApiError::conflict(format!(
        "session id {session_id:?} is in several projects ({}): name the session by its `id` \
         (as the session list returns it) or use /v1/projects/{{project}}/sessions/{{session_id}}",
        projects.join(", ")
    ))
}

/// The (project, session id) a session identifier names: a session's opaque
/// id, else a session id that must be in exactly one project (404 in none, 409
/// in several).
pub(crate) async fn locate_session(
    state: &AppState,
    identifier: &str,
) -> Result<(String, String), ApiError> {
    if let Some(found) = ids::parse_session(identifier) {
        return Ok(found);
    }
    let mut by_id = projects_of(state, vec![identifier.to_owned()]).await?;
    match by_id.remove(identifier).unwrap_or_default().as_slice() {
        [] => Err(ApiError::not_found(&format!(
            "session with session_id {identifier:?}"
        ))),
        [project] => Ok((project.clone(), identifier.to_owned())),
        several => Err(ambiguous(identifier, several)),
    }
}

/// The project of each of these session ids (the ids an app sent): each must
/// be in exactly one project. `missing` makes the error when some are in none.
pub(crate) async fn locate_sessions(
    state: &AppState,
    session_ids: Vec<String>,
    missing: impl FnOnce(&[String]) -> Option<ApiError>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let wanted = session_ids.clone();
    let by_id = projects_of(state, session_ids).await?;
    let absent: Vec<String> = wanted
        .iter()
        .filter(|id| !by_id.contains_key(*id))
        .cloned()
        .collect();
    if !absent.is_empty()
        && let Some(error) = missing(&absent)
    {
        return Err(error);
    }
    by_id
        .into_iter()
        .map(|(session_id, projects)| match projects.as_slice() {
            [project] => Ok((session_id, project.clone())),
            several => Err(ambiguous(&session_id, several)),
        })
        .collect()
}

/// 404 naming what was not found (the store says only what kind of thing).
pub(crate) fn not_found_as(error: ApiError, what: impl FnOnce() -> String) -> ApiError {
    if error.code == crate::error::ErrorCode::NotFound {
        ApiError::not_found(&what())
    } else {
        error
    }
}
