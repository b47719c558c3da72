//! Benchmark (not a timed test): does online evaluation slow ingest? The same
//! workload (sessions of 10 turns, 3 spans a turn, over OTLP/HTTP protobuf) is
//! ingested twice in one run, each into a fresh SQLite store with sessions
//! idle after one second: first with no evaluators, then with an LLM judge
//! (answered by a local fake OpenAI-compatible endpoint) and a code rule, so
//! sessions are judged while ingest goes on. Prints both ingest rates, their
//! ratio, and how fast the scheduler judged. Run:
//!
//! ```sh
//! BENCH_SESSIONS=5000 cargo bench -p openinference-session-server --bench evaluation
//! ```

#[allow(dead_code)] // the helpers other benches use
mod workload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openinference_session_server::store::sqlite::SqliteStore;
use openinference_session_server::{AppState, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workload::{SESSIONS_PER_REQUEST, send_all, turns};

/// A fake judge: answers every chat completion at once with a verdict.
async fn fake_judge(calls: Arc<AtomicUsize>) -> SocketAddr {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::Relaxed);
                axum::Json(json!({"choices": [{"message": {"role": "assistant",
                    "content": "{\"label\": \"resolved\", \"explanation\": \"fine\"}"}}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn json_call(addr: SocketAddr, method: &str, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: b\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status: u16 = std::str::from_utf8(&raw[9..12]).unwrap().parse().unwrap();
    assert!(
        status < 300,
        "{method} {path}: {}",
        String::from_utf8_lossy(&raw)
    );
    serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null)
}

/// Ingests the workload into a fresh server; with `judge`, two evaluators
/// judge sessions as they go idle. Returns (ingest seconds, seconds until
/// every session was judged).
async fn run(sessions: usize, judge: Option<SocketAddr>) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let state = AppState::new(Arc::new(store)).with_session_idle(Duration::from_secs(1));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, None, state, async {
        let _ = stopped.await;
    }));
    if let Some(judge) = judge {
        json_call(addr, "POST", "/v1/projects", &json!({"name": "bench"})).await;
        json_call(addr, "POST", "/v1/projects/bench/evaluators", &json!({
            "name": "resolution", "kind": "llm_judge",
            "llm": {"base_url": format!("http://{judge}/v1"), "model": "fake"},
            "criteria": "Was the user's problem solved?", "labels": {"resolved": 1, "unresolved": 0},
        }))
        .await;
        json_call(
            addr,
            "POST",
            "/v1/projects/bench/evaluators",
            &json!({
                "name": "clean", "kind": "code", "rule": {"type": "no_errors"},
            }),
        )
        .await;
    }
    let t = Instant::now();
    send_all(addr, sessions, 4, SESSIONS_PER_REQUEST, false).await;
    let ingest = t.elapsed().as_secs_f64();
    let mut judged = 0.0;
    if judge.is_some() {
        let want = sessions * 2;
        // a benchmark may poll: the time it measures is the scheduler's, to 0.1 s
        loop {
            let mut done = 0;
            for name in ["resolution", "clean"] {
                let e = json_call(
                    addr,
                    "GET",
                    &format!("/v1/projects/bench/evaluators/{name}"),
                    &Value::Null,
                )
                .await;
                done += e["jobs"]["done"].as_u64().unwrap_or(0) as usize;
            }
            if done >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        judged = t.elapsed().as_secs_f64();
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    (ingest, judged)
}

fn main() {
    openinference_session_server::memory::tune_allocators();
    let sessions: usize = std::env::var("BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let spans = (sessions * turns() * 3) as f64;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let judge = fake_judge(calls.clone()).await;
        println!("workload: {sessions} sessions, {spans} spans, sessions idle after 1 s");
        let (plain, _) = run(sessions, None).await;
        let (with, judged) = run(sessions, Some(judge)).await;
        println!("ingest without evaluators: {:.0} spans/s ({plain:.2} s)", spans / plain);
        println!(
            "ingest with 2 evaluators:  {:.0} spans/s ({with:.2} s), {:.2}x the rate without",
            spans / with,
            plain / with
        );
        println!(
            "judged: {} sessions x 2 evaluators ({} judge calls) {judged:.2} s after ingest began = {:.0} jobs/s",
            sessions,
            calls.load(Ordering::Relaxed),
            (sessions * 2) as f64 / judged
        );
    });
}
