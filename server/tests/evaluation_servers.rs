//! Online evaluation across process deaths and servers, with the real binary:
//! a server killed with SIGKILL in the middle of a judge call loses nothing
//! (the job runs again after its lease and its verdict is written once), and
//! two servers on one PostgreSQL judge each session exactly once.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::judge::{Answer, FakeJudge};
use common::{Backend, Storage, database_url, http, request, s, span};
use prost::Message;
use serde_json::{Value, json};

struct Server {
    child: Child,
    http: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `oi-sessions serve` with sessions idle after a second; returns once
/// it listens.
async fn start(storage: &[&str], extra: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oi-sessions"));
    cmd.args([
        "serve",
        "--http-addr",
        "127.0.0.1:0",
        "--grpc-addr",
        "off",
        "--session-idle",
        "1s",
    ])
    .args(storage)
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn oi-sessions");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("oi-sessions listening http=")
        .unwrap_or_else(|| panic!("{line:?}"));
    Server {
        child,
        http: addr.parse().unwrap(),
    }
}

async fn call(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Value {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let r = http(
        server.http,
        method,
        path,
        &[("content-type", "application/json")],
        &bytes,
    )
    .await;
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {} {}",
        r.status,
        r.text()
    );
    r.json()
}

async fn turn(server: &Server, trace: u8, session: &str) {
    let body = request(
        "shop",
        vec![span(
            trace,
            1,
            None,
            u64::from(trace),
            vec![
                s("session.id", session),
                s("input.value", &format!("question of {session}")),
                s("output.value", "an answer"),
            ],
        )],
    )
    .encode_to_vec();
    let r = http(
        server.http,
        "POST",
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn judge_spec(judge: &FakeJudge) -> Value {
    json!({
        "name": "resolution",
        "kind": "llm_judge",
        "llm": {"base_url": judge.base_url(), "model": "judge-1"},
        "criteria": "Was the problem solved?",
        "labels": {"resolved": 1, "unresolved": 0},
    })
}

/// Killed with SIGKILL while the judge is thinking: after a restart the job's
/// lease runs out, it runs again, and the session has one verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cut_by_kill_9_runs_again_and_writes_once() {
    let judge = FakeJudge::start(vec![Answer::Hang]).await;
    let dir = tempfile::tempdir().unwrap();
    let data = ["--data-dir", dir.path().to_str().unwrap()];
    let timeout = ["--eval-timeout", "1s"];
    let mut first = start(&data, &timeout).await;
    call(
        &first,
        "POST",
        "/v1/projects",
        Some(&json!({"name": "shop"})),
    )
    .await;
    call(
        &first,
        "POST",
        "/v1/projects/shop/evaluators",
        Some(&judge_spec(&judge)),
    )
    .await;
    turn(&first, 1, "s1").await;
    judge.wait_for_calls(1).await; // the job is running, the judge hangs
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    drop(first);

    let second = start(&data, &timeout).await;
    let done = call(
        &second,
        "GET",
        "/v1/projects/shop/evaluation_jobs?state=done&wait=60s",
        None,
    )
    .await;
    let job = &done["data"][0];
    assert_eq!(job["session_id"], "s1", "{done:#}");
    assert_eq!(job["attempts"], 2, "claimed again after its lease ran out");
    let verdicts = call(
        &second,
        "GET",
        "/v1/projects/shop/sessions/s1/annotations",
        None,
    )
    .await;
    assert_eq!(
        verdicts["data"].as_array().unwrap().len(),
        1,
        "{verdicts:#}"
    );
    assert_eq!(verdicts["data"][0]["label"], "resolved");
    assert_eq!(judge.calls().len(), 2);
}

/// Two servers on one PostgreSQL database, sessions arriving at both: each
/// session is judged once, by one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_postgres_judge_each_session_once() {
    let judge = FakeJudge::start(vec![]).await;
    let storage = Storage::new(Backend::Postgres);
    storage.open().await; // creates the schema and its tables
    let Storage::Postgres(schema) = &storage else {
        unreachable!()
    };
    let url = database_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let db = ["--database-url", url.as_str()];
    let a = start(&db, &[]).await;
    let b = start(&db, &[]).await;
    call(&a, "POST", "/v1/projects", Some(&json!({"name": "shop"}))).await;
    call(
        &a,
        "POST",
        "/v1/projects/shop/evaluators",
        Some(&judge_spec(&judge)),
    )
    .await;
    const SESSIONS: u8 = 30;
    for n in 1..=SESSIONS {
        let server = if n % 2 == 0 { &a } else { &b };
        turn(server, n, &format!("s{n}")).await;
    }
    let done = call(
        &a,
        "GET",
        &format!(
            "/v1/projects/shop/evaluation_jobs?state=done&wait=60s&at_least={SESSIONS}&limit=100"
        ),
        None,
    )
    .await;
    let jobs = done["data"].as_array().unwrap();
    assert_eq!(jobs.len(), usize::from(SESSIONS), "{done:#}");
    assert!(jobs.iter().all(|j| j["attempts"] == 1), "{done:#}");
    let calls = judge.calls();
    assert_eq!(
        calls.len(),
        usize::from(SESSIONS),
        "one judge call per session"
    );
    let mut asked: Vec<String> = calls
        .iter()
        .map(|c| {
            c.prompt()
                .split("question of ")
                .nth(1)
                .unwrap()
                .split('\n')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    asked.sort();
    asked.dedup();
    assert_eq!(
        asked.len(),
        usize::from(SESSIONS),
        "every session asked about once"
    );
    for n in 1..=SESSIONS {
        let v = call(
            &b,
            "GET",
            &format!("/v1/projects/shop/sessions/s{n}/annotations"),
            None,
        )
        .await;
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "s{n}: {v:#}");
    }
}
