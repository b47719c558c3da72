//! Phoenix's REST API over HTTP against the real server: identity (sessions
//! found across projects, opaque ids wherever Phoenix takes an identifier),
//! the shapes Phoenix's clients read, annotations and notes in Phoenix's form
//! seen through our own API, spans, traces, projects; and every bad input a
//! 4xx whose `detail` names the problem, with nothing stored lost. Phoenix's
//! own clients run against the binary in `tests/phoenix/`.

use crate::common::*;
use openinference_session_server::ids;
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

/// Project "shop": conv-1 (two turns, each a root and an LLM child with
/// 3 + 2 tokens; the second turn errors) and conv-2; project "other": conv-1
/// again, so "conv-1" alone is ambiguous.
async fn two_projects(backend: Backend) -> TestServer {
    let server = TestServer::start(backend).await;
    let turn = |t: u8, start: u64, session: &str| {
        let mut root = span(
            t,
            1,
            None,
            start,
            vec![
                s("session.id", session),
                s("openinference.span.kind", "CHAIN"),
                s("input.value", &format!("question {t}")),
                s("user.id", "u-7"),
            ],
        );
        if t == 2 {
            root.status = Some(opentelemetry_proto::tonic::trace::v1::Status {
                code: 2,
                ..Default::default()
            });
        }
        let llm = span(
            t,
            2,
            Some(1),
            start,
            vec![
                s("openinference.span.kind", "LLM"),
                i("llm.token_count.prompt", 3),
                i("llm.token_count.completion", 2),
            ],
        );
        vec![root, llm]
    };
    let shop: Vec<_> = [
        turn(1, 0, "conv-1"),
        turn(2, 5, "conv-1"),
        turn(3, 9, "conv-2"),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (project, spans) in [("shop", shop), ("other", turn(4, 20, "conv-1"))] {
        let reply = server.post_pb(&request(project, spans)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    server
}

async fn send(server: &TestServer, method: &str, path: &str, body: Value) -> Reply {
    server
        .request(method, path, &[JSON], body.to_string().as_bytes())
        .await
}

/// Asserts a 4xx whose Phoenix `detail` (and our `error.message`) says what is
/// wrong, naming `names` when given.
fn assert_4xx(r: &Reply, status: u16, names: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let body = r.json();
    let detail = body["detail"].as_str().expect("detail");
    assert_eq!(detail, body["error"]["message"], "{body}");
    assert!(
        detail.contains(names)
            || body["error"]["parameter"]
                .as_str()
                .unwrap_or("")
                .contains(names),
        "{names} not named: {body}"
    );
}

pub async fn phoenix_version_and_identity(backend: Backend) {
    let server = two_projects(backend).await;
    let version = server.get("/arize_phoenix_version").await;
    assert_eq!((version.status, version.text().as_str()), (200, "20.8.0"));
    assert!(
        version
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    let listed = server
        .get_ok("/v1/projects/shop/sessions?order=asc&sort=start_time")
        .await;
    let conv1 = &listed["data"][0];
    assert_eq!(conv1["session_id"], "conv-1");
    assert_eq!(conv1["id"], ids::session("shop", "conv-1"));
    assert_eq!(conv1["project_id"], ids::project("shop"));
    assert_eq!(conv1["traces"].as_array().unwrap().len(), 2);
    assert_eq!(conv1["traces"][0]["trace_id"], "01".repeat(16));
    assert_eq!(
        [
            &conv1["token_count_prompt"],
            &conv1["token_count_completion"],
            &conv1["token_count_total"]
        ],
        [&json!(6), &json!(4), &json!(10)]
    );

    // by its id, in Phoenix's envelope; by the project's id on our own routes
    let by_id = server
        .get_ok(&format!("/v1/sessions/{}", conv1["id"].as_str().unwrap()))
        .await;
    assert_eq!(&by_id["data"], conv1);
    let ours = server
        .get_ok(&format!(
            "/v1/projects/{}/sessions/conv-1",
            ids::project("shop")
        ))
        .await;
    assert_eq!(&ours, conv1);
    // Phoenix's own id form (standard base64, padded) reads the same
    use base64::Engine;
    let padded = base64::engine::general_purpose::STANDARD.encode("Project:shop");
    server
        .get_ok(&format!("/v1/projects/{padded}/sessions"))
        .await;

    // a session id in one project; in two: 409 naming them
    assert_eq!(
        server.get_ok("/v1/sessions/conv-2").await["data"]["session_id"],
        "conv-2"
    );
    let r = server.get("/v1/sessions/conv-1").await;
    assert_4xx(&r, 409, "other, shop");
    assert_4xx(&server.get("/v1/sessions/nope").await, 404, "nope");
    let gone = ids::session("shop", "never");
    assert_4xx(
        &server.get(&format!("/v1/sessions/{gone}")).await,
        404,
        "session",
    );
    // a session named `delete` is still a session path
    assert_4xx(&server.get("/v1/sessions/delete").await, 404, "delete");
}

pub async fn phoenix_annotations_and_notes(backend: Backend) {
    let server = two_projects(backend).await;
    let r = send(
        &server,
        "POST",
        "/v1/session_annotations?sync=false",
        json!({"data": [
            {"session_id": "conv-2", "name": "goal", "annotator_kind": "LLM",
             "result": {"label": "met", "score": 1, "explanation": "done"},
             "metadata": {"judge": "gpt"}, "identifier": ""},
            {"session_id": "conv-2", "name": "tone", "annotator_kind": "CODE",
             "result": {"score": 0.5}, "metadata": null},
        ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let inserted = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(
        inserted.len(),
        2,
        "stored before the answer, whatever sync says"
    );
    assert!(inserted[0]["id"].as_str().unwrap().len() > 8);

    // the same verdicts through our own API: on the session and its list
    let session = server.get_ok("/v1/projects/shop/sessions/conv-2").await;
    let names: Vec<&str> = session["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["goal", "tone"]);
    let listed = server
        .get_ok("/v1/projects/shop/sessions/conv-2/annotations")
        .await;
    let goal = &listed["data"][0];
    assert_eq!(
        (&goal["label"], &goal["score"], &goal["source"]),
        (&json!("met"), &json!(1.0), &json!("API"))
    );

    // notes: appended under fresh identifiers, or replacing a given one
    for (note, identifier) in [
        ("first", None),
        ("second", None),
        ("mine v1", Some("me")),
        ("mine v2", Some("me")),
    ] {
        let mut data = json!({"session_id": "conv-2", "note": note});
        if let Some(id) = identifier {
            data["identifier"] = json!(id);
        }
        let r = send(
            &server,
            "POST",
            "/v1/session_notes",
            json!({ "data": data }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["data"]["id"].is_string());
    }
    let phoenix = server
        .get_ok("/v1/projects/shop/session_annotations?session_ids=conv-2&include_annotation_names=note&limit=10")
        .await;
    let notes: Vec<&str> = phoenix["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["result"]["explanation"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        ["mine v2", "second", "first"],
        "newest first, `me` replaced"
    );
    assert!(
        phoenix["data"][2]["identifier"]
            .as_str()
            .unwrap()
            .starts_with("px-session-note:")
    );
    assert_eq!(phoenix["data"][0]["source"], "API");
    assert_eq!(
        server.get_ok("/v1/projects/shop/sessions/conv-2").await["annotations"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "notes are not verdicts"
    );

    // our UI's writes say so
    let ui = send(
        &server,
        "POST",
        "/v1/projects/shop/sessions/conv-2/annotations",
        json!({"name": "user_feedback", "label": "thumbs_up", "source": "APP"}),
    )
    .await;
    assert_eq!(ui.json()["source"], "APP");

    // Phoenix's list pages and filters by identifier across sessions
    let page = server
        .get_ok("/v1/projects/shop/session_annotations?session_ids=conv-2&limit=2")
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = server
        .get_ok(&format!(
            "/v1/projects/shop/session_annotations?session_ids=conv-2&limit=100&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 4);
    let mine = server
        .get_ok("/v1/projects/shop/session_annotations?identifier=me")
        .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_4xx(
        &server
            .get("/v1/projects/shop/session_annotations?session_ids=nope")
            .await,
        404,
        "session_ids",
    );

    // a filtered delete, in the project named by its id
    let project = ids::project("shop");
    let r = server
        .request(
            "DELETE",
            &format!("/v1/projects/{project}/session_annotations?name=note&delete_all=true"),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let left = server
        .get_ok("/v1/projects/shop/sessions/conv-2/annotations")
        .await;
    assert_eq!(left["data"].as_array().unwrap().len(), 3);
}

pub async fn phoenix_bad_input_names_the_problem_and_loses_nothing(backend: Backend) {
    let server = two_projects(backend).await;
    let ok = send(&server, "POST", "/v1/session_annotations", json!({"data": [
        {"session_id": "conv-2", "name": "goal", "annotator_kind": "HUMAN", "result": {"label": "met"}}]}))
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let annotation = |name: &str, session: &str, result: Value| json!({"session_id": session, "name": name, "annotator_kind": "HUMAN", "result": result});
    let many: Vec<Value> = (0..1001)
        .map(|_| annotation("x", "conv-2", json!({"label": "y"})))
        .collect();
    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        ("POST", "/v1/session_annotations".into(), json!({"data": [annotation("note", "conv-2", json!({"label": "x"}))]}), 400, "session_notes"),
        ("POST", "/v1/session_annotations".into(), json!({"data": [annotation("ok", "conv-2", json!({})), ]}), 400, "data[0].result.label"),
        ("POST", "/v1/session_annotations".into(), json!({"data": [annotation("ok", "conv-2", json!({"label": ""}))]}), 400, "data[0].result.label"),
        ("POST", "/v1/session_annotations".into(), json!({"data": [annotation("ok", "conv-2", json!({"lable": "x"}))]}), 400, "lable"),
        ("POST", "/v1/session_annotations".into(), json!({"data": [{"session_id": "conv-2", "name": "ok", "result": {"label": "x"}}]}), 400, "annotator_kind"),
        ("POST", "/v1/session_annotations".into(), json!({"data": [annotation("ok", "conv-2", json!({"label": "x"})), annotation("ok", "nope", json!({"label": "x"}))]}), 404, "nope"),
        ("POST", "/v1/session_annotations".into(), json!({"data": [annotation("ok", "conv-1", json!({"label": "x"}))]}), 409, "other, shop"),
        ("POST", "/v1/session_annotations".into(), json!({ "data": many }), 400, "1001"),
        ("POST", "/v1/session_annotations?sync=maybe".into(), json!({"data": []}), 400, "sync"),
        ("POST", "/v1/session_notes".into(), json!({"data": {"session_id": "conv-2", "note": " "}}), 400, "data.note"),
        ("POST", "/v1/session_notes".into(), json!({"data": {"session_id": "", "note": "x"}}), 400, "data.session_id"),
        ("POST", "/v1/session_notes".into(), json!({"data": {"session_id": "conv-1", "note": "x"}}), 409, "other, shop"),
        ("POST", "/v1/session_notes".into(), json!({"session_id": "conv-2", "note": "x"}), 400, "data"),
        ("POST", "/v1/sessions/delete".into(), json!({"session_identifiers": []}), 400, "session_identifiers"),
        ("POST", "/v1/sessions/delete".into(), json!({"session_identifiers": ["conv-2", ids::session("shop", "conv-1")]}), 400, "session_identifiers"),
        ("POST", "/v1/sessions/delete".into(), json!({"session_identifiers": ["conv-2", "conv-1"]}), 409, "other, shop"),
        ("DELETE", "/v1/sessions/conv-1".into(), Value::Null, 409, "other, shop"),
        ("GET", "/v1/projects/shop/session_annotations".into(), Value::Null, 400, "session_ids"),
        ("GET", "/v1/projects/shop/session_annotations?session_ids=conv-2&limit=0".into(), Value::Null, 400, "limit"),
        ("GET", "/v1/projects/shop/session_annotations?session_ids=conv-2&limit=10001".into(), Value::Null, 400, "limit"),
        ("GET", "/v1/projects/shop/session_annotations?session_ids=conv-2&sesion=x".into(), Value::Null, 400, "sesion"),
        ("GET", "/v1/projects/nope/session_annotations?session_ids=conv-2".into(), Value::Null, 404, "project"),
        ("DELETE", "/v1/projects/shop/session_annotations?name=goal".into(), Value::Null, 400, "delete_all"),
        ("DELETE", "/v1/projects/shop/session_annotations?start_time=2026-01-01T00:00:00Z".into(), Value::Null, 400, "delete_all"),
        ("DELETE", "/v1/projects/shop/session_annotations?start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z".into(), Value::Null, 400, "end_time"),
        ("DELETE", "/v1/projects/shop/session_annotations?annotator_kind=ROBOT&delete_all=true".into(), Value::Null, 400, "annotator_kind"),
        ("DELETE", "/v1/projects/shop/session_annotations?name=&delete_all=true".into(), Value::Null, 400, "name"),
        ("GET", "/v1/projects/shop/spans?trace_id=zz".into(), Value::Null, 400, "trace_id"),
        ("GET", "/v1/projects/shop/spans?parent_id=xyz".into(), Value::Null, 400, "parent_id"),
        ("GET", "/v1/projects/shop/spans?span_kind=FOO".into(), Value::Null, 400, "span_kind"),
        ("GET", "/v1/projects/shop/spans?status_code=MAYBE".into(), Value::Null, 400, "status_code"),
        ("GET", "/v1/projects/shop/spans?attribute=novalue".into(), Value::Null, 400, "attribute"),
        ("GET", "/v1/projects/shop/spans?attribute=k:%5B1%5D".into(), Value::Null, 400, "attribute"),
        ("GET", "/v1/projects/shop/spans?limit=1001".into(), Value::Null, 400, "limit"),
        ("GET", "/v1/projects/shop/spans?start_time=soon".into(), Value::Null, 400, "start_time"),
        ("GET", "/v1/projects/nope/spans".into(), Value::Null, 404, "project"),
        ("GET", "/v1/projects/shop/traces?sort=name".into(), Value::Null, 400, "sort"),
        ("GET", "/v1/projects/shop/traces?min_latency_ms=-1".into(), Value::Null, 400, "min_latency_ms"),
        ("GET", "/v1/projects/shop/traces?error=maybe".into(), Value::Null, 400, "error"),
        ("GET", "/v1/projects?bogus=1".into(), Value::Null, 400, "bogus"),
        ("GET", "/v1/projects?include_experiment_projects=maybe".into(), Value::Null, 400, "include_experiment_projects"),
        ("GET", "/v1/projects?limit=0".into(), Value::Null, 400, "limit"),
        ("GET", "/v1/projects?cursor=zz".into(), Value::Null, 400, "cursor"),
        ("POST", "/v1/projects".into(), json!({"name": " "}), 400, "name"),
        ("POST", "/v1/projects".into(), json!({"name": "x".repeat(300)}), 400, "name"),
        ("POST", "/v1/projects".into(), json!({"name": "shop"}), 409, "already exists"),
        ("POST", "/v1/projects".into(), json!({"name": "n", "colour": "red"}), 400, "colour"),
        ("PUT", "/v1/projects/shop".into(), json!({"name": "renamed"}), 400, "name"),
        ("PUT", "/v1/projects/nope".into(), json!({"description": "x"}), 404, "project"),
        ("DELETE", "/v1/projects/default".into(), Value::Null, 403, "default"),
        ("GET", "/v1/projects/nope".into(), Value::Null, 404, "project"),
        ("GET", "/v1/sessions/conv-2?x=1".into(), Value::Null, 400, "x"),
    ];
    for (method, path, body, status, names) in cases {
        let r = if body.is_null() {
            server.request(method, &path, &[], b"").await
        } else {
            send(&server, method, &path, body).await
        };
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert_4xx(&r, status, names);
    }
    let not_json = server
        .request(
            "POST",
            "/v1/session_annotations",
            &[("content-type", "text/plain")],
            b"{}",
        )
        .await;
    assert_4xx(&not_json, 415, "application/json");
    let garbage = server
        .request("POST", "/v1/session_notes", &[JSON], b"{not json")
        .await;
    assert_4xx(&garbage, 400, "JSON");

    // nothing stored was lost
    for (project, session, traces) in [
        ("shop", "conv-1", 2),
        ("shop", "conv-2", 1),
        ("other", "conv-1", 1),
    ] {
        let s = server
            .get_ok(&format!("/v1/projects/{project}/sessions/{session}"))
            .await;
        assert_eq!(s["num_traces"], traces, "{project}/{session}");
    }
    let kept = server
        .get_ok("/v1/projects/shop/sessions/conv-2/annotations")
        .await;
    let names: Vec<&str> = kept["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["goal"]);
    assert!(
        server
            .get_ok("/v1/projects/shop/sessions/conv-1/annotations")
            .await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

pub async fn phoenix_spans_and_traces(backend: Backend) {
    let server = two_projects(backend).await;
    let trace1 = "01".repeat(16);
    let roots = server
        .get_ok(&format!(
            "/v1/projects/shop/spans?trace_id={trace1}&trace_id={}&parent_id=null",
            "02".repeat(16)
        ))
        .await;
    let data = roots["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let root = &data[1];
    assert_eq!(
        root["context"],
        json!({"trace_id": trace1, "span_id": "01".repeat(8)})
    );
    assert_eq!(
        (&root["span_kind"], &root["status_code"], &root["parent_id"]),
        (&json!("CHAIN"), &json!("UNSET"), &Value::Null)
    );
    assert_eq!(root["attributes"]["input.value"], "question 1");
    assert!(root["attributes"].get("openinference.span.kind").is_none());
    assert_eq!(data[0]["status_code"], "ERROR");
    let llm = server
        .get_ok(&format!(
            "/v1/projects/{}/spans?span_kind=llm&attribute=llm.token_count.prompt:3",
            ids::project("shop")
        ))
        .await;
    assert_eq!(llm["data"].as_array().unwrap().len(), 3);
    let by_user = server
        .get_ok("/v1/projects/shop/spans?attribute=user.id:u-7&name=span-1&limit=2")
        .await;
    assert_eq!(by_user["data"].as_array().unwrap().len(), 2);
    let cursor = by_user["next_cursor"].as_str().unwrap();
    let rest = server
        .get_ok(&format!(
            "/v1/projects/shop/spans?attribute=user.id:u-7&name=span-1&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(
        (rest["data"].as_array().unwrap().len(), &rest["next_cursor"]),
        (1, &Value::Null)
    );
    let window = server
        .get_ok("/v1/projects/shop/spans?start_time=2026-09-21T16:13:25%2B02:00&end_time=2026-09-21T14:13:29")
        .await;
    assert_eq!(
        window["data"].as_array().unwrap().len(),
        2,
        "spans of the turn at +5 s"
    );

    // the trace list: Phoenix's fields, sessions by id or opaque id, spans in brief
    let conv2 = ids::session("shop", "conv-2");
    let traces = server
        .get_ok(&format!("/v1/projects/shop/traces?session_identifier=conv-1&session_identifier={conv2}&include_spans=true&sort=latency_ms&order=asc"))
        .await;
    let rows = traces["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["project_id"], ids::project("shop"));
    assert_eq!(rows[0]["token_count_total"], 5);
    assert_eq!(rows[0]["spans"].as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["spans"][1]["span_kind"], "LLM");
    let other = ids::session("other", "conv-1");
    let none = server
        .get_ok(&format!(
            "/v1/projects/shop/traces?session_identifier={other}"
        ))
        .await;
    assert_eq!(
        none["data"],
        json!([]),
        "another project's session holds none of these"
    );
    let plain = server.get_ok("/v1/projects/shop/traces").await;
    assert!(
        plain["data"][0].get("spans").is_none(),
        "spans only when asked"
    );
    let failed = server.get_ok("/v1/projects/shop/traces?error=true").await;
    assert_eq!(failed["data"][0]["trace_id"], "02".repeat(16));
    let slow = server
        .get_ok("/v1/projects/shop/traces?min_latency_ms=500.5")
        .await;
    assert_eq!(slow["data"], json!([]), "turns take 500 ms");
}

pub async fn phoenix_projects(backend: Backend) {
    let server = two_projects(backend).await;
    let all = server.get_ok("/v1/projects").await;
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other", "shop"]);
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(all["data"][1]["id"], ids::project("shop"));
    let first = server.get_ok("/v1/projects?limit=1").await;
    assert_eq!(first["data"][0]["name"], "other");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = server
        .get_ok(&format!("/v1/projects?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(
        (&second["data"][0]["name"], &second["next_cursor"]),
        (&json!("shop"), &Value::Null)
    );
    let found = server
        .get_ok("/v1/projects?name_contains=HO&include_experiment_projects=false")
        .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    let created = send(
        &server,
        "POST",
        "/v1/projects",
        json!({"name": "evals", "description": "offline"}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let got = server.get_ok(&format!("/v1/projects/{id}")).await;
    assert_eq!(
        (&got["data"]["name"], &got["data"]["description"]),
        (&json!("evals"), &json!("offline"))
    );
    let put = send(
        &server,
        "PUT",
        &format!("/v1/projects/{id}"),
        json!({"description": "nightly"}),
    )
    .await;
    assert_eq!(put.json()["data"]["description"], "nightly");

    let r = server
        .request("DELETE", "/v1/projects/other", &[], b"")
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        server.get_ok("/v1/sessions/conv-1").await["data"]["project_id"],
        ids::project("shop")
    );
    assert_4xx(
        &server.get("/v1/projects/other/sessions").await,
        404,
        "project",
    );
    assert_eq!(
        server.get_ok("/v1/projects/shop").await["data"]["session_count"],
        2
    );
}
