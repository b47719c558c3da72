//! Span attributes from the Rust API (feature `otel`) for every case of a
//! cases file, in the canonical form the cross-language test compares with
//! the Python and Node packages (`tests/cross_language/`).
//!
//! ```text
//! cargo run -q -p openinference-session --example dump_span_attributes -- tests/cross_language/cases.json
//! ```

use openinference_session::{
    Aliases, AttributeValue, ContextAttributes, SessionSpanProcessor, using_attributes,
};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde::Serialize;
use serde_json::{Value as Json, json};

#[derive(Serialize)]
struct Dump {
    name: String,
    attributes: Vec<(String, Json)>,
}

fn scope(spec: &Json) -> ContextAttributes {
    let text = |key: &str| spec.get(key).and_then(Json::as_str).map(str::to_owned);
    let object = |key: &str| spec.get(key).and_then(Json::as_object).cloned();
    let mut a = ContextAttributes::new();
    if let Some(v) = text("sessionId") {
        a = a.with_session_id(v).expect("sessionId");
    }
    if let Some(v) = text("userId") {
        a = a.with_user_id(v).expect("userId");
    }
    if let Some(v) = object("metadata") {
        a = a.with_metadata(v).expect("metadata");
    }
    if let Some(tags) = spec.get("tags").and_then(Json::as_array) {
        let tags = tags.iter().filter_map(Json::as_str).map(str::to_owned);
        a = a.with_tags(tags).expect("tags");
    }
    if let Some(v) = text("promptTemplate") {
        a = a.with_prompt_template(v).expect("promptTemplate");
    }
    if let Some(v) = text("promptTemplateVersion") {
        a = a
            .with_prompt_template_version(v)
            .expect("promptTemplateVersion");
    }
    if let Some(v) = object("promptTemplateVariables") {
        a = a
            .with_prompt_template_variables(v)
            .expect("promptTemplateVariables");
    }
    for (key, value) in object("attributes").unwrap_or_default() {
        let value = AttributeValue::from_json(&key, &value).expect("attribute");
        a = a.with_attribute(key, value).expect("attribute");
    }
    a
}

fn double(f: f64) -> Json {
    json!({ "double": format!("{:016x}", f.to_bits()) })
}

fn canonical(value: &Value) -> Json {
    match value {
        Value::Bool(b) => json!({ "bool": b }),
        Value::I64(i) => json!({ "int": i }),
        Value::F64(f) => double(*f),
        Value::String(s) => json!({ "string": s.as_str() }),
        Value::Array(Array::Bool(v)) => {
            json!({ "array": v.iter().map(|b| json!({ "bool": b })).collect::<Vec<_>>() })
        }
        Value::Array(Array::I64(v)) => {
            json!({ "array": v.iter().map(|i| json!({ "int": i })).collect::<Vec<_>>() })
        }
        Value::Array(Array::F64(v)) => {
            json!({ "array": v.iter().map(|f| double(*f)).collect::<Vec<_>>() })
        }
        Value::Array(Array::String(v)) => {
            json!({ "array": v.iter().map(|s| json!({ "string": s.as_str() })).collect::<Vec<_>>() })
        }
        other => panic!("unexpected attribute value {other:?}"),
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: dump_span_attributes CASES.json");
    let text = std::fs::read_to_string(&path).expect("read the cases file");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("parse the cases file");
    let mut out = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name").to_owned();
        let aliases = case
            .get("aliases")
            .and_then(Json::as_array)
            .map(|names| Aliases::parse(names.iter().filter_map(Json::as_str)).expect("aliases"))
            .unwrap_or_default();
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SessionSpanProcessor::with_aliases(aliases))
            .with_simple_exporter(exporter.clone())
            .build();
        let scopes = case["scopes"].as_array().expect("scopes");
        let mut guards = Vec::new();
        for spec in scopes {
            guards.push(using_attributes(&scope(spec)));
        }
        provider.tracer("dump").start(name.clone()).end();
        while let Some(guard) = guards.pop() {
            drop(guard);
        }
        let spans = exporter.get_finished_spans().expect("finished spans");
        let attributes = spans[0]
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str().to_owned(), canonical(&kv.value)))
            .collect();
        out.push(Dump { name, attributes });
    }
    println!("{}", serde_json::to_string(&out).expect("serialize"));
}
