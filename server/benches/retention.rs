//! Benchmark (not a timed test): does a retention purge slow ingest? A SQLite
//! store is filled with `BENCH_SESSIONS` sessions (30 spans each: 33,334 for
//! a million spans); then `BENCH_PROBE_SESSIONS` new sessions are ingested
//! twice into it, first alone, then while the retention purge (the same calls the server's
//! retention task makes, one session per transaction, 100 a round) deletes
//! everything stored before, made expired by moving the clock. Prints both
//! ingest rates, their ratio, and the purge's rate. Run:
//!
//! ```sh
//! BENCH_SESSIONS=33334 BENCH_PROBE_SESSIONS=3000 cargo bench -p openinference-session-server --bench retention
//! ```

#[allow(dead_code)] // the helpers other benches use
mod workload;

use std::sync::Arc;
use std::time::Instant;

use openinference_session_server::store::Store;
use openinference_session_server::store::queries::{now_ns, set_clock_offset};
use openinference_session_server::store::sqlite::SqliteStore;
use openinference_session_server::{AppState, retention, serve};
use workload::{SESSIONS_PER_REQUEST, send_all, send_range, turns};

const HOUR: i64 = 3_600_000_000_000;

fn main() {
    openinference_session_server::memory::tune_allocators();
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
        let spans = |n: usize| (n * turns() * 3) as f64;
        let t = Instant::now();
        send_all(addr, sessions, 4, SESSIONS_PER_REQUEST, false).await;
        println!("filled: {} spans in {:.1} s", spans(sessions), t.elapsed().as_secs_f64());

        // the probes: new sessions after those stored (their own ids)
        let t = Instant::now();
        send_range(addr, sessions..sessions + probe, 4, SESSIONS_PER_REQUEST, false).await;
        let alone = t.elapsed().as_secs_f64();

        // two hours later with a retention of one hour: all of the above
        // expired. The purge runs as the server's retention task does (the
        // task itself may join in: a session deleted by one is skipped by
        // the other, and the count below is of sessions gone)
        let count = |store: &SqliteStore| store.projects().unwrap().iter().map(|p| p.session_count).sum::<i64>();
        let before = count(&store);
        set_clock_offset(2 * HOUR);
        store.set_default_retention(HOUR);
        let (started_tx, started) = std::sync::mpsc::channel();
        let purge = {
            let store = store.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                loop {
                    let round = store.purge_expired(now_ns(), retention::BATCH).unwrap();
                    let _ = started_tx.send(());
                    if round.expired == 0 {
                        return t.elapsed().as_secs_f64();
                    }
                }
            })
        };
        // the probe starts once the purge is under way
        started.recv().unwrap();
        let during_at = count(&store);
        let t = Instant::now();
        send_range(addr, sessions + probe..sessions + 2 * probe, 4, SESSIONS_PER_REQUEST, false).await;
        let during_purge = t.elapsed().as_secs_f64();
        let during_end = count(&store) - i64::try_from(probe).unwrap();
        let purge_seconds = purge.join().unwrap();
        let deleted = before - (count(&store) - i64::try_from(probe).unwrap());
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
            "purge: {deleted} sessions ({} spans) in {purge_seconds:.1} s = {:.0} sessions/s, {} of them during the probe; {pages} pages given back in {:.1} s",
            spans(usize::try_from(deleted).unwrap()),
            deleted as f64 / purge_seconds,
            during_at - during_end,
            t.elapsed().as_secs_f64()
        );
        assert_eq!(count(&store), i64::try_from(probe).unwrap(), "only the sessions sent during the purge are left");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}
