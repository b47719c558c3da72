//! From an OTLP logs request to [`EventRecord`]s: the GenAI events
//! (`gen_ai.user.message`, `gen_ai.choice`,
//! `gen_ai.client.inference.operation.details`, ...) that instrumentations in
//! the conventions' default content mode send as log records instead of span
//! attributes. Each must name its span (trace and span id); the server joins it
//! to the span whatever order the two arrive in. Any other log record is
//! rejected with a reason: the server keeps conversations, not logs.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use serde_json::{Map, Value};

use super::map::{MAX_NAME_BYTES, any_into_json, attributes_into_json, check_id, resolve_project};
use crate::messages::{Role, content_text, first_of, json_attr, last_of, messages};
use crate::model::{EventFacts, EventRecord};
use crate::semconv as k;

/// The events that passed validation and the reasons for the log records that
/// did not.
#[derive(Debug, Default)]
pub struct MappedEvents {
    /// Valid events.
    pub records: Vec<EventRecord>,
    /// One reason per rejected log record.
    pub rejected: Vec<String>,
}

/// The event's name: the record's `event_name`, else its `event.name`
/// attribute (the conventions' older form).
fn event_name(event_name: String, attributes: &Map<String, Value>) -> Option<String> {
    if !event_name.is_empty() {
        return Some(event_name);
    }
    attributes
        .get(k::EVENT_NAME_ATTRIBUTE)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What a GenAI event (from a log record, or a span event) says of its model
/// call: the user's message and the model's reply, when it carries content.
pub fn event_messages(
    name: &str,
    attributes: &Map<String, Value>,
    body: &Value,
) -> (Option<String>, Option<String>) {
    let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    match name {
        k::GEN_AI_USER_MESSAGE => {
            let content = body.get("content").unwrap_or(body);
            (non_empty(content_text(content)), None)
        }
        k::GEN_AI_CHOICE => {
            let first = body.get("index").and_then(Value::as_i64).unwrap_or(0) == 0;
            let reply = body
                .get("message")
                .and_then(|m| m.get("content"))
                .and_then(content_text);
            (None, if first { non_empty(reply) } else { None })
        }
        k::GEN_AI_OPERATION_DETAILS => {
            let of = |key: &str| {
                json_attr(attributes, key)
                    .or_else(|| body.get(key).cloned())
                    .map(|v| messages(&v))
                    .unwrap_or_default()
            };
            (
                last_of(&of(k::GEN_AI_INPUT_MESSAGES), Role::User),
                first_of(&of(k::GEN_AI_OUTPUT_MESSAGES), Role::Assistant),
            )
        }
        _ => (None, None),
    }
}

/// FNV-1a over the parts that make an event itself: a re-sent record has the
/// same digest, two different events of one span (almost surely) do not.
fn digest(parts: &[&[u8]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

/// Validates and converts every log record of a request.
pub fn map_logs(request: ExportLogsServiceRequest, project_header: Option<&str>) -> MappedEvents {
    let mut out = MappedEvents::default();
    let mut records = Vec::new();
    let _ = map_logs_with::<()>(request, project_header, &mut out.rejected, |r| {
        records.push(r);
        Ok(())
    });
    out.records = records;
    out
}

/// Validates and converts the log records of a request one at a time, handing
/// each event to `emit` and each rejection reason to `rejected`; stops at
/// `emit`'s first error.
pub fn map_logs_with<E>(
    request: ExportLogsServiceRequest,
    project_header: Option<&str>,
    rejected: &mut Vec<String>,
    mut emit: impl FnMut(EventRecord) -> Result<(), E>,
) -> Result<(), E> {
    // Taken apart as it is mapped, as spans are (`map::map_request_with`).
    for rl in request.resource_logs {
        let resource = rl
            .resource
            .map(|r| attributes_into_json(r.attributes))
            .unwrap_or_default();
        let project = resolve_project(project_header, &resource);
        for sl in rl.scope_logs {
            for (seq, record) in sl.log_records.into_iter().enumerate() {
                let mut attributes = attributes_into_json(record.attributes);
                let checked = (|| {
                    if project.len() > MAX_NAME_BYTES {
                        return Err(format!("project name longer than {MAX_NAME_BYTES} bytes"));
                    }
                    let name = event_name(record.event_name, &attributes)
                        .filter(|n| n.starts_with(k::GEN_AI_EVENT_PREFIX))
                        .ok_or_else(|| {
                            "not a GenAI event (only gen_ai.* events of a span are stored)"
                                .to_owned()
                        })?;
                    let trace_id = check_id::<16>(&record.trace_id, "trace id")?;
                    let span_id = check_id::<8>(&record.span_id, "span id")?;
                    Ok((name, trace_id, span_id))
                })();
                let (name, trace_id, span_id) = match checked {
                    Ok(v) => v,
                    Err(reason) => {
                        rejected.push(reason);
                        continue;
                    }
                };
                let time = match record.time_unix_nano {
                    0 => record.observed_time_unix_nano,
                    t => t,
                };
                let time_ns = i64::try_from(time).unwrap_or(i64::MAX);
                attributes.remove(k::EVENT_NAME_ATTRIBUTE);
                let body = record.body.map_or(Value::Null, any_into_json);
                let (user_message, reply) = event_messages(&name, &attributes, &body);
                let digest = digest(&[
                    &trace_id,
                    &span_id,
                    &time_ns.to_le_bytes(),
                    name.as_bytes(),
                    Value::Object(attributes.clone()).to_string().as_bytes(),
                    body.to_string().as_bytes(),
                ]);
                emit(EventRecord {
                    project: project.clone(),
                    trace_id,
                    facts: EventFacts {
                        span_id,
                        time_ns,
                        seq: seq as i64,
                        user_message,
                        reply,
                    },
                    name,
                    attributes,
                    body,
                    digest,
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn genai_events_give_the_user_message_and_the_reply() {
        let none = Map::new();
        assert_eq!(
            event_messages("gen_ai.user.message", &none, &json!({"content": "hi"})),
            (Some("hi".into()), None)
        );
        assert_eq!(
            event_messages(
                "gen_ai.choice",
                &none,
                &json!({"index": 0, "message": {"role": "assistant", "content": "hello"}})
            ),
            (None, Some("hello".into()))
        );
        assert_eq!(
            event_messages(
                "gen_ai.choice",
                &none,
                &json!({"index": 1, "message": {"content": "other"}})
            ),
            (None, None),
            "only the first choice is the reply"
        );
        let details: Map<String, Value> = json!({
            "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "q"}]}],
            "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "a"}]}],
        })
        .as_object()
        .cloned()
        .unwrap();
        assert_eq!(
            event_messages(k::GEN_AI_OPERATION_DETAILS, &details, &Value::Null),
            (Some("q".into()), Some("a".into()))
        );
        assert_eq!(
            event_messages("gen_ai.user.message", &none, &json!({})),
            (None, None),
            "content not captured"
        );
    }
}
