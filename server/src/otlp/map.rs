//! From the protobuf request to [`SpanRecord`]s: project resolution, per-span
//! validation (a bad span is rejected alone, with a reason), attribute
//! flattening and the facts the read side needs (session, user, turn input and
//! output, tokens, cost).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde_json::{Map, Value};

use crate::messages;
use crate::model::{Cost, SpanFacts, SpanKind, SpanRecord, TokenCount};
use crate::pricing::PriceTable;
use crate::semconv as k;

/// Longest accepted session or user id, in bytes: the instrumentation's limit
/// (the core's), so every id our packages accept is stored.
pub const MAX_ID_BYTES: usize = openinference_session::attributes::MAX_ID_BYTES;
/// Longest accepted project name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Most tokens one span may report in one count (a trillion: far above any
/// model call, far below where sums could overflow). A span reporting more,
/// or a negative count, is rejected alone.
pub const MAX_TOKENS: i64 = 1_000_000_000_000;
/// Most US dollars one span may report in one cost; a negative, NaN or larger
/// cost rejects the span alone.
pub const MAX_COST_USD: f64 = 1_000_000_000.0;

/// The spans that passed validation and the reasons for those that did not.
#[derive(Debug, Default)]
pub struct Mapped {
    /// Valid spans.
    pub records: Vec<SpanRecord>,
    /// One reason per rejected span.
    pub rejected: Vec<String>,
}

/// Converts an OTLP value to plain JSON, moving its strings (a history-heavy
/// span's attributes are mostly long strings: copying them doubled what a
/// request held while it was mapped).
pub fn any_into_json(v: AnyValue) -> Value {
    match v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
        Some(any_value::Value::IntValue(i)) => Value::from(i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.into_iter().map(any_into_json).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(attributes_into_json(kv.values)),
        Some(any_value::Value::BytesValue(b)) => Value::String(crate::model::hex(&b)),
        #[allow(unreachable_patterns)]
        Some(_) => Value::Null,
    }
}

pub(super) fn attributes_into_json(kvs: Vec<KeyValue>) -> Map<String, Value> {
    kvs.into_iter()
        .map(|kv| (kv.key, kv.value.map_or(Value::Null, any_into_json)))
        .collect()
}

/// A non-empty trimmed string view of an attribute (numbers are stringified).
fn text(attrs: &Map<String, Value>, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_text(attrs: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| text(attrs, key))
}

