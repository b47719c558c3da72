//! Phoenix's span search, `GET /v1/projects/{project}/spans`: a project's
//! spans by trace, span id, parent (`parent_id=null`: roots, which is how
//! Phoenix's clients read a session's turns), name, kind, status, start time
//! and attribute values, newest first.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::AppState;
use crate::api::{Lists, blocking, page_within};
use crate::error::{ApiError, ErrorBody};
use crate::ids;
use crate::model::{Page, ProjectSpan, SpanContext, SpanRow, SpanRowEvent, SpanStatus, unhex};
use crate::request::{Params, QueryParams};
use crate::store::queries::UNKNOWN_KIND;
use crate::store::{ParentFilter, SpanQuery};

/// The span kinds a search may ask for (Phoenix's, and OpenInference's
/// `PROMPT`); `UNKNOWN` is a span without one.
pub const SPAN_KINDS: &[&str] = &[
    "LLM",
    "CHAIN",
    "TOOL",
    "RETRIEVER",
    "EMBEDDING",
    "AGENT",
    "RERANKER",
    "GUARDRAIL",
    "EVALUATOR",
    "PROMPT",
    UNKNOWN_KIND,
];

/// The attribute that is a span's kind, shown as `span_kind` instead.
const KIND_ATTRIBUTE: &str = "openinference.span.kind";

/// Default page size (Phoenix's).
const DEFAULT_SPAN_LIMIT: usize = 100;
/// Largest page (Phoenix's).
const MAX_SPAN_LIMIT: usize = 1000;

fn ids_of<const N: usize>(key: &str, values: Vec<String>) -> Result<Vec<[u8; N]>, ApiError> {
    values
        .iter()
        .map(|v| {
            unhex(v).and_then(|b| b.try_into().ok()).ok_or_else(|| {
                ApiError::bad_parameter(key, format!("{key} {v:?} is not {} hex digits", 2 * N))
            })
        })
        .collect()
}

/// Upper-cased values that must be among `valid`.
fn one_of(key: &str, values: Vec<String>, valid: &[&str]) -> Result<Vec<String>, ApiError> {
    let upper: Vec<String> = values.iter().map(|v| v.to_ascii_uppercase()).collect();
    let invalid: Vec<&String> = upper
        .iter()
        .filter(|v| !valid.contains(&v.as_str()))
        .collect();
    if !invalid.is_empty() {
        return Err(ApiError::bad_parameter(
            key,
            format!(
                "invalid {key} values {invalid:?}: each must be one of {}",
                valid.join(", ")
            ),
        ));
    }
    Ok(upper)
}

/// `key:value`, the value read as JSON (a number, `true`/`false`, a quoted
/// string) or else as text; split at the first `:`.
pub fn parse_attribute(filter: &str) -> Result<(String, Value), ApiError> {
    let bad = |why: String| ApiError::bad_parameter("attribute", why);
    let (key, value) = filter
        .split_once(':')
        .ok_or_else(|| bad(format!("invalid attribute {filter:?}: expected key:value")))?;
    if key.is_empty() {
        return Err(bad(
            "invalid attribute: the key must not be empty".to_owned()
        ));
    }
    if value.is_empty() {
        return Err(bad(
            "invalid attribute: the value must not be empty".to_owned()
        ));
    }
    let parsed =
        serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    match parsed {
        Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok((key.to_owned(), parsed)),
        _ => Err(bad(format!(
            "invalid attribute value {value:?}: a string, number or boolean (quote a string that \
             looks like one: key:\"12345\")"
        ))),
    }
}

impl From<ProjectSpan> for SpanRow {
    fn from(found: ProjectSpan) -> Self {
        let span = found.span;
        let mut attributes = span.attributes;
        let span_kind = match attributes.remove(KIND_ATTRIBUTE) {
            Some(Value::String(kind)) if !kind.trim().is_empty() => {
                kind.trim().to_ascii_uppercase()
            }
            _ => UNKNOWN_KIND.to_owned(),
        };
        let events = span
            .events
            .into_iter()
            .map(|e| SpanRowEvent {
                name: e["name"].as_str().unwrap_or_default().to_owned(),
                timestamp: e["time"].as_str().unwrap_or_default().to_owned(),
                attributes: e["attributes"].as_object().cloned().unwrap_or_default(),
            })
            .collect();
        SpanRow {
            id: ids::span(&found.trace_id, &span.span_id),
            name: span.name,
            context: SpanContext {
                trace_id: found.trace_id,
                span_id: span.span_id,
            },
            span_kind,
            parent_id: span.parent_span_id,
            start_time: span.start_time,
            end_time: span.end_time,
            status_code: span.status.upper_name().to_owned(),
            status_message: span.status_message,
            attributes,
            events,
        }
    }
}

