//! The storage conformance suite run against PostgreSQL, each check on a fresh,
//! empty schema of the test database (`OI_SESSIONS_TEST_DATABASE_URL`, as
//! printed by `scripts/postgres.sh`); the schemas are dropped afterwards.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openinference_session_server::store::Store;
use openinference_session_server::store::conformance;
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

/// Drops the schemas a test created, whatever the outcome.
struct Schemas(Rc<RefCell<Vec<String>>>);

impl Drop for Schemas {
    fn drop(&mut self) {
        let names = self.0.borrow();
        if names.is_empty() {
            return;
        }
        if let Ok(mut client) = postgres::Client::connect(&database_url(), postgres::NoTls) {
            for name in names.iter() {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"));
            }
        }
    }
}

fn fresh(tag: &str) -> (Schemas, impl FnMut() -> PostgresStore) {
    let url = database_url();
    let names = Rc::new(RefCell::new(Vec::new()));
    let guard = Schemas(names.clone());
    let tag = tag.to_owned();
    (guard, move || {
        let schema = schema_name(&tag);
        names.borrow_mut().push(schema.clone());
        PostgresStore::open_in_schema(&url, &schema).expect("open postgres store")
    })
}

#[test]
fn postgres_passes_the_conformance_suite() {
    let (_schemas, open) = fresh("conf");
    conformance::run_all(open);
}

#[test]
fn postgres_reopens_with_data_and_schema() {
    let url = database_url();
    let (_schemas, mut open) = fresh("reopen");
    let store = open();
    conformance::idempotent_writes(store);
    // Reopen the same schema: the migrations are not re-applied, the data is there.
    let name = _schemas.0.borrow()[0].clone();
    let store = PostgresStore::open_in_schema(&url, &name).expect("reopen");
    assert_eq!(store.session("p", "s1").expect("session").num_traces, 1);
}

/// A schema written by a newer server is refused, not silently used.
#[test]
fn postgres_refuses_a_newer_schema() {
    let url = database_url();
    let (_schemas, mut open) = fresh("newer");
    drop(open());
    let name = _schemas.0.borrow()[0].clone();
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
    use openinference_session_server::store::conformance::record;
    use serde_json::json;
    let url = database_url();
    let (_schemas, mut open) = fresh("concurrent");
    drop(open());
    let name = _schemas.0.borrow()[0].clone();
    let store = std::sync::Arc::new(PostgresStore::open_in_schema(&url, &name).expect("open"));
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
                        let mut r = record("p", t, if s == 5 { 100 } else { s + 1 }, parent, i64::from(s), json!({"session.id": session, "openinference.span.kind": "LLM", "llm.token_count.total": 10}));
                        r.facts.tokens.total = 10;
                        r
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
    assert_eq!(s.token_count.total, 8 * 6 * 10);
    for child in 0..5 {
        assert!(
            store.session("p", &format!("child-{child}")).is_err(),
            "child-{child} emptied"
        );
    }
}

/// PostgreSQL text cannot hold NUL: such a span is still stored, its body
/// (attributes) exact, and the derived columns carry U+FFFD instead.
#[test]
fn postgres_stores_nul_characters() {
    use openinference_session_server::store::conformance::record;
    use serde_json::json;
    let (_schemas, mut open) = fresh("nul");
    let store = open();
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

/// Deleting a session while another connection keeps writing traces into it
/// (retrying on deadlocks) leaves aggregates that match the traces stored.
#[test]
fn postgres_delete_racing_writes_stays_consistent() {
    use openinference_session_server::store::conformance::record;
    use openinference_session_server::store::{PageQuery, StoreError, TraceQuery};
    use serde_json::json;
    let url = database_url();
    let (_schemas, mut open) = fresh("race");
    drop(open());
    let name = _schemas.0.borrow()[0].clone();
    let store = std::sync::Arc::new(PostgresStore::open_in_schema(&url, &name).expect("open"));
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
                    Ok(()) | Err(StoreError::NotFound(_)) => {}
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
}
