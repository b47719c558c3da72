//! The server on PostgreSQL, end to end: the HTTP suite ([`http`]) over a
//! `PostgresStore` on a fresh schema per test, and the `oi-sessions` binary with
//! `--database-url`, which never prints the password. Needs
//! `OI_SESSIONS_TEST_DATABASE_URL` (`scripts/postgres.sh`).

mod common;
mod http;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::{Backend, Storage, database_url, fixture};

http_suite!(Backend::Postgres);

const QUESTIONS: [&str; 3] = [
    "My invoice shows the wrong VAT number",
    "Can you resend it to billing@example.com?",
    "Thanks, that worked",
];

/// Creates the schema the binary will work in (the server creates tables,
/// not the schema of a `search_path`).
fn create_schema(schema: &str) {
    let mut c = postgres::Client::connect(&database_url(), postgres::NoTls).expect("connect");
    c.batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
        .expect("create schema");
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
    let storage = Storage::new(Backend::Postgres);
    let Storage::Postgres(schema) = &storage else {
        unreachable!("a PostgreSQL storage")
    };
    create_schema(schema);
    let url = url_in_schema(schema);
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
    // Debug logs are read as they come: a full pipe would stop the server.
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut stderr = String::new();
        stderr_pipe.read_to_string(&mut stderr).unwrap();
        stderr
    });
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
        let r = common::http(
            addr,
            "POST",
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            &body,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = common::http(
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
    let stderr = stderr_reader.join().unwrap();
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
