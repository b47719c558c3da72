//! The LLM judge: one chat-completions request to the endpoint an evaluator
//! names, asking for `{"label", "explanation"}` as a JSON object, and the
//! answer read strictly: a label that is not one of the evaluator's, or an
//! answer that is not that object, is stored as unparsable, never guessed.
//!
//! The API key is read from the server's environment at each call (the
//! evaluator holds the variable's name) and sent only to the evaluator's
//! endpoint, whose host the operator allowed (`--eval-allowed-hosts`); it is
//! never logged, stored or put in an error.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value, json};

use super::rules::Verdict;
use super::spec::LlmEndpoint;

/// Largest judge answer read, in bytes.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;
/// The longest wait a judge's `Retry-After` may ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One HTTP(S) client for every judge call (connections are pooled per host);
/// built on first use, so a server without judges never loads TLS roots.
fn client() -> &'static HttpsClient {
    static CLIENT: OnceLock<HttpsClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Client::builder(TokioExecutor::new()).build(https)
    })
}

/// Why a judge call gave no verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum JudgeError {
    /// Worth another attempt (429, 5xx, a timeout, a connection failure),
    /// after `retry_after` when the endpoint said.
    Retryable {
        /// What happened.
        message: String,
        /// The endpoint's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Will not get better by itself (a 4xx, a key not set, an answer that is
    /// not chat completions).
    Fatal(String),
}

/// Asks the judge about a prompt within `timeout`, and reads its verdict.
pub async fn ask(
    endpoint: &LlmEndpoint,
    prompt: &str,
    labels: &BTreeMap<String, f64>,
    timeout: Duration,
) -> Result<Verdict, JudgeError> {
    let url = format!(
        "{}/chat/completions",
        endpoint.base_url.trim_end_matches('/')
    );
    let body = json!({
        "model": endpoint.model,
        "messages": [{"role": "user", "content": prompt}],
        "response_format": {"type": "json_object"},
        "temperature": endpoint.temperature.unwrap_or(0.0),
    });
    let mut request = http::Request::post(&url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("oi-sessions/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(env) = &endpoint.api_key_env {
        let key = std::env::var(env).map_err(|_| {
            JudgeError::Fatal(format!("the environment variable {env} holding the judge's API key is not set on the server"))
        })?;
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| JudgeError::Fatal(format!("cannot build the request to {url}: {e}")))?;
    let call = async {
        let response = client()
            .request(request)
            .await
            .map_err(|e| JudgeError::Retryable {
                message: format!("cannot reach the judge at {url}: {e}"),
                retry_after: None,
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| JudgeError::Retryable {
                message: format!("reading the judge's answer failed: {e}"),
                retry_after: None,
            })?
            .to_bytes();
        Ok::<_, JudgeError>((status, retry_after, bytes))
    };
    let (status, retry_after, bytes) =
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| JudgeError::Retryable {
                message: format!("the judge did not answer within {timeout:?}"),
                retry_after: None,
            })??;
    if status == http::StatusCode::TOO_MANY_REQUESTS
        || status == http::StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        return Err(JudgeError::Retryable {
            message: format!("the judge answered {status}: {}", snippet(&bytes)),
            retry_after,
        });
    }
    if !status.is_success() {
        return Err(JudgeError::Fatal(format!(
            "the judge answered {status}: {}",
            snippet(&bytes)
        )));
    }
    let content = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| {
            JudgeError::Fatal(format!(
                "the judge's answer is not a chat completion with choices[0].message.content: {}",
                snippet(&bytes)
            ))
        })?;
    Ok(read_verdict(&content, labels))
}

/// The start of a body, for an error message.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.into_owned(),
    }
}

/// Reads `{"label", "explanation"}` from the judge's message: the label one of
/// `labels` (any case), with its score. Markdown code fences around the object
/// are taken off; anything else that is not the object is unparsable: no
/// label, no score, the answer as the explanation and `"unparsable": true` in
/// the metadata.
pub fn read_verdict(content: &str, labels: &BTreeMap<String, f64>) -> Verdict {
    let text = content.trim();
    let unfenced = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .map_or(text, str::trim);
    let object = serde_json::from_str::<Map<String, Value>>(unfenced).ok();
    let label = object
        .as_ref()
        .and_then(|o| o.get("label"))
        .and_then(Value::as_str)
        .and_then(|given| {
            let given = given.trim().to_lowercase();
            labels.iter().find(|(l, _)| l.to_lowercase() == given)
        });
    match (label, &object) {
        (Some((label, score)), Some(object)) => Verdict {
            label: Some(label.clone()),
            score: Some(*score),
            explanation: object
                .get("explanation")
                .and_then(Value::as_str)
                .map(str::to_owned),
            metadata: Map::new(),
        },
        _ => {
            let mut metadata = Map::new();
            metadata.insert("unparsable".into(), Value::Bool(true));
            Verdict {
                label: None,
                score: None,
                explanation: Some(format!(
                    "the judge's answer is not {{\"label\": one of {}, \"explanation\": ...}}: {}",
                    labels
                        .keys()
                        .map(|l| format!("{l:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if text.is_empty() { "(empty)" } else { text }
                )),
                metadata,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, f64> {
        [("resolved".to_owned(), 1.0), ("unresolved".to_owned(), 0.0)].into()
    }

    #[test]
    fn a_json_verdict_is_read_with_its_score() {
        let v = read_verdict(
            r#"{"label": "Unresolved", "explanation": "the parcel is still lost"}"#,
            &labels(),
        );
        assert_eq!(v.label.as_deref(), Some("unresolved"));
        assert_eq!(v.score, Some(0.0));
        assert_eq!(v.explanation.as_deref(), Some("the parcel is still lost"));
        let fenced = read_verdict("```json\n{\"label\": \"resolved\"}\n```", &labels());
        assert_eq!(fenced.label.as_deref(), Some("resolved"));
    }

    #[test]
    fn anything_else_is_unparsable_not_guessed() {
        for answer in [
            "resolved",
            r#"{"label": "maybe"}"#,
            r#"{"verdict": "resolved"}"#,
            "",
            "[1]",
        ] {
            let v = read_verdict(answer, &labels());
            assert_eq!((v.label, v.score), (None, None), "{answer}");
            assert_eq!(v.metadata.get("unparsable"), Some(&Value::Bool(true)));
        }
    }
}
