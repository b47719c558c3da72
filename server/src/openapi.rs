//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! attributes and the model's `ToSchema` types: the one source of the API's
//! contract. `server/openapi.json` is this document committed (a test fails
//! when it is stale; `UPDATE_OPENAPI=1 cargo test -p openinference-session-server
//! --test openapi` rewrites it), and the TypeScript types of the Node client and
//! the UI are generated from that file.

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::annotation::{
    Annotation, AnnotationSource, AnnotationSummary, AnnotatorKind, NewAnnotation,
};
use crate::annotation_api::AnnotationBatch;
use crate::annotation_config::{AnnotationConfig, CategoricalValue, ConfigKind, Optimize};
use crate::error::{ErrorBody, ErrorDetail};
use crate::evaluation::api::{BackfillRequest, Evaluator};
use crate::evaluation::spec::{EvaluatorKind, EvaluatorSpec, LlmEndpoint, Rule, Scope, Speaker};
use crate::model::{
    Cost, HealthInfo, Io, Latency, ProjectInfo, SessionInfo, SessionTrace, SpanContext, SpanEvent,
    SpanInfo, SpanKind, SpanRow, SpanRowEvent, SpanStatus, TokenCount, TraceDetail, TraceInfo,
    TraceRow, TraceSpan, TraceStatus, Turn,
};
use crate::phoenix::annotations::{
    AnnotateSessionsRequest, AnnotationResult, CreateSessionNoteRequest, InsertedAnnotation,
    SessionAnnotationData, SessionAnnotationRow, SessionNoteData,
};
use crate::phoenix::projects::{CreateProjectRequest, UpdateProjectRequest};
use crate::phoenix::sessions::DeleteSessionsRequest;
use crate::settings::{ProjectSettingsInfo, ProjectSettingsUpdate};
use crate::steps::{Step, StepKind};
use crate::store::stats::{
    AnnotationBucket, AnnotationStats, Distribution, ProjectStats, SessionBucket, Verdicts,
};
use crate::store::{
    Backfill, EvaluationJob, IntegrityCheck, JobCounts, JobState, Order, SessionSort,
    SessionStatus, StoreHealth, TraceSort,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oi-sessions",
        description = "Sessions of LLM applications: OTLP ingest, sessions, turns, traces and session annotations; and Phoenix's REST API for them.",
        license(name = "Apache-2.0"),
    ),
    paths(
        crate::api::projects,
        crate::api::sessions,
        crate::api::session,
        crate::api::delete_session,
        crate::api::turns,
        crate::api::traces,
        crate::api::trace,
        crate::api::health,
        crate::annotation_api::list,
        crate::annotation_api::create,
        crate::annotation_api::delete,
        crate::annotation_api::create_many,
        crate::ingest::export,
        crate::ingest::export_logs,
        crate::api::project_stats,
        crate::annotation_api::list_configs,
        crate::annotation_api::create_config,
        crate::annotation_api::get_config,
        crate::annotation_api::put_config,
        crate::annotation_api::delete_config,
        crate::settings::get,
        crate::settings::put,
        crate::evaluation::api::list_evaluators,
        crate::evaluation::api::create_evaluator,
        crate::evaluation::api::get_evaluator,
        crate::evaluation::api::put_evaluator,
        crate::evaluation::api::delete_evaluator,
        crate::evaluation::api::create_backfill,
        crate::evaluation::api::get_backfill,
        crate::evaluation::api::jobs,
        crate::phoenix::version,
        crate::phoenix::sessions::get,
        crate::phoenix::sessions::delete,
        crate::phoenix::sessions::delete_many,
        crate::phoenix::annotations::annotate,
        crate::phoenix::annotations::note,
        crate::phoenix::annotations::list,
        crate::phoenix::annotations::delete,
        crate::phoenix::spans::list,
        crate::phoenix::projects::get,
        crate::phoenix::projects::create,
        crate::phoenix::projects::update,
        crate::phoenix::projects::delete,
    ),
    components(schemas(
        Annotation, AnnotationBatch, AnnotationSource, AnnotationSummary, AnnotatorKind, Cost,
        ErrorBody, ErrorDetail, HealthInfo, Io, Latency, NewAnnotation, Order, ProjectInfo,
        SessionInfo, SessionSort, SessionTrace, SpanInfo, SpanKind, Step, StepKind, SpanEvent,
        SpanStatus, TokenCount, TraceDetail, TraceInfo, TraceRow, TraceSort, TraceSpan,
        TraceStatus, Turn, SpanRow, SpanContext, SpanRowEvent, AnnotateSessionsRequest,
        AnnotationResult, CreateSessionNoteRequest, InsertedAnnotation, SessionAnnotationData,
        SessionAnnotationRow, SessionNoteData, CreateProjectRequest, UpdateProjectRequest,
        DeleteSessionsRequest, StoreHealth, IntegrityCheck,
        SessionStatus, ProjectSettingsInfo, ProjectSettingsUpdate, Evaluator, EvaluatorSpec,
        EvaluatorKind, Scope, LlmEndpoint, Rule, Speaker, JobCounts, JobState, EvaluationJob,
        ProjectStats, Distribution, SessionBucket, Verdicts, AnnotationStats, AnnotationBucket,
        Backfill, BackfillRequest, AnnotationConfig, ConfigKind, CategoricalValue, Optimize,
    )),
    tags(
        (name = "projects", description = "Projects: where traces were sent"),
        (name = "sessions", description = "Sessions and their turns"),
        (name = "traces", description = "Traces and their spans"),
        (name = "annotations", description = "Verdicts on whole sessions"),
        (name = "evaluations", description = "Online evaluation: evaluators judging sessions that go idle, their jobs and backfills, and the project settings they follow"),
        (name = "ingest", description = "OTLP/HTTP trace ingest"),
        (name = "server", description = "The server itself"),
        (name = "phoenix", description = "Phoenix's REST API for sessions, session annotations and notes, spans and projects, for Phoenix's own clients (docs/phoenix.md); the project, session and trace lists above are Phoenix's too"),
    )
)]
struct ApiDoc;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as pretty JSON, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document())
            .unwrap_or_else(|e| format!("{{\"error\": \"openapi document: {e}\"}}"));
        text.push('\n');
        text
    })
}
