//! End-to-end benchmark (not a timed test): a synthetic chat workload (sessions
//! of 10 turns, 3 spans a turn, LLM spans carrying the growing conversation)
//! exported over OTLP/HTTP protobuf to the real server on a real SQLite file,
//! then read latencies of the API. Run:
//!
//! ```sh
//! BENCH_SESSIONS=10000 cargo bench -p openinference-session-server --bench ingest
//! BENCH_ORDER=turn BENCH_SESSIONS=10000 cargo bench -p openinference-session-server --bench ingest
//! BENCH_ORDER=split BENCH_SESSIONS=10000 cargo bench -p openinference-session-server --bench ingest
//! BENCH_TURNS=50 BENCH_ORDER=turn,split BENCH_SESSIONS=2000 cargo bench -p openinference-session-server --bench ingest
//! BENCH_SPANS_PER_REQUEST=1 BENCH_ORDER=turn,ended BENCH_CLIENTS=16 BENCH_SESSIONS=1000 cargo bench -p openinference-session-server --bench ingest
//! BENCH_PREGENERATE=1 BENCH_SESSIONS=10000 cargo bench -p openinference-session-server --bench ingest
//! ```
//!
//! `BENCH_PREGENERATE=1` generates every request before the clock starts, so
//! the load generator's CPU does not count (clients on other machines).
//! `BENCH_RANDOM_IDS=1` gives trace and span ids random-looking, as SDKs make
//! them (by default they count up). `BENCH_SPANS_PER_REQUEST` sets a request's
//! spans (510 by default; 1 is a simple span processor's export), and
//! `BENCH_ORDER=ended` sends each trace's spans in the order they end, the
//! root last. Each client keeps its connection alive, as exporters do.
//! `BENCH_DEBUG=1` prints the body of every answer other than 200.

#[allow(dead_code)] // the helpers other benches use
mod workload;

use std::sync::Arc;
use std::time::Instant;

use openinference_session_server::store::sqlite::SqliteStore;
use openinference_session_server::{AppState, serve};
use workload::{
    SESSIONS_PER_REQUEST, cpu_seconds, first_trace_hex, latency, peak_rss_kb, random_ids, send_all,
    turns, workload,
};

fn main() {
    openinference_session_server::memory::tune_allocators();
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
        let spans = sessions * turns() * 3;
        let by_turn = workload::ordered_by("turn");
        let group = workload::sessions_a_group(by_turn);
        let (sample, sample_spans, sample_bytes) = workload(0..SESSIONS_PER_REQUEST.min(sessions), false);
        drop(sample);
        println!(
            "workload: {} ({sessions} sessions, {spans} spans, {:.1} KB OTLP per span), generated {}, batched by {}, ids {}",
            workload::workload_name(),
            sample_bytes as f64 / sample_spans as f64 / 1024.0,
            if workload::pregenerated() { "before the clock starts" } else { "while sending" },
            workload::order_name(by_turn),
            if random_ids() { "random" } else { "counting up" }
        );
        // BENCH_DIR keeps the database for inspection; by default a temp dir.
        let dir = tempfile::tempdir().unwrap();
        let keep = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
        let data_dir = keep.clone().unwrap_or_else(|| dir.path().to_owned());
        let store = SqliteStore::open_dir(&data_dir).unwrap();
        let state = AppState::new(Arc::new(store));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, None, state, async {
            let _ = stopped.await;
        }));
        let ready = workload::pregenerated()
            .then(|| Arc::new(workload::pregenerate(sessions, group, by_turn)));
        let rss_before = peak_rss_kb();
        let t = Instant::now();
        let cpu = cpu_seconds();
        match ready {
            Some(bodies) => workload::send_bodies(addr, bodies, clients).await,
            None => send_all(addr, sessions, clients, group, by_turn).await,
        }
        let elapsed = t.elapsed();
        let cpu = cpu_seconds() - cpu;
        println!(
            "ingest: {spans} spans in {elapsed:.2?} = {:.0} spans/s end to end ({clients} clients, {} spans a request, committed when acknowledged)",
            spans as f64 / elapsed.as_secs_f64(),
            workload::spans_per_request()
        );
        println!(
            "cpu: {:.0} µs per span (server and load generator together, {:.2} cores busy)",
            cpu * 1e6 / spans as f64,
            cpu / elapsed.as_secs_f64()
        );
        workload::print_export_times();
        let db: u64 = std::fs::read_dir(&data_dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        // The WAL is cut back to 32 MiB at each checkpoint: a bounded cost,
        // whatever the database holds, shown apart.
        let file = std::fs::metadata(data_dir.join(openinference_session_server::store::sqlite::DB_FILE)).unwrap().len();
        println!(
            "disk: {:.0} bytes per span ({:.1} MB incl. WAL; the database file alone {:.0} bytes per span)",
            db as f64 / spans as f64,
            db as f64 / 1e6,
            file as f64 / spans as f64
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
        latency(addr, "trace", &(0..n).map(|i| format!("{p}/traces/{}", first_trace_hex(pick(i)))).collect::<Vec<_>>()).await;
        latency(addr, "text search q (miss, full scan)", &vec![format!("{p}/sessions?limit=50&q=zebra"); 10]).await;
        latency(addr, "text search q (hit)", &vec![format!("{p}/sessions?limit=50&q=refund%20account"); 10]).await;
        latency(addr, "project list", &vec!["/v1/projects".to_owned(); 20]).await;
        println!("peak RSS: {} MB (server and load generator in one process; {} MB before ingest)", peak_rss_kb() / 1024, rss_before / 1024);
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}
