//! Benchmark (not a timed test): where an ingested span's CPU goes. The
//! workload's requests (`BENCH_WORKLOAD=light|history`, `BENCH_SESSIONS`
//! sessions, batched by session or with `BENCH_ORDER=turn` by turn as in the
//! `ingest` bench) go through the three stages of ingest one after the other on one
//! thread, without HTTP: decoding the protobuf body, mapping it to span
//! records (attributes to JSON, the session, turn and token facts), and
//! writing them into a SQLite store in a temp dir (one transaction per
//! request, committed, as the server does). Prints, per span, the wall time
//! and the process's CPU time of each stage; the write's wall time includes
//! waiting for the disk. Run:
//!
//! ```sh
//! BENCH_WORKLOAD=history BENCH_SESSIONS=2000 cargo bench -p openinference-session-server --bench ingest_stages
//! ```

#[allow(dead_code)] // the helpers other benches use
mod workload;

use std::time::{Duration, Instant};

use openinference_session_server::otlp::{self, Encoding, map};
use openinference_session_server::pricing::PriceTable;
use openinference_session_server::store::Store;
use openinference_session_server::store::sqlite::SqliteStore;
use workload::{SESSIONS_PER_REQUEST, cpu_seconds, workload};

/// Wall and CPU time spent in one stage.
#[derive(Default)]
struct Stage {
    wall: Duration,
    cpu: f64,
}

impl Stage {
    fn time<T>(&mut self, run: impl FnOnce() -> T) -> T {
        let (t, c) = (Instant::now(), cpu_seconds());
        let out = run();
        self.wall += t.elapsed();
        self.cpu += cpu_seconds() - c;
        out
    }
}

fn main() {
    let sessions: usize = std::env::var("BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let by_turn = workload::ordered_by("turn");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let prices = PriceTable::default();
    let (mut decode, mut map, mut write) = (Stage::default(), Stage::default(), Stage::default());
    let (mut spans, mut bytes) = (0, 0);
    // generated a slice at a time, so the bodies never all sit in memory
    for first in (0..sessions).step_by(SESSIONS_PER_REQUEST * 20) {
        let range = first..(first + SESSIONS_PER_REQUEST * 20).min(sessions);
        let (bodies, _, size) = workload(range, by_turn);
        bytes += size;
        for body in bodies {
            let decoded = decode.time(|| otlp::decode(&body, Encoding::Protobuf).unwrap());
            let mapped = map.time(|| map::map_request(decoded.request, None, &prices));
            assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
            spans += mapped.records.len();
            write.time(|| store.write(&mapped.records).unwrap());
        }
    }
    println!(
        "workload: {} ({sessions} sessions, {spans} spans, {:.1} KB OTLP per span, batched by {})",
        workload::workload_name(),
        bytes as f64 / spans as f64 / 1024.0,
        if by_turn { "turn" } else { "session" }
    );
    let per_span = |s: &Stage| {
        (
            s.wall.as_secs_f64() * 1e6 / spans as f64,
            s.cpu * 1e6 / spans as f64,
        )
    };
    let mut total = (0.0, 0.0);
    for (name, stage) in [("decode", &decode), ("map", &map), ("write", &write)] {
        let (wall, cpu) = per_span(stage);
        total = (total.0 + wall, total.1 + cpu);
        println!("{name:<7} {wall:7.1} µs wall {cpu:7.1} µs CPU per span");
    }
    println!(
        "total   {:7.1} µs wall {:7.1} µs CPU per span = {:.0} spans/s on one thread",
        total.0,
        total.1,
        1e6 / total.0
    );
}
