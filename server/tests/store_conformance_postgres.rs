//! The storage conformance suite run against PostgreSQL, one test per clause,
//! each on a fresh, empty schema of the test database (`OI_SESSIONS_TEST_DATABASE_URL`, as
//! printed by `scripts/postgres.sh`); the schemas are dropped afterwards.

mod conformance;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openinference_session_server::model::SpanRecord;
use openinference_session_server::store::Store;
use openinference_session_server::store::postgres::PostgresStore;

/// The test database's URL; no silent skip when it is missing.
fn database_url() -> String {
    match std::env::var("OI_SESSIONS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "OI_SESSIONS_TEST_DATABASE_URL is not set: run \
             `export OI_SESSIONS_TEST_DATABASE_URL=\"$(bash scripts/postgres.sh)\"` first"
        ),
    }
}

/// A schema name unique to this process and call.
fn schema_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "oi_test_{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh schema of the test database, dropped with this guard.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&database_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
        }
    }
}

/// A store on a fresh schema, and the guard that drops it.
fn open_postgres() -> (Schema, PostgresStore) {
    let schema = Schema(schema_name("conf"));
    let store =
        PostgresStore::open_in_schema(&database_url(), &schema.0).expect("open postgres store");
    (schema, store)
}

mod postgres_backend {
    use super::{conformance, open_postgres};
    crate::conformance_suite!(open_postgres);
}

#[test]
fn postgres_reopens_with_data_and_schema() {
    let (schema, store) = open_postgres();
    conformance::idempotent_writes(store);
    // Reopen the same schema: the migrations are not re-applied, the data is there.
    let store = PostgresStore::open_in_schema(&database_url(), &schema.0).expect("reopen");
    assert_eq!(store.session("p", "s1").expect("session").num_traces, 1);
}

/// A schema written by a newer server is refused, not silently used.
#[test]
fn postgres_refuses_a_newer_schema() {
    let url = database_url();
    let (schema, store) = open_postgres();
    drop(store);
    let name = schema.0.clone();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    client
        .batch_execute(&format!(
            "UPDATE \"{name}\".schema_version SET version = 999"
        ))
        .expect("bump version");
    let err = PostgresStore::open_in_schema(&url, &name).expect_err("newer schema");
    assert!(err.to_string().contains("newer than this server"), "{err}");
}

