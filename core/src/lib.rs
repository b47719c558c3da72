//! Session tracking for LLM applications: the rules, once for every language.
//!
//! A *session* groups the traces of one conversation (one trace per user turn)
//! under a `session.id`. This crate owns what a session context is and how it
//! behaves, and the Python and Node packages of this project bind to it:
//!
//! - [`attributes`]: the model ([`ContextAttributes`]), validation and its
//!   limits ([`MAX_ID_BYTES`], [`MAX_VALUE_BYTES`], [`MAX_TEMPLATE_BYTES`]), the
//!   inheritance rule for nested scopes, and the conversion to span attributes;
//! - [`keys`]: the OpenInference attribute keys, the opt-in aliases, and the
//!   context and baggage keys (with the order of the context values,
//!   [`keys::CONTEXT_KEYS`]) every binding uses;
//! - [`error`]: the one error type, naming the argument at fault;
//! - [`evals`]: how a session reads as a conversation for an evaluator, and
//!   the LLM judge's prompt template syntax;
//! - `otel` (feature `otel`, on by default): the Rust API over
//!   [`opentelemetry::Context`] (`using_session`, `SessionFutureExt`,
//!   `get_context_attributes`) and `SessionSpanProcessor` for `opentelemetry_sdk`.
//!
//! ```
//! use opentelemetry::trace::{Tracer, TracerProvider as _};
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use openinference_session::{SessionSpanProcessor, using_session};
//!
//! let exporter = InMemorySpanExporter::default();
//! let provider = SdkTracerProvider::builder()
//!     .with_span_processor(SessionSpanProcessor::new())
//!     .with_simple_exporter(exporter.clone())
//!     .build();
//! let tracer = provider.tracer("chat");
//! {
//!     let _session = using_session("conv-42").unwrap();
//!     tracer.in_span("turn", |_| {});
//! }
//! let spans = exporter.get_finished_spans().unwrap();
//! assert!(spans[0].attributes.iter().any(|kv| kv.key.as_str() == "session.id"));
//! ```
//!
//! The core does no IO and keeps no state of its own but one switch (baggage
//! propagation); the context lives in the host runtime.

pub mod attributes;
pub mod error;
pub mod evals;
pub mod keys;
#[cfg(feature = "otel")]
pub mod otel;

pub use attributes::{
    Aliases, AttributeValue, ContextAttributes, ContextValues, JsonObject, MAX_ID_BYTES,
    MAX_TEMPLATE_BYTES, MAX_VALUE_BYTES,
};
pub use error::{Error, Field, Result};
#[cfg(feature = "otel")]
pub use otel::{
    SessionContextExt, SessionFutureExt, SessionSpanProcessor, baggage_propagation,
    get_context_attributes, get_context_attributes_with_aliases, set_baggage_propagation,
    using_attributes, using_metadata, using_prompt_template, using_session, using_tags, using_user,
};
