//! The context attribute model: what a scope sets, how a nested scope inherits
//! from the scope around it, and the span attributes that result.
//!
//! # Inheritance
//! A scope opened inside another overrides what it sets and inherits the rest:
//! - `session_id`, `user_id`, `prompt_template`, `prompt_template_version`: the
//!   inner value replaces the outer one;
//! - `metadata` and free-form `attributes`: merged key by key, the inner scope
//!   winning on a key both set (a shallow merge: nested objects are replaced whole);
//! - `tags`: the union, outer tags first, then the inner scope's new ones, without
//!   duplicates;
//! - `prompt_template_variables`: replaced whole, because variables belong to the
//!   template they fill.
//!
//! Leaving a scope restores the outer values exactly: nothing here mutates the
//! outer attributes, a nested scope computes a new value.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, Field, Result};
use crate::keys::{self, slot};

/// Upper bound on an id (session, user, template version) or a tag, in bytes.
pub const MAX_ID_BYTES: usize = 4 * 1024;
/// Upper bound on a JSON value (metadata, variables) once serialized, and on a
/// free-form string attribute, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Upper bound on a prompt template text, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

/// A JSON object, its keys kept in sorted order so that serialization is the same
/// whatever order the host language handed the keys over in.
pub type JsonObject = serde_json::Map<String, Value>;

/// A span attribute value: the types OpenTelemetry allows on a span.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A list of strings.
    StringArray(Vec<String>),
    /// A list of booleans.
    BoolArray(Vec<bool>),
    /// A list of integers.
    IntArray(Vec<i64>),
    /// A list of floats.
    FloatArray(Vec<f64>),
}

impl AttributeValue {
    /// Converts a JSON value into an attribute value, as a free-form attribute
    /// named `key`. Objects, nulls and mixed lists are not attribute values.
    pub fn from_json(key: &str, value: &Value) -> Result<Self> {
        let mixed = || Error::MixedArray {
            key: key.to_owned(),
        };
        Ok(match value {
            Value::String(s) => AttributeValue::String(s.clone()),
            Value::Bool(b) => AttributeValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => AttributeValue::Int(i),
                None => AttributeValue::Float(n.as_f64().ok_or_else(mixed)?),
            },
            Value::Array(items) => match items.first() {
                None => AttributeValue::StringArray(Vec::new()),
                Some(Value::String(_)) => AttributeValue::StringArray(
                    items
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned).ok_or_else(mixed))
                        .collect::<Result<_>>()?,
                ),
                Some(Value::Bool(_)) => AttributeValue::BoolArray(
                    items
                        .iter()
                        .map(|v| v.as_bool().ok_or_else(mixed))
                        .collect::<Result<_>>()?,
                ),
                Some(Value::Number(_)) if items.iter().all(|v| v.as_i64().is_some()) => {
                    AttributeValue::IntArray(items.iter().filter_map(Value::as_i64).collect())
                }
                Some(Value::Number(_)) => AttributeValue::FloatArray(
                    items
                        .iter()
                        .map(|v| v.as_f64().ok_or_else(mixed))
                        .collect::<Result<_>>()?,
                ),
                Some(_) => return Err(mixed()),
            },
            Value::Null | Value::Object(_) => return Err(mixed()),
        })
    }

    /// The value as JSON (what OpenInference JS keeps under its `attributes` key).
    pub fn to_json(&self) -> Value {
        match self {
            AttributeValue::String(s) => Value::from(s.as_str()),
            AttributeValue::Bool(b) => Value::from(*b),
            AttributeValue::Int(i) => Value::from(*i),
            AttributeValue::Float(f) => Value::from(*f),
            AttributeValue::StringArray(v) => Value::from(v.clone()),
            AttributeValue::BoolArray(v) => Value::from(v.clone()),
            AttributeValue::IntArray(v) => Value::from(v.clone()),
            AttributeValue::FloatArray(v) => Value::from(v.clone()),
        }
    }

    fn validate(&self, key: &str) -> Result<()> {
        if key.trim().is_empty() {
            return Err(Error::EmptyKey);
        }
        if keys::RESERVED.contains(&key) {
            return Err(Error::ReservedKey {
                key: key.to_owned(),
            });
        }
        let too_long = |len: usize| {
            (len > MAX_VALUE_BYTES).then_some(Error::TooLong {
                field: Field::Attributes,
                len,
                limit: MAX_VALUE_BYTES,
            })
        };
        let len = match self {
            AttributeValue::String(s) => s.len(),
            AttributeValue::StringArray(v) => v.iter().map(String::len).sum(),
            AttributeValue::Float(f) => return finite(Field::Attributes, *f),
            AttributeValue::FloatArray(v) => {
                return v.iter().try_for_each(|f| finite(Field::Attributes, *f));
            }
            _ => 0,
        };
        too_long(len).map_or(Ok(()), Err)
    }
}