/// Concurrent writers of one trace (spans of it split across threads, each in
/// its own transaction) end in the same state as one writer: the per-trace
/// locks make the last committer see every span.
#[test]
fn postgres_concurrent_writers_agree() {
    use conformance::record;
    use serde_json::json;
    let (_schema, store) = open_postgres();
    let store = Arc::new(store);
    // 8 traces of 6 spans; each thread writes one span of every trace, the root
    // (with the winning session id) from the last thread.
    let threads: Vec<_> = (0..6u8)
        .map(|s| {
            let store = store.clone();
            std::thread::spawn(move || {
                let spans: Vec<_> = (1..=8u8)
                    .map(|t| {
                        let session = if s == 5 { "root".to_owned() } else { format!("child-{s}") };
                        let parent = if s == 5 { None } else { Some(100) };
                        // The root is the turn (a chain), the others model calls under it.
                        let attrs = if s == 5 {
                            json!({"session.id": session, "openinference.span.kind": "CHAIN"})
                        } else {
                            json!({"session.id": session, "openinference.span.kind": "LLM", "llm.token_count.total": 10})
                        };
                        record("p", t, if s == 5 { 100 } else { s + 1 }, parent, i64::from(s), attrs)
                    })
                    .collect();
                for chunk in spans.chunks(3) {
                    store.write(chunk).expect("concurrent write");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let s = store.session("p", "root").expect("session");
    assert_eq!(s.num_traces, 8);
    assert_eq!(s.token_count.total, 8 * 5 * 10);
    for child in 0..5 {
        assert!(
            store.session("p", &format!("child-{child}")).is_err(),
            "child-{child} emptied"
        );
    }
}

/// Four writers at once of `per_writer` traces each (numbered from `first`),
/// every batch a trace of each of `sessions` sessions: two send whole traces
/// (`whole`), two each trace's child (`child`), then its root (`root`), in
/// writes of their own.
fn four_writers(
    store: &Arc<PostgresStore>,
    first: u8,
    per_writer: u8,
    sessions: u8,
    whole: fn(u8) -> SpanRecord,
    child: fn(u8) -> SpanRecord,
    root: fn(u8) -> SpanRecord,
) {
    let threads: Vec<_> = (0..4u8)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let traces: Vec<u8> = (0..per_writer)
                    .map(|i| first + w * per_writer + i)
                    .collect();
                for batch in traces.chunks(usize::from(sessions)) {
                    let write = |make: fn(u8) -> SpanRecord, what: &str| {
                        let spans: Vec<_> = batch.iter().map(|&t| make(t)).collect();
                        store.write(&spans).expect(what);
                    };
                    if w % 2 == 0 {
                        write(whole, "whole traces");
                    } else {
                        write(child, "children");
                        write(root, "roots");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
}

/// Concurrent writers growing the same sessions, some with whole new traces
/// (one upsert creates or grows and locks each session) and some with traces
/// split across writes (the session rows locked, then re-derived), lose no
/// trace's sums and never deadlock: every writer locks sessions in one
/// order.
#[test]
fn postgres_concurrent_writers_grow_the_same_sessions() {
    use conformance::record;
    use serde_json::json;
    let (_schema, store) = open_postgres();
    let store = Arc::new(store);
    const SESSIONS: u8 = 5;
    fn llm(t: u8, s: u8, parent: Option<u8>) -> SpanRecord {
        let session = format!("s{}", t % SESSIONS);
        let mut r = record(
            "p",
            t,
            s,
            parent,
            i64::from(t),
            json!({"session.id": session, "openinference.span.kind": "LLM"}),
        );
        r.facts.tokens.total = i64::from(t);
        r.facts.cost.total = f64::from(t) / 1000.0;
        r
    }
    // The model call is the child; the root names the session alone.
    four_writers(
        &store,
        1,
        40,
        SESSIONS,
        |t| llm(t, 1, None),
        |t| llm(t, 2, Some(1)),
        |t| {
            let session = format!("s{}", t % SESSIONS);
            record(
                "p",
                t,
                1,
                None,
                i64::from(t),
                json!({"session.id": session}),
            )
        },
    );
    for k in 0..SESSIONS {
        let traces: Vec<i64> = (1..=160i64)
            .filter(|t| t % i64::from(SESSIONS) == i64::from(k))
            .collect();
        let s = store.session("p", &format!("s{k}")).expect("session");
        assert_eq!(s.num_traces, traces.len() as i64, "s{k}");
        assert_eq!(s.token_count.total, traces.iter().sum::<i64>(), "s{k}");
        let cost: f64 = traces.iter().map(|&t| t as f64 / 1000.0).sum();
        assert!(
            (s.cost.total - cost).abs() < 1e-9,
            "s{k}: {} against {cost}",
            s.cost.total
        );
    }
}

/// Concurrent writers whose turns now repeat and now change what their
/// session last grew by (a session's row remembers its last traces' user,
/// tags and metadata, and a turn repeating them writes no filter row):
/// every session is found by every user, tag and metadata value its traces
/// gave, and by no other.
#[test]
fn postgres_concurrent_writers_keep_every_filter_row() {
    use conformance::{filtered, record};
    use serde_json::json;
    use std::collections::BTreeSet;
    let (_schema, store) = open_postgres();
    let store = Arc::new(store);
    const SESSIONS: u8 = 5;
    // Traces of ten in a row give the same values: a session's turns repeat
    // them twice, then change.
    fn gives(t: u8) -> (String, String, String, String) {
        let block = t / 10;
        (
            format!("s{}", t % SESSIONS),
            format!("u{}", block % 3),
            format!("g{}", block % 4),
            format!("m{}", block % 6),
        )
    }
    fn span(t: u8, s: u8, parent: Option<u8>) -> openinference_session_server::model::SpanRecord {
        let (session, user, tag, meta) = gives(t);
        let attributes = json!({"session.id": session, "user.id": user, "tag.tags": [tag],
            "metadata": format!("{{\"k\": \"{meta}\"}}")});
        record("p", t, s, parent, i64::from(t), attributes)
    }
    four_writers(
        &store,
        0,
        30,
        SESSIONS,
        |t| span(t, 1, None),
        |t| span(t, 2, Some(1)),
        |t| span(t, 1, None),
    );
    let expected = |pick: &dyn Fn(u8) -> String, value: &str| -> Vec<String> {
        let found: BTreeSet<String> = (0..120u8)
            .filter(|&t| pick(t) == value)
            .map(|t| gives(t).0)
            .collect();
        found.into_iter().collect()
    };
    for v in 0..3 {
        let user = format!("u{v}");
        assert_eq!(
            filtered(&*store, Some(&user), None, None),
            expected(&|t| gives(t).1, &user),
            "{user}"
        );
    }
    for v in 0..4 {
        let tag = format!("g{v}");
        assert_eq!(
            filtered(&*store, None, Some(&tag), None),
            expected(&|t| gives(t).2, &tag),
            "{tag}"
        );
    }
    for v in 0..6 {
        let meta = format!("m{v}");
        assert_eq!(
            filtered(&*store, None, None, Some(("k", &meta))),
            expected(&|t| gives(t).3, &meta),
            "{meta}"
        );
    }
}

/// Writers sending the same spans at once (an exporter's retry racing its
/// first attempt, or two servers given one batch): spans are inserted as
/// new, and a write that meets one stored meanwhile runs again skipping it.
/// Every span is stored once and counted once as inserted; no write fails.
#[test]
fn postgres_writers_of_the_same_spans_store_each_once() {
    use conformance::record;
    use serde_json::json;
    let (_schema, store) = open_postgres();
    let store = Arc::new(store);
    // Three batches of ten traces, each a root and a child, in sessions s0-s4.
    let batch = |b: u8| -> Vec<SpanRecord> {
        (b * 10 + 1..=b * 10 + 10)
            .flat_map(|t| {
                let session = json!({"session.id": format!("s{}", t % 5)});
                [
                    record("p", t, 1, None, i64::from(t), session),
                    record("p", t, 2, Some(1), i64::from(t), json!({})),
                ]
            })
            .collect()
    };
    let threads: Vec<_> = (0..4u8)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                // Each writer its own order of the same batches.
                let mut counts = (0, 0);
                for b in [w % 3, (w + 1) % 3, (w + 2) % 3] {
                    let outcome = store.write(&batch(b)).expect("no write fails");
                    counts.0 += outcome.inserted;
                    counts.1 += outcome.duplicates;
                }
                counts
            })
        })
        .collect();
    let (inserted, duplicates) = threads
        .into_iter()
        .map(|t| t.join().expect("writer thread"))
        .fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
    assert_eq!(inserted, 60, "every span counted inserted once");
    assert_eq!(duplicates, 3 * 60);
    for k in 0..5u8 {
        let s = store.session("p", &format!("s{k}")).expect("session");
        assert_eq!(s.num_traces, 6, "s{k}");
    }
    let t = store.trace("p", &[7; 16]).expect("trace 7");
    assert_eq!(t.spans.len(), 2);
}

/// PostgreSQL text cannot hold NUL: such a span is still stored, its body
/// (attributes) exact, and the derived columns carry U+FFFD instead.
#[test]
fn postgres_stores_nul_characters() {
    use conformance::record;
    use serde_json::json;
    let (_schema, store) = open_postgres();
    let attrs = json!({"session.id": "a\u{0}b", "input.value": "hi\u{0}there", "tag.tags": ["t\u{0}"], "metadata": "{\"k\u{0}\": \"v\u{0}\"}"});
    store
        .write(&[record("p\u{0}", 1, 1, None, 0, attrs.clone())])
        .expect("write with NUL");
    let s = store
        .session("p\u{0}", "a\u{0}b")
        .expect("session by the id as sent");
    assert_eq!(s.session_id, "a\u{fffd}b");
    assert_eq!(s.first_input.expect("input").value, "hi\u{fffd}there");
    assert_eq!(s.tags, ["t\u{fffd}"]);
    let t = store.trace("p\u{0}", &[1; 16]).expect("trace");
    assert_eq!(
        serde_json::Value::Object(t.spans[0].attributes.clone()),
        attrs
    );
}

/// Long texts are compressed with lz4 where the server has it (pglz was a
/// fifth of PostgreSQL's CPU on history-heavy ingest): a trace's input, here;
/// a span's long text (in its body, compressed by the server) reads back
/// exactly.
#[test]
fn postgres_compresses_long_texts_with_lz4() {
    use conformance::record;
    use serde_json::json;
    let (schema, store) = open_postgres();
    let long: String = (0..3000).map(|i| format!("turn {i}: ça va 🙂 ")).collect();
    store
        .write(&[record(
            "p",
            1,
            1,
            None,
            0,
            json!({"session.id": "s", "input.value": long}),
        )])
        .expect("write");
    let t = store.trace("p", &[1; 16]).expect("trace");
    assert_eq!(t.spans[0].attributes["input.value"], json!(long));
    let mut client = postgres::Client::connect(&database_url(), postgres::NoTls).unwrap();
    let has_lz4: bool = client
        .query_one(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
            &[],
        )
        .unwrap()
        .get(0);
    let stored: Option<String> = client
        .query_one(
            &format!(
                "SELECT pg_column_compression(input_value) FROM \"{}\".traces",
                schema.0
            ),
            &[],
        )
        .unwrap()
        .get(0);
    let expected = if has_lz4 { "lz4" } else { "pglz" };
    assert_eq!(stored.as_deref(), Some(expected));
}

/// Deleting a session while another connection keeps writing traces into it
/// (retrying on deadlocks) leaves aggregates that match the traces stored.
/// A deletion that a new trace joined every time it retried is refused as a
/// conflict (on a loaded machine it happens): the store stays consistent
/// either way.
#[test]
fn postgres_delete_racing_writes_stays_consistent() {
    use conformance::record;
    use openinference_session_server::store::{PageQuery, StoreError, TraceQuery};
    use serde_json::json;
    let (schema, store) = open_postgres();
    let store = Arc::new(store);
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for t in 1..=40u8 {
                // A new trace of the session, and a late child of the previous one.
                let mut batch = vec![record(
                    "p",
                    t,
                    1,
                    None,
                    i64::from(t),
                    json!({"session.id": "s"}),
                )];
                if t > 1 {
                    batch.push(record(
                        "p",
                        t - 1,
                        2,
                        Some(1),
                        i64::from(t),
                        json!({"session.id": "s"}),
                    ));
                }
                store.write(&batch).expect("write during deletes");
            }
        })
    };
    let deleter = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..40 {
                match store.delete_session("p", "s") {
                    Ok(()) | Err(StoreError::NotFound(_) | StoreError::Conflict(_)) => {}
                    Err(e) => panic!("delete during writes: {e}"),
                }
            }
        })
    };
    writer.join().expect("writer");
    deleter.join().expect("deleter");
    let traces = store
        .traces(
            "p",
            &TraceQuery {
                page: PageQuery {
                    limit: 1000,
                    cursor: None,
                },
                session_id: Some("s".into()),
                ..Default::default()
            },
        )
        .expect("traces");
    match store.session("p", "s") {
        Ok(s) => assert_eq!(s.num_traces as usize, traces.data.len()),
        Err(StoreError::NotFound(_)) => assert!(traces.data.is_empty()),
        Err(e) => panic!("{e}"),
    }
    let all = store
        .traces(
            "p",
            &TraceQuery {
                page: PageQuery {
                    limit: 1000,
                    cursor: None,
                },
                ..Default::default()
            },
        )
        .expect("all traces");
    assert_eq!(
        all.data.len(),
        traces.data.len(),
        "no trace left without its session"
    );
    let check = PostgresStore::check(&url_in_schema(&schema.0)).expect("check");
    assert!(check.ok, "{}", check.detail);
}

