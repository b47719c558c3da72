//! The store contract's clauses of the session lifecycle and online
//! evaluation: status from the last arrival, sessions gone idle listed until
//! seen, jobs queued once, leases exclusive, verdicts written only by the
//! lease holder and replaced on re-runs, stale once the session moves on.

use openinference_session_server::annotation::{AnnotatorKind, NewAnnotation};
use openinference_session_server::store::retention::PurgeRound;
use openinference_session_server::store::{
    JobOutcome, JobQuery, JobState, NewJob, Order, PageQuery, ProjectSettings, Put, SessionQuery,
    SessionSort, SessionStatus, Store, StoreError,
};
use serde_json::json;

use super::record;

const HOUR: i64 = 3_600_000_000_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn turn<S: Store>(store: &S, trace: u8, session: &str) {
    store
        .write(&[record(
            "p",
            trace,
            1,
            None,
            i64::from(trace),
            json!({"session.id": session, "input.value": format!("question {trace}")}),
        )])
        .unwrap();
}

fn job(session: &str, evaluator: &str, activity: i64) -> NewJob {
    NewJob {
        session_id: session.into(),
        evaluator: evaluator.into(),
        version: 1,
        activity_ns: activity,
        backfill_id: None,
    }
}

fn verdict(session: &str, label: &str) -> NewAnnotation {
    NewAnnotation {
        session_id: session.into(),
        name: "judge".into(),
        annotator_kind: AnnotatorKind::Llm,
        label: Some(label.into()),
        score: Some(1.0),
        identifier: "judge@v1".into(),
        ..Default::default()
    }
}

