//! Phoenix's session annotation routes: annotations written in Phoenix's form
//! (the verdict nested in `result`), notes, and a project's annotations listed
//! and deleted by filter. The same annotations as our own API's: one written
//! here shows on the session through either API and in the UI.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Data, locate_session, locate_sessions};
use crate::AppState;
use crate::annotation::{
    Annotation, AnnotationSource, AnnotatorKind, MAX_BATCH, NOTE, NewAnnotation, note_identifier,
};
use crate::annotation_api::body;
use crate::api::{Lists, blocking, page_within};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::ids;
use crate::model::Page;
use crate::request::{Params, QueryParams};
use crate::store::queries::MAX_PAGE;
use crate::store::{AnnotationFilter, AnnotationQuery};

/// A verdict: at least one of the three.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnotationResult {
    /// A categorical verdict.
    #[serde(default)]
    pub label: Option<String>,
    /// A numeric verdict.
    #[serde(default)]
    pub score: Option<f64>,
    /// Why.
    #[serde(default)]
    pub explanation: Option<String>,
}

/// A session annotation as Phoenix's clients write it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionAnnotationData {
    /// The session id the app sent (in one project only).
    pub session_id: String,
    /// What is judged; not `note` (notes go to `POST /v1/session_notes`).
    pub name: String,
    /// Who judged.
    pub annotator_kind: AnnotatorKind,
    /// The verdict.
    #[serde(default)]
    pub result: Option<AnnotationResult>,
    /// Anything else.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// With `name` and the session, what a rewrite replaces (empty by default).
    #[serde(default)]
    pub identifier: Option<String>,
}

impl SessionAnnotationData {
    fn into_new(self) -> NewAnnotation {
        let result = self.result.unwrap_or_default();
        NewAnnotation {
            session_id: self.session_id,
            name: self.name,
            annotator_kind: self.annotator_kind,
            label: result.label,
            score: result.score,
            explanation: result.explanation,
            metadata: self.metadata.unwrap_or_default(),
            identifier: self.identifier.unwrap_or_default(),
            user_id: None,
            source: AnnotationSource::Api,
        }
    }
}

/// `POST /v1/session_annotations`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnotateSessionsRequest {
    /// Up to 1,000 annotations, of sessions of any projects.
    pub data: Vec<SessionAnnotationData>,
}

/// What was stored: its id.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InsertedAnnotation {
    /// The annotation's opaque id.
    pub id: String,
}

/// A session annotation as Phoenix's API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionAnnotationRow {
    /// The annotation's opaque id.
    pub id: String,
    /// The session id the app sent.
    pub session_id: String,
    /// What is judged (`note` for a note).
    pub name: String,
    /// Who judged.
    pub annotator_kind: AnnotatorKind,
    /// The verdict (a note's text is its explanation).
    pub result: AnnotationResult,
    /// Anything else.
    pub metadata: Map<String, Value>,
    /// See [`SessionAnnotationData::identifier`].
    pub identifier: String,
    /// Where it was written from.
    pub source: AnnotationSource,
    /// Who annotated, when known.
    #[schema(required = true)]
    pub user_id: Option<String>,
    /// First written, RFC 3339.
    pub created_at: String,
    /// Last written, RFC 3339.
    pub updated_at: String,
}

