//! `openinference-session` for Node: the napi binding of the core.
//!
//! Thin by design, like the Python binding: it turns JavaScript values into core
//! types and core values back into JavaScript ones. The rules (validation,
//! inheritance, span attributes) live in the `openinference-session` crate; the
//! context operations live in JavaScript, in the OpenTelemetry context
//! (AsyncLocalStorage), never in Rust state: promises of many sessions share one
//! thread.
//!
//! The TypeScript wrapper checks the JavaScript types of the arguments (so that
//! a wrong type is a `TypeError` naming the argument) and hands objects over as
//! JSON text; this crate validates the values with the core.
//!
//! What crosses is text. A napi call costs 0.1 to 0.3 µs whatever it does, each
//! value passed or returned is more napi calls, and a native object returned to
//! JavaScript (a wrapped class) costs about a microsecond to create and collect:
//! more than a whole scope may. So a scope's arguments cross as one JSON object,
//! what a scope holds in JavaScript is its *context values* (the strings
//! OpenInference JS keeps under its context keys) as one JSON array, and span
//! attributes come back as one JSON object, computed once per context.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use openinference_session::attributes::{ContextValues, parse_object, validate_id};
use openinference_session::keys::{self, slot};
use openinference_session::{Aliases, AttributeValue, ContextAttributes, Field};
use serde::Deserialize;

mod error;

use error::CoreResultExt;

/// Values another package left under OpenInference's context keys, already
/// known to be strings (the wrapper reports other types itself). Tags may be
/// OpenInference JS's JSON text or a list.
#[napi(object)]
#[derive(Default)]
pub struct ForeignValues {
    /// `session.id`.
    pub session_id: Option<String>,
    /// `user.id`.
    pub user_id: Option<String>,
    /// `metadata`, JSON object text.
    pub metadata: Option<String>,
    /// `tag.tags` as JSON text (OpenInference JS).
    pub tags_json: Option<String>,
    /// `tag.tags` as a list.
    pub tags: Option<Vec<String>>,
    /// `llm.prompt_template.template`.
    pub prompt_template: Option<String>,
    /// `llm.prompt_template.version`.
    pub prompt_template_version: Option<String>,
    /// `llm.prompt_template.variables`, JSON object text.
    pub prompt_template_variables: Option<String>,
    /// OpenInference JS's free-form `attributes`, JSON object text.
    pub attributes: Option<String>,
}

/// The result of reading foreign values.
#[napi(object)]
pub struct ForeignRead {
    /// The context values of what validated, as JSON text (see
    /// [`effective`]); `None` when nothing did.
    pub values_json: Option<String>,
    /// Why values were left out, for the wrapper to log.
    pub problems: Vec<String>,
}

/// What one scope sets, as the TypeScript wrapper hands it over: one JSON
/// object whose JavaScript types are checked already, objects inside it as
/// JSON text (the wrapper serializes them when the scope opens, so that a
/// later change to the caller's object does not leak into the scope).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Spec {
    session_id: Option<String>,
    user_id: Option<String>,
    metadata_json: Option<String>,
    tags: Option<Vec<String>>,
    prompt_template: Option<String>,
    prompt_template_version: Option<String>,
    prompt_template_variables_json: Option<String>,
    attributes_json: Option<String>,
}

/// The attributes of one scope, validated by the core.
fn build_scope(spec_json: &str) -> Result<ContextAttributes> {
    let spec: Spec = serde_json::from_str(spec_json)
        .map_err(|e| Error::new(Status::InvalidArg, format!("invalid scope: {e}")))?;
    let build = || -> openinference_session::Result<ContextAttributes> {
        let mut a = ContextAttributes::new();
        if let Some(id) = spec.session_id {
            a = a.with_session_id(id)?;
        }
        if let Some(id) = spec.user_id {
            a = a.with_user_id(id)?;
        }
        if let Some(json) = &spec.metadata_json {
            a = a.with_metadata_json(json)?;
        }
        if let Some(tags) = spec.tags {
            a = a.with_tags(tags)?;
        }
        if let Some(template) = spec.prompt_template {
            a = a.with_prompt_template(template)?;
        }
        if let Some(version) = spec.prompt_template_version {
            a = a.with_prompt_template_version(version)?;
        }
        if let Some(json) = &spec.prompt_template_variables_json {
            let variables = parse_object(Field::PromptTemplateVariables, json)?;
            a = a.with_prompt_template_variables(variables)?;
        }
        if let Some(json) = &spec.attributes_json {
            let attributes = parse_object(Field::Attributes, json)?;
            a = attributes.iter().try_fold(a, |a, (key, value)| {
                a.with_attribute(key.clone(), AttributeValue::from_json(key, value)?)
            })?;
        }
        Ok(a)
    };
    build().into_napi()
}

