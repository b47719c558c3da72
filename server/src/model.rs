//! The server's own data model: a span as stored (with the facts derived from its
//! attributes at ingest), the per-trace summary, and the shapes the API returns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A validated span ready to store, with the facts the read side needs already
/// pulled out of its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// Project the span was sent to.
    pub project: String,
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// Parent span id; `None` for a root.
    pub parent_span_id: Option<[u8; 8]>,
    /// Span name.
    pub name: String,
    /// OTLP span kind.
    pub kind: SpanKind,
    /// Start, Unix nanoseconds.
    pub start_ns: i64,
    /// End, Unix nanoseconds.
    pub end_ns: i64,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    /// OTLP status message.
    pub status_message: String,
    /// Attributes as a flat JSON object.
    pub attributes: Map<String, Value>,
    /// Events: `{name, time, attributes}`.
    pub events: Vec<Value>,
    /// What ingest derived from the attributes.
    pub facts: SpanFacts,
}

/// Facts derived from one span's attributes, the inputs of the per-trace rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanFacts {
    /// Span id (repeated here so the trace rules need nothing else).
    pub span_id: [u8; 8],
    /// Parent span id.
    pub parent_span_id: Option<[u8; 8]>,
    /// Start, Unix nanoseconds.
    pub start_ns: i64,
    /// End, Unix nanoseconds.
    pub end_ns: i64,
    /// OTLP status code.
    pub status_code: i32,
    /// Session id this span carries, if any.
    pub session_id: Option<String>,
    /// User id this span carries, if any.
    pub user_id: Option<String>,
    /// OpenInference span kind, upper case.
    pub oi_kind: Option<String>,
    /// Whether this span is a model call whose token counts are leaves.
    pub is_llm: bool,
    /// `input.value`.
    pub input_value: Option<String>,
    /// `input.mime_type`.
    pub input_mime: Option<String>,
    /// `output.value`.
    pub output_value: Option<String>,
    /// `output.mime_type`.
    pub output_mime: Option<String>,
    /// What the user said, as this span tells it: the last user message of a
    /// model call's input messages, or read out of a chain's or agent's JSON
    /// input ([`crate::messages`]).
    pub user_text: Option<String>,
    /// What the assistant answered, as this span tells it: a model call's
    /// reply, or read out of a chain's or agent's JSON output.
    pub reply_text: Option<String>,
    /// Token counts of this span (LLM spans only).
    pub tokens: TokenCount,
    /// Cost of this span (LLM spans only), reported or priced.
    pub cost: Cost,
    /// `tag.tags`.
    pub tags: Vec<String>,
    /// `metadata`, when it is a JSON object.
    pub metadata: Map<String, Value>,
}

/// A GenAI event (an OTLP log record of a span, such as `gen_ai.user.message`
/// or `gen_ai.choice`) ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Project the event was sent to.
    pub project: String,
    /// The trace of the span it belongs to.
    pub trace_id: [u8; 16],
    /// What the trace rules read from it (its span id and order included).
    pub facts: EventFacts,
    /// Event name (`gen_ai.user.message`, ...).
    pub name: String,
    /// The log record's attributes.
    pub attributes: Map<String, Value>,
    /// The log record's body.
    pub body: Value,
    /// Identifies the event among its span's: a re-sent event is stored once.
    pub digest: i64,
}

/// What one event tells the trace rules about its span's model call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFacts {
    /// The span the event belongs to.
    pub span_id: [u8; 8],
    /// When it happened, Unix nanoseconds.
    pub time_ns: i64,
    /// Its place in the export that carried it (orders events of one instant).
    pub seq: i64,
    /// A user message's text (`gen_ai.user.message`, or the last user message
    /// of an operation's input messages).
    pub user_message: Option<String>,
    /// The model's reply (`gen_ai.choice`, or an operation's output messages).
    pub reply: Option<String>,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenCount {
    /// Prompt (input) tokens.
    pub prompt: i64,
    /// Completion (output) tokens.
    pub completion: i64,
    /// Total tokens.
    pub total: i64,
}

impl TokenCount {
    /// Adds another count into this one, saturating: a sum never wraps.
    pub fn add(&mut self, other: &TokenCount) {
        self.prompt = self.prompt.saturating_add(other.prompt);
        self.completion = self.completion.saturating_add(other.completion);
        self.total = self.total.saturating_add(other.total);
    }
}

