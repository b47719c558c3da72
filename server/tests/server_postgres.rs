//! The server on PostgreSQL, end to end: `serve()` on 127.0.0.1:0 over a
//! `PostgresStore` ingesting a captured OTLP fixture and answering the API, and
//! the `oi-sessions` binary with `--database-url`, which never prints the
//! password. Needs `OI_SESSIONS_TEST_DATABASE_URL` (`scripts/postgres.sh`).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::{fixture, http};
use openinference_session_server::store::postgres::PostgresStore;
use openinference_session_server::{AppState, serve};
use serde_json::json;

fn database_url() -> String {
    match std::env::var("OI_SESSIONS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "OI_SESSIONS_TEST_DATABASE_URL is not set: run \
             `export OI_SESSIONS_TEST_DATABASE_URL=\"$(bash scripts/postgres.sh)\"` first"
        ),
    }
}

/// A fresh schema of the test database, dropped when the test ends.
struct Schema(String);

impl Schema {
    fn new(tag: &str) -> Self {
        let name = format!("oi_test_{tag}_{}", std::process::id());
        let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE; CREATE SCHEMA \"{name}\"");
        // On a plain thread: the blocking client must not run on an async worker.
        std::thread::spawn(move || {
            let mut c =
                postgres::Client::connect(&database_url(), postgres::NoTls).expect("connect");
            c.batch_execute(&sql).expect("create schema");
        })
        .join()
        .expect("create schema");
        Self(name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.0.clone();
        // The blocking client must not run on an async worker.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&database_url(), postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"));
            }
        })
        .join();
    }
}

const QUESTIONS: [&str; 3] = [
    "My invoice shows the wrong VAT number",
    "Can you resend it to billing@example.com?",
    "Thanks, that worked",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_ingests_a_fixture_and_answers_the_api() {
    let schema = Schema::new("serve");
    let (url, name) = (database_url(), schema.0.clone());
    let store = tokio::task::spawn_blocking(move || PostgresStore::open_in_schema(&url, &name))
        .await
        .unwrap()
        .expect("open postgres store");
    let state = AppState::new(Arc::new(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, None, state, async {
        let _ = stopped.await;
    }));

    let body = fixture("openinference-llm-root.pb");
    let pb = [("content-type", "application/x-protobuf")];
    let reply = http(addr, "POST", "/v1/traces", &pb, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Re-sent: stored once.
    let reply = http(addr, "POST", "/v1/traces", &pb, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let get = |path: &'static str| async move {
        let r = http(addr, "GET", path, &[], b"").await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    };
    let projects = get("/v1/projects").await;
    assert_eq!(projects["data"][0]["name"], "support-bot");
    assert_eq!(projects["data"][0]["session_count"], 1);
    assert_eq!(projects["data"][0]["trace_count"], 3);
    let s = get("/v1/projects/support-bot/sessions/sess-7f3a").await;
    assert_eq!(s["num_traces"], 3);
    assert_eq!(s["user_ids"], json!(["user-42"]));
    assert_eq!(s["tags"], json!(["billing"]));
    assert_eq!(s["metadata"], json!({"plan": "pro"}));
    assert_eq!(s["first_input"]["value"], QUESTIONS[0]);
    assert_eq!(
        s["token_count"],
        json!({"prompt": 108, "completion": 27, "total": 135})
    );
    let turns = get("/v1/projects/support-bot/sessions/sess-7f3a/turns").await;
    let turns = turns["data"].as_array().unwrap();
    assert_eq!(turns.len(), 3);
    for (n, t) in turns.iter().enumerate() {
        assert_eq!(t["input"]["value"], QUESTIONS[n], "turn {n}: {t:#}");
    }
    let listed = get("/v1/projects/support-bot/sessions?q=vat&sort=total_tokens").await;
    assert_eq!(listed["data"][0]["session_id"], "sess-7f3a");
    let trace_id = turns[0]["trace_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/projects/support-bot/traces/{trace_id}");
    let trace = http(addr, "GET", &path, &[], b"").await.json();
    assert!(!trace["spans"].as_array().unwrap().is_empty(), "{trace:#}");

    let r = http(
        addr,
        "DELETE",
        "/v1/projects/support-bot/sessions/sess-7f3a",
        &[],
        b"",
    )
    .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    let r = http(
        addr,
        "GET",
        "/v1/projects/support-bot/sessions/sess-7f3a",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// A URL whose connections work in `schema` (libpq's `options`).
fn url_in_schema(schema: &str) -> String {
    let url = database_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

fn password_of(url: &str) -> String {
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    userinfo.split(':').nth(1).unwrap_or("").to_owned()
}

#[test]
fn binary_serves_on_postgres_and_never_prints_the_password() {
    let schema = Schema::new("binary");
    let url = url_in_schema(&schema.0);
    let password = password_of(&url);
    assert!(!password.is_empty(), "the test URL has a password");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args(["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "off"])
        .env("OI_SESSIONS_DATABASE_URL", &url)
        .env("OI_SESSIONS_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oi-sessions");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("oi-sessions listening http=")
        .unwrap_or_else(|| panic!("start-up line: {line:?}"))
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let body = fixture("openinference-chain-root.pb");
        let r = http(
            addr,
            "POST",
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            &body,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = http(
            addr,
            "GET",
            "/v1/projects/support-bot/sessions/sess-7f3a/turns",
            &[],
            b"",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let turns = r.json();
        assert_eq!(turns["data"].as_array().unwrap().len(), 3);
        assert_eq!(turns["data"][2]["input"]["value"], QUESTIONS[2]);
    });
    // SIGTERM: a graceful stop.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("postgresql 127.0.0.1"), "{stderr}");
    assert!(!stderr.contains(&password), "the password leaked: {stderr}");

    // A wrong password: a clear error naming the server, not the password.
    let wrong = url.replacen(&format!(":{password}@"), ":not-the-password-42@", 1);
    let out = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args(["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "off"])
        .args(["--database-url", &wrong])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to postgresql at 127.0.0.1"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password-42"), "{stderr}");
}