/// The context values of `attrs` as JSON text: an array of OpenInference JS's
/// values (strings; metadata, tags, variables and attributes as JSON text;
/// `null` where unset) in the order of the core's `CONTEXT_KEYS`.
fn values_json(attrs: &ContextAttributes) -> String {
    let values = attrs
        .to_context_values()
        .into_slots(Some, |t| serde_json::to_string(&t).ok());
    serde_json::to_string(&values.map(Option::flatten)).unwrap_or_else(|_| "[]".to_owned())
}

/// The context values of [`values_json`] text, one per slot.
fn parse_values(json: &str) -> Result<Vec<Option<String>>> {
    serde_json::from_str(json)
        .map_err(|e| Error::new(Status::InvalidArg, format!("invalid context values: {e}")))
}

/// The attributes that [`values_json`] text stands for.
fn from_values_json(json: &str) -> Result<ContextAttributes> {
    let values = ContextValues::from_slots(
        parse_values(json)?,
        |_, text| Some(text),
        |tags| serde_json::from_str::<Vec<String>>(&tags).ok(),
    );
    // Values this binding wrote came from valid attributes: they read back whole.
    Ok(ContextAttributes::from_context_values(&values).0)
}

/// The span attributes of `attrs` as JSON text of a flat array, key then
/// value, in the core's order: `["session.id","conv-42","tag.tags",["a"]]`.
/// Flat because JavaScript consumes it as is, one `setAttribute` per pair,
/// without building an object per scope.
fn span_json(attrs: &ContextAttributes, aliases: Aliases) -> String {
    fn write<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
        // Strings, numbers, booleans and lists of them always serialize.
        let _ = serde_json::to_writer(&mut *out, value);
    }
    let mut out = Vec::with_capacity(128);
    out.push(b'[');
    for (i, (key, value)) in attrs.span_attributes(aliases).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(&mut out, key.as_ref());
        out.push(b',');
        match value {
            AttributeValue::String(v) => write(&mut out, v),
            AttributeValue::Bool(v) => write(&mut out, v),
            AttributeValue::Int(v) => write(&mut out, v),
            AttributeValue::Float(v) => write(&mut out, v),
            AttributeValue::StringArray(v) => write(&mut out, v),
            AttributeValue::BoolArray(v) => write(&mut out, v),
            AttributeValue::IntArray(v) => write(&mut out, v),
            AttributeValue::FloatArray(v) => write(&mut out, v),
        }
    }
    out.push(b']');
    // serde_json writes UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Checks a session id.
#[napi]
pub fn check_session_id(session_id: String) -> Result<()> {
    validate_id(Field::SessionId, &session_id).into_napi()
}

/// Checks what one scope sets (JSON text, see the wrapper's `ScopeInit`),
/// building nothing: [`effective`] builds it when it is first needed.
#[napi]
pub fn check_scope(spec_json: String) -> Result<()> {
    build_scope(&spec_json).map(drop)
}

/// What is in effect when the scope `spec_json` opens within the scope whose
/// context values are `outer_values_json` (the core's inheritance rule), as
/// two lines: the context values, then the span attributes without aliases
/// (see [`span_json`]).
#[napi]
pub fn effective(outer_values_json: Option<String>, spec_json: String) -> Result<String> {
    let scope = build_scope(&spec_json)?;
    let attrs = match outer_values_json {
        Some(outer) => from_values_json(&outer)?.with_scope(&scope),
        None => scope,
    };
    // JSON text never holds a raw newline, so it separates the two parts.
    Ok(format!(
        "{}\n{}",
        values_json(&attrs),
        span_json(&attrs, Aliases::NONE)
    ))
}

/// The span attributes that context values stamp with the alias set
/// `aliases` (bits from [`parse_aliases`]), as [`span_json`] writes them.
#[napi]
pub fn span_attributes_json(values: String, aliases: u32) -> Result<String> {
    let bits = u8::try_from(aliases).unwrap_or(0);
    Ok(span_json(
        &from_values_json(&values)?,
        Aliases::from_bits(bits),
    ))
}

/// The context values less one attribute, named by its slot in the values
/// (`clearSession` and friends); the prompt template's slot clears its text,
/// version and variables.
#[napi]
pub fn without(values: String, slot: u32) -> Result<String> {
    let mut values = parse_values(&values)?;
    let template = [
        slot::PROMPT_TEMPLATE_TEMPLATE,
        slot::PROMPT_TEMPLATE_VERSION,
        slot::PROMPT_TEMPLATE_VARIABLES,
    ];
    let one = [slot as usize];
    let cleared: &[usize] = if slot as usize == slot::PROMPT_TEMPLATE_TEMPLATE {
        &template
    } else {
        &one
    };
    for &i in cleared {
        if let Some(v) = values.get_mut(i) {
            *v = None;
        }
    }
    let text = serde_json::to_string(&values).unwrap_or_default();
    Ok(values_json(&from_values_json(&text)?))
}

