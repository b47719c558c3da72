//! Reading a store whole to copy it (`copy_spans`, `copy_events`,
//! `copy_annotations`, what `oi-sessions migrate` uses): batches by row id are
//! complete and never repeat, and what they return, written into an empty
//! store, makes the same sessions, traces, events and annotations; the
//! sessions' last activity is set back to the original's
//! (`restore_last_activity`).

use openinference_session_server::annotation::{AnnotatorKind, NewAnnotation};
use openinference_session_server::model::SessionInfo;
use openinference_session_server::pricing::PriceTable;
use openinference_session_server::store::{PageQuery, SessionQuery, Store};
use serde_json::{Value, json};

use super::{event, record};

/// Every item of a copy, read `batch` at a time.
fn all<T, S: Store>(
    store: &S,
    batch: usize,
    read: impl Fn(&S, i64, usize) -> Vec<T>,
    key: impl Fn(&T) -> i64,
) -> Vec<T> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let items = read(store, after, batch);
        assert!(items.len() <= batch);
        let Some(last) = items.last() else {
            return out;
        };
        let next = key(last);
        assert!(next > after, "row ids go up");
        after = next;
        out.extend(items);
    }
}

fn sessions<S: Store>(store: &S, project: &str) -> Vec<SessionInfo> {
    let q = SessionQuery {
        page: PageQuery {
            limit: 1000,
            cursor: None,
        },
        ..Default::default()
    };
    store.sessions(project, &q).expect("sessions").data
}