/// Cost in US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cost {
    /// Prompt cost.
    pub prompt: f64,
    /// Completion cost.
    pub completion: f64,
    /// Total cost.
    pub total: f64,
}

impl Cost {
    /// Adds another cost into this one.
    pub fn add(&mut self, other: &Cost) {
        self.prompt += other.prompt;
        self.completion += other.completion;
        self.total += other.total;
    }
}

/// A turn's input or output as shown to a reader.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Io {
    /// What the user typed or was answered.
    pub value: String,
    /// Mime type of `value`.
    pub mime_type: String,
    /// The span's raw `input.value`/`output.value` when `value` was read out of
    /// an LLM call's messages instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_value: Option<String>,
}

/// What the trace rules derive from all spans of one trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceSummary {
    /// Earliest span start.
    pub start_ns: i64,
    /// Latest span end.
    pub end_ns: i64,
    /// Number of spans.
    pub span_count: i64,
    /// Whether any span has status error.
    pub has_error: bool,
    /// The session the trace belongs to.
    pub session_id: Option<String>,
    /// Other session ids seen on the trace's spans, kept visible.
    pub session_conflicts: Vec<String>,
    /// The user the trace belongs to.
    pub user_id: Option<String>,
    /// The root span, when it has arrived.
    pub root_span_id: Option<[u8; 8]>,
    /// Turn input.
    pub input: Option<Io>,
    /// Turn output.
    pub output: Option<Io>,
    /// Sum over the trace's LLM spans.
    pub tokens: TokenCount,
    /// Sum over the trace's LLM spans.
    pub cost: Cost,
    /// Union of tags.
    pub tags: Vec<String>,
    /// Merged metadata, the topmost span's value winning per key.
    pub metadata: Map<String, Value>,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Opaque cursor of the next page, `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A project in `GET /v1/projects`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ProjectInfo {
    /// The project's stable opaque id, accepted wherever a project name is
    /// ([`crate::ids`]).
    pub id: String,
    /// Project name.
    pub name: String,
    /// What the project is, when someone said so.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Number of traces.
    pub trace_count: i64,
    /// Number of sessions.
    pub session_count: i64,
    /// End of the latest trace, RFC 3339.
    #[schema(required = true)]
    pub last_activity: Option<String>,
    /// Traces that carry no session id (listed by the traces API with
    /// `has_session=false`).
    pub traces_without_session: i64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// A session, as listed and as detailed.
///
/// `id`, `project_id`, `traces` and the flat `token_count_*` are Phoenix's
/// names for what the other fields also say, so Phoenix's clients read the
/// same answer.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The session's opaque id, unique across projects ([`crate::ids`]).
    pub id: String,
    /// The session id the app sent.
    pub session_id: String,
    /// Project name.
    pub project: String,
    /// The project's opaque id.
    pub project_id: String,
    /// Earliest trace start, RFC 3339.
    pub start_time: String,
    /// Latest trace end, RFC 3339.
    pub end_time: String,
    /// `end_time - start_time`.
    pub duration_ms: f64,
    /// Number of traces (turns).
    pub num_traces: i64,
    /// Number of traces with an error span.
    pub num_traces_with_error: i64,
    /// Distinct user ids, in order of first appearance.
    pub user_ids: Vec<String>,
    /// Union of tags.
    pub tags: Vec<String>,
    /// Merged metadata.
    pub metadata: Map<String, Value>,
    /// Input of the first turn.
    #[schema(required = true)]
    pub first_input: Option<Io>,
    /// Output of the last turn.
    #[schema(required = true)]
    pub last_output: Option<Io>,
    /// Token sums.
    pub token_count: TokenCount,
    /// `token_count.prompt`, under Phoenix's name.
    pub token_count_prompt: i64,
    /// `token_count.completion`, under Phoenix's name.
    pub token_count_completion: i64,
    /// `token_count.total`, under Phoenix's name.
    pub token_count_total: i64,
    /// Cost sums.
    pub cost: Cost,
    /// Turn latency percentiles.
    pub latency_ms: Latency,
    /// The session's traces in time order (its turns, in brief).
    pub traces: Vec<SessionTrace>,
    /// The session's annotations, summarized by name (notes left out).
    pub annotations: Vec<crate::annotation::AnnotationSummary>,
    /// When its last trace arrived at the server, RFC 3339.
    pub last_activity: String,
    /// `active` until no trace arrived for the project's idle period.
    pub status: SessionStatus,
    /// `last_activity` in Unix ns (what an evaluation of the session judges).
    #[serde(skip)]
    #[schema(ignore)]
    pub last_activity_ns: i64,
}

/// Whether a session is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// A trace arrived within the idle period.
    Active,
    /// No trace arrived for the idle period: the conversation is over, for now.
    Idle,
}

impl SessionStatus {
    /// The query-parameter name.
    pub fn name(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Idle => "idle",
        }
    }

    /// Parses a query-parameter value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(SessionStatus::Active),
            "idle" => Some(SessionStatus::Idle),
            _ => None,
        }
    }
}

/// A trace of a session, in brief (Phoenix's `SessionTraceData`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SessionTrace {
    /// The trace's opaque id.
    pub id: String,
    /// Hex trace id.
    pub trace_id: String,
    /// Trace start, RFC 3339.
    pub start_time: String,
    /// Trace end, RFC 3339.
    pub end_time: String,
}

/// A turn: one trace of a session, read as a conversation step.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Turn {
    /// Hex trace id.
    pub trace_id: String,
    /// Trace start, RFC 3339.
    pub start_time: String,
    /// Trace end, RFC 3339.
    pub end_time: String,
    /// `end_time - start_time`.
    pub latency_ms: f64,
    /// `error` when any span errored.
    pub status: TraceStatus,
    /// The trace's user.
    #[schema(required = true)]
    pub user_id: Option<String>,
    /// What the user said.
    #[schema(required = true)]
    pub input: Option<Io>,
    /// What the app answered.
    #[schema(required = true)]
    pub output: Option<Io>,
    /// Token sums over the trace's LLM spans.
    pub token_count: TokenCount,
    /// Cost sums over the trace's LLM spans.
    pub cost: Cost,
    /// Number of spans.
    pub span_count: i64,
    /// Other session ids seen on this trace's spans.
    pub session_conflicts: Vec<String>,
}

impl From<TraceInfo> for Turn {
    fn from(t: TraceInfo) -> Self {
        Turn {
            trace_id: t.trace_id,
            start_time: t.start_time,
            end_time: t.end_time,
            latency_ms: t.latency_ms,
            status: t.status,
            user_id: t.user_id,
            input: t.input,
            output: t.output,
            token_count: t.token_count,
            cost: t.cost,
            span_count: t.span_count,
            session_conflicts: t.session_conflicts,
        }
    }
}

/// A trace in a list.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TraceInfo {
    /// The trace's opaque id.
    pub id: String,
    /// Hex trace id.
    pub trace_id: String,
    /// Project name.
    pub project: String,
    /// The project's opaque id.
    pub project_id: String,
    /// The session the trace belongs to.
    #[schema(required = true)]
    pub session_id: Option<String>,
    /// Other session ids seen on the trace's spans.
    pub session_conflicts: Vec<String>,
    /// Trace start, RFC 3339.
    pub start_time: String,
    /// Trace end, RFC 3339.
    pub end_time: String,
    /// `end_time - start_time`.
    pub latency_ms: f64,
    /// `error` when any span errored.
    pub status: TraceStatus,
    /// The trace's user.
    #[schema(required = true)]
    pub user_id: Option<String>,
    /// Hex id of the root span, when it has arrived.
    #[schema(required = true)]
    pub root_span_id: Option<String>,
    /// Turn input.
    #[schema(required = true)]
    pub input: Option<Io>,
    /// Turn output.
    #[schema(required = true)]
    pub output: Option<Io>,
    /// Token sums.
    pub token_count: TokenCount,
    /// `token_count.prompt`, under Phoenix's name.
    pub token_count_prompt: i64,
    /// `token_count.completion`, under Phoenix's name.
    pub token_count_completion: i64,
    /// `token_count.total`, under Phoenix's name.
    pub token_count_total: i64,
    /// Cost sums.
    pub cost: Cost,
    /// Number of spans.
    pub span_count: i64,
}

/// A trace in the trace list: its fields, and its spans in brief when asked
/// for (`include_spans=true`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TraceRow {
    /// The trace.
    #[serde(flatten)]
    pub trace: TraceInfo,
    /// Its spans by start time, with `include_spans=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<TraceSpan>>,
}

