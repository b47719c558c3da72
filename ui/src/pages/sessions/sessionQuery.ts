// The sessions list's state, kept in the URL: parsed from and written to the
// query string, and turned into the API's query parameters.

export const SORTS = [
  "start_time",
  "end_time",
  "last_activity",
  "num_traces",
  "total_tokens",
  "total_cost",
  "duration",
  "annotation_score",
] as const;
export type Sort = (typeof SORTS)[number];

export const RANGES: Record<string, number | null> = {
  "15m": 15 * 60e3,
  "1h": 3600e3,
  "24h": 86400e3,
  "7d": 7 * 86400e3,
  all: null,
  custom: null,
};

export interface SessionQuery {
  sort: Sort;
  order: "asc" | "desc";
  range: string;
  /** Custom window bounds (ISO times), used when range is "custom". */
  from: string;
  to: string;
  user: string;
  tag: string;
  metadata: string; // "key=value"
  errors: boolean;
  minTurns: string;
  q: string;
  /** `active`, `idle` or "" for both. */
  status: "" | "active" | "idle";
  /** Sessions with an annotation of this name (and the name `sort=annotation_score` orders by). */
  annotation: string;
  /** With `annotation`: its label is this. */
  annotationLabel: string;
  /** With `annotation`: its mean score is within these (text as typed). */
  scoreMin: string;
  scoreMax: string;
  /** Sessions without an annotation of this name. */
  missingAnnotation: string;
}

/** How the annotation filter reads, for its controls. */
export type AnnotationMode = "has" | "missing" | "label" | "score";

export function annotationMode(q: SessionQuery): AnnotationMode {
  if (q.missingAnnotation) return "missing";
  if (q.annotationLabel) return "label";
  if (q.scoreMin || q.scoreMax) return "score";
  return "has";
}

/** The URL changes for an annotation filter: `name` in `mode`, with its values. */
export function annotationFilter(
  name: string,
  mode: AnnotationMode,
  values: { label?: string; min?: string; max?: string } = {},
): Record<string, string | null> {
  const n = name.trim();
  const none = {
    annotation: null,
    annotation_label: null,
    annotation_score_min: null,
    annotation_score_max: null,
    missing_annotation: null,
  };
  if (!n) return none;
  if (mode === "missing") return { ...none, missing_annotation: n };
  if (mode === "label") return { ...none, annotation: n, annotation_label: values.label?.trim() || null };
  if (mode === "score")
    return {
      ...none,
      annotation: n,
      annotation_score_min: values.min?.trim() || null,
      annotation_score_max: values.max?.trim() || null,
    };
  return { ...none, annotation: n };
}

export function parseSessionQuery(search: URLSearchParams): SessionQuery {
  const sort = search.get("sort");
  const range = search.get("range") ?? "all";
  return {
    sort: (SORTS as readonly string[]).includes(sort ?? "") ? (sort as Sort) : "start_time",
    order: search.get("order") === "asc" ? "asc" : "desc",
    range: range in RANGES ? range : "all",
    from: validTime(search.get("from")),
    to: validTime(search.get("to")),
    user: search.get("user") ?? "",
    tag: search.get("tag") ?? "",
    metadata: search.get("metadata") ?? "",
    errors: search.get("errors") === "1",
    minTurns: search.get("min_turns") ?? "",
    q: search.get("q") ?? "",
    status: search.get("status") === "active" ? "active" : search.get("status") === "idle" ? "idle" : "",
    annotation: search.get("annotation") ?? "",
    annotationLabel: search.get("annotation_label") ?? "",
    scoreMin: search.get("annotation_score_min") ?? "",
    scoreMax: search.get("annotation_score_max") ?? "",
    missingAnnotation: search.get("missing_annotation") ?? "",
  };
}

function validTime(value: string | null): string {
  if (!value) return "";
  const t = Date.parse(value);
  return Number.isNaN(t) ? "" : new Date(t).toISOString();
}

/** The start of the query's time window as of `now`, or null for all time. */
export function windowStart(query: SessionQuery, now: number): string | null {
  if (query.range === "custom") return query.from || null;
  const span = RANGES[query.range];
  return span ? new Date(now - span).toISOString() : null;
}

/** The API parameters for a query, but the time window (see windowStart). */
export function apiParams(query: SessionQuery): Record<string, string> {
  // ordering by a score needs the annotation's name; without one, the default order
  const sort = query.sort === "annotation_score" && !query.annotation ? "start_time" : query.sort;
  const params: Record<string, string> = { sort, order: query.order };
  if (query.range === "custom" && query.to) params.end_time = query.to;
  if (query.user) params.user_id = query.user;
  if (query.tag) params.tag = query.tag;
  if (query.errors) params.has_error = "true";
  if (/^\d+$/.test(query.minTurns)) params.min_traces = query.minTurns;
  if (query.q) params.q = query.q;
  if (query.status) params.status = query.status;
  if (query.annotation) {
    params.annotation = query.annotation;
    if (query.annotationLabel) params.annotation_label = query.annotationLabel;
    if (isNumber(query.scoreMin)) params.annotation_score_min = query.scoreMin.trim();
    if (isNumber(query.scoreMax)) params.annotation_score_max = query.scoreMax.trim();
  }
  if (query.missingAnnotation) params.missing_annotation = query.missingAnnotation;
  const eq = query.metadata.indexOf("=");
  if (eq > 0) params[`metadata.${query.metadata.slice(0, eq).trim()}`] = query.metadata.slice(eq + 1).trim();
  return params;
}

function isNumber(text: string): boolean {
  return text.trim() !== "" && Number.isFinite(Number(text));
}

/** Whether any filter narrows the list (an empty answer then means "no match", not "no data"). */
export function isFiltered(q: SessionQuery): boolean {
  return Boolean(
    q.user ||
      q.tag ||
      q.metadata ||
      q.errors ||
      q.minTurns ||
      q.q ||
      q.range !== "all" ||
      q.status ||
      q.annotation ||
      q.missingAnnotation,
  );
}