fn finite(field: Field, f: f64) -> Result<()> {
    if f.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFiniteNumber {
            field,
            value: f.to_string(),
        })
    }
}

/// Attribute aliases for conventions other than OpenInference, opted into per
/// span processor so that one call serves every backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Aliases(u8);

impl Aliases {
    /// OpenInference keys only.
    pub const NONE: Aliases = Aliases(0);
    /// OpenTelemetry GenAI: `gen_ai.conversation.id` mirrors the session id.
    pub const GEN_AI: Aliases = Aliases(1);
    /// LangSmith: `langsmith.metadata.thread_id` / `user_id`.
    pub const LANGSMITH: Aliases = Aliases(2);
    /// Traceloop / OpenLLMetry association properties `session_id` / `user_id`.
    pub const TRACELOOP: Aliases = Aliases(4);
    /// Every alias.
    pub const ALL: Aliases = Aliases(7);
    /// The names [`Aliases::parse`] accepts.
    pub const NAMES: &'static str = "gen_ai, langsmith, traceloop";

    /// Parses alias names (`gen_ai`, `langsmith`, `traceloop`).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Aliases> {
        names.into_iter().try_fold(Aliases::NONE, |acc, name| {
            let one = match name.trim() {
                "gen_ai" => Aliases::GEN_AI,
                "langsmith" => Aliases::LANGSMITH,
                "traceloop" => Aliases::TRACELOOP,
                _ => {
                    return Err(Error::UnknownAlias {
                        name: name.to_owned(),
                        known: Aliases::NAMES,
                    });
                }
            };
            Ok(acc | one)
        })
    }

    /// Whether every alias in `other` is in `self`.
    pub fn contains(self, other: Aliases) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits, `0..=7`, for hosts that cache per alias set.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The alias set of [`Aliases::bits`]; unknown bits are ignored.
    pub fn from_bits(bits: u8) -> Aliases {
        Aliases(bits & Aliases::ALL.0)
    }
}

impl std::ops::BitOr for Aliases {
    type Output = Aliases;
    fn bitor(self, rhs: Aliases) -> Aliases {
        Aliases(self.0 | rhs.0)
    }
}

/// The attributes a session context carries: set by one scope, or (see
/// [`ContextAttributes::with_scope`]) in effect inside nested scopes.
///
/// Every setter validates, so a value of this type is always valid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextAttributes {
    session_id: Option<String>,
    user_id: Option<String>,
    metadata: Option<JsonText>,
    tags: Option<Vec<String>>,
    prompt_template: Option<String>,
    prompt_template_version: Option<String>,
    prompt_template_variables: Option<JsonText>,
    attributes: BTreeMap<String, AttributeValue>,
}

/// Checks an id: non-empty after trimming, at most [`MAX_ID_BYTES`]. The id is
/// kept exactly as given (not trimmed): it must match what other tools record.
pub fn validate_id(field: Field, id: &str) -> Result<()> {
    if id.len() > MAX_ID_BYTES {
        return Err(Error::TooLong {
            field,
            len: id.len(),
            limit: MAX_ID_BYTES,
        });
    }
    if id.trim().is_empty() {
        return Err(Error::Empty {
            field,
            shown: format!("{id:?}"),
        });
    }
    Ok(())
}

