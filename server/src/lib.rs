//! openinference-session-server: a sessions server for OpenInference and
//! OpenTelemetry GenAI traces.
//!
//! It ingests OTLP (HTTP protobuf/JSON and gRPC), stores spans behind the
//! [`store::Store`] trait (SQLite by default), links traces to sessions by the
//! rules of [`turn`], and serves the sessions API. Entry points: [`app`] builds
//! the HTTP router, [`serve`] runs it on bound listeners until a shutdown
//! future resolves.

pub mod annotation;
pub mod annotation_api;
pub mod annotation_config;
pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod evaluation;
pub mod grpc;
pub mod ids;
pub mod ingest;
pub mod memory;
pub mod messages;
pub mod model;
pub mod openapi;
pub mod otlp;
pub mod phoenix;
pub mod pricing;
pub mod request;
pub mod retention;
pub mod semconv;
pub mod settings;
pub mod steps;
pub mod store;
pub mod turn;
pub mod ui;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::pricing::PriceTable;
use crate::store::Store;

/// This server's version and the commit it was built from, as `oi-sessions
/// --version` prints it: `0.1.0 (abc1234 2026-12-01)`, `0.1.0 (abc1234)` from a
/// crate tarball, `0.1.0 (unknown)` without either (set by `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("OI_SESSIONS_BUILD"),
    ")"
);

/// Exports of the largest default size processed (decoded, mapped, stored) at
/// once, over both transports; smaller ones take a share of the slots by
/// their size ([`request::processing_slot`]); a request waits for its share
/// briefly, then gets 503 with `Retry-After`.
///
/// One writer commits large ones in turn, so a few suffice; the bound is also
/// what caps the memory decoding takes (see `docs/server.md`, "Limits").
pub const MAX_CONCURRENT_EXPORTS: usize = 4;

/// Most spans (or log records) one export may carry; more is a 413 asking for
/// smaller batches. OpenTelemetry SDKs send 512 at most by default, the
/// Collector's batch processor 8,192.
pub const MAX_ITEMS_PER_REQUEST: usize = 100_000;

/// Time a client gets to send an export's body; a slower one gets 408 and
/// frees its slot.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Largest request body, compressed or inflated.
    pub max_request_bytes: usize,
    /// Bearer key required on ingest and API when set.
    pub api_key: Option<Arc<str>>,
    /// Prices for calls that report no cost.
    pub prices: Arc<PriceTable>,
    /// Slots among the exports being processed ([`MAX_CONCURRENT_EXPORTS`]
    /// of the largest size, [`request::PROCESSING_PERMITS`] permits).
    pub ingest_permits: Arc<Semaphore>,
    /// The bytes of request bodies being received at once
    /// ([`request::RECEIVING_BUDGET_BYTES`]), one permit per byte.
    pub receiving: Arc<Semaphore>,
    /// Buffers kept for the bodies received next.
    pub body_buffers: Arc<request::BodyBuffers>,
    /// Time allowed to receive a request's body.
    pub body_timeout: std::time::Duration,
    /// Most spans or log records in one export ([`MAX_ITEMS_PER_REQUEST`]).
    pub max_items_per_request: usize,
    /// The idle period of projects without their own (`--session-idle`).
    pub session_idle: std::time::Duration,
    /// Online evaluation: settings, and what the scheduler and handlers share.
    pub evaluations: Arc<evaluation::Evaluations>,
    /// How long sessions of projects without their own retention are kept
    /// after their last activity (`--retention`); `None` for ever.
    pub retention: Option<std::time::Duration>,
}

impl AppState {
    /// State over a store with default limits and prices.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            max_request_bytes: config::DEFAULT_MAX_REQUEST_BYTES,
            api_key: None,
            prices: Arc::new(PriceTable::default()),
            ingest_permits: Arc::new(Semaphore::new(request::PROCESSING_PERMITS)),
            receiving: Arc::new(Semaphore::new(request::RECEIVING_BUDGET_BYTES)),
            body_buffers: Arc::default(),
            body_timeout: BODY_TIMEOUT,
            max_items_per_request: MAX_ITEMS_PER_REQUEST,
            session_idle: std::time::Duration::from_nanos(
                store::evaluations::DEFAULT_SESSION_IDLE_NS.unsigned_abs(),
            ),
            evaluations: Arc::new(evaluation::Evaluations::new(Default::default())),
            retention: None,
        }
    }

    /// Sets how long sessions are kept after their last activity, in the
    /// store too (it deletes them); `None` for ever.
    pub fn with_retention(mut self, retention: Option<std::time::Duration>) -> Self {
        self.retention = retention.filter(|d| !d.is_zero());
        self.store.set_default_retention(
            self.retention
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        );
        self
    }

    /// Sets the idle period of projects without their own, in the store too
    /// (it says each session's status).
    pub fn with_session_idle(mut self, idle: std::time::Duration) -> Self {
        self.session_idle = idle;
        self.store
            .set_default_session_idle(i64::try_from(idle.as_nanos()).unwrap_or(i64::MAX));
        self
    }

    /// Sets how evaluations run.
    pub fn with_evaluations(mut self, settings: evaluation::EvaluationSettings) -> Self {
        self.evaluations = Arc::new(evaluation::Evaluations::new(settings));
        self
    }

    /// The limits request bodies are read within.
    pub fn body_limits(&self) -> request::BodyLimits {
        request::BodyLimits {
            max_bytes: self.max_request_bytes,
            timeout: self.body_timeout,
            budget: self.receiving.clone(),
            buffers: self.body_buffers.clone(),
        }
    }
}

