//! The storage conformance suite run against the SQLite backend, one test per
//! clause, each on a fresh database file in a temp dir; then what is SQLite's
//! own (reopening, text reference counts).

mod conformance;

use openinference_session_server::store::sqlite::{SqliteStore, text_digest};

fn open_sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_dir(dir.path()).expect("open sqlite");
    (dir, store)
}

mod sqlite {
    use super::{conformance, open_sqlite};
    crate::conformance_suite!(open_sqlite);
}

#[test]
fn sqlite_reopens_with_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        conformance::idempotent_writes(store);
    }
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    use openinference_session_server::store::Store;
    assert_eq!(store.session("p", "s1").unwrap().num_traces, 1);
}

/// SQLite does not enforce its foreign keys (a lookup a row and a statement
/// journal a statement on the write path): every deletion removes what
/// points at the row itself. After each kind of deletion (a session deleted,
/// a session emptied by its trace moving away, a project deleted, a purge)
/// no row points at one that is gone, as `oi-sessions check` reads them.
#[test]
fn sqlite_deletions_leave_no_row_pointing_at_a_gone_one() {
    use conformance::record;
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let held = |session: &str, user: &str| {
        json!({"session.id": session, "user.id": user, "tag.tags": ["vip", session],
               "metadata": format!("{{\"plan\": \"{session}\"}}")})
    };
    let no_gone_parent = |step: &str| {
        let check = store.full_check().unwrap();
        assert!(check.ok, "after {step}: {}", check.detail);
    };
    store
        .write(&[
            record("p", 1, 1, None, 0, held("a", "ann")),
            record("p", 2, 1, None, 1, held("a", "ann")),
            record("p", 3, 1, None, 2, held("b", "bob")),
            // A trace whose child names one session, and its root later another.
            record("p", 4, 2, Some(1), 3, held("c", "cat")),
            record("q", 5, 1, None, 0, held("d", "dan")),
        ])
        .unwrap();
    no_gone_parent("the writes");
    store.delete_session("p", "a").unwrap();
    no_gone_parent("a session deleted");
    store
        .write(&[record("p", 4, 1, None, 3, held("e", "eve"))])
        .unwrap();
    assert!(
        store.session("p", "c").is_err(),
        "the session its trace left"
    );
    no_gone_parent("a session emptied by its trace moving away");
    store.delete_project("q").unwrap();
    no_gone_parent("a project deleted");
    store.set_default_retention(1);
    let now = openinference_session_server::store::queries::now_ns();
    assert_eq!(
        store
            .purge_expired(now + 1_000_000_000, 10)
            .unwrap()
            .deleted,
        2
    );
    no_gone_parent("a purge");
}

