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
//!
//! `BENCH_ORDER=split` sends every trace in two requests, its root last (see
//! `workload::split_traces`); `BENCH_ORDER=turn` (in a list: `turn,ended`)
//! sends turn t of many sessions together, as `ingest.rs` does.
//!
//! `BENCH_SQL` runs its statements in the fresh schema before the clock
//! starts: a schema experiment (an index or constraint dropped) without a
//! migration.

#[allow(dead_code)] // the helpers other benches use
mod workload;

use std::sync::Arc;
use std::time::Instant;

use openinference_session_server::store::postgres::PostgresStore;
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
        // As the SQLite bench: `BENCH_ORDER=turn` sends turn t of many
        // sessions together (it was ignored here: every run went by session).
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
        let url = std::env::var("OI_SESSIONS_TEST_DATABASE_URL")
            .expect("OI_SESSIONS_TEST_DATABASE_URL is not set: run scripts/postgres.sh");
        let schema = format!("oi_bench_{}", std::process::id());
        // The blocking client must not run on an async worker.
        let (u, sc) = (url.clone(), schema.clone());
        let store = tokio::task::spawn_blocking(move || PostgresStore::open_in_schema(&u, &sc))
            .await
            .unwrap()
            .expect("open postgres store");
        if let Ok(sql) = std::env::var("BENCH_SQL") {
            let (u, sc) = (url.clone(), schema.clone());
            tokio::task::spawn_blocking(move || pg_one(&u, &sc, &sql)).await.unwrap();
        }
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
        let ready = workload::pregenerated()
            .then(|| Arc::new(workload::pregenerate(sessions, group, by_turn)));
        let rss_before = peak_rss_kb();
        let t = Instant::now();
        let cpu = cpu_seconds();
        let pg_cpu = postgres_cpu_seconds();
        match ready {
            Some(bodies) => workload::send_bodies(addr, bodies, clients).await,
            None => send_all(addr, sessions, clients, group, by_turn).await,
        }
        let elapsed = t.elapsed();
        let cpu = cpu_seconds() - cpu;
        let pg_cpu = postgres_cpu_seconds() - pg_cpu;
        println!(
            "ingest: {spans} spans in {elapsed:.2?} = {:.0} spans/s end to end ({clients} clients, {} spans a request, committed when acknowledged)",
            spans as f64 / elapsed.as_secs_f64(),
            workload::spans_per_request()
        );
        println!(
            "cpu: {:.0} µs per span in oi-sessions and the load generator ({:.2} cores busy), {:.0} µs per span in postgresql ({:.2} cores busy)",
            cpu * 1e6 / spans as f64,
            cpu / elapsed.as_secs_f64(),
            pg_cpu * 1e6 / spans as f64,
            pg_cpu / elapsed.as_secs_f64()
        );
        workload::print_export_times();
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
        latency(addr, "trace", &(0..n).map(|i| format!("{p}/traces/{}", first_trace_hex(pick(i)))).collect::<Vec<_>>()).await;
        latency(addr, "text search q (miss, full scan)", &vec![format!("{p}/sessions?limit=50&q=zebra"); 10]).await;
        latency(addr, "text search q (hit)", &vec![format!("{p}/sessions?limit=50&q=refund%20account"); 10]).await;
        latency(addr, "project list", &vec!["/v1/projects".to_owned(); 20]).await;
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
