import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties, type KeyboardEvent } from "react";
import { api, ApiError, query, seg, type Evaluator, type Page, type Session } from "../../lib/api";
import { formatCost, formatCount, formatDuration, formatShortTime, formatTime, preview } from "../../lib/format";
import { Link, routePath, setQuery, useLocation } from "../../lib/router";
import { VirtualList } from "../../components/VirtualList";
import { EmptyState } from "../../components/EmptyState";
import { AnnotationSummaries, VerdictChip } from "../../components/AnnotationSummaries";
import { ErrorNote, SessionStatusBadge } from "../../components/Status";
import { useFetch } from "../../lib/useFetch";
import { ProjectNav } from "../../components/ProjectNav";
import {
  annotationFilter,
  annotationMode,
  apiParams,
  isFiltered,
  parseSessionQuery,
  RANGES,
  windowStart,
  type AnnotationMode,
  type SessionQuery,
  type Sort,
} from "./sessionQuery";
import { verdictColumns } from "./verdictColumns";
import { rememberSessionList } from "../../lib/sessionNav";

const ROW_HEIGHT = 44;
const PAGE_SIZE = 100;
/** How often a list showing only its first page is read again (new sessions, status, verdicts). */
const LIVE_REFRESH_MS = 5_000;

interface Column {
  label: string;
  sort?: Sort;
  className?: string;
  width: string;
  /** A verdict column: the annotation it shows (sorted by its score). */
  annotation?: string;
}