impl From<Annotation> for SessionAnnotationRow {
    fn from(a: Annotation) -> Self {
        SessionAnnotationRow {
            id: ids::annotation(a.id),
            session_id: a.session_id,
            name: a.name,
            annotator_kind: a.annotator_kind,
            result: AnnotationResult {
                label: a.label,
                score: a.score,
                explanation: a.explanation,
            },
            metadata: a.metadata,
            identifier: a.identifier,
            source: a.source,
            user_id: a.user_id,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

fn inserted(stored: Vec<Annotation>) -> Vec<InsertedAnnotation> {
    stored
        .into_iter()
        .map(|a| InsertedAnnotation {
            id: ids::annotation(a.id),
        })
        .collect()
}

fn validated(annotation: &NewAnnotation, at: &str) -> Result<(), ApiError> {
    annotation.validate().map_err(|(field, message)| {
        let field = match field {
            "label" | "score" | "explanation" => format!("result.{field}"),
            other => other.to_owned(),
        };
        ApiError::invalid_body(message).at(format!("{at}.{field}"))
    })
}

/// `POST /v1/session_annotations`: annotations of sessions named by the ids
/// the apps sent, created or replaced (same session, name and identifier), all
/// or none. Stored before the answer whatever `sync` says, so the answer
/// always lists them.
#[utoipa::path(
    post, path = "/v1/session_annotations", operation_id = "annotateSessions", tag = "phoenix",
    params(("sync" = Option<bool>, Query, description = "Phoenix's; accepted: annotations are always stored before the answer")),
    request_body(content = AnnotateSessionsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The stored annotations' ids, in the order given", body = Data<Vec<InsertedAnnotation>>),
        (status = 400, description = "An annotation is invalid (`data[i].field` is named), or named `note`; nothing was stored", body = ErrorBody),
        (status = 404, description = "A session does not exist (the ids are named); nothing was stored", body = ErrorBody),
        (status = 409, description = "A session id is in several projects (they are named); nothing was stored", body = ErrorBody),
    )
)]
pub async fn annotate(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Data<Vec<InsertedAnnotation>>>, ApiError> {
    QueryParams::new(params, &["sync"], false)?.flag("sync")?;
    let request: AnnotateSessionsRequest = body(&state, &headers, request).await?;
    if request.data.len() > MAX_BATCH {
        return Err(ApiError::invalid_body(format!(
            "{} annotations in one request, over the limit of {MAX_BATCH}",
            request.data.len()
        ))
        .at("data"));
    }
    let mut annotations = Vec::with_capacity(request.data.len());
    for (i, a) in request.data.into_iter().enumerate() {
        if a.name == NOTE {
            return Err(ApiError::invalid_body(
                "the name 'note' is reserved for session notes: use POST /v1/session_notes",
            )
            .at(format!("data[{i}].name")));
        }
        let a = a.into_new();
        validated(&a, &format!("data[{i}]"))?;
        annotations.push(a);
    }
    if annotations.is_empty() {
        return Ok(Json(Data { data: Vec::new() }));
    }
    let mut session_ids: Vec<String> = annotations.iter().map(|a| a.session_id.clone()).collect();
    session_ids.sort();
    session_ids.dedup();
    let projects: BTreeMap<String, String> = locate_sessions(&state, session_ids, |absent| {
        Some(ApiError::not_found(&format!(
            "sessions with ids {}",
            absent.join(", ")
        )))
    })
    .await?;
    let placed: Vec<(String, NewAnnotation)> = annotations
        .into_iter()
        .map(|a| (projects[&a.session_id].clone(), a))
        .collect();
    let stored = blocking(&state, move |s| s.upsert_annotations_in(&placed)).await?;
    Ok(Json(Data {
        data: inserted(stored),
    }))
}

/// A note as Phoenix's clients write it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionNoteData {
    /// The session's `id`, or the session id the app sent (in one project
    /// only).
    pub session_id: String,
    /// The note's text.
    pub note: String,
    /// Replaces the note of this identifier; without one, the note is added
    /// under a fresh `px-session-note:<uuid>`.
    #[serde(default)]
    pub identifier: Option<String>,
}

/// `POST /v1/session_notes`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionNoteRequest {
    /// The note.
    pub data: SessionNoteData,
}

