//! End-to-end tests over HTTP (and gRPC) against the real server and a real
//! SQLite file: the fixtures, the trace→session rule under scrambled arrival,
//! idempotency, the API, and bad input.

mod common;

use common::*;
use serde_json::{Value, json};

const QUESTIONS: [&str; 3] = [
    "My invoice shows the wrong VAT number",
    "Can you resend it to billing@example.com?",
    "Thanks, that worked",
];

fn reply(q: &str) -> String {
    format!("Here is how to fix it: {}", q.to_lowercase())
}

/// Asserts the three turns of a fixture conversation.
fn check_turns(turns: &Value, tokens: [(i64, i64); 3]) {
    let turns = turns["data"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{turns:#?}");
    for (n, turn) in turns.iter().enumerate() {
        assert_eq!(turn["input"]["value"], QUESTIONS[n], "turn {n}: {turn:#}");
        assert_eq!(
            turn["output"]["value"],
            reply(QUESTIONS[n]),
            "turn {n}: {turn:#}"
        );
        assert_eq!(turn["token_count"]["prompt"], tokens[n].0, "turn {n}");
        assert_eq!(turn["token_count"]["completion"], tokens[n].1, "turn {n}");
        assert_eq!(
            turn["token_count"]["total"],
            tokens[n].0 + tokens[n].1,
            "turn {n}"
        );
        assert_eq!(turn["status"], "ok");
    }
}

const TOKENS: [(i64, i64); 3] = [(12, 9), (36, 9), (60, 9)];

async fn ingest_fixture(server: &TestServer, name: &str) {
    let body = fixture(name);
    let reply = if name.ends_with(".pb") {
        server
            .request(
                "POST",
                "/v1/traces",
                &[("content-type", "application/x-protobuf")],
                &body,
            )
            .await
    } else {
        server.post_json(&body).await
    };
    assert_eq!(reply.status, 200, "{name}: {}", reply.text());
    if name.ends_with(".json") {
        assert_eq!(reply.json(), json!({}), "no span of a fixture is rejected");
    } else {
        assert!(reply.body.is_empty(), "an empty ExportTraceServiceResponse");
        assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
    }
}

async fn check_openinference_llm_root(server: &TestServer) {
    let projects = server.get_ok("/v1/projects").await;
    assert_eq!(projects["data"][0]["name"], "support-bot");
    assert_eq!(projects["data"][0]["session_count"], 1);
    assert_eq!(projects["data"][0]["trace_count"], 3);
    let s = server
        .get_ok("/v1/projects/support-bot/sessions/sess-7f3a")
        .await;
    assert_eq!(s["session_id"], "sess-7f3a");
    assert_eq!(s["project"], "support-bot");
    assert_eq!(s["num_traces"], 3);
    assert_eq!(s["user_ids"], json!(["user-42"]));
    assert_eq!(s["tags"], json!(["billing"]));
    assert_eq!(s["metadata"], json!({"plan": "pro"}));
    assert_eq!(s["first_input"]["value"], QUESTIONS[0]);
    assert_eq!(s["last_output"]["value"], reply(QUESTIONS[2]));
    assert_eq!(
        s["token_count"],
        json!({"prompt": 108, "completion": 27, "total": 135})
    );
    // gpt-4o-mini from the shipped table: 0.15 / 0.60 USD per million tokens.
    let cost = s["cost"]["total"].as_f64().unwrap();
    assert!(
        (cost - (108.0 * 0.15 + 27.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let turns = server
        .get_ok("/v1/projects/support-bot/sessions/sess-7f3a/turns")
        .await;
    check_turns(&turns, TOKENS);
    // The raw provider request stays available next to what the user typed.
    let raw = turns["data"][0]["input"]["raw_value"].as_str().unwrap();
    assert!(raw.starts_with("{\"model\": \"gpt-4o-mini\""), "{raw}");
    assert!(
        turns["data"][0]["output"]["raw_value"]
            .as_str()
            .unwrap()
            .contains("chatcmpl-1")
    );
}

#[tokio::test]
async fn fixture_openinference_llm_root_protobuf() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "openinference-llm-root.pb").await;
    check_openinference_llm_root(&server).await;
}

#[tokio::test]
async fn fixture_openinference_llm_root_json() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "openinference-llm-root.json").await;
    check_openinference_llm_root(&server).await;
}

async fn check_openinference_chain_root(server: &TestServer) {
    let s = server
        .get_ok("/v1/projects/support-bot/sessions/sess-7f3a")
        .await;
    assert_eq!(s["num_traces"], 3);
    assert_eq!(s["user_ids"], json!(["user-42"]));
    assert_eq!(s["tags"], json!(["billing"]));
    assert_eq!(s["token_count"]["total"], 135);
    let turns = server
        .get_ok("/v1/projects/support-bot/sessions/sess-7f3a/turns")
        .await;
    check_turns(&turns, TOKENS);
    for t in turns["data"].as_array().unwrap() {
        // Straight from the CHAIN roots: no raw value to keep.
        assert!(t["input"].get("raw_value").is_none(), "{t:#}");
        assert_eq!(t["span_count"], 2);
    }
}

#[tokio::test]
async fn fixture_openinference_chain_root_protobuf() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "openinference-chain-root.pb").await;
    check_openinference_chain_root(&server).await;
}

