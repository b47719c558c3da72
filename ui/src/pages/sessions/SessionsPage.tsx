import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, query, seg, type Page, type Session } from "../../lib/api";
import { formatCost, formatCount, formatDuration, formatTime, preview } from "../../lib/format";
import { Link, routePath, setQuery, useLocation } from "../../lib/router";
import { VirtualList } from "../../components/VirtualList";
import { EmptyState } from "../../components/EmptyState";
import { AnnotationSummaries } from "../../components/AnnotationSummaries";
import { ErrorNote } from "../../components/Status";
import { apiParams, parseSessionQuery, RANGES, windowStart, type Sort } from "./sessionQuery";

const ROW_HEIGHT = 44;
const PAGE_SIZE = 100;

const COLUMNS: { label: string; sort?: Sort; className?: string }[] = [
  { label: "Session" },
  { label: "First input" },
  { label: "Last output" },
  { label: "Users" },
  { label: "Turns", sort: "num_traces", className: "num" },
  { label: "Start", sort: "start_time" },
  { label: "Last activity", sort: "end_time" },
  { label: "Duration", sort: "duration", className: "num" },
  { label: "Tokens", sort: "total_tokens", className: "num" },
  { label: "Cost", sort: "total_cost", className: "num" },
  { label: "Errors", className: "num" },
  { label: "Annotations" },
];

interface Loaded {
  key: string;
  sessions: Session[];
  next: string | null;
  loading: boolean;
  error?: Error;
}

export function SessionsPage({ project }: { project: string }) {
  const { search } = useLocation();
  const q = parseSessionQuery(search);
  const key = JSON.stringify(q);
  const params = useMemo(() => apiParams(JSON.parse(key)), [key]);
  // the time window is fixed by the first page, so later pages stay consistent
  const windowFrom = useRef<string | null>(null);
  const base = `/v1/projects/${seg(project)}/sessions`;
  const [loaded, setLoaded] = useState<Loaded>({ key: "", sessions: [], next: null, loading: true });
  const inFlight = useRef<string | null>(null);

  const loadPage = useCallback(
    (cursor: string | null, reset: boolean) => {
      const requestKey = `${project}|${key}|${cursor ?? ""}`;
      if (inFlight.current === requestKey) return;
      inFlight.current = requestKey;
      setLoaded((l) => ({ ...l, loading: true }));
      if (reset) windowFrom.current = windowStart(JSON.parse(key), Date.now());
      api<Page<Session>>(base + query({ ...params, start_time: windowFrom.current, limit: PAGE_SIZE, cursor }))
        .then((page) =>
          setLoaded((l) => ({
            key,
            sessions: reset ? page.data : [...l.sessions, ...page.data],
            next: page.next_cursor,
            loading: false,
          })),
        )
        .catch((error: Error) => setLoaded((l) => ({ ...l, loading: false, error })))
        .finally(() => {
          if (inFlight.current === requestKey) inFlight.current = null;
        });
    },
    [base, key, params, project],
  );

  useEffect(() => loadPage(null, true), [loadPage]);
  const onNearEnd = useCallback(() => {
    if (loaded.next && !loaded.loading && loaded.key === key) loadPage(loaded.next, false);
  }, [loaded, key, loadPage]);

  const sortBy = (sort: Sort) =>
    setQuery({ sort, order: q.sort === sort && q.order === "desc" ? "asc" : "desc" }, { replace: false });
  const filtered = q.user || q.tag || q.metadata || q.errors || q.minTurns || q.q || q.range !== "all";
  const stale = loaded.key !== key;

  return (
    <section className="sessions-page">
      <h1>
        Sessions <span className="muted">in {project}</span>
      </h1>
      <Filters q={q} />
      {loaded.error && !(loaded.error instanceof ApiError && loaded.error.status === 404) && (
        <ErrorNote error={loaded.error} />
      )}
      {loaded.error instanceof ApiError && loaded.error.status === 404 ? (
        <EmptyState title="No sessions in this project yet" project={project} />
      ) : !stale && !loaded.loading && loaded.sessions.length === 0 && !loaded.error ? (
        filtered ? (
          <p className="muted">No session matches these filters.</p>
        ) : (
          <EmptyState title="No sessions in this project yet" project={project} />
        )
      ) : (
        <VirtualList
          items={loaded.sessions}
          rowHeight={ROW_HEIGHT}
          height={Math.max(300, window.innerHeight - 260)}
          onNearEnd={onNearEnd}
          header={
            <div className="session-row header" role="row">
              {COLUMNS.map((c) => (
                <div key={c.label} className={`cell ${c.className ?? ""}`} role="columnheader">
                  {c.sort ? (
                    <button
                      type="button"
                      className="sort"
                      onClick={() => sortBy(c.sort as Sort)}
                      aria-sort={q.sort === c.sort ? (q.order === "asc" ? "ascending" : "descending") : "none"}
                    >
                      {c.label}
                      {q.sort === c.sort ? (q.order === "asc" ? " ▲" : " ▼") : ""}
                    </button>
                  ) : (
                    c.label
                  )}
                </div>
              ))}
            </div>
          }
          renderRow={(s) => <SessionRow session={s} />}
        />
      )}
      <p className="muted small" data-testid="sessions-count">
        {loaded.sessions.length} session{loaded.sessions.length === 1 ? "" : "s"} shown
        {loaded.next ? ", more as you scroll" : ""}
        {loaded.loading ? " · loading…" : ""}
      </p>
    </section>
  );
}

