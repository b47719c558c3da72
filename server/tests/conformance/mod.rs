//! The conformance suite every [`Store`] backend must pass, written once
//! against the trait. `conformance_suite!(open)` expands to one `#[test]` per
//! clause, each on a fresh, empty store from `open()`, so a failure names the
//! clause and the backend (`sqlite::paging_is_complete_and_stable`).

#![allow(dead_code)]

pub mod copy;
pub mod evaluations;
pub mod phoenix;

pub use copy::*;
pub use evaluations::*;
pub use phoenix::*;

use openinference_session_server::annotation::{AnnotatorKind, NewAnnotation};
use openinference_session_server::model::{EventFacts, EventRecord, SpanRecord};
use openinference_session_server::otlp::map::derive_facts;
use openinference_session_server::pricing::PriceTable;
use openinference_session_server::store::{
    Order, PageQuery, SessionQuery, SessionSort, Store, StoreError, TraceQuery,
};
use serde_json::{Map, Value, json};

/// Base time of the synthetic spans, Unix ns.
const BASE: i64 = 1_790_000_000_000_000_000;

/// The attributes of a chat span about parcel `i`, for the tests that write
/// enough spans for a store to train a compression dictionary: alike in
/// shape, different in their numbers.
pub fn parcel_attributes(i: u32) -> Value {
    json!({
        "session.id": format!("s{}", i / 10),
        "user.id": format!("user-{}", i % 17),
        "llm.model_name": "gpt-4o-mini",
        "llm.token_count.prompt": i * 7 % 1000,
        "input.value": format!(
            r#"{{"messages":[{{"role":"system","content":"You help with order {i}."}},{{"role":"user","content":"Where is parcel {}? I ordered it on day {}."}}],"model":"gpt-4o-mini","temperature":0.{}}}"#,
            i * 31 % 10007,
            i % 28,
            i % 10
        ),
        "output.value": format!(
            "Parcel {} left the depot on day {} and should arrive within {} days, tracking code {}.",
            i * 31 % 10007,
            i % 28 + 1,
            i % 5 + 1,
            i * 7919 % 100_003
        ),
    })
}

/// The trace of parcel span `i` (one span a trace).
pub fn parcel_trace_id(i: u32) -> [u8; 16] {
    (u128::from(i) + 1).to_be_bytes()
}

/// Writes the parcel spans `range` to project `p`, 300 a write.
pub fn write_parcels<S: Store>(store: &S, range: std::ops::Range<u32>) {
    let spans: Vec<_> = range
        .map(|i| {
            let mut r = record("p", 0, 1, None, i64::from(i), parcel_attributes(i));
            r.trace_id = parcel_trace_id(i);
            r
        })
        .collect();
    for batch in spans.chunks(300) {
        store.write(batch).unwrap();
    }
}

/// Reads every 37th parcel span of `range` back: its attributes as written.
pub fn read_parcels_back<S: Store>(store: &S, range: std::ops::Range<u32>) {
    for i in range.step_by(37) {
        let t = store.trace("p", &parcel_trace_id(i)).unwrap();
        assert_eq!(
            json!(t.spans[0].attributes),
            parcel_attributes(i),
            "span {i}"
        );
    }
}

/// A synthetic span: trace `t`, span `s`, parent `p`, start `start` seconds
/// after [`BASE`], with attributes.
pub fn record(project: &str, t: u8, s: u8, p: Option<u8>, start: i64, attrs: Value) -> SpanRecord {
    let attributes: Map<String, Value> = attrs.as_object().cloned().unwrap_or_default();
    let mut facts = derive_facts(&attributes, &PriceTable::default());
    let start_ns = BASE + start * 1_000_000_000;
    facts.span_id = [s; 8];
    facts.parent_span_id = p.map(|p| [p; 8]);
    facts.start_ns = start_ns;
    facts.end_ns = start_ns + 250_000_000;
    SpanRecord {
        project: project.to_owned(),
        trace_id: [t; 16],
        span_id: [s; 8],
        parent_span_id: p.map(|p| [p; 8]),
        name: format!("span-{s}"),
        kind: openinference_session_server::model::SpanKind::Internal,
        start_ns,
        end_ns: start_ns + 250_000_000,
        status_code: 0,
        status_message: String::new(),
        attributes,
        events: Vec::new(),
        facts,
    }
}

fn session_ids<S: Store>(store: &S, project: &str) -> Vec<String> {
    session_ids_where(store, project, SessionQuery::default())
}

/// The ids of the sessions `q`'s filters find, in its sort, oldest first.
fn session_ids_where<S: Store>(store: &S, project: &str, q: SessionQuery) -> Vec<String> {
    let q = SessionQuery {
        page: PageQuery {
            limit: 1000,
            cursor: None,
        },
        order: Order::Asc,
        ..q
    };
    store
        .sessions(project, &q)
        .expect("list sessions")
        .data
        .into_iter()
        .map(|s| s.session_id)
        .collect()
}

/// Idempotent writes: re-sending spans stores nothing twice and changes no
/// aggregate.
pub fn idempotent_writes<S: Store>(store: S) {
    let batch = vec![
        record(
            "p",
            1,
            1,
            None,
            0,
            json!({"session.id": "s1", "input.value": "hi"}),
        ),
        record(
            "p",
            1,
            2,
            Some(1),
            1,
            json!({"openinference.span.kind": "LLM", "llm.token_count.prompt": 5, "llm.token_count.completion": 2}),
        ),
    ];
    let first = store.write(&batch).expect("write");
    assert_eq!((first.inserted, first.duplicates), (2, 0));
    let again = store.write(&batch).expect("write again");
    assert_eq!((again.inserted, again.duplicates), (0, 2));
    let s = store.session("p", "s1").expect("session");
    assert_eq!(s.num_traces, 1);
    assert_eq!(s.token_count.total, 7);
    let t = store.trace("p", &[1; 16]).expect("trace");
    assert_eq!(t.spans.len(), 2);

    // A span twice in one batch, its trace new: stored once.
    let twice = record("p", 5, 1, None, 0, json!({"session.id": "s5"}));
    let written = store.write(&[twice.clone(), twice]).expect("write");
    assert_eq!((written.inserted, written.duplicates), (1, 1));
    assert_eq!(store.trace("p", &[5; 16]).expect("trace").spans.len(), 1);
    // And its trace stored before (the first copy is not yet written when
    // the second is looked for).
    let child = record("p", 5, 2, Some(1), 1, json!({"session.id": "s5"}));
    let written = store.write(&[child.clone(), child]).expect("write");
    assert_eq!((written.inserted, written.duplicates), (1, 1));
    assert_eq!(store.trace("p", &[5; 16]).expect("trace").spans.len(), 2);

    // The same spans sent to another project are that project's: the first
    // project's session and trace are unchanged.
    let elsewhere: Vec<_> = batch
        .iter()
        .map(|r| SpanRecord {
            project: "q".to_owned(),
            ..r.clone()
        })
        .collect();
    let other = store.write(&elsewhere).expect("write to another project");
    assert_eq!((other.inserted, other.duplicates), (2, 0));
    assert_eq!(
        store.session("q", "s1").expect("session").token_count.total,
        7
    );
    assert_eq!(store.trace("q", &[1; 16]).expect("trace").spans.len(), 2);
    assert_eq!(store.session("p", "s1").expect("session").num_traces, 1);
    assert_eq!(store.trace("p", &[1; 16]).expect("trace").spans.len(), 2);
}

