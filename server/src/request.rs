//! Reading requests within limits, the same way on every route and both
//! transports: the body (a size limit checked as it arrives, a time limit, a
//! share of the receiving budget, JSON by content type), a slot among the
//! requests being processed, and the query string (an unknown, repeated,
//! overlong or malformed parameter is a 400 naming it).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorCode};
use crate::model::parse_rfc3339;
use crate::store::PageQuery;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;
/// Longest accepted query parameter name or value, in bytes.
pub const MAX_PARAM_BYTES: usize = 1024;

/// The query string as the handlers receive it, raw: [`QueryParams`] parses
/// it strictly.
pub type Params = RawQuery;

/// Bytes of request bodies being received at once, across all clients and
/// both transports: a body takes its share chunk by chunk as it arrives, so a
/// slow or stalled upload holds only what it sent, and a flood of large bodies
/// is answered 503 instead of filling the memory.
pub const RECEIVING_BUDGET_BYTES: usize = 96 << 20;

/// How long a request waits for a slot among the exports being processed
/// before it is answered 503 (a short queue absorbs bursts).
pub const PROCESSING_WAIT: Duration = Duration::from_secs(1);

/// The limits a request body is read within.
#[derive(Clone)]
pub struct BodyLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Time allowed for the whole body to arrive.
    pub timeout: Duration,
    /// The receiving budget ([`RECEIVING_BUDGET_BYTES`]), shared by all
    /// requests; one permit per byte.
    pub budget: Arc<Semaphore>,
}

/// A body received whole, holding its share of the receiving budget until
/// dropped (its bytes are in memory until then).
pub struct ReceivedBody {
    /// The body.
    pub bytes: Bytes,
    share: Option<OwnedSemaphorePermit>,
}

/// A body's share of the receiving budget, held while what it decodes to is
/// processed after the bytes themselves are gone.
pub struct BudgetShare(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl ReceivedBody {
    /// The bytes, and the share to hold until the request is answered.
    pub fn into_parts(self) -> (Bytes, BudgetShare) {
        (self.bytes, BudgetShare(self.share))
    }
}

/// The body over the limit.
fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::BodyTooLarge,
        format!("request body over the limit of {limit} bytes"),
    )
}

/// Reads a whole body: refused at once when its declared length is over the
/// limit, and as soon as what arrived is; 408 when it takes longer than the
/// timeout; 503 when the receiving budget is spent (after reading the rest and
/// dropping it, so the client gets the answer instead of a reset connection).
pub async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limits: &BodyLimits,
) -> Result<ReceivedBody, ApiError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let limit = limits.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = std::pin::pin!(body);
    let collect = async {
        // The chunks as they came, joined once at the end: a body of unknown
        // length never takes twice its size while it grows.
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut len = 0usize;
        let mut share: Option<OwnedSemaphorePermit> = None;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| ApiError::invalid_body(format!("cannot read body: {e}")))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            if len + chunk.len() > limit {
                return Err(too_large(limit));
            }
            let more = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            match limits.budget.clone().try_acquire_many_owned(more) {
                Ok(permit) => match &mut share {
                    Some(held) => held.merge(permit),
                    None => share = Some(permit),
                },
                Err(_) => {
                    drop(share);
                    drain(&mut body, limit).await;
                    return Err(ApiError::unavailable(
                        "too many request bodies being received, retry later",
                    ));
                }
            }
            len += chunk.len();
            chunks.push(chunk);
        }
        let bytes = match chunks.len() {
            1 => chunks.pop().unwrap_or_default(),
            _ => {
                let mut joined = Vec::with_capacity(len);
                for chunk in chunks {
                    joined.extend_from_slice(&chunk);
                }
                Bytes::from(joined)
            }
        };
        Ok(ReceivedBody { bytes, share })
    };
    tokio::time::timeout(limits.timeout, collect)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::BodyTimeout,
                format!("body not received within {:?}", limits.timeout),
            )
        })?
}

/// Reads and drops what is left of a body (up to `limit` bytes; the caller's
/// timeout bounds the time), so that the answer reaches a client still
/// sending instead of a reset connection. Nothing is kept: it costs bandwidth,
/// not memory.
async fn drain<B>(body: &mut std::pin::Pin<&mut B>, limit: usize)
where
    B: http_body::Body<Data = Bytes>,
{
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(chunk) = frame.into_data() {
            seen += chunk.len();
            if seen > limit {
                break;
            }
        }
    }
}

