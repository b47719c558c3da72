//! OTLP/HTTP ingest: `POST /v1/traces` (spans) and `POST /v1/logs` (the GenAI
//! events of spans). Both share everything but the decoding: content
//! negotiation, size and time limits, decode off the async runtime, one
//! committed write per request, and an OTLP response with `partial_success`
//! for the items rejected one by one. The gRPC services ([`crate::grpc`]) call
//! the same [`ingest_spans`] and [`ingest_events`].

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::OwnedSemaphorePermit;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::otlp::{self, DecodedRequest, Encoding, OtlpError, logs, map};
use crate::request::{BudgetShare, processing_slot, read_body};
use crate::semconv::PROJECT_HEADER;
use crate::store::{StoreError, WriteOutcome};

/// `N <items> rejected: reason (count); ...`, or empty when none were.
pub fn rejection_message(reasons: &[String], items: &str) -> String {
    if reasons.is_empty() {
        return String::new();
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(r, n)| format!("{r} ({n})")).collect();
    format!("{} {items} rejected: {}", reasons.len(), parts.join("; "))
}

/// The answer to a traces export, on either transport: the spans rejected
/// one by one, counted with their reasons.
pub fn traces_response(rejected: &[String]) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: (!rejected.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected.len() as i64,
            error_message: rejection_message(rejected, "spans"),
        }),
    }
}

/// The answer to a logs export, on either transport.
pub fn logs_response(rejected: &[String]) -> ExportLogsServiceResponse {
    ExportLogsServiceResponse {
        partial_success: (!rejected.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected.len() as i64,
            error_message: rejection_message(rejected, "log records"),
        }),
    }
}

/// Spans (or events) written per store transaction: a large export is mapped
/// and stored in batches of this many, so that what it maps to is never all in
/// memory at once. The answer still waits for the last batch's commit; if one
/// fails, the exporter sends the export again and what was stored is skipped
/// as duplicates.
pub const WRITE_BATCH: usize = 5_000;

/// Counts an export's items before any is mapped: more than the server takes
/// in one request is a 413 asking for smaller batches.
fn check_items(count: usize, limit: usize, items: &str) -> Result<(), ApiError> {
    if count > limit {
        return Err(ApiError::new(
            ErrorCode::BodyTooLarge,
            format!(
                "{count} {items} in one request, over the limit of {limit}: send smaller batches"
            ),
        ));
    }
    Ok(())
}

