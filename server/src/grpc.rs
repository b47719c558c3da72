//! OTLP/gRPC ingest: `TraceService/Export` (spans) and `LogsService/Export`
//! (the GenAI events of spans), on the same checks, limits and storage as the
//! HTTP path, in the same order: the API key before anything is read; the
//! request received whole within the size and time limits, its bytes counted
//! against the receiving budget as they arrive (a slow or stalled upload holds
//! no processing slot); then a slot among the exports being processed; only
//! then the message is decoded. An undecodable message is `INVALID_ARGUMENT`.
//!
//! The services are written here rather than generated so that these checks
//! come before tonic reads a message; tonic still does the framing and gzip.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::Full;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{ingest_events, ingest_spans, logs_response, traces_response};
use crate::otlp::DecodedRequest;
use crate::request::{processing_slot, read_body};
use crate::semconv::PROJECT_HEADER;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the two OTLP services differ in.
pub trait Signal: Send + Sync + 'static {
    /// The gRPC service name.
    const SERVICE: &'static str;
    /// The request message.
    type Request: Message + Default + Send + 'static;
    /// The response message.
    type Response: Message + Default + Send + 'static;
    /// Maps and stores a request; the answer carries the rejections.
    fn ingest(
        state: AppState,
        request: Self::Request,
        project: Option<String>,
    ) -> BoxFuture<Result<Self::Response, ApiError>>;
}

/// `opentelemetry.proto.collector.trace.v1.TraceService`.
pub struct Traces;
/// `opentelemetry.proto.collector.logs.v1.LogsService`.
pub struct Logs;

impl Signal for Traces {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;

    fn ingest(
        state: AppState,
        request: Self::Request,
        project: Option<String>,
    ) -> BoxFuture<Result<Self::Response, ApiError>> {
        Box::pin(async move {
            let decoded = DecodedRequest {
                request,
                rejected: Vec::new(),
            };
            Ok(traces_response(
                &ingest_spans(&state, decoded, project).await?,
            ))
        })
    }
}

impl Signal for Logs {
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;

    fn ingest(
        state: AppState,
        request: Self::Request,
        project: Option<String>,
    ) -> BoxFuture<Result<Self::Response, ApiError>> {
        Box::pin(async move {
            let decoded = DecodedRequest {
                request,
                rejected: Vec::new(),
            };
            Ok(logs_response(
                &ingest_events(&state, decoded, project).await?,
            ))
        })
    }
}

/// Protobuf messages as tonic frames them; a message that does not decode is
/// the client's error (`INVALID_ARGUMENT`), not the server's.
struct OtlpCodec<Req, Resp>(PhantomData<fn(Req) -> Resp>);

struct OtlpEncoder<T>(PhantomData<fn(T)>);
struct OtlpDecoder<T>(PhantomData<fn() -> T>);

impl<T: Message> Encoder for OtlpEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the answer: {e}")))
    }
}

impl<T: Message + Default> Decoder for OtlpDecoder<T> {
    type Item = T;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<T>, Status> {
        T::decode(src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("undecodable otlp message: {e}")))
    }
}

impl<Req, Resp> Codec for OtlpCodec<Req, Resp>
where
    Req: Message + Default + Send + 'static,
    Resp: Message + Send + 'static,
{
    type Encode = Resp;
    type Decode = Req;
    type Encoder = OtlpEncoder<Resp>;
    type Decoder = OtlpDecoder<Req>;

    fn encoder(&mut self) -> Self::Encoder {
        OtlpEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        OtlpDecoder(PhantomData)
    }
}

/// The export method of a signal, once its request is admitted.
struct Export<S> {
    state: AppState,
    project: Option<String>,
    _signal: PhantomData<S>,
}

impl<S: Signal> UnaryService<S::Request> for Export<S> {
    type Response = S::Response;
    type Future = BoxFuture<Result<Response<S::Response>, Status>>;

    fn call(&mut self, request: Request<S::Request>) -> Self::Future {
        let (state, project) = (self.state.clone(), self.project.take());
        Box::pin(async move {
            S::ingest(state, request.into_inner(), project)
                .await
                .map(Response::new)
                .map_err(|e| e.to_grpc())
        })
    }
}

/// One OTLP gRPC service.
pub struct OtlpService<S> {
    state: AppState,
    _signal: PhantomData<S>,
}

impl<S> Clone for OtlpService<S> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            _signal: PhantomData,
        }
    }
}

impl<S: Signal> NamedService for OtlpService<S> {
    const NAME: &'static str = S::SERVICE;
}

/// A gRPC answer carrying only a status.
fn refuse(status: Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

impl<S: Signal> tower::Service<http::Request<tonic::body::Body>> for OtlpService<S> {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            if request.uri().path() != format!("/{}/Export", S::SERVICE) {
                return Ok(refuse(Status::unimplemented("no such method")));
            }
            if let Some(key) = &state.api_key {
                let given = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if !crate::bearer_matches(given, key) {
                    return Ok(refuse(ApiError::unauthorized().to_grpc()));
                }
            }
            let project = request
                .headers()
                .get(PROJECT_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (parts, body) = request.into_parts();
            // Framed and maybe gzip: the decoded message is held to the limit
            // by tonic below; the frame itself to the limit plus its header.
            let mut limits = state.body_limits();
            limits.max_bytes = limits.max_bytes.saturating_add(5);
            let received = match read_body(&parts.headers, body, &limits).await {
                Ok(received) => received,
                Err(e) => return Ok(refuse(e.to_grpc())),
            };
            let compressed = parts.headers.contains_key("grpc-encoding");
            let slot = processing_slot(
                &state.ingest_permits,
                received.bytes.len(),
                compressed,
                state.max_request_bytes,
            );
            let _slot = match slot.await {
                Ok(slot) => slot,
                Err(e) => return Ok(refuse(e.to_grpc())),
            };
            let limit = state.max_request_bytes;
            let mut grpc = Grpc::new(OtlpCodec::<S::Request, S::Response>(PhantomData))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit);
            let export = Export::<S> {
                state,
                project,
                _signal: PhantomData,
            };
            // The bytes move into tonic (which frees them once decoded); the
            // budget share stays held until the answer.
            let (bytes, _share) = received.into_parts();
            let request = http::Request::from_parts(parts, Full::new(bytes));
            Ok(grpc.unary(export, request).await)
        })
    }
}

/// The gRPC services: traces and logs.
pub fn services(state: AppState) -> (OtlpService<Traces>, OtlpService<Logs>) {
    (
        OtlpService {
            state: state.clone(),
            _signal: PhantomData,
        },
        OtlpService {
            state,
            _signal: PhantomData,
        },
    )
}