/// Whether an `Authorization` value is `Bearer <key>` (the scheme name in any
/// case, as HTTP says), the key compared in constant time.
pub fn bearer_matches(header: Option<&str>, key: &str) -> bool {
    let Some((scheme, given)) = header.and_then(|h| h.trim_start().split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let (a, b) = (given.trim().as_bytes(), key.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(key) = &state.api_key {
        let given = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !bearer_matches(given, key) {
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(request).await
}

/// The HTTP router: OTLP ingest, the JSON API (ours and Phoenix's), health,
/// the OpenAPI document and the web UI.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/traces", post(ingest::export))
        .route("/v1/logs", post(ingest::export_logs))
        .route(
            "/v1/projects",
            get(api::projects).post(phoenix::projects::create),
        )
        .route(
            "/v1/projects/{project}",
            get(phoenix::projects::get)
                .put(phoenix::projects::update)
                .delete(phoenix::projects::delete),
        )
        .route("/v1/projects/{project}/sessions", get(api::sessions))
        .route(
            "/v1/projects/{project}/sessions/{session_id}",
            get(api::session).delete(api::delete_session),
        )
        .route(
            "/v1/projects/{project}/sessions/{session_id}/turns",
            get(api::turns),
        )
        .route(
            "/v1/projects/{project}/sessions/{session_id}/annotations",
            get(annotation_api::list).post(annotation_api::create),
        )
        .route(
            "/v1/projects/{project}/sessions/{session_id}/annotations/{id}",
            delete(annotation_api::delete),
        )
        .route(
            "/v1/projects/{project}/session_annotations",
            post(annotation_api::create_many)
                .get(phoenix::annotations::list)
                .delete(phoenix::annotations::delete),
        )
        .route("/v1/projects/{project}/stats", get(api::project_stats))
        .route(
            "/v1/projects/{project}/annotation_configs",
            get(annotation_api::list_configs).post(annotation_api::create_config),
        )
        .route(
            "/v1/projects/{project}/annotation_configs/{name}",
            get(annotation_api::get_config)
                .put(annotation_api::put_config)
                .delete(annotation_api::delete_config),
        )
        .route(
            "/v1/projects/{project}/settings",
            get(settings::get).put(settings::put),
        )
        .route(
            "/v1/projects/{project}/evaluators",
            get(evaluation::api::list_evaluators).post(evaluation::api::create_evaluator),
        )
        .route(
            "/v1/projects/{project}/evaluators/{name}",
            get(evaluation::api::get_evaluator)
                .put(evaluation::api::put_evaluator)
                .delete(evaluation::api::delete_evaluator),
        )
        .route(
            "/v1/projects/{project}/evaluators/{name}/backfills",
            post(evaluation::api::create_backfill),
        )
        .route(
            "/v1/projects/{project}/backfills/{id}",
            get(evaluation::api::get_backfill),
        )
        .route(
            "/v1/projects/{project}/evaluation_jobs",
            get(evaluation::api::jobs),
        )
        .route("/v1/projects/{project}/spans", get(phoenix::spans::list))
        .route("/v1/projects/{project}/traces", get(api::traces))
        .route("/v1/projects/{project}/traces/{trace_id}", get(api::trace))
        .route(
            "/v1/sessions/{session_identifier}",
            get(phoenix::sessions::get).delete(phoenix::sessions::delete),
        )
        .route(
            "/v1/sessions/delete",
            post(phoenix::sessions::delete_many)
                .get(phoenix::sessions::get_named_delete)
                .delete(phoenix::sessions::delete_named_delete),
        )
        .route(
            "/v1/session_annotations",
            post(phoenix::annotations::annotate),
        )
        .route("/v1/session_notes", post(phoenix::annotations::note))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ));
    Router::new()
        .merge(protected)
        .route("/healthz", get(api::health))
        .route("/arize_phoenix_version", get(phoenix::version))
        .route("/openapi.json", get(api::openapi))
        .fallback(ui::serve)
        .with_state(state)
}

/// Serves HTTP (and gRPC when given a listener), and runs the evaluation
/// scheduler, until `shutdown` resolves, then lets in-flight requests finish:
/// an export that was acknowledged is committed.
pub async fn serve(
    http: TcpListener,
    grpc: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let store = Arc::downgrade(&state.store);
    let scheduler = tokio::spawn(evaluation::scheduler::run(state.clone(), rx.clone()));
    let retention = tokio::spawn(retention::run(state.clone(), rx.clone()));
    let grpc_task = grpc.map(|listener| {
        let (traces, logs) = grpc::services(state.clone());
        let stop = wait(rx.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(traces)
                .add_service(logs)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    stop,
                )
                .await
        })
    });
    axum::serve(http, app(state))
        .with_graceful_shutdown(wait(rx))
        .await?;
    if let Some(task) = grpc_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "grpc server failed"),
            Err(e) => tracing::error!(error = %e, "grpc server task failed"),
        }
    }
    // a job it was running is run again when its lease ends
    if let Err(e) = scheduler.await {
        tracing::error!(error = %e, "the evaluation scheduler failed");
    }
    if let Err(e) = retention.await {
        tracing::error!(error = %e, "the retention task failed");
    }
    closed(&store).await;
    Ok(())
}

/// The longest `serve` waits, once its servers and tasks are done, for the
/// last handles on the store to go (an evaluation still calling its judge
/// holds one until it ends; its job is run again when its lease ends).
const STORE_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits, up to [`STORE_CLOSE_WAIT`], until nothing holds the store: a
/// connection's task reports itself done before it drops its handle, so
/// without this `serve` could return while the store (and a SQLite data
/// directory's lock) was still open, and opening it again right away failed.
async fn closed(store: &std::sync::Weak<dyn store::Store>) {
    let deadline = tokio::time::Instant::now() + STORE_CLOSE_WAIT;
    while store.strong_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