/// A copy read back in batches and written into an empty store is the same
/// store.
pub fn a_store_read_for_copy_writes_the_same_store<S: Store>(mut open: impl FnMut() -> S) {
    let original = open();
    let mut llm = record(
        "p",
        1,
        2,
        Some(1),
        1,
        json!({"session.id": "s1", "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
               "llm.token_count.prompt": 10, "llm.token_count.completion": 5,
               "nested": {"list": [1, 2.5, true, null, "x"]}}),
    );
    llm.events =
        vec![json!({"name": "exception", "time": "2026-01-01T00:00:00Z", "attributes": {"k": 1}})];
    llm.status_code = 2;
    llm.facts.status_code = 2;
    llm.status_message = "boom".into();
    original
        .write(&[
            record("p", 1, 1, None, 0, json!({"session.id": "s1", "user.id": "u", "input.value": "hi", "output.value": "hello"})),
            llm,
            record("p", 2, 3, None, 5, json!({"session.id": "s2", "tag.tags": ["a"]})),
            record("q", 3, 4, None, 9, json!({"session.id": "s1", "metadata": "{\"plan\": \"pro\"}"})),
            record("p", 4, 5, None, 12, json!({"no": "session"})),
        ])
        .expect("write");
    original
        .write_events(&[
            event(
                "p",
                2,
                3,
                0,
                "gen_ai.user.message",
                json!({"content": "question"}),
            ),
            event(
                "p",
                2,
                3,
                1,
                "gen_ai.choice",
                json!({"message": {"content": "answer"}}),
            ),
        ])
        .expect("events");
    let verdict = |session: &str, name: &str, label: &str| NewAnnotation {
        session_id: session.into(),
        name: name.into(),
        annotator_kind: AnnotatorKind::Human,
        label: Some(label.into()),
        score: Some(0.5),
        explanation: Some("why".into()),
        ..Default::default()
    };
    original
        .upsert_annotations_in(&[
            ("p".into(), verdict("s1", "quality", "good")),
            ("p".into(), verdict("s2", "note", "")),
            ("q".into(), verdict("s1", "quality", "bad")),
        ])
        .expect("annotations");

    let spans = all(
        &original,
        2,
        |s, a, n| s.copy_spans(a, n).expect("copy spans"),
        |c| c.rowid,
    );
    assert_eq!(spans.len(), 5, "every span once");
    let mut ids: Vec<[u8; 8]> = spans
        .iter()
        .map(|c| {
            c.clone()
                .into_record(&PriceTable::default())
                .unwrap()
                .span_id
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let events = all(
        &original,
        1,
        |s, a, n| s.copy_events(a, n).expect("copy events"),
        |e| e.0,
    );
    assert_eq!(events.len(), 2);
    let annotations = all(
        &original,
        2,
        |s, a, n| s.copy_annotations(a, n).expect("copy annotations"),
        |a| a.1.id,
    );
    assert_eq!(annotations.len(), 3);
    assert_eq!(annotations[2].0, "q");

    let copy = open();
    let records: Vec<_> = spans
        .into_iter()
        .map(|c| c.into_record(&PriceTable::default()).expect("a record"))
        .collect();
    // In another order and other batches: the copy does not depend on them.
    for chunk in records.rchunks(2) {
        copy.write(chunk).expect("write copy");
    }
    let events: Vec<_> = events.into_iter().map(|(_, e)| e).collect();
    copy.write_events(&events).expect("copy events");
    let new: Vec<(String, NewAnnotation)> = annotations
        .iter()
        .map(|(p, a)| {
            (
                p.clone(),
                NewAnnotation {
                    session_id: a.session_id.clone(),
                    name: a.name.clone(),
                    annotator_kind: a.annotator_kind,
                    label: a.label.clone(),
                    score: a.score,
                    explanation: a.explanation.clone(),
                    metadata: a.metadata.clone(),
                    identifier: a.identifier.clone(),
                    user_id: a.user_id.clone(),
                    source: a.source,
                },
            )
        })
        .collect();
    copy.upsert_annotations_in(&new).expect("copy annotations");
    // the copy's traces arrived now: its sessions get the original's last
    // activity back (unknown sessions are skipped)
    for project in ["p", "q"] {
        let mut activity: Vec<(String, i64)> = sessions(&original, project)
            .into_iter()
            .map(|s| (s.session_id, s.last_activity_ns))
            .collect();
        let known = activity.len();
        activity.push(("never-stored".into(), 1));
        assert_eq!(
            copy.restore_last_activity(project, &activity)
                .expect("restore"),
            known
        );
    }

    for project in ["p", "q"] {
        assert_eq!(
            sessions(&copy, project),
            sessions(&original, project),
            "{project}"
        );
    }
    for (project, t) in [("p", 1u8), ("p", 2), ("q", 3), ("p", 4)] {
        let a = original.trace(project, &[t; 16]).expect("trace");
        let b = copy.trace(project, &[t; 16]).expect("trace");
        assert_eq!(b.spans, a.spans, "trace {t}");
        assert_eq!(
            serde_json::to_value(&b.trace).unwrap(),
            serde_json::to_value(&a.trace).unwrap()
        );
    }
    let events_back = all(
        &copy,
        10,
        |s, a, n| s.copy_events(a, n).expect("copy events"),
        |e| e.0,
    );
    let digests = |e: &[(i64, openinference_session_server::model::EventRecord)]| -> Vec<i64> {
        e.iter().map(|(_, e)| e.digest).collect()
    };
    assert_eq!(
        digests(&events_back),
        events.iter().map(|e| e.digest).collect::<Vec<_>>()
    );
    let content =
        |a: &[(String, openinference_session_server::annotation::Annotation)]| -> Vec<Value> {
            a.iter()
                .map(|(p, a)| {
                    json!([
                        p,
                        a.session_id,
                        a.name,
                        a.label,
                        a.score,
                        a.explanation,
                        a.annotator_kind.as_str()
                    ])
                })
                .collect()
        };
    let back = all(
        &copy,
        10,
        |s, a, n| s.copy_annotations(a, n).expect("copy annotations"),
        |a| a.1.id,
    );
    assert_eq!(content(&back), content(&annotations));
    // Past the end: nothing.
    assert!(
        copy.copy_spans(i64::MAX - 1, 10)
            .expect("copy spans")
            .is_empty()
    );
}
