//! The embedded web UI: the static files of `ui/dist` that `build.rs` embedded
//! (built by `scripts/build-ui.sh`), and the single-page app's routes (`/`,
//! `/projects/...`) answered with its `index.html`. Everything else, `/v1/...`
//! included, stays the API's JSON 404.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The page's Content-Security-Policy: scripts and styles from this server
/// only, no plugins, no framing. LLM output rendered by the UI is sanitized
/// too; this is the second wall.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Whether this binary was built with the UI's files (`build.rs` found a built
/// UI); reported by `/healthz` and warned about at start-up when not.
pub fn embedded() -> bool {
    !ASSETS.is_empty()
}

fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| ASSETS[i].1)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn file(path: &str, body: &'static [u8]) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Vite names files under assets/ by their content hash: they never change.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// A binary built without the UI (no `ui/dist` at build time) says so.
fn missing_ui() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><title>oi-sessions</title><p>This oi-sessions binary was built without its web UI. \
         Build the UI with <code>scripts/build-ui.sh</code> (or <code>npm --prefix ui run build</code>), \
         then rebuild the server; meanwhile the JSON API is under <code>/v1/projects</code>.</p>",
    )
        .into_response()
}

/// The router's fallback: UI files and routes, else the API's JSON 404.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let rel = path.trim_start_matches('/');
    let is_read = method == Method::GET || method == Method::HEAD;
    if !is_read || rel == "v1" || rel.starts_with("v1/") {
        return crate::api::fallback().await.into_response();
    }
    if let Some(body) = asset(rel) {
        return file(rel, body);
    }
    let app_route = rel.is_empty() || rel == "projects" || rel.starts_with("projects/");
    if !app_route {
        return crate::api::fallback().await.into_response();
    }
    match asset("index.html") {
        Some(body) => file("index.html", body),
        None => missing_ui(),
    }
}
