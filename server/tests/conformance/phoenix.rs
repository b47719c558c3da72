//! Clauses of the contract that Phoenix's API relies on: sessions found by id
//! across projects, projects created and deleted, bulk session deletes,
//! annotations of several projects at once, listed and deleted by filter,
//! notes, the span search, the trace list's sorts and filters.

use openinference_session_server::annotation::{AnnotatorKind, NOTE, NewAnnotation};
use openinference_session_server::ids;
use openinference_session_server::model::{SpanRecord, SpanStatus};
use openinference_session_server::store::{
    AnnotationFilter, AnnotationQuery, Order, PageQuery, ParentFilter, SessionQuery, SpanQuery,
    Store, StoreError, TraceQuery, TraceSort,
};
use serde_json::json;

use super::{annotation, record, session_ids};

fn page(limit: usize, cursor: Option<String>) -> PageQuery {
    PageQuery { limit, cursor }
}

/// Sessions "a" and "shared" in project "p", "shared" and "b" in "q"; each
/// trace a root (`t`, span 1) and an LLM child (span 2) with 3 + 2 tokens.
fn two_projects<S: Store>(store: &S) {
    let mut spans = Vec::new();
    for (project, t, session) in [
        ("p", 1, "a"),
        ("p", 2, "shared"),
        ("q", 3, "shared"),
        ("q", 4, "b"),
    ] {
        spans.push(record(
            project,
            t,
            1,
            None,
            i64::from(t),
            json!({"session.id": session, "input.value": format!("q{t}")}),
        ));
        spans.push(record(project, t, 2, Some(1), i64::from(t), json!({"openinference.span.kind": "LLM", "llm.token_count.prompt": 3, "llm.token_count.completion": 2})));
    }
    store.write(&spans).expect("write");
}

/// A session id is looked up in every project at once.
pub fn sessions_are_found_by_id_across_projects<S: Store>(store: S) {
    two_projects(&store);
    let found = store
        .sessions_named(&["shared".into(), "a".into(), "nope".into()])
        .expect("sessions named");
    assert_eq!(
        found,
        [
            ("a".to_owned(), "p".to_owned()),
            ("shared".to_owned(), "p".to_owned()),
            ("shared".to_owned(), "q".to_owned()),
        ]
    );
    assert!(store.sessions_named(&[]).expect("none").is_empty());
}

/// Session rows carry their traces in time order, their ids and Phoenix's flat
/// token counts, in the list and alone.
pub fn session_rows_carry_their_traces_and_ids<S: Store>(store: S) {
    two_projects(&store);
    store
        .write(&[record("p", 9, 1, None, 0, json!({"session.id": "a"}))])
        .expect("write an earlier turn");
    let a = store.session("p", "a").expect("session");
    assert_eq!(a.id, ids::session("p", "a"));
    assert_eq!(a.project_id, ids::project("p"));
    let traces: Vec<&str> = a.traces.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(traces, ["09".repeat(16), "01".repeat(16)], "by start time");
    assert_eq!(a.traces[1].id, ids::trace("p", &"01".repeat(16)));
    assert_eq!(
        (
            a.token_count_prompt,
            a.token_count_completion,
            a.token_count_total
        ),
        (3, 2, 5)
    );
    let listed = store
        .sessions(
            "p",
            &SessionQuery {
                page: page(10, None),
                ..Default::default()
            },
        )
        .expect("list");
    let in_list = listed.data.iter().find(|s| s.session_id == "a").expect("a");
    assert_eq!(in_list.traces, a.traces);
    let projects = store.projects().expect("projects");
    assert_eq!(projects[0].id, ids::project("p"));
    assert_eq!(projects[0].description, None);
}