/// Maps and stores, off the async runtime, in batches of [`WRITE_BATCH`]:
/// `map` hands each record to the writer, which commits a batch as it fills.
/// Storage that is briefly unavailable is a retryable 503 (the exporter sends
/// the request again); a failure a retry cannot mend is a 500, never a 503, so
/// no exporter retries it forever.
async fn map_and_store<T: Send + 'static>(
    state: &AppState,
    write: fn(&dyn crate::store::Store, &[T]) -> Result<WriteOutcome, StoreError>,
    map: impl FnOnce(&mut dyn FnMut(T) -> Result<(), StoreError>) -> Result<Vec<String>, StoreError>
    + Send
    + 'static,
) -> Result<(WriteOutcome, Vec<String>), ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut outcome = WriteOutcome::default();
        let mut batch: Vec<T> = Vec::with_capacity(WRITE_BATCH);
        let mut flush = |batch: &mut Vec<T>| -> Result<(), StoreError> {
            let done = write(store.as_ref(), batch)?;
            outcome.inserted += done.inserted;
            outcome.duplicates += done.duplicates;
            batch.clear();
            Ok(())
        };
        let rejected = map(&mut |record| {
            batch.push(record);
            if batch.len() >= WRITE_BATCH {
                flush(&mut batch)?;
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            flush(&mut batch)?;
        }
        Ok::<_, StoreError>((outcome, rejected))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

fn log_outcome(items: &str, outcome: WriteOutcome, rejected: &[String]) {
    tracing::debug!(
        inserted = outcome.inserted,
        duplicates = outcome.duplicates,
        rejected = rejected.len(),
        "{items} ingested"
    );
    if !rejected.is_empty() {
        tracing::warn!(
            rejected = rejected.len(),
            reason = %rejection_message(rejected, items),
            "{items} rejected"
        );
    }
}

/// Maps and stores one decoded traces request; returns the rejection reasons.
/// Shared by HTTP and gRPC.
pub async fn ingest_spans(
    state: &AppState,
    request: DecodedRequest,
    project_header: Option<String>,
) -> Result<Vec<String>, ApiError> {
    let count = request
        .request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    check_items(count, state.max_items_per_request, "spans")?;
    let prices = state.prices.clone();
    let (outcome, rejected) = map_and_store(
        state,
        |s, r| s.write(r),
        move |emit| {
            let mut rejected = request.rejected;
            map::map_request_with(
                request.request,
                project_header.as_deref(),
                &prices,
                &mut rejected,
                emit,
            )?;
            Ok(rejected)
        },
    )
    .await?;
    log_outcome("spans", outcome, &rejected);
    Ok(rejected)
}

/// Maps and stores one decoded logs request (its GenAI events); returns the
/// rejection reasons. Shared by HTTP and gRPC.
pub async fn ingest_events(
    state: &AppState,
    request: DecodedRequest<ExportLogsServiceRequest>,
    project_header: Option<String>,
) -> Result<Vec<String>, ApiError> {
    let count = request
        .request
        .resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum();
    check_items(count, state.max_items_per_request, "log records")?;
    let (outcome, rejected) = map_and_store(
        state,
        |s, r| s.write_events(r),
        move |emit| {
            let mut rejected = request.rejected;
            logs::map_logs_with(
                request.request,
                project_header.as_deref(),
                &mut rejected,
                emit,
            )?;
            Ok(rejected)
        },
    )
    .await?;
    log_outcome("log records", outcome, &rejected);
    Ok(rejected)
}

/// Plain bodies up to this size are decoded on the async runtime (a
/// simple span processor's one-span export is 2–6 kB); larger ones, and gzip
/// bodies, on a blocking thread.
const DECODED_IN_PLACE_MAX_BYTES: usize = 16 * 1024;

/// An export's body as received, before decoding.
struct Received {
    /// The slot among the exports being processed, held until the answer.
    _slot: OwnedSemaphorePermit,
    /// The body's share of the receiving budget, held until the answer.
    _share: BudgetShare,
    encoding: Encoding,
    gzip: bool,
    /// The body, until it is decoded.
    bytes: Option<axum::body::Bytes>,
    limit: usize,
}

impl Received {
    /// Inflates (when gzip, within the limit) and decodes the body off the
    /// async runtime; the raw bytes are freed once decoded. A small plain
    /// body is decoded in place: a few microseconds, where handing it to a
    /// blocking thread and back costs two thread wake-ups.
    async fn decode<R: Send + 'static>(
        &mut self,
        decode: fn(&[u8], Encoding) -> Result<R, OtlpError>,
    ) -> Result<R, ApiError> {
        let bytes = self.bytes.take().unwrap_or_default();
        let (gzip, limit, encoding) = (self.gzip, self.limit, self.encoding);
        if !gzip && bytes.len() <= DECODED_IN_PLACE_MAX_BYTES {
            return Ok(decode(&bytes, encoding)?);
        }
        let decoded = tokio::task::spawn_blocking(move || {
            if gzip {
                decode(&otlp::gunzip(&bytes, limit)?, encoding)
            } else {
                decode(&bytes, encoding)
            }
        })
        .await
        .map_err(ApiError::internal)??;
        Ok(decoded)
    }
}

/// What `/v1/traces` and `/v1/logs` both do before decoding: the content type
/// and encoding checked, the body read within the limits (its bytes counted
/// against the receiving budget as they arrive), then a slot among the exports
/// being processed taken: a slow or stalled upload holds no slot.
async fn receive(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Received, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = Encoding::from_content_type(content_type)?;
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e.is_empty() || e == "identity" => false,
        Some(e) if e == "gzip" => true,
        Some(e) => return Err(OtlpError::UnsupportedEncoding(e).into()),
    };
    let (bytes, share) = read_body(headers, body, &state.body_limits())
        .await?
        .into_parts();
    let slot = processing_slot(
        &state.ingest_permits,
        bytes.len(),
        gzip,
        state.max_request_bytes,
    )
    .await?;
    Ok(Received {
        _slot: slot,
        _share: share,
        encoding,
        gzip,
        bytes: Some(bytes),
        limit: state.max_request_bytes,
    })
}

