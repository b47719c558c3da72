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

use napi::bindgen_prelude::*;
use napi_derive::napi;
use openinference_session::attributes::{ContextValues, parse_object};
use openinference_session::{Aliases, AttributeValue, ContextAttributes, Field};

mod error;

use error::CoreResultExt;

/// What one scope sets, as the TypeScript wrapper hands it over: objects as
/// JSON text, every field optional.
#[napi(object)]
#[derive(Default)]
pub struct ScopeSpec {
    /// The session id.
    pub session_id: Option<String>,
    /// The user id.
    pub user_id: Option<String>,
    /// The metadata, JSON object text.
    pub metadata_json: Option<String>,
    /// The tags.
    pub tags: Option<Vec<String>>,
    /// The prompt template text.
    pub prompt_template: Option<String>,
    /// The prompt template version.
    pub prompt_template_version: Option<String>,
    /// The prompt template variables, JSON object text.
    pub prompt_template_variables_json: Option<String>,
    /// Free-form span attributes, JSON object text.
    pub attributes_json: Option<String>,
}

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

/// The result of reading foreign values: the attributes that validate (none
/// when nothing does) and a message for each value left out.
#[napi]
pub struct ForeignRead {
    attributes: Option<ContextAttributes>,
    problems: Vec<String>,
}

#[napi]
impl ForeignRead {
    /// The attributes read, none when no value validates.
    #[napi(getter)]
    pub fn attributes(&self) -> Option<Attributes> {
        self.attributes.clone().map(|inner| Attributes { inner })
    }

    /// Why values were left out, for the wrapper to log.
    #[napi(getter)]
    pub fn problems(&self) -> Vec<String> {
        self.problems.clone()
    }
}

/// Context attributes, validated: what one scope sets, or what is in effect
/// inside nested scopes. Immutable; the wrapper caches its JavaScript forms.
#[napi]
pub struct Attributes {
    inner: ContextAttributes,
}

fn free_form(a: ContextAttributes, json: &str) -> openinference_session::Result<ContextAttributes> {
    let object = parse_object(Field::Attributes, json)?;
    object.iter().try_fold(a, |a, (key, value)| {
        a.with_attribute(key.clone(), AttributeValue::from_json(key, value)?)
    })
}

#[napi]
impl Attributes {
    /// A scope that sets the session id only: the hot path of `withSession`.
    #[napi(factory)]
    pub fn session(session_id: String) -> Result<Attributes> {
        let inner = ContextAttributes::new()
            .with_session_id(session_id)
            .into_napi()?;
        Ok(Attributes { inner })
    }

    /// A scope that sets what `spec` holds.
    #[napi(factory)]
    pub fn scope(spec: ScopeSpec) -> Result<Attributes> {
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
                let object = parse_object(Field::PromptTemplateVariables, json)?;
                a = a.with_prompt_template_variables(object)?;
            }
            if let Some(json) = &spec.attributes_json {
                a = free_form(a, json)?;
            }
            Ok(a)
        };
        Ok(Attributes {
            inner: build().into_napi()?,
        })
    }

    /// Reads values another package (OpenInference) keeps under its context
    /// keys. Lenient: never throws for a bad value, reports it instead.
    #[napi]
    pub fn from_context_values(values: ForeignValues) -> ForeignRead {
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
        let (inner, errors) = ContextAttributes::from_context_values(&context_values);
        problems.extend(errors.iter().map(error::message));
        ForeignRead {
            attributes: (!inner.is_empty()).then_some(inner),
            problems,
        }
    }

    /// The attributes in effect inside `scope` opened within these.
    #[napi]
    pub fn with_scope(&self, scope: &Attributes) -> Attributes {
        Attributes {
            inner: self.inner.with_scope(&scope.inner),
        }
    }

    /// These attributes less one of them (`clearSession` and friends), named by
    /// its OpenInference context key; `llm.prompt_template.template` clears the
    /// whole prompt template (text, version and variables).
    #[napi]
    pub fn without(&self, key: String) -> Result<Attributes> {
        let mut values = self.inner.to_context_values();
        match key.as_str() {
            "session.id" => values.session_id = None,
            "user.id" => values.user_id = None,
            "metadata" => values.metadata = None,
            "tag.tags" => values.tags = None,
            "llm.prompt_template.template" => {
                values.prompt_template = None;
                values.prompt_template_version = None;
                values.prompt_template_variables = None;
            }
            "attributes" => values.attributes = None,
            _ => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("unknown key {key:?}"),
                ));
            }
        }
        // The values came from valid attributes, so they read back whole.
        let (inner, _) = ContextAttributes::from_context_values(&values);
        Ok(Attributes { inner })
    }

    /// The values for OpenInference's context keys, in OpenInference JS's
    /// shapes (strings; metadata, tags, variables and attributes as JSON text),
    /// in the order `session.id`, `user.id`, `metadata`, `tag.tags`,
    /// `llm.prompt_template.template`, `.version`, `.variables`, `attributes`.
    #[napi]
    pub fn context_values(&self) -> Vec<Option<String>> {
        let v = self.inner.to_context_values();
        let tags = v
            .tags
            .map(|t| serde_json::to_string(&t).unwrap_or_else(|_| "[]".to_owned()));
        vec![
            v.session_id,
            v.user_id,
            v.metadata,
            tags,
            v.prompt_template,
            v.prompt_template_version,
            v.prompt_template_variables,
            v.attributes,
        ]
    }

    /// The span attributes these stamp with the alias set `aliases` (bits from
    /// `parseAliases`), as JSON object text in the core's key order.
    #[napi]
    pub fn span_attributes_json(&self, aliases: u32) -> String {
        let bits = u8::try_from(aliases).unwrap_or(0);
        // Written by hand rather than through a JSON map, which would sort the
        // keys: the core's order is the order spans get.
        let mut out = String::from("{");
        for (i, (key, value)) in self
            .inner
            .span_attributes(Aliases::from_bits(bits))
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::from(key.as_ref()).to_string());
            out.push(':');
            out.push_str(&value.to_json().to_string());
        }
        out.push('}');
        out
    }

    /// The session id, if set.
    #[napi(getter)]
    pub fn session_id(&self) -> Option<String> {
        self.inner.session_id().map(str::to_owned)
    }

    /// The user id, if set.
    #[napi(getter)]
    pub fn user_id(&self) -> Option<String> {
        self.inner.user_id().map(str::to_owned)
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
pub const MAX_ID_BYTES: u32 = openinference_session::attributes::MAX_ID_BYTES as u32;
