//! The attribute keys the server reads, in precedence order: where a session id,
//! a user id and a project name come from, and which spans count as LLM calls.
//!
//! These tables are the single source for `docs/server.md`; keep the two in step.
//! Keys the instrumentation writes are the core's constants, not copies.

use openinference_session::keys;

/// Request header that overrides every other source of the project name.
pub const PROJECT_HEADER: &str = "x-project-name";

/// Resource attribute keys that name the project, first match wins; the
/// fallback is [`DEFAULT_PROJECT`].
pub const PROJECT_RESOURCE_KEYS: &[&str] = &["openinference.project.name", "service.name"];

/// The project used when nothing names one.
pub const DEFAULT_PROJECT: &str = "default";

/// Span attribute keys that carry a session id, first match wins.
pub const SESSION_KEYS: &[&str] = &[
    keys::SESSION_ID,
    keys::GEN_AI_CONVERSATION_ID,
    "langfuse.session.id",
    keys::TRACELOOP_SESSION_ID,
    "mlflow.trace.session",
    keys::LANGSMITH_THREAD_ID,
    "langsmith.metadata.session_id",
    "langsmith.metadata.conversation_id",
    // Vercel AI SDK: `experimental_telemetry.metadata` as it exports it, and as
    // `@arizeai/openinference-vercel` flattens it.
    "ai.telemetry.metadata.sessionId",
    "ai.telemetry.metadata.session_id",
    "metadata.sessionId",
    "metadata.session_id",
];

/// Span attribute keys that carry a user id, first match wins.
pub const USER_KEYS: &[&str] = &[
    keys::USER_ID,
    "enduser.id",
    "langfuse.user.id",
    keys::TRACELOOP_USER_ID,
    "mlflow.trace.user",
    keys::LANGSMITH_USER_ID,
    "ai.telemetry.metadata.userId",
    "ai.telemetry.metadata.user_id",
    "metadata.userId",
    "metadata.user_id",
];

/// OpenInference span kind.
pub const OI_SPAN_KIND: &str = "openinference.span.kind";
/// OpenTelemetry GenAI operation name.
pub const GEN_AI_OPERATION: &str = "gen_ai.operation.name";
/// GenAI operations that are model calls (their token counts are the leaves).
pub const GEN_AI_LLM_OPERATIONS: &[&str] =
    &["chat", "text_completion", "generate_content", "completion"];

/// OpenInference input/output.
pub const INPUT_VALUE: &str = "input.value";
/// OpenInference input mime type.
pub const INPUT_MIME: &str = "input.mime_type";
/// OpenInference output.
pub const OUTPUT_VALUE: &str = "output.value";
/// OpenInference output mime type.
pub const OUTPUT_MIME: &str = "output.mime_type";

/// OpenInference flattened message prefixes.
pub const OI_INPUT_MESSAGES: &str = "llm.input_messages.";
/// OpenInference flattened output message prefix.
pub const OI_OUTPUT_MESSAGES: &str = "llm.output_messages.";
/// The Vercel AI SDK's prompt of a call (`{system, prompt}` or `{messages}`),
/// the input of its `ai.generateText`/`ai.streamText` spans.
pub const VERCEL_PROMPT: &str = "ai.prompt";
/// The Vercel AI SDK's messages sent to the model (its `doGenerate` spans).
pub const VERCEL_PROMPT_MESSAGES: &str = "ai.prompt.messages";
/// The Vercel AI SDK's answer text.
pub const VERCEL_RESPONSE_TEXT: &str = "ai.response.text";
/// GenAI structured messages (JSON with `parts`).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// GenAI structured output messages.
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";

/// Prompt token keys, first match wins.
pub const PROMPT_TOKEN_KEYS: &[&str] = &[
    "llm.token_count.prompt",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
];
/// Completion token keys, first match wins.
pub const COMPLETION_TOKEN_KEYS: &[&str] = &[
    "llm.token_count.completion",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
];
/// Total token keys; absent means prompt + completion.
pub const TOTAL_TOKEN_KEYS: &[&str] = &["llm.token_count.total", "gen_ai.usage.total_tokens"];

/// Reported cost keys (OpenInference), in US dollars.
pub const COST_PROMPT: &str = "llm.cost.prompt";
/// Reported completion cost.
pub const COST_COMPLETION: &str = "llm.cost.completion";
/// Reported total cost.
pub const COST_TOTAL: &str = "llm.cost.total";

/// Model name keys used to price a call, first match wins.
pub const MODEL_KEYS: &[&str] = &[
    "llm.model_name",
    "gen_ai.response.model",
    "gen_ai.request.model",
];

/// OpenInference tags (array of strings).
pub const TAGS: &str = keys::TAG_TAGS;
/// OpenInference metadata (a JSON object serialized as a string).
pub const METADATA: &str = keys::METADATA;
/// Keys of the span's metadata that carry a session id when no attribute does
/// (LangSmith's thread keys; LangChain and Pydantic AI apps put them there).
pub const METADATA_SESSION_KEYS: &[&str] =
    &["session_id", "sessionId", "thread_id", "conversation_id"];
/// Keys of the span's metadata that carry a user id when no attribute does.
pub const METADATA_USER_KEYS: &[&str] = &["user_id", "userId"];
/// Prefixes of metadata sent as one attribute per key (`metadata.plan`: the
/// flattened form of `@arizeai/openinference-vercel`; `ai.telemetry.metadata.plan`:
/// the Vercel AI SDK's own), merged into the span's metadata under the key
/// after the prefix. A key of the JSON `metadata` object wins over them.
pub const FLAT_METADATA_PREFIXES: &[&str] = &["metadata.", "ai.telemetry.metadata."];

/// The log attribute naming an event, where the record has no `event_name`.
pub const EVENT_NAME_ATTRIBUTE: &str = "event.name";
/// Events of the GenAI conventions are named under this prefix; the server
/// stores those (as the content of their spans' model calls) and no other log.
pub const GEN_AI_EVENT_PREFIX: &str = "gen_ai.";
/// A user message of a model call's input (body `{content}`).
pub const GEN_AI_USER_MESSAGE: &str = "gen_ai.user.message";
/// A choice of a model call's output (body `{index, finish_reason, message}`).
pub const GEN_AI_CHOICE: &str = "gen_ai.choice";
/// A model call's whole input and output (attributes `gen_ai.input.messages`,
/// `gen_ai.output.messages`), the conventions' newest form.
pub const GEN_AI_OPERATION_DETAILS: &str = "gen_ai.client.inference.operation.details";
