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

import { checkJsonObject, describe, isPlainObject } from "./convert";

/** Where the client goes when neither `baseUrl` nor `$OI_SESSIONS_URL` is set. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:6006";

/** How many annotations one bulk request carries at most (the server's limit). */
export const MAX_ANNOTATIONS_PER_REQUEST = 1000;

/** How long the client waits for an answer, in milliseconds, unless told otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The server answered with an error, or gave no answer (`status` 0). */
export class SessionsApiError extends Error {
  /** The HTTP status; 0 when the server could not be reached or did not answer in time. */
  readonly status: number;
  /** The API's error code (`invalid_parameter`, `not_found`, `invalid_body`, ...); `unreachable` or `timeout` with status 0. */
  readonly code: string;
  /** The query, path or body parameter at fault, when the server names one. */
  readonly parameter: string | undefined;

  constructor(status: number, code: string, message: string, parameter?: string) {
    super(message);
    this.name = "SessionsApiError";
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }

  /** `SessionsApiError: 404 not_found: message (parameter x)`, the Python error's text after its name. */
  override toString(): string {
    return `${this.name}: ${this.status} ${this.code}: ${this.message}${this.parameter ? ` (parameter ${this.parameter})` : ""}`;
  }
}

/** The server did not answer within the client's `timeoutMs` (status 0, code `timeout`). */
export class SessionsTimeoutError extends SessionsApiError {
  constructor(message: string) {
    super(0, "timeout", message);
    this.name = "SessionsTimeoutError";
  }
}

// --- the API's objects ------------------------------------------------------------
// Generated from the server's Rust types: server/openapi.json -> ./api-types.ts
// (`npm run generate:api` at the repository root). The UI imports the same module.

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
export type Page<T> = Omit<Schemas["Page_Turn"], "data"> & { data: T[] };
export type AnnotatorKind = Schemas["AnnotatorKind"];
/** A stored session annotation. */
export type Annotation = Schemas["Annotation"];
/** What the session list can be sorted by. */
export type SessionSort = Schemas["SessionSort"];

// --- options -----------------------------------------------------------------------

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

// --- argument checks ---------------------------------------------------------------

type Query = Array<[string, string]>;

/** A path segment: a non-empty string, percent-encoded. */
export function segment(value: unknown, argument: string): string {
  if (typeof value !== "string") throw new TypeError(`${argument} must be a string, not ${describe(value)}`);
  if (value === "") throw new TypeError(`${argument} must be a non-empty string`);
  if (value === "." || value === "..") {
    // fetch (WHATWG URL) resolves "." and ".." segments, even percent-encoded:
    // the request would reach another resource.
    throw new TypeError(`${argument} ${JSON.stringify(value)} cannot be sent in a URL path`);
  }
  try {
    return encodeURIComponent(value);
  } catch {
    throw new TypeError(`${argument} is not well-formed Unicode (a lone surrogate)`);
  }
}

export function checkOptions(options: unknown, argument: string, known: readonly string[]): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) throw new TypeError(`${argument} must be an object, not ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${argument} has an unknown option ${JSON.stringify(key)}; known options are ${known.join(", ")}`);
    }
  }
  return options;
}

function optString(value: unknown, argument: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new TypeError(`${argument} must be a string, not ${describe(value)}`);
  return value;
}

function optInteger(value: unknown, argument: string, min: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${argument} must be an integer of at least ${min}, got ${typeof value === "number" ? value : describe(value)}`);
  }
  return value;
}

function optTime(value: unknown, argument: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${argument} is an invalid Date`);
    return value.toISOString();
  }
  if (typeof value !== "string") throw new TypeError(`${argument} must be an RFC 3339 string or a Date, not ${describe(value)}`);
  return value;
}

/** The session list's filters (the API's query parameters, camelCase). */
export const SESSION_FILTERS = ["sort", "order", "startTime", "endTime", "userId", "tag", "hasError", "minTraces", "q", "metadata"] as const;

/** The session list's query parameters from checked filters, in the API's order. */
export function sessionFilters(options: Record<string, unknown>, argument: string): Query {
  const query: Query = [];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) query.push([name, value]);
  };
  add("sort", optString(options.sort, `${argument}.sort`));
  add("order", optString(options.order, `${argument}.order`));
  add("start_time", optTime(options.startTime, `${argument}.startTime`));
  add("end_time", optTime(options.endTime, `${argument}.endTime`));
  add("user_id", optString(options.userId, `${argument}.userId`));
  add("tag", optString(options.tag, `${argument}.tag`));
  if (options.hasError !== undefined && options.hasError !== null) {
    if (typeof options.hasError !== "boolean") {
      throw new TypeError(`${argument}.hasError must be a boolean, not ${describe(options.hasError)}`);
    }
    add("has_error", String(options.hasError));
  }
  add("min_traces", optInteger(options.minTraces, `${argument}.minTraces`, 0)?.toString());
  add("q", optString(options.q, `${argument}.q`));
  const metadata = options.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) {
      throw new TypeError(`${argument}.metadata must be an object of filters, not ${describe(metadata)}`);
    }
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) {
        add(`metadata.${key}`, String(value));
      } else {
        throw new TypeError(`${argument}.metadata[${JSON.stringify(key)}] must be a string, a finite number or a boolean, not ${describe(value)}`);
      }
    }
  }
  return query;
}

