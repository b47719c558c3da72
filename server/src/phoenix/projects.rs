//! Phoenix's project routes: a project by name or id, created, described, or
//! deleted with all it holds. (The project list is [`crate::api::projects`],
//! one handler for both APIs.)

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Data;
use crate::AppState;
use crate::annotation_api::body;
use crate::api::blocking;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::ids;
use crate::model::ProjectInfo;
use crate::otlp::map::MAX_NAME_BYTES;
use crate::request::{Params, QueryParams};
use crate::semconv::DEFAULT_PROJECT;

/// Longest project description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

fn check_description(description: Option<&str>) -> Result<(), ApiError> {
    match description {
        Some(d) if d.len() > MAX_DESCRIPTION_BYTES => Err(ApiError::invalid_body(format!(
            "description is {} bytes, over the limit of {MAX_DESCRIPTION_BYTES}",
            d.len()
        ))
        .at("description")),
        _ => Ok(()),
    }
}

/// `GET /v1/projects/{project}`.
#[utoipa::path(
    get, path = "/v1/projects/{project}", operation_id = "getProject", tag = "phoenix",
    params(("project" = String, Path, description = "Project name or id")),
    responses(
        (status = 200, description = "The project", body = Data<ProjectInfo>),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Data<ProjectInfo>>, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    let data = blocking(&state, move |s| s.project(&project)).await?;
    Ok(Json(Data { data }))
}

/// `POST /v1/projects`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// The name traces will be sent to it under (1 to 256 bytes).
    pub name: String,
    /// What the project is.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /v1/projects`: an empty project (projects are also created by the
/// first trace sent to them).
#[utoipa::path(
    post, path = "/v1/projects", operation_id = "createProject", tag = "phoenix",
    request_body(content = CreateProjectRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The project", body = Data<ProjectInfo>),
        (status = 400, description = "An empty or overlong name or description", body = ErrorBody),
        (status = 409, description = "A project of that name exists", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Data<ProjectInfo>>, ApiError> {
    QueryParams::none(params)?;
    let request: CreateProjectRequest = body(&state, &headers, request).await?;
    if request.name.trim().is_empty() || request.name.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid_body(format!(
            "name must be 1 to {MAX_NAME_BYTES} bytes, not blank"
        ))
        .at("name"));
    }
    check_description(request.description.as_deref())?;
    let data = blocking(&state, move |s| {
        s.create_project(&request.name, request.description.as_deref())
    })
    .await?;
    Ok(Json(Data { data }))
}

/// `PUT /v1/projects/{project}`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    /// The new description; absent or null leaves it as it is.
    #[serde(default)]
    pub description: Option<String>,
}

/// `PUT /v1/projects/{project}`: a project's description (its name stays).
#[utoipa::path(
    put, path = "/v1/projects/{project}", operation_id = "updateProject", tag = "phoenix",
    params(("project" = String, Path, description = "Project name or id")),
    request_body(content = UpdateProjectRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The project", body = Data<ProjectInfo>),
        (status = 400, description = "An overlong description", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Data<ProjectInfo>>, ApiError> {
    QueryParams::none(params)?;
    let request: UpdateProjectRequest = body(&state, &headers, request).await?;
    check_description(request.description.as_deref())?;
    let project = ids::project_name(&project);
    let data = blocking(&state, move |s| {
        s.update_project(&project, request.description.as_deref())
    })
    .await?;
    Ok(Json(Data { data }))
}

/// `DELETE /v1/projects/{project}`: the project with its sessions, traces,
/// spans and annotations. The default project stays (Phoenix's rule).
#[utoipa::path(
    delete, path = "/v1/projects/{project}", operation_id = "deleteProject", tag = "phoenix",
    params(("project" = String, Path, description = "Project name or id")),
    responses(
        (status = 204, description = "Deleted with everything it held"),
        (status = 403, description = "The default project cannot be deleted", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    QueryParams::none(params)?;
    let project = ids::project_name(&project);
    if project == DEFAULT_PROJECT {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the default project cannot be deleted",
        ));
    }
    blocking(&state, move |s| s.delete_project(&project)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
