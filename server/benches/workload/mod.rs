//! The synthetic chat workloads and the measuring helpers shared by the
//! server's benchmarks (`ingest.rs` on SQLite, `ingest_postgres.rs` on
//! PostgreSQL, ...): sessions of 10 turns (`BENCH_TURNS`), 3 spans a turn, LLM spans carrying
//! the growing conversation, as OTLP/HTTP protobuf bodies; a minimal HTTP
//! client; read latency percentiles; this process's CPU time and peak RSS.
//!
//! Two workloads, chosen by `BENCH_WORKLOAD`:
//! - `light` (the default, about 1.7 kB of OTLP a span): the LLM span carries
//!   the conversation so far as `llm.input_messages.*`;
//! - `history` (about 5.7 kB a span, the shape of real traffic): the LLM span
//!   also carries a long system prompt and the retrieved documents, and the
//!   whole request and response again as JSON in `input.value` and
//!   `output.value`, the way OpenAI's instrumentation records them; the
//!   retriever span carries its documents.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Turns a session has: `BENCH_TURNS`, 10 by default.
pub fn turns() -> usize {
    std::env::var("BENCH_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(10)
}
/// 17 sessions x 10 turns x 3 spans = 510 spans a request (the SDK's batch is 512).
pub const SESSIONS_PER_REQUEST: usize = 17;

/// The sessions a client sends together ([`send_all`]'s `group`): a
/// request's by session, ten requests' by turn (turn t of all of them, then
/// turn t + 1).
pub fn sessions_a_group(by_turn: bool) -> usize {
    if by_turn {
        SESSIONS_PER_REQUEST * turns()
    } else {
        SESSIONS_PER_REQUEST
    }
}

/// Spans a request carries (the last of a range may carry fewer), whatever
/// the sessions' turns: `BENCH_SPANS_PER_REQUEST`, by default 510 (an SDK
/// batch processor's 512, rounded to whole turns). `1` is what a simple span
/// processor sends (Phoenix's `register()` default): each span in a request
/// of its own as it ends.
pub fn spans_per_request() -> usize {
    std::env::var("BENCH_SPANS_PER_REQUEST")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(SESSIONS_PER_REQUEST * 10 * 3)
}

/// `tag.tags`: a list of strings.
fn tags(tags: &[&str]) -> KeyValue {
    let values = tags
        .iter()
        .map(|t| AnyValue {
            value: Some(any_value::Value::StringValue((*t).into())),
        })
        .collect();
    KeyValue {
        key: "tag.tags".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        }),
        ..Default::default()
    }
}