const ANNOTATION_OPTIONS = ["label", "score", "explanation", "annotatorKind", "metadata", "identifier", "userId"] as const;
const ANNOTATOR_KINDS: readonly string[] = ["HUMAN", "LLM", "CODE"];

/** The API body of one annotation (snake_case), checked. */
function annotationBody(
  sessionId: string | undefined,
  name: unknown,
  options: Record<string, unknown>,
  prefix: string,
): Record<string, unknown> {
  if (typeof name !== "string" || name.trim() === "") {
    throw new TypeError(`${prefix}name must be a non-empty string, got ${typeof name === "string" ? JSON.stringify(name) : describe(name)}`);
  }
  const kind = options.annotatorKind ?? "HUMAN";
  if (typeof kind !== "string" || !ANNOTATOR_KINDS.includes(kind)) {
    throw new TypeError(`${prefix}annotatorKind must be HUMAN, LLM or CODE, got ${typeof kind === "string" ? JSON.stringify(kind) : describe(kind)}`);
  }
  const label = optString(options.label, `${prefix}label`);
  const explanation = optString(options.explanation, `${prefix}explanation`);
  const userId = optString(options.userId, `${prefix}userId`);
  const identifier = optString(options.identifier, `${prefix}identifier`) ?? "";
  let score: number | undefined;
  if (options.score !== undefined && options.score !== null) {
    if (typeof options.score !== "number" || !Number.isFinite(options.score)) {
      throw new TypeError(`${prefix}score must be a finite number, got ${typeof options.score === "number" ? options.score : describe(options.score)}`);
    }
    score = options.score;
  }
  if (label === undefined && score === undefined && explanation === undefined) {
    throw new TypeError(`${prefix.replace(/\.$/, "") || "an annotation"} needs a label, a score or an explanation`);
  }
  const metadata = options.metadata;
  if (metadata !== undefined && metadata !== null) checkJsonObject(metadata, `${prefix}metadata`);
  const body: Record<string, unknown> = { name, annotator_kind: kind, identifier };
  if (sessionId !== undefined) body.session_id = sessionId;
  if (label !== undefined) body.label = label;
  if (score !== undefined) body.score = score;
  if (explanation !== undefined) body.explanation = explanation;
  if (userId !== undefined) body.user_id = userId;
  if (isPlainObject(metadata) && Object.keys(metadata).length > 0) body.metadata = metadata;
  return body;
}

function env(name: string): string | undefined {
  const value = typeof process === "undefined" ? undefined : process.env[name];
  return value || undefined;
}

// --- the client -------------------------------------------------------------------

/** Reads (and deletes) sessions on an `oi-sessions` server, and writes their annotations. */
export class SessionsClient {
  /** The server's base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #apiKey: string | undefined;

  constructor(options: SessionsClientOptions = {}) {
    const o = checkOptions(options, "options", ["baseUrl", "apiKey", "timeoutMs"]);
    const baseUrl = (optString(o.baseUrl, "baseUrl") || env("OI_SESSIONS_URL") || DEFAULT_BASE_URL).replace(/\/+$/, "");
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError(`baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
    }
    this.baseUrl = baseUrl;
    this.#apiKey = optString(o.apiKey, "apiKey") || env("OI_SESSIONS_API_KEY");
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new TypeError(`timeoutMs must be a positive number, got ${typeof timeoutMs === "number" ? timeoutMs : describe(timeoutMs)}`);
    }
    this.timeoutMs = timeoutMs;
  }

  async #request(method: string, path: string, query: Query = [], body?: unknown): Promise<unknown> {
    const search = query.length > 0 ? `?${new URLSearchParams(query)}` : "";
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    let status = 0;
    let text: string;
    let statusText = "";
    try {
      const response = await fetch(this.baseUrl + path + search, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      statusText = response.statusText;
      text = await response.text();
    } catch (e) {
      const error = e as { name?: string; message?: string; cause?: { message?: string; code?: string } };
      if (error?.name === "TimeoutError" || error?.name === "AbortError") {
        throw new SessionsTimeoutError(`${this.baseUrl}: no answer within ${this.timeoutMs} ms`);
      }
      const reason = error?.cause?.message || error?.cause?.code || error?.message || String(e);
      throw new SessionsApiError(0, "unreachable", `${this.baseUrl}: ${reason}`);
    }
    if (status < 200 || status >= 300) throw apiError(status, statusText, text);
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new SessionsApiError(status, "invalid_response", `${method} ${path}: the answer is not JSON`);
    }
  }

  async *#pages<T>(path: string, query: Query, pageSize: number | undefined): AsyncGenerator<T, void, undefined> {
    let cursor: string | null | undefined;
    for (;;) {
      const params: Query = [...query];
      if (cursor) params.push(["cursor", cursor]);
      if (pageSize !== undefined) params.push(["limit", String(pageSize)]);
      const page = (await this.#request("GET", path, params)) as Page<T>;
      yield* page.data;
      cursor = page.next_cursor;
      if (!cursor) return;
    }
  }

  async #all<T>(path: string, query: Query, pageSize: number | undefined): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this.#pages<T>(path, query, pageSize)) out.push(item);
    return out;
  }

  // --- projects -------------------------------------------------------------

  /** Every project: name, trace and session counts, last activity. */
  async listProjects(): Promise<Project[]> {
    return this.#all<Project>("/v1/projects", [], undefined);
  }

