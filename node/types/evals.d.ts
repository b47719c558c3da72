/**
 * Evaluate whole sessions: run an evaluator (code or an LLM judge) over each
 * session's conversation and store its verdict as a session annotation. The
 * Node twin of the Python `openinference.instrumentation.session.evals`.
 *
 * ```ts
 * import { SessionsClient, LLMJudge, evaluateSessions } from "openinference-session";
 *
 * const client = new SessionsClient();
 * const judge = new LLMJudge({
 *   complete: async (prompt) => myLlmCall(prompt),   // any model, any SDK
 *   criteria: "Did the assistant resolve the user's problem?",
 *   labels: { resolved: 1, unresolved: 0 },
 * });
 * const run = await evaluateSessions(client, "support-bot", judge, { name: "resolution", minTraces: 2 });
 * console.log(run.annotations, run.errors);
 * ```
 *
 * An evaluator is a function taking a {@link SessionTranscript} and returning
 * (or resolving to) an {@link EvaluationResult}, or `null`/`undefined` to skip
 * the session; or an object with such an `evaluate` method ({@link LLMJudge}).
 * Results are logged as annotations named `name`, with `annotatorKind` `CODE`
 * (`LLM` for an `LLMJudge`), and replace the previous run's verdict on the same
 * session (same name and `identifier`).
 *
 * The Python `openinference.instrumentation.session.evals` is this module's
 * twin: same transcripts, prompt, parsing and checks (`tests/clients/cases.json`
 * pins both).
 *
 * @module
 */
import { type Annotation, type AnnotatorKind, type IterSessionsOptions, type SessionSummary, type SessionsClient, type Turn } from "./client";
/** How much conversation an LLM judge is shown, at most, in characters (the end is kept). */
export declare const DEFAULT_MAX_TRANSCRIPT_CHARS = 600000;
/** One message of a conversation. */
export interface Message {
    role: string;
    content: string;
}
export interface SessionTranscriptInit {
    project: string;
    sessionId: string;
    session: SessionSummary;
    turns: Turn[];
    messages: Message[];
}
/**
 * A session read back as a conversation: its summary and its turns (the API's
 * objects) and the user/assistant messages in order.
 */
export declare class SessionTranscript {
    readonly project: string;
    readonly sessionId: string;
    readonly session: SessionSummary;
    readonly turns: readonly Turn[];
    readonly messages: readonly Message[];
    constructor(init: SessionTranscriptInit);
    /**
     * The conversation of a session's turns (the API's objects): each turn's
     * input as a user message and its output as an assistant message; a turn
     * without an input or an output (`null`) has no such message.
     */
    static fromTurns(init: Omit<SessionTranscriptInit, "messages">): SessionTranscript;
    /**
     * The conversation as `role: content` lines; when longer than `maxChars`
     * characters (Unicode code points), the start is cut and marked with `…`
     * (the end is where a session is decided).
     */
    text(maxChars?: number): string;
}
/** A verdict: at least one of label, score and explanation. */
export interface EvaluationResult {
    label?: string | null;
    score?: number | null;
    explanation?: string | null;
    metadata?: Record<string, unknown>;
}
type MaybePromise<T> = T | Promise<T>;
/** A function evaluator; `annotatorKind` (a property of the function) sets the annotations' kind. */
export type EvaluatorFunction = ((transcript: SessionTranscript) => MaybePromise<EvaluationResult | null | undefined>) & {
    annotatorKind?: AnnotatorKind;
};
/** An object evaluator, such as {@link LLMJudge}. */
export interface EvaluatorObject {
    evaluate(transcript: SessionTranscript): MaybePromise<EvaluationResult | null | undefined>;
    readonly annotatorKind?: AnnotatorKind;
}
export type Evaluator = EvaluatorFunction | EvaluatorObject;
/** What {@link evaluateSessions} did: the stored annotations, and the sessions whose evaluation failed (session id → error text). */
export interface EvaluationRun {
    annotations: Annotation[];
    errors: Record<string, string>;
}
export interface EvaluateSessionsOptions extends IterSessionsOptions {
    /** The annotations' name (`resolution`, `error_free`, ...). */
    name: string;
    /** These sessions, instead of every session matching the filters. */
    sessionIds?: Iterable<string>;
    /** Default: the evaluator's `annotatorKind`, else `CODE`. */
    annotatorKind?: AnnotatorKind;
    /** Default `""`. */
    identifier?: string;
    /** How many sessions are evaluated at once (LLM judges wait on the network); default 4. */
    concurrency?: number;
}
/** Reads a session and its turns and builds the conversation (see {@link SessionTranscript.fromTurns}). */
export declare function sessionTranscript(client: SessionsClient, project: string, sessionId: string): Promise<SessionTranscript>;
/**
 * Evaluates sessions of `project` and stores each verdict as an annotation
 * named `options.name`.
 *
 * The sessions are `options.sessionIds`, or every session matching the other
 * options (the session list's filters: `userId`, `tag`, `minTraces`,
 * `startTime`, `metadata: {...}`, ...). Evaluators run `concurrency` (4) at a
 * time. A session whose transcript or evaluator fails is reported in `errors`
 * and does not stop the others; the verdicts are logged in bulk (1,000 per
 * request, each request all or nothing).
 */
