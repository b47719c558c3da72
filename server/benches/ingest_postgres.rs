//! The ingest benchmark of `ingest.rs` (same synthetic chat workload, same
//! OTLP/HTTP load and reads) with the server on PostgreSQL instead of SQLite:
//! a fresh schema of the database at `OI_SESSIONS_TEST_DATABASE_URL` (see
//! `scripts/postgres.sh`), dropped afterwards unless `BENCH_KEEP` is set. CPU
//! and disk include PostgreSQL's processes and WAL. Run:
//!
//! ```sh
//! export OI_SESSIONS_TEST_DATABASE_URL="$(bash scripts/postgres.sh)"
//! BENCH_SESSIONS=10000 cargo bench -p openinference-session-server --bench ingest_postgres
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openinference_session_server::store::postgres::PostgresStore;
use openinference_session_server::{AppState, serve};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TURNS: usize = 10;
/// 17 sessions x 10 turns x 3 spans = 510 spans a request (the SDK's batch is 512).
const SESSIONS_PER_REQUEST: usize = 17;

fn kv(k: &str, v: impl Into<String>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn ki(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

const WORDS: &[&str] = &[
    "invoice", "parcel", "refund", "account", "password", "delivery", "address", "order",
    "billing", "support", "please", "could", "you", "check", "the", "status", "of", "my", "recent",
    "payment", "thanks", "again",
];

fn sentence(seed: u64, words: usize) -> String {
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

fn workload(sessions: std::ops::Range<usize>) -> (Vec<Vec<u8>>, usize, usize) {
    let base: u64 = 1_790_000_000_000_000_000;
    let mut spans = Vec::new();
    for s in sessions {
        let mut history: Vec<(String, String)> = Vec::new();
        for t in 0..TURNS {
            let n = (s * TURNS + t) as u64;
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&(n + 1).to_be_bytes());
            trace_id[8] = 1;
            let start = base + n * 1_000_000_000;
            let question = sentence(n, 25);
            let answer = sentence(n ^ 0xabc, 60);
            let id = |k: u8| {
                let mut id = [k; 8];
                id[..4].copy_from_slice(&(n as u32 + 1).to_be_bytes());
                id.to_vec()
            };
            let mut llm_attrs = vec![
                kv("openinference.span.kind", "LLM"),
                kv("llm.model_name", "gpt-4o-mini"),
                ki("llm.token_count.prompt", 50 * (t as i64 + 1)),
                ki("llm.token_count.completion", 60),
                kv("session.id", format!("session-{s}")),
            ];
            history.push(("user".into(), question.clone()));
            for (i, (role, content)) in history.iter().enumerate() {
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
            spans.push(Span {
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
                    kv("input.value", question),
                    kv("output.value", answer),
                ],
                ..Default::default()
            });
            spans.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: id(2),
                parent_span_id: id(1),
                name: "retrieve".into(),
                kind: 1,
                start_time_unix_nano: start + 10_000_000,
                end_time_unix_nano: start + 90_000_000,
                attributes: vec![
                    kv("openinference.span.kind", "RETRIEVER"),
                    kv("input.value", sentence(n + 7, 10)),
                ],
                ..Default::default()
            });
            spans.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: id(3),
                parent_span_id: id(1),
                name: "ChatCompletion".into(),
                kind: 3,
                start_time_unix_nano: start + 100_000_000,
                end_time_unix_nano: start + 880_000_000,
                attributes: llm_attrs,
                ..Default::default()
            });
        }
    }
    let total = spans.len();
    let mut bytes = 0;
    let bodies: Vec<Vec<u8>> = spans
        .chunks(SESSIONS_PER_REQUEST * TURNS * 3)
        .map(|chunk| {
            let body = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", "bench")],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans: chunk.to_vec(),
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

async fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
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

async fn latency(addr: SocketAddr, label: &str, paths: &[String]) {
    let mut times = Vec::new();
    for p in paths {
        let t = Instant::now();
        let (status, body) = http(addr, "GET", p, b"").await;
        assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&body));
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{label:<34} p50 {:>8.2?}  p95 {:>8.2?}  (n={})",
        pct(0.5),
        pct(0.95),
        times.len()
    );
}

/// User + system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
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

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        })
        .unwrap_or(0)
}