/// A slot among the requests being processed (decoded, mapped, stored),
/// waited for at most [`PROCESSING_WAIT`], else 503.
pub async fn processing_slot(slots: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, ApiError> {
    tokio::time::timeout(PROCESSING_WAIT, slots.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::unavailable("too many concurrent exports, retry later"))
}

/// Reads a JSON body (`application/json`) into `T`.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limits: &BodyLimits,
) -> Result<T, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected application/json, got {content_type:?}"),
        ));
    }
    let received = read_body(headers, body, limits).await?;
    serde_json::from_slice(&received.bytes)
        .map_err(|e| ApiError::invalid_body(format!("invalid JSON body: {e}")))
}

/// A JSON body read into `T`; a value that does not fit is a 400 naming the
/// field at fault (`llm.base_url`, `labels.good`), `what` the kind of thing.
pub fn from_json_value<T: DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let error = ApiError::invalid_body(format!("invalid {what}: {at}: {}", e.inner()));
        if at == "." { error } else { error.at(at) }
    })
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: `+`
/// is a space, `%` must start two hex digits, the result must be UTF-8.
pub(crate) fn decode_component(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = tail.get(..2)?;
                let high = (hex[0] as char).to_digit(16)?;
                let low = (hex[1] as char).to_digit(16)?;
                bytes.push((high * 16 + low) as u8);
                rest = &tail[2..];
                continue;
            }
            _ => bytes.push(b),
        }
        rest = tail;
    }
    String::from_utf8(bytes).ok()
}

/// The query string's pairs; a malformed escape or invalid UTF-8 is a 400
/// naming the parameter.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = decode_component(key).ok_or_else(|| {
                ApiError::bad_parameter(
                    "query",
                    format!("malformed query string: {key:?} is not a valid parameter name"),
                )
            })?;
            let value = decode_component(value).ok_or_else(|| {
                ApiError::bad_parameter(
                    &key,
                    format!("parameter {key:?} is not valid percent-encoded UTF-8"),
                )
            })?;
            Ok((key, value))
        })
        .collect()
}

/// Checked access to query parameters.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Accepts only the `allowed` names (and `metadata.<key>` when
    /// `allow_metadata`), each at most once.
    pub fn new(params: Params, allowed: &[&str], allow_metadata: bool) -> Result<Self, ApiError> {
        let RawQuery(raw) = params;
        Self::from_pairs(
            parse_query(raw.as_deref().unwrap_or(""))?,
            allowed,
            allow_metadata,
        )
    }

    /// As [`QueryParams::new`], over pairs given another way (a JSON filter
    /// read as the query string it stands for).
    pub fn from_pairs(
        pairs: Vec<(String, String)>,
        allowed: &[&str],
        allow_metadata: bool,
    ) -> Result<Self, ApiError> {
        let mut seen = HashSet::new();
        for (k, v) in &pairs {
            let known = allowed.contains(&k.as_str())
                || (allow_metadata && k.starts_with("metadata.") && k.len() > 9);
            if !known {
                return Err(ApiError::bad_parameter(
                    k,
                    format!("unknown parameter {k:?}"),
                ));
            }
            if !seen.insert(k.as_str()) {
                return Err(ApiError::bad_parameter(
                    k,
                    format!("parameter {k:?} given more than once"),
                ));
            }
            if v.len() > MAX_PARAM_BYTES || k.len() > MAX_PARAM_BYTES {
                return Err(ApiError::bad_parameter(
                    k,
                    format!("parameter {k:?} is longer than {MAX_PARAM_BYTES} bytes"),
                ));
            }
        }
        Ok(Self { pairs })
    }

    /// Refuses any parameter.
    pub fn none(params: Params) -> Result<(), ApiError> {
        Self::new(params, &[], false).map(drop)
    }

    /// The raw value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `metadata.<key>` parameters as (key, value), sorted.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let mut metadata: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata.")
                    .map(|k| (k.to_owned(), v.clone()))
            })
            .collect();
        metadata.sort();
        metadata
    }

    /// A text parameter; empty is an error.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("") => Err(ApiError::bad_parameter(
                key,
                format!("{key} must not be empty"),
            )),
            Some(v) => Ok(Some(v.to_owned())),
        }
    }

    /// A `true`/`false` parameter.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_parameter(
                key,
                format!("{key} must be true or false"),
            )),
        }
    }

    /// An RFC 3339 time parameter, as Unix nanoseconds.
    pub fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_rfc3339(v).ok_or_else(|| {
                    ApiError::bad_parameter(
                        key,
                        format!("{key} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"),
                    )
                })
            })
            .transpose()
    }

    /// `limit` and `cursor`.
    pub fn page(&self) -> Result<PageQuery, ApiError> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_parameter(
                        "limit",
                        format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        Ok(PageQuery {
            limit,
            cursor: self.text("cursor")?,
        })
    }
}