/// A deleted session leaves none of its texts in the file, while a text that
/// another session shares stays.
#[test]
fn sqlite_delete_releases_texts() {
    use conformance::record;
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let secret = "my card number is 4111 1111 1111 1111, please keep it private".to_owned();
    let shared = "a system prompt that both conversations send with every request".to_owned();
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "a", "input.value": secret, "llm.input_messages.0.message.content": shared})),
            record("p", 2, 1, None, 0, json!({"session.id": "b", "llm.input_messages.0.message.content": shared})),
        ])
        .unwrap();
    // Re-sending must not count references twice.
    store
        .write(&[record("p", 1, 1, None, 0, json!({"session.id": "a", "input.value": secret, "llm.input_messages.0.message.content": shared}))])
        .unwrap();
    // A trace whose turn input changes as its spans arrive: the child's input
    // first, then the root's replaces it.
    let child = "the question as the model call saw it, with its whole prompt around it".to_owned();
    let root = "the question as the user typed it into the chat box of the shop".to_owned();
    let input = |store: &SqliteStore| {
        store
            .trace("p", &[3; 16])
            .unwrap()
            .trace
            .input
            .unwrap()
            .value
    };
    store
        .write(&[record(
            "p",
            3,
            2,
            Some(1),
            1,
            json!({"session.id": "a", "input.value": child}),
        )])
        .unwrap();
    assert_eq!(input(&store), child);
    store
        .write(&[record(
            "p",
            3,
            1,
            None,
            0,
            json!({"session.id": "a", "input.value": root}),
        )])
        .unwrap();
    assert_eq!(input(&store), root);
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(
        report.ok,
        "reference counts after re-sending and re-deriving: {}",
        report.detail
    );
    let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    let count = |t: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM texts WHERE digest = ?1",
            [&text_digest(t.as_bytes())[..]],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        (count(&secret), count(&shared)),
        (1, 1),
        "each text stored once"
    );
    store.delete_session("p", "a").unwrap();
    assert_eq!(count(&secret), 0, "the deleted conversation's text is gone");
    assert_eq!(
        (count(&child), count(&root)),
        (0, 0),
        "a replaced turn input is released"
    );
    assert_eq!(count(&shared), 1, "a text still used elsewhere stays");
    let t = store.trace("p", &[2; 16]).unwrap();
    assert_eq!(
        t.spans[0].attributes["llm.input_messages.0.message.content"],
        json!(shared)
    );
    store.delete_session("p", "b").unwrap();
    let left: i64 = db
        .query_row("SELECT count(*) FROM texts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

/// Long texts that embed each other (a chat's request JSON, turn after turn)
/// read back exactly, share their chunks on disk, and deleting one session
/// releases only the chunks no other text uses.
#[test]
fn sqlite_long_texts_share_chunks_and_read_back_exactly() {
    use conformance::record;
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    // A conversation's request bodies: each holds every earlier message, and
    // multi-byte characters fall across chunk boundaries somewhere.
    let mut seed = 7u64;
    let mut prose = |words: usize| -> String {
        const WORDS: [&str; 12] = [
            "order", "Grüße", "arrived", "late", "ça", "va", "🙂", "refund", "parcel", "#4411",
            "sorry", "tracking",
        ];
        (0..words)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                WORDS[(seed >> 59) as usize % WORDS.len()]
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut messages = Vec::new();
    let mut requests = Vec::new();
    for turn in 0..8u64 {
        messages.push(json!({"role": "user", "content": format!("turn {turn}: {}", prose(90))}));
        messages
            .push(json!({"role": "assistant", "content": format!("reply {turn}: {}", prose(90))}));
        requests.push(json!({"model": "m", "messages": messages}).to_string());
    }
    let spans: Vec<_> = requests
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let session = if i < 4 { "a" } else { "b" };
            record(
                "p",
                i as u8 + 1,
                1,
                None,
                i as i64,
                json!({"session.id": session, "input.value": body}),
            )
        })
        .collect();
    store.write(&spans).unwrap();
    for (i, body) in requests.iter().enumerate() {
        let t = store.trace("p", &[i as u8 + 1; 16]).unwrap();
        assert_eq!(
            t.spans[0].attributes["input.value"],
            json!(body),
            "request {i}"
        );
    }
    let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    let stored: i64 = db
        .query_row("SELECT sum(length(data)) FROM chunks", [], |r| r.get(0))
        .unwrap();
    let total: usize = requests.iter().map(String::len).sum();
    assert!(
        (stored as usize) < requests.last().unwrap().len(),
        "{stored} bytes of chunks for {total} bytes of requests"
    );
    let chunks = || -> i64 {
        db.query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .unwrap()
    };
    let before = chunks();
    store.delete_session("p", "b").unwrap();
    let after = chunks();
    assert!(after > 0 && after < before, "chunks {before} -> {after}");
    for (i, body) in requests.iter().enumerate().take(4) {
        let t = store.trace("p", &[i as u8 + 1; 16]).unwrap();
        assert_eq!(
            t.spans[0].attributes["input.value"],
            json!(body),
            "request {i} after the delete"
        );
    }
    store.delete_session("p", "a").unwrap();
    assert_eq!(chunks(), 0, "no chunk outlives its texts");
}