/// Order independence: the root's session id wins even when the root arrives
/// last, the trace moves, the emptied session disappears and the loser stays
/// visible as a conflict.
/// Small writes at once (what a simple span processor sends, from as many
/// threads as its app serves requests with; a backend may write them
/// together) each hear their own counts: a span another write also carries
/// is stored once, counted as stored by one of the two, a repeat by the
/// other; every span is stored, each trace and session summarized with all
/// of its spans (two model calls of 10 tokens under a root).
pub fn small_writes_at_once_each_hear_their_own_counts<S: Store>(store: S) {
    let turn = |session: u8, span: u8, parent: Option<u8>| {
        record(
            "p",
            session,
            span,
            parent,
            i64::from(span),
            match parent {
                None => {
                    json!({"session.id": format!("s{session}"), "openinference.span.kind": "CHAIN"})
                }
                Some(_) => json!({"openinference.span.kind": "LLM", "llm.token_count.total": 10}),
            },
        )
    };
    // Eight sessions of three spans, a write each, and the first session's
    // root once more.
    let mut writes: Vec<Vec<SpanRecord>> = (1..=8u8)
        .flat_map(|session| {
            [
                vec![turn(session, 1, None)],
                vec![turn(session, 2, Some(1))],
                vec![turn(session, 3, Some(1))],
            ]
        })
        .collect();
    writes.push(vec![turn(1, 1, None)]);
    let outcomes: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let threads: Vec<_> = writes
            .iter()
            .map(|w| {
                let store = &store;
                scope.spawn(move || store.write(w).expect("write"))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                let o = t.join().expect("writer");
                (o.inserted, o.duplicates)
            })
            .collect()
    });
    for o in &outcomes[1..24] {
        assert_eq!(*o, (1, 0), "{outcomes:?}");
    }
    let (first, again) = (outcomes[0], outcomes[24]);
    assert_eq!(first.0 + again.0, 1, "{outcomes:?}");
    assert_eq!(first.1 + again.1, 1, "{outcomes:?}");
    for session in 1..=8u8 {
        let s = store.session("p", &format!("s{session}")).expect("session");
        assert_eq!(s.num_traces, 1);
        assert_eq!(s.token_count.total, 20, "session s{session}");
        assert_eq!(
            store.trace("p", &[session; 16]).expect("trace").spans.len(),
            3
        );
    }
}

pub fn root_arriving_last_moves_the_trace<S: Store>(store: S) {
    store
        .write(&[record(
            "p",
            1,
            2,
            Some(1),
            0,
            json!({"session.id": "child-id"}),
        )])
        .expect("write child");
    assert_eq!(session_ids(&store, "p"), ["child-id"]);
    store
        .write(&[record("p", 1, 1, None, 1, json!({"session.id": "root-id"}))])
        .expect("write root");
    assert_eq!(session_ids(&store, "p"), ["root-id"]);
    assert!(matches!(
        store.session("p", "child-id"),
        Err(StoreError::NotFound("session"))
    ));
    let turns = store
        .turns(
            "p",
            "root-id",
            &PageQuery {
                limit: 10,
                cursor: None,
            },
        )
        .expect("turns");
    assert_eq!(turns.data.len(), 1);
    assert_eq!(turns.data[0].session_conflicts, ["child-id"]);
}

/// Order independence across batches: every split and order of the same spans
/// ends in the same state.
pub fn split_and_order_do_not_matter<S: Store>(mut open: impl FnMut() -> S) {
    let spans = vec![
        record(
            "p",
            7,
            1,
            None,
            0,
            json!({"input.value": "q", "output.value": "a"}),
        ),
        record(
            "p",
            7,
            2,
            Some(1),
            1,
            json!({"session.id": "a", "user.id": "u"}),
        ),
        // Same start as span 2: the smaller span id wins the tie.
        record("p", 7, 3, Some(1), 1, json!({"session.id": "b"})),
        record(
            "p",
            7,
            4,
            Some(2),
            2,
            json!({"openinference.span.kind": "LLM", "llm.token_count.total": 9}),
        ),
    ];
    let mut answers = Vec::new();
    for rotation in 0..spans.len() {
        let store = open();
        let mut order = spans.clone();
        order.rotate_left(rotation);
        for s in &order {
            store.write(std::slice::from_ref(s)).expect("write");
        }
        let s = store.session("p", "a").expect("session a");
        let t = store.trace("p", &[7; 16]).expect("trace");
        answers.push((session_ids(&store, "p"), s.token_count, s.user_ids, t.trace));
    }
    let store = open();
    store.write(&spans).expect("write all");
    let s = store.session("p", "a").expect("session a");
    let t = store.trace("p", &[7; 16]).expect("trace");
    let whole = (session_ids(&store, "p"), s.token_count, s.user_ids, t.trace);
    for a in &answers {
        assert_eq!(a, &whole);
    }
    assert_eq!(whole.0, ["a"]);
    assert_eq!(whole.3.session_conflicts, ["b"]);
}

/// A turn's words do not depend on batches: a trace whose spans arrive one
/// by one (its summary derived again from the spans stored before, as the
/// backend keeps them) reads as when they arrive together: the input and
/// output values, the user's words from a model call's messages, the reply
/// from a span's own GenAI events, a NUL in what the user said.
pub fn turn_words_do_not_depend_on_batches<S: Store>(mut open: impl FnMut() -> S) {
    // Short words, and words longer than a store may keep with a span's
    // facts between writes (SQLite keeps a text over 512 bytes by its row id
    // and reads it back when a summary reads it).
    let long = format!(
        "How warm is it in Paris? {}",
        "We leave on Friday. ".repeat(40)
    );
    for question in ["How warm is it in Paris?", &long] {
        turn_words_of(&mut open, question);
    }
}

fn turn_words_of<S: Store>(open: &mut impl FnMut() -> S, question: &str) {
    let root_input = r#"{"request_id": 7}"#;
    let mut spans = vec![
        record(
            "p",
            9,
            1,
            None,
            0,
            json!({
                "session.id": "talk",
                "openinference.span.kind": "CHAIN",
                "input.value": root_input,
                "input.mime_type": "application/json",
                "output.value": r#"{"status": 200}"#,
                "output.mime_type": "application/json",
            }),
        ),
        record(
            "p",
            9,
            2,
            Some(1),
            1,
            json!({
                "openinference.span.kind": "LLM",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "You are terse.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": format!("{question}\u{0}"),
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Let me look.",
            }),
        ),
        record(
            "p",
            9,
            3,
            Some(1),
            2,
            json!({"openinference.span.kind": "LLM", "llm.model_name": "m"}),
        ),
    ];
    spans[2].events = vec![
        json!({"name": "gen_ai.user.message", "time": "2026-09-21T00:00:02Z",
               "attributes": {"content": "And in Rome?"}}),
        json!({"name": "gen_ai.choice", "time": "2026-09-21T00:00:02Z",
               "attributes": {"index": 0, "message": {"content": "21 degrees in Paris."}}}),
    ];
    let asking = &mut spans[2];
    openinference_session_server::otlp::map::read_span_events(&mut asking.facts, &asking.events);
    let read = |store: &S| {
        let turns = store
            .turns(
                "p",
                "talk",
                &PageQuery {
                    limit: 10,
                    cursor: None,
                },
            )
            .expect("turns");
        assert_eq!(turns.data.len(), 1);
        let turn = &turns.data[0];
        (turn.input.clone(), turn.output.clone())
    };
    let whole_store = open();
    whole_store.write(&spans).expect("write all");
    let whole = read(&whole_store);
    let (input, output) = whole.clone();
    let input = input.expect("an input");
    // A backend that cannot store a NUL replaces it.
    assert_eq!(input.value.trim_end_matches(['\0', '\u{FFFD}']), question);
    assert_eq!(input.raw_value.as_deref(), Some(root_input));
    assert_eq!(output.expect("an output").value, "21 degrees in Paris.");
    for rotation in 0..spans.len() {
        for reversed in [false, true] {
            let store = open();
            let mut order = spans.clone();
            order.rotate_left(rotation);
            if reversed {
                order.reverse();
            }
            for s in &order {
                store.write(std::slice::from_ref(s)).expect("write");
            }
            assert_eq!(
                read(&store),
                whole,
                "rotation {rotation}, reversed {reversed}"
            );
        }
    }
}

