//! The web UI is reported as built: `/healthz` answers `ui: true` exactly when
//! `ui::embedded()`, and the UI's routes serve the app when it is embedded, else
//! a page saying how to build it. Passes with and without `ui/dist` (build.rs
//! embeds it when it exists), so it guards both kinds of binary.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use openinference_session_server::store::sqlite::SqliteStore;
use openinference_session_server::{AppState, app, ui};

/// `app()` over a SQLite store in a temp dir, served on 127.0.0.1:0.
async fn start() -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(AppState::new(Arc::new(store)));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, dir)
}

/// A plain HTTP/1.0 GET (the server closes the connection after the answer):
/// the status and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    (status.expect("a status code"), body.to_string())
}

#[tokio::test]
async fn healthz_reports_whether_the_ui_is_embedded() {
    let (addr, _dir) = start().await;
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["ui"], ui::embedded(), "{health}");
    assert_eq!(
        health["version"],
        openinference_session_server::VERSION,
        "{health}"
    );
}

#[tokio::test]
async fn the_ui_route_serves_the_app_or_says_how_to_build_it() {
    let (addr, _dir) = start().await;
    let (status, body) = get(addr, "/projects/demo/sessions").await;
    if ui::embedded() {
        assert_eq!(status, 200, "{body}");
        assert!(body.to_lowercase().starts_with("<!doctype html"), "{body}");
        assert!(!body.contains("built without its web UI"), "{body}");
    } else {
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("scripts/build-ui.sh"), "{body}");
    }
}
