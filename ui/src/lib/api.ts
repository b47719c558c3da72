// The oi-sessions JSON API: its types, generated from the server's Rust types
// (server/openapi.json -> node/ts/api-types.ts, `npm run generate:api` at the
// repository root; the Node client imports the same module), and fetch helpers.

import type { components } from "../../../node/ts/api-types";

type Schemas = components["schemas"];

export type Io = Schemas["Io"];
export type TokenCount = Schemas["TokenCount"];
export type Cost = Schemas["Cost"];
export type Project = Schemas["ProjectInfo"];
export type AnnotationSummary = Schemas["AnnotationSummary"];
export type AnnotatorKind = Schemas["AnnotatorKind"];
export type Annotation = Schemas["Annotation"];
export type Session = Schemas["SessionInfo"];
/** A span's status; a turn's (a trace's) is the `ok`/`error` part of it. */
export type Status = Schemas["SpanStatus"];
export type Turn = Schemas["Turn"];
export type SpanEvent = Schemas["SpanEvent"];
export type Span = Schemas["SpanInfo"];
export type Trace = Schemas["TraceDetail"];
/** A trace as the trace list shows it (no spans). */
export type TraceSummary = Schemas["TraceInfo"];
export type SessionStatus = Schemas["SessionStatus"];
export type Evaluator = Schemas["Evaluator"];
export type EvaluatorSpec = Schemas["EvaluatorSpec"];
export type EvaluatorKind = Schemas["EvaluatorKind"];
export type Rule = Schemas["Rule"];
export type JobCounts = Schemas["JobCounts"];
export type JobState = Schemas["JobState"];
export type EvaluationJob = Schemas["EvaluationJob"];
export type Backfill = Schemas["Backfill"];
export type ProjectSettings = Schemas["ProjectSettingsInfo"];
export type ProjectSettingsUpdate = Schemas["ProjectSettingsUpdate"];
export type ProjectStats = Schemas["ProjectStats"];
export type AnnotationStats = Schemas["AnnotationStats"];
export type Distribution = Schemas["Distribution"];
export type AnnotationConfig = Schemas["AnnotationConfig"];
export type Health = Schemas["HealthInfo"];
/** One page of a list (every `Page_*` schema of the API has this shape). */
export type Page<T> = Omit<Schemas["Page_Turn"], "data"> & { data: T[] };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

const API_KEY_STORAGE = "oi-sessions.api-key";

export function apiKey(): string | null {
  try {
    return window.localStorage.getItem(API_KEY_STORAGE);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  if (key) window.localStorage.setItem(API_KEY_STORAGE, key);
  else window.localStorage.removeItem(API_KEY_STORAGE);
}

export function seg(value: string): string {
  return encodeURIComponent(value);
}

export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(path, { ...init, headers: { ...headers, ...(init?.headers ?? {}) } });
  if (!response.ok) {
    let code = "error";
    let message = response.statusText;
    let parameter: string | undefined;
    try {
      const body = (await response.json()) as { error?: { code?: string; message?: string; parameter?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
      parameter = body.error?.parameter;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, code, message, parameter);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** Sends `body` as JSON with `method` (POST, PUT, ...). */
export function send<T>(path: string, method: string, body?: unknown, init?: RequestInit): Promise<T> {
  return api<T>(path, {
    ...init,
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { "content-type": "application/json" },
  });
}

