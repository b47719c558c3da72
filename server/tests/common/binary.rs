//! The `oi-sessions` binary as users run it: `serve` started on 127.0.0.1:0
//! (ready once it printed its `listening` line), and the command-line
//! subcommands run to completion with their output.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// A running `oi-sessions serve`, killed when dropped.
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// Its HTTP address.
    pub http: SocketAddr,
}

impl ServerProcess {
    /// Starts `oi-sessions serve` on 127.0.0.1:0 without gRPC, on SQLite in
    /// `data_dir`, with more flags.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oi-sessions"))
            .args(["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "off"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("OI_SESSIONS_API_KEY")
            .env_remove("OI_SESSIONS_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn oi-sessions serve");
        let line = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .next()
            .expect("a start-up line")
            .unwrap();
        let http = line
            .strip_prefix("oi-sessions listening http=")
            .unwrap_or_else(|| panic!("not the listening line: {line}"))
            .parse()
            .unwrap();
        Self { child, http }
    }

    /// The server's URL, for `--url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a subcommand did.
pub struct Run {
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
}

impl Run {
    /// Stdout, after checking the command succeeded.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Stderr, after checking the command failed with exit code `code`
    /// (without a panic).
    pub fn failed(&self, code: i32) -> &str {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        &self.stderr
    }
}

/// Runs `oi-sessions <args>` with these environment variables (and none of
/// the `OI_SESSIONS_*` of the test's own environment), stdin closed.
pub fn oi(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oi-sessions"));
    cmd.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("OI_SESSIONS_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run oi-sessions");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// One HTTP/1.1 request to a server process: (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// Posts a framework fixture's recorded requests (`traces.json`, then
/// `logs.json` when there is one) to a server process; returns its
/// `expected.json`.
pub fn post_framework(addr: SocketAddr, name: &str) -> serde_json::Value {
    let dir = format!(
        "{}/tests/fixtures/frameworks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let read = |f: &str| -> Option<serde_json::Value> {
        std::fs::read(format!("{dir}/{f}"))
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap())
    };
    for (file, path) in [("traces.json", "/v1/traces"), ("logs.json", "/v1/logs")] {
        for request in read(file)
            .into_iter()
            .flat_map(|r| r.as_array().unwrap().clone())
        {
            let (status, body) = http(addr, "POST", path, request.to_string().as_bytes());
            assert_eq!(status, 200, "{path}: {body}");
            assert!(!body.contains("rejected"), "{path}: {body}");
        }
    }
    read("expected.json").unwrap()
}