/// A JSON object and its serialized text, serialized once: the size limit needs
/// the text, and so do the span and context forms. The text is canonical
/// (`serde_json`'s compact form: keys sorted, no spaces), so two equal texts
/// are the same object. The object is built on first use when the text came
/// first ([`ContextAttributes::with_metadata_text`]): a scope opened at every
/// turn with new metadata only ever needs the text.
#[derive(Debug, Clone)]
struct JsonText {
    object: OnceLock<JsonObject>,
    text: String,
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl JsonText {
    /// Validates an object passed by a caller: finite numbers, size limit.
    fn validated(field: Field, object: JsonObject) -> Result<Self> {
        fn check_numbers(field: Field, value: &Value) -> Result<()> {
            match value {
                Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
                    Err(Error::NonFiniteNumber {
                        field,
                        value: n.to_string(),
                    })
                }
                Value::Array(items) => items.iter().try_for_each(|v| check_numbers(field, v)),
                Value::Object(map) => map.values().try_for_each(|v| check_numbers(field, v)),
                _ => Ok(()),
            }
        }
        object.values().try_for_each(|v| check_numbers(field, v))?;
        let json = JsonText::from_object(object);
        check_size(field, &json.text)?;
        Ok(json)
    }

    /// Wraps an object built from validated parts.
    fn from_object(object: JsonObject) -> Self {
        // Serializing a map of JSON values cannot fail.
        let text = serde_json::to_string(&object).unwrap_or_default();
        JsonText {
            object: OnceLock::from(object),
            text,
        }
    }

    /// Wraps canonical text (see [`ContextAttributes::with_metadata_text`]).
    fn from_text(text: String) -> Self {
        JsonText {
            object: OnceLock::new(),
            text,
        }
    }

    /// The object, parsed from the text on first use when it came as text.
    fn object(&self) -> &JsonObject {
        self.object
            .get_or_init(|| match serde_json::from_str(&self.text) {
                Ok(Value::Object(map)) => map,
                // the text was written as an object; unreachable unless a binding broke its promise
                _ => JsonObject::new(),
            })
    }

    /// The shallow merge of two objects, `inner` winning on a key both have,
    /// done on the texts: each value's text is kept byte for byte (a number
    /// parsed and written again could come back different), and neither
    /// object needs building.
    fn merged(outer: &JsonText, inner: &JsonText) -> JsonText {
        let raw = |text: &'_ str| -> BTreeMap<String, Box<RawValue>> {
            serde_json::from_str(text).unwrap_or_default()
        };
        let mut merged = raw(&outer.text);
        merged.extend(raw(&inner.text));
        // Serializing a map of raw JSON values cannot fail.
        JsonText::from_text(serde_json::to_string(&merged).unwrap_or_default())
    }
}

fn check_size(field: Field, text: &str) -> Result<()> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(Error::TooLong {
            field,
            len: text.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Parses text that must hold a JSON object.
pub fn parse_object(field: Field, json: &str) -> Result<JsonObject> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::NotAnObject {
            field,
            found: json_kind(&other),
        }),
        Err(e) => Err(Error::InvalidJson {
            field,
            reason: e.to_string(),
        }),
    }
}

