//! Span attribute keys of the conventions we write, the opt-in aliases, and the
//! context and baggage keys the bindings keep a session under.
//!
//! The OpenInference keys are always written; they are also the keys under which
//! OpenInference's own Python and JavaScript packages keep these values in the
//! OpenTelemetry context, which is what makes the two interoperate. Their order
//! in [`CONTEXT_KEYS`] is the order of the context values every binding passes
//! around ([`crate::attributes::ContextValues::into_slots`]); [`slot`] names the
//! positions.

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

/// OpenInference JS's context key for free-form span attributes (its
/// `setAttributes`). A context key only: the attributes it holds are written on
/// spans under their own names. OpenInference Python has no such key.
pub const ATTRIBUTES: &str = "attributes";

/// The context keys OpenInference keeps a session context under, in the order of
/// the context values: the Python binding's values tuple and the Node binding's
/// values array follow it, and so does every host-side table of these keys.
pub const CONTEXT_KEYS: [&str; 8] = [
    SESSION_ID,
    USER_ID,
    METADATA,
    TAG_TAGS,
    PROMPT_TEMPLATE_TEMPLATE,
    PROMPT_TEMPLATE_VERSION,
    PROMPT_TEMPLATE_VARIABLES,
    ATTRIBUTES,
];

/// The context keys both OpenInference packages use: [`CONTEXT_KEYS`] without
/// the last, OpenInference JS's free-form [`ATTRIBUTES`]. What the Python
/// binding writes and reads, and the span attributes a scope always writes.
pub const SHARED_CONTEXT_KEYS: &[&str] = match CONTEXT_KEYS.split_last() {
    Some((_, shared)) => shared,
    None => &[],
};

/// The keys of the opt-in aliases.
const ALIAS_KEYS: [&str; 5] = [
    GEN_AI_CONVERSATION_ID,
    LANGSMITH_THREAD_ID,
    LANGSMITH_USER_ID,
    TRACELOOP_SESSION_ID,
    TRACELOOP_USER_ID,
];

/// The keys that only their own argument may set (the OpenInference keys and
/// the aliases): a free-form attribute under one of these names would silently
/// fight with the typed value.
pub const RESERVED: &[&str] = &concat::<12>(SHARED_CONTEXT_KEYS, &ALIAS_KEYS);

/// `a` then `b`, at compile time; `N` must be their total length.
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    assert!(a.len() + b.len() == N, "N is the total length");
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

/// Where each value sits in the context values: the position of its key in
/// [`CONTEXT_KEYS`], found at compile time (a key missing from the list does
/// not compile).
pub mod slot {
    use super::CONTEXT_KEYS;

    const fn position(key: &str) -> usize {
        let mut i = 0;
        while i < CONTEXT_KEYS.len() {
            let candidate = CONTEXT_KEYS[i].as_bytes();
            let wanted = key.as_bytes();
            if candidate.len() == wanted.len() {
                let mut j = 0;
                while j < wanted.len() && candidate[j] == wanted[j] {
                    j += 1;
                }
                if j == wanted.len() {
                    return i;
                }
            }
            i += 1;
        }
        panic!("not a context key")
    }

    /// `session.id`.
    pub const SESSION_ID: usize = position(super::SESSION_ID);
    /// `user.id`.
    pub const USER_ID: usize = position(super::USER_ID);
    /// `metadata`.
    pub const METADATA: usize = position(super::METADATA);
    /// `tag.tags`.
    pub const TAG_TAGS: usize = position(super::TAG_TAGS);
    /// `llm.prompt_template.template`.
    pub const PROMPT_TEMPLATE_TEMPLATE: usize = position(super::PROMPT_TEMPLATE_TEMPLATE);
    /// `llm.prompt_template.version`.
    pub const PROMPT_TEMPLATE_VERSION: usize = position(super::PROMPT_TEMPLATE_VERSION);
    /// `llm.prompt_template.variables`.
    pub const PROMPT_TEMPLATE_VARIABLES: usize = position(super::PROMPT_TEMPLATE_VARIABLES);
    /// OpenInference JS's free-form `attributes`.
    pub const ATTRIBUTES: usize = position(super::ATTRIBUTES);
}

/// W3C Baggage entry carrying the session id across processes (opt-in).
pub const BAGGAGE_SESSION_ID: &str = SESSION_ID;
/// W3C Baggage entry carrying the user id across processes (opt-in).
pub const BAGGAGE_USER_ID: &str = USER_ID;
