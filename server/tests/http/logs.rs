//! OTLP logs over HTTP and gRPC: the GenAI events of spans (content sent as
//! log records, the conventions' default mode) joined to their spans whatever
//! order they arrive in; other log records rejected one by one with a reason;
//! bad bodies answered as on `/v1/traces`, losing nothing acknowledged.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::json;

use crate::common::*;

const PB: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

fn text(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}

fn object(fields: Vec<(&str, AnyValue)>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: fields
                .into_iter()
                .map(|(k, v)| opentelemetry_proto::tonic::common::v1::KeyValue {
                    key: k.into(),
                    value: Some(v),
                    ..Default::default()
                })
                .collect(),
        })),
    }
}

/// A log record of span `span` in trace `trace`, named `name`, `at` seconds
/// after the spans' base time.
fn event(trace: u8, span: u8, at: u64, name: &str, body: AnyValue) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_790_000_000_000_000_000 + at * 1_000_000_000,
        trace_id: tid(trace),
        span_id: sid(span),
        event_name: name.into(),
        body: Some(body),
        ..Default::default()
    }
}

fn user(trace: u8, span: u8, content: &str) -> LogRecord {
    event(
        trace,
        span,
        1,
        "gen_ai.user.message",
        object(vec![("content", text(content))]),
    )
}

fn choice(trace: u8, span: u8, content: &str) -> LogRecord {
    let message = object(vec![
        ("role", text("assistant")),
        ("content", text(content)),
    ]);
    event(
        trace,
        span,
        2,
        "gen_ai.choice",
        object(vec![("message", message)]),
    )
}