/// A span in brief (Phoenix's `TraceSpanData`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TraceSpan {
    /// The span's opaque id.
    pub id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id.
    #[schema(required = true)]
    pub parent_id: Option<String>,
    /// Span name.
    pub name: String,
    /// OpenInference span kind (`LLM`, `CHAIN`, ...), `UNKNOWN` when none.
    pub span_kind: String,
    /// `OK`, `ERROR` or `UNSET`.
    pub status_code: String,
    /// Start, RFC 3339.
    pub start_time: String,
    /// End, RFC 3339.
    pub end_time: String,
}

/// A span with its trace, as the span search returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSpan {
    /// Hex trace id.
    pub trace_id: String,
    /// The span.
    pub span: SpanInfo,
}

/// A span in the span search (Phoenix's `Span`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SpanRow {
    /// The span's opaque id.
    pub id: String,
    /// Span name.
    pub name: String,
    /// Its trace and span ids.
    pub context: SpanContext,
    /// OpenInference span kind (`LLM`, `CHAIN`, ...), `UNKNOWN` when none.
    pub span_kind: String,
    /// Hex parent span id.
    #[schema(required = true)]
    pub parent_id: Option<String>,
    /// Start, RFC 3339.
    pub start_time: String,
    /// End, RFC 3339.
    pub end_time: String,
    /// `OK`, `ERROR` or `UNSET`.
    pub status_code: String,
    /// Status message.
    pub status_message: String,
    /// Attributes, `openinference.span.kind` left out (it is `span_kind`).
    pub attributes: Map<String, Value>,
    /// Events.
    pub events: Vec<SpanRowEvent>,
}

