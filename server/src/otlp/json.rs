//! OTLP/JSON to the protobuf types, traces and logs: lowerCamelCase (snake_case
//! accepted), hex trace and span ids, 64-bit integers as strings or numbers,
//! enums as integers or names. A span or log record whose ids are not hex is
//! dropped here and reported as rejected, so one bad item never fails the
//! batch.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::Event, span::Link,
};
use serde_json::Value;

use super::{DecodedRequest, OtlpError};
use crate::model::unhex;

fn bad(msg: impl Into<String>) -> OtlpError {
    OtlpError::Decode(msg.into())
}

/// Looks a field up by its lowerCamelCase or snake_case name.
fn field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    camel: &str,
    snake: &str,
) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a serde_json::Map<String, Value>, OtlpError> {
    v.as_object()
        .ok_or_else(|| bad(format!("{what} must be an object")))
}

fn array<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a [Value], OtlpError> {
    match v {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(bad(format!("{what} must be an array"))),
    }
}

fn string(v: Option<&Value>, what: &str) -> Result<String, OtlpError> {
    match v {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(format!("{what} must be a string"))),
    }
}

fn uint64(v: Option<&Value>, what: &str) -> Result<u64, OtlpError> {
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| bad(format!("{what} must be an unsigned integer"))),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| bad(format!("{what} must be an unsigned integer"))),
        Some(_) => Err(bad(format!("{what} must be an unsigned integer"))),
    }
}

fn int64(v: &Value, what: &str) -> Result<i64, OtlpError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| bad(format!("{what} must be an integer"))),
        Value::String(s) => s
            .parse()
            .map_err(|_| bad(format!("{what} must be an integer"))),
        _ => Err(bad(format!("{what} must be an integer"))),
    }
}

fn enum_value(v: Option<&Value>, names: &[&str], what: &str) -> Result<i32, OtlpError> {
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| bad(format!("{what} must be an enum value"))),
        Some(Value::String(s)) => names
            .iter()
            .position(|n| n == s)
            .map(|i| i as i32)
            .ok_or_else(|| bad(format!("{what} has an unknown value"))),
        Some(_) => Err(bad(format!("{what} must be an enum value"))),
    }
}

const SPAN_KINDS: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: &[&str] = &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// A hex id; `Err(())` when it is not hex (the span is then dropped).
fn id(v: Option<&Value>) -> Result<Result<Vec<u8>, ()>, OtlpError> {
    match v {
        None => Ok(Ok(Vec::new())),
        Some(Value::String(s)) => Ok(unhex(s).ok_or(())),
        Some(_) => Err(bad("span ids must be hex strings")),
    }
}