function SessionRow({ session: s }: { session: Session }) {
  const to = routePath({ page: "session", project: s.project, sessionId: s.session_id });
  return (
    <div className={`session-row ${s.num_traces_with_error > 0 ? "has-error" : ""}`} data-testid="session-row">
      <div className="cell id">
        <Link to={to} title={s.session_id}>
          {s.session_id}
        </Link>
      </div>
      <div className="cell text" title={s.first_input?.value}>
        {preview(s.first_input?.value, 80)}
      </div>
      <div className="cell text" title={s.last_output?.value}>
        {preview(s.last_output?.value, 80)}
      </div>
      <div className="cell">{s.user_ids.join(", ") || "–"}</div>
      <div className="cell num">{s.num_traces}</div>
      <div className="cell">{formatTime(s.start_time)}</div>
      <div className="cell">{formatTime(s.end_time)}</div>
      <div className="cell num">{formatDuration(s.duration_ms)}</div>
      <div className="cell num">{formatCount(s.token_count.total)}</div>
      <div className="cell num">{formatCost(s.cost.total)}</div>
      <div className="cell num">{s.num_traces_with_error || ""}</div>
      <div className="cell">
        <AnnotationSummaries summaries={s.annotations} />
      </div>
    </div>
  );
}

function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function Filters({ q }: { q: ReturnType<typeof parseSessionQuery> }) {
  const field = (name: string, value: string, placeholder: string, label: string) => (
    <label>
      {label}
      <input
        key={value}
        name={name}
        defaultValue={value}
        placeholder={placeholder}
        onKeyDown={(e) => {
          if (e.key === "Enter") setQuery({ [name]: e.currentTarget.value.trim() || null });
        }}
        onBlur={(e) => {
          if (e.currentTarget.value.trim() !== value) setQuery({ [name]: e.currentTarget.value.trim() || null });
        }}
      />
    </label>
  );
  // a local date-time input; the URL keeps the instant in UTC
  const timeField = (name: "from" | "to", value: string, label: string) => (
    <label>
      {label}
      <input
        key={value}
        type="datetime-local"
        name={name}
        defaultValue={value ? toLocalInput(value) : ""}
        onChange={(e) => {
          const t = Date.parse(e.currentTarget.value);
          setQuery({ [name]: Number.isNaN(t) ? null : new Date(t).toISOString() });
        }}
      />
    </label>
  );
  return (
    <form
      className="filters"
      onSubmit={(e) => {
        e.preventDefault();
        const text = String(new FormData(e.currentTarget).get("q") ?? "").trim();
        setQuery({ q: text || null });
      }}
    >
      <label className="grow">
        Search
        <input key={q.q} type="search" name="q" defaultValue={q.q} placeholder="text in inputs and outputs" />
      </label>
      <label>
        Time
        <select name="range" value={q.range} onChange={(e) => setQuery({ range: e.target.value === "all" ? null : e.target.value })}>
          {Object.keys(RANGES).map((r) => (
            <option key={r} value={r}>
              {r === "all" ? "all time" : r === "custom" ? "from … to …" : `last ${r}`}
            </option>
          ))}
        </select>
      </label>
      {q.range === "custom" && (
        <>
          {timeField("from", q.from, "From")}
          {timeField("to", q.to, "To")}
        </>
      )}
      {field("user", q.user, "user id", "User")}
      {field("tag", q.tag, "tag", "Tag")}
      {field("metadata", q.metadata, "key=value", "Metadata")}
      {field("min_turns", q.minTurns, "e.g. 3", "Min turns")}
      <label className="checkbox">
        <input
          type="checkbox"
          name="errors"
          checked={q.errors}
          onChange={(e) => setQuery({ errors: e.target.checked ? "1" : null })}
        />
        with errors
      </label>
      <button type="submit">Search</button>
    </form>
  );
}
