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
pub mod api;
pub mod config;
pub mod error;
pub mod grpc;
pub mod ids;
pub mod ingest;
pub mod messages;
pub mod model;
pub mod openapi;
pub mod otlp;
pub mod phoenix;
pub mod pricing;
pub mod request;
pub mod semconv;
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

/// Exports handled at once; more get 503 with `Retry-After`.
///
/// One writer commits them in turn, so a few suffice; the bound also caps the
/// memory that bodies in flight can take.
pub const MAX_CONCURRENT_EXPORTS: usize = 16;

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
    /// Bounds concurrent exports.
    pub ingest_permits: Arc<Semaphore>,
    /// Time allowed to receive an export's body.
    pub body_timeout: std::time::Duration,
}

impl AppState {
    /// State over a store with default limits and prices.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            max_request_bytes: config::DEFAULT_MAX_REQUEST_BYTES,
            api_key: None,
            prices: Arc::new(PriceTable::default()),
            ingest_permits: Arc::new(Semaphore::new(MAX_CONCURRENT_EXPORTS)),
            body_timeout: BODY_TIMEOUT,
        }
    }
}

/// Whether an `Authorization` value is `Bearer <key>`, compared in constant time.
pub fn bearer_matches(header: Option<&str>, key: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
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

/// Serves HTTP (and gRPC when given a listener) until `shutdown` resolves, then
/// lets in-flight requests finish: an export that was acknowledged is committed.
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
    Ok(())
}