/// A span's trace and span ids.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SpanContext {
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
}

/// An event of a [`SpanRow`].
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SpanRowEvent {
    /// Event name.
    pub name: String,
    /// When, RFC 3339.
    pub timestamp: String,
    /// The event's attributes.
    pub attributes: Map<String, Value>,
}

/// A span as the trace detail shows it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SpanInfo {
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id.
    #[schema(required = true)]
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// OTLP span kind.
    pub kind: SpanKind,
    /// The span's status.
    pub status: SpanStatus,
    /// Status message.
    pub status_message: String,
    /// Start, RFC 3339.
    pub start_time: String,
    /// End, RFC 3339.
    pub end_time: String,
    /// Attributes.
    pub attributes: Map<String, Value>,
    /// Events, as ingest writes them ([`SpanEvent`]).
    #[schema(value_type = Vec<SpanEvent>)]
    pub events: Vec<Value>,
    /// What the span is as a step of its turn (a model call, a tool call, a
    /// retrieval, ...), whichever convention it follows; `null` for spans that
    /// are none.
    #[schema(required = true)]
    pub step: Option<crate::steps::Step>,
}

/// A span event as ingest stores it (the shape of [`SpanInfo::events`]).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SpanEvent {
    /// Event name (`exception`, `gen_ai.choice`, ...).
    pub name: String,
    /// When, RFC 3339.
    pub time: String,
    /// The event's attributes.
    pub attributes: Map<String, Value>,
    /// The body of an event that arrived as an OTLP log record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A trace with its spans.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TraceDetail {
    /// The trace's summary fields.
    #[serde(flatten)]
    pub trace: TraceInfo,
    /// Every span, ordered by start time.
    pub spans: Vec<SpanInfo>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct HealthInfo {
    /// `ok`, or `failing` when the store does not read, write, or pass its
    /// integrity check.
    pub status: String,
    /// Whether this server was built with the web UI embedded.
    pub ui: bool,
    /// The server's version and the commit it was built from, as
    /// `oi-sessions --version` prints them: `0.1.0 (97a6362 2026-12-01)`.
    pub version: String,
    /// What the store says of itself.
    pub store: crate::store::StoreHealth,
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses lowercase or uppercase hex; `None` when not hex or odd length.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// Formats Unix nanoseconds as RFC 3339 UTC.
pub fn rfc3339(ns: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64);
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Parses an RFC 3339 time into Unix nanoseconds: `Z`, a numeric offset
/// (`+02:00`, as Python's `isoformat()` writes), or none (UTC, as Phoenix reads
/// a time without one).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (local, offset_s) = split_offset(s)?;
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_nanos())
        .ok()?
        .checked_sub(offset_s.checked_mul(1_000_000_000)?)
}

