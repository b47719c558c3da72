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

/// Trace `n`'s input: a long text new in every trace that shares most of its
/// bytes with every other (stored as chunks, most of them shared).
fn history(n: u32) -> String {
    let mut x = 0x5eed_u64;
    let words: Vec<&str> = (0..600)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            [
                "order", "parcel", "late", "refund", "sorry", "tracking", "week",
            ][(x >> 60) as usize % 7]
        })
        .collect();
    format!("{} then turn {n} asked again", words.join(" "))
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
                        kv("input.value", history(n)),
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
        assert!(body.contains(&history(*n)), "trace {n}'s input changed");
    }
    signal(&run.child, "-TERM");
    run.child.wait().unwrap();
}

/// Runs `oi-sessions serve` on `dir` expecting it to refuse to start; returns
/// what it said.
fn refused(dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .expect("run oi-sessions");
    assert!(!out.status.success(), "it started on {}", dir.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts a server on `dir`, sends it the chain-root fixture, stops it.
fn fill(dir: &std::path::Path) {
    let dir = dir.to_str().unwrap();
    let mut server = start(
        &[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
            dir,
        ],
        &[],
    );
    let (status, _) = http(
        server.http,
        "POST",
        "/v1/traces",
        "application/x-protobuf",
        &fixture("openinference-chain-root.pb"),
    );
    assert_eq!(status, 200);
    signal(&server.child, "-TERM");
    assert!(server.child.wait().unwrap().success());
}

#[test]
fn a_second_server_on_the_same_data_dir_refuses_to_start_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let mut first = start(
        &[
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
            path,
        ],
        &[],
    );
    let said = refused(dir.path());
    assert!(said.contains("another oi-sessions is serving"), "{said}");
    assert!(
        said.contains(&format!("pid {}", first.child.id())),
        "{said}"
    );
    // the first one is unharmed
    let (status, _) = http(first.http, "GET", "/healthz", "text/plain", b"");
    assert_eq!(status, 200);
    signal(&first.child, "-TERM");
    assert!(first.child.wait().unwrap().success());
}

#[test]
fn a_truncated_or_deleted_database_is_never_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let db = dir.path().join("oi-sessions.sqlite3");
    std::fs::File::create(&db).unwrap(); // truncated to 0 bytes
    let said = refused(dir.path());
    assert!(
        said.contains("is empty, but this data directory held one"),
        "{said}"
    );
    assert!(said.contains("Restore it from a backup"), "{said}");
    std::fs::remove_file(&db).unwrap();
    let said = refused(dir.path());
    assert!(said.contains("is missing"), "{said}");
    // what the message says to do works: without the marker it starts anew
    std::fs::remove_file(dir.path().join("oi-sessions.created")).unwrap();
    fill(dir.path());
}

#[test]
fn a_damaged_database_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let db = dir.path().join("oi-sessions.sqlite3");
    // scribble over pages in the middle of the file
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page, "{} bytes", bytes.len());
    for b in &mut bytes[3 * page..6 * page] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let said = refused(dir.path());
    assert!(
        said.contains("is damaged") || said.contains("malformed"),
        "{said}"
    );
    assert!(said.contains("backup"), "{said}");
}

#[test]
fn a_database_missing_a_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let conn = rusqlite::Connection::open(dir.path().join("oi-sessions.sqlite3")).unwrap();
    conn.execute_batch("DROP TABLE session_annotations")
        .unwrap();
    drop(conn);
    let said = refused(dir.path());
    assert!(
        said.contains("lacks the tables session_annotations"),
        "{said}"
    );
}

/// With stderr on a full disk, log lines are lost but every request is
/// answered and the server stays up.
#[test]
fn a_full_stderr_loses_log_lines_not_answers() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("OI_SESSIONS_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(full))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line.trim().rsplit('=').next().unwrap().parse().unwrap();
    for _ in 0..3 {
        // errors log at warn/error level: each write to stderr fails
        let (status, _) = http(
            addr,
            "POST",
            "/v1/traces",
            "application/x-protobuf",
            b"\xff garbage",
        );
        assert_eq!(status, 400);
        let (status, _) = http(
            addr,
            "DELETE",
            "/v1/projects/p/sessions/s",
            "text/plain",
            b"",
        );
        assert_eq!(status, 404);
    }
    let (status, _) = http(
        addr,
        "POST",
        "/v1/traces",
        "application/x-protobuf",
        &fixture("openinference-chain-root.pb"),
    );
    assert_eq!(status, 200);
    assert!(child.try_wait().unwrap().is_none(), "still running");
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
}
