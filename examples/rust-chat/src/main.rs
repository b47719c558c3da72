//! A multi-turn support chat on tokio, traced with sessions.
//!
//! Every user turn is one trace: an app-level CHAIN span (the turn) around an
//! LLM span (and, when the assistant looks something up, a TOOL span run on a
//! spawned task). The whole conversation shares one session id and one user,
//! so a sessions server shows it as one back-and-forth.
//!
//! ```sh
//! cargo run -p rust-chat                    # exports OTLP/HTTP to $OI_SESSIONS_ENDPOINT
//! cargo run -p rust-chat -- --session-id conv-42 --project support-bot
//! ```
//!
//! The session part is three lines: `SessionSpanProcessor` in the tracer
//! provider, `using_session` (a guard, for sync code) and
//! `with_context_attributes` (`SessionFutureExt`, for a future: the scope
//! holds across every `.await`). The assistant is a deterministic stand-in for
//! an LLM, so the example runs offline; the tracing is what a real app does.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use openinference_session::{
    ContextAttributes, JsonObject, SessionFutureExt, SessionSpanProcessor, using_session,
};
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:6006/v1/traces";
const MODEL: &str = "gpt-4o-mini";
const SYSTEM_PROMPT: &str = "You are the billing assistant of Example Corp. Be brief.";
const CONVERSATION: [&str; 3] = [
    "My invoice shows the wrong VAT number",
    "Can you resend it to billing@example.com?",
    "Thanks, that worked",
];

/// One message of the conversation, as an LLM API takes it.
struct Message {
    role: &'static str,
    content: String,
}

/// A rough token count (about four characters per token).
fn tokens(text: &str) -> i64 {
    (text.chars().count() / 4).max(1) as i64
}

/// The stand-in LLM: a reply, and the tool it consulted, if any.
async fn assistant_reply(question: &str) -> (&'static str, Option<&'static str>) {
    tokio::time::sleep(Duration::from_millis(20)).await; // the model thinks
    let q = question.to_lowercase();
    if q.contains("vat") {
        (
            "I corrected the VAT number on invoice INV-1042 to EU372000041.",
            Some("lookup_invoice"),
        )
    } else if q.contains("resend") || q.contains('@') {
        (
            "Done: invoice INV-1042 was sent to billing@example.com.",
            Some("send_invoice"),
        )
    } else {
        ("Glad it worked. Anything else I can help with?", None)
    }
}