#[tokio::test]
async fn fixture_openinference_chain_root_json() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "openinference-chain-root.json").await;
    check_openinference_chain_root(&server).await;
}

async fn check_otel_genai(server: &TestServer) {
    let sessions = server.get_ok("/v1/projects/support-bot/sessions").await;
    let ids: Vec<&str> = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["conv-19c2"]);
    let s = server
        .get_ok("/v1/projects/support-bot/sessions/conv-19c2")
        .await;
    assert_eq!(s["num_traces"], 3);
    assert_eq!(
        s["token_count"],
        json!({"prompt": 108, "completion": 27, "total": 135})
    );
    let turns = server
        .get_ok("/v1/projects/support-bot/sessions/conv-19c2/turns")
        .await;
    check_turns(&turns, TOKENS);
}

#[tokio::test]
async fn fixture_otel_genai_protobuf() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "otel-genai.pb").await;
    check_otel_genai(&server).await;
}

#[tokio::test]
async fn fixture_otel_genai_json() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "otel-genai.json").await;
    check_otel_genai(&server).await;
}

#[tokio::test]
async fn fixture_resent_is_stored_once() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "otel-genai.pb").await;
    ingest_fixture(&server, "otel-genai.json").await;
    ingest_fixture(&server, "otel-genai.pb").await;
    check_otel_genai(&server).await;
    let traces = server.get_ok("/v1/projects/support-bot/traces").await;
    assert_eq!(traces["data"].as_array().unwrap().len(), 3);
    for t in traces["data"].as_array().unwrap() {
        assert_eq!(t["span_count"], 2);
    }
}

#[tokio::test]
async fn fixture_gzip_body() {
    let server = TestServer::start().await;
    let r = server
        .request(
            "POST",
            "/v1/traces",
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            &gzip(&fixture("otel-genai.pb")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    check_otel_genai(&server).await;
}

/// The three fixtures in one database: two projects' worth of sessions stay apart
/// by session id, and each answers its own turns.
#[tokio::test]
async fn fixtures_together() {
    let server = TestServer::start().await;
    ingest_fixture(&server, "openinference-llm-root.pb").await;
    ingest_fixture(&server, "otel-genai.json").await;
    let sessions = server
        .get_ok("/v1/projects/support-bot/sessions?sort=start_time&order=asc")
        .await;
    assert_eq!(sessions["data"].as_array().unwrap().len(), 2);
    check_otel_genai_turns_only(&server).await;
}

async fn check_otel_genai_turns_only(server: &TestServer) {
    let turns = server
        .get_ok("/v1/projects/support-bot/sessions/conv-19c2/turns")
        .await;
    check_turns(&turns, TOKENS);
}