export declare function evaluateSessions(client: SessionsClient, project: string, evaluator: Evaluator, options: EvaluateSessionsOptions): Promise<EvaluationRun>;
/** The prompt an {@link LLMJudge} sends, the same as the Python package's. */
export declare const DEFAULT_JUDGE_TEMPLATE = "You are judging a whole conversation between a user and an AI assistant.\n\nCriteria: {criteria}\n\nConversation:\n{transcript}\n\nAnswer with one of these labels on the first line: {labels}.\nThen, on the next line, write \"EXPLANATION:\" and a short reason.";
export interface LLMJudgeOptions {
    /** Sends a prompt to a model and returns (or resolves to) its text answer; any model, any SDK. */
    complete: (prompt: string) => string | Promise<string>;
    /** What the judge decides, in a sentence. */
    criteria: string;
    /**
     * Each allowed label and its score; default `{ yes: 1, no: 0 }`. Listed in the
     * prompt in this order (a `Map` or an array of pairs keeps the order of
     * labels that look like integers, which a plain object does not). Labels
     * must differ in more than case: an answer is read in any case.
     */
    labels?: Record<string, number> | ReadonlyMap<string, number> | ReadonlyArray<readonly [string, number]>;
    /** The prompt, with `{criteria}`, `{transcript}` and `{labels}` (`{{` and `}}` for braces, as in Python's `str.format`; nothing else). */
    template?: string;
    /** How much conversation the judge is shown, in characters; the end is kept. Default 600,000. */
    maxTranscriptChars?: number;
}
/**
 * An evaluator that asks an LLM for a verdict on the whole conversation.
 *
 * The first allowed label found on the answer's first line (whole word, any
 * case; the longest label first, so `unresolved` is never read as `resolved`)
 * wins, with its score, and the rest of the answer (after `EXPLANATION:`) is
 * the explanation. An answer without one gives no label or score and the
 * answer as the explanation, with `metadata.unparsable = true`: not guessed.
 */
export declare class LLMJudge implements EvaluatorObject {
    #private;
    readonly annotatorKind: AnnotatorKind;
    readonly complete: (prompt: string) => string | Promise<string>;
    readonly criteria: string;
    readonly labels: ReadonlyMap<string, number>;
    readonly template: string;
    readonly maxTranscriptChars: number;
    constructor(options: LLMJudgeOptions);
    /** The prompt sent for a transcript. */
    prompt(transcript: SessionTranscript): string;
    /** Reads a verdict from a model's answer (what {@link evaluate} does after `complete`). */
    parse(answer: string): EvaluationResult;
    /** Asks the model about a transcript and reads its verdict. */
    evaluate(transcript: SessionTranscript): Promise<EvaluationResult>;
}
/** A code evaluator: the share of turns without an error (label `clean` or `had_errors`). */
export declare function errorFree(transcript: SessionTranscript): EvaluationResult;
export {};