/// A session's filter rows and sums follow traces whose spans arrive over
/// several writes: a root arriving late that changes the trace's user and
/// metadata takes the old rows away; one that only adds keeps them and adds
/// its own; the session's counts, tokens and times equal those of the same
/// spans written at once, in every order of the writes.
pub fn session_filters_follow_traces_split_across_writes<S: Store>(mut open: impl FnMut() -> S) {
    let child = |t: u8, user: &str, tags: Value, metadata: &str, tokens: i64| {
        record(
            "p",
            t,
            2,
            Some(1),
            i64::from(t) * 10 + 1,
            json!({"session.id": "s", "user.id": user, "tag.tags": tags, "metadata": metadata,
                   "openinference.span.kind": "LLM", "llm.token_count.prompt": tokens,
                   "llm.token_count.completion": 1}),
        )
    };
    let root = |t: u8, user: &str, tags: Value, metadata: &str| {
        record(
            "p",
            t,
            1,
            None,
            i64::from(t) * 10,
            json!({"session.id": "s", "user.id": user, "tag.tags": tags, "metadata": metadata}),
        )
    };
    let writes: Vec<Vec<SpanRecord>> = vec![
        // Trace 1: its root changes the user and a metadata value.
        vec![child(
            1,
            "child-user",
            json!(["early"]),
            r#"{"stage": "draft"}"#,
            5,
        )],
        // Trace 2: its root only adds a tag and a key.
        vec![child(2, "u2", json!(["t"]), r#"{"k": "v"}"#, 7)],
        vec![
            root(
                1,
                "root-user",
                json!(["late"]),
                r#"{"stage": "final", "lang": "fr"}"#,
            ),
            root(2, "u2", json!(["t", "more"]), r#"{"k": "v", "extra": "1"}"#),
        ],
        vec![
            root(3, "u3", json!([]), "{}"),
            child(3, "u3", json!([]), "{}", 11),
        ],
    ];
    let filtered = |store: &S, f: &dyn Fn(&mut SessionQuery)| {
        let mut q = SessionQuery {
            page: PageQuery {
                limit: 10,
                cursor: None,
            },
            ..Default::default()
        };
        f(&mut q);
        let page = store.sessions("p", &q).expect("sessions");
        page.data
            .into_iter()
            .map(|s| s.session_id)
            .collect::<Vec<_>>()
    };
    let state = |store: &S| {
        let mut found = Vec::new();
        for user in ["child-user", "root-user", "u2", "u3"] {
            found.push(filtered(store, &|q| q.user_id = Some(user.to_owned())));
        }
        for tag in ["early", "late", "t", "more"] {
            found.push(filtered(store, &|q| q.tag = Some(tag.to_owned())));
        }
        for (k, v) in [
            ("stage", "draft"),
            ("stage", "final"),
            ("lang", "fr"),
            ("k", "v"),
            ("extra", "1"),
        ] {
            found.push(filtered(store, &|q| {
                q.metadata = vec![(k.to_owned(), v.to_owned())]
            }));
        }
        let s = store.session("p", "s").expect("session");
        let totals = (
            s.num_traces,
            s.token_count,
            s.start_time,
            s.end_time,
            s.duration_ms.to_bits(),
        );
        (found, totals)
    };
    let whole = open();
    whole.write(&writes.concat()).expect("all at once");
    let expected = state(&whole);
    let some = vec!["s".to_owned()];
    let none: Vec<String> = Vec::new();
    assert_eq!(
        expected.0,
        [
            &none, &some, &some, &some, // users: the root's wins
            &some, &some, &some, &some, // tags: every span's
            &none, &some, &some, &some, &some, // metadata: the root's value wins
        ]
        .map(Vec::clone)
    );
    assert_eq!(expected.1.0, 3);
    assert_eq!(expected.1.1.prompt, 23);
    let mut orders = vec![writes.clone()];
    let mut reversed = writes.clone();
    reversed.reverse();
    orders.push(reversed);
    for order in orders {
        let store = open();
        for batch in &order {
            store.write(batch).expect("write");
        }
        assert_eq!(state(&store), expected);
    }
}

/// Keys: the same session id in two projects is two sessions.
pub fn sessions_are_keyed_by_project<S: Store>(store: S) {
    store
        .write(&[
            record("one", 1, 1, None, 0, json!({"session.id": "same"})),
            record("two", 2, 1, None, 0, json!({"session.id": "same"})),
            record("two", 3, 1, None, 5, json!({"session.id": "same"})),
        ])
        .expect("write");
    assert_eq!(store.session("one", "same").expect("one").num_traces, 1);
    assert_eq!(store.session("two", "same").expect("two").num_traces, 2);
    let projects: Vec<_> = store
        .projects()
        .expect("projects")
        .into_iter()
        .map(|p| (p.name, p.session_count, p.trace_count))
        .collect();
    assert_eq!(
        projects,
        [("one".to_owned(), 1, 1), ("two".to_owned(), 1, 2)]
    );
}

/// A project's last activity is the end of its latest trace, in a session or
/// not, and moves back when that trace's session is deleted.
pub fn project_last_activity_is_its_latest_trace_end<S: Store>(store: S) {
    let last_activity = |store: &S| store.projects().expect("projects")[0].last_activity.clone();
    store
        .write(&[record("p", 1, 1, None, 10, json!({"session.id": "early"}))])
        .expect("write");
    let session_end = last_activity(&store).expect("a trace ends");
    store
        .write(&[record("p", 2, 2, None, 20, json!({}))])
        .expect("write");
    let sessionless_end = last_activity(&store).expect("a trace ends");
    assert!(
        sessionless_end > session_end,
        "{sessionless_end} after {session_end}"
    );
    store
        .write(&[record("p", 3, 3, None, 30, json!({"session.id": "late"}))])
        .expect("write");
    let late_end = last_activity(&store).expect("a trace ends");
    assert!(
        late_end > sessionless_end,
        "{late_end} after {sessionless_end}"
    );
    store.delete_session("p", "late").expect("delete");
    assert_eq!(last_activity(&store), Some(sessionless_end));
}

/// Ordering of reads: keyset paging visits every session once, for every sort
/// and direction, and rejects a cursor from another query.
pub fn paging_is_complete_and_stable<S: Store>(store: S) {
    let mut spans = Vec::new();
    for n in 0..7u8 {
        // Equal sort values on purpose: ties must break by row id.
        spans.push(record("p", n + 1, 1, None, i64::from(n % 3), json!({"session.id": format!("s{n}"), "openinference.span.kind": "LLM", "llm.token_count.total": i64::from(n % 2), "llm.cost.total": f64::from(n % 2) * 0.5})));
    }
    store.write(&spans).expect("write");
    // every session scored, with ties, for the annotation score sort
    let scores: Vec<NewAnnotation> = (0..7u8)
        .map(|n| NewAnnotation {
            session_id: format!("s{n}"),
            name: "quality".into(),
            score: Some(f64::from(n % 2)),
            ..Default::default()
        })
        .collect();
    store.upsert_annotations("p", &scores).expect("annotate");
    for &(_, sort) in SessionSort::ALL {
        for order in [Order::Asc, Order::Desc] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let q = SessionQuery {
                    page: PageQuery { limit: 3, cursor },
                    sort,
                    order,
                    annotation: (sort == SessionSort::AnnotationScore).then(|| "quality".into()),
                    ..Default::default()
                };
                let page = store.sessions("p", &q).expect("page");
                assert!(page.data.len() <= 3);
                seen.extend(page.data.into_iter().map(|s| s.session_id));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            seen.sort();
            assert_eq!(
                seen,
                ["s0", "s1", "s2", "s3", "s4", "s5", "s6"],
                "{sort:?} {order:?}"
            );
        }
    }
    let first = store
        .sessions(
            "p",
            &SessionQuery {
                page: PageQuery {
                    limit: 2,
                    cursor: None,
                },
                ..Default::default()
            },
        )
        .expect("page");
    let foreign = SessionQuery {
        page: PageQuery {
            limit: 2,
            cursor: first.next_cursor,
        },
        sort: SessionSort::TotalCost,
        ..Default::default()
    };
    assert!(matches!(
        store.sessions("p", &foreign),
        Err(StoreError::InvalidCursor)
    ));
    let garbage = SessionQuery {
        page: PageQuery {
            limit: 2,
            cursor: Some("'; DROP TABLE spans; --".into()),
        },
        ..Default::default()
    };
    assert!(matches!(
        store.sessions("p", &garbage),
        Err(StoreError::InvalidCursor)
    ));
}

/// Filters of the session list.
/// The sessions a filter on a user, a tag or a metadata entry finds, in
/// session id order.
pub fn filtered<S: Store>(
    store: &S,
    user: Option<&str>,
    tag: Option<&str>,
    metadata: Option<(&str, &str)>,
) -> Vec<String> {
    let q = SessionQuery {
        user_id: user.map(str::to_owned),
        tag: tag.map(str::to_owned),
        metadata: metadata
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let mut ids = session_ids_where(store, "p", q);
    ids.sort();
    ids
}

/// A session's filter rows follow a trace that leaves it and a new trace
/// that brings the same user, tag and metadata back: the rows the leaving
/// trace alone gave go, and come back with the new one (a backend that
/// remembers what sessions hold must forget a session a trace left).
pub fn session_filters_follow_a_trace_that_leaves_and_one_that_returns<S: Store>(store: S) {
    let gives = |session: &str, user: &str, tag: &str| {
        json!({"session.id": session, "user.id": user, "tag.tags": [tag],
               "metadata": format!("{{\"k\": \"{tag}\"}}")})
    };
    let finds = |store: &S| {
        (
            filtered(store, Some("ux"), None, None),
            filtered(store, None, Some("x"), None),
            filtered(store, None, None, Some(("k", "x"))),
        )
    };
    store
        .write(&[record("p", 2, 1, None, 1, gives("s", "uy", "y"))])
        .expect("write");
    // Trace 1's child alone: the trace is in "s" until its root says
    // otherwise, and it is the last trace "s" grew by (what PostgreSQL's
    // session row remembers it holds the filter rows of, until they change).
    store
        .write(&[record("p", 1, 2, Some(1), 0, gives("s", "ux", "x"))])
        .expect("write");
    let s = vec!["s".to_owned()];
    assert_eq!(finds(&store), (s.clone(), s.clone(), s.clone()));
    store
        .write(&[record("p", 1, 1, None, 0, gives("other", "ux", "x"))])
        .expect("the root moves trace 1");
    let other = vec!["other".to_owned()];
    assert_eq!(
        finds(&store),
        (other.clone(), other.clone(), other.clone()),
        "the rows only trace 1 gave left \"s\" with it"
    );
    store
        .write(&[record("p", 3, 1, None, 2, gives("s", "ux", "x"))])
        .expect("a new turn gives them again");
    let both = vec!["other".to_owned(), "s".to_owned()];
    assert_eq!(finds(&store), (both.clone(), both.clone(), both));
}

/// A session its only trace left is deleted with its sums; a later turn
/// naming it makes it anew, holding that turn alone.
pub fn a_session_a_trace_left_is_made_anew_by_a_later_turn<S: Store>(store: S) {
    let in_session = |session: &str| json!({"session.id": session});
    // Trace 1's child first: the trace is in "a" until its root says otherwise.
    store
        .write(&[record("p", 1, 2, Some(1), 0, in_session("a"))])
        .expect("write");
    assert_eq!(store.session("p", "a").expect("session a").num_traces, 1);
    store
        .write(&[record("p", 1, 1, None, 1, in_session("b"))])
        .expect("the root moves trace 1");
    assert!(store.session("p", "a").is_err(), "\"a\" emptied, deleted");
    store
        .write(&[record("p", 2, 1, None, 2, in_session("a"))])
        .expect("a later turn names \"a\" again");
    assert_eq!(
        store
            .session("p", "a")
            .expect("session a made anew")
            .num_traces,
        1
    );
    assert_eq!(store.session("p", "b").expect("session b").num_traces, 1);
}

/// A session written after another was deleted has every filter row its
/// traces give, though it may take the deleted session's row id and its
/// traces give what the deleted one's gave.
pub fn session_filters_of_a_session_written_after_one_deleted<S: Store>(store: S) {
    let gives = |session: &str| json!({"session.id": session, "user.id": "u", "tag.tags": ["t"], "metadata": "{\"k\": \"v\"}"});
    store
        .write(&[record("p", 1, 1, None, 0, gives("a"))])
        .expect("write");
    store.delete_session("p", "a").expect("delete");
    store
        .write(&[record("p", 2, 1, None, 1, gives("b"))])
        .expect("write");
    let b = vec!["b".to_owned()];
    assert_eq!(filtered(&store, Some("u"), None, None), b);
    assert_eq!(filtered(&store, None, Some("t"), None), b);
    assert_eq!(filtered(&store, None, None, Some(("k", "v"))), b);
}

pub fn session_filters<S: Store>(store: S) {
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "a", "user.id": "ann", "tag.tags": ["vip"], "metadata": "{\"plan\": \"pro\"}", "input.value": "Where is my PARCEL?"})),
            record("p", 2, 1, None, 100, json!({"session.id": "b", "user.id": "bob", "input.value": "100% sure_"})),
            record("p", 3, 1, None, 200, json!({"session.id": "b"})),
        ])
        .expect("write");
    let ids = |q: SessionQuery| -> Vec<String> {
        let q = SessionQuery {
            page: PageQuery {
                limit: 50,
                cursor: None,
            },
            order: Order::Asc,
            ..q
        };
        store
            .sessions("p", &q)
            .expect("list")
            .data
            .into_iter()
            .map(|s| s.session_id)
            .collect()
    };
    assert_eq!(
        ids(SessionQuery {
            user_id: Some("bob".into()),
            ..Default::default()
        }),
        ["b"]
    );
    assert_eq!(
        ids(SessionQuery {
            tag: Some("vip".into()),
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        ids(SessionQuery {
            metadata: vec![("plan".into(), "pro".into())],
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        ids(SessionQuery {
            min_traces: Some(2),
            ..Default::default()
        }),
        ["b"]
    );
    assert_eq!(
        ids(SessionQuery {
            q: Some("parcel".into()),
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        ids(SessionQuery {
            q: Some("0% s".into()),
            ..Default::default()
        }),
        ["b"]
    );
    assert_eq!(
        ids(SessionQuery {
            q: Some("%".into()),
            ..Default::default()
        }),
        ["b"]
    );
    assert!(
        ids(SessionQuery {
            q: Some("_x".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        ids(SessionQuery {
            has_error: Some(false),
            ..Default::default()
        }),
        ["a", "b"]
    );
    assert!(
        ids(SessionQuery {
            has_error: Some(true),
            ..Default::default()
        })
        .is_empty()
    );
    let at = |s: i64| BASE + s * 1_000_000_000;
    assert_eq!(
        ids(SessionQuery {
            start_ns: Some(at(50)),
            ..Default::default()
        }),
        ["b"]
    );
    assert_eq!(
        ids(SessionQuery {
            end_ns: Some(at(50)),
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        ids(SessionQuery {
            start_ns: Some(at(150)),
            end_ns: Some(at(160)),
            ..Default::default()
        }),
        ["b"],
        "overlap counts"
    );

    // A session is found by the users, the tags (strings only) and the
    // metadata of the traces it holds now: a trace that moves (its root
    // arrives with another session id) takes them along, and a deleted
    // session is found by none.
    let by_user = |user: &str| {
        ids(SessionQuery {
            user_id: Some(user.into()),
            ..Default::default()
        })
    };
    let by_tag = |tag: &str| {
        ids(SessionQuery {
            tag: Some(tag.into()),
            ..Default::default()
        })
    };
    let by_metadata = |key: &str, value: &str| {
        ids(SessionQuery {
            metadata: vec![(key.into(), value.into())],
            ..Default::default()
        })
    };
    // Longer than the session's metadata rows hold: found in the traces.
    let long_note = "a note ".repeat(60);
    let metadata = json!({"plan": "team", "seats": 3, "trial": true, "note": long_note});
    store
        .write(&[
            record(
                "p",
                4,
                2,
                Some(1),
                300,
                json!({"session.id": "c", "user.id": "cy", "tag.tags": ["moves", "stays"],
                       "metadata": metadata.to_string()}),
            ),
            record(
                "p",
                5,
                1,
                None,
                310,
                json!({"session.id": "c", "user.id": "dee", "tag.tags": ["stays", "7"]}),
            ),
            record(
                "p",
                8,
                1,
                None,
                320,
                json!({"session.id": "f", "metadata": "{\"tags\": [\"not a tag\"]}"}),
            ),
        ])
        .expect("write");
    assert_eq!(by_user("cy"), ["c"]);
    assert_eq!(
        (by_tag("moves"), by_tag("7")),
        (vec!["c".to_owned()], vec!["c".to_owned()])
    );
    assert!(by_tag("not a tag").is_empty());
    let by_all_metadata = || {
        [
            by_metadata("plan", "team"),
            by_metadata("seats", "3"),
            by_metadata("trial", "true"),
            by_metadata("note", &long_note),
        ]
    };
    assert_eq!(by_all_metadata(), [["c"], ["c"], ["c"], ["c"]]);
    assert!(by_metadata("plan", "pro ").is_empty());
    store
        .write(&[record(
            "p",
            4,
            1,
            None,
            299,
            json!({"session.id": "d", "user.id": "cy"}),
        )])
        .expect("write the root");
    assert_eq!(by_user("cy"), ["d"]);
    assert_eq!(by_user("dee"), ["c"]);
    assert_eq!(by_tag("moves"), ["d"]);
    assert_eq!(by_tag("stays"), ["d", "c"], "by start time");
    assert_eq!(by_all_metadata(), [["d"], ["d"], ["d"], ["d"]]);
    // A later write's new trace adds what it holds to its session, which
    // keeps what its other traces hold.
    store
        .write(&[record(
            "p",
            9,
            1,
            None,
            330,
            json!({"session.id": "c", "user.id": "eve", "tag.tags": ["later"],
                   "metadata": "{\"plan\": \"later\"}"}),
        )])
        .expect("write a later turn");
    assert_eq!(
        (
            by_user("eve"),
            by_tag("later"),
            by_metadata("plan", "later")
        ),
        (
            vec!["c".to_owned()],
            vec!["c".to_owned()],
            vec!["c".to_owned()]
        )
    );
    assert_eq!(
        (by_user("dee"), by_tag("stays")),
        (vec!["c".to_owned()], vec!["d".to_owned(), "c".to_owned()])
    );
    store.delete_session("p", "d").expect("delete");
    assert!(by_user("cy").is_empty());
    assert!(by_tag("moves").is_empty());
    assert!(by_all_metadata().iter().all(Vec::is_empty));
    assert_eq!(by_tag("stays"), ["c"]);
}

/// The one session of the database 0.1.0 wrote (`tests/fixtures`), once
/// migrated, is found by the text search and by its tag and metadata: the
/// migrations filled what they read.
pub fn fixture_0_1_0_is_found_by_search_and_filters<S: Store>(store: &S) {
    let found = |q: SessionQuery| {
        let q = SessionQuery {
            page: PageQuery {
                limit: 10,
                cursor: None,
            },
            ..q
        };
        store.sessions("support-bot", &q).expect("list").data.len()
    };
    let searched = found(SessionQuery {
        q: Some("WRONG VAT".into()),
        ..Default::default()
    });
    assert_eq!(searched, 1, "the search columns were filled");
    let tagged = found(SessionQuery {
        tag: Some("billing".into()),
        ..Default::default()
    });
    assert_eq!(tagged, 1, "the sessions' tags were filled");
    let by_metadata = found(SessionQuery {
        metadata: vec![("plan".into(), "pro".into())],
        ..Default::default()
    });
    assert_eq!(by_metadata, 1, "the sessions' metadata was filled");
}

/// A GenAI event (a log record of a span) for trace `t`, span `s`.
pub fn event(project: &str, t: u8, s: u8, seq: i64, name: &str, body: Value) -> EventRecord {
    let (user_message, reply) = match name {
        "gen_ai.user.message" => (body["content"].as_str().map(str::to_owned), None),
        "gen_ai.choice" => (None, body["message"]["content"].as_str().map(str::to_owned)),
        _ => (None, None),
    };
    EventRecord {
        project: project.to_owned(),
        trace_id: [t; 16],
        facts: EventFacts {
            span_id: [s; 8],
            time_ns: BASE + 1_000_000_000 + seq,
            seq,
            user_message,
            reply,
        },
        name: name.to_owned(),
        attributes: Map::new(),
        digest: seq * 7919 + i64::from(s),
        body,
    }
}

/// Events join their spans: a model call whose content came as log records
/// reads as the turn whichever arrived first; a re-sent event is stored once;
/// the trace shows the events on their span; deleting the session removes them.
pub fn events_join_their_spans_in_either_order<S: Store>(mut open: impl FnMut() -> S) {
    let span = record(
        "p",
        1,
        1,
        None,
        0,
        json!({"session.id": "s", "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 7}),
    );
    let events = vec![
        event(
            "p",
            1,
            1,
            0,
            "gen_ai.system.message",
            json!({"content": "be brief"}),
        ),
        event(
            "p",
            1,
            1,
            1,
            "gen_ai.user.message",
            json!({"content": "where is my parcel?"}),
        ),
        event(
            "p",
            1,
            1,
            2,
            "gen_ai.choice",
            json!({"index": 0, "message": {"role": "assistant", "content": "on its way"}}),
        ),
    ];
    let check = |store: &S| {
        let turns = store
            .turns(
                "p",
                "s",
                &PageQuery {
                    limit: 10,
                    cursor: None,
                },
            )
            .expect("turns");
        assert_eq!(turns.data.len(), 1);
        assert_eq!(
            turns.data[0].input.as_ref().expect("input").value,
            "where is my parcel?"
        );
        assert_eq!(
            turns.data[0].output.as_ref().expect("output").value,
            "on its way"
        );
        let trace = store.trace("p", &[1; 16]).expect("trace");
        let names: Vec<&str> = trace.spans[0]
            .events
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "gen_ai.system.message",
                "gen_ai.user.message",
                "gen_ai.choice"
            ]
        );
        assert_eq!(
            trace.spans[0].events[1]["body"],
            json!({"content": "where is my parcel?"})
        );
    };
    let spans_first = open();
    spans_first
        .write(std::slice::from_ref(&span))
        .expect("span");
    let outcome = spans_first.write_events(&events).expect("events");
    assert_eq!((outcome.inserted, outcome.duplicates), (3, 0));
    check(&spans_first);
    let again = spans_first.write_events(&events).expect("events again");
    assert_eq!((again.inserted, again.duplicates), (0, 3));
    check(&spans_first);

    let events_first = open();
    events_first.write_events(&events).expect("events");
    assert!(
        events_first
            .projects()
            .expect("projects")
            .iter()
            .all(|p| p.session_count == 0),
        "an event alone makes no session"
    );
    events_first
        .write(std::slice::from_ref(&span))
        .expect("span");
    check(&events_first);

    events_first.delete_session("p", "s").expect("delete");
    events_first.write(&[span]).expect("span again");
    let turns = events_first
        .turns(
            "p",
            "s",
            &PageQuery {
                limit: 10,
                cursor: None,
            },
        )
        .expect("turns");
    assert!(
        turns.data[0].input.is_none(),
        "the deleted session's events are gone"
    );
}

/// Traces without a session id are counted on their project and listed on
/// their own; a trace that gains a session leaves that list.
pub fn traces_without_a_session_are_reachable<S: Store>(store: S) {
    store
        .write(&[
            record(
                "p",
                1,
                1,
                None,
                0,
                json!({"input.value": "no session here"}),
            ),
            record("p", 2, 1, None, 1, json!({"input.value": "nor here"})),
            record("p", 3, 1, None, 2, json!({"session.id": "s"})),
        ])
        .expect("write");
    let without = |store: &S| -> Vec<String> {
        let q = TraceQuery {
            page: PageQuery {
                limit: 10,
                cursor: None,
            },
            has_session: Some(false),
            ..Default::default()
        };
        store
            .traces("p", &q)
            .expect("traces")
            .data
            .into_iter()
            .map(|t| t.trace_id)
            .collect()
    };
    assert_eq!(
        without(&store),
        ["02".repeat(16), "01".repeat(16)],
        "newest first"
    );
    let project = &store.projects().expect("projects")[0];
    assert_eq!(
        (project.trace_count, project.traces_without_session),
        (3, 2)
    );
    let q = TraceQuery {
        page: PageQuery {
            limit: 10,
            cursor: None,
        },
        has_session: Some(true),
        ..Default::default()
    };
    assert_eq!(store.traces("p", &q).expect("traces").data.len(), 1);
    // A late child brings trace 2 a session.
    store
        .write(&[record("p", 2, 2, Some(1), 3, json!({"session.id": "s"}))])
        .expect("write");
    assert_eq!(without(&store), ["01".repeat(16)]);
    assert_eq!(
        store.projects().expect("projects")[0].traces_without_session,
        1
    );
}

/// Session sums saturate: counts too large to add (ingest refuses them, but an
/// older database may hold them) never make a write fail or a total wrap.
pub fn session_sums_saturate<S: Store>(store: S) {
    let big = |t: u8| {
        let mut r = record(
            "p",
            t,
            1,
            None,
            i64::from(t),
            json!({"session.id": "s", "openinference.span.kind": "LLM"}),
        );
        r.facts.tokens.total = i64::MAX / 2 + 1;
        r.facts.tokens.prompt = i64::MAX / 2 + 1;
        r
    };
    store.write(&[big(1)]).expect("first");
    store
        .write(&[big(2)])
        .expect("second: the sum saturates instead of failing");
    let s = store.session("p", "s").expect("session");
    assert_eq!(s.token_count.total, i64::MAX);
    assert_eq!(s.num_traces, 2);
    store
        .write(&[record(
            "p",
            3,
            1,
            None,
            9,
            json!({"session.id": "s", "input.value": "still writable"}),
        )])
        .expect("the session takes new writes");
    assert_eq!(store.session("p", "s").expect("session").num_traces, 3);
}

/// A session's totals are the same however its traces were batched and in
/// whatever order they came: a session grown a trace at a time (adding each
/// new trace's counts and costs to what it held) ends equal to the same
/// traces written at once, to the last bit of its costs (floats added in
/// another order differ in their last bits: 0.1 + 0.2 + 0.3 is not
/// 0.3 + 0.2 + 0.1).
pub fn session_totals_do_not_depend_on_batches<S: Store>(mut open: impl FnMut() -> S) {
    let trace = |t: u8, cost: f64, error: bool| {
        let mut r = record(
            "p",
            t,
            1,
            None,
            i64::from(t) * 10,
            json!({"session.id": "s", "openinference.span.kind": "LLM"}),
        );
        r.facts.tokens.prompt = i64::from(t);
        r.facts.tokens.completion = 2 * i64::from(t);
        r.facts.tokens.total = 3 * i64::from(t);
        r.facts.cost.prompt = cost / 3.0;
        r.facts.cost.completion = cost * 2.0 / 3.0;
        r.facts.cost.total = cost;
        if error {
            r.status_code = 2;
            r.facts.status_code = 2;
        }
        r
    };
    let traces = [
        trace(1, 0.1, false),
        trace(2, 0.2, true),
        trace(3, 0.3, false),
        trace(4, 1e-7, false),
        trace(5, 17.000_000_3, true),
    ];
    let totals = |store: &S| {
        let s = store.session("p", "s").expect("session");
        (
            s.num_traces,
            s.num_traces_with_error,
            s.token_count,
            s.cost.prompt.to_bits(),
            s.cost.completion.to_bits(),
            s.cost.total.to_bits(),
            s.start_time,
            s.end_time,
            s.duration_ms.to_bits(),
        )
    };
    let whole = open();
    whole.write(&traces).expect("all at once");
    let expected = totals(&whole);
    assert_eq!(expected.0, 5);
    assert_eq!(expected.1, 2);
    assert_eq!(expected.2.total, 45);
    assert_eq!(expected.2.prompt, 15);
    // Within a nano-unit of the exact sum (17.6000004 and a tenth of one).
    let total = f64::from_bits(expected.5);
    assert!((total - 17.600_000_4).abs() < 1e-9, "{total}");
    let mut reversed = traces.clone();
    reversed.reverse();
    let batchings: [Vec<Vec<SpanRecord>>; 3] = [
        traces.iter().map(|t| vec![t.clone()]).collect(),
        reversed.iter().map(|t| vec![t.clone()]).collect(),
        vec![
            vec![traces[2].clone()],
            traces[..2].to_vec(),
            traces[3..].to_vec(),
        ],
    ];
    for batches in batchings {
        let store = open();
        for batch in &batches {
            store.write(batch).expect("write");
        }
        assert_eq!(totals(&store), expected, "batches {batches:?}");
    }
}

/// Text search folds case for all of Unicode, not only ASCII, the same in
/// every backend.
pub fn text_search_folds_unicode_case<S: Store>(store: S) {
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "ascii", "input.value": "Where is my PARCEL?"})),
            record("p", 2, 1, None, 1, json!({"session.id": "accents", "input.value": "Ça coûte TROP CHER", "output.value": "Désolé"})),
            record("p", 3, 1, None, 2, json!({"session.id": "greek", "output.value": "ΟΔΥΣΣΕΥΣ"})),
        ])
        .expect("write");
    let find = |q: &str| -> Vec<String> {
        let query = SessionQuery {
            page: PageQuery {
                limit: 50,
                cursor: None,
            },
            order: Order::Asc,
            q: Some(q.to_owned()),
            ..Default::default()
        };
        store
            .sessions("p", &query)
            .expect("search")
            .data
            .into_iter()
            .map(|s| s.session_id)
            .collect()
    };
    assert_eq!(find("parcel"), ["ascii"]);
    // Too short for PostgreSQL's trigram index (`queries::TRIGRAM_WINDOW`):
    // looked for in every trace.
    assert_eq!(find("PARC"), ["ascii"]);
    assert_eq!(find("ça coûte"), ["accents"]);
    assert_eq!(find("ÇA COÛTE"), ["accents"]);
    assert_eq!(find("DÉSOLÉ"), ["accents"]);
    assert_eq!(find("Δυσσε"), ["greek"]);
    assert!(
        find("cherdésolé").is_empty(),
        "input and output are searched apart"
    );
}

/// A search whose words are in most traces (so that PostgreSQL looks for its
/// sessions in the list's order instead of collecting every match) finds
/// the same sessions, in order, page after page, as one whose words are rare.
pub fn text_search_pages_through_common_words<S: Store>(store: S) {
    const SESSIONS: u32 = 300;
    const TRACES_EACH: u32 = 7;
    let mut spans = Vec::new();
    for n in 0..SESSIONS * TRACES_EACH {
        let session = n / TRACES_EACH;
        // Every trace holds both words; every third session holds them as
        // the phrase searched, in its last trace.
        let text = if session.is_multiple_of(3) && n % TRACES_EACH == TRACES_EACH - 1 {
            format!("please refund account {n}")
        } else {
            format!("my account of the refund {n}")
        };
        let mut r = record(
            "p",
            0,
            1,
            None,
            i64::from(n),
            json!({"session.id": format!("s{session:03}"), "input.value": text}),
        );
        r.trace_id = [0; 16];
        r.trace_id[..4].copy_from_slice(&(n + 1).to_be_bytes());
        spans.push(r);
    }
    for batch in spans.chunks(500) {
        store.write(batch).expect("write");
    }
    let all_pages = |q: &str| -> Vec<String> {
        let mut found = Vec::new();
        let mut cursor = None;
        loop {
            let query = SessionQuery {
                page: PageQuery { limit: 50, cursor },
                q: Some(q.to_owned()),
                ..Default::default()
            };
            let page = store.sessions("p", &query).expect("search");
            found.extend(page.data.into_iter().map(|s| s.session_id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return found,
            }
        }
    };
    let latest_first = |keep: &dyn Fn(u32) -> bool| -> Vec<String> {
        (0..SESSIONS)
            .rev()
            .filter(|&s| keep(s))
            .map(|s| format!("s{s:03}"))
            .collect()
    };
    assert_eq!(all_pages("refund account"), latest_first(&|s| s % 3 == 0));
    assert_eq!(all_pages("REFUND"), latest_first(&|_| true));
    assert_eq!(all_pages("account refund"), Vec::<String>::new());
    assert_eq!(all_pages("zebra"), Vec::<String>::new());
}

/// Deleting a session removes its traces and spans and nothing else.
pub fn delete_session_removes_its_traces<S: Store>(store: S) {
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "gone"})),
            record("p", 2, 1, None, 0, json!({"session.id": "kept"})),
        ])
        .expect("write");
    store.delete_session("p", "gone").expect("delete");
    assert!(matches!(
        store.session("p", "gone"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.trace("p", &[1; 16]),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_session("p", "gone"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.session("p", "kept").expect("kept").num_traces, 1);
    let traces = store
        .traces(
            "p",
            &TraceQuery {
                page: PageQuery {
                    limit: 10,
                    cursor: None,
                },
                ..Default::default()
            },
        )
        .expect("traces");
    assert_eq!(traces.data.len(), 1);
}

/// Unknown names are `NotFound`, never an empty success.
pub fn unknown_names_are_not_found<S: Store>(store: S) {
    assert!(matches!(
        store.session("nope", "x"),
        Err(StoreError::NotFound("project"))
    ));
    assert!(matches!(
        store.sessions(
            "nope",
            &SessionQuery {
                page: PageQuery {
                    limit: 1,
                    cursor: None
                },
                ..Default::default()
            }
        ),
        Err(StoreError::NotFound("project"))
    ));
    store
        .write(&[record("p", 1, 1, None, 0, json!({}))])
        .expect("write");
    assert!(matches!(
        store.session("p", "x"),
        Err(StoreError::NotFound("session"))
    ));
    assert!(matches!(
        store.trace("p", &[9; 16]),
        Err(StoreError::NotFound("trace"))
    ));
    let health = store.health();
    assert!(health.readable && health.writable, "{health:?}");
}

/// A session shows its first turn input and its last turn output, skipping
/// turns without one, in the list as on its own.
pub fn sessions_show_their_first_input_and_last_output<S: Store>(store: S) {
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "s", "output.value": "an answer without a question"})),
            record("p", 2, 1, None, 1, json!({"session.id": "s", "input.value": "the first question", "output.value": "the last answer given"})),
            record("p", 3, 1, None, 2, json!({"session.id": "s", "input.value": "a question still unanswered"})),
        ])
        .expect("write");
    let listed = store
        .sessions("p", &SessionQuery::default())
        .expect("list")
        .data;
    for s in [store.session("p", "s").expect("session"), listed[0].clone()] {
        assert_eq!(s.first_input.expect("input").value, "the first question");
        assert_eq!(
            s.last_output.expect("output").value,
            "the last answer given"
        );
    }
}

