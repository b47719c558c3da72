//! The annotations API: a session's annotations listed, written one at a time
//! (the UI, a reviewer) or in bulk (an evaluator run), and deleted.
//!
//! - `GET    /v1/projects/{project}/sessions/{session_id}/annotations`
//! - `POST   /v1/projects/{project}/sessions/{session_id}/annotations`  one annotation
//! - `DELETE /v1/projects/{project}/sessions/{session_id}/annotations/{id}`
//! - `POST   /v1/projects/{project}/session_annotations`  `{"data": [...]}`, up to 1,000
//! - `GET|POST /v1/projects/{project}/annotation_configs`, `GET|PUT|DELETE
//!   .../annotation_configs/{name}`: what annotations of a name may hold
//!   ([`crate::annotation_config`])

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::annotation::{Annotation, MAX_BATCH, NewAnnotation};
use crate::annotation_config::AnnotationConfig;
use crate::api::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::ids;
use crate::model::Page;
use crate::request::{Params, QueryParams, json_body};
use crate::store::Put;

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
    .await
    .map_err(one_item)?;
    stored
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::internal("the store returned no annotation"))
}

/// An error about the one item of a single write names its field alone
/// (`label`, not `data[0].label`).
pub(crate) fn one_item(mut e: ApiError) -> ApiError {
    if let Some(p) = e
        .parameter
        .as_deref()
        .and_then(|p| p.strip_prefix("data[0]."))
    {
        e.parameter = Some(p.to_owned());
    }
    e
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

/// Reads and checks an annotation config from a body.
async fn config_body(
    state: &AppState,
    headers: &HeaderMap,
    request: Body,
) -> Result<AnnotationConfig, ApiError> {
    let value: serde_json::Value = body(state, headers, request).await?;
    crate::request::from_json_value(value, "annotation config")
}

fn checked_config(config: &AnnotationConfig) -> Result<(), ApiError> {
    config
        .validate()
        .map_err(|(field, message)| ApiError::invalid_body(message).at(field))
}

/// `GET /v1/projects/{project}/annotation_configs`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/annotation_configs", tag = "annotations",
    params(("project" = String, Path, description = "Project name")),
    responses(
        (status = 200, description = "The project's annotation configs, by name", body = Page<AnnotationConfig>),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list_configs(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<AnnotationConfig>>, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    let data = blocking(&state, move |s| s.annotation_configs(&project)).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `POST /v1/projects/{project}/annotation_configs`: annotations of the
/// config's name are checked against it from now on.
#[utoipa::path(
    post, path = "/v1/projects/{project}/annotation_configs", tag = "annotations",
    params(("project" = String, Path, description = "Project name")),
    request_body(content = AnnotationConfig, content_type = "application/json"),
    responses(
        (status = 201, description = "The config", body = AnnotationConfig),
        (status = 400, description = "The config is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The name has a config already", body = ErrorBody),
    )
)]
pub async fn create_config(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let config = config_body(&state, &headers, request).await?;
    checked_config(&config)?;
    let project = ids::project_name(&project);
    let stored = blocking(&state, move |s| {
        s.put_annotation_config(&project, &config, Put::Create)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// `GET /v1/projects/{project}/annotation_configs/{name}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/annotation_configs/{name}", tag = "annotations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Annotation name"),
    ),
    responses(
        (status = 200, description = "The config", body = AnnotationConfig),
        (status = 404, description = "No such project or config", body = ErrorBody),
    )
)]
pub async fn get_config(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
) -> Result<Json<AnnotationConfig>, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    let configs = blocking(&state, move |s| s.annotation_configs(&project)).await?;
    configs
        .into_iter()
        .find(|c| c.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("annotation config"))
}

/// `PUT /v1/projects/{project}/annotation_configs/{name}`: creates or
/// replaces; annotations already stored are left as they are.
#[utoipa::path(
    put, path = "/v1/projects/{project}/annotation_configs/{name}", tag = "annotations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Annotation name"),
    ),
    request_body(content = AnnotationConfig, content_type = "application/json"),
    responses(
        (status = 200, description = "The config as stored", body = AnnotationConfig),
        (status = 400, description = "The config is invalid (the field is named)", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn put_config(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<AnnotationConfig>, ApiError> {
    QueryParams::none(params)?;
    let mut config = config_body(&state, &headers, request).await?;
    if !config.name.is_empty() && config.name != name {
        return Err(ApiError::invalid_body("name in the body differs from the path").at("name"));
    }
    config.name = name;
    checked_config(&config)?;
    let project = ids::project_name(&project);
    Ok(Json(
        blocking(&state, move |s| {
            s.put_annotation_config(&project, &config, Put::Upsert)
        })
        .await?,
    ))
}

/// `DELETE /v1/projects/{project}/annotation_configs/{name}`.
#[utoipa::path(
    delete, path = "/v1/projects/{project}/annotation_configs/{name}", tag = "annotations",
    params(
        ("project" = String, Path, description = "Project name"),
        ("name" = String, Path, description = "Annotation name"),
    ),
    responses(
        (status = 204, description = "Deleted; annotations of the name are no longer checked"),
        (status = 404, description = "No such project or config", body = ErrorBody),
    )
)]
pub async fn delete_config(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    blocking(&state, move |s| s.delete_annotation_config(&project, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
