// The oi-sessions JSON API: types (from server/openapi.json) and fetch helpers.

export interface Io {
  value: string;
  mime_type: string;
  raw_value?: string;
}
export interface TokenCount {
  prompt: number;
  completion: number;
  total: number;
}
export interface Cost {
  prompt: number;
  completion: number;
  total: number;
}
export interface Project {
  name: string;
  trace_count: number;
  session_count: number;
  last_activity: string | null;
}
export interface AnnotationSummary {
  name: string;
  count: number;
  mean_score: number | null;
  labels: Record<string, number>;
}
export type AnnotatorKind = "HUMAN" | "LLM" | "CODE";
export interface Annotation {
  id: number;
  session_id: string;
  name: string;
  annotator_kind: AnnotatorKind;
  label: string | null;
  score: number | null;
  explanation: string | null;
  metadata: Record<string, unknown>;
  identifier: string;
  user_id: string | null;
  created_at: string;
  updated_at: string;
}
export interface Session {
  session_id: string;
  project: string;
  start_time: string;
  end_time: string;
  duration_ms: number;
  num_traces: number;
  num_traces_with_error: number;
  user_ids: string[];
  tags: string[];
  metadata: Record<string, unknown>;
  first_input: Io | null;
  last_output: Io | null;
  token_count: TokenCount;
  cost: Cost;
  latency_ms: { p50: number; p99: number };
  annotations?: AnnotationSummary[];
}
export type Status = "ok" | "error" | "unset";
export interface Turn {
  trace_id: string;
  start_time: string;
  end_time: string;
  latency_ms: number;
  status: Status;
  user_id: string | null;
  input: Io | null;
  output: Io | null;
  token_count: TokenCount;
  cost: Cost;
  span_count: number;
  session_conflicts?: string[];
}
export interface SpanEvent {
  name: string;
  time: string;
  attributes: Record<string, unknown>;
}
export interface Span {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string;
  status: Status;
  status_message: string;
  start_time: string;
  end_time: string;
  attributes: Record<string, unknown>;
  events: SpanEvent[];
}
export interface Trace {
  trace_id: string;
  project: string;
  session_id: string | null;
  session_conflicts: string[];
  start_time: string;
  end_time: string;
  latency_ms: number;
  status: Status;
  user_id: string | null;
  root_span_id: string | null;
  input: Io | null;
  output: Io | null;
  token_count: TokenCount;
  cost: Cost;
  span_count: number;
  spans: Span[];
}
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

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