  // --- sessions -------------------------------------------------------------

  /**
   * One page of a project's sessions: `{ data, next_cursor }`. Filters are the
   * API's query parameters, camelCase: `sort`, `order`, `startTime`, `endTime`,
   * `userId`, `tag`, `hasError`, `minTraces`, `q`, and `metadata: { plan: "pro" }`
   * for `metadata.<key>` filters.
   */
  async listSessions(project: string, options: ListSessionsOptions = {}): Promise<Page<SessionSummary>> {
    const p = segment(project, "project");
    const o = checkOptions(options, "options", [...SESSION_FILTERS, "limit", "cursor"]);
    const query = sessionFilters(o, "options");
    const limit = optInteger(o.limit, "options.limit", 1);
    const cursor = optString(o.cursor, "options.cursor");
    if (limit !== undefined) query.push(["limit", String(limit)]);
    if (cursor) query.push(["cursor", cursor]);
    return (await this.#request("GET", `/v1/projects/${p}/sessions`, query)) as Page<SessionSummary>;
  }

  /**
   * Every session matching the filters (those of {@link listSessions}), following
   * the cursor: `for await (const s of client.iterSessions(project, { tag: "billing" }))`.
   * Arguments are checked when called (a `TypeError` is thrown then, not at the first `next()`).
   */
  iterSessions(project: string, options: IterSessionsOptions = {}): AsyncGenerator<SessionSummary, void, undefined> {
    const p = segment(project, "project");
    const o = checkOptions(options, "options", [...SESSION_FILTERS, "pageSize"]);
    const query = sessionFilters(o, "options");
    const pageSize = optInteger(o.pageSize, "options.pageSize", 1);
    return this.#pages<SessionSummary>(`/v1/projects/${p}/sessions`, query, pageSize);
  }

  /** A session's summary: times, counts, users, tags, metadata, tokens, cost, latency, annotations. */
  async getSession(project: string, sessionId: string): Promise<SessionSummary> {
    const path = `/v1/projects/${segment(project, "project")}/sessions/${segment(sessionId, "sessionId")}`;
    return (await this.#request("GET", path)) as SessionSummary;
  }

  /** Every turn of a session, in time order: one per trace, with its input and output. */
  async getTurns(project: string, sessionId: string, options: { pageSize?: number } = {}): Promise<Turn[]> {
    const path = `/v1/projects/${segment(project, "project")}/sessions/${segment(sessionId, "sessionId")}/turns`;
    const o = checkOptions(options, "options", ["pageSize"]);
    return this.#all<Turn>(path, [], optInteger(o.pageSize, "options.pageSize", 1));
  }

  /** Deletes a session with its traces, spans and annotations. */
  async deleteSession(project: string, sessionId: string): Promise<void> {
    const path = `/v1/projects/${segment(project, "project")}/sessions/${segment(sessionId, "sessionId")}`;
    await this.#request("DELETE", path);
  }

  // --- annotations ------------------------------------------------------------

  /**
   * Creates or replaces (same `name` and `identifier`) one annotation of a
   * session: a verdict on how the session went. Needs a `label`, a `score` or an
   * `explanation`; `annotatorKind` is `HUMAN` (default), `LLM` or `CODE`.
   */
  async annotateSession(project: string, sessionId: string, name: string, options: AnnotationOptions = {}): Promise<Annotation> {
    const path = `/v1/projects/${segment(project, "project")}/sessions/${segment(sessionId, "sessionId")}/annotations`;
    const o = checkOptions(options, "options", ANNOTATION_OPTIONS);
    return (await this.#request("POST", path, [], annotationBody(undefined, name, o, ""))) as Annotation;
  }

  /**
   * Creates or replaces many annotations of any sessions of the project (each
   * `{ sessionId, name, label?, score?, explanation?, ... }`), 1,000 per
   * request, each request all or nothing. Every annotation is checked before
   * the first request. Resolves to the stored annotations, in order.
   */
  async logSessionAnnotations(project: string, annotations: Iterable<SessionAnnotationInput>): Promise<Annotation[]> {
    const path = `/v1/projects/${segment(project, "project")}/session_annotations`;
    if (annotations === null || typeof annotations !== "object" || typeof (annotations as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw new TypeError(`annotations must be an array (an iterable) of annotations, not ${describe(annotations)}`);
    }
    const bodies: Array<Record<string, unknown>> = [];
    let i = 0;
    for (const item of annotations as Iterable<unknown>) {
      const prefix = `annotations[${i}].`;
      if (item === undefined || item === null) throw new TypeError(`annotations[${i}] must be an object, not ${describe(item)}`);
      const o = checkOptions(item, `annotations[${i}]`, [...ANNOTATION_OPTIONS, "sessionId", "name"]);
      if (typeof o.sessionId !== "string" || o.sessionId === "") {
        throw new TypeError(`${prefix}sessionId must be a non-empty string, got ${typeof o.sessionId === "string" ? '""' : describe(o.sessionId)}`);
      }
      bodies.push(annotationBody(o.sessionId, o.name, o, prefix));
      i++;
    }
    const stored: Annotation[] = [];
    for (let start = 0; start < bodies.length; start += MAX_ANNOTATIONS_PER_REQUEST) {
      const data = bodies.slice(start, start + MAX_ANNOTATIONS_PER_REQUEST);
      const page = (await this.#request("POST", path, [], { data })) as Page<Annotation>;
      stored.push(...page.data);
    }
    return stored;
  }

  /** A session's annotations, oldest first. */
  async getSessionAnnotations(project: string, sessionId: string): Promise<Annotation[]> {
    const path = `/v1/projects/${segment(project, "project")}/sessions/${segment(sessionId, "sessionId")}/annotations`;
    return ((await this.#request("GET", path)) as Page<Annotation>).data;
  }

  /** Deletes one annotation (its `id`). */
  async deleteSessionAnnotation(project: string, sessionId: string, annotationId: number): Promise<void> {
    const base = `/v1/projects/${segment(project, "project")}/sessions/${segment(sessionId, "sessionId")}/annotations`;
    const id = optInteger(annotationId, "annotationId", 0);
    if (id === undefined) throw new TypeError(`annotationId must be an integer of at least 0, got ${describe(annotationId)}`);
    await this.#request("DELETE", `${base}/${id}`);
  }

  // --- traces ---------------------------------------------------------------

  /** Every trace of a project, or of one session (`{ sessionId }`), in every page. */
  async listTraces(project: string, options: ListTracesOptions = {}): Promise<Trace[]> {
    const p = segment(project, "project");
    const o = checkOptions(options, "options", ["sessionId", "startTime", "endTime", "pageSize"]);
    const query: Query = [];
    const sessionId = optString(o.sessionId, "options.sessionId");
    if (sessionId !== undefined) query.push(["session_id", sessionId]);
    const start = optTime(o.startTime, "options.startTime");
    if (start !== undefined) query.push(["start_time", start]);
    const end = optTime(o.endTime, "options.endTime");
    if (end !== undefined) query.push(["end_time", end]);
    return this.#all<Trace>(`/v1/projects/${p}/traces`, query, optInteger(o.pageSize, "options.pageSize", 1));
  }

  /** A trace with every span. */
  async getTrace(project: string, traceId: string): Promise<TraceDetail> {
    const path = `/v1/projects/${segment(project, "project")}/traces/${segment(traceId, "traceId")}`;
    return (await this.#request("GET", path)) as TraceDetail;
  }
}

function apiError(status: number, statusText: string, text: string): SessionsApiError {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; parameter?: unknown } }).error;
    if (error && typeof error === "object") {
      return new SessionsApiError(
        status,
        typeof error.code === "string" ? error.code : "error",
        typeof error.message === "string" ? error.message : "",
        typeof error.parameter === "string" ? error.parameter : undefined,
      );
    }
  } catch {
    // not the API's JSON error: a proxy's page, say
  }
  return new SessionsApiError(status, "error", statusText || `HTTP ${status}`);
}