pub(crate) fn any_value(v: &Value) -> Result<AnyValue, OtlpError> {
    let obj = object(v, "attribute value")?;
    let value = if let Some(s) = field(obj, "stringValue", "string_value") {
        any_value::Value::StringValue(
            s.as_str()
                .ok_or_else(|| bad("stringValue must be a string"))?
                .to_owned(),
        )
    } else if let Some(b) = field(obj, "boolValue", "bool_value") {
        any_value::Value::BoolValue(
            b.as_bool()
                .ok_or_else(|| bad("boolValue must be a boolean"))?,
        )
    } else if let Some(i) = field(obj, "intValue", "int_value") {
        any_value::Value::IntValue(int64(i, "intValue")?)
    } else if let Some(d) = field(obj, "doubleValue", "double_value") {
        let d = match d {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        any_value::Value::DoubleValue(d.ok_or_else(|| bad("doubleValue must be a number"))?)
    } else if let Some(a) = field(obj, "arrayValue", "array_value") {
        let a = object(a, "arrayValue")?;
        let values = array(a.get("values"), "arrayValue.values")?
            .iter()
            .map(any_value)
            .collect::<Result<_, _>>()?;
        any_value::Value::ArrayValue(ArrayValue { values })
    } else if let Some(kv) = field(obj, "kvlistValue", "kvlist_value") {
        let kv = object(kv, "kvlistValue")?;
        any_value::Value::KvlistValue(KeyValueList {
            values: key_values(kv.get("values"))?,
        })
    } else if let Some(b) = field(obj, "bytesValue", "bytes_value") {
        // Kept as its base64 text: the server never interprets bytes values.
        any_value::Value::StringValue(
            b.as_str()
                .ok_or_else(|| bad("bytesValue must be a string"))?
                .to_owned(),
        )
    } else {
        return Ok(AnyValue { value: None });
    };
    Ok(AnyValue { value: Some(value) })
}

fn key_values(v: Option<&Value>) -> Result<Vec<KeyValue>, OtlpError> {
    array(v, "attributes")?
        .iter()
        .map(|kv| {
            let kv = object(kv, "attribute")?;
            Ok(KeyValue {
                key: string(kv.get("key"), "attribute key")?,
                value: kv
                    .get("value")
                    .filter(|v| !v.is_null())
                    .map(any_value)
                    .transpose()?,
                ..Default::default()
            })
        })
        .collect()
}

fn span(v: &Value, rejected: &mut Vec<String>) -> Result<Option<Span>, OtlpError> {
    let obj = object(v, "span")?;
    let ids = (
        id(field(obj, "traceId", "trace_id"))?,
        id(field(obj, "spanId", "span_id"))?,
        id(field(obj, "parentSpanId", "parent_span_id"))?,
    );
    let (Ok(trace_id), Ok(span_id), Ok(parent_span_id)) = ids else {
        rejected.push("span ids must be hex".to_owned());
        return Ok(None);
    };
    let status = field(obj, "status", "status")
        .map(|s| {
            let s = object(s, "status")?;
            Ok::<_, OtlpError>(Status {
                message: string(s.get("message"), "status.message")?,
                code: enum_value(s.get("code"), STATUS_CODES, "status.code")?,
            })
        })
        .transpose()?;
    let events = array(field(obj, "events", "events"), "events")?
        .iter()
        .map(|e| {
            let e = object(e, "event")?;
            Ok(Event {
                time_unix_nano: uint64(field(e, "timeUnixNano", "time_unix_nano"), "event time")?,
                name: string(e.get("name"), "event name")?,
                attributes: key_values(e.get("attributes"))?,
                dropped_attributes_count: 0,
            })
        })
        .collect::<Result<Vec<_>, OtlpError>>()?;
    let links = array(field(obj, "links", "links"), "links")?
        .iter()
        .filter_map(|l| {
            let l = l.as_object()?;
            let trace_id = l.get("traceId").and_then(Value::as_str).and_then(unhex)?;
            let span_id = l.get("spanId").and_then(Value::as_str).and_then(unhex)?;
            Some(Link {
                trace_id,
                span_id,
                ..Default::default()
            })
        })
        .collect();
    Ok(Some(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: string(field(obj, "traceState", "trace_state"), "traceState")?,
        flags: uint64(field(obj, "flags", "flags"), "flags")? as u32,
        name: string(obj.get("name"), "span name")?,
        kind: enum_value(obj.get("kind"), SPAN_KINDS, "span kind")?,
        start_time_unix_nano: uint64(
            field(obj, "startTimeUnixNano", "start_time_unix_nano"),
            "startTimeUnixNano",
        )?,
        end_time_unix_nano: uint64(
            field(obj, "endTimeUnixNano", "end_time_unix_nano"),
            "endTimeUnixNano",
        )?,
        attributes: key_values(obj.get("attributes"))?,
        events,
        links,
        status,
        ..Default::default()
    }))
}

fn resource(item: &serde_json::Map<String, Value>) -> Result<Option<Resource>, OtlpError> {
    field(item, "resource", "resource")
        .map(|r| {
            Ok(Resource {
                attributes: key_values(object(r, "resource")?.get("attributes"))?,
                ..Default::default()
            })
        })
        .transpose()
}