const BEFORE_VERDICTS: Column[] = [
  { label: "Session", width: "minmax(90px, 1.1fr)" },
  { label: "Status", width: "74px" },
  { label: "First input", width: "minmax(100px, 1.5fr)" },
  { label: "Last output", width: "minmax(100px, 1.5fr)" },
  { label: "Users", width: "minmax(60px, 0.7fr)" },
  { label: "Turns", sort: "num_traces", className: "num", width: "64px" },
  { label: "Start", sort: "start_time", width: "118px" },
  { label: "Last activity", sort: "last_activity", width: "118px" },
  { label: "Duration", sort: "duration", className: "num", width: "86px" },
  { label: "Tokens", sort: "total_tokens", className: "num", width: "72px" },
  { label: "Cost", sort: "total_cost", className: "num", width: "88px" },
  { label: "Errors", className: "num", width: "62px" },
];
const ANNOTATIONS: Column = { label: "Annotations", width: "minmax(100px, 1.3fr)" };

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

  // the first page read again, replacing the rows once it is here (no
  // loading state; a failure leaves the rows shown and the next one retries)
  const refresh = useCallback(() => {
    const requestKey = `${project}|${key}|live`;
    inFlight.current = requestKey;
    const from = windowStart(JSON.parse(key), Date.now());
    api<Page<Session>>(base + query({ ...params, start_time: from, limit: PAGE_SIZE, cursor: null }))
      .then((page) =>
        setLoaded((l) => {
          if (l.key !== key || l.loading || l.sessions.length > PAGE_SIZE) return l; // the reader moved on
          windowFrom.current = from;
          return { key, sessions: page.data, next: page.next_cursor, loading: false };
        }),
      )
      .catch(() => undefined)
      .finally(() => {
        if (inFlight.current === requestKey) inFlight.current = null;
      });
  }, [base, key, params, project]);

  useEffect(() => loadPage(null, true), [loadPage]);
  // while the list shows only its first page, it follows the project: new
  // sessions, sessions going idle, verdicts arriving (a list scrolled further
  // stays as it is, so rows never move under the reader)
  useEffect(() => {
    const timer = window.setInterval(() => {
      const firstPageOnly = loaded.key === key && !loaded.loading && loaded.sessions.length <= PAGE_SIZE;
      if (firstPageOnly && inFlight.current === null && document.visibilityState === "visible") refresh();
    }, LIVE_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [loaded, key, refresh]);
  // the session page's `[` / `]` step through this list, in this order
  useEffect(() => {
    if (loaded.key === key && !loaded.loading)
      rememberSessionList({
        project,
        list: window.location.pathname + window.location.search,
        ids: loaded.sessions.map((s) => s.session_id),
      });
  }, [loaded, key, project]);
  const onNearEnd = useCallback(() => {
    if (loaded.next && !loaded.loading && loaded.key === key) loadPage(loaded.next, false);
  }, [loaded, key, loadPage]);
  const currentSort = q.sort;
  const currentOrder = q.order;
  const currentAnnotation = q.annotation;
  const filtered = isFiltered(JSON.parse(key) as SessionQuery);
  const columns = useColumns(project, currentAnnotation);
  const grid = { gridTemplateColumns: columns.map((c) => c.width).join(" ") };

  const sorted = (c: Column) =>
    currentSort === c.sort && (c.annotation === undefined || c.annotation === currentAnnotation);
  const sortBy = (c: Column) => {
    const order = sorted(c) && currentOrder === "desc" ? "asc" : "desc";
    // ordering by a verdict's score lists the sessions that have that verdict
    const annotation =
      c.annotation !== undefined && c.annotation !== currentAnnotation ? annotationFilter(c.annotation, "has") : {};
    setQuery({ ...annotation, sort: c.sort ?? null, order }, { replace: false });
  };

  const stale = loaded.key !== key;

  return (
    <section className="sessions-page">
      <h1>
        Sessions <span className="muted">in {project}</span>
      </h1>
      <ProjectNav project={project} current="sessions" />
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
            <div className="session-row header" role="row" style={grid}>
              {columns.map((c) => (
                <div
                  key={c.annotation ? `verdict:${c.annotation}` : c.label}
                  className={`cell ${c.className ?? ""} ${c.annotation ? "verdict" : ""}`}
                  role="columnheader"
                  data-verdict={c.annotation}
                >
                  {c.sort ? (
                    <button
                      type="button"
                      className="sort"
                      onClick={() => sortBy(c)}
                      title={c.annotation ? `sort by ${c.annotation}'s score (sessions that have it)` : undefined}
                      aria-sort={sorted(c) ? (currentOrder === "asc" ? "ascending" : "descending") : "none"}
                    >
                      {c.label}
                      {sorted(c) ? (currentOrder === "asc" ? " ▲" : " ▼") : ""}
                    </button>
                  ) : (
                    c.label
                  )}
                </div>
              ))}
            </div>
          }
          renderRow={(s) => (
            <SessionRow session={s} style={grid} verdicts={columns.flatMap((c) => (c.annotation ? [c.annotation] : []))} />
          )}
        />
      )}
      <p className="muted small" data-testid="sessions-count">
        {loaded.sessions.length} session{loaded.sessions.length === 1 ? "" : "s"} shown
        {loaded.next ? ", more as you scroll" : ""}
        {loaded.sessions.length <= PAGE_SIZE ? " · updated as sessions arrive" : ""}
        {loaded.loading ? " · loading…" : ""}
      </p>
    </section>
  );
}

/** The table's columns: the fixed ones, a verdict column per enabled evaluator, the annotations. */
function useColumns(project: string, annotation: string): Column[] {
  const path = `/v1/projects/${seg(project)}/evaluators`;
  const evaluators = useFetch(path, (signal) => api<Page<Evaluator>>(path, { signal }));
  return [
    ...BEFORE_VERDICTS,
    ...verdictColumns(evaluators.data?.data ?? [], annotation).map(
      (name): Column => ({ label: name, annotation: name, sort: "annotation_score", width: "minmax(80px, 0.9fr)" }),
    ),
    ANNOTATIONS,
  ];
}

