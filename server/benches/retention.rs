//! Benchmark (not a timed test): does a retention purge slow ingest? A SQLite
//! store is filled with `BENCH_SESSIONS` sessions (30 spans each: 33,334 for
//! a million spans); then the same workload is ingested twice into it, first
//! alone, then while the retention purge (the same calls the server's
//! retention task makes, one session per transaction, 100 a round) deletes
//! everything stored before, made expired by moving the clock. Prints both
//! ingest rates, their ratio, and the purge's rate. Run:
//!
//! ```sh
//! BENCH_SESSIONS=33334 cargo bench -p openinference-session-server --bench retention
//! ```

#[allow(dead_code)] // the helpers other benches use
mod workload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use openinference_session_server::store::Store;
use openinference_session_server::store::queries::{now_ns, set_clock_offset};
use openinference_session_server::store::sqlite::SqliteStore;
use openinference_session_server::{AppState, retention, serve};
use workload::{SESSIONS_PER_REQUEST, TURNS, send_all};

const HOUR: i64 = 3_600_000_000_000;

fn main() {
    openinference_session_server::memory::limit_malloc_arenas();
    let sessions: usize = std::env::var("BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(33_334);
    let probe: usize = std::env::var("BENCH_PROBE_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let state = AppState::new(store.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, None, state, async {
            let _ = stopped.await;
        }));
        let spans = |n: usize| (n * TURNS * 3) as f64;
        let t = Instant::now();
        send_all(addr, sessions, 4, SESSIONS_PER_REQUEST, false).await;
        println!("filled: {} spans in {:.1} s", spans(sessions), t.elapsed().as_secs_f64());

        // the workload's session ids repeat: the probes go to their own projects
        let t = Instant::now();
        send_probe(addr, probe, "alone").await;
        let alone = t.elapsed().as_secs_f64();

        // two hours later with a retention of one hour: all of the above expired
        set_clock_offset(2 * HOUR);
        store.set_default_retention(HOUR);
        let purging = Arc::new(AtomicBool::new(true));
        let purge = {
            let (store, purging) = (store.clone(), purging.clone());
            std::thread::spawn(move || {
                let t = Instant::now();
                let mut deleted = 0;
                let mut during = 0;
                loop {
                    let n = store.purge_expired(now_ns(), retention::BATCH).unwrap();
                    deleted += n;
                    if purging.load(Ordering::Relaxed) {
                        during = deleted;
                    }
                    if n < retention::BATCH {
                        return (deleted, during, t.elapsed().as_secs_f64());
                    }
                }
            })
        };
        let t = Instant::now();
        send_probe(addr, probe, "during").await;
        let during_purge = t.elapsed().as_secs_f64();
        purging.store(false, Ordering::Relaxed);
        let (deleted, deleted_during, purge_seconds) = purge.join().unwrap();
        let t = Instant::now();
        let mut pages = 0;
        loop {
            let n = store.reclaim_space().unwrap();
            pages += n;
            if n == 0 {
                break;
            }
        }
        println!(
            "ingest alone:        {:.0} spans/s ({alone:.2} s for {} spans)",
            spans(probe) / alone,
            spans(probe)
        );
        println!(
            "ingest during purge: {:.0} spans/s ({during_purge:.2} s), {:.2}x the rate alone",
            spans(probe) / during_purge,
            alone / during_purge
        );
        println!(
            "purge: {deleted} sessions ({} spans) in {purge_seconds:.1} s = {:.0} sessions/s, {deleted_during} of them during the probe; {pages} pages given back in {:.1} s",
            spans(deleted),
            deleted as f64 / purge_seconds,
            t.elapsed().as_secs_f64()
        );
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}

/// Sends the workload's sessions under the `bench` project name rewritten to
/// `tag`'s, so the probe's sessions are new ones.
async fn send_probe(addr: std::net::SocketAddr, sessions: usize, tag: &str) {
    workload::send_all_to_project(
        addr,
        sessions,
        4,
        SESSIONS_PER_REQUEST,
        &format!("probe-{tag}"),
    )
    .await;
}