/// Projects are created empty (a name is taken once), described, read one at
/// a time, and deleted with everything they hold; the others stay.
pub fn projects_are_created_described_and_deleted<S: Store>(store: S) {
    two_projects(&store);
    let created = store
        .create_project("new", Some("offline evals"))
        .expect("create");
    assert_eq!((created.name.as_str(), created.session_count), ("new", 0));
    assert_eq!(created.description.as_deref(), Some("offline evals"));
    assert!(matches!(
        store.create_project("p", None),
        Err(StoreError::AlreadyExists("project"))
    ));
    let described = store.update_project("p", Some("support")).expect("update");
    assert_eq!(described.description.as_deref(), Some("support"));
    assert_eq!(
        store
            .update_project("p", None)
            .expect("unchanged")
            .description
            .as_deref(),
        Some("support")
    );
    assert_eq!(store.project("p").expect("project").trace_count, 2);
    assert!(matches!(
        store.update_project("nope", None),
        Err(StoreError::NotFound("project"))
    ));

    store
        .upsert_annotations("p", &[annotation("a", "goal", "met", None, "")])
        .expect("annotate");
    store.delete_project("p").expect("delete");
    assert!(matches!(
        store.project("p"),
        Err(StoreError::NotFound("project"))
    ));
    assert!(matches!(
        store.delete_project("p"),
        Err(StoreError::NotFound("project"))
    ));
    let names: Vec<String> = store
        .projects()
        .expect("projects")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["new", "q"]);
    assert_eq!(
        session_ids(&store, "q").len(),
        2,
        "another project's sessions stay"
    );
    assert_eq!(store.trace("q", &[3; 16]).expect("trace").spans.len(), 2);
    // the same traces sent again make the project anew, without the old verdicts
    two_projects(&store);
    assert_eq!(store.session("p", "a").expect("session").num_traces, 1);
    assert!(store.annotations("p", "a").expect("annotations").is_empty());
}

/// A bulk delete takes (project, session) pairs in one transaction and skips
/// those that do not exist.
pub fn bulk_session_delete_skips_the_missing<S: Store>(store: S) {
    two_projects(&store);
    let deleted = store
        .delete_sessions(&[
            ("p".into(), "shared".into()),
            ("q".into(), "b".into()),
            ("q".into(), "never".into()),
            ("nowhere".into(), "a".into()),
        ])
        .expect("delete");
    assert_eq!(deleted, 2);
    assert_eq!(session_ids(&store, "p"), ["a"]);
    assert_eq!(session_ids(&store, "q"), ["shared"]);
    assert!(matches!(
        store.trace("p", &[2; 16]),
        Err(StoreError::NotFound("trace"))
    ));
}

/// Annotations of sessions in several projects are written in one
/// transaction: one unknown session and none is written.
pub fn annotations_in_several_projects_are_all_or_nothing<S: Store>(store: S) {
    two_projects(&store);
    let batch = |last: &str| {
        vec![
            (
                "p".to_owned(),
                annotation("shared", "goal", "met", Some(1.0), ""),
            ),
            (
                "q".to_owned(),
                annotation(last, "goal", "missed", Some(0.0), ""),
            ),
        ]
    };
    assert!(matches!(
        store.upsert_annotations_in(&batch("a")),
        Err(StoreError::NotFound("session"))
    ));
    assert!(
        store.annotations("p", "shared").expect("list").is_empty(),
        "all or nothing"
    );
    let stored = store.upsert_annotations_in(&batch("b")).expect("annotate");
    assert_eq!(stored.len(), 2);
    assert_eq!(
        store.annotations("q", "b").expect("list")[0]
            .label
            .as_deref(),
        Some("missed")
    );
    assert!(
        store.annotations("q", "shared").expect("list").is_empty(),
        "p's shared, not q's"
    );
}

fn three_annotations<S: Store>(store: &S) -> Vec<i64> {
    two_projects(store);
    let mut note = annotation("a", NOTE, "", None, "px-session-note:1");
    note.label = None;
    store
        .upsert_annotations(
            "p",
            &[
                annotation("a", "goal", "met", Some(1.0), ""),
                NewAnnotation {
                    annotator_kind: AnnotatorKind::Human,
                    ..annotation("shared", "goal", "missed", Some(0.0), "reviewer")
                },
                note,
            ],
        )
        .expect("annotate")
        .into_iter()
        .map(|a| a.id)
        .collect()
}

