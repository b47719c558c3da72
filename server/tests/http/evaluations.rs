//! Online evaluation over HTTP, against the real server and a fake
//! OpenAI-compatible judge: sessions judged when they go idle, verdicts stale
//! when the session moves on and replaced when it is judged again, retries,
//! failures, timeouts and unparsable answers recorded, the code rules,
//! backfills, and every bad definition refused naming its field.

use std::time::Duration;

use openinference_session_server::evaluation::EvaluationSettings;
use serde_json::{Value, json};

use crate::common::judge::{Answer, FakeJudge};
use crate::common::*;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

/// A server whose sessions go idle one second after their last trace.
async fn server(backend: Backend, settings: EvaluationSettings) -> TestServer {
    TestServer::start_with(backend, |state| {
        *state = state
            .clone()
            .with_session_idle(Duration::from_secs(1))
            .with_evaluations(settings);
    })
    .await
}

fn quick() -> EvaluationSettings {
    EvaluationSettings {
        timeout: Duration::from_secs(2),
        max_attempts: 3,
        ..Default::default()
    }
}

/// One turn of `session`: a root span with the user's words and the reply.
async fn turn(
    server: &TestServer,
    trace: u8,
    session: &str,
    question: &str,
    answer: &str,
    extra: Vec<Span>,
) {
    let mut spans = vec![span(
        trace,
        1,
        None,
        u64::from(trace),
        vec![
            s("session.id", session),
            s("openinference.span.kind", "CHAIN"),
            s("input.value", question),
            s("output.value", answer),
        ],
    )];
    spans.extend(extra);
    let r = server.post_pb(&request("shop", spans)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn send(server: &TestServer, method: &str, path: &str, body: &Value) -> Reply {
    server
        .request(
            method,
            path,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
}

fn judge_spec(judge: &FakeJudge, name: &str) -> Value {
    json!({
        "name": name,
        "kind": "llm_judge",
        "llm": {"base_url": judge.base_url(), "model": "judge-1", "api_key_env": "HOME"},
        "criteria": "Did the assistant solve the user's problem?",
        "labels": {"resolved": 1.0, "unresolved": 0.0},
    })
}

async fn create(server: &TestServer, spec: &Value) -> Value {
    let r = send(server, "POST", "/v1/projects/shop/evaluators", spec).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// Waits (long-poll, no sleep) until `at_least` jobs match `query`.
async fn jobs(server: &TestServer, query: &str, at_least: usize) -> Vec<Value> {
    let page = server
        .get_ok(&format!(
            "/v1/projects/shop/evaluation_jobs?{query}&wait=30s&at_least={at_least}"
        ))
        .await;
    let data = page["data"].as_array().unwrap().clone();
    assert!(
        data.len() >= at_least,
        "waited for {at_least} jobs matching {query}, got {data:#?}"
    );
    data
}

async fn annotations(server: &TestServer, session: &str) -> Vec<Value> {
    server
        .get_ok(&format!("/v1/projects/shop/sessions/{session}/annotations"))
        .await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// The whole loop: a session goes idle, the judge is asked about its
/// conversation, the verdict lands as an annotation; a new turn makes it
/// stale and active again; once idle again it is judged again and replaced.
pub async fn idle_sessions_are_judged_and_rejudged(backend: Backend) {
    let judge = FakeJudge::start(vec![Answer::Verdict(
        "unresolved",
        "the parcel is still lost",
    )])
    .await;
    let server = server(backend, quick()).await;
    turn(
        &server,
        1,
        "s1",
        "my parcel is late",
        "I rebooked it",
        vec![],
    )
    .await;
    let created = create(&server, &judge_spec(&judge, "resolution")).await;
    assert_eq!(
        (created["version"].as_i64(), created["enabled"].as_bool()),
        (Some(1), Some(true))
    );
    turn(
        &server,
        2,
        "s1",
        "it still has not come",
        "I am sorry",
        vec![],
    )
    .await;
    let active = server.get_ok("/v1/projects/shop/sessions/s1").await;
    assert_eq!(active["status"], "active");

    let done = jobs(&server, "session_id=s1&state=done", 1).await;
    assert_eq!(done[0]["evaluator"], "resolution");
    let call = &judge.calls()[0];
    assert!(
        call.prompt().contains(
            "user: my parcel is late\nassistant: I rebooked it\nuser: it still has not come"
        ),
        "{}",
        call.prompt()
    );
    assert!(
        call.prompt().contains("Criteria: Did the assistant solve"),
        "{}",
        call.prompt()
    );
    assert_eq!(call.body["response_format"], json!({"type": "json_object"}));
    assert_eq!(call.body["model"], "judge-1");
    assert_eq!(
        call.authorization,
        Some(format!("Bearer {}", std::env::var("HOME").unwrap())),
        "the key from the named variable"
    );

    let verdicts = annotations(&server, "s1").await;
    assert_eq!(verdicts.len(), 1, "{verdicts:#?}");
    let v = &verdicts[0];
    assert_eq!(
        (v["name"].as_str(), v["label"].as_str(), v["score"].as_f64()),
        (Some("resolution"), Some("unresolved"), Some(0.0))
    );
    assert_eq!(
        (v["annotator_kind"].as_str(), v["identifier"].as_str()),
        (Some("LLM"), Some("resolution@v1"))
    );
    assert_eq!(v["explanation"], "the parcel is still lost");
    assert_eq!(
        (
            v["metadata"]["evaluator"].as_str(),
            v["metadata"]["model"].as_str()
        ),
        (Some("resolution"), Some("judge-1"))
    );
    assert_eq!(v["stale"], false);
    let idle = server
        .get_ok("/v1/projects/shop/sessions?status=idle")
        .await;
    assert_eq!(idle["data"][0]["session_id"], "s1");
    assert_eq!(idle["data"][0]["annotations"][0]["labels"]["unresolved"], 1);

    // the conversation goes on: the verdict is stale until it is judged again
    turn(
        &server,
        3,
        "s1",
        "thanks, it arrived",
        "glad to hear",
        vec![],
    )
    .await;
    let moved = annotations(&server, "s1").await;
    assert_eq!(moved[0]["stale"], true);
    assert_eq!(
        server.get_ok("/v1/projects/shop/sessions/s1").await["status"],
        "active"
    );
    jobs(&server, "session_id=s1&state=done", 2).await;
    let rejudged = annotations(&server, "s1").await;
    assert_eq!(rejudged.len(), 1, "replaced, not added: {rejudged:#?}");
    assert_eq!(
        (
            rejudged[0]["label"].as_str(),
            rejudged[0]["stale"].as_bool()
        ),
        (Some("resolved"), Some(false))
    );
    assert_eq!(judge.calls().len(), 2);
    let evaluator = server
        .get_ok("/v1/projects/shop/evaluators/resolution")
        .await;
    assert_eq!(evaluator["jobs"]["done"], 2);
}

/// 429 and 5xx are retried (after the endpoint's Retry-After), then the
/// verdict is stored; a judge that keeps failing leaves a failed job with its
/// error; one that hangs times out; an answer that is not the JSON asked for
/// is stored as unparsable, not guessed.
pub async fn judge_failures_are_retried_or_recorded(backend: Backend) {
    let judge = FakeJudge::start(vec![
        Answer::Status(429),
        Answer::Status(503),
        Answer::Verdict("resolved", "ok"),
        Answer::Raw("I would say it went fine."),
        Answer::Status(500),
        Answer::Status(500),
        Answer::Status(500),
        Answer::Status(401),
    ])
    .await;
    let server = server(backend, quick()).await;
    turn(&server, 1, "retried", "hello", "hi", vec![]).await;
    create(&server, &judge_spec(&judge, "resolution")).await;
    let done = jobs(&server, "session_id=retried&state=done", 1).await;
    assert_eq!(done[0]["attempts"], 3, "two retries, then the verdict");
    assert_eq!(
        annotations(&server, "retried").await[0]["label"],
        "resolved"
    );

    turn(&server, 2, "rambling", "hello", "hi", vec![]).await;
    jobs(&server, "session_id=rambling&state=done", 1).await;
    let v = &annotations(&server, "rambling").await[0];
    assert_eq!(
        (v["label"].clone(), v["score"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(v["metadata"]["unparsable"], true);
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .contains("I would say it went fine.")
    );

    turn(&server, 3, "broken", "hello", "hi", vec![]).await;
    let failed = jobs(&server, "session_id=broken&state=failed", 1).await;
    assert_eq!(failed[0]["attempts"], 3);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("gave up after 3 attempts") && error.contains("500"),
        "{error}"
    );
    assert!(annotations(&server, "broken").await.is_empty());

    turn(&server, 4, "refused", "hello", "hi", vec![]).await;
    let refused = jobs(&server, "session_id=refused&state=failed", 1).await;
    assert_eq!(refused[0]["attempts"], 1, "a 401 is not retried");
    assert!(refused[0]["error"].as_str().unwrap().contains("401"));
    let counts = server
        .get_ok("/v1/projects/shop/evaluators/resolution")
        .await["jobs"]
        .clone();
    assert_eq!(
        (counts["done"].as_i64(), counts["failed"].as_i64()),
        (Some(2), Some(2))
    );
    assert!(
        !error.contains(&std::env::var("HOME").unwrap()),
        "the key never shows in an error"
    );
}

/// A judge that does not answer within the timeout fails the attempt.
pub async fn a_hanging_judge_times_out(backend: Backend) {
    let judge = FakeJudge::start(vec![Answer::Hang]).await;
    let settings = EvaluationSettings {
        timeout: Duration::from_secs(1),
        max_attempts: 1,
        ..Default::default()
    };
    let server = server(backend, settings).await;
    turn(&server, 1, "slow", "hello", "hi", vec![]).await;
    create(&server, &judge_spec(&judge, "resolution")).await;
    let failed = jobs(&server, "session_id=slow&state=failed", 1).await;
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within"),
        "{failed:#?}"
    );
}

/// The code rules: errors, turn counts, latency, tool errors and a regular
/// expression over the user's messages, each a pass/fail verdict saying what
/// it measured.
pub async fn code_rules_judge_sessions(backend: Backend) {
    let server = server(backend, quick()).await;
    let rules = [
        ("clean", json!({"type": "no_errors"})),
        ("short", json!({"type": "turn_count", "max": 1})),
        ("fast", json!({"type": "latency", "max_turn_ms": 60_000})),
        (
            "tools",
            json!({"type": "tool_error_rate", "max_rate": 0.25}),
        ),
        (
            "frustration",
            json!({"type": "regex", "pattern": "useless|not helpful"}),
        ),
    ];
    // evaluators can be set up before any trace arrives
    let r = send(&server, "POST", "/v1/projects", &json!({"name": "shop"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (name, rule) in &rules {
        create(
            &server,
            &json!({"name": name, "kind": "code", "rule": rule}),
        )
        .await;
    }
    let mut failing_tool = span(
        1,
        2,
        Some(1),
        1,
        vec![
            s("openinference.span.kind", "TOOL"),
            s("tool.name", "track_parcel"),
        ],
    );
    failing_tool.status = Some(Status {
        code: 2,
        message: "timeout".into(),
    });
    let ok_tool = span(
        1,
        3,
        Some(1),
        1,
        vec![
            s("openinference.span.kind", "TOOL"),
            s("tool.name", "track_parcel"),
        ],
    );
    turn(
        &server,
        1,
        "s",
        "where is my parcel?",
        "checking",
        vec![failing_tool, ok_tool],
    )
    .await;
    turn(&server, 2, "s", "this bot is USELESS", "sorry", vec![]).await;
    jobs(&server, "session_id=s&state=done", rules.len()).await;
    let verdicts = annotations(&server, "s").await;
    let label = |name: &str| {
        let v = verdicts
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {verdicts:#?}"));
        assert_eq!(v["annotator_kind"], "CODE");
        (
            v["label"].as_str().unwrap().to_owned(),
            v["explanation"].as_str().unwrap().to_owned(),
            v["metadata"].clone(),
        )
    };
    let (l, e, _) = label("clean");
    assert_eq!(l, "fail", "{e}");
    assert!(e.contains("1 of 2 turns errored"), "{e}");
    let (l, e, m) = label("short");
    assert_eq!((l.as_str(), m["turns"].as_i64()), ("fail", Some(2)), "{e}");
    assert_eq!(label("fast").0, "pass");
    let (l, e, m) = label("tools");
    assert_eq!(
        (
            l.as_str(),
            m["tool_calls"].as_i64(),
            m["failed_tool_calls"].as_i64()
        ),
        ("fail", Some(2), Some(1)),
        "{e}"
    );
    let (l, e, m) = label("frustration");
    assert_eq!((l.as_str(), m["turn"].as_i64()), ("fail", Some(2)), "{e}");
    assert!(e.contains("USELESS"), "{e}");
}

/// A backfill judges existing sessions matching its filter, within the
/// evaluator's scope, and says how many it matched, skipped and judged; a
/// second one skips what the first judged.
pub async fn backfills_judge_existing_sessions(backend: Backend) {
    // sessions stay active for an hour: only the backfill judges them
    let server = TestServer::start_with(backend, |state| {
        *state = state.clone().with_session_idle(Duration::from_secs(3600));
    })
    .await;
    for (n, (session, plan)) in [("a", "pro"), ("b", "pro"), ("c", "free")]
        .into_iter()
        .enumerate()
    {
        let n = n as u8 + 1;
        let r = server
            .post_pb(&request(
                "shop",
                vec![span(
                    n,
                    1,
                    None,
                    u64::from(n),
                    vec![
                        s("session.id", session),
                        s("metadata", &json!({"plan": plan}).to_string()),
                        s("input.value", "hi"),
                    ],
                )],
            ))
            .await;
        assert_eq!(r.status, 200);
    }
    let spec = json!({"name": "clean", "kind": "code", "rule": {"type": "no_errors"}, "filter": {"metadata": {"plan": "pro"}}});
    create(&server, &spec).await;
    let r = send(
        &server,
        "POST",
        "/v1/projects/shop/evaluators/clean/backfills",
        &json!({"filter": {"status": "active"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    let done = jobs(&server, &format!("backfill_id={id}&state=done"), 2).await;
    let mut judged: Vec<&str> = done
        .iter()
        .map(|j| j["session_id"].as_str().unwrap())
        .collect();
    judged.sort();
    assert_eq!(judged, ["a", "b"], "only the evaluator's scope");
    let backfill = server
        .get_ok(&format!("/v1/projects/shop/backfills/{id}"))
        .await;
    assert_eq!(
        (
            backfill["matched"].as_i64(),
            backfill["skipped"].as_i64(),
            backfill["listed"].as_bool()
        ),
        (Some(3), Some(1), Some(true))
    );
    assert_eq!(backfill["jobs"]["done"], 2);
    assert_eq!(annotations(&server, "a").await[0]["label"], "pass");
    assert!(annotations(&server, "c").await.is_empty());

    let again = send(
        &server,
        "POST",
        "/v1/projects/shop/evaluators/clean/backfills",
        &json!({}),
    )
    .await;
    let id2 = again.json()["id"].as_i64().unwrap();
    let second = server
        .get_ok(&format!("/v1/projects/shop/backfills/{id2}?wait=30s"))
        .await;
    assert_eq!(second["finished"], true, "{second:#}");
    assert_eq!(
        (second["matched"].as_i64(), second["skipped"].as_i64()),
        (Some(3), Some(3)),
        "{second:#}"
    );
    assert_eq!(second["jobs"]["queued"], 0);
}

/// Every mistake in a definition is a 400 naming the field; the key itself is
/// refused where its variable's name belongs; a taken name is a 409.
pub async fn bad_evaluators_are_refused_naming_the_field(backend: Backend) {
    let judge = FakeJudge::start(vec![]).await;
    let server = server(backend, quick()).await;
    turn(&server, 1, "s", "hello", "hi", vec![]).await;
    let good = judge_spec(&judge, "resolution");
    let with = |path: &[&str], value: Value| {
        let mut spec = good.clone();
        let mut at = &mut spec;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        spec
    };
    let cases = [
        (with(&["kind"], json!("magic")), "kind"),
        (
            with(&["prompt_template"], json!("{transcript} {verdict}")),
            "prompt_template",
        ),
        (
            with(&["prompt_template"], json!("no conversation here")),
            "prompt_template",
        ),
        (
            with(&["llm", "api_key_env"], json!("sk-proj-0123456789abcdef")),
            "llm.api_key_env",
        ),
        (
            with(&["llm", "api_key_env"], json!("OI_SESSIONS_API_KEY")),
            "llm.api_key_env",
        ),
        (
            with(&["llm", "api_key"], json!("sk-proj-0123456789abcdef")),
            "llm.api_key",
        ),
        (
            with(&["llm", "base_url"], json!("https://judge.example.com/v1")),
            "llm.base_url",
        ),
        (with(&["labels"], json!({})), "labels"),
        (with(&["sample_rate"], json!(1.5)), "sample_rate"),
        (with(&["rule"], json!({"type": "no_errors"})), "rule"),
        (with(&["name"], json!("")), "name"),
        (with(&["surprise"], json!(1)), "surprise"),
        (json!({"name": "x", "kind": "code"}), "rule"),
        (
            json!({"name": "x", "kind": "code", "rule": {"type": "regex", "pattern": "("}}),
            "rule",
        ),
    ];
    for (spec, field) in cases {
        let r = send(&server, "POST", "/v1/projects/shop/evaluators", &spec).await;
        let message = r.assert_error(400, Some(field));
        assert!(
            !message.contains("0123456789abcdef"),
            "the key is not echoed: {message}"
        );
    }
    create(&server, &good).await;
    send(&server, "POST", "/v1/projects/shop/evaluators", &good)
        .await
        .assert_error(409, None);
    let renamed = send(&server, "PUT", "/v1/projects/shop/evaluators/other", &good).await;
    renamed.assert_error(400, Some("name"));
    send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"session_idle": "soon"}),
    )
    .await
    .assert_error(400, Some("session_idle"));
    send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"session_idle": "10ms"}),
    )
    .await
    .assert_error(400, Some("session_idle"));
    server
        .get("/v1/projects/shop/evaluation_jobs?state=lost")
        .await
        .assert_error(400, Some("state"));
    server
        .get("/v1/projects/shop/evaluation_jobs?wait=2h")
        .await
        .assert_error(400, Some("wait"));
    server
        .get("/v1/projects/shop/sessions?status=asleep")
        .await
        .assert_error(400, Some("status"));
    let r = send(
        &server,
        "POST",
        "/v1/projects/shop/evaluators/resolution/backfills",
        &json!({"filter": {"min_traces": "many"}}),
    )
    .await;
    r.assert_error(400, Some("filter.min_traces"));
    send(&server, "POST", "/v1/projects/nope/evaluators", &good)
        .await
        .assert_error(404, None);
    assert!(judge.calls().is_empty());
}

/// A project's own idle period wins over the server's, and what is in force
/// is shown; the evaluator's version moves only when its definition does.
pub async fn settings_and_versions(backend: Backend) {
    let server = server(backend, quick()).await;
    turn(&server, 1, "s", "hello", "hi", vec![]).await;
    let shown = server.get_ok("/v1/projects/shop/settings").await;
    assert_eq!(
        shown,
        json!({"session_idle": null, "default_session_idle": "1s", "effective_session_idle": "1s",
               "retention": null, "default_retention": "forever", "effective_retention": "forever"})
    );
    let r = send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"session_idle": "10m"}),
    )
    .await;
    assert_eq!(r.json()["effective_session_idle"], "10m");
    assert_eq!(
        server.get_ok("/v1/projects/shop/sessions/s").await["status"],
        "active"
    );
    // a field left out stays; null goes back to the server's
    let r = send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"retention": "30days"}),
    )
    .await
    .json();
    assert_eq!(
        (
            r["effective_retention"].as_str(),
            r["session_idle"].as_str()
        ),
        (Some("30days"), Some("10m"))
    );
    let r = send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"session_idle": null}),
    )
    .await
    .json();
    assert_eq!(
        (r["session_idle"].clone(), r["retention"].as_str()),
        (Value::Null, Some("30days"))
    );
    send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"retention": "30s"}),
    )
    .await
    .assert_error(400, Some("retention"));
    send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"retention": 30}),
    )
    .await
    .assert_error(400, Some("retention"));
    send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"ttl": "1d"}),
    )
    .await
    .assert_error(400, Some("ttl"));
    let r = send(
        &server,
        "PUT",
        "/v1/projects/shop/settings",
        &json!({"retention": "forever"}),
    )
    .await
    .json();
    assert_eq!(r["retention"], "forever");
    let spec = json!({"kind": "code", "rule": {"type": "no_errors"}});
    let r = send(&server, "PUT", "/v1/projects/shop/evaluators/clean", &spec).await;
    assert_eq!((r.status, r.json()["version"].as_i64()), (200, Some(1)));
    let off = json!({"kind": "code", "rule": {"type": "no_errors"}, "enabled": false});
    assert_eq!(
        send(&server, "PUT", "/v1/projects/shop/evaluators/clean", &off)
            .await
            .json()["version"],
        1
    );
    let changed = json!({"kind": "code", "rule": {"type": "turn_count", "max": 5}});
    let r = send(
        &server,
        "PUT",
        "/v1/projects/shop/evaluators/clean",
        &changed,
    )
    .await
    .json();
    assert_eq!(
        (r["version"].as_i64(), r["enabled"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(
        server.get_ok("/v1/projects/shop/evaluators").await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        server
            .request("DELETE", "/v1/projects/shop/evaluators/clean", &[], b"")
            .await
            .status,
        204
    );
    server
        .get("/v1/projects/shop/evaluators/clean")
        .await
        .assert_error(404, None);
}

/// Annotation configs over HTTP: bad configs are 400s naming the field; an
/// annotation that does not fit is a 400 naming its field (its place in a
/// bulk write), through our API and Phoenix's; an evaluator whose verdict
/// does not fit fails its job saying why.
pub async fn annotation_configs_hold_every_writer(backend: Backend) {
    let judge = FakeJudge::start(vec![Answer::Verdict("resolved", "fine")]).await;
    let server = server(backend, quick()).await;
    let r = send(&server, "POST", "/v1/projects", &json!({"name": "shop"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let base = "/v1/projects/shop/annotation_configs";
    for (config, field) in [
        (
            json!({"name": "q", "type": "categorical", "values": []}),
            "values",
        ),
        (
            json!({"name": "q", "type": "categorical", "values": [{"label": "a"}, {"label": "a"}]}),
            "values[1].label",
        ),
        (
            json!({"name": "q", "type": "continuous", "lower_bound": 2, "upper_bound": 1}),
            "upper_bound",
        ),
        (json!({"name": "q", "type": "sometimes"}), "type"),
        (json!({"name": "note", "type": "freeform"}), "name"),
    ] {
        send(&server, "POST", base, &config)
            .await
            .assert_error(400, Some(field));
    }
    let config = json!({"name": "resolution", "type": "categorical", "values": [{"label": "solved", "score": 1}, {"label": "unsolved", "score": 0}], "description": "did we fix it?"});
    let r = send(&server, "POST", base, &config).await;
    assert_eq!(r.status, 201, "{}", r.text());
    send(&server, "POST", base, &config)
        .await
        .assert_error(409, None);
    assert_eq!(
        server.get_ok(&format!("{base}/resolution")).await["description"],
        "did we fix it?"
    );

    turn(&server, 1, "s", "hello", "hi", vec![]).await;
    let one = |label: &str| json!({"name": "resolution", "label": label});
    let r = send(
        &server,
        "POST",
        "/v1/projects/shop/sessions/s/annotations",
        &one("solved"),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["score"].as_f64()),
        (200, Some(1.0)),
        "score from the config"
    );
    send(
        &server,
        "POST",
        "/v1/projects/shop/sessions/s/annotations",
        &one("maybe"),
    )
    .await
    .assert_error(400, Some("label"));
    let bulk = json!({"data": [{"session_id": "s", "name": "other", "label": "x"}, {"session_id": "s", "name": "resolution", "label": "maybe"}]});
    send(
        &server,
        "POST",
        "/v1/projects/shop/session_annotations",
        &bulk,
    )
    .await
    .assert_error(400, Some("data[1].label"));
    let phoenix = json!({"data": [{"session_id": "s", "name": "resolution", "annotator_kind": "HUMAN", "result": {"label": "maybe"}}]});
    let r = send(&server, "POST", "/v1/session_annotations", &phoenix).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        annotations(&server, "s")
            .await
            .iter()
            .all(|a| a["name"] != "other"),
        "nothing of a refused batch"
    );

    // the judge answers "resolved", which the config does not list
    create(&server, &judge_spec(&judge, "resolution")).await;
    let failed = jobs(&server, "session_id=s&state=failed", 1).await;
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("annotation config") && error.contains("resolved"),
        "{error}"
    );
    assert_eq!(
        server
            .request("DELETE", &format!("{base}/resolution"), &[], b"")
            .await
            .status,
        204
    );
}

/// The stats panel's numbers over HTTP: counts, distributions, verdicts and
/// their trend; a window of too many buckets or a bad bucket is a 400.
pub async fn project_stats_over_http(backend: Backend) {
    let server = server(backend, quick()).await;
    turn(&server, 1, "a", "hello", "hi", vec![]).await;
    turn(&server, 2, "a", "again", "hi", vec![]).await;
    turn(&server, 3, "b", "hello", "hi", vec![]).await;
    let r = send(
        &server,
        "POST",
        "/v1/projects/shop/session_annotations",
        &json!({"data": [
            {"session_id": "a", "name": "thumbs", "label": "up", "score": 1},
            {"session_id": "b", "name": "thumbs", "label": "down", "score": 0},
        ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let stats = server.get_ok("/v1/projects/shop/stats?bucket=day").await;
    assert_eq!(
        (stats["sessions"].as_i64(), stats["turns"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(stats["turns_per_session"]["max"], 2.0);
    assert_eq!(stats["bucket_ms"], 86_400_000);
    let thumbs = &stats["annotations"][0];
    assert_eq!(
        (
            thumbs["name"].as_str(),
            thumbs["count"].as_i64(),
            thumbs["mean_score"].as_f64()
        ),
        (Some("thumbs"), Some(2), Some(0.5))
    );
    assert_eq!(thumbs["labels"], json!({"down": 1, "up": 1}));
    assert_eq!(thumbs["trend"][0]["count"], 2);
    server
        .get("/v1/projects/shop/stats?bucket=fortnightly")
        .await
        .assert_error(400, Some("bucket"));
    server
        .get("/v1/projects/shop/stats?start_time=2020-01-01T00:00:00Z&bucket=hour")
        .await
        .assert_error(400, Some("bucket"));
    server
        .get("/v1/projects/nope/stats")
        .await
        .assert_error(404, None);
}
