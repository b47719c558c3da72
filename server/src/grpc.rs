//! OTLP/gRPC ingest (`opentelemetry.proto.collector.trace.v1.TraceService/Export`)
//! with gzip, sharing validation and storage with the HTTP path.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{ingest, rejection_message};
use crate::otlp::DecodedRequest;
use crate::semconv::PROJECT_HEADER;

/// The gRPC trace service.
pub struct GrpcTraces {
    state: AppState,
}

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        if let Some(key) = &self.state.api_key {
            let given = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if !crate::bearer_matches(given, key) {
                return Err(ApiError::unauthorized().to_grpc());
            }
        }
        let project = request
            .metadata()
            .get(PROJECT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let _permit = self
            .state
            .ingest_permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                ApiError::unavailable("too many concurrent exports, retry later").to_grpc()
            })?;
        let decoded = DecodedRequest {
            request: request.into_inner(),
            rejected: Vec::new(),
        };
        let rejected = ingest(&self.state, decoded, project)
            .await
            .map_err(|e| e.to_grpc())?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (!rejected.is_empty()).then(|| ExportTracePartialSuccess {
                rejected_spans: rejected.len() as i64,
                error_message: rejection_message(&rejected),
            }),
        }))
    }
}

/// The tonic service, accepting and answering gzip.
pub fn service(state: AppState) -> TraceServiceServer<GrpcTraces> {
    let limit = state.max_request_bytes;
    TraceServiceServer::new(GrpcTraces { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
