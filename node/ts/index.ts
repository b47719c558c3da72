/**
 * Session tracking for OpenTelemetry / OpenInference tracing in Node.
 *
 * Every span started inside a session scope carries `session.id` (and
 * `user.id`, `metadata`, `tag.tags`, prompt template attributes), so that a
 * sessions server can group the traces of one conversation:
 *
 * ```ts
 * import { SessionSpanProcessor, withSession } from "openinference-session";
 *
 * new NodeTracerProvider({ spanProcessors: [new SessionSpanProcessor(), exportProcessor] }).register();
 * await withSession("conv-42", async () => { await handleTurn(); });
 * ```
 *
 * The rules (validation, inheritance, span attributes) live in the Rust core
 * `openinference-session`; the context lives in OpenTelemetry's (AsyncLocalStorage).
 * Values are kept under `@arizeai/openinference-core`'s context keys, so each
 * package reads what the other sets.
 *
 * @packageDocumentation
 */

export {
  MAX_ID_BYTES,
  clearAttributes,
  clearMetadata,
  clearPromptTemplate,
  clearSession,
  clearTags,
  clearUser,
  getAttributes,
  getAttributesFromContext,
  getContextAttributes,
  getMetadata,
  getPromptTemplate,
  getSession,
  getTags,
  getUser,
  setAttributes,
  setBaggagePropagation,
  setContextAttributes,
  setMetadata,
  setPromptTemplate,
  setSession,
  setTags,
  setUser,
  withAttributes,
  withMetadata,
  withPromptTemplate,
  withSession,
  withTags,
  withUser,
} from "./api";
export type {
  AliasOptions,
  ContextAttributesInit,
  Metadata,
  PromptTemplate,
  Session,
  Tags,
  User,
} from "./api";
export { CONTEXT_KEYS } from "./context";
export { SessionSpanProcessor } from "./processor";
export type { StampableSpan } from "./processor";
export {
  DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  MAX_ANNOTATIONS_PER_REQUEST,
  SessionsApiError,
  SessionsClient,
  SessionsTimeoutError,
} from "./client";
export type {
  Annotation,
  AnnotationOptions,
  AnnotationSummary,
  AnnotatorKind,
  Cost,
  Io,
  IterSessionsOptions,
  ListSessionsOptions,
  ListTracesOptions,
  Page,
  Project,
  SessionSummary,
  SessionAnnotationInput,
  SessionFilters,
  SessionsClientOptions,
  Span,
  TokenCount,
  Trace,
  TraceDetail,
  Turn,
} from "./client";
export {
  DEFAULT_JUDGE_TEMPLATE,
  DEFAULT_MAX_TRANSCRIPT_CHARS,
  LLMJudge,
  SessionTranscript,
  errorFree,
  evaluateSessions,
  sessionTranscript,
} from "./evals";
export type {
  EvaluateSessionsOptions,
  EvaluationResult,
  EvaluationRun,
  Evaluator,
  EvaluatorFunction,
  EvaluatorObject,
  LLMJudgeOptions,
  Message,
  SessionTranscriptInit,
} from "./evals";