/// `GET /v1/projects/{project}/spans`.
#[utoipa::path(
    get, path = "/v1/projects/{project}/spans", operation_id = "getSpans", tag = "phoenix",
    params(
        ("project" = String, Path, description = "Project name or id"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("start_time" = Option<String>, Query, description = "Spans that start at or after this time (ISO 8601; without an offset, UTC)"),
        ("end_time" = Option<String>, Query, description = "Spans that start before this time"),
        ("trace_id" = Option<Vec<String>>, Query, description = "Spans of these traces (32 hex digits; repeat the parameter)"),
        ("span_id" = Option<Vec<String>>, Query, description = "Spans with these ids (16 hex digits)"),
        ("parent_id" = Option<String>, Query, description = "Children of this span; `null`: root spans"),
        ("name" = Option<Vec<String>>, Query, description = "Spans with these names"),
        ("span_kind" = Option<Vec<String>>, Query, description = "Spans of these OpenInference kinds (LLM, CHAIN, TOOL, RETRIEVER, EMBEDDING, AGENT, RERANKER, GUARDRAIL, EVALUATOR, PROMPT, UNKNOWN)"),
        ("status_code" = Option<Vec<String>>, Query, description = "Spans with these statuses (OK, ERROR, UNSET)"),
        ("attribute" = Option<Vec<String>>, Query, description = "`key:value`: spans whose attribute `key` is the value (JSON: a number, true/false, a quoted string; else text); repeat to require several"),
    ),
    responses(
        (status = 200, description = "A page of spans, newest first", body = Page<SpanRow>),
        (status = 400, description = "A parameter is unknown or malformed (it is named)", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Path(project): Path<String>,
    params: Params,
) -> Result<Json<Page<SpanRow>>, ApiError> {
    let (params, mut lists) = Lists::split(
        params,
        &[
            "trace_id",
            "span_id",
            "name",
            "span_kind",
            "status_code",
            "attribute",
        ],
    )?;
    let p = QueryParams::new(
        params,
        &["limit", "cursor", "start_time", "end_time", "parent_id"],
        false,
    )?;
    let parent = match p.text("parent_id")?.as_deref() {
        None => None,
        Some("null") => Some(ParentFilter::Root),
        Some(id) => Some(ParentFilter::Of(
            ids_of::<8>("parent_id", vec![id.to_owned()])?[0],
        )),
    };
    let names: Vec<&str> = SpanStatus::UPPER.iter().map(|(_, n)| *n).collect();
    let statuses = one_of("status_code", lists.take("status_code"), &names)?
        .iter()
        .filter_map(|s| {
            SpanStatus::UPPER
                .iter()
                .find(|(_, n)| n == s)
                .map(|(st, _)| *st)
        })
        .collect();
    let query = SpanQuery {
        page: page_within(&p, DEFAULT_SPAN_LIMIT, MAX_SPAN_LIMIT)?,
        start_ns: p.time("start_time")?,
        end_ns: p.time("end_time")?,
        trace_ids: ids_of("trace_id", lists.take("trace_id"))?,
        span_ids: ids_of("span_id", lists.take("span_id"))?,
        parent,
        names: lists.take("name"),
        kinds: one_of("span_kind", lists.take("span_kind"), SPAN_KINDS)?,
        statuses,
        attributes: lists
            .take("attribute")
            .iter()
            .map(|a| parse_attribute(a))
            .collect::<Result<_, _>>()?,
    };
    let project = ids::project_name(&project);
    let page = blocking(&state, move |s| s.spans(&project, &query)).await?;
    Ok(Json(Page {
        data: page.data.into_iter().map(SpanRow::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters_read_json_else_text() {
        let ok = |f: &str| parse_attribute(f).unwrap();
        assert_eq!(ok("user.id:12345"), ("user.id".into(), Value::from(12345)));
        assert_eq!(
            ok("user.id:\"12345\""),
            ("user.id".into(), Value::from("12345"))
        );
        assert_eq!(ok("flag:true"), ("flag".into(), Value::from(true)));
        assert_eq!(
            ok("session.id:sess:abc:1"),
            ("session.id".into(), Value::from("sess:abc:1"))
        );
        for bad in ["novalue", ":x", "k:", "k:[1]", "k:null", "k:{}"] {
            let e = parse_attribute(bad).unwrap_err();
            assert_eq!(e.parameter.as_deref(), Some("attribute"), "{bad}");
        }
    }
}