fn logs(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![s("service.name", service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A GenAI chat span without content (it went to the logs).
fn chat_span(trace: u8, session: &str) -> opentelemetry_proto::tonic::trace::v1::Span {
    span(
        trace,
        1,
        None,
        0,
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.request.model", "gpt-4o-mini"),
            s("session.id", session),
            i("gen_ai.usage.input_tokens", 12),
            i("gen_ai.usage.output_tokens", 5),
        ],
    )
}

async fn post_logs(server: &TestServer, request: &ExportLogsServiceRequest) -> Reply {
    server
        .request("POST", "/v1/logs", &[PB], &request.encode_to_vec())
        .await
}

async fn turn_texts(server: &TestServer, session: &str) -> Vec<(Option<String>, Option<String>)> {
    let turns = server
        .get_ok(&format!("/v1/projects/chat/sessions/{session}/turns"))
        .await;
    turns["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["input"]["value"].as_str().map(str::to_owned),
                t["output"]["value"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

pub async fn logs_genai_events_join_their_spans_in_either_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Span first, then its events (protobuf), with records that are not
    // GenAI events of a span among them.
    assert_eq!(
        server
            .post_pb(&request("chat", vec![chat_span(1, "s1")]))
            .await
            .status,
        200
    );
    let mut not_an_event = event(1, 1, 3, "", text("GET /health 200"));
    not_an_event.event_name.clear();
    let mut no_span = user(1, 1, "lost");
    no_span.span_id.clear();
    let r = post_logs(
        &server,
        &logs(
            "chat",
            vec![
                user(1, 1, "Where is my parcel?"),
                choice(1, 1, "On its way."),
                not_an_event,
                no_span,
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let partial = ExportLogsServiceResponse::decode(&r.body[..])
        .unwrap()
        .partial_success
        .expect("partial success");
    assert_eq!(partial.rejected_log_records, 2);
    assert!(
        partial.error_message.contains("not a GenAI event"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("invalid span id"),
        "{}",
        partial.error_message
    );
    assert_eq!(
        turn_texts(&server, "s1").await,
        [(
            Some("Where is my parcel?".into()),
            Some("On its way.".into())
        )]
    );

    // Events first (OTLP JSON, the older `event.name` attribute), then the span.
    let body = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "chat"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": "1790000001000000000", "traceId": "02020202020202020202020202020202",
             "spanId": "0101010101010101",
             "attributes": [{"key": "event.name", "value": {"stringValue": "gen_ai.user.message"}}],
             "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "Can I change the address?"}}]}}},
            {"timeUnixNano": "1790000002000000000", "traceId": "02020202020202020202020202020202",
             "spanId": "0101010101010101", "eventName": "gen_ai.choice",
             "body": {"kvlistValue": {"values": [{"key": "message", "value": {"kvlistValue": {"values": [
                 {"key": "content", "value": {"stringValue": "Yes, until it ships."}}]}}}]}}}
        ]}]
    }]});
    let r = server
        .request("POST", "/v1/logs", &[JSON], body.to_string().as_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({}));
    assert_eq!(
        server
            .post_pb(&request("chat", vec![chat_span(2, "s1")]))
            .await
            .status,
        200
    );
    assert_eq!(
        turn_texts(&server, "s1").await,
        [
            (
                Some("Where is my parcel?".into()),
                Some("On its way.".into())
            ),
            (
                Some("Can I change the address?".into()),
                Some("Yes, until it ships.".into())
            ),
        ]
    );
    // The trace page shows the events on their span, with their bodies.
    let trace = server
        .get_ok(&format!("/v1/projects/chat/traces/{}", "02".repeat(16)))
        .await;
    let events = trace["spans"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["name"], "gen_ai.user.message");
    assert_eq!(events[0]["body"]["content"], "Can I change the address?");
    // Re-sent: stored once, nothing changes.
    let r = server
        .request("POST", "/v1/logs", &[JSON], body.to_string().as_bytes())
        .await;
    assert_eq!(r.status, 200);
    let trace = server
        .get_ok(&format!("/v1/projects/chat/traces/{}", "02".repeat(16)))
        .await;
    assert_eq!(trace["spans"][0]["events"].as_array().unwrap().len(), 2);
}

pub async fn logs_bad_bodies_get_clear_errors_and_lose_nothing(backend: Backend) {
    let server = TestServer::start_with(backend, |s| s.max_request_bytes = 64 * 1024).await;
    assert_eq!(
        server
            .post_pb(&request("chat", vec![chat_span(1, "s1")]))
            .await
            .status,
        200
    );
    let good = logs("chat", vec![user(1, 1, "hello"), choice(1, 1, "hi")]);
    assert_eq!(post_logs(&server, &good).await.status, 200);
    let pb = good.encode_to_vec();
    let refused = |headers: Vec<(&'static str, &'static str)>, body: Vec<u8>, status: u16| {
        let server = &server;
        async move {
            let r = server.request("POST", "/v1/logs", &headers, &body).await;
            let message = r.assert_error(status, None);
            assert_eq!(
                turn_texts(server, "s1").await,
                [(Some("hello".into()), Some("hi".into()))],
                "nothing acknowledged is lost"
            );
            message
        }
    };
    let msg = refused(vec![PB], pb[..pb.len() - 3].to_vec(), 400).await;
    assert!(msg.contains("invalid protobuf"), "{msg}");
    refused(vec![JSON], b"{\"resourceLogs\": [".to_vec(), 400).await;
    refused(
        vec![JSON],
        br#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": true}]}]}]}"#
            .to_vec(),
        400,
    )
    .await;
    refused(vec![("content-type", "text/plain")], b"hello".to_vec(), 415).await;
    refused(vec![PB, ("content-encoding", "br")], pb.clone(), 415).await;
    let msg = refused(vec![PB], vec![0u8; 65 * 1024], 413).await;
    assert!(msg.contains("limit"), "{msg}");
    let bomb = gzip(&vec![b'{'; 20 * 1024 * 1024]);
    refused(vec![JSON, ("content-encoding", "gzip")], bomb, 413).await;
    assert_eq!(
        post_logs(&server, &ExportLogsServiceRequest::default())
            .await
            .status,
        200,
        "an empty request is fine"
    );
}

pub async fn logs_over_grpc_with_gzip(backend: Backend) {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    let server = TestServer::start_with(backend, |s| s.api_key = Some("k3y".into())).await;
    let r = server
        .request(
            "POST",
            "/v1/traces",
            &[PB, ("authorization", "Bearer k3y")],
            &request("chat", vec![chat_span(1, "s1")]).encode_to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    let channel = tonic::transport::Endpoint::new(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = LogsServiceClient::new(channel)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let request_with = |key: Option<&str>| {
        let mut r =
            tonic::Request::new(logs("chat", vec![user(1, 1, "hello"), choice(1, 1, "hi")]));
        if let Some(key) = key {
            r.metadata_mut()
                .insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        r
    };
    let denied = client
        .export(request_with(Some("wrong")))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);
    let answer = client
        .export(request_with(Some("k3y")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.partial_success, None);
    let turns = server
        .request(
            "GET",
            "/v1/projects/chat/sessions/s1/turns",
            &[("authorization", "Bearer k3y")],
            b"",
        )
        .await
        .json();
    assert_eq!(turns["data"][0]["input"]["value"], "hello");
    assert_eq!(turns["data"][0]["output"]["value"], "hi");
}
