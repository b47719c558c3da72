//! Reading requests within limits, the same way on every route and both
//! transports: the body (a size limit checked as it arrives, a time limit, a
//! share of the receiving budget, JSON by content type), a slot among the
//! requests being processed, and the query string (an unknown, repeated,
//! overlong or malformed parameter is a 400 naming it).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
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

/// The body bytes one permit of the processing slots stands for: an export
/// takes a permit for each started unit of its body, so that many small
/// exports are processed at once (the writer writes them together, and
/// they mostly wait for its commit) where only a few large ones are.
pub const PROCESSING_UNIT_BYTES: usize = 64 << 10;

/// Permits of the processing slots: [`crate::MAX_CONCURRENT_EXPORTS`]
/// exports of the default largest size, or 1,024 of 64 kB or less.
pub const PROCESSING_PERMITS: usize = crate::MAX_CONCURRENT_EXPORTS
    * crate::config::DEFAULT_MAX_REQUEST_BYTES.div_ceil(PROCESSING_UNIT_BYTES);

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
    /// Buffers of bodies answered, for the next bodies to be joined into.
    pub buffers: Arc<BodyBuffers>,
}

/// Buffers kept for bodies that arrive in several chunks ([`read_body`] joins
/// them into one). The allocator gives a freed buffer of a few megabytes back
/// to the system within milliseconds, and a fresh one costs a page fault every
/// 4 kB as it is written: at history-heavy ingest that was a fifth of the
/// server's page faults. At most [`Self::KEPT`] buffers of at most
/// [`Self::KEPT_BYTES`] each are kept: what one ingest slot's body takes.
#[derive(Default)]
pub struct BodyBuffers {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BodyBuffers {
    /// Buffers kept: one for each export processed at once, and as many
    /// again for the bodies waiting for a slot.
    const KEPT: usize = 2 * crate::MAX_CONCURRENT_EXPORTS;
    /// Largest buffer kept: a larger body's buffer is freed (it is rare, and
    /// the kept buffers stay within 64 MB).
    const KEPT_BYTES: usize = 8 << 20;

    /// A kept buffer with room for `len` bytes, if the one taken has (a
    /// smaller one is freed: the buffer this body goes to is kept instead).
    fn kept(&self, len: usize) -> Option<Vec<u8>> {
        self.lock().pop().filter(|buffer| buffer.capacity() >= len)
    }