/// The time without its numeric offset, and the offset in seconds east of UTC.
fn split_offset(s: &str) -> Option<(&str, i64)> {
    // an offset follows the time of day: `...T12:00:00+02:00`, `...+0200`
    let at = s
        .rfind(['+', '-'])
        .filter(|&i| i > 10 && s[..i].contains(':'));
    let Some(at) = at else {
        return Some((s, 0));
    };
    let digits: String = s[at + 1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let sign = if s.as_bytes()[at] == b'-' { -1 } else { 1 };
    Some((&s[..at], sign * (h * 3600 + m * 60)))
}

/// A span's OTLP kind, stored and shown by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SpanKind {
    /// Not given (OTLP 0).
    Unspecified,
    /// Internal (OTLP 1).
    Internal,
    /// Server (OTLP 2).
    Server,
    /// Client (OTLP 3).
    Client,
    /// Producer (OTLP 4).
    Producer,
    /// Consumer (OTLP 5).
    Consumer,
}

impl SpanKind {
    const ALL: [(SpanKind, &'static str); 6] = [
        (SpanKind::Unspecified, "UNSPECIFIED"),
        (SpanKind::Internal, "INTERNAL"),
        (SpanKind::Server, "SERVER"),
        (SpanKind::Client, "CLIENT"),
        (SpanKind::Producer, "PRODUCER"),
        (SpanKind::Consumer, "CONSUMER"),
    ];

    /// The kind of an OTLP kind number (unknown numbers read as unspecified).
    pub fn from_otlp(kind: i32) -> Self {
        usize::try_from(kind)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .map_or(SpanKind::Unspecified, |(k, _)| *k)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("UNSPECIFIED", |(_, n)| n)
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }
}

/// A span's OTLP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    /// Not set (OTLP code 0).
    Unset,
    /// Ok (OTLP code 1).
    Ok,
    /// Error (OTLP code 2).
    Error,
}

impl SpanStatus {
    /// Every status with its upper-case name (Phoenix's `status_code`).
    pub const UPPER: [(SpanStatus, &'static str); 3] = [
        (SpanStatus::Unset, "UNSET"),
        (SpanStatus::Ok, "OK"),
        (SpanStatus::Error, "ERROR"),
    ];

    /// The status of an OTLP status code (unknown codes read as unset).
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// The OTLP status code.
    pub fn code(self) -> i64 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error => 2,
        }
    }

    /// The upper-case name (`OK`, `ERROR`, `UNSET`).
    pub fn upper_name(self) -> &'static str {
        Self::UPPER
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("UNSET", |(_, n)| n)
    }
}

/// A trace's (a turn's) status: `error` when any of its spans errored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceStatus {
    /// No span errored.
    Ok,
    /// A span errored.
    Error,
}

impl TraceStatus {
    /// The status of a trace with or without an errored span.
    pub fn of(has_error: bool) -> Self {
        if has_error { Self::Error } else { Self::Ok }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00AB10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn rfc3339_round_trip() {
        let ns = 1_795_615_864_481_083_091;
        let s = rfc3339(ns);
        assert_eq!(s, "2026-11-25T14:11:04.481083091Z");
        assert_eq!(parse_rfc3339(&s), Some(ns));
        assert_eq!(
            parse_rfc3339("2026-11-25T14:11:04Z"),
            Some(1_795_615_864_000_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        // offsets, as Python's isoformat() writes them, and none (UTC)
        assert_eq!(
            parse_rfc3339("2026-11-25T16:11:04.481083091+02:00"),
            Some(ns)
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T09:11:04.481083091-0500"),
            Some(ns)
        );
        assert_eq!(parse_rfc3339("2026-11-25T14:11:04.481083091"), Some(ns));
        assert_eq!(
            parse_rfc3339("2026-11-25T14:11:04.481083091+00:00"),
            Some(ns)
        );
        assert_eq!(parse_rfc3339("2026-11-25T14:11:04+25:00"), None);
        assert_eq!(parse_rfc3339("2026-11-25T14:11:04+2:00"), None);
    }
}
