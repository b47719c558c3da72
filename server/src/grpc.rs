//! OTLP/gRPC ingest with gzip: `TraceService/Export` (spans) and
//! `LogsService/Export` (the GenAI events of spans), sharing the key check,
//! the slot among exports in flight, validation and storage with the HTTP path.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::OwnedSemaphorePermit;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{ingest_events, ingest_spans, rejection_message};
use crate::otlp::DecodedRequest;
use crate::semconv::PROJECT_HEADER;

/// The gRPC services: traces and logs.
#[derive(Clone)]
pub struct GrpcIngest {
    state: AppState,
}

impl GrpcIngest {
    /// The key check and a slot among exports in flight; then the project
    /// header and the message.
    fn admit<T>(
        &self,
        request: Request<T>,
    ) -> Result<(OwnedSemaphorePermit, Option<String>, T), Status> {
        if let Some(key) = &self.state.api_key {
            let given = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if !crate::bearer_matches(given, key) {
                return Err(ApiError::unauthorized().to_grpc());
            }
        }
        let permit = self
            .state
            .ingest_permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                ApiError::unavailable("too many concurrent exports, retry later").to_grpc()
            })?;
        let project = request
            .metadata()
            .get(PROJECT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((permit, project, request.into_inner()))
    }
}

#[tonic::async_trait]
impl TraceService for GrpcIngest {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let (_permit, project, request) = self.admit(request)?;
        let decoded = DecodedRequest {
            request,
            rejected: Vec::new(),
        };
        let rejected = ingest_spans(&self.state, decoded, project)
            .await
            .map_err(|e| e.to_grpc())?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (!rejected.is_empty()).then(|| ExportTracePartialSuccess {
                rejected_spans: rejected.len() as i64,
                error_message: rejection_message(&rejected, "spans"),
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcIngest {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let (_permit, project, request) = self.admit(request)?;
        let decoded = DecodedRequest {
            request,
            rejected: Vec::new(),
        };
        let rejected = ingest_events(&self.state, decoded, project)
            .await
            .map_err(|e| e.to_grpc())?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (!rejected.is_empty()).then(|| ExportLogsPartialSuccess {
                rejected_log_records: rejected.len() as i64,
                error_message: rejection_message(&rejected, "log records"),
            }),
        }))
    }
}

/// The tonic services, accepting and answering gzip.
pub fn services(
    state: AppState,
) -> (
    TraceServiceServer<GrpcIngest>,
    LogsServiceServer<GrpcIngest>,
) {
    let limit = state.max_request_bytes;
    let ingest = GrpcIngest { state };
    let traces = TraceServiceServer::new(ingest.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let logs = LogsServiceServer::new(ingest)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    (traces, logs)
}
