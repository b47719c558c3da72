//! OTLP decoding: request bodies (protobuf or JSON, optionally gzip) to the
//! protobuf request type, then to validated [`SpanRecord`](crate::model::SpanRecord)s.
//!
//! Everything here is synchronous and CPU-bound; callers run it off the async
//! runtime (`spawn_blocking`).

pub mod json;
pub mod map;

use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// Why a request body could not be turned into spans.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The body is not a valid OTLP request.
    #[error("undecodable otlp body: {0}")]
    Decode(String),
    /// The body (or what it inflates to) is over the limit.
    #[error("request body over the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The content type is neither protobuf nor JSON.
    #[error("unsupported content type {0:?}: use application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    /// The content encoding is not gzip or identity.
    #[error("unsupported content encoding {0:?}: use gzip or identity")]
    UnsupportedEncoding(String),
}

/// The two OTLP/HTTP body encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// Reads the `Content-Type` header value (parameters such as charset ignored).
    pub fn from_content_type(value: &str) -> Result<Self, OtlpError> {
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            _ => Err(OtlpError::UnsupportedMediaType(value.to_owned())),
        }
    }
}

/// Inflates a gzip body, refusing to produce more than `limit` bytes so that a
/// small compressed bomb cannot take the memory.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, OtlpError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| OtlpError::Decode(format!("invalid gzip: {e}")))?;
    if out.len() > limit {
        return Err(OtlpError::TooLarge { limit });
    }
    Ok(out)
}

/// A decoded request and the spans dropped while decoding.
pub struct DecodedRequest {
    /// The request.
    pub request: ExportTraceServiceRequest,
    /// One reason per span dropped by the decoder.
    pub rejected: Vec<String>,
}

/// Decodes an uncompressed body.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<DecodedRequest, OtlpError> {
    match encoding {
        Encoding::Protobuf => {
            let request = ExportTraceServiceRequest::decode(body)
                .map_err(|e| OtlpError::Decode(format!("invalid protobuf: {e}")))?;
            Ok(DecodedRequest {
                request,
                rejected: Vec::new(),
            })
        }
        Encoding::Json => {
            let d = json::decode(body)?;
            Ok(DecodedRequest {
                request: d.request,
                rejected: d.rejected,
            })
        }
    }
}
