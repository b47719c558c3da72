//! `oi-sessions import`: the JSONL of `oi-sessions export --format jsonl` into
//! a server, through its public API only. Each session's spans are sent again
//! as OTLP/JSON to `/v1/traces` (the server stores a span once per (trace id,
//! span id), so a re-sent span changes nothing), the GenAI events that
//! arrived as log records go to `/v1/logs` (stored once per span and
//! content digest), and the annotations are written through the annotations
//! API, skipping those already stored with the same content (a rewrite would
//! move their `updated_at`). The server re-derives the sessions, turns, sums
//! and costs from the spans, as on first ingest. Importing a file twice
//! changes nothing.

use std::io::BufRead;

use serde_json::{Map, Value, json};

use super::export::JSONL_VERSION;
use super::http::{ApiClient, encode};
use super::progress::Progress;
use super::{CliError, ImportArgs, out};
use crate::model::parse_rfc3339;

/// Spans per OTLP request.
const SPANS_PER_REQUEST: usize = 2_000;
/// Annotations per request (the API's batch limit is larger).
const ANNOTATIONS_PER_REQUEST: usize = 100;
/// The annotation fields that make its content (not its id or times).
const ANNOTATION_FIELDS: [&str; 9] = [
    "name",
    "identifier",
    "annotator_kind",
    "label",
    "score",
    "explanation",
    "metadata",
    "user_id",
    "source",
];

/// What an import did.
#[derive(Debug, Default)]
struct Counts {
    sessions: usize,
    spans: usize,
    events: usize,
    annotations_written: usize,
    annotations_unchanged: usize,
}

/// Runs `oi-sessions import`.
pub async fn run(args: ImportArgs) -> Result<(), CliError> {
    let client = args.client.client()?;
    let name = args.file.display().to_string();
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.file).map_err(|e| CliError::io(&name, e))?,
        ))
    };
    let mut counts = Counts::default();
    let mut progress = Progress::new("sessions", None);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| CliError::io(&name, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| CliError::Input {
            path: name.clone(),
            line: i + 1,
            reason,
        };
        let session: Value =
            serde_json::from_str(&line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut plan = Plan::read(&session).map_err(bad)?;
        if let Some(project) = &args.into_project {
            plan.project = project;
        }
        import_session(&client, &plan, &mut counts).await?;
        progress.add(1);
    }
    progress.finish();
    let summary = json!({
        "sessions": counts.sessions,
        "spans": counts.spans,
        "events": counts.events,
        "annotations_written": counts.annotations_written,
        "annotations_unchanged": counts.annotations_unchanged,
    });
    if args.client.json {
        out(&summary.to_string())
    } else {
        out(&format!(
            "imported {} sessions: {} spans and {} events sent (spans already there are kept as they are), {} annotations written, {} already there",
            counts.sessions,
            counts.spans,
            counts.events,
            counts.annotations_written,
            counts.annotations_unchanged
        ))
    }
}

/// One exported session, checked and turned into the requests that rebuild it.
struct Plan<'a> {
    project: &'a str,
    session_id: &'a str,
    spans: Vec<Value>,
    events: Vec<Value>,
    annotations: Vec<&'a Value>,
}

impl<'a> Plan<'a> {
    fn read(line: &'a Value) -> Result<Self, String> {
        match line.get("oi_sessions_export").and_then(Value::as_i64) {
            Some(JSONL_VERSION) => {}
            Some(v) => return Err(format!("export version {v} is not one this oi-sessions reads ({JSONL_VERSION})")),
            None => return Err("not a session exported by oi-sessions export --format jsonl (no oi_sessions_export)".into()),
        }
        let field = |k: &str| {
            line.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("no {k}"))
        };
        let project = field("project")?;
        let session_id = field("session_id")?;
        let mut spans = Vec::new();
        let mut events = Vec::new();
        let traces = line
            .get("traces")
            .and_then(Value::as_array)
            .ok_or("no traces")?;
        for trace in traces {
            let trace_id = trace
                .get("trace_id")
                .and_then(Value::as_str)
                .ok_or("a trace without trace_id")?;
            for span in trace
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (span, logged) = otlp_span(trace_id, span)?;
                spans.push(span);
                events.extend(logged);
            }
        }
        let annotations = line
            .get("annotations")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        Ok(Self {
            project,
            session_id,
            spans,
            events,
            annotations,
        })
    }
}

async fn import_session(
    client: &ApiClient,
    plan: &Plan<'_>,
    counts: &mut Counts,
) -> Result<(), CliError> {
    let headers = [("x-project-name", plan.project)];
    for chunk in plan.spans.chunks(SPANS_PER_REQUEST) {
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": []},
            "scopeSpans": [{"scope": {"name": "oi-sessions import"}, "spans": chunk}],
        }]});
        let answer = client.post_with("/v1/traces", &body, &headers).await?;
        rejected(&answer, "rejectedSpans", "/v1/traces")?;
        counts.spans += chunk.len();
    }
    for chunk in plan.events.chunks(SPANS_PER_REQUEST) {
        let body = json!({"resourceLogs": [{
            "resource": {"attributes": []},
            "scopeLogs": [{"scope": {"name": "oi-sessions import"}, "logRecords": chunk}],
        }]});
        let answer = client.post_with("/v1/logs", &body, &headers).await?;
        rejected(&answer, "rejectedLogRecords", "/v1/logs")?;
        counts.events += chunk.len();
    }
    let project_path = format!("/v1/projects/{}", encode(plan.project));
    // The spans made the session (a span is one project's: the same spans in
    // another project of this server are another session's).
    let session_path = format!("{project_path}/sessions/{}", encode(plan.session_id));
    match client.get(&session_path).await {
        Ok(_) => {}
        Err(CliError::Api { status: 404, .. }) => {
            return Err(CliError::Usage(format!(
                "session {} is not in project {} after its spans were sent",
                plan.session_id, plan.project
            )));
        }
        Err(e) => return Err(e),
    }
    if !plan.annotations.is_empty() {
        let stored = client.get(&format!("{session_path}/annotations")).await?;
        let stored: Vec<Value> = stored
            .get("data")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(annotation_content).collect())
            .unwrap_or_default();
        let mut new = Vec::new();
        for a in &plan.annotations {
            let content = annotation_content(a);
            if stored.contains(&content) {
                counts.annotations_unchanged += 1;
            } else {
                let mut body = content;
                body["session_id"] = json!(plan.session_id);
                new.push(body);
            }
        }
        for chunk in new.chunks(ANNOTATIONS_PER_REQUEST) {
            client
                .post(
                    &format!("{project_path}/session_annotations"),
                    &json!({ "data": chunk }),
                )
                .await?;
            counts.annotations_written += chunk.len();
        }
    }
    counts.sessions += 1;
    Ok(())
}

