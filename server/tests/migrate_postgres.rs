//! `oi-sessions migrate` from a real SQLite data dir into a fresh schema of
//! the PostgreSQL test database (`OI_SESSIONS_TEST_DATABASE_URL`,
//! `scripts/postgres.sh`): killed with SIGKILL mid-copy, run again, it
//! continues, verifies, and a server on PostgreSQL then exports exactly what
//! the SQLite one did.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::binary::{ServerProcess, http, oi, post_framework};
use common::{Backend, Storage, database_url};
use serde_json::{Value, json};

const PROJECTS: [&str; 3] = ["parcel-langgraph", "parcel-openai-genai-events", "bulk"];

/// A URL whose connections work in `schema`, created here (the server
/// creates tables, not the schema of a `search_path`).
fn fresh_schema(storage: &Storage) -> String {
    let Storage::Postgres(schema) = storage else {
        unreachable!("a PostgreSQL storage")
    };
    let mut c = postgres::Client::connect(&database_url(), postgres::NoTls).expect("connect");
    c.batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
        .expect("create schema");
    let url = database_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Sessions of two traces each (a CHAIN root and an LLM child with tokens).
fn bulk(addr: std::net::SocketAddr, sessions: usize) {
    let attr = |k: &str, v: Value| {
        let value = match v {
            Value::String(s) => json!({"stringValue": s}),
            other => json!({"intValue": other.to_string()}),
        };
        json!({"key": k, "value": value})
    };
    for chunk in (0..sessions).collect::<Vec<_>>().chunks(100) {
        let mut spans = Vec::new();
        for &n in chunk {
            for t in 0..2u64 {
                let trace = format!("{:032x}", (n as u64) * 2 + t + 1);
                let root = format!("{:016x}", (n as u64) * 4 + t * 2 + 1);
                let start = 1_700_000_000_000_000_000u64 + n as u64 * 10_000_000 + t * 1_000_000;
                spans.push(json!({"traceId": trace, "spanId": root, "name": "turn",
                    "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 900).to_string(),
                    "attributes": [attr("session.id", json!(format!("bulk-{n}"))), attr("user.id", json!(format!("u{}", n % 7))),
                                   attr("openinference.span.kind", json!("CHAIN")),
                                   attr("input.value", json!(format!("question {n}.{t}"))), attr("output.value", json!(format!("answer {n}.{t}")))]}));
                spans.push(json!({"traceId": trace, "spanId": format!("{:016x}", (n as u64) * 4 + t * 2 + 2), "parentSpanId": root,
                    "name": "llm", "startTimeUnixNano": (start + 100).to_string(), "endTimeUnixNano": (start + 800).to_string(),
                    "attributes": [attr("session.id", json!(format!("bulk-{n}"))), attr("openinference.span.kind", json!("LLM")),
                                   attr("llm.model_name", json!("gpt-4o-mini")),
                                   attr("llm.token_count.prompt", json!(100 + n)), attr("llm.token_count.completion", json!(20))]}));
            }
        }
        let body = json!({"resourceSpans": [{"resource": {"attributes": [attr("openinference.project.name", json!("bulk"))]},
                                             "scopeSpans": [{"spans": spans}]}]});
        let (status, text) = http(addr, "POST", "/v1/traces", body.to_string().as_bytes());
        assert_eq!(status, 200, "{text}");
    }
}

/// An export line without what a server sets by itself on arrival (see
/// tests/cli.rs).
fn comparable(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("last_activity");
            o.remove("status");
            for a in o["annotations"].as_array_mut().unwrap() {
                for k in ["id", "created_at", "updated_at"] {
                    a.as_object_mut().unwrap().remove(k);
                }
            }
            v
        })
        .collect()
}

fn exports(url: &str) -> Vec<Vec<Value>> {
    PROJECTS
        .iter()
        .map(|p| {
            comparable(
                oi(
                    &[
                        "export",
                        "--url",
                        url,
                        "--project",
                        p,
                        "--sort",
                        "start_time",
                        "--order",
                        "asc",
                    ],
                    &[],
                )
                .ok(),
            )
        })
        .collect()
}

