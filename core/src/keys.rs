//! Span attribute keys of the conventions we write, and the opt-in aliases.
//!
//! The OpenInference keys are always written; they are also the keys under which
//! OpenInference's own Python and JavaScript packages keep these values in the
//! OpenTelemetry context, which is what makes the two interoperate.

/// The conversation a span belongs to (OpenInference `session.id`).
pub const SESSION_ID: &str = "session.id";
/// The end user of the application (OpenInference and OpenTelemetry `user.id`).
pub const USER_ID: &str = "user.id";
/// Free-form metadata, a JSON object serialized as a string.
pub const METADATA: &str = "metadata";
/// Tags, an array of strings.
pub const TAG_TAGS: &str = "tag.tags";
/// The prompt template text.
pub const PROMPT_TEMPLATE_TEMPLATE: &str = "llm.prompt_template.template";
/// The prompt template version.
pub const PROMPT_TEMPLATE_VERSION: &str = "llm.prompt_template.version";
/// The prompt template variables, a JSON object serialized as a string.
pub const PROMPT_TEMPLATE_VARIABLES: &str = "llm.prompt_template.variables";

/// OpenTelemetry GenAI semantic conventions: the conversation id.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// LangSmith's OpenTelemetry ingest: the thread a run belongs to.
pub const LANGSMITH_THREAD_ID: &str = "langsmith.metadata.thread_id";
/// LangSmith's OpenTelemetry ingest: the user id kept as run metadata.
pub const LANGSMITH_USER_ID: &str = "langsmith.metadata.user_id";
/// Traceloop / OpenLLMetry association property for the session.
pub const TRACELOOP_SESSION_ID: &str = "traceloop.association.properties.session_id";
/// Traceloop / OpenLLMetry association property for the user.
pub const TRACELOOP_USER_ID: &str = "traceloop.association.properties.user_id";

/// The keys that only their own argument may set: a free-form attribute under one
/// of these names would silently fight with the typed value.
pub const RESERVED: &[&str] = &[
    SESSION_ID,
    USER_ID,
    METADATA,
    TAG_TAGS,
    PROMPT_TEMPLATE_TEMPLATE,
    PROMPT_TEMPLATE_VERSION,
    PROMPT_TEMPLATE_VARIABLES,
    GEN_AI_CONVERSATION_ID,
    LANGSMITH_THREAD_ID,
    LANGSMITH_USER_ID,
    TRACELOOP_SESSION_ID,
    TRACELOOP_USER_ID,
];

/// W3C Baggage entry carrying the session id across processes (opt-in).
pub const BAGGAGE_SESSION_ID: &str = SESSION_ID;
/// W3C Baggage entry carrying the user id across processes (opt-in).
pub const BAGGAGE_USER_ID: &str = USER_ID;