/// The fields of an annotation that make its content.
fn annotation_content(a: &Value) -> Value {
    let mut m = Map::new();
    for k in ANNOTATION_FIELDS {
        m.insert(k.to_owned(), a.get(k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(m)
}

fn rejected(answer: &Value, field: &str, path: &str) -> Result<(), CliError> {
    let n = answer
        .pointer(&format!("/partialSuccess/{field}"))
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0);
    if n > 0 {
        let message = answer
            .pointer("/partialSuccess/errorMessage")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(CliError::Answer {
            path: path.to_owned(),
            reason: format!("the server rejected {n}: {message}"),
        });
    }
    Ok(())
}

/// A span of the API (a trace's `spans`) as an OTLP/JSON span, and its
/// events that arrived as log records (those with a `body`) as OTLP/JSON log
/// records.
fn otlp_span(trace_id: &str, span: &Value) -> Result<(Value, Vec<Value>), String> {
    let text = |k: &str| span.get(k).and_then(Value::as_str);
    let span_id = text("span_id").ok_or("a span without span_id")?;
    let time = |k: &str| -> Result<String, String> {
        let t = text(k).ok_or_else(|| format!("span {span_id} has no {k}"))?;
        parse_rfc3339(t)
            .map(|ns| ns.to_string())
            .ok_or_else(|| format!("span {span_id}: {k} {t:?} is not an RFC 3339 time"))
    };
    let kind = match text("kind").unwrap_or("UNSPECIFIED") {
        "INTERNAL" => 1,
        "SERVER" => 2,
        "CLIENT" => 3,
        "PRODUCER" => 4,
        "CONSUMER" => 5,
        _ => 0,
    };
    let code = match text("status").unwrap_or("unset") {
        "ok" => 1,
        "error" => 2,
        _ => 0,
    };
    let mut span_events = Vec::new();
    let mut logged = Vec::new();
    for event in span
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = event
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let at = event
            .get("time")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .ok_or_else(|| format!("span {span_id}: an event without a time"))?
            .to_string();
        let attributes = attributes(event.get("attributes"));
        match event.get("body") {
            Some(body) => {
                let mut record = json!({
                    "timeUnixNano": at,
                    "eventName": name,
                    "attributes": attributes,
                    "traceId": trace_id,
                    "spanId": span_id,
                });
                if !body.is_null() {
                    record["body"] = any_value(body);
                }
                logged.push(record);
            }
            None => span_events.push(json!({
                "timeUnixNano": at,
                "name": name,
                "attributes": attributes,
            })),
        }
    }
    let mut out = json!({
        "traceId": trace_id,
        "spanId": span_id,
        "name": text("name").unwrap_or_default(),
        "kind": kind,
        "startTimeUnixNano": time("start_time")?,
        "endTimeUnixNano": time("end_time")?,
        "attributes": attributes(span.get("attributes")),
        "events": span_events,
        "status": {"code": code, "message": text("status_message").unwrap_or_default()},
    });
    if let Some(parent) = text("parent_span_id") {
        out["parentSpanId"] = json!(parent);
    }
    Ok((out, logged))
}

/// A JSON object of attributes as OTLP/JSON key-values.
fn attributes(v: Option<&Value>) -> Value {
    Value::Array(
        v.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
            .collect(),
    )
}

/// A JSON value as an OTLP/JSON `AnyValue`: the inverse of how ingest reads
/// one (integers stay integers, other numbers doubles, objects key-value lists).
fn any_value(v: &Value) -> Value {
    match v {
        Value::Null => json!({}),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => json!({ "intValue": i.to_string() }),
            _ => json!({ "doubleValue": n.as_f64().unwrap_or(0.0) }),
        },
        Value::String(s) => json!({ "stringValue": s }),
        Value::Array(a) => {
            json!({"arrayValue": {"values": a.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Value::Object(_) => json!({"kvlistValue": {"values": attributes(Some(v))}}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_otlp_any_values_and_back() {
        use opentelemetry_proto::tonic::common::v1::AnyValue;
        for v in [
            json!("text"),
            json!(3),
            json!(-7),
            json!(2.5),
            json!(1.0),
            json!(true),
            json!(["a", 1, 2.5]),
            json!({"k": {"n": [1, "x"]}}),
        ] {
            let otlp = any_value(&v);
            let decoded: AnyValue =
                crate::otlp::json::any_value(&otlp).expect("ingest reads what import writes");
            assert_eq!(crate::otlp::map::any_into_json(decoded), v, "{otlp}");
        }
    }
}