fn project_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(PROJECT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The OTLP answer in the request's encoding: `message` as protobuf, or OTLP
/// JSON with `partialSuccess {<count_field>, errorMessage}` when some items
/// were rejected.
fn answer(
    encoding: Encoding,
    message: impl Message,
    rejected: &[String],
    count_field: &str,
    items: &str,
) -> Response {
    match encoding {
        Encoding::Protobuf => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            )],
            message.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => {
            let body = if rejected.is_empty() {
                serde_json::json!({})
            } else {
                serde_json::json!({
                    "partialSuccess": {
                        count_field: rejected.len().to_string(),
                        "errorMessage": rejection_message(rejected, items),
                    }
                })
            };
            axum::Json(body).into_response()
        }
    }
}

/// `POST /v1/traces`.
#[utoipa::path(
    post, path = "/v1/traces", tag = "ingest",
    request_body(
        content = Vec<u8>,
        content_type = "application/x-protobuf",
        description = "An OTLP ExportTraceServiceRequest, as protobuf (`application/x-protobuf`) \
            or OTLP JSON (`application/json`), optionally with `Content-Encoding: gzip`. \
            `x-project-name` overrides the project the resource names."
    ),
    responses(
        (status = 200, description = "Every accepted span is committed; spans rejected one by one are \
            counted in `partial_success` (an ExportTraceServiceResponse, in the request's encoding)"),
        (status = 400, description = "Undecodable body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 408, description = "Body not received in time", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Unsupported content type or encoding", body = ErrorBody),
        (status = 503, description = "Overloaded or storage unavailable: retry after `Retry-After`", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut received = receive(&state, &headers, body).await?;
    let decoded = received.decode(otlp::decode).await?;
    let rejected = ingest_spans(&state, decoded, project_header(&headers)).await?;
    Ok(answer(
        received.encoding,
        traces_response(&rejected),
        &rejected,
        "rejectedSpans",
        "spans",
    ))
}

/// `POST /v1/logs`.
#[utoipa::path(
    post, path = "/v1/logs", tag = "ingest",
    request_body(
        content = Vec<u8>,
        content_type = "application/x-protobuf",
        description = "An OTLP ExportLogsServiceRequest, as protobuf (`application/x-protobuf`) \
            or OTLP JSON (`application/json`), optionally with `Content-Encoding: gzip`. \
            GenAI events (`gen_ai.*`) with a trace and span id are stored with their span; \
            other log records are rejected in `partial_success`."
    ),
    responses(
        (status = 200, description = "Every accepted event is committed; log records rejected one by \
            one are counted in `partial_success` (an ExportLogsServiceResponse, in the request's encoding)"),
        (status = 400, description = "Undecodable body", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 408, description = "Body not received in time", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Unsupported content type or encoding", body = ErrorBody),
        (status = 503, description = "Overloaded or storage unavailable: retry after `Retry-After`", body = ErrorBody),
    )
)]
pub async fn export_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut received = receive(&state, &headers, body).await?;
    let decoded = received.decode(otlp::decode_logs).await?;
    let rejected = ingest_events(&state, decoded, project_header(&headers)).await?;
    Ok(answer(
        received.encoding,
        logs_response(&rejected),
        &rejected,
        "rejectedLogRecords",
        "log records",
    ))
}
