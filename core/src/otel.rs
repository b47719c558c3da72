//! OpenTelemetry for Rust (feature `otel`): session context kept in
//! [`opentelemetry::Context`], scope guards, the future adapter, and the span
//! processor that stamps the attributes on every span.
//!
//! The attributes in effect are computed once, when a scope opens, and kept in the
//! context next to their span-attribute form; starting a span only copies that
//! form (one clone of a shared slice per alias set).
//!
//! Guards ([`ContextGuard`]) are `!Send` and must not be held across an
//! `.await`; for async code use [`SessionFutureExt`], which attaches the context
//! each time the future is polled.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::context::{ContextGuard, FutureExt, WithContext};
use opentelemetry::trace::Span as _;
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::attributes::{Aliases, AttributeValue, ContextAttributes, JsonObject};
use crate::error::Result;
use crate::keys;

/// What a session scope leaves in the context: the attributes in effect and their
/// span-attribute form, built lazily once per alias set.
#[derive(Debug)]
struct SessionContext {
    attributes: ContextAttributes,
    span_attributes: [OnceLock<Arc<[KeyValue]>>; 8],
}

impl SessionContext {
    fn new(attributes: ContextAttributes) -> Self {
        SessionContext {
            attributes,
            span_attributes: Default::default(),
        }
    }

    fn span_attributes(&self, aliases: Aliases) -> &Arc<[KeyValue]> {
        self.span_attributes[usize::from(aliases.bits())]
            .get_or_init(|| to_key_values(&self.attributes, aliases).into())
    }
}

/// The context value type. A private newtype so that nobody else can put a
/// value of this type in the context.
#[derive(Debug, Clone)]
struct StoredSession(Arc<SessionContext>);

static BAGGAGE_PROPAGATION: AtomicBool = AtomicBool::new(false);

/// Turns W3C Baggage propagation of the session on or off (off by default).
///
/// When on, opening a scope also puts `session.id` and `user.id` in the
/// context's baggage, so that a propagator sends them to the services this one
/// calls; and [`SessionSpanProcessor`] falls back to those baggage entries when
/// the context holds no session, so the spans of a downstream service join the
/// caller's session. Turn it on in both services: inbound baggage is untrusted
/// input, so reading it is never the default.
pub fn set_baggage_propagation(enabled: bool) {
    BAGGAGE_PROPAGATION.store(enabled, Ordering::Relaxed);
}

/// Whether W3C Baggage propagation is on.
pub fn baggage_propagation() -> bool {
    BAGGAGE_PROPAGATION.load(Ordering::Relaxed)
}

/// Session context operations on an [`opentelemetry::Context`].
pub trait SessionContextExt {
    /// A new context in which `scope` is opened within whatever this context
    /// carries (see the inheritance rules in [`crate::attributes`]).
    fn with_context_attributes(&self, scope: &ContextAttributes) -> Context;
    /// A new context carrying the session id.
    fn with_session(&self, session_id: impl Into<String>) -> Result<Context>;
    /// The attributes in effect in this context, if a scope set any.
    fn context_attributes(&self) -> Option<&ContextAttributes>;
}

impl SessionContextExt for Context {
    fn with_context_attributes(&self, scope: &ContextAttributes) -> Context {
        let effective = match self.get::<StoredSession>() {
            Some(outer) => outer.0.attributes.with_scope(scope),
            None => scope.clone(),
        };
        let mut cx = self.clone();
        if baggage_propagation() {
            let ours = [
                (keys::BAGGAGE_SESSION_ID, effective.session_id()),
                (keys::BAGGAGE_USER_ID, effective.user_id()),
            ];
            let mut entries: Vec<KeyValueMetadata> = self
                .baggage()
                .iter()
                .filter(|(key, _)| !ours.iter().any(|(k, v)| v.is_some() && key.as_str() == *k))
                .map(|(key, (value, metadata))| {
                    KeyValueMetadata::new(key.clone(), value.clone(), metadata.clone())
                })
                .collect();
            for (key, value) in ours {
                if let Some(value) = value {
                    entries.push(KeyValueMetadata::new(key, value.to_owned(), ""));
                }
            }
            cx = cx.with_baggage(entries);
        }
        cx.with_value(StoredSession(Arc::new(SessionContext::new(effective))))
    }

    fn with_session(&self, session_id: impl Into<String>) -> Result<Context> {
        let scope = ContextAttributes::new().with_session_id(session_id)?;
        Ok(self.with_context_attributes(&scope))
    }

    fn context_attributes(&self) -> Option<&ContextAttributes> {
        self.get::<StoredSession>().map(|s| &s.0.attributes)
    }
}

/// Opens `scope` in the current context until the guard drops.
pub fn using_attributes(scope: &ContextAttributes) -> ContextGuard {
    Context::map_current(|cx| cx.with_context_attributes(scope)).attach()
}

/// Sets the session id until the guard drops.
pub fn using_session(session_id: impl Into<String>) -> Result<ContextGuard> {
    Ok(using_attributes(
        &ContextAttributes::new().with_session_id(session_id)?,
    ))
}

/// Sets the user id until the guard drops.
pub fn using_user(user_id: impl Into<String>) -> Result<ContextGuard> {
    Ok(using_attributes(
        &ContextAttributes::new().with_user_id(user_id)?,
    ))
}

/// Sets (merges in) metadata until the guard drops.
pub fn using_metadata(metadata: JsonObject) -> Result<ContextGuard> {
    Ok(using_attributes(
        &ContextAttributes::new().with_metadata(metadata)?,
    ))
}

