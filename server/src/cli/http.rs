//! The command line's HTTP client: JSON requests to a running server's API
//! (and OTLP/JSON to its ingest), over hyper, with the server's error bodies
//! turned into [`CliError::Api`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::CliError;

/// Largest answer read from the server (a page of 1,000 sessions, a trace of
/// many spans).
const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(120);

type Https = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client of one server (a clone shares its connection pool).
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    api_key: Option<String>,
    http: Https,
}

/// Characters of a path segment or a query value that are sent as they are.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes a path segment or a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string of these pairs (values encoded), with the leading `?` when
/// not empty.
pub fn query(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

impl ApiClient {
    /// A client of the server at `url` (`http://host:port`, `https://...`).
    pub fn new(url: &str, api_key: Option<String>) -> Result<Self, CliError> {
        let base = url.trim().trim_end_matches('/').to_owned();
        let parsed: http::Uri = base
            .parse()
            .map_err(|_| CliError::Usage(format!("--url {url:?} is not a url")))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(CliError::Usage(format!(
                "--url {url:?} is not an http:// or https:// url"
            )));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            base,
            api_key: api_key.filter(|k| !k.trim().is_empty()),
            http: HyperClient::builder(TokioExecutor::new()).build(https),
        })
    }

    /// The server's base url.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and reads the answer's status and body.
    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Bytes), CliError> {
        let url = format!("{}{}", self.base, path);
        let mut request = http::Request::builder().method(method.clone()).uri(&url);
        if let Some(key) = &self.api_key {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = match body {
            Some((content_type, bytes)) => request
                .header(http::header::CONTENT_TYPE, content_type)
                .body(Full::new(Bytes::from(bytes))),
            None => request.body(Full::new(Bytes::new())),
        }
        .map_err(|e| CliError::Usage(format!("cannot build a request to {url}: {e}")))?;
        let call = async {
            let response = self.http.request(request).await.map_err(|e| {
                let mut cause: &dyn std::error::Error = &e;
                while let Some(next) = cause.source() {
                    cause = next;
                }
                CliError::Unreachable {
                    url: self.base.clone(),
                    reason: cause.to_string(),
                }
            })?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| CliError::Unreachable {
                    url: self.base.clone(),
                    reason: format!("the answer was cut: {e}"),
                })?
                .to_bytes();
            Ok::<_, CliError>((status, body))
        };
        let (status, body) =
            tokio::time::timeout(TIMEOUT, call)
                .await
                .map_err(|_| CliError::Unreachable {
                    url: self.base.clone(),
                    reason: format!("no answer within {}s", TIMEOUT.as_secs()),
                })??;
        if (200..300).contains(&status) {
            Ok((status, body))
        } else {
            Err(api_error(&method, path, status, &body))
        }
    }

    /// `GET path`, its JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        let (_, body) = self.send(http::Method::GET, path, None, &[]).await?;
        parse(path, &body)
    }

    /// `POST path` with a JSON body, its JSON answer (`null` when empty).
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let (_, answer) = self
            .send(
                http::Method::POST,
                path,
                Some(("application/json", body.to_string().into_bytes())),
                &[],
            )
            .await?;
        if answer.is_empty() {
            return Ok(Value::Null);
        }
        parse(path, &answer)
    }

    /// `POST path` with a JSON body and extra headers (OTLP/JSON ingest).
    pub async fn post_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Value, CliError> {
        let (_, answer) = self
            .send(
                http::Method::POST,
                path,
                Some(("application/json", body.to_string().into_bytes())),
                headers,
            )
            .await?;
        if answer.is_empty() {
            return Ok(Value::Null);
        }
        parse(path, &answer)
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<(), CliError> {
        self.send(http::Method::DELETE, path, None, &[]).await?;
        Ok(())
    }
}

fn parse(path: &str, body: &[u8]) -> Result<Value, CliError> {
    serde_json::from_slice(body).map_err(|e| CliError::Answer {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The server's error, with its own message when the body is the API's
/// `{"error": {"message"}, "detail"}` (or Phoenix's `{"detail"}`).
fn api_error(method: &http::Method, path: &str, status: u16, body: &[u8]) -> CliError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let message = json
        .as_ref()
        .and_then(|j| {
            j.pointer("/error/message")
                .or_else(|| j.get("detail"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no details".to_owned()
            } else {
                text.chars().take(300).collect()
            }
        });
    let code = json
        .as_ref()
        .and_then(|j| j.pointer("/error/code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    CliError::Api {
        request: format!("{method} {path}"),
        status,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        assert_eq!(
            query(&[("metadata.plan".into(), "pro & co".into())]),
            "?metadata.plan=pro%20%26%20co"
        );
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn error_bodies_give_the_servers_message() {
        let e = api_error(
            &http::Method::GET,
            "/v1/x",
            404,
            br#"{"error":{"code":"not_found","message":"session not found"},"detail":"session not found"}"#,
        );
        assert_eq!(e.to_string(), "GET /v1/x: 404 not_found: session not found");
        let e = api_error(&http::Method::GET, "/v1/x", 502, b"bad gateway");
        assert_eq!(e.to_string(), "GET /v1/x: 502: bad gateway");
    }
}
