//! The annotations API over HTTP against the real server: writes, replaces,
//! bulk writes, summaries on sessions, deletes, and every bad input a clear
//! 4xx that leaves what was stored alone.

use crate::common::*;
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

async fn server_with_sessions(backend: Backend) -> TestServer {
    let server = TestServer::start(backend).await;
    let reply = server
        .post_pb(&request(
            "shop",
            vec![
                span(
                    1,
                    1,
                    None,
                    0,
                    vec![s("session.id", "conv-1"), s("input.value", "hi")],
                ),
                span(
                    2,
                    2,
                    None,
                    5,
                    vec![s("session.id", "conv-2"), s("input.value", "hello")],
                ),
            ],
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    server
}

async fn post(server: &TestServer, path: &str, body: Value) -> Reply {
    server
        .request("POST", path, &[JSON], body.to_string().as_bytes())
        .await
}

pub async fn annotate_replace_list_summarize_delete(backend: Backend) {
    let server = server_with_sessions(backend).await;
    let base = "/v1/projects/shop/sessions/conv-1/annotations";
    let first = post(
        &server,
        base,
        json!({"name": "user_feedback", "label": "thumbs_up", "score": 1, "user_id": "ann"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    assert_eq!(first["annotator_kind"], "HUMAN");
    assert_eq!(first["session_id"], "conv-1");

    // the same name and identifier replaces: feedback toggles, it does not pile up
    let second = post(
        &server,
        base,
        json!({"name": "user_feedback", "label": "thumbs_down", "score": 0}),
    )
    .await;
    assert_eq!(second.json()["id"], first["id"]);
    let judge = post(
        &server,
        base,
        json!({"name": "goal_completion", "annotator_kind": "LLM", "label": "met", "score": 0.9,
               "explanation": "the invoice was fixed", "metadata": {"model": "judge-1"}}),
    )
    .await
    .json();
    let listed = server.get_ok(base).await;
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user_feedback", "goal_completion"]);
    assert_eq!(listed["data"][0]["label"], "thumbs_down");
    assert_eq!(listed["next_cursor"], Value::Null);

    let session = server.get_ok("/v1/projects/shop/sessions/conv-1").await;
    let summary = session["annotations"].as_array().unwrap();
    assert_eq!(summary.len(), 2);
    assert_eq!(summary[0]["name"], "goal_completion");
    assert_eq!(summary[0]["mean_score"], 0.9);
    assert_eq!(summary[1]["labels"]["thumbs_down"], 1);
    let list = server.get_ok("/v1/projects/shop/sessions").await;
    let row = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == "conv-1")
        .unwrap();
    assert_eq!(row["annotations"].as_array().unwrap().len(), 2);

    let id = judge["id"].as_i64().unwrap();
    let gone = server
        .request("DELETE", &format!("{base}/{id}"), &[], b"")
        .await;
    assert_eq!(gone.status, 204);
    server
        .request("DELETE", &format!("{base}/{id}"), &[], b"")
        .await
        .assert_error(404, None);
    assert_eq!(
        server.get_ok(base).await["data"].as_array().unwrap().len(),
        1
    );
}

pub async fn bulk_writes_are_all_or_nothing(backend: Backend) {
    let server = server_with_sessions(backend).await;
    let bulk = "/v1/projects/shop/session_annotations";
    let ok = post(
        &server,
        bulk,
        json!({"data": [
            {"session_id": "conv-1", "name": "coherence", "annotator_kind": "CODE", "score": 1.0},
            {"session_id": "conv-2", "name": "coherence", "annotator_kind": "CODE", "score": 0.5},
        ]}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["data"].as_array().unwrap().len(), 2);

    let unknown = post(
        &server,
        bulk,
        json!({"data": [
            {"session_id": "conv-1", "name": "frustration", "label": "low"},
            {"session_id": "no-such-session", "name": "frustration", "label": "low"},
        ]}),
    )
    .await;
    unknown.assert_error(404, None);
    let conv1 = server
        .get_ok("/v1/projects/shop/sessions/conv-1/annotations")
        .await;
    assert_eq!(
        conv1["data"].as_array().unwrap().len(),
        1,
        "nothing of the failed batch is stored"
    );

    let bad = post(
        &server,
        bulk,
        json!({"data": [
            {"session_id": "conv-1", "name": "ok", "label": "x"},
            {"session_id": "conv-1", "name": "no verdict"},
        ]}),
    )
    .await;
    let message = bad.assert_error(400, Some("data[1].label"));
    assert!(
        message.contains("label, a score or an explanation"),
        "{message}"
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"session_id": "conv-1", "name": format!("n{i}"), "score": 1}))
        .collect();
    post(&server, bulk, json!({"data": too_many}))
        .await
        .assert_error(400, Some("data"));
}

pub async fn bad_annotations_get_clear_errors(backend: Backend) {
    let server = server_with_sessions(backend).await;
    let base = "/v1/projects/shop/sessions/conv-1/annotations";
    post(&server, base, json!({"name": "", "label": "x"}))
        .await
        .assert_error(400, Some("name"));
    post(
        &server,
        base,
        json!({"name": "n", "label": "x", "annotator_kind": "ROBOT"}),
    )
    .await
    .assert_error(400, None);
    post(
        &server,
        base,
        json!({"name": "n", "label": "x", "surprise": 1}),
    )
    .await
    .assert_error(400, None);
    post(
        &server,
        base,
        json!({"name": "n", "label": "x", "session_id": "conv-2"}),
    )
    .await
    .assert_error(400, Some("session_id"));
    server
        .request("POST", base, &[JSON], b"{not json")
        .await
        .assert_error(400, None);
    server
        .request("POST", base, &[("content-type", "text/plain")], b"{}")
        .await
        .assert_error(415, None);
    post(
        &server,
        "/v1/projects/shop/sessions/nope/annotations",
        json!({"name": "n", "label": "x"}),
    )
    .await
    .assert_error(404, None);
    server
        .get("/v1/projects/shop/sessions/conv-1/annotations?limit=5")
        .await
        .assert_error(400, Some("limit"));
    server
        .request("DELETE", &format!("{base}/abc"), &[], b"")
        .await
        .assert_error(400, Some("id"));
    let big = "x".repeat(17 * 1024 * 1024);
    post(&server, base, json!({"name": "n", "explanation": big}))
        .await
        .assert_error(413, None);
    // nothing above stored anything
    assert!(
        server.get_ok(base).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
