//! Phoenix's session routes: a session by identifier (its opaque id, or the
//! session id the app sent when it is in one project only), read or deleted,
//! and the bulk delete.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Data, locate_session, locate_sessions, not_found_as};
use crate::AppState;
use crate::annotation_api::body;
use crate::api::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::ids;
use crate::model::SessionInfo;
use crate::request::{Params, QueryParams};

/// `GET /v1/sessions/{session_identifier}`.
#[utoipa::path(
    get, path = "/v1/sessions/{session_identifier}", operation_id = "getSession", tag = "phoenix",
    params(("session_identifier" = String, Path, description = "The session's `id`, or the session id the app sent (when one project has it)")),
    responses(
        (status = 200, description = "The session", body = Data<SessionInfo>),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session id is in several projects (they are named)", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(identifier): Path<String>,
    params: Params,
) -> Result<Json<Data<SessionInfo>>, ApiError> {
    QueryParams::none(params)?;
    let (project, session_id) = locate_session(&state, &identifier).await?;
    let data = blocking(&state, move |s| s.session(&project, &session_id))
        .await
        .map_err(|e| not_found_as(e, || format!("session {identifier:?}")))?;
    Ok(Json(Data { data }))
}

/// `DELETE /v1/sessions/{session_identifier}`: the session with its traces,
/// spans and annotations.
#[utoipa::path(
    delete, path = "/v1/sessions/{session_identifier}", operation_id = "deleteSession", tag = "phoenix",
    params(("session_identifier" = String, Path, description = "The session's `id`, or the session id the app sent (when one project has it)")),
    responses(
        (status = 204, description = "Deleted with its traces, spans and annotations"),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session id is in several projects (they are named); nothing was deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(identifier): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let (project, session_id) = locate_session(&state, &identifier).await?;
    blocking(&state, move |s| s.delete_session(&project, &session_id))
        .await
        .map_err(|e| not_found_as(e, || format!("session {identifier:?}")))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/sessions/delete`: the session whose id is `delete` (the path is
/// also the bulk delete's).
pub async fn get_named_delete(
    state: State<AppState>,
    params: Params,
) -> Result<Json<Data<SessionInfo>>, ApiError> {
    get(state, Path("delete".to_owned()), params).await
}

/// `DELETE /v1/sessions/delete`: see [`get_named_delete`].
pub async fn delete_named_delete(
    state: State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    delete(state, Path("delete".to_owned()), params).await
}

/// The bulk delete's body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteSessionsRequest {
    /// Sessions to delete, all of one kind: `id`s, or session ids the app sent
    /// (each in one project only).
    pub session_identifiers: Vec<String>,
}

/// `POST /v1/sessions/delete`: several sessions in one transaction; those that
/// do not exist are skipped.
#[utoipa::path(
    post, path = "/v1/sessions/delete", operation_id = "deleteSessions", tag = "phoenix",
    request_body(content = DeleteSessionsRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Deleted, with their traces, spans and annotations"),
        (status = 400, description = "No identifiers, or ids mixed with session ids", body = ErrorBody),
        (status = 409, description = "A session id is in several projects (they are named); nothing was deleted", body = ErrorBody),
    )
)]
pub async fn delete_many(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let request: DeleteSessionsRequest = body(&state, &headers, request).await?;
    let identifiers = request.session_identifiers;
    if identifiers.is_empty() {
        return Err(
            ApiError::invalid_body("session_identifiers must not be empty")
                .at("session_identifiers"),
        );
    }
    let parsed: Vec<Option<(String, String)>> =
        identifiers.iter().map(|i| ids::parse_session(i)).collect();
    let sessions: Vec<(String, String)> = if parsed.iter().all(Option::is_some) {
        parsed.into_iter().flatten().collect()
    } else if parsed.iter().all(Option::is_none) {
        let mut unique = identifiers.clone();
        unique.sort();
        unique.dedup();
        locate_sessions(&state, unique, |_| None)
            .await?
            .into_iter()
            .map(|(session_id, project)| (project, session_id))
            .collect()
    } else {
        return Err(ApiError::invalid_body(
            "session_identifiers must be all ids or all session ids, not a mix",
        )
        .at("session_identifiers"));
    };
    blocking(&state, move |s| s.delete_sessions(&sessions)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
