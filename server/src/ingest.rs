//! OTLP/HTTP ingest at `POST /v1/traces`: content negotiation, size limits, decode
//! off the async runtime, one committed write per request, and an OTLP response
//! with `partial_success` for spans rejected one by one.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::otlp::{self, Encoding, OtlpError, map};
use crate::request::read_body;
use crate::semconv::PROJECT_HEADER;
use crate::store::StoreError;

/// `N spans rejected: reason (count); ...`, or empty when none were.
pub fn rejection_message(reasons: &[String]) -> String {
    if reasons.is_empty() {
        return String::new();
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(r, n)| format!("{r} ({n})")).collect();
    format!("{} spans rejected: {}", reasons.len(), parts.join("; "))
}

/// Decodes, validates and stores one export request; returns the rejection
/// reasons. Shared by HTTP and gRPC.
pub async fn ingest(
    state: &AppState,
    request: otlp::DecodedRequest,
    project_header: Option<String>,
) -> Result<Vec<String>, ApiError> {
    let prices = state.prices.clone();
    let mapped = tokio::task::spawn_blocking(move || {
        let mut mapped = map::map_request(&request.request, project_header.as_deref(), &prices);
        let mut rejected = request.rejected;
        rejected.append(&mut mapped.rejected);
        mapped.rejected = rejected;
        mapped
    })
    .await
    .map_err(ApiError::internal)?;
    let store = state.store.clone();
    let records = mapped.records;
    let outcome = tokio::task::spawn_blocking(move || store.write(&records))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "span write failed");
                ApiError::unavailable("storage unavailable, retry later")
            }
            other => other.into(),
        })?;
    tracing::debug!(
        inserted = outcome.inserted,
        duplicates = outcome.duplicates,
        rejected = mapped.rejected.len(),
        "spans ingested"
    );
    if !mapped.rejected.is_empty() {
        tracing::warn!(
            rejected = mapped.rejected.len(),
            reason = %rejection_message(&mapped.rejected),
            "spans rejected"
        );
    }
    Ok(mapped.rejected)
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
    let limit = state.max_request_bytes;
    let _permit = state
        .ingest_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::unavailable("too many concurrent exports, retry later"))?;
    let bytes = read_body(&headers, body, limit, state.body_timeout).await?;
    let decoded = tokio::task::spawn_blocking(move || {
        if gzip {
            otlp::decode(&otlp::gunzip(&bytes, limit)?, encoding)
        } else {
            otlp::decode(&bytes, encoding)
        }
    })
    .await
    .map_err(ApiError::internal)??;
    let project = headers
        .get(PROJECT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let rejected = ingest(&state, decoded, project).await?;
    let partial = (!rejected.is_empty()).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected.len() as i64,
        error_message: rejection_message(&rejected),
    });
    Ok(match encoding {
        Encoding::Protobuf => {
            let body = ExportTraceServiceResponse {
                partial_success: partial,
            }
            .encode_to_vec();
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                )],
                body,
            )
                .into_response()
        }
        Encoding::Json => {
            let body = match partial {
                None => serde_json::json!({}),
                Some(p) => serde_json::json!({
                    "partialSuccess": {
                        "rejectedSpans": p.rejected_spans.to_string(),
                        "errorMessage": p.error_message,
                    }
                }),
            };
            axum::Json(body).into_response()
        }
    })
}
