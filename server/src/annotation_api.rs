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
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::annotation::{Annotation, MAX_BATCH, NewAnnotation};
use crate::api::blocking;
use crate::error::ApiError;
use crate::model::Page;

/// These endpoints take no query parameters: any is a mistake worth naming.
fn no_query(uri: &Uri) -> Result<(), ApiError> {
    match uri.query().filter(|q| !q.is_empty()) {
        None => Ok(()),
        Some(q) => {
            let name = q
                .split('&')
                .next()
                .unwrap_or(q)
                .split('=')
                .next()
                .unwrap_or(q);
            Err(ApiError::bad_parameter(
                name,
                format!("unknown parameter {name:?}"),
            ))
        }
    }
}

/// Reads a JSON body within the server's request size limit.
async fn json_body<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected application/json, got {content_type:?}"),
        ));
    }
    let limit = state.max_request_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if e.to_string().contains("length limit") {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("body over the limit of {limit} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("cannot read body: {e}"),
            )
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("invalid annotation JSON: {e}"),
        )
    })
}

fn validated(annotation: &NewAnnotation, index: Option<usize>) -> Result<(), ApiError> {
    annotation.validate().map_err(|(field, message)| {
        let at = index
            .map(|i| format!("data[{i}].{field}"))
            .unwrap_or_else(|| field.to_owned());
        let mut error = ApiError::bad_parameter(&at, message);
        error.code = "invalid_body";
        error
    })
}

/// `GET /v1/projects/{project}/sessions/{session_id}/annotations`.
pub async fn list(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Page<Annotation>>, ApiError> {
    no_query(&uri)?;
    let data = blocking(&state, move |s| s.annotations(&project, &session_id)).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `POST /v1/projects/{project}/sessions/{session_id}/annotations`: one
/// annotation, created or replaced (same name and identifier).
pub async fn create(
    State(state): State<AppState>,
    Path((project, session_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Annotation>, ApiError> {
    no_query(&uri)?;
    let mut annotation: NewAnnotation = json_body(&state, &headers, body).await?;
    if !annotation.session_id.is_empty() && annotation.session_id != session_id {
        let mut error =
            ApiError::bad_parameter("session_id", "session_id in the body differs from the path");
        error.code = "invalid_body";
        return Err(error);
    }
    annotation.session_id = session_id;
    validated(&annotation, None)?;
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    data: Vec<NewAnnotation>,
}

/// `POST /v1/projects/{project}/session_annotations`: many annotations, of any
/// sessions of the project, in one transaction.
pub async fn create_many(
    State(state): State<AppState>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Page<Annotation>>, ApiError> {
    no_query(&uri)?;
    let batch: Batch = json_body(&state, &headers, body).await?;
    if batch.data.len() > MAX_BATCH {
        let mut error = ApiError::bad_parameter(
            "data",
            format!(
                "{} annotations in one request, over the limit of {MAX_BATCH}",
                batch.data.len()
            ),
        );
        error.code = "invalid_body";
        return Err(error);
    }
    for (i, a) in batch.data.iter().enumerate() {
        validated(a, Some(i))?;
    }
    let data = blocking(&state, move |s| s.upsert_annotations(&project, &batch.data)).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `DELETE /v1/projects/{project}/sessions/{session_id}/annotations/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Path((project, session_id, id)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    no_query(&uri)?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError::bad_parameter(
            "id",
            format!("annotation id must be an integer, got {id:?}"),
        )
    })?;
    blocking(&state, move |s| {
        s.delete_annotation(&project, &session_id, id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
