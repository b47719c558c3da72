//! OTLP decoding: request bodies (protobuf or JSON, optionally gzip) to the
//! protobuf request type, then to validated [`SpanRecord`](crate::model::SpanRecord)s.
//!
//! Everything here is synchronous and CPU-bound; callers run it off the async
//! runtime (`spawn_blocking`).

pub mod json;
pub mod logs;
pub mod map;

use std::io::Read;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
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

/// A decoded request and the items (spans, log records) dropped while
/// decoding.
pub struct DecodedRequest<R = ExportTraceServiceRequest> {
    /// The request.
    pub request: R,
    /// One reason per item dropped by the decoder.
    pub rejected: Vec<String>,
}

/// Decodes an uncompressed traces body.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<DecodedRequest, OtlpError> {
    match encoding {
        Encoding::Protobuf => Ok(DecodedRequest {
            request: ExportTraceServiceRequest::decode(body)
                .map_err(|e| OtlpError::Decode(format!("invalid protobuf: {e}")))?,
            rejected: Vec::new(),
        }),
        Encoding::Json => json::decode(body),
    }
}

/// Decodes an uncompressed logs body.
pub fn decode_logs(
    body: &[u8],
    encoding: Encoding,
) -> Result<DecodedRequest<ExportLogsServiceRequest>, OtlpError> {
    match encoding {
        Encoding::Protobuf => Ok(DecodedRequest {
            request: ExportLogsServiceRequest::decode(body)
                .map_err(|e| OtlpError::Decode(format!("invalid protobuf: {e}")))?,
            rejected: Vec::new(),
        }),
        Encoding::Json => json::decode_logs(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::PriceTable;

    /// A small deterministic generator (xorshift) so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/otlp/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// Decoding and mapping never panic on mutated real requests: bytes flipped,
    /// truncated, spliced. (A stand-in for a fuzzer that runs on stable.)
    #[test]
    fn mutated_requests_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let prices = PriceTable::default();
        for (name, encoding) in [
            ("otel-genai.pb", Encoding::Protobuf),
            ("openinference-chain-root.pb", Encoding::Protobuf),
            ("otel-genai.json", Encoding::Json),
            ("openinference-llm-root.json", Encoding::Json),
        ] {
            let original = fixture(name);
            for _ in 0..3000 {
                let mut body = original.clone();
                for _ in 0..=(rng.next() % 8) {
                    let at = (rng.next() as usize) % body.len();
                    match rng.next() % 4 {
                        0 => body[at] = rng.next() as u8,
                        1 => body.truncate(at.max(1)),
                        2 => body.insert(at, rng.next() as u8),
                        _ => {
                            let len = (rng.next() as usize) % 64;
                            let from = (rng.next() as usize) % body.len();
                            let chunk: Vec<u8> = body[from..(from + len).min(body.len())].to_vec();
                            body.splice(at..at, chunk);
                        }
                    }
                }
                if let Ok(decoded) = decode(&body, encoding) {
                    let mapped = map::map_request(decoded.request, None, &prices);
                    let mut spans = std::collections::HashMap::<_, Vec<_>>::new();
                    for r in mapped.records {
                        spans.entry(r.trace_id).or_default().push(r.facts);
                    }
                    for facts in spans.values() {
                        crate::turn::summarize(facts, &[]);
                    }
                }
                let _ = gunzip(&body, 1 << 20);
            }
        }
    }
}
