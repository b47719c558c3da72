//! The annotations API: a session's annotations listed, written one at a time
//! (the UI, a reviewer) or in bulk (an evaluator run), and deleted.
//!
//! - `GET    /v1/projects/{project}/sessions/{session_id}/annotations`
//! - `POST   /v1/projects/{project}/sessions/{session_id}/annotations`  one annotation
//! - `DELETE /v1/projects/{project}/sessions/{session_id}/annotations/{id}`
//! - `POST   /v1/projects/{project}/session_annotations`  `{"data": [...]}`, up to 1,000

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::annotation::{Annotation, MAX_BATCH, NewAnnotation};
use crate::api::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::ids;
use crate::model::Page;
use crate::request::{Params, QueryParams, json_body};

/// Reads a JSON body within the server's limits.
pub(crate) async fn body<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    json_body(headers, body, &state.body_limits()).await
}

fn validated(annotation: &NewAnnotation, index: Option<usize>) -> Result<(), ApiError> {
    annotation.validate().map_err(|(field, message)| {
        let at = index
            .map(|i| format!("data[{i}].{field}"))
            .unwrap_or_else(|| field.to_owned());
        ApiError::invalid_body(message).at(at)
    })
}

/// `GET /v1/projects/{project}/sessions/{session_id}/annotations`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/sessions/{session_id}/annotations", tag = "annotations",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("session_id" = String, Path, description = "The session id the app sent"),
    ),
    responses(
        (status = 200, description = "The session's annotations, oldest first", body = Page<Annotation>),
        (status = 404, description = "No such project or session", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Page<Annotation>>, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    let data = blocking(&state, move |s| s.annotations(&project, &session_id)).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `POST /v1/projects/{project}/sessions/{session_id}/annotations`: one
/// annotation, created or replaced (same name and identifier).
#[utoipa::path(
    post, path = "/v1/projects/{project}/sessions/{session_id}/annotations", tag = "annotations",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("session_id" = String, Path, description = "The session id the app sent"),
    ),
    request_body(content = NewAnnotation, content_type = "application/json"),
    responses(
        (status = 200, description = "The stored annotation", body = Annotation),
        (status = 400, description = "The annotation is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project or session", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Annotation>, ApiError> {
    QueryParams::none(params)?;
    let mut annotation: NewAnnotation = body(&state, &headers, request).await?;
    if !annotation.session_id.is_empty() && annotation.session_id != session_id {
        return Err(
            ApiError::invalid_body("session_id in the body differs from the path").at("session_id"),
        );
    }
    annotation.session_id = session_id;
    validated(&annotation, None)?;
    let project = ids::project_name(&project);
    let mut stored = blocking(&state, move |s| {
        s.upsert_annotations(&project, &[annotation])
    })
    .await?;
    stored
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::internal("the store returned no annotation"))
}

/// The bulk request body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnotationBatch {
    /// Up to 1,000 annotations, of any sessions of the project.
    pub data: Vec<NewAnnotation>,
}

/// `POST /v1/projects/{project}/session_annotations`: many annotations, of any
/// sessions of the project, in one transaction.
#[utoipa::path(
    post, path = "/v1/projects/{project}/session_annotations", tag = "annotations",
    params(("project" = String, Path, description = "Project name or id")),
    request_body(content = AnnotationBatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The stored annotations, in the order given", body = Page<Annotation>),
        (status = 400, description = "An annotation is invalid (`data[i].field` is named); nothing was stored", body = ErrorBody),
        (status = 404, description = "No such project, or a session does not exist; nothing was stored", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
    )
)]
pub async fn create_many(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Page<Annotation>>, ApiError> {
    QueryParams::none(params)?;
    let batch: AnnotationBatch = body(&state, &headers, request).await?;
    if batch.data.len() > MAX_BATCH {
        return Err(ApiError::invalid_body(format!(
            "{} annotations in one request, over the limit of {MAX_BATCH}",
            batch.data.len()
        ))
        .at("data"));
    }
    for (i, a) in batch.data.iter().enumerate() {
        validated(a, Some(i))?;
    }
    let project = ids::project_name(&project);
    let data = blocking(&state, move |s| s.upsert_annotations(&project, &batch.data)).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `DELETE /v1/projects/{project}/sessions/{session_id}/annotations/{id}`.
#[utoipa::path(
    delete, path = "/v1/projects/{project}/sessions/{session_id}/annotations/{id}", tag = "annotations",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("session_id" = String, Path, description = "The session id the app sent"),
        ("id" = i64, Path, description = "The annotation's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 404, description = "No such project, session or annotation", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path((project, session_id, id)): Path<(String, String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError::bad_parameter(
            "id",
            format!("annotation id must be an integer, got {id:?}"),
        )
    })?;
    let project = ids::project_name(&project);
    blocking(&state, move |s| {
        s.delete_annotation(&project, &session_id, id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