/// Adds tags until the guard drops.
pub fn using_tags<I, S>(tags: I) -> Result<ContextGuard>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Ok(using_attributes(&ContextAttributes::new().with_tags(tags)?))
}

/// Sets the prompt template (and optionally its version and variables) until
/// the guard drops.
pub fn using_prompt_template(
    template: impl Into<String>,
    version: Option<&str>,
    variables: Option<JsonObject>,
) -> Result<ContextGuard> {
    let mut scope = ContextAttributes::new().with_prompt_template(template)?;
    if let Some(version) = version {
        scope = scope.with_prompt_template_version(version)?;
    }
    if let Some(variables) = variables {
        scope = scope.with_prompt_template_variables(variables)?;
    }
    Ok(using_attributes(&scope))
}

/// Runs a future inside a session scope, across every `.await`.
pub trait SessionFutureExt: Future + Sized {
    /// Runs this future with the session id set (within the current context).
    fn with_session(self, session_id: impl Into<String>) -> Result<WithContext<Self>> {
        let cx = Context::map_current(|cx| cx.with_session(session_id))?;
        Ok(self.with_context(cx))
    }

    /// Runs this future with `scope` opened within the current context.
    fn with_context_attributes(self, scope: &ContextAttributes) -> WithContext<Self> {
        let cx = Context::map_current(|cx| cx.with_context_attributes(scope));
        self.with_context(cx)
    }
}

impl<F: Future> SessionFutureExt for F {}

/// The span attributes a span started in `cx` would carry from the session
/// context, OpenInference keys only: for custom instrumentation that sets them
/// itself (`tracer.span_builder(name).with_attributes(get_context_attributes(&cx))`).
pub fn get_context_attributes(cx: &Context) -> Vec<KeyValue> {
    get_context_attributes_with_aliases(cx, Aliases::NONE)
}

/// [`get_context_attributes`] with alias keys for other conventions.
pub fn get_context_attributes_with_aliases(cx: &Context, aliases: Aliases) -> Vec<KeyValue> {
    match cx.get::<StoredSession>() {
        Some(session) => session.0.span_attributes(aliases).to_vec(),
        None => from_baggage(cx)
            .map(|attrs| to_key_values(&attrs, aliases))
            .unwrap_or_default(),
    }
}

/// The session and user carried by baggage, when baggage propagation is on.
fn from_baggage(cx: &Context) -> Option<ContextAttributes> {
    if !baggage_propagation() {
        return None;
    }
    let baggage = cx.baggage();
    let mut attrs = ContextAttributes::new();
    // Inbound baggage is untrusted: an entry that does not validate is ignored.
    if let Some(id) = baggage.get(keys::BAGGAGE_SESSION_ID) {
        attrs = attrs.clone().with_session_id(id.as_str()).unwrap_or(attrs);
    }
    if let Some(id) = baggage.get(keys::BAGGAGE_USER_ID) {
        attrs = attrs.clone().with_user_id(id.as_str()).unwrap_or(attrs);
    }
    (!attrs.is_empty()).then_some(attrs)
}

/// Converts attributes to OpenTelemetry key-values.
pub fn to_key_values(attributes: &ContextAttributes, aliases: Aliases) -> Vec<KeyValue> {
    attributes
        .span_attributes(aliases)
        .into_iter()
        .map(|(key, value)| {
            let key = match key {
                Cow::Borrowed(k) => Key::from_static_str(k),
                Cow::Owned(k) => Key::new(k),
            };
            KeyValue::new(key, to_otel_value(value))
        })
        .collect()
}

fn to_otel_value(value: AttributeValue) -> Value {
    fn strings(v: Vec<String>) -> Vec<StringValue> {
        v.into_iter().map(StringValue::from).collect()
    }
    match value {
        AttributeValue::String(s) => Value::String(s.into()),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Int(i) => Value::I64(i),
        AttributeValue::Float(f) => Value::F64(f),
        AttributeValue::StringArray(v) => Value::Array(Array::String(strings(v))),
        AttributeValue::BoolArray(v) => Value::Array(Array::Bool(v)),
        AttributeValue::IntArray(v) => Value::Array(Array::I64(v)),
        AttributeValue::FloatArray(v) => Value::Array(Array::F64(v)),
    }
}

/// Stamps the session context attributes on every span at start, whatever
/// library started it, reading them from the parent context the SDK passes in.
///
/// Precedence: the context wins. The SDK appends what this processor sets after
/// the attributes given at span start, and OTLP receivers keep the last value of
/// a key, so a library that stamps its own `session.id` at start cannot split the
/// application's session. Attributes set after start still win, as everywhere in
/// OpenTelemetry.
#[derive(Debug, Default, Clone)]
pub struct SessionSpanProcessor {
    aliases: Aliases,
}

impl SessionSpanProcessor {
    /// A processor writing OpenInference keys only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A processor that also writes the alias keys of other conventions.
    pub fn with_aliases(aliases: Aliases) -> Self {
        SessionSpanProcessor { aliases }
    }
}

impl SpanProcessor for SessionSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        match cx.get::<StoredSession>() {
            Some(session) => {
                for kv in session.0.span_attributes(self.aliases).iter() {
                    span.set_attribute(kv.clone());
                }
            }
            None => {
                if let Some(attrs) = from_baggage(cx) {
                    span.set_attributes(to_key_values(&attrs, self.aliases));
                }
            }
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