/// Turns come in time order, paged.
pub fn turns_in_time_order<S: Store>(store: S) {
    let spans: Vec<_> = (0..5u8)
        .rev()
        .map(|n| {
            record(
                "p",
                n + 1,
                1,
                None,
                i64::from(n) * 10,
                json!({"session.id": "s", "input.value": format!("q{n}")}),
            )
        })
        .collect();
    store.write(&spans).expect("write");
    let mut inputs = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .turns("p", "s", &PageQuery { limit: 2, cursor })
            .expect("turns");
        inputs.extend(page.data.into_iter().map(|t| t.input.expect("input").value));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(inputs, ["q0", "q1", "q2", "q3", "q4"]);
}

/// Attributes and events come back exactly as written, long repeated strings
/// and nested values included.
pub fn attributes_round_trip<S: Store>(store: S) {
    let long = "a message long enough to be stored once and shared ".repeat(3);
    let attrs = json!({
        "session.id": "s",
        "input.value": long,
        "llm.input_messages.0.message.content": long,
        "nested": {"list": [1, 2.5, true, null, "x"], "deeper": {"k": "v"}},
        "count": 42,
        "empty": "",
    });
    let mut first = record("p", 1, 1, None, 0, attrs.clone());
    first.events =
        vec![json!({"name": "exception", "time": "2026-01-01T00:00:00Z", "attributes": {"k": 1}})];
    let second = record("p", 1, 2, Some(1), 1, json!({"output.value": long}));
    store
        .write(&[first.clone(), second.clone()])
        .expect("write");
    let t = store.trace("p", &[1; 16]).expect("trace");
    assert_eq!(t.spans.len(), 2);
    assert_eq!(Value::Object(t.spans[0].attributes.clone()), attrs);
    assert_eq!(t.spans[0].events, first.events);
    assert_eq!(t.spans[1].attributes, second.attributes);
    assert_eq!(t.trace.input.expect("input").value, long);
}

