//! The HTTP suite: end-to-end tests over HTTP (and gRPC) against the real
//! server on a real store: the fixtures, the trace→session rule under scrambled
//! arrival, idempotency, the API, annotations, and bad input. Every test takes
//! the backend to run on; `http_suite!(backend)` expands to one `#[tokio::test]`
//! per test, so each backend's runner names what failed.

#![allow(dead_code)]

pub mod annotations;
pub mod evaluations;
pub mod logs;
pub mod phoenix;

pub use annotations::*;
pub use evaluations::*;
pub use logs::*;
pub use phoenix::*;

use crate::common::*;
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

pub async fn fixture_openinference_llm_root_protobuf(backend: Backend) {
    let server = TestServer::start(backend).await;
    ingest_fixture(&server, "openinference-llm-root.pb").await;
    check_openinference_llm_root(&server).await;
}

pub async fn fixture_openinference_llm_root_json(backend: Backend) {
    let server = TestServer::start(backend).await;
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

pub async fn fixture_openinference_chain_root_protobuf(backend: Backend) {
    let server = TestServer::start(backend).await;
    ingest_fixture(&server, "openinference-chain-root.pb").await;
    check_openinference_chain_root(&server).await;
}

pub async fn fixture_openinference_chain_root_json(backend: Backend) {
    let server = TestServer::start(backend).await;
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

pub async fn fixture_otel_genai_protobuf(backend: Backend) {
    let server = TestServer::start(backend).await;
    ingest_fixture(&server, "otel-genai.pb").await;
    check_otel_genai(&server).await;
}

pub async fn fixture_otel_genai_json(backend: Backend) {
    let server = TestServer::start(backend).await;
    ingest_fixture(&server, "otel-genai.json").await;
    check_otel_genai(&server).await;
}

pub async fn fixture_resent_is_stored_once(backend: Backend) {
    let server = TestServer::start(backend).await;
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

pub async fn fixture_gzip_body(backend: Backend) {
    let server = TestServer::start(backend).await;
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
pub async fn fixtures_together(backend: Backend) {
    let server = TestServer::start(backend).await;
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

/// Spans of a three-turn chat with app roots carrying the session id and LLM
/// children carrying another, sent child-first across requests: the roots
/// arrive last and every trace moves to the root's session.
pub async fn scrambled_order_across_requests_root_last_moves_traces(backend: Backend) {
    let server = TestServer::start(backend).await;
    let child = |t: u8| {
        span(
            t,
            2,
            Some(1),
            u64::from(t) * 10 + 1,
            vec![
                s("openinference.span.kind", "LLM"),
                s("session.id", "client-side"),
                i("llm.token_count.prompt", 10),
                i("llm.token_count.completion", 5),
            ],
        )
    };
    let root = |t: u8| {
        span(
            t,
            1,
            None,
            u64::from(t) * 10,
            vec![
                s("openinference.span.kind", "CHAIN"),
                s("session.id", "app-session"),
                s("user.id", "u1"),
                s("input.value", &format!("question {t}")),
                s("output.value", &format!("answer {t}")),
            ],
        )
    };
    for t in [3, 1, 2] {
        let r = server.post_pb(&request("bot", vec![child(t)])).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let before = server.get_ok("/v1/projects/bot/sessions").await;
    assert_eq!(before["data"][0]["session_id"], "client-side");
    assert_eq!(before["data"][0]["num_traces"], 3);
    for t in [2, 3, 1] {
        assert_eq!(
            server.post_pb(&request("bot", vec![root(t)])).await.status,
            200
        );
    }
    let after = server.get_ok("/v1/projects/bot/sessions").await;
    let ids: Vec<&str> = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["app-session"], "the emptied session is gone");
    let s = server.get_ok("/v1/projects/bot/sessions/app-session").await;
    assert_eq!(s["num_traces"], 3);
    assert_eq!(
        s["token_count"],
        json!({"prompt": 30, "completion": 15, "total": 45})
    );
    assert_eq!(s["user_ids"], json!(["u1"]));
    let turns = server
        .get_ok("/v1/projects/bot/sessions/app-session/turns")
        .await;
    let inputs: Vec<&str> = turns["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["input"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["question 1", "question 2", "question 3"]);
    for t in turns["data"].as_array().unwrap() {
        assert_eq!(
            t["session_conflicts"],
            json!(["client-side"]),
            "conflict stays visible"
        );
    }
    assert_eq!(
        server
            .get("/v1/projects/bot/sessions/client-side")
            .await
            .status,
        404
    );
}

pub async fn partial_success_rejects_bad_spans_alone(backend: Backend) {
    let server = TestServer::start(backend).await;
    let good = span(1, 1, None, 0, vec![s("session.id", "s")]);
    let mut short_trace = span(2, 1, None, 0, vec![]);
    short_trace.trace_id = vec![1; 15];
    let mut zero_span = span(3, 1, None, 0, vec![]);
    zero_span.span_id = vec![0; 8];
    let mut zero_trace = span(3, 1, None, 0, vec![]);
    zero_trace.trace_id = vec![0; 16];
    let mut backwards = span(4, 1, None, 10, vec![]);
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
    let mut bad_parent = span(5, 2, None, 0, vec![]);
    bad_parent.parent_span_id = vec![1, 2, 3];
    let r = server
        .post_pb(&request(
            "p",
            vec![
                good,
                short_trace,
                zero_span,
                zero_trace,
                backwards,
                bad_parent,
            ],
        ))
        .await;
    assert_eq!(r.status, 200);
    use prost::Message;
    let resp =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            &r.body[..],
        )
        .unwrap();
    let partial = resp.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 5);
    for reason in [
        "invalid trace id: expected 16 bytes, got 15",
        "invalid span id: all zero",
        "invalid trace id: all zero",
        "end time before start time",
        "invalid parent span id: expected 8 bytes, got 3",
    ] {
        assert!(
            partial.error_message.contains(reason),
            "{reason} in {}",
            partial.error_message
        );
    }
    assert_eq!(
        server.get_ok("/v1/projects/p/sessions/s").await["num_traces"],
        1
    );
}

pub async fn json_partial_success_and_non_hex_ids(backend: Backend) {
    let server = TestServer::start(backend).await;
    let body = json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]},
    "scopeSpans": [{"spans": [
        {"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708", "name": "ok",
         "kind": 2, "startTimeUnixNano": 1790000000000000000u64, "endTimeUnixNano": "1790000000500000000",
         "attributes": [{"key": "session.id", "value": {"intValue": 42}}], "status": {"code": "STATUS_CODE_ERROR"}},
        {"traceId": "not-hex-not-hex-not-hex-not-hex!", "spanId": "0102030405060708", "name": "bad",
         "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    ]}]}]});
    let r = server.post_json(body.to_string().as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "1");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("hex")
    );
    let s = server.get_ok("/v1/projects/j/sessions/42").await;
    assert_eq!(
        s["num_traces_with_error"], 1,
        "integer session ids are read as text"
    );
    let t = server
        .get_ok("/v1/projects/j/traces/0102030405060708090a0b0c0d0e0f10")
        .await;
    assert_eq!(t["spans"][0]["kind"], "SERVER");
    assert_eq!(t["spans"][0]["status"], "error");
    assert_eq!(t["status"], "error");
}

/// Posts a body and checks it is refused with a JSON error, and that what was
/// stored before is still there and the server still serves.
async fn check_refused(
    server: &TestServer,
    headers: &[(&str, &str)],
    body: &[u8],
    status: u16,
) -> String {
    let r = server.request("POST", "/v1/traces", headers, body).await;
    let message = r.assert_error(status, None);
    assert_eq!(
        server
            .get_ok("/v1/projects/support-bot/sessions/conv-19c2")
            .await["num_traces"],
        3
    );
    assert_eq!(server.get_ok("/healthz").await["status"], "ok");
    message
}

const PB: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

pub async fn bad_bodies_get_clear_errors_and_lose_nothing(backend: Backend) {
    let server = TestServer::start_with(backend, |s| s.max_request_bytes = 64 * 1024).await;
    ingest_fixture(&server, "otel-genai.pb").await;
    let pb = fixture("otel-genai.pb");
    let msg = check_refused(&server, &[PB], &pb[..pb.len() / 2], 400).await;
    assert!(msg.contains("invalid protobuf"), "{msg}");
    check_refused(&server, &[PB], b"\xff\xff\xff\xff\xff\xff garbage", 400).await;
    let msg = check_refused(&server, &[JSON], b"{\"resourceSpans\": [", 400).await;
    assert!(msg.contains("invalid json"), "{msg}");
    check_refused(&server, &[JSON], b"[1, 2, 3]", 400).await;
    check_refused(
        &server,
        &[JSON],
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": true}]}]}]}"#,
        400,
    )
    .await;
    // Invalid UTF-8 in a JSON string and in a protobuf string field.
    check_refused(
        &server,
        &[JSON],
        b"{\"resourceSpans\": [{\"resource\": {\"attributes\": [{\"key\": \"\xc3\x28\"}]}}]}",
        400,
    )
    .await;
    let mut req = request("p", vec![span(1, 1, None, 0, vec![s("k", "PLACEHOLDER")])]);
    use prost::Message;
    let mut bytes = req.encode_to_vec();
    let at = bytes.windows(11).position(|w| w == b"PLACEHOLDER").unwrap();
    bytes[at] = 0xff;
    let msg = check_refused(&server, &[PB], &bytes, 400).await;
    assert!(msg.contains("invalid protobuf"), "{msg}");
    // Deeply nested values: over the decoder's recursion limit.
    let mut nested = "{\"stringValue\": \"x\"}".to_owned();
    for _ in 0..200 {
        nested = format!("{{\"arrayValue\": {{\"values\": [{nested}]}}}}");
    }
    let deep = format!(
        "{{\"resourceSpans\": [{{\"resource\": {{\"attributes\": [{{\"key\": \"k\", \"value\": {nested}}}]}}}}]}}"
    );
    check_refused(&server, &[JSON], deep.as_bytes(), 400).await;
    // Over the limit, plain and as a gzip bomb (a small body inflating past it).
    let msg = check_refused(&server, &[PB], &vec![0u8; 65 * 1024], 413).await;
    assert!(msg.contains("limit"), "{msg}");
    let bomb = gzip(&vec![b'{'; 20 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    check_refused(&server, &[JSON, ("content-encoding", "gzip")], &bomb, 413).await;
    check_refused(
        &server,
        &[JSON, ("content-encoding", "gzip")],
        b"not gzip at all",
        400,
    )
    .await;
    // Unknown content type or encoding.
    check_refused(&server, &[("content-type", "text/plain")], b"hello", 415).await;
    check_refused(&server, &[], b"hello", 415).await;
    check_refused(&server, &[PB, ("content-encoding", "br")], &pb, 415).await;
    req.resource_spans.clear();
    assert_eq!(
        server.post_pb(&req).await.status,
        200,
        "an empty request is fine"
    );
}

/// One span reporting an impossible token count or cost is rejected alone:
/// its batch-mates (other sessions' spans) are stored, the session keeps
/// taking writes, and nothing answers a retryable 503.
pub async fn impossible_usage_is_rejected_per_span(backend: Backend) {
    use prost::Message;
    let server = TestServer::start(backend).await;
    let llm = |trace: u8, session: &str, prompt: i64| {
        span(
            trace,
            1,
            None,
            u64::from(trace),
            vec![
                s("session.id", session),
                s("openinference.span.kind", "LLM"),
                i("llm.token_count.prompt", prompt),
                i("llm.token_count.completion", 5),
            ],
        )
    };
    let mut negative_cost = llm(4, "other", 1);
    negative_cost.attributes.push(KeyValue {
        key: "llm.cost.total".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::DoubleValue(-1.0)),
        }),
        ..Default::default()
    });
    let r = server
        .post_pb(&request(
            "p",
            vec![
                llm(1, "poisoned", i64::MAX),
                llm(2, "poisoned", 10),
                llm(3, "other", -7),
                negative_cost,
                llm(5, "other", 20),
            ],
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let partial =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            &r.body[..],
        )
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 3, "{}", partial.error_message);
    assert!(
        partial.error_message.contains("token count out of range"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("cost out of range"),
        "{}",
        partial.error_message
    );
    let poisoned = server.get_ok("/v1/projects/p/sessions/poisoned").await;
    assert_eq!(poisoned["token_count"]["total"], 15);
    assert_eq!(
        server.get_ok("/v1/projects/p/sessions/other").await["token_count"]["total"],
        25
    );
    let r = server
        .post_pb(&request("p", vec![llm(6, "poisoned", 1)]))
        .await;
    assert_eq!(
        r.status,
        200,
        "the session still takes writes: {}",
        r.text()
    );
    assert_eq!(
        server.get_ok("/v1/projects/p/sessions/poisoned").await["num_traces"],
        2
    );
}

/// `/healthz` says what the server knows of its store: it reads, it writes
/// (a write commits on every check), and on SQLite the start-up integrity
/// check passed.
pub async fn health_reports_the_store(backend: Backend) {
    let server = TestServer::start(backend).await;
    let health = server.get_ok("/healthz").await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["store"]["readable"], true);
    assert_eq!(health["store"]["writable"], true);
    assert_eq!(health["store"]["error"], Value::Null);
    match backend {
        Backend::Sqlite => {
            assert_eq!(health["store"]["integrity"]["ok"], true, "{health}");
            assert_eq!(health["store"]["integrity"]["detail"], "ok");
        }
        Backend::Postgres => assert_eq!(health["store"]["integrity"], Value::Null),
    }
}

pub async fn huge_attribute_values_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let big = "x".repeat(2 * 1024 * 1024);
    let r = server
        .post_pb(&request(
            "p",
            vec![span(
                1,
                1,
                None,
                0,
                vec![s("session.id", "s"), s("input.value", &big)],
            )],
        ))
        .await;
    assert_eq!(r.status, 200);
    let t = server.get_ok("/v1/projects/p/sessions/s/turns").await;
    assert_eq!(
        t["data"][0]["input"]["value"].as_str().unwrap().len(),
        big.len()
    );
}

pub async fn project_header_overrides_resource(backend: Backend) {
    let server = TestServer::start(backend).await;
    use prost::Message;
    let body = request(
        "from-service",
        vec![span(1, 1, None, 0, vec![s("session.id", "s")])],
    )
    .encode_to_vec();
    let r = server
        .request(
            "POST",
            "/v1/traces",
            &[PB, ("x-project-name", "from-header")],
            &body,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        server.get_ok("/v1/projects/from-header/sessions/s").await["project"],
        "from-header"
    );
    assert_eq!(
        server
            .get("/v1/projects/from-service/sessions")
            .await
            .status,
        404
    );
    // No project anywhere: "default".
    let mut req = request("x", vec![span(2, 1, None, 0, vec![s("session.id", "d")])]);
    req.resource_spans[0].resource = None;
    assert_eq!(server.post_pb(&req).await.status, 200);
    assert_eq!(
        server.get_ok("/v1/projects/default/sessions/d").await["num_traces"],
        1
    );
}

pub async fn vendor_session_and_user_keys(backend: Backend) {
    let server = TestServer::start(backend).await;
    let cases = [
        ("langfuse.session.id", "langfuse.user.id"),
        (
            "traceloop.association.properties.session_id",
            "traceloop.association.properties.user_id",
        ),
        ("mlflow.trace.session", "mlflow.trace.user"),
        ("langsmith.metadata.thread_id", "langsmith.metadata.user_id"),
        ("gen_ai.conversation.id", "enduser.id"),
    ];
    for (n, (skey, ukey)) in cases.iter().enumerate() {
        let n = n as u8 + 1;
        let r = server
            .post_pb(&request(
                "v",
                vec![span(
                    n,
                    1,
                    None,
                    0,
                    vec![s(skey, &format!("s-{skey}")), s(ukey, &format!("u-{ukey}"))],
                )],
            ))
            .await;
        assert_eq!(r.status, 200);
        let v = server
            .get_ok(&format!("/v1/projects/v/sessions/s-{skey}"))
            .await;
        assert_eq!(v["user_ids"], json!([format!("u-{ukey}")]));
    }
    // session.id outranks the vendor keys on the same span.
    let r = server
        .post_pb(&request(
            "v",
            vec![span(
                9,
                1,
                None,
                0,
                vec![s("langfuse.session.id", "lf"), s("session.id", "oi")],
            )],
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(server.get("/v1/projects/v/sessions/oi").await.status, 200);
    assert_eq!(server.get("/v1/projects/v/sessions/lf").await.status, 404);
}

async fn seeded(backend: Backend) -> TestServer {
    let server = TestServer::start(backend).await;
    ingest_fixture(&server, "openinference-llm-root.pb").await;
    ingest_fixture(&server, "otel-genai.pb").await;
    server
}

pub async fn hostile_query_parameters_are_400_naming_the_parameter(backend: Backend) {
    let server = seeded(backend).await;
    let base = "/v1/projects/support-bot/sessions";
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1000000", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("sort=start_time;DROP%20TABLE%20spans", "sort"),
        ("order=sideways", "order"),
        ("cursor=zz", "cursor"),
        ("cursor=%27%3B%20DROP%20TABLE%20spans%3B%20--", "cursor"),
        ("start_time=yesterday", "start_time"),
        ("end_time=2026-13-45T00:00:00Z", "end_time"),
        (
            "start_time=2026-02-01T00:00:00Z&end_time=2026-01-01T00:00:00Z",
            "end_time",
        ),
        ("has_error=maybe", "has_error"),
        ("min_traces=-3", "min_traces"),
        ("bogus=1", "bogus"),
        ("limit=1&limit=2", "limit"),
        ("user_id=", "user_id"),
        ("q=%zz", "q"),
        ("q=%e9t%e9", "q"),
        ("tag=%", "tag"),
    ] {
        let r = server.get(&format!("{base}?{query}")).await;
        let message = r.assert_error(400, Some(parameter));
        assert!(message.contains(parameter), "{query}: {message}");
    }
    // Routes that take no parameter refuse any, by name.
    for path in [
        "/v1/projects?foo=1",
        "/v1/projects/support-bot/sessions/s-long?foo=1",
    ] {
        server.get(path).await.assert_error(400, Some("foo"));
    }
    let trace = server
        .get_ok("/v1/projects/support-bot/traces?limit=1")
        .await["data"][0]["trace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .get(&format!("/v1/projects/support-bot/traces/{trace}?foo=1"))
        .await
        .assert_error(400, Some("foo"));
    let long = "a".repeat(5000);
    server
        .get(&format!("{base}?q={long}"))
        .await
        .assert_error(400, Some("q"));
    // SQL-looking text is just text.
    let r = server
        .get_ok(&format!(
            "{base}?q=%27%20OR%201%3D1%20--&user_id=%22%3B%20DELETE%20FROM%20spans"
        ))
        .await;
    assert_eq!(r["data"], json!([]));
    let r = server
        .get_ok(&format!(
            "{base}?metadata.plan%27%20OR%20%271%27%3D%271=pro"
        ))
        .await;
    assert_eq!(r["data"], json!([]));
    // A cursor from another sort.
    let page = server.get_ok(&format!("{base}?limit=1")).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    server
        .get(&format!("{base}?limit=1&sort=num_traces&cursor={cursor}"))
        .await
        .assert_error(400, Some("cursor"));
    server
        .get("/v1/projects/support-bot/traces/xyz")
        .await
        .assert_error(400, Some("trace_id"));
    server
        .get("/v1/projects/support-bot/sessions/sess-7f3a/turns?limit=5000")
        .await
        .assert_error(400, Some("limit"));
    // Everything is still there.
    assert_eq!(
        server.get_ok("/v1/projects").await["data"][0]["trace_count"],
        6
    );
}

pub async fn unknown_things_are_404_with_json(backend: Backend) {
    let server = seeded(backend).await;
    for path in [
        "/v1/projects/nope/sessions",
        "/v1/projects/nope/sessions/x",
        "/v1/projects/support-bot/sessions/nope",
        "/v1/projects/support-bot/sessions/nope/turns",
        "/v1/projects/support-bot/traces/0102030405060708090a0b0c0d0e0f10",
        "/v1/nothing-here",
    ] {
        let message = server.get(path).await.assert_error(404, None);
        assert!(message.ends_with("not found"), "{path}: {message}");
    }
    server
        .request("DELETE", "/v1/projects/support-bot/sessions/nope", &[], b"")
        .await
        .assert_error(404, None);
}

pub async fn session_list_sorts_filters_and_pages(backend: Backend) {
    let server = seeded(backend).await;
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["session_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = "/v1/projects/support-bot/sessions";
    // The GenAI fixture was captured later than the OpenInference one.
    assert_eq!(
        ids(&server
            .get_ok(&format!("{base}?sort=start_time&order=asc"))
            .await),
        ["sess-7f3a", "conv-19c2"]
    );
    assert_eq!(
        ids(&server.get_ok(&format!("{base}?sort=end_time")).await),
        ["conv-19c2", "sess-7f3a"]
    );
    for sort in ["num_traces", "total_tokens", "total_cost", "duration"] {
        let v = server
            .get_ok(&format!("{base}?sort={sort}&order=asc"))
            .await;
        assert_eq!(ids(&v).len(), 2, "{sort}");
    }
    assert_eq!(
        ids(&server.get_ok(&format!("{base}?user_id=user-42")).await),
        ["sess-7f3a"]
    );
    assert_eq!(
        ids(&server.get_ok(&format!("{base}?tag=billing")).await),
        ["sess-7f3a"]
    );
    assert_eq!(
        ids(&server.get_ok(&format!("{base}?metadata.plan=pro")).await),
        ["sess-7f3a"]
    );
    assert_eq!(
        ids(&server
            .get_ok(&format!("{base}?q=VAT%20NUMBER&sort=start_time&order=asc"))
            .await),
        ["sess-7f3a", "conv-19c2"]
    );
    assert_eq!(
        ids(&server
            .get_ok(&format!(
                "{base}?q=resend%20it&has_error=false&min_traces=3&sort=start_time&order=asc"
            ))
            .await),
        ["sess-7f3a", "conv-19c2"]
    );
    assert!(ids(&server.get_ok(&format!("{base}?q=refund")).await).is_empty());
    // Paging: one per page, then null.
    let first = server
        .get_ok(&format!("{base}?limit=1&sort=start_time&order=asc"))
        .await;
    assert_eq!(ids(&first), ["sess-7f3a"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = server
        .get_ok(&format!(
            "{base}?limit=1&sort=start_time&order=asc&cursor={cursor}"
        ))
        .await;
    assert_eq!(ids(&second), ["conv-19c2"]);
    assert_eq!(second["next_cursor"], Value::Null);
    // Time window: sessions overlapping it.
    let s = server.get_ok(&format!("{base}/conv-19c2")).await;
    let start = s["start_time"].as_str().unwrap();
    assert_eq!(
        ids(&server.get_ok(&format!("{base}?start_time={start}")).await),
        ["conv-19c2"]
    );
    assert_eq!(
        ids(&server
            .get_ok(&format!("{base}?end_time=2000-01-01T00:00:00Z"))
            .await),
        Vec::<String>::new()
    );
}

pub async fn session_detail_fields_and_traces(backend: Backend) {
    let server = seeded(backend).await;
    let s = server
        .get_ok("/v1/projects/support-bot/sessions/conv-19c2")
        .await;
    for key in [
        "session_id",
        "project",
        "start_time",
        "end_time",
        "duration_ms",
        "num_traces",
        "num_traces_with_error",
        "user_ids",
        "tags",
        "metadata",
        "first_input",
        "last_output",
        "token_count",
        "cost",
        "latency_ms",
    ] {
        assert!(s.get(key).is_some(), "missing {key}");
    }
    assert!(s["start_time"].as_str().unwrap().ends_with('Z'));
    assert!(s["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(s["latency_ms"]["p99"].as_f64().unwrap() >= s["latency_ms"]["p50"].as_f64().unwrap());
    let traces = server
        .get_ok("/v1/projects/support-bot/traces?session_id=conv-19c2&limit=2")
        .await;
    assert_eq!(traces["data"].as_array().unwrap().len(), 2);
    let cursor = traces["next_cursor"].as_str().unwrap();
    let rest = server
        .get_ok(&format!(
            "/v1/projects/support-bot/traces?session_id=conv-19c2&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    let id = traces["data"][0]["trace_id"].as_str().unwrap();
    let t = server
        .get_ok(&format!("/v1/projects/support-bot/traces/{id}"))
        .await;
    assert_eq!(t["session_id"], "conv-19c2");
    let spans = t["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["name"], "invoke_agent support-bot");
    assert_eq!(spans[0]["parent_span_id"], Value::Null);
    assert_eq!(spans[1]["parent_span_id"], spans[0]["span_id"]);
    assert_eq!(spans[1]["attributes"]["gen_ai.usage.input_tokens"], 60);
    assert_eq!(spans[1]["kind"], "CLIENT");
}

pub async fn delete_session_removes_traces_and_spans(backend: Backend) {
    let server = seeded(backend).await;
    let r = server
        .request(
            "DELETE",
            "/v1/projects/support-bot/sessions/sess-7f3a",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        server
            .get("/v1/projects/support-bot/sessions/sess-7f3a")
            .await
            .status,
        404
    );
    let traces = server.get_ok("/v1/projects/support-bot/traces").await;
    assert_eq!(
        traces["data"].as_array().unwrap().len(),
        3,
        "only the other session's traces"
    );
    assert_eq!(
        server
            .get_ok("/v1/projects/support-bot/sessions/conv-19c2")
            .await["num_traces"],
        3
    );
}

pub async fn api_key_guards_ingest_and_api(backend: Backend) {
    let server = TestServer::start_with(backend, |s| s.api_key = Some("s3cret".into())).await;
    let pb = fixture("otel-genai.pb");
    server
        .request("POST", "/v1/traces", &[PB], &pb)
        .await
        .assert_error(401, None);
    server
        .request(
            "POST",
            "/v1/traces",
            &[PB, ("authorization", "Bearer wrong")],
            &pb,
        )
        .await
        .assert_error(401, None);
    server.get("/v1/projects").await.assert_error(401, None);
    let ok = server
        .request(
            "POST",
            "/v1/traces",
            &[PB, ("authorization", "Bearer s3cret")],
            &pb,
        )
        .await;
    assert_eq!(ok.status, 200);
    let r = server
        .request(
            "GET",
            "/v1/projects",
            &[("authorization", "Bearer s3cret")],
            b"",
        )
        .await;
    assert_eq!(r.json()["data"][0]["trace_count"], 3);
    assert_eq!(
        server.get("/healthz").await.status,
        200,
        "health needs no key"
    );
}

pub async fn openapi_document_is_served_and_covers_the_routes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let doc = server.get_ok("/openapi.json").await;
    let generated: Value =
        serde_json::from_str(openinference_session_server::openapi::document_json()).unwrap();
    assert_eq!(doc, generated, "the served document is the generated one");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/traces",
        "/v1/projects",
        "/v1/projects/{project}/sessions",
        "/v1/projects/{project}/sessions/{session_id}",
        "/v1/projects/{project}/sessions/{session_id}/turns",
        "/v1/projects/{project}/traces",
        "/v1/projects/{project}/traces/{trace_id}",
        "/v1/projects/{project}/sessions/{session_id}/annotations",
        "/v1/projects/{project}/sessions/{session_id}/annotations/{id}",
        "/v1/projects/{project}/session_annotations",
        "/healthz",
        "/arize_phoenix_version",
        "/v1/sessions/{session_identifier}",
        "/v1/sessions/delete",
        "/v1/session_annotations",
        "/v1/session_notes",
        "/v1/projects/{project}",
        "/v1/projects/{project}/spans",
        "/v1/projects/{project}/settings",
        "/v1/projects/{project}/evaluators",
        "/v1/projects/{project}/evaluators/{name}",
        "/v1/projects/{project}/evaluators/{name}/backfills",
        "/v1/projects/{project}/backfills/{id}",
        "/v1/projects/{project}/evaluation_jobs",
        "/v1/projects/{project}/annotation_configs",
        "/v1/projects/{project}/stats",
        "/v1/projects/{project}/annotation_configs/{name}",
    ] {
        assert!(paths.contains_key(path), "{path} missing from openapi.json");
    }
    assert!(
        paths["/v1/projects/{project}/sessions/{session_id}"]
            .get("delete")
            .is_some()
    );
}

pub async fn grpc_export_with_gzip(backend: Backend) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let server = TestServer::start(backend).await;
    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    use prost::Message;
    let req = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
        &fixture("otel-genai.pb")[..],
    )
    .unwrap();
    let resp = client.export(req.clone()).await.unwrap().into_inner();
    assert_eq!(resp.partial_success, None);
    check_otel_genai(&server).await;
    // Scrambled: one span per call, children first, then re-sent.
    let server2 = TestServer::start(backend).await;
    let mut client2 = TraceServiceClient::connect(format!("http://{}", server2.grpc))
        .await
        .unwrap();
    let mut singles = Vec::new();
    for rs in &req.resource_spans {
        for ss in &rs.scope_spans {
            for sp in &ss.spans {
                let mut one = req.clone();
                one.resource_spans = vec![rs.clone()];
                one.resource_spans[0].scope_spans = vec![ss.clone()];
                one.resource_spans[0].scope_spans[0].spans = vec![sp.clone()];
                singles.push((sp.parent_span_id.is_empty(), one));
            }
        }
    }
    singles.sort_by_key(|(root, _)| *root);
    for (_, one) in singles.iter().chain(singles.iter()) {
        client2.export(one.clone()).await.unwrap();
    }
    check_otel_genai(&server2).await;
    let mut bad = req.clone();
    bad.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
    let resp = client2.export(bad).await.unwrap().into_inner();
    assert_eq!(resp.partial_success.unwrap().rejected_spans, 1);
}

pub async fn graceful_stop_keeps_acknowledged_spans(backend: Backend) {
    let server = TestServer::start(backend).await;
    ingest_fixture(&server, "openinference-chain-root.json").await;
    let storage = server.stop().await;
    let server = TestServer::start_in(storage, |_| {}).await;
    check_openinference_chain_root(&server).await;
}

/// A client that never finishes its body gets 408 and frees its slot; the
/// server keeps serving.
pub async fn slow_body_times_out(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(backend, |s| {
        s.body_timeout = std::time::Duration::from_millis(300)
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.http).await.unwrap();
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 1000\r\n\r\nonly a little")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    ingest_fixture(&server, "otel-genai.pb").await;
    check_otel_genai(&server).await;
}

/// Every id the instrumentation accepts (up to the core's 4 KiB) is stored.
pub async fn ids_at_the_instrumentation_limit_are_accepted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = "s".repeat(openinference_session::attributes::MAX_ID_BYTES);
    let r = server
        .post_pb(&request(
            "p",
            vec![span(
                1,
                1,
                None,
                0,
                vec![s("session.id", &id), s("user.id", &id)],
            )],
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = server.get_ok("/v1/projects/p/sessions").await;
    assert_eq!(listed["data"][0]["session_id"], id.as_str());
    assert_eq!(listed["data"][0]["user_ids"][0], id.as_str());
}

pub async fn overlong_ids_and_project_names_are_rejected_per_span(backend: Backend) {
    use openinference_session_server::otlp::map::MAX_ID_BYTES;
    let server = TestServer::start(backend).await;
    let long = "x".repeat(MAX_ID_BYTES + 1);
    let r = server
        .post_pb(&request(
            "p",
            vec![
                span(1, 1, None, 0, vec![s("session.id", &long)]),
                span(
                    2,
                    1,
                    None,
                    0,
                    vec![s("session.id", "ok"), s("user.id", &long)],
                ),
                span(3, 1, None, 0, vec![s("session.id", "ok")]),
            ],
        ))
        .await;
    assert_eq!(r.status, 200);
    use prost::Message;
    let resp =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            &r.body[..],
        )
        .unwrap();
    let partial = resp.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial
            .error_message
            .contains(&format!("session id longer than {MAX_ID_BYTES} bytes")),
        "{}",
        partial.error_message
    );
    assert!(
        partial
            .error_message
            .contains(&format!("user id longer than {MAX_ID_BYTES} bytes")),
        "{}",
        partial.error_message
    );
    assert_eq!(
        server.get_ok("/v1/projects/p/sessions/ok").await["num_traces"],
        1
    );
    let r = server
        .post_pb(&request(
            &"p".repeat(257),
            vec![span(4, 1, None, 0, vec![])],
        ))
        .await;
    let partial =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            &r.body[..],
        )
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("project name longer than 256 bytes")
    );
}

/// One `#[tokio::test]` per test of the suite, on `$backend`.
#[macro_export]
macro_rules! http_suite {
    ($backend:expr) => {
        $crate::http_suite!(@tests $backend;
            fixture_openinference_llm_root_protobuf,
            fixture_openinference_llm_root_json,
            fixture_openinference_chain_root_protobuf,
            fixture_openinference_chain_root_json,
            fixture_otel_genai_protobuf,
            fixture_otel_genai_json,
            fixture_resent_is_stored_once,
            fixture_gzip_body,
            fixtures_together,
            scrambled_order_across_requests_root_last_moves_traces,
            partial_success_rejects_bad_spans_alone,
            json_partial_success_and_non_hex_ids,
            bad_bodies_get_clear_errors_and_lose_nothing,
            impossible_usage_is_rejected_per_span,
            health_reports_the_store,
            huge_attribute_values_round_trip,
            project_header_overrides_resource,
            vendor_session_and_user_keys,
            hostile_query_parameters_are_400_naming_the_parameter,
            unknown_things_are_404_with_json,
            session_list_sorts_filters_and_pages,
            session_detail_fields_and_traces,
            delete_session_removes_traces_and_spans,
            api_key_guards_ingest_and_api,
            openapi_document_is_served_and_covers_the_routes,
            grpc_export_with_gzip,
            graceful_stop_keeps_acknowledged_spans,
            slow_body_times_out,
            ids_at_the_instrumentation_limit_are_accepted,
            overlong_ids_and_project_names_are_rejected_per_span,
            annotate_replace_list_summarize_delete,
            bulk_writes_are_all_or_nothing,
            bad_annotations_get_clear_errors,
            logs_genai_events_join_their_spans_in_either_order,
            logs_bad_bodies_get_clear_errors_and_lose_nothing,
            logs_over_grpc_with_gzip,
            phoenix_version_and_identity,
            phoenix_annotations_and_notes,
            phoenix_bad_input_names_the_problem_and_loses_nothing,
            phoenix_spans_and_traces,
            phoenix_projects,
            idle_sessions_are_judged_and_rejudged,
            judge_failures_are_retried_or_recorded,
            a_hanging_judge_times_out,
            code_rules_judge_sessions,
            backfills_judge_existing_sessions,
            bad_evaluators_are_refused_naming_the_field,
            settings_and_versions,
            annotation_configs_hold_every_writer,
            project_stats_over_http,
        );
    };
    (@tests $backend:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::http::$test($backend).await
            }
        )*
    };
}