/// A session is active until no trace arrived for the idle period (the
/// server's default, or its project's own), then idle; the list filters and
/// sorts by it.
pub fn status_follows_the_last_arrival<S: Store>(store: S) {
    let before = now();
    turn(&store, 1, "a");
    turn(&store, 2, "b");
    store.set_default_session_idle(HOUR);
    let a = store.session("p", "a").unwrap();
    assert_eq!(a.status, SessionStatus::Active);
    assert!(
        a.last_activity_ns >= before,
        "last_activity is the arrival, not the span's time"
    );
    store.set_default_session_idle(1);
    assert_eq!(store.session("p", "a").unwrap().status, SessionStatus::Idle);
    // the project's own period wins over the server's
    store
        .set_project_settings(
            "p",
            &ProjectSettings {
                session_idle_ns: Some(HOUR),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        store.session("p", "a").unwrap().status,
        SessionStatus::Active
    );
    assert_eq!(
        store.project_settings("p").unwrap().session_idle_ns,
        Some(HOUR)
    );
    let list = |status| {
        store
            .sessions(
                "p",
                &SessionQuery {
                    page: PageQuery {
                        limit: 10,
                        cursor: None,
                    },
                    status: Some(status),
                    sort: SessionSort::LastActivity,
                    order: Order::Asc,
                    ..Default::default()
                },
            )
            .unwrap()
            .data
            .into_iter()
            .map(|s| s.session_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(SessionStatus::Active),
        ["a", "b"],
        "sorted by last activity"
    );
    assert!(list(SessionStatus::Idle).is_empty());
    store
        .set_project_settings(
            "p",
            &ProjectSettings {
                session_idle_ns: None,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(list(SessionStatus::Idle), ["a", "b"]);
    assert!(matches!(
        store.project_settings("nope"),
        Err(StoreError::NotFound(_))
    ));
}

/// A session gone idle is listed until it is marked seen at its activity; a
/// new trace makes it active, and once idle again, listed again.
pub fn idle_sessions_are_listed_until_seen<S: Store>(store: S) {
    store.set_default_session_idle(1);
    turn(&store, 1, "a");
    let idle = store.idle_sessions(now(), 100).unwrap();
    assert_eq!(idle.len(), 1);
    assert_eq!(
        (idle[0].project.as_str(), idle[0].session_id.as_str()),
        ("p", "a")
    );
    let first = idle[0].last_activity_ns;
    assert_eq!(
        store
            .enqueue_jobs("p", &[], &[("a".into(), first)])
            .unwrap(),
        0
    );
    assert!(
        store.idle_sessions(now(), 100).unwrap().is_empty(),
        "seen: not listed again"
    );
    turn(&store, 2, "a");
    let again = store.idle_sessions(now(), 100).unwrap();
    assert_eq!(again.len(), 1, "reopened and idle again");
    assert!(again[0].last_activity_ns > first);
    // not idle yet under a long period
    store.set_default_session_idle(HOUR);
    assert!(store.idle_sessions(now(), 100).unwrap().is_empty());
}

/// A job is queued once per (session, evaluator, version, activity).
pub fn jobs_are_queued_once<S: Store>(store: S) {
    turn(&store, 1, "a");
    let act = store.session("p", "a").unwrap().last_activity_ns;
    assert_eq!(
        store
            .enqueue_jobs("p", &[job("a", "judge", act)], &[])
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enqueue_jobs("p", &[job("a", "judge", act)], &[])
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .enqueue_jobs("p", &[job("a", "judge", act + 1)], &[])
            .unwrap(),
        1
    );
    let jobs = store
        .jobs(
            "p",
            &JobQuery {
                page: PageQuery {
                    limit: 10,
                    cursor: None,
                },
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(jobs.data.len(), 2);
    assert!(jobs.data.iter().all(|j| j.state == JobState::Queued));
    assert_eq!(store.evaluator_job_counts("p", "judge").unwrap().queued, 2);
}

/// A claimed job is its owner's until the lease ends: nobody else claims it
/// meanwhile; after, another claims it, and only the new holder can finish it.
pub fn leases_are_exclusive_and_only_the_holder_finishes<S: Store>(store: S) {
    turn(&store, 1, "a");
    let act = store.session("p", "a").unwrap().last_activity_ns;
    store
        .enqueue_jobs("p", &[job("a", "judge", act)], &[])
        .unwrap();
    let t = now();
    let a = store.claim_jobs("server-a", t, HOUR, 10).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].state, a[0].attempts), (JobState::Running, 1));
    assert!(
        store
            .claim_jobs("server-b", t + 1, HOUR, 10)
            .unwrap()
            .is_empty(),
        "leased"
    );
    // the lease ran out (server a died): b takes the job over
    let b = store
        .claim_jobs("server-b", t + HOUR + 1, HOUR, 10)
        .unwrap();
    assert_eq!((b.len(), b[0].attempts), (1, 2));
    assert!(
        !store
            .finish_job(&a[0], "server-a", &JobOutcome::Done(verdict("a", "bad")))
            .unwrap()
    );
    assert!(
        store.annotations("p", "a").unwrap().is_empty(),
        "a lost lease writes nothing"
    );
    assert!(
        store
            .finish_job(&b[0], "server-b", &JobOutcome::Done(verdict("a", "good")))
            .unwrap()
    );
    let notes = store.annotations("p", "a").unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].label.as_deref(), Some("good"));
    assert!(
        !store
            .finish_job(&b[0], "server-b", &JobOutcome::Done(verdict("a", "x")))
            .unwrap(),
        "finished once"
    );
    assert_eq!(store.evaluator_job_counts("p", "judge").unwrap().done, 1);
}

/// A failed attempt goes back to the queue for later (or fails for good); a
/// skipped job says why.
pub fn failed_attempts_wait_and_failures_are_recorded<S: Store>(store: S) {
    turn(&store, 1, "a");
    let act = store.session("p", "a").unwrap().last_activity_ns;
    store
        .enqueue_jobs("p", &[job("a", "judge", act), job("a", "other", act)], &[])
        .unwrap();
    let t = now();
    let claimed = store.claim_jobs("s", t, HOUR, 10).unwrap();
    assert_eq!(claimed.len(), 2);
    let retry = JobOutcome::Retry {
        run_after_ns: t + HOUR,
        error: "429 Too Many Requests".into(),
    };
    assert!(store.finish_job(&claimed[0], "s", &retry).unwrap());
    assert!(
        store
            .finish_job(
                &claimed[1],
                "s",
                &JobOutcome::Failed("401 Unauthorized".into())
            )
            .unwrap()
    );
    assert!(
        store.claim_jobs("s", t + 1, HOUR, 10).unwrap().is_empty(),
        "not due before its time"
    );
    let due = store.claim_jobs("s", t + HOUR, HOUR, 10).unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 2));
    let failed = store
        .jobs(
            "p",
            &JobQuery {
                page: PageQuery {
                    limit: 10,
                    cursor: None,
                },
                state: Some(JobState::Failed),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(failed.data.len(), 1);
    assert_eq!(failed.data[0].error.as_deref(), Some("401 Unauthorized"));
}

/// A verdict judges the session's activity it was queued for: new traces make
/// it stale; a re-run replaces it, and a verdict of another version of the
/// same evaluator is replaced too.
pub fn verdicts_go_stale_and_are_replaced<S: Store>(store: S) {
    turn(&store, 1, "a");
    let act = store.session("p", "a").unwrap().last_activity_ns;
    store
        .enqueue_jobs("p", &[job("a", "judge", act)], &[])
        .unwrap();
    let j = store.claim_jobs("s", now(), HOUR, 1).unwrap().remove(0);
    store
        .finish_job(&j, "s", &JobOutcome::Done(verdict("a", "good")))
        .unwrap();
    let summary = &store.session("p", "a").unwrap().annotations[0];
    assert!(!summary.stale);
    assert!(!store.annotations("p", "a").unwrap()[0].stale);
    turn(&store, 2, "a");
    assert!(
        store.annotations("p", "a").unwrap()[0].stale,
        "the session moved on"
    );
    assert!(store.session("p", "a").unwrap().annotations[0].stale);
    let act2 = store.session("p", "a").unwrap().last_activity_ns;
    let mut next = job("a", "judge", act2);
    next.version = 2;
    store.enqueue_jobs("p", &[next], &[]).unwrap();
    let j = store.claim_jobs("s", now(), HOUR, 1).unwrap().remove(0);
    let mut v2 = verdict("a", "bad");
    v2.identifier = "judge@v2".into();
    store.finish_job(&j, "s", &JobOutcome::Done(v2)).unwrap();
    let notes = store.annotations("p", "a").unwrap();
    assert_eq!(
        notes.len(),
        1,
        "the earlier version's verdict was replaced: {notes:?}"
    );
    assert_eq!(
        (notes[0].label.as_deref(), notes[0].stale),
        (Some("bad"), false)
    );
}

/// Evaluators: created once, replaced with a version that moves only when the
/// definition does, deleted with their pending jobs skipped.
pub fn evaluators_are_versioned<S: Store>(store: S) {
    turn(&store, 1, "a");
    let def = json!({"kind": "code", "rule": {"type": "no_errors"}});
    let e = store
        .put_evaluator("p", "clean", true, &def, Put::Create)
        .unwrap();
    assert_eq!((e.version, e.enabled), (1, true));
    assert!(matches!(
        store.put_evaluator("p", "clean", true, &def, Put::Create),
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.put_evaluator("p", "other", true, &def, Put::Replace),
        Err(StoreError::NotFound(_))
    ));
    let same = store
        .put_evaluator("p", "clean", false, &def, Put::Upsert)
        .unwrap();
    assert_eq!(
        (same.version, same.enabled),
        (1, false),
        "enabled alone keeps the version"
    );
    let changed = json!({"kind": "code", "rule": {"type": "turn_count", "max": 3}});
    assert_eq!(
        store
            .put_evaluator("p", "clean", true, &changed, Put::Upsert)
            .unwrap()
            .version,
        2
    );
    assert_eq!(store.evaluator("p", "clean").unwrap().definition, changed);
    assert_eq!(store.evaluators("p").unwrap().len(), 1);
    let act = store.session("p", "a").unwrap().last_activity_ns;
    store
        .enqueue_jobs("p", &[job("a", "clean", act)], &[])
        .unwrap();
    store.delete_evaluator("p", "clean").unwrap();
    assert_eq!(store.evaluator_job_counts("p", "clean").unwrap().skipped, 1);
    assert!(matches!(
        store.evaluator("p", "clean"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_evaluator("p", "clean"),
        Err(StoreError::NotFound(_))
    ));
}

/// Deleting a session deletes its jobs; a backfill counts what it queued and
/// its jobs by state.
pub fn backfills_count_and_deletes_take_jobs<S: Store>(store: S) {
    turn(&store, 1, "a");
    turn(&store, 2, "b");
    let id = store
        .create_backfill("p", "judge", &json!({"tag": "x"}))
        .unwrap();
    let act = |s: &str| store.session("p", s).unwrap().last_activity_ns;
    let jobs: Vec<NewJob> = ["a", "b"]
        .iter()
        .map(|s| NewJob {
            backfill_id: Some(id),
            ..job(s, "judge", act(s))
        })
        .collect();
    assert_eq!(store.enqueue_jobs("p", &jobs, &[]).unwrap(), 2);
    store.update_backfill(id, 3, 1, true).unwrap();
    let b = store.backfill("p", id).unwrap();
    assert_eq!(
        (b.matched, b.skipped, b.listed, b.jobs.queued),
        (3, 1, true, 2)
    );
    assert_eq!(b.filter, json!({"tag": "x"}));
    store.delete_session("p", "a").unwrap();
    assert_eq!(
        store.backfill("p", id).unwrap().jobs.queued,
        1,
        "the deleted session's job is gone"
    );
    assert!(matches!(
        store.backfill("p", id + 1000),
        Err(StoreError::NotFound(_))
    ));
}

fn scored(session: &str, name: &str, label: &str, score: f64) -> NewAnnotation {
    NewAnnotation {
        session_id: session.into(),
        name: name.into(),
        label: Some(label.into()),
        score: Some(score),
        ..Default::default()
    }
}

fn listed<S: Store>(store: &S, q: SessionQuery) -> Vec<String> {
    let q = SessionQuery {
        page: PageQuery {
            limit: 2,
            cursor: None,
        },
        ..q
    };
    let mut out = Vec::new();
    let mut page = q.page.clone();
    loop {
        let p = store
            .sessions(
                "p",
                &SessionQuery {
                    page: page.clone(),
                    ..q.clone()
                },
            )
            .unwrap();
        out.extend(p.data.into_iter().map(|s| s.session_id));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return out,
        }
    }
}

/// The list filters by an annotation (has it, its label, its score range, or
/// lacks it) and sorts by an annotation's mean score, paging through it.
pub fn sessions_filter_and_sort_by_annotation<S: Store>(store: S) {
    for (n, s) in ["a", "b", "c", "d"].iter().enumerate() {
        turn(&store, n as u8 + 1, s);
    }
    store
        .upsert_annotations(
            "p",
            &[
                scored("a", "quality", "good", 0.9),
                scored("b", "quality", "bad", 0.1),
                scored("c", "quality", "good", 0.6),
                scored("d", "feedback", "thumbs_down", 0.0),
            ],
        )
        .unwrap();
    let with = |name: &str| SessionQuery {
        annotation: Some(name.into()),
        ..Default::default()
    };
    let by_score = |order| SessionQuery {
        sort: SessionSort::AnnotationScore,
        order,
        ..with("quality")
    };
    assert_eq!(listed(&store, by_score(Order::Desc)), ["a", "c", "b"]);
    assert_eq!(listed(&store, by_score(Order::Asc)), ["b", "c", "a"]);
    let good = SessionQuery {
        annotation_label: Some("good".into()),
        sort: SessionSort::AnnotationScore,
        ..with("quality")
    };
    assert_eq!(listed(&store, good), ["a", "c"]);
    let range = SessionQuery {
        annotation_score_min: Some(0.5),
        annotation_score_max: Some(0.8),
        ..with("quality")
    };
    assert_eq!(listed(&store, range), ["c"]);
    let missing = SessionQuery {
        missing_annotation: Some("quality".into()),
        ..Default::default()
    };
    assert_eq!(listed(&store, missing), ["d"]);
}

/// The text search finds a session by its id, whole or its start (case as
/// given), as well as by what was said.
pub fn sessions_are_found_by_id_or_its_start<S: Store>(store: S) {
    turn(&store, 1, "conv-7f3a9c");
    turn(&store, 2, "conv-8e21aa");
    let q = |text: &str| {
        listed(
            &store,
            SessionQuery {
                q: Some(text.into()),
                ..Default::default()
            },
        )
    };
    assert_eq!(q("conv-7f3a9c"), ["conv-7f3a9c"]);
    assert_eq!(q("conv-8e"), ["conv-8e21aa"]);
    let mut both = q("conv-");
    both.sort();
    assert_eq!(both, ["conv-7f3a9c", "conv-8e21aa"]);
    assert!(q("7f3a9c").is_empty(), "the start of the id, not any part");
    assert_eq!(q("question 2"), ["conv-8e21aa"], "and still what was said");
}

/// An annotation config is checked on every write of its name: a label
/// outside a categorical config's list, a score outside a continuous one's
/// bounds, a label on free text are refused (naming the item and field, and
/// writing none of the batch); a categorical label's score is filled in.
pub fn annotation_configs_check_every_write<S: Store>(store: S) {
    use openinference_session_server::store::AnnotationConfig;
    turn(&store, 1, "a");
    let config = |v: serde_json::Value| -> AnnotationConfig { serde_json::from_value(v).unwrap() };
    let quality = config(
        json!({"name": "quality", "type": "categorical", "values": [{"label": "good", "score": 1}, {"label": "bad", "score": 0}]}),
    );
    store
        .put_annotation_config("p", &quality, Put::Create)
        .unwrap();
    store
        .put_annotation_config(
            "p",
            &config(
                json!({"name": "rating", "type": "continuous", "lower_bound": 1, "upper_bound": 5}),
            ),
            Put::Create,
        )
        .unwrap();
    assert!(matches!(
        store.put_annotation_config("p", &quality, Put::Create),
        Err(StoreError::AlreadyExists(_))
    ));
    let labelled = |name: &str, label: &str| NewAnnotation {
        session_id: "a".into(),
        name: name.into(),
        label: Some(label.into()),
        ..Default::default()
    };
    let stored = store
        .upsert_annotations("p", &[labelled("quality", "good")])
        .unwrap();
    assert_eq!(
        stored[0].score,
        Some(1.0),
        "the label's score, from the config"
    );
    let refused = store.upsert_annotations(
        "p",
        &[labelled("other", "anything"), labelled("quality", "great")],
    );
    match refused {
        Err(StoreError::Invalid {
            index,
            field,
            message,
        }) => {
            assert_eq!((index, field.as_str()), (1, "label"));
            assert!(message.contains("\"good\", \"bad\""), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        store
            .annotations("p", "a")
            .unwrap()
            .iter()
            .all(|a| a.name != "other"),
        "none of the batch"
    );
    let mut rating = labelled("rating", "x");
    rating.score = Some(9.0);
    assert!(matches!(
        store.upsert_annotations("p", &[rating]),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.annotation_configs("p").unwrap().len(), 2);
    store.delete_annotation_config("p", "quality").unwrap();
    assert!(
        store
            .upsert_annotations("p", &[labelled("quality", "great")])
            .is_ok(),
        "no config, no rule"
    );
    assert!(matches!(
        store.delete_annotation_config("p", "quality"),
        Err(StoreError::NotFound(_))
    ));
}

/// A project's stats: sessions, turns and their distribution, errors, and
/// each annotation's verdicts overall and per bucket of session start (notes
/// left out), within the window asked.
pub fn project_stats_count_and_trend<S: Store>(store: S) {
    use openinference_session_server::store::stats::StatsQuery;
    // two sessions on day 0 (1 and 3 turns), one on day 2 (2 turns, an error)
    let day = 86_400i64;
    let mut spans = Vec::new();
    for (trace, session, at) in [
        (1u8, "a", 0),
        (2, "b", 10),
        (3, "b", 20),
        (4, "b", 30),
        (5, "c", 2 * day),
        (6, "c", 2 * day + 5),
    ] {
        spans.push(record(
            "p",
            trace,
            1,
            None,
            at,
            json!({"session.id": session}),
        ));
    }
    let mut failing = record("p", 6, 2, Some(1), 2 * day + 5, json!({}));
    failing.status_code = 2;
    failing.facts.status_code = 2;
    spans.push(failing);
    store.write(&spans).unwrap();
    let verdict = |s: &str, label: &str, score: f64| NewAnnotation {
        session_id: s.into(),
        name: "quality".into(),
        label: Some(label.into()),
        score: Some(score),
        ..Default::default()
    };
    let note = NewAnnotation {
        session_id: "a".into(),
        name: "note".into(),
        explanation: Some("call back".into()),
        identifier: "n1".into(),
        ..Default::default()
    };
    store
        .upsert_annotations(
            "p",
            &[
                verdict("a", "good", 1.0),
                verdict("b", "bad", 0.0),
                verdict("c", "good", 1.0),
                note,
            ],
        )
        .unwrap();
    let all = store
        .project_stats(
            "p",
            &StatsQuery {
                start_ns: None,
                end_ns: None,
                bucket_ns: day * 1_000_000_000,
            },
        )
        .unwrap();
    assert_eq!(
        (all.sessions, all.turns, all.sessions_with_error),
        (3, 6, 1)
    );
    assert_eq!(
        (
            all.turns_per_session.p50,
            all.turns_per_session.max,
            all.turns_per_session.mean
        ),
        (2.0, 3.0, 2.0)
    );
    assert_eq!(
        all.trend
            .iter()
            .map(|b| (b.sessions, b.turns))
            .collect::<Vec<_>>(),
        [(2, 4), (1, 2)]
    );
    assert_eq!(
        all.annotations.len(),
        1,
        "notes are left out: {:?}",
        all.annotations
    );
    let q = &all.annotations[0];
    assert_eq!(
        (q.name.as_str(), q.overall.count, q.overall.labels["good"]),
        ("quality", 3, 2)
    );
    assert!((q.overall.mean_score.unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        q.trend
            .iter()
            .map(|b| b.verdicts.mean_score)
            .collect::<Vec<_>>(),
        [Some(0.5), Some(1.0)]
    );
    // the window: day 2 only
    let base = super::BASE;
    let late = store
        .project_stats(
            "p",
            &StatsQuery {
                start_ns: Some(base + day * 1_000_000_000),
                end_ns: None,
                bucket_ns: 3_600_000_000_000,
            },
        )
        .unwrap();
    assert_eq!((late.sessions, late.annotations[0].overall.count), (1, 1));
    assert!(matches!(
        store.project_stats(
            "nope",
            &StatsQuery {
                start_ns: None,
                end_ns: None,
                bucket_ns: 1
            }
        ),
        Err(StoreError::NotFound(_))
    ));
}

/// Retention: sessions whose last activity is older than their project's
/// retention (its own, else the server's; for ever by default) are deleted
/// whole, a batch at a time, and traces outside any session that started
/// before it; a project kept for ever keeps everything.
pub fn retention_deletes_whole_expired_sessions<S: Store>(store: S) {
    let write = |trace: u8, project: &str, session: &str| {
        store
            .write(&[
                record(
                    project,
                    trace,
                    1,
                    None,
                    i64::from(trace),
                    json!({"session.id": session, "input.value": format!("q{trace}")}),
                ),
                record(
                    project,
                    trace,
                    2,
                    Some(1),
                    i64::from(trace),
                    json!({"openinference.span.kind": "LLM"}),
                ),
            ])
            .unwrap();
    };
    write(1, "p", "old");
    write(2, "p", "old");
    write(3, "kept", "old");
    store
        .upsert_annotations(
            "p",
            &[NewAnnotation {
                session_id: "old".into(),
                name: "q".into(),
                label: Some("x".into()),
                ..Default::default()
            }],
        )
        .unwrap();
    let later = now() + 2 * HOUR;
    assert_eq!(
        store.purge_expired(later, 10).unwrap().deleted,
        0,
        "kept for ever by default"
    );
    store.set_default_retention(HOUR);
    store
        .set_project_settings(
            "kept",
            &ProjectSettings {
                retention_ns: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
    write(4, "p", "recent");
    // traces without a session, started now by their own clock
    let started_now = (now() - super::BASE) / 1_000_000_000;
    let sessionless = |trace: u8, project: &str| {
        store
            .write(&[record(project, trace, 1, None, started_now, json!({}))])
            .unwrap();
    };
    sessionless(5, "p");
    sessionless(6, "kept");
    assert_eq!(
        store.purge_expired(now() + HOUR / 2, 10).unwrap().deleted,
        0,
        "nothing is an hour old yet"
    );
    assert_eq!(
        store.purge_expired(later, 10).unwrap().deleted,
        3,
        "both sessions of p and its trace without a session"
    );
    assert!(matches!(
        store.trace("p", &[5; 16]),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.session("p", "old"),
        Err(StoreError::NotFound(_))
    ));
    assert!(
        matches!(store.trace("p", &[1; 16]), Err(StoreError::NotFound(_))),
        "its traces and spans too"
    );
    assert!(matches!(
        store.annotations("p", "old"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.session("kept", "old").unwrap().num_traces,
        1,
        "a project kept for ever"
    );
    assert!(store.trace("kept", &[6; 16]).is_ok());
    assert_eq!(
        store.purge_expired(later, 10).unwrap(),
        PurgeRound::default(),
        "nothing left"
    );
    // a project's own retention wins over the server's
    store
        .set_project_settings(
            "kept",
            &ProjectSettings {
                retention_ns: Some(HOUR),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        store.purge_expired(later, 10).unwrap(),
        PurgeRound {
            expired: 2,
            deleted: 2
        },
        "its session and its trace without a session"
    );
    assert!(matches!(
        store.trace("kept", &[6; 16]),
        Err(StoreError::NotFound(_))
    ));
    store.reclaim_space().unwrap();
}
