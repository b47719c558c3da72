//! Retention with the real binary on SQLite and a clock the test moves
//! (`--clock-offset`): a server killed with SIGKILL in the middle of a purge
//! leaves every session whole or gone, never half deleted; the next server
//! finishes the purge; and the file gives the space back.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use common::{http, i, request, s, span};
use prost::Message;

const SESSIONS: u8 = 200;
const TURNS: u8 = 3;

struct Server {
    child: Child,
    http: SocketAddr,
    log: std::io::Lines<BufReader<ChildStderr>>,
}

fn start(data: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "off",
            "--data-dir",
        ])
        .arg(data)
        .args(extra)
        .env("OI_SESSIONS_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oi-sessions");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("oi-sessions listening http=")
        .unwrap_or_else(|| panic!("{line:?}"));
    let log = BufReader::new(child.stderr.take().unwrap()).lines();
    Server {
        child,
        http: addr.parse().unwrap(),
        log,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // a failed test leaves no server behind
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Reads the log until a line containing `text` (event-driven: the
    /// server says when it did something).
    fn wait_for_log(&mut self, text: &str) {
        for line in self.log.by_ref() {
            if line.unwrap().contains(text) {
                return;
            }
        }
        panic!("the server exited before logging {text:?}");
    }

    fn stop(&mut self) {
        // SIGTERM: a graceful stop checkpoints the WAL into the file
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap();
    }
}

/// The database's own consistency: every trace in a live session, every span
/// in a stored trace, each session's trace count its traces, no text left
/// without a span using it.
fn check_whole(db: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        one(
            "SELECT count(*) FROM traces t WHERE t.session_rowid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_rowid)"
        ),
        0,
        "traces of a deleted session"
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM spans sp WHERE NOT EXISTS (SELECT 1 FROM traces t WHERE t.project_id = sp.project_id AND t.trace_id = sp.trace_id)"
        ),
        0,
        "spans of a deleted trace"
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM sessions s WHERE s.num_traces <> (SELECT count(*) FROM traces t WHERE t.session_rowid = s.id)"
        ),
        0,
        "a session missing traces"
    );
    assert_eq!(
        one("SELECT count(*) FROM sessions s WHERE s.num_traces <> 3"),
        0,
        "a session half deleted"
    );
    (
        one("SELECT count(*) FROM sessions"),
        one("SELECT count(*) FROM spans"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_cut_by_kill_9_leaves_sessions_whole_and_the_space_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("oi-sessions.sqlite3");
    // sessions of 3 turns, each span carrying its own 4 KB of text
    let mut first = start(dir.path(), &[]);
    for n in 1..=SESSIONS {
        let spans: Vec<_> = (1..=TURNS)
            .map(|t| {
                let trace = n.wrapping_mul(7).wrapping_add(t);
                let mut sp = span(
                    trace,
                    t,
                    None,
                    u64::from(t),
                    vec![
                        s("session.id", &format!("s{n}")),
                        s(
                            "input.value",
                            &format!("{n}-{t} {}", "lorem ipsum ".repeat(350)),
                        ),
                        i("turn", i64::from(t)),
                    ],
                );
                sp.trace_id = [n, t, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9].to_vec();
                sp
            })
            .collect();
        let r = http(
            first.http,
            "POST",
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            &request("shop", spans).encode_to_vec(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    first.stop();
    let before = std::fs::metadata(&db).unwrap().len();
    assert_eq!(
        check_whole(&db),
        (i64::from(SESSIONS), i64::from(SESSIONS) * i64::from(TURNS))
    );

    // two hours later, with a retention of one hour: everything is expired
    let aged = ["--retention", "1h", "--clock-offset", "2h"];
    let mut purging = start(dir.path(), &aged);
    purging.wait_for_log("retention: deleted sessions");
    purging.child.kill().unwrap(); // SIGKILL, in the middle of the purge
    purging.child.wait().unwrap();
    let (left, _) = check_whole(&db);
    assert!(left < i64::from(SESSIONS), "the first round deleted some");

    let mut finishing = start(dir.path(), &aged);
    finishing.wait_for_log("retention: nothing left to delete");
    let r = http(
        finishing.http,
        "GET",
        "/v1/projects/shop/sessions",
        &[],
        b"",
    )
    .await;
    assert_eq!(
        r.json()["data"],
        serde_json::json!([]),
        "every expired session deleted"
    );
    finishing.stop();
    assert_eq!(check_whole(&db), (0, 0));
    let after = std::fs::metadata(&db).unwrap().len();
    assert!(
        after * 4 < before,
        "the file gave the space back: {before} bytes, then {after}"
    );
}