    /// Keeps `buffer` for a later body, if it is not too large and fewer than
    /// [`Self::KEPT`] are kept.
    fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() > Self::KEPT_BYTES {
            return;
        }
        let mut free = self.lock();
        if free.len() < Self::KEPT {
            buffer.clear();
            free.push(buffer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A list of empty buffers cannot be left inconsistent by a panic.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A joined body's buffer, given back to its [`BodyBuffers`] when the last
/// [`Bytes`] over it is dropped.
struct Joined {
    bytes: Vec<u8>,
    buffers: Arc<BodyBuffers>,
}

impl AsRef<[u8]> for Joined {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.buffers.give_back(std::mem::take(&mut self.bytes));
    }
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
        // A body of declared length that a kept buffer holds is copied into it
        // as it arrives (each chunk's memory goes back to the connection at
        // once). Any other is kept in the chunks as they came, joined once at
        // the end: a body of unknown length never takes twice its size while
        // it grows.
        let mut into = declared.and_then(|n| limits.buffers.kept(n as usize));
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
            match &mut into {
                Some(buffer) => buffer.extend_from_slice(&chunk),
                None => chunks.push(chunk),
            }
        }
        let joined = |bytes| {
            Bytes::from_owner(Joined {
                bytes,
                buffers: limits.buffers.clone(),
            })
        };
        let bytes = match (into, chunks.len()) {
            (Some(buffer), _) => joined(buffer),
            (None, 1) => chunks.pop().unwrap_or_default(),
            (None, _) => {
                let mut buffer = limits
                    .buffers
                    .kept(len)
                    .unwrap_or_else(|| Vec::with_capacity(len));
                for chunk in chunks {
                    buffer.extend_from_slice(&chunk);
                }
                joined(buffer)
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

/// A slot among the requests being processed (decoded, mapped, stored) for
/// a body of `received` bytes, waited for at most [`PROCESSING_WAIT`], else
/// 503: a `compressed` body counts as the most it may inflate to, `limit`. A
/// body larger than the slots' budget takes all of it: processed alone.
pub async fn processing_slot(
    slots: &Arc<Semaphore>,
    received: usize,
    compressed: bool,
    limit: usize,
) -> Result<OwnedSemaphorePermit, ApiError> {
    let decoded = if compressed { limit } else { received };
    let permits = decoded
        .div_ceil(PROCESSING_UNIT_BYTES)
        .clamp(1, PROCESSING_PERMITS);
    let permits = u32::try_from(permits).unwrap_or(u32::MAX);
    tokio::time::timeout(PROCESSING_WAIT, slots.clone().acquire_many_owned(permits))
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::Frame;

    use super::*;

    /// A body that arrives in the given chunks.
    struct Chunks(VecDeque<Bytes>);

    impl http_body::Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    fn body_of(parts: &[&[u8]]) -> Chunks {
        Chunks(parts.iter().map(|p| Bytes::copy_from_slice(p)).collect())
    }

    fn limits(buffers: &Arc<BodyBuffers>) -> BodyLimits {
        BodyLimits {
            max_bytes: 64 << 20,
            timeout: Duration::from_secs(5),
            budget: Arc::new(Semaphore::new(RECEIVING_BUDGET_BYTES)),
            buffers: buffers.clone(),
        }
    }

    async fn read(parts: &[&[u8]], limits: &BodyLimits) -> Bytes {
        read_with(HeaderMap::new(), parts, limits).await
    }

    async fn read_with(headers: HeaderMap, parts: &[&[u8]], limits: &BodyLimits) -> Bytes {
        read_body(&headers, body_of(parts), limits)
            .await
            .unwrap_or_else(|_| panic!("body refused"))
            .bytes
    }

    /// The headers of a body `len` bytes long.
    fn declaring(len: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, len.into());
        headers
    }

    #[tokio::test]
    async fn a_body_of_declared_length_goes_straight_into_a_kept_buffer() {
        let buffers = Arc::new(BodyBuffers::default());
        let limits = limits(&buffers);
        let first = read(&[b"a longer ", b"first body"], &limits).await;
        let first_buffer = first.as_ptr();
        drop(first);
        let parts: [&[u8]; 3] = [b"second", b" ", b"body"];
        let second = read_with(declaring(11), &parts, &limits).await;
        assert_eq!(second.as_ptr(), first_buffer);
        assert_eq!(&second[..], b"second body");
        drop(second);
        // A kept buffer too small for the declared length is not used.
        let parts: [&[u8]; 2] = [b"a third body, ", b"longer than both before"];
        let third = read_with(declaring(37), &parts, &limits).await;
        assert_ne!(third.as_ptr(), first_buffer);
        assert_eq!(&third[..], b"a third body, longer than both before");
    }

    #[tokio::test]
    async fn a_joined_bodys_buffer_serves_the_next_body_once_it_is_dropped() {
        let buffers = Arc::new(BodyBuffers::default());
        let limits = limits(&buffers);
        let first = read(&[b"alpha ", b"beta ", b"gamma"], &limits).await;
        assert_eq!(&first[..], b"alpha beta gamma");
        // While the first body lives, the second gets a buffer of its own.
        let second = read(&[b"one ", b"two"], &limits).await;
        assert_ne!(first.as_ptr(), second.as_ptr());
        assert_eq!(&first[..], b"alpha beta gamma");
        assert_eq!(&second[..], b"one two");
        let first_buffer = first.as_ptr();
        drop(first);
        drop(second);
        assert_eq!(buffers.lock().len(), 2);
        // The buffer given back last is taken first; the shorter body reads
        // back alone, nothing of the bodies before it.
        let third = read(&[b"x", b"y"], &limits).await;
        assert_eq!(&third[..], b"xy");
        let fourth = read(&[b"delta ", b"epsilon"], &limits).await;
        assert_eq!(fourth.as_ptr(), first_buffer);
        assert_eq!(&fourth[..], b"delta epsilon");
        assert!(buffers.lock().is_empty());
    }

    #[tokio::test]
    async fn buffers_kept_are_bounded_in_number_and_size() {
        let buffers = Arc::new(BodyBuffers::default());
        let limits = limits(&buffers);
        let large = vec![7u8; BodyBuffers::KEPT_BYTES / 2 + 1];
        let body = read(&[&large, &large], &limits).await;
        assert_eq!(body.len(), large.len() * 2);
        drop(body);
        assert!(buffers.lock().is_empty(), "a buffer over the size kept");
        let mut bodies = Vec::new();
        for _ in 0..BodyBuffers::KEPT + 3 {
            bodies.push(read(&[b"a", b"b"], &limits).await);
        }
        drop(bodies);
        assert_eq!(buffers.lock().len(), BodyBuffers::KEPT);
    }
}