pub fn kv(k: &str, v: impl Into<String>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub fn ki(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

pub const WORDS: &[&str] = &[
    "invoice", "parcel", "refund", "account", "password", "delivery", "address", "order",
    "billing", "support", "please", "could", "you", "check", "the", "status", "of", "my", "recent",
    "payment", "thanks", "again",
];

/// Whether `BENCH_RANDOM_IDS=1` asks for random-looking trace and span ids,
/// as OpenTelemetry SDKs make them. By default they count up, which keeps the
/// spans' and traces' id indexes appending (comparable with every earlier
/// figure); random ids scatter those inserts over the whole index.
pub fn random_ids() -> bool {
    std::env::var("BENCH_RANDOM_IDS").is_ok_and(|v| v == "1")
}

/// SplitMix64: a fixed, well-mixed permutation of `u64`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The trace id of turn `n` (session `n / turns()`, turn `n % turns()`).
pub fn trace_id(n: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    if random_ids() {
        id[..8].copy_from_slice(&mix(n).to_be_bytes());
        id[8..].copy_from_slice(&mix(!n).to_be_bytes());
    } else {
        id[..8].copy_from_slice(&(n + 1).to_be_bytes());
        id[8] = 1;
    }
    id
}

/// The id of span `k` (1 to 3) of turn `n`.
pub fn span_id(n: u64, k: u8) -> [u8; 8] {
    if random_ids() {
        mix(n.wrapping_mul(4) + u64::from(k)).to_be_bytes()
    } else {
        let mut id = [k; 8];
        id[..4].copy_from_slice(&(n as u32 + 1).to_be_bytes());
        id
    }
}

/// The hex trace id of the first turn of `session`, for reading it back.
pub fn first_trace_hex(session: usize) -> String {
    trace_id((session * turns()) as u64)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `BENCH_WORKLOAD=history` asks for the history-heavy workload.
pub fn history_heavy() -> bool {
    match std::env::var("BENCH_WORKLOAD").as_deref() {
        Ok("history") => true,
        Ok("light") | Err(_) => false,
        Ok(other) => panic!("BENCH_WORKLOAD={other}: light or history"),
    }
}

/// Whether `BENCH_ORDER=split` (or `turn,split`) asks for every trace in two requests: a
/// request's traces without their roots, then their roots in the next one,
/// as an SDK exports spans as they end when a batch closes mid-turn. Each
/// root then joins a trace stored before: the store summarizes it anew from
/// the spans it holds (the worst case of traces split across exports).
pub fn split_traces() -> bool {
    ordered_by("split")
}

/// Whether `BENCH_ORDER=ended` (in a list: `turn,ended`) asks for each
/// trace's spans in the order they end, the root last, as an SDK exports
/// them; by default the root comes first.
pub fn ended_order() -> bool {
    ordered_by("ended")
}

/// Whether `BENCH_ORDER` (a comma-separated list: `turn`, `split`) holds
/// `order`.
pub fn ordered_by(order: &str) -> bool {
    std::env::var("BENCH_ORDER").is_ok_and(|v| v.split(',').any(|o| o.trim() == order))
}

/// How the requests hold the workload's spans, for the benchmarks' reports.
pub fn order_name(by_turn: bool) -> String {
    let mut name = String::from(if by_turn { "turn" } else { "session" });
    if split_traces() {
        name.push_str(", each trace in two requests");
    }
    if ended_order() {
        name.push_str(", each trace's spans as they end");
    }
    name + &format!(", {} spans a request", spans_per_request())
}

/// The workload's name, for the benchmarks' reports.
pub fn workload_name() -> &'static str {
    if history_heavy() {
        "history-heavy"
    } else {
        "light"
    }
}

/// The history-heavy workload's system prompt: the same in every session.
fn system_prompt() -> String {
    format!(
        "You are the support assistant of an online shop. Answer in the customer's language, \
         politely and briefly. Policies: {}",
        (0..12)
            .map(|i| sentence(0x5157 + i, 22))
            .collect::<Vec<_>>()
            .join(". ")
    )
}

/// Document `i` of the history-heavy workload's knowledge base (500 of them).
fn document(i: u64) -> String {
    format!("Article {i}: {}", sentence(0xd0c + i, 75))
}

pub fn sentence(seed: u64, words: usize) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..words)
        .map(|_| {
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51afd7ed558ccd);
            WORDS[(x % WORDS.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The requests for a range of sessions: by session (each session's turns
/// together) or by turn (turn t of every session in the range together, the way
/// an exporter batches concurrent conversations by time).
pub fn workload(sessions: std::ops::Range<usize>, by_turn: bool) -> (Vec<Vec<u8>>, usize, usize) {
    let base: u64 = 1_790_000_000_000_000_000;
    let heavy = history_heavy();
    let system = system_prompt();
    let mut spans: Vec<(usize, Span)> = Vec::new();
    for s in sessions {
        let mut history: Vec<(String, String)> = Vec::new();
        for t in 0..turns() {
            let n = (s * turns() + t) as u64;
            let trace_id = trace_id(n);
            let start = base + n * 1_000_000_000;
            let question = sentence(n, 25);
            let answer = sentence(n ^ 0xabc, 60);
            let id = |k: u8| span_id(n, k).to_vec();
            let first_of_turn = spans.len();
            let mut llm_attrs = vec![
                kv("openinference.span.kind", "LLM"),
                kv("llm.model_name", "gpt-4o-mini"),
                ki("llm.token_count.prompt", 50 * (t as i64 + 1)),
                ki("llm.token_count.completion", 60),
                kv("session.id", format!("session-{s}")),
            ];
            history.push(("user".into(), question.clone()));
            // history-heavy: three documents retrieved for the question, sent
            // to the model in the system message, then the whole request
            // and response again as JSON
            let documents: Vec<String> = (0..3).map(|d| document((n * 3 + d) % 500)).collect();
            let mut messages: Vec<(String, String)> = Vec::new();
            if heavy {
                messages.push((
                    "system".into(),
                    format!("{system}\n\nContext:\n{}", documents.join("\n")),
                ));
            }
            messages.extend(history.iter().cloned());
            if heavy {
                let request = serde_json::json!({
                    "model": "gpt-4o-mini",
                    "temperature": 0.2,
                    "messages": messages.iter().map(|(role, content)| serde_json::json!({"role": role, "content": content})).collect::<Vec<_>>(),
                });
                let response = serde_json::json!({
                    "id": format!("chatcmpl-{n}"),
                    "object": "chat.completion",
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 50 * (t + 1), "completion_tokens": 60, "total_tokens": 50 * (t + 1) + 60},
                });
                llm_attrs.push(kv("input.value", request.to_string()));
                llm_attrs.push(kv("input.mime_type", "application/json"));
                llm_attrs.push(kv("output.value", response.to_string()));
                llm_attrs.push(kv("output.mime_type", "application/json"));
                llm_attrs.push(kv("llm.invocation_parameters", r#"{"temperature": 0.2}"#));
            }
            for (i, (role, content)) in messages.iter().enumerate() {
                llm_attrs.push(kv(
                    &format!("llm.input_messages.{i}.message.role"),
                    role.clone(),
                ));
                llm_attrs.push(kv(
                    &format!("llm.input_messages.{i}.message.content"),
                    content.clone(),
                ));
            }
            llm_attrs.push(kv("llm.output_messages.0.message.role", "assistant"));
            llm_attrs.push(kv("llm.output_messages.0.message.content", answer.clone()));
            history.push(("assistant".into(), answer.clone()));
            spans.push((
                t,
                Span {
                    trace_id: trace_id.to_vec(),
                    span_id: id(1),
                    name: "chat-turn".into(),
                    kind: 2,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 900_000_000,
                    attributes: vec![
                        kv("openinference.span.kind", "CHAIN"),
                        kv("session.id", format!("session-{s}")),
                        kv("user.id", format!("user-{}", s % 97)),
                        // What apps attach to a turn: filters read it.
                        kv(
                            "metadata",
                            format!(
                                r#"{{"plan": "{}", "app_version": "2.3.{}"}}"#,
                                ["free", "team", "pro"][s % 3],
                                s % 7
                            ),
                        ),
                        tags(if s % 10 == 0 {
                            &["support", "vip"]
                        } else {
                            &["support"]
                        }),
                        kv("input.value", question),
                        kv("output.value", answer),
                    ],
                    ..Default::default()
                },
            ));
            spans.push((
                t,
                Span {
                    trace_id: trace_id.to_vec(),
                    span_id: id(2),
                    parent_span_id: id(1),
                    name: "retrieve".into(),
                    kind: 1,
                    start_time_unix_nano: start + 10_000_000,
                    end_time_unix_nano: start + 90_000_000,
                    attributes: {
                        let mut attributes = vec![
                            kv("openinference.span.kind", "RETRIEVER"),
                            kv("input.value", sentence(n + 7, 10)),
                        ];
                        if heavy {
                            for (d, content) in documents.iter().enumerate() {
                                let key = format!("retrieval.documents.{d}.document");
                                attributes.push(kv(
                                    &format!("{key}.id"),
                                    format!("kb-{}", (n * 3 + d as u64) % 500),
                                ));
                                attributes.push(kv(&format!("{key}.content"), content.clone()));
                            }
                        }
                        attributes
                    },
                    ..Default::default()
                },
            ));
            spans.push((
                t,
                Span {
                    trace_id: trace_id.to_vec(),
                    span_id: id(3),
                    parent_span_id: id(1),
                    name: "ChatCompletion".into(),
                    kind: 3,
                    start_time_unix_nano: start + 100_000_000,
                    end_time_unix_nano: start + 880_000_000,
                    attributes: llm_attrs,
                    ..Default::default()
                },
            ));
            if ended_order() {
                // The retriever ends first, then the model call, the root last.
                spans[first_of_turn..].rotate_left(1);
            }
        }
    }
    if by_turn {
        spans.sort_by_key(|(t, _)| *t);
    }
    let spans: Vec<Span> = spans.into_iter().map(|(_, span)| span).collect();
    let total = spans.len();
    let mut bytes = 0;
    let requests: Vec<Vec<Span>> = spans
        .chunks(spans_per_request())
        .flat_map(|chunk| match split_traces() {
            false => vec![chunk.to_vec()],
            true => {
                let (roots, others) = chunk
                    .iter()
                    .cloned()
                    .partition(|s| s.parent_span_id.is_empty());
                vec![others, roots]
            }
        })
        .collect();
    let bodies: Vec<Vec<u8>> = requests
        .into_iter()
        .map(|chunk| {
            let body = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", "bench")],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans: chunk,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec();
            bytes += body.len();
            body
        })
        .collect();
    (bodies, total, bytes)
}

pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: b\r\nconnection: close\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let status = std::str::from_utf8(&raw[9..12]).unwrap().parse().unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (status, raw[split + 4..].to_vec())
}

pub async fn latency(addr: SocketAddr, label: &str, paths: &[String]) {
    let mut times = Vec::new();
    for p in paths {
        let t = Instant::now();
        let (status, body) = http(addr, "GET", p, b"").await;
        assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&body));
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label:<34} p50 {:>8.2?}  p95 {:>8.2?}  (n={})",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.len()
    );
}

/// The nearest-rank `q`-quantile of sorted, non-empty `times` (`1.0`: the
/// largest).
fn percentile(times: &[Duration], q: f64) -> Duration {
    times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1]
}

/// User + system CPU time of this process, in seconds.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        })
        .unwrap_or(0)
}

