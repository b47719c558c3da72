/**
 * A small client for the `oi-sessions` API: projects, sessions, turns, traces
 * and session annotations. The Node twin of the Python
 * `openinference.instrumentation.session.client.SessionsClient`.
 *
 * ```ts
 * import { SessionsClient } from "openinference-session";
 *
 * const client = new SessionsClient();           // $OI_SESSIONS_URL or http://127.0.0.1:6006, $OI_SESSIONS_API_KEY
 * for await (const session of client.iterSessions("support-bot", { userId: "user-42" })) {
 *   console.log(session.session_id, session.num_traces);
 * }
 * const turns = await client.getTurns("support-bot", "conv-42");
 * ```
 *
 * Answers are the API's JSON objects, field names as the API spells them
 * (snake_case; see the server's `/openapi.json`); options are camelCase. Uses
 * the global `fetch` (Node 18+). Errors reject with {@link SessionsApiError}
 * ({@link SessionsTimeoutError} when the server does not answer in time); bad
 * arguments with a `TypeError` naming the argument, before any request. The
 * Python `SessionsClient` is this client's twin: the same checks, requests and
 * errors (`tests/clients/cases.json` pins both).
 *
 * @module
 */
import type { components } from "./api-types";
/** Where the client goes when neither `baseUrl` nor `$OI_SESSIONS_URL` is set. */
export declare const DEFAULT_BASE_URL = "http://127.0.0.1:6006";
/** How many annotations one bulk request carries at most (the server's limit). */
export declare const MAX_ANNOTATIONS_PER_REQUEST = 1000;
/** How long the client waits for an answer, in milliseconds, unless told otherwise. */
export declare const DEFAULT_TIMEOUT_MS = 30000;
/** The server answered with an error, or gave no answer (`status` 0). */
export declare class SessionsApiError extends Error {
    /** The HTTP status; 0 when the server could not be reached or did not answer in time. */
    readonly status: number;
    /** The API's error code (`invalid_parameter`, `not_found`, `invalid_body`, ...); `unreachable` or `timeout` with status 0. */
    readonly code: string;
    /** The query, path or body parameter at fault, when the server names one. */
    readonly parameter: string | undefined;
    constructor(status: number, code: string, message: string, parameter?: string);
    /** `SessionsApiError: 404 not_found: message (parameter x)`, the Python error's text after its name. */
    toString(): string;
}
/** The server did not answer within the client's `timeoutMs` (status 0, code `timeout`). */
export declare class SessionsTimeoutError extends SessionsApiError {
    constructor(message: string);
}
type Schemas = components["schemas"];
/** An input or output: the text shown as the message, and its MIME type. */
export type Io = Schemas["Io"];
export type TokenCount = Schemas["TokenCount"];
/** US dollars. */
export type Cost = Schemas["Cost"];
export type Project = Schemas["ProjectInfo"];
/** The annotations of one name on a session, summarized. */
export type AnnotationSummary = Schemas["AnnotationSummary"];
export type SessionSummary = Schemas["SessionInfo"];
/** One turn of a session: one trace, with its input and output. */
export type Turn = Schemas["Turn"];
export type Trace = Schemas["TraceInfo"];
export type Span = Schemas["SpanInfo"];
/** A trace with every span. */
export type TraceDetail = Schemas["TraceDetail"];
/** One page of a list: pass `next_cursor` back as `cursor` for the next (null on the last page). */
export type Page<T> = Omit<Schemas["Page_Turn"], "data"> & {
    data: T[];
};
export type AnnotatorKind = Schemas["AnnotatorKind"];
/** A stored session annotation. */
export type Annotation = Schemas["Annotation"];
/** What the session list can be sorted by. */
export type SessionSort = Schemas["SessionSort"];
export interface SessionsClientOptions {
    /** The server; default `$OI_SESSIONS_URL`, else `http://127.0.0.1:6006`. */
    baseUrl?: string;
    /** Sent as a bearer token; default `$OI_SESSIONS_API_KEY`. */
    apiKey?: string;
    /** How long one request may take, in milliseconds; default 30,000. */
    timeoutMs?: number;
}
/** The session list's filters (the API's query parameters, camelCase). */
export interface SessionFilters {
    sort?: SessionSort;
    order?: Schemas["Order"];
    /** Sessions that end at or after it (RFC 3339 text or a `Date`). */
    startTime?: string | Date;
    /** Sessions that start at or before it (RFC 3339 text or a `Date`). */
    endTime?: string | Date;
    /** Sessions with a trace of this user. */
    userId?: string;
    /** Sessions with a trace carrying this tag. */
    tag?: string;
    hasError?: boolean;
    minTraces?: number;
    /** Case-insensitive text search over turn inputs and outputs. */
    q?: string;
    /** Sessions with a trace whose metadata has each key equal to the value (compared as text). */
    metadata?: Record<string, string | number | boolean>;
}
export interface ListSessionsOptions extends SessionFilters {
    /** Page size (1 to 1,000; the server's default is 50). */
    limit?: number;
    /** `next_cursor` of the previous page. */
    cursor?: string;
}
export interface IterSessionsOptions extends SessionFilters {
    /** How many sessions each request fetches. */
    pageSize?: number;
}
export interface ListTracesOptions {
    /** Traces of this session only. */
    sessionId?: string;
    startTime?: string | Date;
    endTime?: string | Date;
    pageSize?: number;
}
/** A verdict on a session: at least one of `label`, `score` and `explanation`. */
export interface AnnotationOptions {
    label?: string | null;
    score?: number | null;
    explanation?: string | null;
    /** `HUMAN` (default), `LLM` or `CODE`. */
    annotatorKind?: AnnotatorKind;
    metadata?: Record<string, unknown>;
    /** Distinguishes several annotations of one name on one session; default `""`. */
    identifier?: string;
    userId?: string | null;
}
/** One annotation of a bulk request ({@link SessionsClient.logSessionAnnotations}). */
export interface SessionAnnotationInput extends AnnotationOptions {
    sessionId: string;
    name: string;
}
type Query = Array<[string, string]>;
/** A path segment: a non-empty string, percent-encoded. */
export declare function segment(value: unknown, argument: string): string;
export declare function checkOptions(options: unknown, argument: string, known: readonly string[]): Record<string, unknown>;
/** The session list's filters (the API's query parameters, camelCase). */
export declare const SESSION_FILTERS: readonly ["sort", "order", "startTime", "endTime", "userId", "tag", "hasError", "minTraces", "q", "metadata"];
/** The session list's query parameters from checked filters, in the API's order. */
export declare function sessionFilters(options: Record<string, unknown>, argument: string): Query;
/** Reads (and deletes) sessions on an `oi-sessions` server, and writes their annotations. */
export declare class SessionsClient {
    #private;
    /** The server's base URL, without a trailing slash. */
    readonly baseUrl: string;
    readonly timeoutMs: number;
    constructor(options?: SessionsClientOptions);
    /** Every project: name, trace and session counts, last activity. */
    listProjects(): Promise<Project[]>;
    /**
     * One page of a project's sessions: `{ data, next_cursor }`. Filters are the
     * API's query parameters, camelCase: `sort`, `order`, `startTime`, `endTime`,
     * `userId`, `tag`, `hasError`, `minTraces`, `q`, and `metadata: { plan: "pro" }`
     * for `metadata.<key>` filters.
     */
    listSessions(project: string, options?: ListSessionsOptions): Promise<Page<SessionSummary>>;
    /**
     * Every session matching the filters (those of {@link listSessions}), following
     * the cursor: `for await (const s of client.iterSessions(project, { tag: "billing" }))`.
     * Arguments are checked when called (a `TypeError` is thrown then, not at the first `next()`).
     */
    iterSessions(project: string, options?: IterSessionsOptions): AsyncGenerator<SessionSummary, void, undefined>;
    /** A session's summary: times, counts, users, tags, metadata, tokens, cost, latency, annotations. */
    getSession(project: string, sessionId: string): Promise<SessionSummary>;
    /** Every turn of a session, in time order: one per trace, with its input and output. */
    getTurns(project: string, sessionId: string, options?: {
        pageSize?: number;
    }): Promise<Turn[]>;
    /** Deletes a session with its traces, spans and annotations. */
    deleteSession(project: string, sessionId: string): Promise<void>;
    /**
     * Creates or replaces (same `name` and `identifier`) one annotation of a
     * session: a verdict on how the session went. Needs a `label`, a `score` or an
     * `explanation`; `annotatorKind` is `HUMAN` (default), `LLM` or `CODE`.
     */
    annotateSession(project: string, sessionId: string, name: string, options?: AnnotationOptions): Promise<Annotation>;
    /**
     * Creates or replaces many annotations of any sessions of the project (each
     * `{ sessionId, name, label?, score?, explanation?, ... }`), 1,000 per
     * request, each request all or nothing. Every annotation is checked before
     * the first request. Resolves to the stored annotations, in order.
     */
    logSessionAnnotations(project: string, annotations: Iterable<SessionAnnotationInput>): Promise<Annotation[]>;
    /** A session's annotations, oldest first. */
    getSessionAnnotations(project: string, sessionId: string): Promise<Annotation[]>;
    /** Deletes one annotation (its `id`). */
    deleteSessionAnnotation(project: string, sessionId: string, annotationId: number): Promise<void>;
    /** Every trace of a project, or of one session (`{ sessionId }`), in every page. */
    listTraces(project: string, options?: ListTracesOptions): Promise<Trace[]>;
    /** A trace with every span. */
    getTrace(project: string, traceId: string): Promise<TraceDetail>;
}
export {};