/// `POST /v1/session_notes`: a note on a session, appended (or replacing the
/// note of the identifier given). Notes are annotations named `note`, kept out
/// of the annotation summaries.
#[utoipa::path(
    post, path = "/v1/session_notes", operation_id = "createSessionNote", tag = "phoenix",
    request_body(content = CreateSessionNoteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The note's id", body = Data<InsertedAnnotation>),
        (status = 400, description = "An empty session id or note, or one over the limits", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session id is in several projects (they are named)", body = ErrorBody),
    )
)]
pub async fn note(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Data<InsertedAnnotation>>, ApiError> {
    QueryParams::none(params)?;
    let request: CreateSessionNoteRequest = body(&state, &headers, request).await?;
    let note = request.data;
    let (session, text) = (note.session_id.trim(), note.note.trim());
    if session.is_empty() {
        return Err(ApiError::invalid_body("session_id must not be empty").at("data.session_id"));
    }
    if text.is_empty() {
        return Err(ApiError::invalid_body("note must not be empty").at("data.note"));
    }
    let (project, session_id) = locate_session(&state, session).await?;
    let identifier = match note.identifier.as_deref().map(str::trim) {
        Some(given) if !given.is_empty() => given.to_owned(),
        _ => note_identifier("px-session-note"),
    };
    let annotation = NewAnnotation {
        session_id,
        name: NOTE.to_owned(),
        annotator_kind: AnnotatorKind::Human,
        explanation: Some(text.to_owned()),
        identifier,
        ..Default::default()
    };
    annotation.validate().map_err(|(field, message)| {
        let field = if field == "explanation" {
            "note"
        } else {
            field
        };
        ApiError::invalid_body(message).at(format!("data.{field}"))
    })?;
    let mut stored = blocking(&state, move |s| {
        s.upsert_annotations(&project, &[annotation])
    })
    .await?;
    let id = stored
        .pop()
        .map(|a| ids::annotation(a.id))
        .ok_or_else(|| ApiError::internal("the store returned no note"))?;
    Ok(Json(Data {
        data: InsertedAnnotation { id },
    }))
}

/// Default page size of the annotation list (Phoenix's).
const DEFAULT_ANNOTATION_LIMIT: usize = 10;

/// `GET /v1/projects/{project}/session_annotations`: a project's session
/// annotations (notes included) by session and/or identifier, newest first.
#[utoipa::path(
    get, path = "/v1/projects/{project}/session_annotations", operation_id = "listSessionAnnotationsBySessionIds", tag = "phoenix",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("session_ids" = Option<Vec<String>>, Query, description = "Annotations of these sessions (repeat the parameter)"),
        ("identifier" = Option<Vec<String>>, Query, description = "Annotations with these identifiers (repeat the parameter); with `session_ids`, both must hold"),
        ("include_annotation_names" = Option<Vec<String>>, Query, description = "Only these names"),
        ("exclude_annotation_names" = Option<Vec<String>>, Query, description = "Not these names"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 10000 (default 10)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of annotations, newest first", body = Page<SessionAnnotationRow>),
        (status = 400, description = "Neither `session_ids` nor `identifier`, or a parameter is malformed", body = ErrorBody),
        (status = 404, description = "No such project, or none of the sessions is in it", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<SessionAnnotationRow>>, ApiError> {
    let (params, mut lists) = Lists::split(
        params,
        &[
            "session_ids",
            "identifier",
            "include_annotation_names",
            "exclude_annotation_names",
        ],
    )?;
    let p = QueryParams::new(params, &["limit", "cursor"], false)?;
    let query = AnnotationQuery {
        page: page_within(&p, DEFAULT_ANNOTATION_LIMIT, MAX_PAGE)?,
        session_ids: lists.take("session_ids"),
        identifiers: lists.take("identifier"),
        include_names: lists.take("include_annotation_names"),
        exclude_names: lists.take("exclude_annotation_names"),
    };
    if query.session_ids.is_empty() && query.identifiers.is_empty() {
        return Err(ApiError::bad_parameter(
            "session_ids",
            "at least one of session_ids or identifier must be given",
        ));
    }
    let project = ids::project_name(&project);
    let only_sessions = query
        .identifiers
        .is_empty()
        .then(|| query.session_ids.clone());
    let (page, sessions_here) = blocking(&state, move |s| {
        let page = s.list_annotations(&project, &query)?;
        // Phoenix answers 404 when none of the sessions asked for is here.
        let sessions_here = match only_sessions {
            Some(ids) if page.data.is_empty() => {
                s.sessions_named(&ids)?.iter().any(|(_, p)| *p == project)
            }
            _ => true,
        };
        Ok((page, sessions_here))
    })
    .await?;
    if !sessions_here {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "none of the session_ids is a session of this project",
        )
        .at("session_ids"));
    }
    Ok(Json(Page {
        data: page
            .data
            .into_iter()
            .map(SessionAnnotationRow::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `DELETE /v1/projects/{project}/session_annotations`: a project's session
/// annotations that match every filter given, within `[start_time, end_time)`
/// of their creation or, with `delete_all=true`, of any time.
#[utoipa::path(
    delete, path = "/v1/projects/{project}/session_annotations", operation_id = "deleteSessionAnnotations", tag = "phoenix",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("name" = Option<String>, Query, description = "Of this name"),
        ("identifier" = Option<String>, Query, description = "With this identifier"),
        ("annotator_kind" = Option<AnnotatorKind>, Query, description = "By this kind of annotator"),
        ("start_time" = Option<String>, Query, description = "Created at or after this time (ISO 8601; without an offset, UTC)"),
        ("end_time" = Option<String>, Query, description = "Created before this time"),
        ("delete_all" = Option<bool>, Query, description = "Without a time range: every annotation the other filters match"),
    ),
    responses(
        (status = 204, description = "Deleted (also when nothing matched)"),
        (status = 400, description = "Neither a whole time range nor `delete_all=true`, or a parameter is malformed", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let p = QueryParams::new(
        params,
        &[
            "name",
            "identifier",
            "annotator_kind",
            "start_time",
            "end_time",
            "delete_all",
        ],
        false,
    )?;
    let annotator_kind = p
        .get("annotator_kind")
        .map(|k| {
            AnnotatorKind::parse(k).ok_or_else(|| {
                ApiError::bad_parameter(
                    "annotator_kind",
                    "annotator_kind must be LLM, CODE or HUMAN",
                )
            })
        })
        .transpose()?;
    let filter = AnnotationFilter {
        name: p.text("name")?,
        identifier: p.text("identifier")?,
        annotator_kind,
        created_from_ns: p.time("start_time")?,
        created_before_ns: p.time("end_time")?,
    };
    let delete_all = p.flag("delete_all")?.unwrap_or(false);
    match (filter.created_from_ns, filter.created_before_ns) {
        (Some(start), Some(end)) if start >= end => {
            return Err(ApiError::bad_parameter(
                "end_time",
                "start_time must be strictly earlier than end_time",
            ));
        }
        (Some(_), Some(_)) => {}
        _ if delete_all => {}
        _ => {
            return Err(ApiError::bad_parameter(
                "delete_all",
                "the delete is unbounded: set delete_all=true, or give both start_time and end_time",
            ));
        }
    }
    let project = ids::project_name(&project);
    blocking(&state, move |s| s.delete_annotations(&project, &filter)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