/// Sends sessions `0..sessions` from `clients` concurrent clients, `group`
/// sessions a unit of work, retrying a 503 until it is accepted: every span is
/// committed when this returns.
pub async fn send_all(
    addr: SocketAddr,
    sessions: usize,
    clients: usize,
    group: usize,
    by_turn: bool,
) {
    send_range(addr, 0..sessions, clients, group, by_turn).await
}

/// [`send_all`] for the sessions of `range` (their trace and span ids are
/// their own: a range after those already sent adds new data).
pub async fn send_range(
    addr: SocketAddr,
    range: std::ops::Range<usize>,
    clients: usize,
    group: usize,
    by_turn: bool,
) {
    let sessions = range.end;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(range.start));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut exporter = Exporter::new(addr);
                loop {
                    let first = next.fetch_add(group, std::sync::atomic::Ordering::Relaxed);
                    if first >= sessions {
                        break;
                    }
                    let (bodies, _, _) = workload(first..(first + group).min(sessions), by_turn);
                    for body in &bodies {
                        post_until_accepted(&mut exporter, body).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// How long each accepted export took, from its first attempt to its 200:
/// what an exporter waits (the server answers once the spans are committed).
static EXPORT_TIMES: std::sync::Mutex<Vec<Duration>> = std::sync::Mutex::new(Vec::new());

/// Prints the times of the exports accepted since the last call.
pub fn print_export_times() {
    let mut times = std::mem::take(&mut *EXPORT_TIMES.lock().unwrap());
    if times.is_empty() {
        return;
    }
    times.sort_unstable();
    println!(
        "export: p50 {:.1?} p99 {:.1?} max {:.1?} ({} requests, each answered once committed)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        times.len()
    );
}

/// One exporter's connection, kept alive from request to request as OTLP
/// exporters keep theirs (a connection a request would cost a small request
/// more than its spans).
pub struct Exporter {
    addr: SocketAddr,
    stream: Option<tokio::io::BufReader<tokio::net::TcpStream>>,
}

impl Exporter {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None }
    }

    /// POSTs `body` to `/v1/traces`: the response's status.
    async fn post(&mut self, body: &[u8]) -> u16 {
        use tokio::io::AsyncBufReadExt;
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
                // As exporters' HTTP clients do (urllib3, undici): else the
                // body waits for the ack of the head, delayed 40 ms.
                stream.set_nodelay(true).unwrap();
                self.stream.insert(tokio::io::BufReader::new(stream))
            }
        };
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: b\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.get_mut().write_all(head.as_bytes()).await.unwrap();
        stream.get_mut().write_all(body).await.unwrap();
        let (mut status, mut length, mut close) = (0, 0, false);
        let mut line = String::new();
        loop {
            line.clear();
            stream.read_line(&mut line).await.unwrap();
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if status == 0 {
                status = l[9..12].parse().unwrap();
            } else if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            } else if l == "connection: close" {
                close = true;
            }
        }
        let mut rest = vec![0; length];
        stream.read_exact(&mut rest).await.unwrap();
        if close {
            self.stream = None;
        }
        if status != 200 && std::env::var_os("BENCH_DEBUG").is_some() {
            eprintln!("{status}: {}", String::from_utf8_lossy(&rest));
        }
        status
    }
}