fn int(attrs: &Map<String, Value>, key: &str) -> Option<i64> {
    match attrs.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(attrs: &Map<String, Value>, key: &str) -> Option<f64> {
    match attrs.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Adds to a span's facts what its own events say (as stored: `name`,
/// `attributes`): a GenAI event recorded on the span (not sent as a log)
/// carries its body's fields as attributes.
pub fn read_span_events(facts: &mut SpanFacts, events: &[Value]) {
    let own_user = facts.user_text.is_some();
    for e in events {
        let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
        if !(facts.is_llm && name.starts_with(k::GEN_AI_EVENT_PREFIX)) {
            continue;
        }
        let attributes = e
            .get("attributes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let body = Value::Object(attributes.clone());
        let (user, reply) = super::logs::event_messages(name, &attributes, &body);
        // The last user message of the call is the turn's.
        if !own_user && user.is_some() {
            facts.user_text = user;
        }
        if facts.reply_text.is_none() {
            facts.reply_text = reply;
        }
    }
}

/// What a span says of its turn's words: its input and output values and
/// their types, what the user said and what the assistant answered.
struct SpanTexts {
    input_value: Option<String>,
    input_mime: Option<String>,
    output_value: Option<String>,
    output_mime: Option<String>,
    user_text: Option<String>,
    reply_text: Option<String>,
}

/// The [`SpanTexts`] of a span from its attributes (its own events may add
/// the user's and assistant's words: [`read_span_events`]).
fn span_texts(attrs: &Map<String, Value>, is_llm: bool) -> SpanTexts {
    let io = |key: &str| match attrs.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(Value::String(_)) => None,
        Some(other) => Some(other.to_string()),
    };
    let input_value = io(k::INPUT_VALUE).or_else(|| io(k::VERCEL_PROMPT));
    let input_mime = text(attrs, k::INPUT_MIME).or_else(|| {
        (attrs.contains_key(k::VERCEL_PROMPT) && !attrs.contains_key(k::INPUT_VALUE))
            .then(|| "application/json".to_owned())
    });
    let output_value = io(k::OUTPUT_VALUE).or_else(|| io(k::VERCEL_RESPONSE_TEXT));
    let output_mime = text(attrs, k::OUTPUT_MIME);
    // What the user said and what the assistant answered, as this span tells
    // it: a model call's messages, or a chain's or agent's JSON input/output.
    let (user_text, reply_text) = if is_llm {
        messages::model_call(attrs)
    } else {
        let read = |value: &Option<String>, mime: &Option<String>| {
            value
                .as_deref()
                .filter(|v| messages::holds_json(v, mime.as_deref()))
                .and_then(|v| serde_json::from_str::<Value>(v).ok())
        };
        (
            read(&input_value, &input_mime).and_then(|v| messages::user_words(&v)),
            read(&output_value, &output_mime).and_then(|v| messages::assistant_words(&v)),
        )
    };
    SpanTexts {
        input_value,
        input_mime,
        output_value,
        output_mime,
        user_text,
        reply_text,
    }
}

/// Derives again a span's facts kept in its body only (`input_value` to
/// `reply_text`, tags and metadata) from its attributes and events as
/// stored, exactly as ingest derived them.
pub fn rederive_from_body(facts: &mut SpanFacts, attrs: &Map<String, Value>, events: &[Value]) {
    (facts.tags, facts.metadata) = span_tags_and_metadata(attrs);
    let texts = span_texts(attrs, facts.is_llm);
    facts.input_value = texts.input_value;
    facts.input_mime = texts.input_mime;
    facts.output_value = texts.output_value;
    facts.output_mime = texts.output_mime;
    facts.user_text = texts.user_text;
    facts.reply_text = texts.reply_text;
    read_span_events(facts, events);
}

/// A span's tags and metadata from its attributes: `tag.tags` (an array, or
/// its JSON), `metadata` (an object, or its JSON) with the flat
/// `metadata.*` keys it lacks.
fn span_tags_and_metadata(attrs: &Map<String, Value>) -> (Vec<String>, Map<String, Value>) {
    let tags = match attrs.get(k::TAGS) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => serde_json::from_str::<Vec<String>>(s).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut metadata = match attrs.get(k::METADATA) {
        Some(Value::String(s)) => serde_json::from_str::<Map<String, Value>>(s).unwrap_or_default(),
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    for (key, value) in attrs {
        if let Some(name) = k::FLAT_METADATA_PREFIXES
            .iter()
            .find_map(|prefix| key.strip_prefix(prefix))
            .filter(|name| !name.is_empty())
        {
            metadata
                .entry(name.to_owned())
                .or_insert_with(|| value.clone());
        }
    }
    (tags, metadata)
}

/// Derives the facts of one span from its attributes.
pub fn derive_facts(attrs: &Map<String, Value>, prices: &PriceTable) -> SpanFacts {
    let oi_kind = text(attrs, k::OI_SPAN_KIND).map(|s| s.to_ascii_uppercase());
    let operation = text(attrs, k::GEN_AI_OPERATION);
    let prompt = k::PROMPT_TOKEN_KEYS.iter().find_map(|key| int(attrs, key));
    let completion = k::COMPLETION_TOKEN_KEYS
        .iter()
        .find_map(|key| int(attrs, key));
    let is_llm = match (&oi_kind, &operation) {
        (Some(kind), _) => kind == "LLM",
        (None, Some(op)) => k::GEN_AI_LLM_OPERATIONS.contains(&op.as_str()),
        // An unlabelled span that reports usage is a model call.
        (None, None) => prompt.is_some() || completion.is_some(),
    };
    let texts = span_texts(attrs, is_llm);
    let mut tokens = TokenCount::default();
    let mut cost = Cost::default();
    if is_llm {
        tokens.prompt = prompt.unwrap_or(0);
        tokens.completion = completion.unwrap_or(0);
        tokens.total = k::TOTAL_TOKEN_KEYS
            .iter()
            .find_map(|key| int(attrs, key))
            .unwrap_or(tokens.prompt.saturating_add(tokens.completion));
        let reported = (
            float(attrs, k::COST_PROMPT),
            float(attrs, k::COST_COMPLETION),
            float(attrs, k::COST_TOTAL),
        );
        cost = if reported != (None, None, None) {
            let prompt = reported.0.unwrap_or(0.0);
            let completion = reported.1.unwrap_or(0.0);
            Cost {
                prompt,
                completion,
                total: reported.2.unwrap_or(prompt + completion),
            }
        } else {
            first_text(attrs, k::MODEL_KEYS)
                .and_then(|model| prices.cost(&model, &tokens))
                .unwrap_or_default()
        };
    }
    let (tags, metadata) = span_tags_and_metadata(attrs);
    SpanFacts {
        session_id: first_text(attrs, k::SESSION_KEYS)
            .or_else(|| first_text(&metadata, k::METADATA_SESSION_KEYS)),
        user_id: first_text(attrs, k::USER_KEYS)
            .or_else(|| first_text(&metadata, k::METADATA_USER_KEYS)),
        oi_kind,
        is_llm,
        input_value: texts.input_value,
        input_mime: texts.input_mime,
        output_value: texts.output_value,
        output_mime: texts.output_mime,
        user_text: texts.user_text,
        reply_text: texts.reply_text,
        tokens,
        cost,
        tags,
        metadata,
        ..Default::default()
    }
}

pub(super) fn check_id<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    let id: [u8; N] = bytes
        .try_into()
        .map_err(|_| format!("invalid {what}: expected {N} bytes, got {}", bytes.len()))?;
    if id == [0; N] {
        return Err(format!("invalid {what}: all zero"));
    }
    Ok(id)
}

/// Token counts and costs a span may report: whole, non-negative, within
/// [`MAX_TOKENS`] and [`MAX_COST_USD`].
fn check_usage(facts: &SpanFacts) -> Result<(), String> {
    let t = &facts.tokens;
    if [t.prompt, t.completion, t.total]
        .iter()
        .any(|n| !(0..=MAX_TOKENS).contains(n))
    {
        return Err(format!("token count out of range (0 to {MAX_TOKENS})"));
    }
    let c = &facts.cost;
    if [c.prompt, c.completion, c.total]
        .iter()
        .any(|x| !x.is_finite() || *x < 0.0 || *x > MAX_COST_USD)
    {
        return Err(format!("cost out of range (0 to {MAX_COST_USD} USD)"));
    }
    Ok(())
}

/// Resolves the project of a resource: the header, else the resource keys, else
/// the default.
pub fn resolve_project(header: Option<&str>, resource: &Map<String, Value>) -> String {
    header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .or_else(|| first_text(resource, k::PROJECT_RESOURCE_KEYS))
        .unwrap_or_else(|| k::DEFAULT_PROJECT.to_owned())
}

/// Validates and converts every span of a request.
pub fn map_request(
    request: ExportTraceServiceRequest,
    project_header: Option<&str>,
    prices: &PriceTable,
) -> Mapped {
    let mut out = Mapped::default();
    let mut records = Vec::new();
    let _ = map_request_with::<()>(request, project_header, prices, &mut out.rejected, |r| {
        records.push(r);
        Ok(())
    });
    out.records = records;
    out
}

/// Validates and converts the spans of a request one at a time, handing each
/// to `emit` (so a large request is stored in batches, never all mapped at
/// once) and each rejection reason to `rejected`; stops at `emit`'s first error.
pub fn map_request_with<E>(
    request: ExportTraceServiceRequest,
    project_header: Option<&str>,
    prices: &PriceTable,
    rejected: &mut Vec<String>,
    mut emit: impl FnMut(SpanRecord) -> Result<(), E>,
) -> Result<(), E> {
    // The request is taken apart as it is mapped: strings move into the
    // records instead of being copied, and each span's leftovers are freed
    // before the next is mapped.
    for rs in request.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes_into_json(r.attributes))
            .unwrap_or_default();
        let project = resolve_project(project_header, &resource);
        let project_ok = project.len() <= MAX_NAME_BYTES;
        for ss in rs.scope_spans {
            for span in ss.spans {
                let checked = (|| {
                    if !project_ok {
                        return Err(format!("project name longer than {MAX_NAME_BYTES} bytes"));
                    }
                    let trace_id = check_id::<16>(&span.trace_id, "trace id")?;
                    let span_id = check_id::<8>(&span.span_id, "span id")?;
                    let parent_span_id = match span.parent_span_id.as_slice() {
                        [] => None,
                        p if p == [0; 8] => None,
                        p => Some(check_id::<8>(p, "parent span id")?),
                    };
                    let start = i64::try_from(span.start_time_unix_nano)
                        .map_err(|_| "start time out of range".to_owned())?;
                    let end = i64::try_from(span.end_time_unix_nano)
                        .map_err(|_| "end time out of range".to_owned())?;
                    if start == 0 {
                        return Err("missing start time".to_owned());
                    }
                    if end < start {
                        return Err("end time before start time".to_owned());
                    }
                    Ok((trace_id, span_id, parent_span_id, start, end))
                })();
                let (trace_id, span_id, parent_span_id, start_ns, end_ns) = match checked {
                    Ok(v) => v,
                    Err(reason) => {
                        rejected.push(reason);
                        continue;
                    }
                };
                let attributes = attributes_into_json(span.attributes);
                let status = span.status.unwrap_or_default();
                let mut facts = derive_facts(&attributes, prices);
                // An id that long is not an id: it would bloat every index it is in.
                let too_long = [
                    ("session id", &facts.session_id),
                    ("user id", &facts.user_id),
                ]
                .into_iter()
                .find(|(_, id)| id.as_ref().is_some_and(|id| id.len() > MAX_ID_BYTES));
                if let Some((what, _)) = too_long {
                    rejected.push(format!("{what} longer than {MAX_ID_BYTES} bytes"));
                    continue;
                }
                if let Err(reason) = check_usage(&facts) {
                    rejected.push(reason);
                    continue;
                }
                facts.span_id = span_id;
                facts.parent_span_id = parent_span_id;
                facts.start_ns = start_ns;
                facts.end_ns = end_ns;
                facts.status_code = status.code;
                let events: Vec<Value> = span
                    .events
                    .into_iter()
                    .map(|e| {
                        // Built by hand: `json!` would serialize a copy of the
                        // attributes.
                        let time = e.time_unix_nano.min(i64::MAX as u64) as i64;
                        let mut event = Map::new();
                        event.insert("name".into(), Value::String(e.name));
                        event.insert("time".into(), Value::String(crate::model::rfc3339(time)));
                        event.insert(
                            "attributes".into(),
                            Value::Object(attributes_into_json(e.attributes)),
                        );
                        Value::Object(event)
                    })
                    .collect();
                read_span_events(&mut facts, &events);
                emit(SpanRecord {
                    project: project.clone(),
                    trace_id,
                    span_id,
                    parent_span_id,
                    name: span.name,
                    kind: SpanKind::from_otlp(span.kind),
                    start_ns,
                    end_ns,
                    status_code: status.code,
                    status_message: status.message,
                    attributes,
                    events,
                    facts,
                })?;
            }
        }
    }
    Ok(())
}