/// The URL of the test database with `schema` as its search path, for
/// what takes a URL (`PostgresStore::check`).
fn url_in_schema(schema: &str) -> String {
    let url = database_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

/// Deleting a project while other connections keep writing to it leaves no
/// span, trace, session or session user behind without its project or
/// session (no foreign key rules them out: the project's row lock does), and
/// each deletion either waits for a write or the write for it. Three rounds:
/// without the lock, one round in two left rows behind.
#[test]
fn postgres_delete_project_racing_writes_leaves_nothing_behind() {
    use conformance::record;
    use openinference_session_server::store::{PageQuery, StoreError, TraceQuery};
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (schema, store) = open_postgres();
    let store = Arc::new(store);
    for round in 0..3 {
        let project = format!("p{round}");
        let writers: Vec<_> = (0..2u8)
            .map(|w| {
                let (store, project) = (store.clone(), project.clone());
                std::thread::spawn(move || {
                    for t in 1..=120u8 {
                        let (trace, session) = (w * 120 + t, format!("s{}", t % 5));
                        let batch = vec![
                            record(
                                &project,
                                trace,
                                1,
                                None,
                                i64::from(t),
                                json!({"session.id": session, "user.id": "u"}),
                            ),
                            record(
                                &project,
                                trace,
                                2,
                                Some(1),
                                i64::from(t),
                                json!({"session.id": session}),
                            ),
                        ];
                        store.write(&batch).expect("write during project deletes");
                    }
                })
            })
            .collect();
        let writing = std::sync::Arc::new(AtomicBool::new(true));
        let deleter = {
            let (store, writing, project) = (store.clone(), writing.clone(), project.clone());
            std::thread::spawn(move || {
                let mut deleted = 0;
                while writing.load(Ordering::Relaxed) {
                    match store.delete_project(&project) {
                        Ok(()) => deleted += 1,
                        Err(StoreError::NotFound(_)) => {}
                        Err(e) => panic!("project delete during writes: {e}"),
                    }
                }
                deleted
            })
        };
        for w in writers {
            w.join().expect("writer");
        }
        writing.store(false, Ordering::Relaxed);
        assert!(
            deleter.join().expect("deleter") > 0,
            "some deletes raced the writes"
        );
        let check = PostgresStore::check(&url_in_schema(&schema.0)).expect("check");
        assert!(check.ok, "round {round}: {}", check.detail);
        // What is left of the project reads back whole: every session's count is its traces'.
        if let Ok(page) = store.sessions(&project, &Default::default()) {
            for s in page.data {
                let query = TraceQuery {
                    page: PageQuery {
                        limit: 1000,
                        cursor: None,
                    },
                    session_id: Some(s.session_id.clone()),
                    ..Default::default()
                };
                let traces = store.traces(&project, &query).expect("traces");
                assert_eq!(s.num_traces as usize, traces.data.len(), "{}", s.session_id);
            }
        }
    }
}

/// A database written by server 0.1.0 (schema version 3: `pg_dump` of its
/// schema after ingesting the chain-root fixture, committed) opens: the
/// migrations since apply, what it held reads back, and it takes new writes.
#[test]
fn postgres_migrates_a_database_written_by_0_1_0() {
    use conformance::record;
    use serde_json::json;
    let schema = Schema(schema_name("v010"));
    let dump = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/postgres/written-by-0.1.0.sql"
    ))
    .expect("the dump")
    .replace("oi_v010", &schema.0);
    let mut client = postgres::Client::connect(&database_url(), postgres::NoTls).expect("connect");
    client.batch_execute(&dump).expect("load the 0.1.0 schema");
    let store = PostgresStore::open_in_schema(&database_url(), &schema.0).expect("migrate");
    assert_eq!(
        store
            .session("support-bot", "sess-7f3a")
            .expect("session")
            .num_traces,
        3
    );
    conformance::fixture_0_1_0_is_found_by_search_and_filters(&store);
    store
        .write(&[record(
            "support-bot",
            9,
            1,
            None,
            0,
            json!({"session.id": "new"}),
        )])
        .expect("a new write");
    assert!(store.health().writable);
}