/// Posts a request, again after a pause while the server answers 503 (busy).
async fn post_until_accepted(exporter: &mut Exporter, body: &[u8]) {
    let t = Instant::now();
    loop {
        let status = exporter.post(body).await;
        if status == 200 {
            EXPORT_TIMES.lock().unwrap().push(t.elapsed());
            return;
        }
        assert_eq!(status, 503);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the requests are all generated before the clock starts
/// (`BENCH_PREGENERATE=1`): the figures are then the server's alone, as with
/// clients on other machines. By default they are generated while sending,
/// and the generator's CPU (about a seventh of a history-heavy run's) counts.
pub fn pregenerated() -> bool {
    std::env::var("BENCH_PREGENERATE").is_ok_and(|v| v == "1")
}

/// Every request body [`send_all`] would send: each group's, in its order.
pub fn pregenerate(sessions: usize, group: usize, by_turn: bool) -> Vec<Vec<Vec<u8>>> {
    (0..sessions)
        .step_by(group)
        .map(|first| workload(first..(first + group).min(sessions), by_turn).0)
        .collect()
}

/// Sends pregenerated `groups` over `clients` connections at once as
/// [`send_all`] sends them: each client takes the next group and sends its
/// requests in order, so a session's turns (and a split trace's halves, its
/// roots last) come one after another from one exporter, as from one SDK.
/// (Taking the next request instead, four clients sent four consecutive
/// turns of the same sessions at once: their writes waited on each other's
/// session rows, which no chat's traffic does.) With fewer groups than
/// clients (a few hundred sessions, one span a request) each client takes
/// the next request (with [`split_traces`], the next two: a request's traces
/// without their roots, then the roots), so that every client sends.
pub async fn send_bodies(
    addr: SocketAddr,
    groups: std::sync::Arc<Vec<Vec<Vec<u8>>>>,
    clients: usize,
) {
    let groups = match groups.len() >= clients {
        true => groups,
        false => {
            let taken = if split_traces() { 2 } else { 1 };
            let bodies: Vec<Vec<u8>> = groups.iter().flatten().cloned().collect();
            std::sync::Arc::new(bodies.chunks(taken).map(<[Vec<u8>]>::to_vec).collect())
        }
    };
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (next, groups) = (next.clone(), groups.clone());
            tokio::spawn(async move {
                let mut exporter = Exporter::new(addr);
                while let Some(bodies) =
                    groups.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    for body in bodies {
                        post_until_accepted(&mut exporter, body).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