fn scope(item: &serde_json::Map<String, Value>) -> Result<Option<InstrumentationScope>, OtlpError> {
    field(item, "scope", "scope")
        .map(|s| {
            let s = object(s, "scope")?;
            Ok(InstrumentationScope {
                name: string(s.get("name"), "scope name")?,
                version: string(s.get("version"), "scope version")?,
                ..Default::default()
            })
        })
        .transpose()
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode(body: &[u8]) -> Result<DecodedRequest, OtlpError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid json: {e}")))?;
    let root = object(&root, "request")?;
    let mut rejected = Vec::new();
    let mut request = ExportTraceServiceRequest::default();
    for rs in array(
        field(root, "resourceSpans", "resource_spans"),
        "resourceSpans",
    )? {
        let rs = object(rs, "resourceSpans item")?;
        let mut scope_spans = Vec::new();
        for ss in array(field(rs, "scopeSpans", "scope_spans"), "scopeSpans")? {
            let ss = object(ss, "scopeSpans item")?;
            let mut spans = Vec::new();
            for s in array(ss.get("spans"), "spans")? {
                if let Some(s) = span(s, &mut rejected)? {
                    spans.push(s);
                }
            }
            scope_spans.push(ScopeSpans {
                scope: scope(ss)?,
                spans,
                ..Default::default()
            });
        }
        request.resource_spans.push(ResourceSpans {
            resource: resource(rs)?,
            scope_spans,
            ..Default::default()
        });
    }
    Ok(DecodedRequest { request, rejected })
}

const SEVERITY_NUMBERS: &[&str] = &[
    "SEVERITY_NUMBER_UNSPECIFIED",
    "SEVERITY_NUMBER_TRACE",
    "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",
    "SEVERITY_NUMBER_TRACE4",
    "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",
    "SEVERITY_NUMBER_DEBUG3",
    "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",
    "SEVERITY_NUMBER_INFO2",
    "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",
    "SEVERITY_NUMBER_WARN",
    "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",
    "SEVERITY_NUMBER_WARN4",
    "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",
    "SEVERITY_NUMBER_ERROR3",
    "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",
    "SEVERITY_NUMBER_FATAL2",
    "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
];

fn log_record(v: &Value, rejected: &mut Vec<String>) -> Result<Option<LogRecord>, OtlpError> {
    let obj = object(v, "log record")?;
    let ids = (
        id(field(obj, "traceId", "trace_id"))?,
        id(field(obj, "spanId", "span_id"))?,
    );
    let (Ok(trace_id), Ok(span_id)) = ids else {
        rejected.push("log record ids must be hex".to_owned());
        return Ok(None);
    };
    Ok(Some(LogRecord {
        time_unix_nano: uint64(field(obj, "timeUnixNano", "time_unix_nano"), "timeUnixNano")?,
        observed_time_unix_nano: uint64(
            field(obj, "observedTimeUnixNano", "observed_time_unix_nano"),
            "observedTimeUnixNano",
        )?,
        severity_number: enum_value(
            field(obj, "severityNumber", "severity_number"),
            SEVERITY_NUMBERS,
            "severityNumber",
        )?,
        severity_text: string(field(obj, "severityText", "severity_text"), "severityText")?,
        body: obj
            .get("body")
            .filter(|b| !b.is_null())
            .map(any_value)
            .transpose()?,
        attributes: key_values(obj.get("attributes"))?,
        flags: uint64(field(obj, "flags", "flags"), "flags")? as u32,
        trace_id,
        span_id,
        event_name: string(field(obj, "eventName", "event_name"), "eventName")?,
        ..Default::default()
    }))
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8]) -> Result<DecodedRequest<ExportLogsServiceRequest>, OtlpError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid json: {e}")))?;
    let root = object(&root, "request")?;
    let mut rejected = Vec::new();
    let mut request = ExportLogsServiceRequest::default();
    for rl in array(field(root, "resourceLogs", "resource_logs"), "resourceLogs")? {
        let rl = object(rl, "resourceLogs item")?;
        let mut scope_logs = Vec::new();
        for sl in array(field(rl, "scopeLogs", "scope_logs"), "scopeLogs")? {
            let sl = object(sl, "scopeLogs item")?;
            let mut log_records = Vec::new();
            for r in array(field(sl, "logRecords", "log_records"), "logRecords")? {
                if let Some(r) = log_record(r, &mut rejected)? {
                    log_records.push(r);
                }
            }
            scope_logs.push(ScopeLogs {
                scope: scope(sl)?,
                log_records,
                ..Default::default()
            });
        }
        request.resource_logs.push(ResourceLogs {
            resource: resource(rl)?,
            scope_logs,
            ..Default::default()
        });
    }
    Ok(DecodedRequest { request, rejected })
}