function SessionRow({ session: s, style, verdicts }: { session: Session; style: CSSProperties; verdicts: string[] }) {
  const to = routePath({ page: "session", project: s.project, sessionId: s.session_id });
  return (
    <div className={`session-row ${s.num_traces_with_error > 0 ? "has-error" : ""}`} data-testid="session-row" style={style}>
      <div className="cell id">
        <Link to={to} title={s.session_id}>
          {s.session_id}
        </Link>
      </div>
      <div className="cell">
        <SessionStatusBadge status={s.status} />
      </div>
      <div className="cell text" title={s.first_input?.value}>
        {preview(s.first_input?.value, 80)}
      </div>
      <div className="cell text" title={s.last_output?.value}>
        {preview(s.last_output?.value, 80)}
      </div>
      <div className="cell">{s.user_ids.join(", ") || "–"}</div>
      <div className="cell num">{s.num_traces}</div>
      <div className="cell" title={formatTime(s.start_time)}>
        {formatShortTime(s.start_time)}
      </div>
      <div className="cell" data-testid="last-activity" title={`last trace arrived ${formatTime(s.last_activity)}; last turn ended ${formatTime(s.end_time)}`}>
        {formatShortTime(s.last_activity)}
      </div>
      <div className="cell num">{formatDuration(s.duration_ms)}</div>
      <div className="cell num">{formatCount(s.token_count.total)}</div>
      <div className="cell num">{formatCost(s.cost.total)}</div>
      <div className="cell num">{s.num_traces_with_error || ""}</div>
      {verdicts.map((name) => {
        const summary = s.annotations.find((a) => a.name === name);
        return (
          <div key={name} className="cell verdict" data-verdict={name}>
            {summary ? <VerdictChip summary={summary} withName={false} /> : <span className="muted">–</span>}
          </div>
        );
      })}
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

function Filters({ q }: { q: SessionQuery }) {
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
        <input
          key={q.q}
          type="search"
          name="q"
          defaultValue={q.q}
          placeholder="text in inputs and outputs, or a session id (or its start)"
        />
      </label>
      <label>
        Status
        <select name="status" value={q.status} onChange={(e) => setQuery({ status: e.target.value || null })}>
          <option value="">any</option>
          <option value="active">active</option>
          <option value="idle">idle</option>
        </select>
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
      <AnnotationFilter q={q} />
    </form>
  );
}

/** Sessions by a verdict: has / has not an annotation, its label is, its score within. */
function AnnotationFilter({ q }: { q: SessionQuery }) {
  const [mode, setMode] = useState<AnnotationMode>(annotationMode(q));
  const name = q.annotation || q.missingAnnotation;
  const apply = (form: HTMLElement | null, m: AnnotationMode = mode) => {
    if (!form) return;
    const value = (n: string) => (form.querySelector<HTMLInputElement>(`[name=${n}]`)?.value ?? "").trim();
    setQuery(annotationFilter(value("annotation_name"), m, { label: value("annotation_label"), min: value("score_min"), max: value("score_max") }));
  };
  const onEnter = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter") {
      e.preventDefault();
      apply(e.currentTarget.closest("fieldset"));
    }
  };
  return (
    <fieldset className="annotation-filter" data-testid="annotation-filter">
      <legend>Annotation</legend>
      <input key={`n${name}`} name="annotation_name" defaultValue={name} placeholder="name" aria-label="annotation name" onKeyDown={onEnter} />
      <select
        aria-label="annotation condition"
        value={mode}
        onChange={(e) => {
          const m = e.target.value as AnnotationMode;
          setMode(m);
          if (m === "has" || m === "missing") apply(e.currentTarget.closest("fieldset"), m);
        }}
      >
        <option value="has">has</option>
        <option value="missing">has not</option>
        <option value="label">label is</option>
        <option value="score">score between</option>
      </select>
      {mode === "label" && (
        <input key={`l${q.annotationLabel}`} name="annotation_label" defaultValue={q.annotationLabel} placeholder="label" aria-label="annotation label" onKeyDown={onEnter} />
      )}
      {mode === "score" && (
        <>
          <input key={`a${q.scoreMin}`} name="score_min" defaultValue={q.scoreMin} placeholder="min" inputMode="decimal" aria-label="minimum score" onKeyDown={onEnter} />
          <input key={`b${q.scoreMax}`} name="score_max" defaultValue={q.scoreMax} placeholder="max" inputMode="decimal" aria-label="maximum score" onKeyDown={onEnter} />
        </>
      )}
      <button type="button" onClick={(e) => apply(e.currentTarget.closest("fieldset"))}>
        Apply
      </button>
      {name && (
        <button type="button" className="link-button" onClick={() => setQuery(annotationFilter("", "has"))}>
          clear
        </button>
      )}
    </fieldset>
  );
}