/// A tool call, run on its own task: `with_current_context` carries the
/// session (and the turn span, its parent) onto that task.
async fn run_tool(tracer: SdkTracer, tool: &'static str) {
    let mut span = tracer.start(tool);
    span.set_attributes([
        KeyValue::new("openinference.span.kind", "TOOL"),
        KeyValue::new("tool.name", tool),
        KeyValue::new("input.value", json!({"invoice": "INV-1042"}).to_string()),
    ]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    span.set_attribute(KeyValue::new(
        "output.value",
        json!({"status": "ok"}).to_string(),
    ));
    span.end();
}

/// The model call: an LLM span with the messages, the reply and token counts.
fn record_llm_call(tracer: &SdkTracer, messages: &[Message], reply: &str) {
    let mut llm = tracer.start("ChatCompletion");
    llm.set_attribute(KeyValue::new("openinference.span.kind", "LLM"));
    llm.set_attribute(KeyValue::new("llm.model_name", MODEL));
    for (i, message) in messages.iter().enumerate() {
        let prefix = format!("llm.input_messages.{i}.message");
        llm.set_attribute(KeyValue::new(format!("{prefix}.role"), message.role));
        llm.set_attribute(KeyValue::new(
            format!("{prefix}.content"),
            message.content.clone(),
        ));
    }
    let input: Vec<_> = messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect();
    let prompt: i64 = messages.iter().map(|m| tokens(&m.content)).sum();
    let completion = tokens(reply);
    llm.set_attributes([
        KeyValue::new("llm.output_messages.0.message.role", "assistant"),
        KeyValue::new("llm.output_messages.0.message.content", reply.to_owned()),
        KeyValue::new(
            "input.value",
            json!({"model": MODEL, "messages": input}).to_string(),
        ),
        KeyValue::new("input.mime_type", "application/json"),
        KeyValue::new("output.value", reply.to_owned()),
        KeyValue::new("llm.token_count.prompt", prompt),
        KeyValue::new("llm.token_count.completion", completion),
        KeyValue::new("llm.token_count.total", prompt + completion),
    ]);
    llm.end();
}

/// One user turn: one trace, rooted at the turn's CHAIN span.
async fn run_turn(
    tracer: &SdkTracer,
    history: &mut Vec<Message>,
    question: &str,
) -> Result<String> {
    let mut turn = tracer.start("chat-turn");
    turn.set_attribute(KeyValue::new("openinference.span.kind", "CHAIN"));
    turn.set_attribute(KeyValue::new("input.value", question.to_owned()));
    // the turn span is the parent of what the turn does, across its awaits
    let cx = Context::current_with_span(turn);
    let reply = async {
        history.push(Message {
            role: "user",
            content: question.to_owned(),
        });
        let (reply, tool) = assistant_reply(question).await;
        if let Some(tool) = tool {
            tokio::spawn(run_tool(tracer.clone(), tool).with_current_context()).await?;
        }
        let mut messages = vec![Message {
            role: "system",
            content: SYSTEM_PROMPT.to_owned(),
        }];
        messages.extend(history.iter().map(|m| Message {
            role: m.role,
            content: m.content.clone(),
        }));
        record_llm_call(tracer, &messages, reply);
        history.push(Message {
            role: "assistant",
            content: reply.to_owned(),
        });
        Ok::<_, Box<dyn Error + Send + Sync>>(reply.to_owned())
    }
    .with_context(cx.clone())
    .await?;
    let span = cx.span();
    span.set_attribute(KeyValue::new("output.value", reply.clone()));
    span.end();
    Ok(reply)
}

/// The whole conversation, turn after turn.
async fn chat(tracer: SdkTracer) -> Result<()> {
    let mut history = Vec::new();
    for question in CONVERSATION {
        let reply = run_turn(&tracer, &mut history, question).await?;
        println!("user:      {question}\nassistant: {reply}");
    }
    Ok(())
}

/// `--session-id ID` (default: a new id per run) and `--project NAME`
/// (default `$OI_SESSIONS_PROJECT`, else `support-bot`).
fn parse_args() -> Result<(String, String)> {
    let mut session_id = None;
    let mut project = std::env::var("OI_SESSIONS_PROJECT").unwrap_or_else(|_| "support-bot".into());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--session-id" => session_id = Some(value()?),
            "--project" => project = value()?,
            _ => {
                return Err(
                    format!("unknown argument {arg:?} (--session-id ID, --project NAME)").into(),
                );
            }
        }
    }
    let session_id = session_id.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("chat-{:012x}", nanos & 0xffff_ffff_ffff)
    });
    Ok((session_id, project))
}

/// OTLP/HTTP protobuf to `$OI_SESSIONS_ENDPOINT`, with `$OI_SESSIONS_API_KEY`
/// as a bearer token when set.
fn exporter() -> Result<SpanExporter> {
    let endpoint =
        std::env::var("OI_SESSIONS_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.into());
    let mut headers = HashMap::new();
    if let Ok(key) = std::env::var("OI_SESSIONS_API_KEY") {
        headers.insert("authorization".to_owned(), format!("Bearer {key}"));
    }
    Ok(SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_headers(headers)
        .build()?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let (session_id, project) = parse_args()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_attributes([
                    KeyValue::new("service.name", project.clone()),
                    KeyValue::new("openinference.project.name", project.clone()),
                ])
                .build(),
        )
        // first, so the exporter sees the spans it stamped
        .with_span_processor(SessionSpanProcessor::new())
        .with_batch_exporter(exporter()?)
        .build();
    let tracer = provider.tracer("rust-chat");

    let mut metadata = JsonObject::new();
    metadata.insert("plan".into(), json!("pro"));
    metadata.insert("channel".into(), json!("web"));
    let user = ContextAttributes::new()
        .with_user_id("user-42")?
        .with_metadata(metadata)?
        .with_tags(["billing"])?;
    let conversation = {
        // sync code: the session is set until the guard drops, at the end of this block
        let _session = using_session(session_id.as_str())?;
        // async code: the future keeps the session, plus the user, metadata and
        // tags, on every poll, whichever thread runs it
        chat(tracer).with_context_attributes(&user)
    };
    conversation.await?;

    provider.shutdown()?; // flushes the exporter
    println!("session {session_id}: {} turns sent", CONVERSATION.len());
    Ok(())
}
