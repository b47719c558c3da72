//! A fake OpenAI-compatible chat-completions server for the LLM judge's
//! tests: it records every request, answers from a script (a verdict, raw
//! text, an HTTP status, or a hang), then a default verdict, and tells the
//! test when a request arrives (no polling).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `{"label", "explanation"}` as the message content.
    Verdict(&'static str, &'static str),
    /// This text as the message content.
    Raw(&'static str),
    /// This HTTP status with `Retry-After: 0`.
    Status(u16),
    /// Never answers.
    Hang,
}

/// A request the judge received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The JSON body.
    pub body: Value,
    /// The `Authorization` header, when sent.
    pub authorization: Option<String>,
}

impl Call {
    /// The prompt (the first message's content).
    pub fn prompt(&self) -> &str {
        self.body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Answer>>,
    calls: Mutex<Vec<Call>>,
    arrived: tokio::sync::Notify,
}

/// The running fake.
pub struct FakeJudge {
    /// Its address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeJudge {
    /// Starts on 127.0.0.1:0 with a script; once it is spent, every request
    /// gets `default`.
    pub async fn start(script: Vec<Answer>) -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            ..Default::default()
        });
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeJudge { addr, shared }
    }

    /// The base URL an evaluator names.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The requests so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_calls(&self, n: usize) {
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.shared.calls.lock().unwrap().len() >= n {
                return;
            }
            tokio::time::timeout(std::time::Duration::from_secs(60), arrived)
                .await
                .expect("the judge was not called in time");
        }
    }
}

/// The default verdict once the script is spent.
pub const DEFAULT: Answer = Answer::Verdict("resolved", "the assistant fixed it");

async fn answer(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.calls.lock().unwrap().push(Call {
        body,
        authorization,
    });
    shared.arrived.notify_waiters();
    let next = shared.script.lock().unwrap().pop_front().unwrap_or(DEFAULT);
    let content = match next {
        Answer::Verdict(label, explanation) => {
            json!({"label": label, "explanation": explanation}).to_string()
        }
        Answer::Raw(text) => text.to_owned(),
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (
                status,
                [("retry-after", "0")],
                Json(json!({"error": {"message": "scripted"}})),
            )
                .into_response();
        }
        Answer::Hang => std::future::pending().await,
    };
    Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }))
    .into_response()
}