fn annotation(
    session: &str,
    name: &str,
    label: &str,
    score: Option<f64>,
    identifier: &str,
) -> NewAnnotation {
    NewAnnotation {
        session_id: session.to_owned(),
        name: name.to_owned(),
        annotator_kind: AnnotatorKind::Llm,
        label: Some(label.to_owned()),
        score,
        explanation: Some(format!("{name} is {label}")),
        metadata: json!({"judge": "test"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        identifier: identifier.to_owned(),
        ..Default::default()
    }
}

fn two_sessions<S: Store>(store: &S) {
    store
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "s1"})),
            record("p", 2, 2, None, 5, json!({"session.id": "s2"})),
        ])
        .expect("write");
}

/// Annotations: the same (session, name, identifier) replaces, another
/// identifier adds; reads return what was written, oldest first.
pub fn annotations_upsert_by_name_and_identifier<S: Store>(store: S) {
    two_sessions(&store);
    let first = store
        .upsert_annotations("p", &[annotation("s1", "goal", "met", Some(1.0), "")])
        .expect("upsert");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].label.as_deref(), Some("met"));
    assert_eq!(first[0].annotator_kind, AnnotatorKind::Llm);
    assert_eq!(first[0].metadata.get("judge"), Some(&json!("test")));
    let again = store
        .upsert_annotations(
            "p",
            &[
                annotation("s1", "goal", "missed", Some(0.0), ""),
                annotation("s1", "note", "looks fine", None, "reviewer-a"),
                annotation("s1", "note", "agree", None, "reviewer-b"),
            ],
        )
        .expect("upsert");
    assert_eq!(again[0].id, first[0].id, "same key, same annotation");
    let all = store.annotations("p", "s1").expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].label.as_deref(), Some("missed"));
    assert_eq!(all[0].score, Some(0.0));
    assert!(store.annotations("p", "s2").expect("list").is_empty());
}

