//! `oi-sessions backup` while a server keeps ingesting: the copy passes its
//! checks, opens as a store under a new server, and holds every session
//! acknowledged before the backup began, whole.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::binary::{ServerProcess, http, oi};
use serde_json::{Value, json};

/// A session of one trace: a CHAIN root with the question and answer and an
/// LLM child, as OTLP/JSON.
fn session_request(n: usize) -> Value {
    let trace = format!("{:032x}", n + 1);
    let start = 1_700_000_000_000_000_000u64 + n as u64 * 1_000_000;
    let attr = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    json!({"resourceSpans": [{
        "resource": {"attributes": [attr("openinference.project.name", "backup")]},
        "scopeSpans": [{"spans": [
            {"traceId": trace, "spanId": format!("{:016x}", 2 * n + 1), "name": "turn",
             "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 500).to_string(),
             "attributes": [attr("session.id", &format!("s-{n}")), attr("openinference.span.kind", "CHAIN"),
                            attr("input.value", &format!("question {n} {}", "x".repeat(200))),
                            attr("output.value", &format!("answer {n}"))]},
            {"traceId": trace, "spanId": format!("{:016x}", 2 * n + 2), "parentSpanId": format!("{:016x}", 2 * n + 1),
             "name": "llm", "startTimeUnixNano": (start + 100).to_string(), "endTimeUnixNano": (start + 400).to_string(),
             "attributes": [attr("session.id", &format!("s-{n}")), attr("openinference.span.kind", "LLM")]}
        ]}]
    }]})
}

#[test]
fn a_backup_taken_during_ingest_opens_and_holds_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let addr = server.http;
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ingest = {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let (status, body) = http(
                    addr,
                    "POST",
                    "/v1/traces",
                    session_request(n).to_string().as_bytes(),
                );
                assert_eq!(status, 200, "{body}");
                n += 1;
                acknowledged.store(n, Ordering::SeqCst);
            }
            n
        })
    };
    // A database of some size first, then the backup while ingest goes on.
    while acknowledged.load(Ordering::SeqCst) < 300 {
        std::thread::yield_now();
    }
    let before = acknowledged.load(Ordering::SeqCst);
    let file = dir.path().join("copy.sqlite3");
    let data_dir = dir.path().to_str().unwrap();
    let run = oi(
        &[
            "backup",
            "--data-dir",
            data_dir,
            file.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    let report: Value = serde_json::from_str(run.ok().trim()).unwrap();
    let during = acknowledged.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::SeqCst);
    let sent = ingest.join().unwrap();
    assert_eq!(report["integrity"], "ok");
    let copied = report["rows"]["sessions"].as_i64().unwrap() as usize;
    assert!(
        (before..=sent).contains(&copied),
        "the copy holds {copied} sessions: at least the {before} acknowledged before, at most the {sent} sent"
    );
    assert_eq!(
        report["rows"]["spans"].as_i64().unwrap() as usize,
        2 * copied,
        "whole sessions only"
    );
    assert!(!dir.path().join("copy.sqlite3.partial").exists());
    eprintln!("{during} sessions acknowledged during the backup");

    // A server on the copy: every session acknowledged before is there, whole.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("oi-sessions.sqlite3")).unwrap();
    assert!(
        oi(
            &["check", "--data-dir", restored.path().to_str().unwrap()],
            &[]
        )
        .ok()
        .contains("ok")
    );
    let copy = ServerProcess::start(restored.path(), &[]);
    let listed = oi(
        &[
            "sessions",
            "list",
            "--json",
            "--url",
            &copy.url(),
            "--project",
            "backup",
            "--limit",
            "100000",
        ],
        &[],
    );
    let sessions: Vec<Value> = serde_json::from_str(listed.ok()).unwrap();
    assert_eq!(sessions.len(), copied);
    let ids: std::collections::HashSet<&str> = sessions
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    for n in 0..before {
        assert!(
            ids.contains(format!("s-{n}").as_str()),
            "s-{n} acknowledged before the backup"
        );
    }
    for s in &sessions {
        assert_eq!(s["num_traces"], 1);
        assert!(
            s["first_input"]["value"]
                .as_str()
                .unwrap()
                .starts_with("question")
        );
    }
    copy.stop();
    server.stop();

    // Bad input: a clear message, exit 1.
    let again = oi(
        &["backup", "--data-dir", data_dir, file.to_str().unwrap()],
        &[],
    );
    assert!(
        again.failed(1).contains("copy.sqlite3 exists"),
        "{}",
        again.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let none = oi(
        &[
            "backup",
            "--data-dir",
            empty.path().to_str().unwrap(),
            empty.path().join("b").to_str().unwrap(),
        ],
        &[],
    );
    assert!(none.failed(1).contains("no database in"), "{}", none.stderr);
}