/// Many spans whose long texts are pieced together at random from shared
/// parts (so chunks are shared across texts at every kind of boundary, and
/// multi-byte characters fall on some): every span reads back exactly as
/// written, before and after half the sessions are deleted, and deleting the
/// rest leaves no text and no chunk.
#[test]
fn sqlite_random_texts_read_back_exactly_through_deletes() {
    use conformance::record;
    use openinference_session_server::store::Store;
    use serde_json::{Value, json};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    fn next(x: &mut u64, n: u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % n
    }
    let mut x = 0x9e37_79b9_u64;
    let words = [
        "order",
        "Grüße",
        "ça",
        "🙂",
        "refund",
        "\"quoted\"",
        "line\nbreak",
        "#4411",
        "tracking",
        "été",
    ];
    let parts: Vec<String> = (0..40)
        .map(|_| {
            let n = 20 + next(&mut x, 300);
            (0..n)
                .map(|_| words[next(&mut x, words.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let text = |x: &mut u64, most: u64| -> String {
        let pieces = 1 + next(x, most);
        (0..pieces)
            .map(|_| parts[next(x, parts.len() as u64) as usize].as_str())
            .collect::<Vec<_>>()
            .join("|")
    };
    let mut written: Vec<(u8, u8, Value)> = Vec::new();
    for t in 1..=60u8 {
        let session = format!("s{}", t % 12);
        let spans: Vec<_> = (1..=3u8)
            .map(|sp| {
                let attrs = json!({
                    "session.id": session,
                    "input.value": text(&mut x, 12),
                    "output.value": text(&mut x, 3),
                    "llm.input_messages.0.message.content": text(&mut x, 2),
                    "short": "under the interning length",
                });
                written.push((t, sp, attrs.clone()));
                record("p", t, sp, (sp > 1).then_some(1), i64::from(t), attrs)
            })
            .collect();
        store.write(&spans).unwrap();
    }
    let check = |alive: &dyn Fn(u8) -> bool| {
        for (t, sp, attrs) in &written {
            if !alive(*t) {
                assert!(store.trace("p", &[*t; 16]).is_err(), "trace {t} deleted");
                continue;
            }
            let trace = store.trace("p", &[*t; 16]).unwrap();
            let span = trace
                .spans
                .iter()
                .find(|s| s.span_id == format!("{:02x}", sp).repeat(8))
                .unwrap();
            for (k, v) in attrs.as_object().unwrap() {
                assert_eq!(&span.attributes[k], v, "trace {t} span {sp} {k}");
            }
        }
    };
    check(&|_| true);
    for s in 0..6 {
        store.delete_session("p", &format!("s{s}")).unwrap();
    }
    check(&|t| t % 12 >= 6);
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(
        report.ok,
        "reference counts after the deletes: {}",
        report.detail
    );
    for s in 6..12 {
        store.delete_session("p", &format!("s{s}")).unwrap();
    }
    let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    let left: (i64, i64) = db
        .query_row(
            "SELECT (SELECT count(*) FROM texts), (SELECT count(*) FROM chunks)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(left, (0, 0));
}

/// Writes a one-span trace of session `session` in project "p" with these
/// input and output texts.
fn write_texts(store: &SqliteStore, trace: u8, session: &str, input: &str, output: &str) {
    use openinference_session_server::store::Store;
    store
        .write(&[conformance::record(
            "p",
            trace,
            1,
            None,
            i64::from(trace),
            serde_json::json!({"session.id": session, "input.value": input, "output.value": output}),
        )])
        .unwrap();
}

/// A merge of the digests into their index goes in slices, one before each
/// span write: no write inserts more than a slice, a merge under way leaves
/// digests indexed past the watermark, and a store closed in the middle of
/// one (as by a crash) does it again after a restart: every text found
/// again, stored once, the index consistent.
#[test]
fn sqlite_a_digest_merge_goes_in_slices_and_survives_a_restart_midway() {
    use openinference_session_server::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    let text = |i: u8, what: &str| format!("the {what} of turn {i}, long enough to be interned");
    // The index's size, and how many of its entries name rows past the watermark.
    let index = || -> (i64, i64) {
        db.query_row(
            "SELECT count(*),
                    count(*) FILTER (WHERE d.id > (SELECT upto FROM digests_indexed WHERE name = 'texts'))
             FROM text_digests d",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    // 16 digests a merge, slices of 2.
    let (merge_at, slice) = (16, 2);
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    store.merge_digests_at(merge_at);
    let mut midway = false;
    let mut i = 0u8;
    while !midway {
        assert!(i < 100, "no merge seen under way");
        let before = index().0;
        write_texts(&store, i, "s", &text(i, "question"), &text(i, "answer"));
        let (size, past_watermark) = index();
        assert!(
            size - before <= slice,
            "a write merged {} digests",
            size - before
        );
        midway = past_watermark > 0;
        i += 1;
    }
    // Closed in the middle of a merge.
    drop(store);
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    store.merge_digests_at(merge_at);
    for k in 0..i {
        write_texts(
            &store,
            100 + k,
            "again",
            &text(k, "question"),
            &text(k, "answer"),
        );
    }
    for k in 0..i {
        let t = store.trace("p", &[100 + k; 16]).unwrap();
        assert_eq!(
            t.spans[0].attributes["output.value"],
            serde_json::json!(text(k, "answer"))
        );
    }
    let (rows, distinct): (i64, i64) = db
        .query_row(
            "SELECT count(*), count(DISTINCT digest) FROM texts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (i64::from(i) * 2, i64::from(i) * 2));
    drop(store);
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(report.ok, "{}", report.detail);
}

/// Texts stored before a restart and sent again after it: the new server
/// does not know them, works them out as new before the writer lock and
/// tries to insert them; the writer finds them stored instead (a text, and
/// the chunks of a longer text that embeds it), and every reference is
/// counted once, on the stored row.
#[test]
fn sqlite_texts_stored_before_a_restart_are_found_again() {
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let long: String = (0..900).map(|i| format!("turn {i} ça 🙂 ")).collect();
    let short = "a short text, interned but not chunked, stored whole";
    let longer = format!("{long} and one more turn");
    let write = |store: &SqliteStore, trace: u8, input: &str| {
        write_texts(store, trace, "s", input, short);
    };
    let rows = |dir: &std::path::Path| -> (i64, i64) {
        let db = rusqlite::Connection::open(dir.join("oi-sessions.sqlite3")).unwrap();
        db.query_row(
            "SELECT (SELECT count(*) FROM texts), (SELECT count(*) FROM chunks)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        write(&store, 1, &long);
    }
    let (texts, chunks) = rows(dir.path());
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    write(&store, 2, &long);
    write(&store, 3, &longer);
    drop(store);
    let (texts_after, chunks_after) = rows(dir.path());
    assert_eq!(texts_after, texts + 1, "only the longer text is new");
    assert!(
        chunks_after - chunks <= 2,
        "{chunks} chunks before, {chunks_after} after: the longer text's chunks but its \
         last were stored"
    );
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(report.ok, "reference counts: {}", report.detail);
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    for (trace, input) in [(2, &long), (3, &longer)] {
        let t = store.trace("p", &[trace; 16]).unwrap();
        assert_eq!(t.spans[0].attributes["input.value"], json!(input));
        assert_eq!(t.spans[0].attributes["output.value"], json!(short));
    }
}

/// Texts deleted and sent again, alone and inside longer texts, read back
/// exactly: the request works out before the writer lock only the texts and
/// chunks it does not know to be stored, and here what it knew was deleted
/// in between, so the writer must store them itself.
#[test]
fn sqlite_texts_deleted_then_sent_again_read_back_exactly() {
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let long: String = (0..900).map(|i| format!("message {i} ça 🙂 ")).collect();
    let short = "a short text, interned but not chunked, stored whole".to_owned();
    let write = |trace: u8, session: &str, input: &str| {
        write_texts(&store, trace, session, input, &short);
    };
    write(1, "first", &long);
    store.delete_session("p", "first").unwrap();
    // The same texts again, then one that embeds the long one: its chunks
    // were all stored, and deleted.
    let longer = format!("{long} and one more turn");
    write(2, "again", &long);
    store.delete_session("p", "again").unwrap();
    write(3, "longer", &longer);
    write(4, "same", &long);
    for (trace, input) in [(3, &longer), (4, &long)] {
        let t = store.trace("p", &[trace; 16]).unwrap();
        assert_eq!(
            t.spans[0].attributes["input.value"],
            json!(input),
            "trace {trace}"
        );
        assert_eq!(
            t.spans[0].attributes["output.value"],
            json!(short),
            "trace {trace}"
        );
    }
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(report.ok, "reference counts: {}", report.detail);
}

/// `oi-sessions check` (`check_dir`) finds a text whose reference count
/// disagrees with its users, which a later delete would free while in use.
#[test]
fn sqlite_check_finds_wrong_text_reference_counts() {
    use conformance::record;
    use openinference_session_server::store::Store;
    use openinference_session_server::store::sqlite::check_dir;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let long = "a long request body that is stored as chunks ".repeat(60);
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "a", "input.value": long, "output.value": "an answer long enough to be interned, shared"})),
            record("p", 2, 1, None, 0, json!({"session.id": "b", "output.value": "an answer long enough to be interned, shared"})),
        ])
        .unwrap();
    let report = check_dir(dir.path()).unwrap();
    assert!(report.ok, "{}", report.detail);
    let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    db.execute(
        "UPDATE text_uses SET refs = refs - 1
         WHERE id = (SELECT id FROM texts WHERE digest = ?1)",
        [&text_digest(b"an answer long enough to be interned, shared")[..]],
    )
    .unwrap();
    let report = check_dir(dir.path()).unwrap();
    assert!(!report.ok);
    assert!(
        report
            .detail
            .contains("1 stored texts with wrong reference counts"),
        "{}",
        report.detail
    );
    db.execute(
        "UPDATE chunk_uses SET refs = refs + 1 WHERE id = (SELECT min(id) FROM chunks)",
        [],
    )
    .unwrap();
    let report = check_dir(dir.path()).unwrap();
    assert!(
        report
            .detail
            .contains("2 stored texts with wrong reference counts"),
        "{}",
        report.detail
    );
}

/// A database written by server 0.1.0 (schema version 3, committed as a
/// fixture) opens: the migrations since add the search columns (filled from
/// what it holds), the events table and the sessionless-trace index; what it
/// held reads back, and it takes new writes.
#[test]
fn sqlite_migrates_a_database_written_by_0_1_0() {
    use openinference_session_server::store::Store;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sqlite/written-by-0.1.0.sqlite3"
        ),
        dir.path().join("oi-sessions.sqlite3"),
    )
    .unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let session = store.session("support-bot", "sess-7f3a").unwrap();
    assert_eq!(session.num_traces, 3);
    conformance::fixture_0_1_0_is_found_by_search_and_filters(&store);
    let project = &store.projects().unwrap()[0];
    assert_eq!(
        (project.trace_count, project.traces_without_session),
        (3, 0)
    );
    let events = [conformance::event(
        "support-bot",
        9,
        1,
        0,
        "gen_ai.user.message",
        serde_json::json!({"content": "x"}),
    )];
    assert_eq!(store.write_events(&events).unwrap().inserted, 1);

    // The spans, keyed by their trace's row since migration 16, are found
    // through their traces, and sent again they are duplicates.
    let copied = store.copy_spans(0, 1_000).unwrap();
    assert!(!copied.is_empty());
    for span in &copied {
        let trace = store.trace(&span.project, &span.trace_id).unwrap();
        assert_eq!(trace.spans.len() as i64, trace.trace.span_count);
        assert!(trace.spans.iter().any(|s| s.span_id == span.span.span_id));
    }
    let prices = openinference_session_server::pricing::PriceTable::default();
    let again: Vec<_> = copied
        .into_iter()
        .map(|s| s.into_record(&prices).unwrap())
        .collect();
    let outcome = store.write(&again).unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, again.len()));
    assert_eq!(
        store
            .session("support-bot", "sess-7f3a")
            .unwrap()
            .num_traces,
        3
    );
}

/// A database whose texts and chunks are addressed by another digest (SHA-256,
/// before migration 24) is addressed anew on opening: every text, chunked or
/// whole, compressed with the store's dictionary or alone, is found by its
/// new digest, the same texts written again store nothing new, everything
/// reads back, and `check` finds the digest index sound.
#[test]
fn sqlite_texts_stored_under_an_older_digest_are_addressed_anew() {
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    // A long request (chunked), a reply (a whole text), a system prompt all
    // spans share.
    let attributes = |i: u32| {
        let history: String = (0..40)
            .map(|k| {
                format!(
                    "Turn {k} of conversation {}: where is parcel {}? ",
                    i % 50,
                    k * 7 + i % 13
                )
            })
            .collect();
        json!({
            "session.id": format!("s{}", i % 50),
            "input.value": format!(r#"{{"messages":"{history}","model":"gpt-4o-mini"}}"#),
            "output.value": format!(
                "Parcel {} left the depot on day {} and arrives within {} days; its tracking code is {} and the courier calls ahead.",
                i,
                i % 28,
                i % 5 + 1,
                i * 7919 % 100_003
            ),
            "llm.input_messages.0.message.content": "You are a support agent for a parcel service; answer briefly and politely.",
        })
    };
    let write = |store: &SqliteStore, range: std::ops::Range<u32>, first_trace: u32| {
        let spans: Vec<_> = range
            .map(|i| {
                let mut r = conformance::record("p", 0, 1, None, i64::from(i), attributes(i));
                r.trace_id = (u128::from(first_trace + i) + 1).to_be_bytes();
                r
            })
            .collect();
        for batch in spans.chunks(300) {
            store.write(batch).unwrap();
        }
    };
    let db = || rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    let rows = |table: &str| -> i64 {
        db().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    // Enough spans to train a dictionary, and some compressed with it.
    let mut written = 0;
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        while !store.finish_compression_training() {
            write(&store, written..written + 300, 0);
            written += 300;
            assert!(written < 30_000, "no training after {written} spans");
        }
        write(&store, written..written + 600, 0);
        written += 600;
    }
    // Blobs compressed with the dictionary: a zstd frame (after the byte
    // saying so) that names one.
    let dictionary_blobs = db()
        .prepare("SELECT body FROM texts UNION ALL SELECT data FROM chunks")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .filter(|b| {
            let b = b.as_ref().unwrap();
            b.len() > 1 && zstd::zstd_safe::get_dict_id_from_frame(&b[1..]).is_some()
        })
        .count();
    let (texts, chunks) = (rows("texts"), rows("chunks"));
    assert!(texts > 0 && chunks > 0, "{texts} texts, {chunks} chunks");
    // Every digest replaced by another function's, as a database written
    // before migration 24 holds them, its index with them (`user_version`
    // 25: every step of `MIGRATIONS` before it applied).
    db().execute_batch(
        "UPDATE texts SET digest = randomblob(16);
         UPDATE chunks SET digest = randomblob(16);
         DELETE FROM text_digests;
         DELETE FROM chunk_digests;
         INSERT INTO text_digests (digest, id) SELECT digest, id FROM texts;
         INSERT INTO chunk_digests (digest, id) SELECT digest, id FROM chunks;
         UPDATE digests_indexed SET upto = (SELECT max(id) FROM texts) WHERE name = 'texts';
         UPDATE digests_indexed SET upto = (SELECT max(id) FROM chunks) WHERE name = 'chunks';
         PRAGMA user_version = 25;",
    )
    .unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let found = |text: &str| -> i64 {
        db().query_row(
            "SELECT count(*) FROM texts t JOIN text_digests d USING (id, digest) WHERE digest = ?1",
            [&text_digest(text.as_bytes())[..]],
            |r| r.get(0),
        )
        .unwrap()
    };
    for i in [0, 1, written / 2, written - 1] {
        let a = attributes(i);
        for key in [
            "input.value",
            "output.value",
            "llm.input_messages.0.message.content",
        ] {
            assert_eq!(found(a[key].as_str().unwrap()), 1, "span {i}'s {key}");
        }
    }
    // The same texts in new traces: found by their digests, none stored again.
    write(&store, 0..written, written);
    assert_eq!((rows("texts"), rows("chunks")), (texts, chunks));
    for i in (0..written).step_by(97) {
        for trace in [i, written + i] {
            let t = store
                .trace("p", &(u128::from(trace) + 1).to_be_bytes())
                .unwrap();
            assert_eq!(json!(t.spans[0].attributes), attributes(i), "trace {trace}");
        }
    }
    drop(store);
    let check = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(check.ok, "{}", check.detail);
    assert!(
        dictionary_blobs > 0,
        "no text compressed with the dictionary"
    );
}

/// The store trains a zstd dictionary on what it compresses, stores it
/// before compressing anything with it, and the blobs compressed with it are
/// smaller; every span reads back exactly, after a restart too, when the
/// reopened store goes on with the stored dictionary. `check` finds a
/// damaged dictionary and the blobs of one that is gone, and reading them is
/// an error, not a crash.
#[test]
fn sqlite_trains_a_compression_dictionary_and_reads_everything_back() {
    use openinference_session_server::store::Store;
    let dir = tempfile::tempdir().unwrap();
    use conformance::{
        parcel_trace_id as trace_id, read_parcels_back as read_back, write_parcels as write,
    };
    let db = || rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    // (dictionary named, body bytes) of the spans of traces `range`.
    let bodies = |range: std::ops::Range<u32>| -> (Vec<Option<u32>>, usize) {
        let db = db();
        let mut stmt = db
            .prepare("SELECT body FROM spans WHERE trace_id = ?1")
            .unwrap();
        let mut named = Vec::new();
        let mut bytes = 0;
        for i in range {
            let body: Vec<u8> = stmt.query_row([&trace_id(i)[..]], |r| r.get(0)).unwrap();
            named.push(zstd::zstd_safe::get_dict_id_from_frame(&body).map(u32::from));
            bytes += body.len();
        }
        (named, bytes)
    };
    // Spans until the store has compressed enough to train (1 MiB); the
    // write after the training stores the dictionary (its spans were
    // compressed before, without it), and the writes after it use it.
    let mut trained_at = 0;
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        while !store.finish_compression_training() {
            write(&store, trained_at..trained_at + 300);
            trained_at += 300;
            assert!(trained_at < 30_000, "no training after {trained_at} spans");
        }
        write(&store, trained_at..trained_at + 300);
        trained_at += 300;
        write(&store, trained_at..trained_at + 1000);
        read_back(&store, 0..trained_at + 1000);
    }
    let end = trained_at + 1000;
    let stored: Vec<(u32, i64)> = db()
        .prepare("SELECT id, length(dictionary) FROM compression_dictionaries")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 1, "one dictionary: {stored:?}");
    assert_eq!(stored[0].0, 32_768);
    let (before, before_bytes) = bodies(0..1000);
    let (after, after_bytes) = bodies(trained_at..trained_at + 1000);
    assert!(
        before.iter().all(Option::is_none),
        "compressed alone before"
    );
    let named = after.iter().filter(|d| **d == Some(32_768)).count();
    assert_eq!(named, after.len(), "bodies compressed with the dictionary");
    assert!(
        after_bytes * 10 < before_bytes * 8,
        "span bodies {before_bytes} bytes without the dictionary, {after_bytes} with"
    );

    // Reopened, the store reads everything and compresses with the stored
    // dictionary.
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        read_back(&store, 0..end);
        write(&store, end..end + 10);
        read_back(&store, end..end + 10);
    }
    assert!(bodies(end..end + 10).0.iter().all(|d| *d == Some(32_768)));
    let check = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(check.ok, "{}", check.detail);

    // A damaged dictionary, then none: `check` says which; the store still
    // opens, reads what was compressed without it, and says which
    // dictionary the rest needs.
    let unreadable = |change: &str, reported: &str| {
        db().execute_batch(change).unwrap();
        let check = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
        assert!(
            !check.ok && check.detail.contains(reported),
            "{}",
            check.detail
        );
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        read_back(&store, 0..1000);
        let err = store.trace("p", &trace_id(end - 1)).unwrap_err();
        assert!(err.to_string().contains("32768"), "{err}");
    };
    unreadable(
        "UPDATE compression_dictionaries SET dictionary = x'00'",
        "compression dictionary 32768 is damaged",
    );
    unreadable(
        "DELETE FROM compression_dictionaries",
        "spans compressed with a dictionary the database does not hold",
    );
}