/// Annotations need an existing session; a batch with one unknown session
/// writes nothing.
pub fn annotations_need_an_existing_session<S: Store>(store: S) {
    two_sessions(&store);
    let err = store
        .upsert_annotations(
            "p",
            &[
                annotation("s1", "goal", "met", None, ""),
                annotation("nope", "goal", "met", None, ""),
            ],
        )
        .expect_err("unknown session");
    assert!(matches!(err, StoreError::NotFound("session")), "{err:?}");
    assert!(
        store.annotations("p", "s1").expect("list").is_empty(),
        "all or nothing"
    );
    assert!(matches!(
        store.annotations("p", "nope"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.upsert_annotations("other-project", &[annotation("s1", "g", "x", None, "")]),
        Err(StoreError::NotFound(_))
    ));
}

/// Sessions carry a summary of their annotations: counts, labels, mean score.
pub fn sessions_summarize_their_annotations<S: Store>(store: S) {
    two_sessions(&store);
    store
        .upsert_annotations(
            "p",
            &[
                annotation("s1", "goal", "met", Some(1.0), "a"),
                annotation("s1", "goal", "missed", Some(0.0), "b"),
                annotation("s1", "goal", "met", Some(1.0), "c"),
                annotation("s2", "feedback", "thumbs_down", None, ""),
            ],
        )
        .expect("upsert");
    let s1 = store.session("p", "s1").expect("session");
    assert_eq!(s1.annotations.len(), 1);
    let goal = &s1.annotations[0];
    assert_eq!((goal.name.as_str(), goal.count), ("goal", 3));
    assert!((goal.mean_score.expect("mean") - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(goal.labels.get("met"), Some(&2));
    let listed = store
        .sessions(
            "p",
            &SessionQuery {
                page: PageQuery {
                    limit: 10,
                    cursor: None,
                },
                ..Default::default()
            },
        )
        .expect("list");
    let s2 = listed
        .data
        .iter()
        .find(|s| s.session_id == "s2")
        .expect("s2");
    assert_eq!(s2.annotations[0].labels.get("thumbs_down"), Some(&1));
}

/// Deleting an annotation, and deleting a session, remove annotations.
pub fn deleting_removes_annotations<S: Store>(store: S) {
    two_sessions(&store);
    let stored = store
        .upsert_annotations(
            "p",
            &[
                annotation("s1", "goal", "met", None, ""),
                annotation("s2", "goal", "met", None, ""),
            ],
        )
        .expect("upsert");
    assert!(
        matches!(
            store.delete_annotation("p", "s2", stored[0].id),
            Err(StoreError::NotFound("annotation"))
        ),
        "an id of another session"
    );
    store
        .delete_annotation("p", "s1", stored[0].id)
        .expect("delete");
    assert!(store.annotations("p", "s1").expect("list").is_empty());
    store.delete_session("p", "s2").expect("delete session");
    // the same session id coming back starts without the old verdicts
    store
        .write(&[record("p", 3, 3, None, 9, json!({"session.id": "s2"}))])
        .expect("write");
    assert!(store.annotations("p", "s2").expect("list").is_empty());
}

/// One `#[test]` per clause of the contract, each on a fresh store from
/// `$open()`: a function returning `(guard, store)`, where the guard cleans up
/// (a temp dir, a database schema) when dropped, after the store.
#[macro_export]
macro_rules! conformance_suite {
    ($open:expr) => {
        $crate::conformance_suite!(@tests $open;
            idempotent_writes,
            small_writes_at_once_each_hear_their_own_counts,
            root_arriving_last_moves_the_trace,
            sessions_are_keyed_by_project,
            project_last_activity_is_its_latest_trace_end,
            paging_is_complete_and_stable,
            session_filters,
            session_filters_follow_a_trace_that_leaves_and_one_that_returns,
            session_filters_of_a_session_written_after_one_deleted,
            a_session_a_trace_left_is_made_anew_by_a_later_turn,
            text_search_folds_unicode_case,
            text_search_pages_through_common_words,
            traces_without_a_session_are_reachable,
            session_sums_saturate,
            delete_session_removes_its_traces,
            unknown_names_are_not_found,
            turns_in_time_order,
            sessions_show_their_first_input_and_last_output,
            attributes_round_trip,
            annotations_upsert_by_name_and_identifier,
            annotations_need_an_existing_session,
            sessions_summarize_their_annotations,
            deleting_removes_annotations,
            sessions_are_found_by_id_across_projects,
            session_rows_carry_their_traces_and_ids,
            projects_are_created_described_and_deleted,
            bulk_session_delete_skips_the_missing,
            annotations_in_several_projects_are_all_or_nothing,
            annotations_are_listed_by_filter,
            annotations_are_deleted_by_filter,
            notes_are_left_out_of_summaries,
            span_search_filters_and_pages,
            traces_sort_and_filter,
            status_follows_the_last_arrival,
            idle_sessions_are_listed_until_seen,
            jobs_are_queued_once,
            leases_are_exclusive_and_only_the_holder_finishes,
            failed_attempts_wait_and_failures_are_recorded,
            verdicts_go_stale_and_are_replaced,
            evaluators_are_versioned,
            backfills_count_and_deletes_take_jobs,
            sessions_filter_and_sort_by_annotation,
            sessions_are_found_by_id_or_its_start,
            annotation_configs_check_every_write,
            project_stats_count_and_trend,
            retention_deletes_whole_expired_sessions,
        );
        $crate::conformance_suite!(@fresh_stores $open;
            events_join_their_spans_in_either_order,
            a_store_read_for_copy_writes_the_same_store,
            session_totals_do_not_depend_on_batches,
            split_and_order_do_not_matter,
            turn_words_do_not_depend_on_batches,
            session_filters_follow_traces_split_across_writes,
        );
    };
    // Clauses that open several stores (each kept open to the test's end):
    // they compare one set of writes against another.
    (@fresh_stores $open:expr; $($clause:ident),* $(,)?) => {
        $(
            #[test]
            fn $clause() {
                let mut kept = Vec::new();
                conformance::$clause(|| {
                    let (guard, store) = $open();
                    kept.push(guard);
                    store
                });
            }
        )*
    };
    (@tests $open:expr; $($clause:ident),* $(,)?) => {
        $(
            #[test]
            fn $clause() {
                let (_guard, store) = $open();
                conformance::$clause(store);
            }
        )*
    };
}
