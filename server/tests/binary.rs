//! The `oi-sessions` binary as users run it: flags and env, the start-up lines,
//! SIGTERM, and a kill -9 in the middle of ingest losing nothing acknowledged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

struct Running {
    child: Child,
    http: SocketAddr,
    grpc: Option<SocketAddr>,
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oi-sessions"));
    cmd.arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn oi-sessions");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut http = None;
    let mut grpc = None;
    let expect_grpc = !args.contains(&"off") && !env.iter().any(|(_, v)| *v == "off");
    while http.is_none() || (expect_grpc && grpc.is_none()) {
        let line = lines.next().expect("a start-up line").unwrap();
        let rest = line.strip_prefix("oi-sessions listening ").expect(&line);
        let (proto, addr) = rest.split_once('=').unwrap();
        let addr: SocketAddr = addr.parse().unwrap();
        match proto {
            "http" => http = Some(addr),
            "grpc" => grpc = Some(addr),
            other => panic!("unknown listener {other}"),
        }
    }
    Running {
        child,
        http: http.unwrap(),
        grpc,
    }
}

fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/otlp/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn serve_prints_addresses_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut run = start(
        &[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(run.grpc.is_some());
    let (status, body) = http(run.http, "GET", "/healthz", "text/plain", b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("{\"status\":\"ok\",\"ui\":"), "{body}");
    let (status, _) = http(
        run.http,
        "POST",
        "/v1/traces",
        "application/x-protobuf",
        &fixture("otel-genai.pb"),
    );
    assert_eq!(status, 200);
    signal(&run.child, "-TERM");
    assert!(run.child.wait().unwrap().success(), "clean exit on sigterm");
    assert!(dir.path().join("oi-sessions.sqlite3").exists());

    // Configured through the environment this time; the data is still there.
    let mut run = start(
        &[],
        &[
            ("OI_SESSIONS_HTTP_ADDR", "127.0.0.1:0"),
            ("OI_SESSIONS_GRPC_ADDR", "off"),
            ("OI_SESSIONS_DATA_DIR", data),
            ("OI_SESSIONS_API_KEY", "k"),
        ],
    );
    assert!(run.grpc.is_none());
    let (status, body) = http(run.http, "GET", "/v1/projects", "text/plain", b"");
    assert_eq!(status, 401, "{body}");
    signal(&run.child, "-INT");
    assert!(run.child.wait().unwrap().success(), "clean exit on sigint");
    let mut run = start(
        &[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
            data,
        ],
        &[],
    );
    let (status, body) = http(
        run.http,
        "GET",
        "/v1/projects/support-bot/sessions/conv-19c2",
        "text/plain",
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"num_traces\":3"), "{body}");
    signal(&run.child, "-TERM");
    run.child.wait().unwrap();
}

#[test]
fn bad_flags_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args([
            "serve",
            "--grpc-addr",
            "nowhere",
            "--data-dir",
            "/tmp/unused",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --grpc-addr"));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let version = openinference_session_server::VERSION;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("oi-sessions {version}")
    );
    // from a checkout: `0.1.0 (<short sha> <commit date>)` of the HEAD built
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "log",
            "-1",
            "--format=%h %cs",
        ])
        .output();
    if let Some(head) = head.ok().filter(|h| h.status.success()) {
        let head = String::from_utf8_lossy(&head.stdout);
        assert_eq!(
            version,
            format!("{} ({})", env!("CARGO_PKG_VERSION"), head.trim())
        );
    }
}

fn one_trace(n: u32) -> Vec<u8> {
    let mut trace_id = [7u8; 16];
    trace_id[..4].copy_from_slice(&n.to_be_bytes());
    let kv = |k: &str, v: String| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: trace_id.to_vec(),
                    span_id: vec![1; 8],
                    name: "turn".into(),
                    start_time_unix_nano: 1_790_000_000_000_000_000 + u64::from(n),
                    end_time_unix_nano: 1_790_000_000_000_000_001 + u64::from(n),
                    attributes: vec![
                        kv("session.id", format!("s{}", n % 10)),
                        kv("input.value", "x".repeat(2000)),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn kill_9_during_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let mut run = start(
        &[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
            &data,
        ],
        &[],
    );
    let addr = run.http;
    let (tx, rx) = std::sync::mpsc::channel();
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    let n = w * 1_000_000 + i;
                    let Ok(mut s) = TcpStream::connect(addr) else { return };
                    let body = one_trace(n);
                    let head = format!("POST /v1/traces HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n", body.len());
                    if s.write_all(head.as_bytes()).and_then(|()| s.write_all(&body)).is_err() {
                        return;
                    }
                    let mut raw = String::new();
                    if s.read_to_string(&mut raw).is_err() {
                        return;
                    }
                    if raw.starts_with("HTTP/1.1 200") {
                        tx.send(n).unwrap();
                    } else {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    // Let ingest run, then kill without warning.
    let mut acked = Vec::new();
    while acked.len() < 200 {
        acked.push(rx.recv().unwrap());
    }
    signal(&run.child, "-KILL");
    run.child.wait().unwrap();
    for w in writers {
        w.join().unwrap();
    }
    acked.extend(rx.try_iter());
    let mut run = start(
        &[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
            &data,
        ],
        &[],
    );
    for n in &acked {
        let mut trace_id = [7u8; 16];
        trace_id[..4].copy_from_slice(&n.to_be_bytes());
        let hex: String = trace_id.iter().map(|b| format!("{b:02x}")).collect();
        let (status, body) = http(
            run.http,
            "GET",
            &format!("/v1/projects/default/traces/{hex}"),
            "text/plain",
            b"",
        );
        assert_eq!(status, 200, "acknowledged trace {n} lost: {body}");
    }
    signal(&run.child, "-TERM");
    run.child.wait().unwrap();
}