/// The kind of a JSON value, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl ContextAttributes {
    /// Nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the session id.
    pub fn with_session_id(mut self, session_id: impl Into<String>) -> Result<Self> {
        let id = session_id.into();
        validate_id(Field::SessionId, &id)?;
        self.session_id = Some(id);
        Ok(self)
    }

    /// Sets the user id.
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Result<Self> {
        let id = user_id.into();
        validate_id(Field::UserId, &id)?;
        self.user_id = Some(id);
        Ok(self)
    }

    /// Sets the metadata object.
    pub fn with_metadata(mut self, metadata: JsonObject) -> Result<Self> {
        self.metadata = Some(JsonText::validated(Field::Metadata, metadata)?);
        Ok(self)
    }

    /// Sets the metadata from the JSON text of an object exactly as
    /// `serde_json::to_string` writes a [`JsonObject`]: compact, keys in
    /// sorted order, every number finite. For a binding that writes the text
    /// straight from its host's values, one pass instead of building the
    /// object first; the binding answers for the form, this checks the size
    /// (and, in debug builds, that the text is an object).
    pub fn with_metadata_text(mut self, text: String) -> Result<Self> {
        check_size(Field::Metadata, &text)?;
        debug_assert!(
            matches!(serde_json::from_str(&text), Ok(Value::Object(_))),
            "metadata text must be a JSON object: {text}"
        );
        self.metadata = Some(JsonText::from_text(text));
        Ok(self)
    }

    /// Sets the metadata from JSON text that must hold an object.
    pub fn with_metadata_json(self, json: &str) -> Result<Self> {
        let object = parse_object(Field::Metadata, json)?;
        self.with_metadata(object)
    }

    /// Sets the tags. Each tag is a non-empty string of at most [`MAX_ID_BYTES`];
    /// duplicates are dropped, first occurrence kept.
    pub fn with_tags<I, S>(mut self, tags: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut kept: Vec<String> = Vec::new();
        for tag in tags {
            let tag = tag.into();
            validate_id(Field::Tags, &tag)?;
            if !kept.contains(&tag) {
                kept.push(tag);
            }
        }
        self.tags = Some(kept);
        Ok(self)
    }

    /// Sets the prompt template text.
    pub fn with_prompt_template(mut self, template: impl Into<String>) -> Result<Self> {
        let template = template.into();
        if template.len() > MAX_TEMPLATE_BYTES {
            return Err(Error::TooLong {
                field: Field::PromptTemplate,
                len: template.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        self.prompt_template = Some(template);
        Ok(self)
    }

    /// Sets the prompt template version.
    pub fn with_prompt_template_version(mut self, version: impl Into<String>) -> Result<Self> {
        let version = version.into();
        validate_id(Field::PromptTemplateVersion, &version)?;
        self.prompt_template_version = Some(version);
        Ok(self)
    }

    /// Sets the prompt template variables.
    pub fn with_prompt_template_variables(mut self, variables: JsonObject) -> Result<Self> {
        self.prompt_template_variables = Some(JsonText::validated(
            Field::PromptTemplateVariables,
            variables,
        )?);
        Ok(self)
    }

    /// Sets one free-form attribute. Keys that have their own setter are refused.
    pub fn with_attribute(mut self, key: impl Into<String>, value: AttributeValue) -> Result<Self> {
        let key = key.into();
        value.validate(&key)?;
        self.attributes.insert(key, value);
        Ok(self)
    }

    /// The session id.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }
    /// The user id.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
    /// The metadata object. Set as text ([`Self::with_metadata_text`]), it is
    /// parsed on the first call (numbers as `serde_json` parses them).
    pub fn metadata(&self) -> Option<&JsonObject> {
        self.metadata.as_ref().map(JsonText::object)
    }
    /// The metadata as the JSON text spans and contexts carry.
    pub fn metadata_json(&self) -> Option<&str> {
        self.metadata.as_ref().map(|m| m.text.as_str())
    }
    /// The tags.
    pub fn tags(&self) -> Option<&[String]> {
        self.tags.as_deref()
    }
    /// The prompt template text.
    pub fn prompt_template(&self) -> Option<&str> {
        self.prompt_template.as_deref()
    }
    /// The prompt template version.
    pub fn prompt_template_version(&self) -> Option<&str> {
        self.prompt_template_version.as_deref()
    }
    /// The prompt template variables.
    pub fn prompt_template_variables(&self) -> Option<&JsonObject> {
        self.prompt_template_variables
            .as_ref()
            .map(JsonText::object)
    }
    /// The free-form attributes.
    pub fn attributes(&self) -> &BTreeMap<String, AttributeValue> {
        &self.attributes
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &ContextAttributes::default()
    }

    /// The attributes in effect inside `scope` when it opens within `self`
    /// (the rules are in the module documentation).
    pub fn with_scope(&self, scope: &ContextAttributes) -> ContextAttributes {
        fn pick<T: Clone>(inner: &Option<T>, outer: &Option<T>) -> Option<T> {
            inner.as_ref().or(outer.as_ref()).cloned()
        }
        let metadata = match (&self.metadata, &scope.metadata) {
            (Some(outer), Some(inner)) => Some(JsonText::merged(outer, inner)),
            (outer, inner) => pick(inner, outer),
        };
        let tags = match (&self.tags, &scope.tags) {
            (Some(outer), Some(inner)) => {
                let mut union = outer.clone();
                union.extend(inner.iter().filter(|t| !outer.contains(t)).cloned());
                Some(union)
            }
            (outer, inner) => pick(inner, outer),
        };
        let mut attributes = self.attributes.clone();
        attributes.extend(scope.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
        ContextAttributes {
            session_id: pick(&scope.session_id, &self.session_id),
            user_id: pick(&scope.user_id, &self.user_id),
            metadata,
            tags,
            prompt_template: pick(&scope.prompt_template, &self.prompt_template),
            prompt_template_version: pick(
                &scope.prompt_template_version,
                &self.prompt_template_version,
            ),
            prompt_template_variables: pick(
                &scope.prompt_template_variables,
                &self.prompt_template_variables,
            ),
            attributes,
        }
    }

    /// The span attributes these context attributes stamp, OpenInference keys
    /// first, then the opted-in aliases, then the free-form attributes in key order.
    pub fn span_attributes(&self, aliases: Aliases) -> Vec<(Cow<'static, str>, AttributeValue)> {
        let mut out: Vec<(Cow<'static, str>, AttributeValue)> = Vec::new();
        let mut push = |key: &'static str, value: AttributeValue| {
            out.push((Cow::Borrowed(key), value));
        };
        if let Some(id) = &self.session_id {
            push(keys::SESSION_ID, AttributeValue::String(id.clone()));
        }
        if let Some(id) = &self.user_id {
            push(keys::USER_ID, AttributeValue::String(id.clone()));
        }
        if let Some(metadata) = &self.metadata {
            push(
                keys::METADATA,
                AttributeValue::String(metadata.text.clone()),
            );
        }
        if let Some(tags) = &self.tags {
            push(keys::TAG_TAGS, AttributeValue::StringArray(tags.clone()));
        }
        if let Some(template) = &self.prompt_template {
            push(
                keys::PROMPT_TEMPLATE_TEMPLATE,
                AttributeValue::String(template.clone()),
            );
        }
        if let Some(version) = &self.prompt_template_version {
            push(
                keys::PROMPT_TEMPLATE_VERSION,
                AttributeValue::String(version.clone()),
            );
        }
        if let Some(variables) = &self.prompt_template_variables {
            push(
                keys::PROMPT_TEMPLATE_VARIABLES,
                AttributeValue::String(variables.text.clone()),
            );
        }
        let alias_pairs: [(Aliases, &'static str, &Option<String>); 5] = [
            (
                Aliases::GEN_AI,
                keys::GEN_AI_CONVERSATION_ID,
                &self.session_id,
            ),
            (
                Aliases::LANGSMITH,
                keys::LANGSMITH_THREAD_ID,
                &self.session_id,
            ),
            (Aliases::LANGSMITH, keys::LANGSMITH_USER_ID, &self.user_id),
            (
                Aliases::TRACELOOP,
                keys::TRACELOOP_SESSION_ID,
                &self.session_id,
            ),
            (Aliases::TRACELOOP, keys::TRACELOOP_USER_ID, &self.user_id),
        ];
        for (alias, key, value) in alias_pairs {
            if let (true, Some(v)) = (aliases.contains(alias), value) {
                push(key, AttributeValue::String(v.clone()));
            }
        }
        out.extend(
            self.attributes
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), v.clone())),
        );
        out
    }

    /// The values OpenInference keeps in a host's OpenTelemetry context for these
    /// attributes, so that OpenInference's own packages read what we set.
    pub fn to_context_values(&self) -> ContextValues {
        ContextValues {
            session_id: self.session_id.clone(),
            user_id: self.user_id.clone(),
            metadata: self.metadata.as_ref().map(|m| m.text.clone()),
            tags: self.tags.clone(),
            prompt_template: self.prompt_template.clone(),
            prompt_template_version: self.prompt_template_version.clone(),
            prompt_template_variables: self
                .prompt_template_variables
                .as_ref()
                .map(|v| v.text.clone()),
            attributes: (!self.attributes.is_empty()).then(|| {
                let object: JsonObject = self
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                JsonText::from_object(object).text
            }),
        }
    }

    /// Reads values another package (OpenInference) left in a host's context.
    ///
    /// Lenient, because this runs where the host must not fail: a value that does
    /// not validate is left out and reported in the returned errors for the host
    /// to log.
    pub fn from_context_values(values: &ContextValues) -> (ContextAttributes, Vec<Error>) {
        let mut errors = Vec::new();
        let mut attrs = ContextAttributes::new();
        fn apply<T>(
            attrs: &mut ContextAttributes,
            errors: &mut Vec<Error>,
            value: Option<T>,
            set: impl FnOnce(ContextAttributes, T) -> Result<ContextAttributes>,
        ) {
            if let Some(value) = value {
                match set(attrs.clone(), value) {
                    Ok(next) => *attrs = next,
                    Err(e) => errors.push(e),
                }
            }
        }
        let v = values;
        apply(&mut attrs, &mut errors, v.session_id.as_deref(), |a, x| {
            a.with_session_id(x)
        });
        apply(&mut attrs, &mut errors, v.user_id.as_deref(), |a, x| {
            a.with_user_id(x)
        });
        apply(&mut attrs, &mut errors, v.metadata.as_deref(), |a, x| {
            a.with_metadata_json(x)
        });
        apply(&mut attrs, &mut errors, v.tags.as_ref(), |a, x| {
            a.with_tags(x.iter().cloned())
        });
        apply(
            &mut attrs,
            &mut errors,
            v.prompt_template.as_deref(),
            |a, x| a.with_prompt_template(x),
        );
        apply(
            &mut attrs,
            &mut errors,
            v.prompt_template_version.as_deref(),
            |a, x| a.with_prompt_template_version(x),
        );
        apply(
            &mut attrs,
            &mut errors,
            v.prompt_template_variables.as_deref(),
            |a, x| {
                parse_object(Field::PromptTemplateVariables, x)
                    .and_then(|o| a.with_prompt_template_variables(o))
            },
        );
        apply(&mut attrs, &mut errors, v.attributes.as_deref(), |a, x| {
            let object = parse_object(Field::Attributes, x)?;
            object.iter().try_fold(a, |a, (k, v)| {
                a.with_attribute(k.clone(), AttributeValue::from_json(k, v)?)
            })
        });
        (attrs, errors)
    }
}

/// Context attributes as OpenInference keeps them in a host's OpenTelemetry
/// context: strings, JSON text for objects, and a list for tags (the Python
/// shape; OpenInference JS keeps tags as JSON text, which the Node binding
/// converts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextValues {
    /// `session.id`.
    pub session_id: Option<String>,
    /// `user.id`.
    pub user_id: Option<String>,
    /// `metadata`, JSON object text.
    pub metadata: Option<String>,
    /// `tag.tags`.
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

impl ContextValues {
    /// The values in the order of [`keys::CONTEXT_KEYS`] (`None` where unset),
    /// text made a host value by `text` and the tags by `tags` (a list in
    /// Python, JSON text in JavaScript). The one place a binding learns which
    /// value goes where.
    pub fn into_slots<T>(
        self,
        mut text: impl FnMut(String) -> T,
        tags: impl FnOnce(Vec<String>) -> T,
    ) -> [Option<T>; keys::CONTEXT_KEYS.len()] {
        let mut slots: [Option<T>; keys::CONTEXT_KEYS.len()] = std::array::from_fn(|_| None);
        slots[slot::SESSION_ID] = self.session_id.map(&mut text);
        slots[slot::USER_ID] = self.user_id.map(&mut text);
        slots[slot::METADATA] = self.metadata.map(&mut text);
        slots[slot::TAG_TAGS] = self.tags.map(tags);
        slots[slot::PROMPT_TEMPLATE_TEMPLATE] = self.prompt_template.map(&mut text);
        slots[slot::PROMPT_TEMPLATE_VERSION] = self.prompt_template_version.map(&mut text);
        slots[slot::PROMPT_TEMPLATE_VARIABLES] = self.prompt_template_variables.map(&mut text);
        slots[slot::ATTRIBUTES] = self.attributes.map(&mut text);
        slots
    }

    /// The values held in `slots`, in the order of [`keys::CONTEXT_KEYS`]
    /// (slots past the end are unset): `text` reads the value of the slot it is
    /// given, `tags` reads the tags; either may decline (`None`), and the value
    /// is then unset.
    pub fn from_slots<T>(
        slots: impl IntoIterator<Item = Option<T>>,
        mut text: impl FnMut(usize, T) -> Option<String>,
        mut tags: impl FnMut(T) -> Option<Vec<String>>,
    ) -> ContextValues {
        let mut values = ContextValues::default();
        for (i, value) in slots.into_iter().enumerate() {
            let Some(value) = value else { continue };
            if i == slot::TAG_TAGS {
                values.tags = tags(value);
                continue;
            }
            let field = match i {
                slot::SESSION_ID => &mut values.session_id,
                slot::USER_ID => &mut values.user_id,
                slot::METADATA => &mut values.metadata,
                slot::PROMPT_TEMPLATE_TEMPLATE => &mut values.prompt_template,
                slot::PROMPT_TEMPLATE_VERSION => &mut values.prompt_template_version,
                slot::PROMPT_TEMPLATE_VARIABLES => &mut values.prompt_template_variables,
                slot::ATTRIBUTES => &mut values.attributes,
                _ => continue,
            };
            *field = text(i, value);
        }
        values
    }
}