/// The digests of texts and chunks are indexed in batches: texts stored
/// across many merges, found again after them (in new traces), after a
/// restart (the writer's part rebuilt from the tables' tails) and after a
/// delete (a deleted text sent again is stored again), each stored once,
/// counted right, read back exactly; `check` finds the index consistent.
#[test]
fn sqlite_text_digests_indexed_in_batches_find_every_text_once() {
    use openinference_session_server::store::Store;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    // Long inputs share chunks (a conversation growing), short outputs are
    // whole texts.
    let input = |i: u8| -> String {
        let turns: String = (0..u32::from(i % 12) * 20 + 80)
            .map(|k| format!("turn {k} of conversation {} ", i % 3))
            .collect();
        format!("{turns} and the question {i}")
    };
    let output = |i: u8| format!("the answer to question {i}, long enough to be interned");
    let open = || {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        store.merge_digests_at(25);
        store
    };
    let read_back = |store: &SqliteStore, trace: u8, i: u8| {
        let t = store.trace("p", &[trace; 16]).unwrap();
        assert_eq!(
            t.spans[0].attributes["input.value"],
            json!(input(i)),
            "trace {trace}"
        );
        assert_eq!(
            t.spans[0].attributes["output.value"],
            json!(output(i)),
            "trace {trace}"
        );
    };
    let stored_once = || {
        let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
        for table in ["texts", "chunks"] {
            let (rows, distinct): (i64, i64) = db
                .query_row(
                    &format!("SELECT count(*), count(DISTINCT digest) FROM {table}"),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(rows, distinct, "{table}: a digest stored twice");
        }
    };
    {
        let store = open();
        for i in 0..60 {
            write_texts(&store, i, &format!("s{}", i % 5), &input(i), &output(i));
        }
        // The same texts in new traces: found (most in the index by now).
        for i in 0..60 {
            write_texts(&store, 100 + i, "again", &input(i), &output(i));
        }
        // Session s1's texts are used by "again" too; deleting "again"
        // and s1 frees them, and sending them again stores them again.
        store.delete_session("p", "again").unwrap();
        store.delete_session("p", "s1").unwrap();
        for i in (1..60).step_by(5) {
            write_texts(&store, 200 + i / 5, "back", &input(i), &output(i));
        }
        for i in (1..60).step_by(5) {
            read_back(&store, 200 + i / 5, i);
        }
    }
    stored_once();
    // Merged: most digests are in the index, below the watermarks.
    let db = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    for (table, digests) in [("texts", "text_digests"), ("chunks", "chunk_digests")] {
        let (indexed, rows): (i64, i64) = db
            .query_row(
                &format!("SELECT (SELECT count(*) FROM {digests}), (SELECT count(*) FROM {table})"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(indexed * 2 > rows, "{table}: {indexed} of {rows} indexed");
    }
    drop(db);
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(report.ok, "{}", report.detail);
    {
        let store = open();
        for i in 0..60 {
            write_texts(&store, 100 + i, "after", &input(i), &output(i));
        }
        for i in (0..60).filter(|i| i % 5 != 1) {
            read_back(&store, i, i);
        }
        for i in 0..60 {
            read_back(&store, 100 + i, i);
        }
    }
    stored_once();
    let report = openinference_session_server::store::sqlite::check_dir(dir.path()).unwrap();
    assert!(report.ok, "{}", report.detail);
}