fn main() {
    let sessions: usize = std::env::var("BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let spans = sessions * TURNS * 3;
        let (sample, sample_spans, sample_bytes) = workload(0..SESSIONS_PER_REQUEST.min(sessions));
        drop(sample);
        println!(
            "workload: {sessions} sessions, {spans} spans, {:.1} KB OTLP per span, generated while sending",
            sample_bytes as f64 / sample_spans as f64 / 1024.0
        );
        let url = std::env::var("OI_SESSIONS_TEST_DATABASE_URL")
            .expect("OI_SESSIONS_TEST_DATABASE_URL is not set: run scripts/postgres.sh");
        let schema = format!("oi_bench_{}", std::process::id());
        // The blocking client must not run on an async worker.
        let (u, sc) = (url.clone(), schema.clone());
        let store = tokio::task::spawn_blocking(move || PostgresStore::open_in_schema(&u, &sc))
            .await
            .unwrap()
            .expect("open postgres store");
        let (u, sc) = (url.clone(), schema.clone());
        let wal_before = tokio::task::spawn_blocking(move || pg_one(&u, &sc, "SELECT pg_current_wal_lsn()::text"))
            .await
            .unwrap();
        let state = AppState::new(Arc::new(store));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, None, state, async {
            let _ = stopped.await;
        }));
        let rss_before = peak_rss_kb();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = Instant::now();
        let cpu = cpu_seconds();
        let pg_cpu = postgres_cpu_seconds();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let next = next.clone();
                tokio::spawn(async move {
                    loop {
                        let first = next.fetch_add(SESSIONS_PER_REQUEST, std::sync::atomic::Ordering::Relaxed);
                        if first >= sessions {
                            break;
                        }
                        let (bodies, _, _) = workload(first..(first + SESSIONS_PER_REQUEST).min(sessions));
                        for body in &bodies {
                            loop {
                                let (status, _) = http(addr, "POST", "/v1/traces", body).await;
                                if status == 200 {
                                    break;
                                }
                                assert_eq!(status, 503);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = t.elapsed();
        let cpu = cpu_seconds() - cpu;
        let pg_cpu = postgres_cpu_seconds() - pg_cpu;
        println!(
            "ingest: {spans} spans in {elapsed:.2?} = {:.0} spans/s end to end ({clients} clients, {} spans a request, committed when acknowledged)",
            spans as f64 / elapsed.as_secs_f64(),
            SESSIONS_PER_REQUEST * TURNS * 3
        );
        println!(
            "cpu: {:.0} µs per span in oi-sessions and the load generator ({:.2} cores busy), {:.0} µs per span in postgresql ({:.2} cores busy)",
            cpu * 1e6 / spans as f64,
            cpu / elapsed.as_secs_f64(),
            pg_cpu * 1e6 / spans as f64,
            pg_cpu / elapsed.as_secs_f64()
        );
        let (u, sc) = (url.clone(), schema.clone());
        let (db, wal) = tokio::task::spawn_blocking(move || {
            let db = pg_one(&u, &sc, "SELECT sum(pg_total_relation_size(c.oid))::text FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'");
            let wal = pg_one(&u, &sc, &format!("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{wal_before}')::bigint::text"));
            (db.parse::<f64>().unwrap_or(0.0), wal.parse::<f64>().unwrap_or(0.0))
        })
        .await
        .unwrap();
        println!(
            "disk: {:.0} bytes per span in tables, indexes and TOAST ({:.1} MB); {:.0} bytes of WAL written per span",
            db / spans as f64,
            db / 1e6,
            wal / spans as f64
        );
        let p = "/v1/projects/bench";
        let n = 100;
        let pick = |i: usize| (i * 7919) % sessions;
        for sort in ["start_time", "end_time", "num_traces", "total_tokens", "total_cost", "duration"] {
            latency(addr, &format!("session list sort={sort}"), &vec![format!("{p}/sessions?limit=50&sort={sort}"); n / 2]).await;
        }
        latency(addr, "session list user_id filter", &(0..n / 2).map(|i| format!("{p}/sessions?limit=50&user_id=user-{}", i % 97)).collect::<Vec<_>>()).await;
        latency(addr, "session detail", &(0..n).map(|i| format!("{p}/sessions/session-{}", pick(i))).collect::<Vec<_>>()).await;
        latency(addr, "session turns", &(0..n).map(|i| format!("{p}/sessions/session-{}/turns", pick(i))).collect::<Vec<_>>()).await;
        let trace = |i: usize| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&((pick(i) * TURNS) as u64 + 1).to_be_bytes());
            id[8] = 1;
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        latency(addr, "trace", &(0..n).map(|i| format!("{p}/traces/{}", trace(i))).collect::<Vec<_>>()).await;
        latency(addr, "text search q (miss, full scan)", &vec![format!("{p}/sessions?limit=50&q=zebra"); 10]).await;
        latency(addr, "text search q (hit)", &vec![format!("{p}/sessions?limit=50&q=refund%20account"); 10]).await;
        println!("peak RSS: {} MB (server and load generator in one process; {} MB before ingest)", peak_rss_kb() / 1024, rss_before / 1024);
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        if std::env::var_os("BENCH_KEEP").is_none() {
            tokio::task::spawn_blocking(move || pg_one(&url, &schema, &format!("DROP SCHEMA \"{schema}\" CASCADE")))
                .await
                .unwrap();
        }
    });
}

/// One statement in `schema`, its first column as text (empty when none).
fn pg_one(url: &str, schema: &str, sql: &str) -> String {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("SET search_path TO \"{schema}\""))
        .unwrap();
    c.simple_query(sql)
        .unwrap()
        .into_iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("").to_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

/// User + system CPU time of every `postgres` process (the server's backends
/// and background writers), in seconds.
fn postgres_cpu_seconds() -> f64 {
    let mut ticks = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        ticks += fields.get(11..13).map_or(0.0, |f| {
            f.iter().filter_map(|v| v.parse::<f64>().ok()).sum::<f64>()
        });
    }
    ticks / 100.0
}