/// The store trains a zstd dictionary on the span bodies it compresses,
/// stores it before compressing anything with it, and the bodies compressed
/// with it are smaller. Another server on the same database reads them
/// (loading the dictionary when a body first names it) and stores its own
/// under the next id; every span reads back exactly, after a restart too.
/// `check` finds a damaged dictionary and the bodies of one that is gone,
/// and reading them is an error, not a crash.
#[test]
fn postgres_trains_compression_dictionaries_and_reads_everything_back() {
    let (schema, first) = open_postgres();
    // Open before `first` trains: it learns of the dictionary from a body.
    let second = PostgresStore::open_in_schema(&database_url(), &schema.0).expect("second");
    use conformance::{
        parcel_trace_id as trace_id, read_parcels_back as read_back, write_parcels as write,
    };
    let mut db = postgres::Client::connect(&url_in_schema(&schema.0), postgres::NoTls).unwrap();
    // (dictionary named, body bytes) of the spans of traces `range`.
    let bodies =
        |db: &mut postgres::Client, range: std::ops::Range<u32>| -> (Vec<Option<u32>>, usize) {
            let mut named = Vec::new();
            let mut bytes = 0;
            for i in range {
                let body: Vec<u8> = db
                    .query_one(
                        "SELECT body FROM spans WHERE trace_id = $1",
                        &[&&trace_id(i)[..]],
                    )
                    .unwrap()
                    .get(0);
                named.push(zstd::zstd_safe::get_dict_id_from_frame(&body).map(u32::from));
                bytes += body.len();
            }
            (named, bytes)
        };
    // Spans until `first` has compressed enough to train; the write after
    // the training stores the dictionary, and the writes after it use it.
    let train = |store: &PostgresStore, from: u32| -> u32 {
        let mut at = from;
        while !store.finish_compression_training() {
            write(store, at..at + 300);
            at += 300;
            assert!(at < from + 30_000, "no training after {} spans", at - from);
        }
        write(store, at..at + 300);
        at + 300
    };
    let trained_at = train(&first, 0);
    write(&first, trained_at..trained_at + 1000);
    let (before, before_bytes) = bodies(&mut db, 0..1000);
    let (after, after_bytes) = bodies(&mut db, trained_at..trained_at + 1000);
    assert!(
        before.iter().all(Option::is_none),
        "compressed alone before"
    );
    assert!(
        after.iter().all(|d| *d == Some(32_768)),
        "bodies compressed with the dictionary: {:?}",
        &after[..5]
    );
    assert!(
        after_bytes * 10 < before_bytes * 8,
        "span bodies {before_bytes} bytes without the dictionary, {after_bytes} with"
    );
    read_back(&second, 0..trained_at + 1000);

    // The second server trains its own, stored under the next id.
    let from = trained_at + 1000;
    let end = train(&second, from) + 500;
    write(&second, end - 500..end);
    let ids: Vec<i32> = db
        .query("SELECT id FROM compression_dictionaries ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [32_768, 32_769]);
    assert!(
        bodies(&mut db, end - 500..end)
            .0
            .iter()
            .all(|d| *d == Some(32_769))
    );
    read_back(&first, 0..end);
    drop((first, second));

    // Reopened, a store reads everything and compresses with the newest.
    let third = PostgresStore::open_in_schema(&database_url(), &schema.0).expect("third");
    read_back(&third, 0..end);
    write(&third, end..end + 10);
    assert!(
        bodies(&mut db, end..end + 10)
            .0
            .iter()
            .all(|d| *d == Some(32_769))
    );
    drop(third);
    let check = PostgresStore::check(&url_in_schema(&schema.0)).expect("check");
    assert!(check.ok, "{}", check.detail);

    // A damaged dictionary, then none: `check` says which; a store still
    // opens, reads what was compressed without it, and says which
    // dictionary the rest needs.
    let mut unreadable = |change: &str, reported: &str| {
        db.batch_execute(change).unwrap();
        let check = PostgresStore::check(&url_in_schema(&schema.0)).expect("check");
        assert!(
            !check.ok && check.detail.contains(reported),
            "{}",
            check.detail
        );
        let store = PostgresStore::open_in_schema(&database_url(), &schema.0).expect("open");
        read_back(&store, 0..1000);
        let err = store.trace("p", &trace_id(trained_at + 1)).unwrap_err();
        assert!(err.to_string().contains("32768"), "{err}");
    };
    unreadable(
        "UPDATE compression_dictionaries SET dictionary = '\\x00' WHERE id = 32768",
        "compression dictionary 32768 is damaged",
    );
    unreadable(
        "DELETE FROM compression_dictionaries",
        "spans compressed with a dictionary the database does not hold",
    );
}
