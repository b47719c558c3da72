//! Test harness: the real server on 127.0.0.1:0 over a real store (a SQLite
//! file in a temp dir, or a fresh schema of the PostgreSQL test database), a
//! minimal HTTP/1.1 client, and builders for OTLP requests.

#![allow(dead_code)]

pub mod binary;
pub mod judge;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use openinference_session_server::store::Store;
use openinference_session_server::store::postgres::PostgresStore;
use openinference_session_server::store::sqlite::SqliteStore;
use openinference_session_server::{AppState, serve};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
pub use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp dir.
    Sqlite,
    /// A fresh schema of the database at `OI_SESSIONS_TEST_DATABASE_URL`.
    Postgres,
}

/// The PostgreSQL test database's URL; no silent skip when it is missing.
pub fn database_url() -> String {
    match std::env::var("OI_SESSIONS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "OI_SESSIONS_TEST_DATABASE_URL is not set: run \
             `export OI_SESSIONS_TEST_DATABASE_URL=\"$(bash scripts/postgres.sh)\"` first"
        ),
    }
}

/// Where a test server keeps its data; a server restarted on it finds what the
/// last one stored. Dropping it removes the data.
pub enum Storage {
    /// A temp dir holding the SQLite file.
    Sqlite(tempfile::TempDir),
    /// A schema of the test database, dropped with this value.
    Postgres(String),
}

impl Storage {
    /// Fresh, empty storage of a backend.
    pub fn new(backend: Backend) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        match backend {
            Backend::Sqlite => Storage::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres => Storage::Postgres(format!(
                "oi_http_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            )),
        }
    }

    /// Opens a store on it (off the async runtime: the PostgreSQL client blocks).
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Storage::Sqlite(dir) => Arc::new(SqliteStore::open_dir(dir.path()).unwrap()),
            Storage::Postgres(schema) => {
                let schema = schema.clone();
                tokio::task::spawn_blocking(move || {
                    Arc::new(PostgresStore::open_in_schema(&database_url(), &schema).unwrap())
                        as Arc<dyn Store>
                })
                .await
                .unwrap()
            }
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Storage::Postgres(schema) = self {
            let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            // On a plain thread: the blocking client must not run on an async worker.
            let _ = std::thread::spawn(move || {
                if let Ok(mut c) = postgres::Client::connect(&database_url(), postgres::NoTls) {
                    let _ = c.batch_execute(&sql);
                }
            })
            .join();
        }
    }
}

/// A running server.
pub struct TestServer {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub storage: Option<Storage>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut AppState)) -> Self {
        Self::start_in(Storage::new(backend), configure).await
    }

    pub async fn start_in(storage: Storage, configure: impl FnOnce(&mut AppState)) -> Self {
        let mut state = AppState::new(storage.open().await);
        configure(&mut state);
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http_addr, grpc_addr) = (http.local_addr().unwrap(), grpc.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(http, Some(grpc), state, async {
            let _ = rx.await;
        }));
        Self {
            http: http_addr,
            grpc: grpc_addr,
            storage: Some(storage),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops gracefully and hands back the storage.
    pub async fn stop(mut self) -> Storage {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        self.storage.take().unwrap()
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        http(self.http, method, path, headers, body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"").await
    }

    pub async fn get_ok(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    pub async fn post_pb(&self, req: &ExportTraceServiceRequest) -> Reply {
        self.request(
            "POST",
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            &req.encode_to_vec(),
        )
        .await
    }

    pub async fn post_json(&self, body: &[u8]) -> Reply {
        self.request(
            "POST",
            "/v1/traces",
            &[("content-type", "application/json")],
            body,
        )
        .await
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not json ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Asserts a JSON error with this status (and parameter, when given).
    pub fn assert_error(&self, status: u16, parameter: Option<&str>) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let v = self.json();
        let message = v["error"]["message"]
            .as_str()
            .expect("error.message")
            .to_owned();
        assert!(!message.is_empty());
        if let Some(p) = parameter {
            assert_eq!(v["error"]["parameter"], p, "body: {}", self.text());
        }
        message
    }
}

/// A minimal HTTP/1.1 client (one request per connection).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("http head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/otlp/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn s(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub fn i(key: &str, v: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

/// Trace id `n` repeated, span id `n` repeated (non-zero).
pub fn tid(n: u8) -> Vec<u8> {
    vec![n; 16]
}
pub fn sid(n: u8) -> Vec<u8> {
    vec![n; 8]
}

/// A span; times in seconds from a fixed base.
pub fn span(trace: u8, id: u8, parent: Option<u8>, start_s: u64, attrs: Vec<KeyValue>) -> Span {
    const BASE: u64 = 1_790_000_000_000_000_000;
    Span {
        trace_id: tid(trace),
        span_id: sid(id),
        parent_span_id: parent.map(sid).unwrap_or_default(),
        name: format!("span-{id}"),
        kind: 1,
        start_time_unix_nano: BASE + start_s * 1_000_000_000,
        end_time_unix_nano: BASE + start_s * 1_000_000_000 + 500_000_000,
        attributes: attrs,
        status: Some(Status::default()),
        ..Default::default()
    }
}

/// One request holding `spans` under a resource with `service.name`.
pub fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