fn checkpoint(dir: &Path) -> Option<Value> {
    let bytes = std::fs::read(dir.join("oi-sessions.migrate.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Fills a SQLite data dir through a server: framework traces (tool calls,
/// GenAI events as logs), 400 bulk sessions, annotations, an annotation
/// config, an evaluator and settings. Returns what the server exports.
fn fill(dir: &Path) -> (Vec<Vec<Value>>, String) {
    let server = ServerProcess::start(dir, &[]);
    let url = server.url();
    post_framework(server.http, "langgraph");
    let events = post_framework(server.http, "openai-genai-events");
    bulk(server.http, 400);
    let session = events["session_id"].as_str().unwrap();
    for (name, label) in [("resolved", "yes"), ("tone", "kind")] {
        oi(
            &[
                "annotate",
                session,
                "--url",
                &url,
                "--project",
                PROJECTS[1],
                "--name",
                name,
                "--label",
                label,
                "--score",
                "1",
            ],
            &[],
        )
        .ok();
    }
    oi(
        &[
            "annotate",
            "bulk-3",
            "--url",
            &url,
            "--project",
            "bulk",
            "--name",
            "note",
            "--explanation",
            "looked at it",
        ],
        &[],
    )
    .ok();
    let post = |path: &str, body: Value| {
        let (status, text) = http(server.http, "POST", path, body.to_string().as_bytes());
        assert!((200..300).contains(&status), "{path}: {status} {text}");
    };
    post(
        "/v1/projects/bulk/annotation_configs",
        json!({"name": "quality", "type": "categorical", "values": [{"label": "good", "score": 1.0}, {"label": "bad", "score": 0.0}]}),
    );
    post(
        "/v1/projects/bulk/evaluators",
        json!({"name": "clean", "kind": "code", "rule": {"type": "no_errors"}}),
    );
    let (status, text) = http(
        server.http,
        "PUT",
        "/v1/projects/bulk/settings",
        json!({"retention": "90d"}).to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    let exported = exports(&url);
    assert_eq!(exported[2].len(), 400);
    let (status, settings) = http(server.http, "GET", "/v1/projects/bulk/settings", b"");
    assert_eq!(status, 200);
    server.stop();
    (exported, settings)
}

#[test]
fn migrate_killed_midway_continues_and_ends_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (before, settings_before) = fill(dir.path());
    let storage = Storage::new(Backend::Postgres);
    let url = fresh_schema(&storage);
    let from = dir.path().to_str().unwrap();

    // A server still running on the data dir: refused, nothing copied.
    let running = ServerProcess::start(dir.path(), &[]);
    let refused = oi(&["migrate", "--from", from, "--to", &url], &[]);
    assert!(
        refused.failed(1).contains("cannot open"),
        "{}",
        refused.stderr
    );
    running.stop();

    // Small batches, killed with SIGKILL once some are committed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args(["migrate", "--from", from, "--to", &url, "--batch", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let killed_at = loop {
        if let Some(c) = checkpoint(dir.path()).filter(|c| c["spans_after"].as_i64() > Some(0)) {
            child.kill().unwrap();
            break c;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the migration ended before it was killed"
        );
        std::thread::yield_now();
    };
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed");
    let saved = checkpoint(dir.path()).expect("the position survives the kill");
    assert!(saved["spans_after"].as_i64() >= killed_at["spans_after"].as_i64());
    assert_eq!(saved["annotations_done"], false, "killed before the end");

    // Another target while one is recorded: refused.
    let other = oi(
        &[
            "migrate",
            "--from",
            from,
            "--to",
            &format!("{url}&application_name=x"),
        ],
        &[],
    );
    assert!(
        other.failed(1).contains("an interrupted migration into"),
        "{}",
        other.stderr
    );

    let resumed = oi(
        &["migrate", "--from", from, "--batch", "500"],
        // The URL from the environment, as for serve.
        &[("OI_SESSIONS_DATABASE_URL", &url)],
    );
    let text = resumed.ok();
    assert!(
        text.starts_with("continuing the migration into postgresql "),
        "{text}"
    );
    assert!(
        text.contains("verified: counts and checksums match"),
        "{text}"
    );
    assert!(!text.contains("MISMATCH"), "{text}");
    // Each kind: the same count and checksum on both sides.
    for (what, least) in [
        ("projects", 3),
        ("sessions", 402),
        ("spans", 1600),
        ("events", 1),
        ("annotations", 3),
        ("evaluators", 1),
        ("configs", 1),
        ("settings", 3),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{what} ")))
            .unwrap_or_else(|| panic!("{what} in {text}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 5, "{line}");
        let count: u64 = cols[1].parse().unwrap();
        assert!(count >= least, "{line}");
        assert_eq!((cols[1], cols[3]), (cols[2], cols[4]), "{line}");
    }
    assert!(
        checkpoint(dir.path()).is_none(),
        "done: nothing left to continue"
    );
    assert!(
        !url.contains("oi-sessions-test") || !text.contains("oi-sessions-test"),
        "the password is never printed"
    );

    // A server on PostgreSQL exports what the SQLite server did.
    let mut pg = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--database-url",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = std::io::BufRead::lines(std::io::BufReader::new(pg.stdout.take().unwrap()))
        .next()
        .unwrap()
        .unwrap();
    let addr = line.strip_prefix("oi-sessions listening http=").unwrap();
    let after = exports(&format!("http://{addr}"));
    let settings = oi(
        &[
            "sessions",
            "list",
            "--url",
            &format!("http://{addr}"),
            "--project",
            "bulk",
            "--json",
            "--limit",
            "1",
        ],
        &[],
    );
    assert_eq!(
        serde_json::from_str::<Value>(settings.ok())
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, body) = http(
        addr.parse().unwrap(),
        "GET",
        "/v1/projects/bulk/settings",
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(body, settings_before);
    assert!(body.contains("\"retention\":\"2months"), "{body}");
    let _ = pg.kill();
    let _ = pg.wait();
    for (i, p) in PROJECTS.iter().enumerate() {
        assert_eq!(after[i].len(), before[i].len(), "{p}");
        for (a, b) in after[i].iter().zip(&before[i]) {
            assert_eq!(a, b, "{p}");
        }
    }

    // Run again: nothing to continue, and the target holds sessions.
    let again = oi(&["migrate", "--from", from, "--to", &url], &[]);
    assert!(
        again.failed(1).contains("already holds sessions"),
        "{}",
        again.stderr
    );
}

#[test]
fn migrate_reports_a_copy_that_differs_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    bulk(server.http, 30);
    server.stop();
    let storage = Storage::new(Backend::Postgres);
    let url = fresh_schema(&storage);
    let from = dir.path().to_str().unwrap();
    // Other prices than serve's: the costs derived again differ.
    let prices = dir.path().join("prices.json");
    std::fs::write(
        &prices,
        r#"{"gpt-4o-mini": {"prompt": 1000, "completion": 1000}}"#,
    )
    .unwrap();
    let differs = oi(
        &[
            "migrate",
            "--from",
            from,
            "--to",
            &url,
            "--prices",
            prices.to_str().unwrap(),
        ],
        &[],
    );
    let err = differs.failed(1);
    assert!(
        err.contains("the copy differs from the source in sessions"),
        "{err}"
    );
    assert!(
        differs
            .stdout
            .lines()
            .any(|l| l.starts_with("sessions") && l.ends_with("MISMATCH")),
        "{}",
        differs.stdout
    );
    assert!(
        differs
            .stdout
            .lines()
            .any(|l| l.starts_with("spans") && !l.ends_with("MISMATCH")),
        "{}",
        differs.stdout
    );

    let bad = oi(
        &["migrate", "--from", from, "--to", "mysql://u:pw@h/d"],
        &[],
    );
    assert!(
        bad.failed(1).contains("--to must be a postgres://"),
        "{}",
        bad.stderr
    );
    assert!(!bad.stderr.contains("pw"));
    let empty = tempfile::tempdir().unwrap();
    let none = oi(
        &[
            "migrate",
            "--from",
            empty.path().to_str().unwrap(),
            "--to",
            &url,
        ],
        &[],
    );
    assert!(none.failed(1).contains("no database in"), "{}", none.stderr);
}