/// A project's annotations are listed newest first, by session, identifier
/// and name, page by page.
pub fn annotations_are_listed_by_filter<S: Store>(store: S) {
    let ids = three_annotations(&store);
    store
        .upsert_annotations(
            "q",
            &[annotation("shared", "goal", "met", None, "reviewer")],
        )
        .expect("annotate q");
    let list = |q: AnnotationQuery| -> Vec<i64> {
        store
            .list_annotations("p", &q)
            .expect("list")
            .data
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    let by_session = |sessions: &[&str]| AnnotationQuery {
        page: page(10, None),
        session_ids: sessions.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(
        list(by_session(&["a", "shared"])),
        [ids[2], ids[1], ids[0]],
        "newest first"
    );
    assert_eq!(
        list(AnnotationQuery {
            identifiers: vec!["reviewer".into()],
            ..by_session(&[])
        }),
        [ids[1]],
        "this project's only"
    );
    assert_eq!(
        list(AnnotationQuery {
            include_names: vec!["goal".into()],
            ..by_session(&["a"])
        }),
        [ids[0]]
    );
    assert_eq!(
        list(AnnotationQuery {
            exclude_names: vec![NOTE.into()],
            ..by_session(&["a", "shared"])
        }),
        [ids[1], ids[0]]
    );
    let first = store
        .list_annotations(
            "p",
            &AnnotationQuery {
                page: page(2, None),
                ..by_session(&["a", "shared"])
            },
        )
        .expect("page");
    assert_eq!(first.data.len(), 2);
    let rest = store
        .list_annotations(
            "p",
            &AnnotationQuery {
                page: page(2, first.next_cursor),
                ..by_session(&["a", "shared"])
            },
        )
        .expect("next page");
    assert_eq!(rest.data.iter().map(|a| a.id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(rest.next_cursor, None);
    assert!(matches!(
        store.list_annotations("nope", &by_session(&["a"])),
        Err(StoreError::NotFound("project"))
    ));
}

/// A filtered delete removes what matches every filter, in one project.
pub fn annotations_are_deleted_by_filter<S: Store>(store: S) {
    three_annotations(&store);
    store
        .upsert_annotations("q", &[annotation("shared", "goal", "met", None, "")])
        .expect("annotate q");
    let human = AnnotationFilter {
        name: Some("goal".into()),
        annotator_kind: Some(AnnotatorKind::Human),
        ..Default::default()
    };
    assert_eq!(store.delete_annotations("p", &human).expect("delete"), 1);
    let future = AnnotationFilter {
        created_from_ns: Some(i64::MAX - 1),
        ..Default::default()
    };
    assert_eq!(store.delete_annotations("p", &future).expect("none"), 0);
    let everything = AnnotationFilter {
        created_before_ns: Some(i64::MAX),
        ..Default::default()
    };
    assert_eq!(store.delete_annotations("p", &everything).expect("all"), 2);
    assert!(store.annotations("p", "a").expect("list").is_empty());
    assert_eq!(
        store.annotations("q", "shared").expect("list").len(),
        1,
        "another project's stay"
    );
}

/// Notes are listed with the annotations but left out of the summaries.
pub fn notes_are_left_out_of_summaries<S: Store>(store: S) {
    three_annotations(&store);
    let a = store.session("p", "a").expect("session");
    let names: Vec<&str> = a.annotations.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["goal"]);
    assert_eq!(store.annotations("p", "a").expect("list").len(), 2);
}

fn with_status(mut r: SpanRecord, code: i32) -> SpanRecord {
    r.status_code = code;
    r.facts.status_code = code;
    r
}

/// The span search: by trace, span id, parent (roots), name, kind (`UNKNOWN`
/// without one), status, start time and attribute values, newest first, page
/// by page, also when an attribute filter leaves most spans out.
pub fn span_search_filters_and_pages<S: Store>(store: S) {
    // one write each: newest is last written
    for span in [
        record(
            "p",
            1,
            1,
            None,
            0,
            json!({"session.id": "s", "openinference.span.kind": "CHAIN", "user.id": "u-1"}),
        ),
        with_status(
            record(
                "p",
                1,
                2,
                Some(1),
                1,
                json!({"openinference.span.kind": "LLM", "llm.token_count.prompt": 12}),
            ),
            2,
        ),
        record(
            "p",
            2,
            1,
            None,
            2,
            json!({"openinference.span.kind": "chain", "user.id": "u-2", "flag": true}),
        ),
        record("q", 3, 1, None, 3, json!({"user.id": "u-1"})),
    ] {
        store.write(&[span]).expect("write");
    }
    // 357 newer spans that the attribute filters below leave out: more than
    // one batch of candidates
    let mut many: Vec<SpanRecord> = (10..=255u8)
        .map(|s| record("p", 4, s, Some(1), 4, json!({"n": s})))
        .collect();
    many.extend((10..=120u8).map(|s| record("p", 5, s, Some(1), 5, json!({"n": s}))));
    store.write(&many).expect("write many");
    let search = |q: SpanQuery| -> Vec<(String, String)> {
        store
            .spans(
                "p",
                &SpanQuery {
                    page: page(1000, None),
                    ..q
                },
            )
            .expect("spans")
            .data
            .into_iter()
            .map(|s| (s.trace_id, s.span.span_id))
            .collect()
    };
    let id = |t: u8, s: u8| (format!("{t:02x}").repeat(16), format!("{s:02x}").repeat(8));
    assert_eq!(
        search(SpanQuery {
            trace_ids: vec![[1; 16]],
            ..Default::default()
        }),
        [id(1, 2), id(1, 1)],
        "newest first"
    );
    assert_eq!(
        search(SpanQuery {
            parent: Some(ParentFilter::Root),
            ..Default::default()
        }),
        [id(2, 1), id(1, 1)]
    );
    assert_eq!(
        search(SpanQuery {
            parent: Some(ParentFilter::Of([1; 8])),
            trace_ids: vec![[1; 16]],
            ..Default::default()
        }),
        [id(1, 2)]
    );
    assert_eq!(
        search(SpanQuery {
            span_ids: vec![[2; 8]],
            ..Default::default()
        }),
        [id(1, 2)]
    );
    assert_eq!(
        search(SpanQuery {
            names: vec!["span-1".into()],
            ..Default::default()
        }),
        [id(2, 1), id(1, 1)]
    );
    assert_eq!(
        search(SpanQuery {
            kinds: vec!["CHAIN".into()],
            ..Default::default()
        }),
        [id(2, 1), id(1, 1)],
        "kinds are upper case"
    );
    assert_eq!(
        search(SpanQuery {
            kinds: vec!["UNKNOWN".into()],
            ..Default::default()
        })
        .len(),
        357
    );
    assert_eq!(
        search(SpanQuery {
            statuses: vec![SpanStatus::Error],
            ..Default::default()
        }),
        [id(1, 2)]
    );
    let at = |s: i64| 1_790_000_000_000_000_000 + s * 1_000_000_000;
    assert_eq!(
        search(SpanQuery {
            start_ns: Some(at(1)),
            end_ns: Some(at(2)),
            ..Default::default()
        }),
        [id(1, 2)],
        "[start, end)"
    );
    assert_eq!(
        search(SpanQuery {
            attributes: vec![("user.id".into(), json!("u-1"))],
            ..Default::default()
        }),
        [id(1, 1)],
        "this project's"
    );
    assert_eq!(
        search(SpanQuery {
            attributes: vec![("llm.token_count.prompt".into(), json!(12.0))],
            ..Default::default()
        }),
        [id(1, 2)],
        "numbers by value"
    );
    assert_eq!(
        search(SpanQuery {
            attributes: vec![
                ("flag".into(), json!(true)),
                ("user.id".into(), json!("u-2"))
            ],
            ..Default::default()
        }),
        [id(2, 1)]
    );
    assert!(
        search(SpanQuery {
            attributes: vec![("flag".into(), json!("true"))],
            ..Default::default()
        })
        .is_empty()
    );

    // pages of 1 under an attribute filter that most candidates fail
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let q = SpanQuery {
            page: page(1, cursor),
            attributes: vec![("user.id".into(), json!("u-1"))],
            ..Default::default()
        };
        let got = store.spans("p", &q).expect("page");
        seen.extend(got.data.into_iter().map(|s| s.span.span_id));
        cursor = got.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["01".repeat(8)]);
    let all = store
        .spans(
            "p",
            &SpanQuery {
                page: page(100, None),
                ..Default::default()
            },
        )
        .expect("page");
    assert_eq!(all.data.len(), 100);
    let next = store
        .spans(
            "p",
            &SpanQuery {
                page: page(1000, all.next_cursor),
                ..Default::default()
            },
        )
        .expect("rest");
    assert_eq!(all.data.len() + next.data.len(), 360);
    assert_eq!(next.next_cursor, None);
    assert!(matches!(
        store.spans("nope", &SpanQuery::default()),
        Err(StoreError::NotFound("project"))
    ));
}

/// The trace list sorts by start or latency either way, filters by sessions,
/// errors and latency, and its traces' spans come in brief.
pub fn traces_sort_and_filter<S: Store>(store: S) {
    // trace t lasts t seconds (+0.25) and errors when t is even
    let mut spans = Vec::new();
    for t in 1..=4u8 {
        let session = if t <= 2 { "s1" } else { "s2" };
        spans.push(with_status(
            record(
                "p",
                t,
                1,
                None,
                10 * i64::from(t),
                json!({"session.id": session}),
            ),
            if t % 2 == 0 { 2 } else { 0 },
        ));
        spans.push(record(
            "p",
            t,
            2,
            Some(1),
            10 * i64::from(t) + i64::from(t),
            json!({"openinference.span.kind": "LLM"}),
        ));
    }
    store.write(&spans).expect("write");
    let list = |q: TraceQuery| -> Vec<String> {
        store
            .traces(
                "p",
                &TraceQuery {
                    page: page(100, None),
                    ..q
                },
            )
            .expect("traces")
            .data
            .into_iter()
            .map(|t| t.trace_id[..2].to_owned())
            .collect()
    };
    assert_eq!(list(TraceQuery::default()), ["04", "03", "02", "01"]);
    assert_eq!(
        list(TraceQuery {
            sort: TraceSort::LatencyMs,
            order: Order::Asc,
            ..Default::default()
        }),
        ["01", "02", "03", "04"]
    );
    assert_eq!(
        list(TraceQuery {
            session_ids: vec!["s1".into(), "nope".into()],
            ..Default::default()
        }),
        ["02", "01"]
    );
    assert_eq!(
        list(TraceQuery {
            session_id: Some("s2".into()),
            session_ids: vec!["s1".into()],
            ..Default::default()
        })
        .len(),
        4
    );
    assert_eq!(
        list(TraceQuery {
            has_error: Some(true),
            ..Default::default()
        }),
        ["04", "02"]
    );
    assert_eq!(
        list(TraceQuery {
            has_error: Some(false),
            ..Default::default()
        }),
        ["03", "01"]
    );
    let ms = |s: f64| (s * 1e9) as i64;
    assert_eq!(
        list(TraceQuery {
            min_latency_ns: Some(ms(2.25)),
            max_latency_ns: Some(ms(3.25)),
            ..Default::default()
        }),
        ["03", "02"],
        "inclusive"
    );
    // pages of a latency sort, descending
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let got = store
            .traces(
                "p",
                &TraceQuery {
                    page: page(3, cursor),
                    sort: TraceSort::LatencyMs,
                    ..Default::default()
                },
            )
            .expect("page");
        seen.extend(got.data.into_iter().map(|t| t.trace_id[..2].to_owned()));
        cursor = got.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["04", "03", "02", "01"]);
    let brief = store
        .span_summaries("p", &[[2; 16], [9; 16]])
        .expect("summaries");
    assert_eq!(brief.len(), 1);
    let (trace, spans) = &brief[0];
    assert_eq!(trace, &"02".repeat(16));
    let kinds: Vec<(&str, &str)> = spans
        .iter()
        .map(|s| (s.span_kind.as_str(), s.status_code.as_str()))
        .collect();
    assert_eq!(kinds, [("UNKNOWN", "ERROR"), ("LLM", "UNSET")]);
    assert_eq!(spans[1].parent_id.as_deref(), Some("01".repeat(8).as_str()));
    assert!(store.span_summaries("p", &[]).expect("none").is_empty());
}
