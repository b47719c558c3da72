// The sessions list's state, kept in the URL: parsed from and written to the
// query string, and turned into the API's query parameters.

export const SORTS = ["start_time", "end_time", "num_traces", "total_tokens", "total_cost", "duration"] as const;
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
  const params: Record<string, string> = { sort: query.sort, order: query.order };
  if (query.range === "custom" && query.to) params.end_time = query.to;
  if (query.user) params.user_id = query.user;
  if (query.tag) params.tag = query.tag;
  if (query.errors) params.has_error = "true";
  if (/^\d+$/.test(query.minTurns)) params.min_traces = query.minTurns;
  if (query.q) params.q = query.q;
  const eq = query.metadata.indexOf("=");
  if (eq > 0) params[`metadata.${query.metadata.slice(0, eq).trim()}`] = query.metadata.slice(eq + 1).trim();
  return params;
}