/// Reads values another package (OpenInference) keeps under its context keys.
/// Lenient: never throws for a bad value, reports it instead.
#[napi]
pub fn read_foreign(values: ForeignValues) -> ForeignRead {
    let mut problems = Vec::new();
    let tags = match (values.tags, values.tags_json) {
        (Some(list), _) => Some(list),
        (None, Some(json)) => match serde_json::from_str::<Vec<String>>(&json) {
            Ok(list) => Some(list),
            Err(e) => {
                problems.push(format!("tag.tags is not a JSON list of strings: {e}"));
                None
            }
        },
        (None, None) => None,
    };
    let context_values = ContextValues {
        session_id: values.session_id,
        user_id: values.user_id,
        metadata: values.metadata,
        tags,
        prompt_template: values.prompt_template,
        prompt_template_version: values.prompt_template_version,
        prompt_template_variables: values.prompt_template_variables,
        attributes: values.attributes,
    };
    let (attrs, errors) = ContextAttributes::from_context_values(&context_values);
    problems.extend(errors.iter().map(error::message));
    ForeignRead {
        values_json: (!attrs.is_empty()).then(|| values_json(&attrs)),
        problems,
    }
}

/// Parses alias names (`gen_ai`, `langsmith`, `traceloop`) into bits.
#[napi]
pub fn parse_aliases(names: Vec<String>) -> Result<u32> {
    Aliases::parse(names.iter().map(String::as_str))
        .map(|a| u32::from(a.bits()))
        .into_napi()
}

/// The largest id (session, user, template version) or tag, in bytes.
#[napi]
pub const MAX_ID_BYTES: u32 = openinference_session::MAX_ID_BYTES as u32;

/// The largest metadata or template variables (serialized JSON) or free-form
/// string attribute, in bytes.
#[napi]
pub const MAX_VALUE_BYTES: u32 = openinference_session::MAX_VALUE_BYTES as u32;

/// The largest prompt template, in bytes.
#[napi]
pub const MAX_TEMPLATE_BYTES: u32 = openinference_session::MAX_TEMPLATE_BYTES as u32;

/// Where each attribute's value sits in the context values.
#[napi(object)]
pub struct ContextSlots {
    /// `session.id`.
    pub session_id: u32,
    /// `user.id`.
    pub user_id: u32,
    /// `metadata`.
    pub metadata: u32,
    /// `tag.tags`.
    pub tags: u32,
    /// `llm.prompt_template.template` (clearing it clears the version and
    /// variables too).
    pub prompt_template: u32,
    /// `llm.prompt_template.version`.
    pub prompt_template_version: u32,
    /// `llm.prompt_template.variables`.
    pub prompt_template_variables: u32,
    /// OpenInference JS's free-form `attributes`.
    pub attributes: u32,
}

/// The core's context and baggage keys, which the wrapper reads once when it
/// loads.
#[napi(object)]
pub struct CoreKeys {
    /// OpenInference's context attribute names, in the order of the context
    /// values.
    pub context_keys: Vec<String>,
    /// Where each attribute's value sits in `context_keys`.
    pub slots: ContextSlots,
    /// The W3C Baggage entry carrying the session id (opt-in propagation).
    pub baggage_session_id: String,
    /// The W3C Baggage entry carrying the user id.
    pub baggage_user_id: String,
}

/// The core's context and baggage keys (see [`CoreKeys`]).
#[napi]
pub fn core_keys() -> CoreKeys {
    let at = |slot: usize| slot as u32;
    CoreKeys {
        context_keys: keys::CONTEXT_KEYS.iter().map(|k| (*k).to_owned()).collect(),
        slots: ContextSlots {
            session_id: at(slot::SESSION_ID),
            user_id: at(slot::USER_ID),
            metadata: at(slot::METADATA),
            tags: at(slot::TAG_TAGS),
            prompt_template: at(slot::PROMPT_TEMPLATE_TEMPLATE),
            prompt_template_version: at(slot::PROMPT_TEMPLATE_VERSION),
            prompt_template_variables: at(slot::PROMPT_TEMPLATE_VARIABLES),
            attributes: at(slot::ATTRIBUTES),
        },
        baggage_session_id: keys::BAGGAGE_SESSION_ID.to_owned(),
        baggage_user_id: keys::BAGGAGE_USER_ID.to_owned(),
    }
}
