// The traces of a project, newest first; `?has_session=false` lists the ones
// that carry no session id (a trace the app sent outside any session), so they
// are never out of reach.
import { useState } from "react";
import { api, query, seg, type Page, type TraceSummary } from "../../lib/api";
import { formatCount, formatDuration, formatTime } from "../../lib/format";
import { Link, routePath, useLocation } from "../../lib/router";
import { useFetch } from "../../lib/useFetch";
import { ErrorNote, StatusBadge } from "../../components/Status";

const PAGE_SIZE = 50;

/** The pages loaded after the first, for one list. */
interface More {
  key: string;
  traces: TraceSummary[];
  next: string | null;
  error?: Error;
}

export function TracesPage({ project }: { project: string }) {
  const { search } = useLocation();
  const withoutSession = search.get("has_session") === "false";
  const url = (cursor: string | null) =>
    `/v1/projects/${seg(project)}/traces` +
    query({ limit: PAGE_SIZE, cursor, has_session: withoutSession ? false : null });
  const key = url(null);
  const first = useFetch(key, (signal) => api<Page<TraceSummary>>(key, { signal }));
  const [more, setMore] = useState<More | null>(null);
  const [loading, setLoading] = useState(false);
  const extra = more?.key === key ? more : null;
  const traces = [...(first.data?.data ?? []), ...(extra?.traces ?? [])];
  const next = extra ? extra.next : (first.data?.next_cursor ?? null);
  const error = first.error ?? extra?.error;
  const loadMore = (cursor: string) => {
    setLoading(true);
    api<Page<TraceSummary>>(url(cursor)).then(
      (page) => {
        setMore({ key, traces: [...(extra?.traces ?? []), ...page.data], next: page.next_cursor });
        setLoading(false);
      },
      (e: unknown) => {
        setMore({ key, traces: extra?.traces ?? [], next: cursor, error: e instanceof Error ? e : new Error(String(e)) });
        setLoading(false);
      },
    );
  };

  return (
    <section>
      <p className="breadcrumb">
        <Link to={routePath({ page: "sessions", project })}>← sessions of {project}</Link>
      </p>
      <h1>
        {withoutSession ? "Traces without a session id" : "Traces"} <span className="muted">in {project}</span>
      </h1>
      {withoutSession && <SessionHint />}
      {error && <ErrorNote error={error} />}
      {!first.loading && !error && traces.length === 0 && <p className="muted">No traces.</p>}
      {traces.length > 0 && (
        <table className="table" data-testid="traces">
          <thead>
            <tr>
              <th>Start</th>
              <th>Input</th>
              <th>Output</th>
              <th className="num">Spans</th>
              <th className="num">Latency</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {traces.map((t) => (
              <tr key={t.trace_id}>
                <td>
                  <Link to={routePath({ page: "trace", project, traceId: t.trace_id })}>{formatTime(t.start_time)}</Link>
                </td>
                <td className="preview">{t.input?.value ?? <span className="muted">—</span>}</td>
                <td className="preview">{t.output?.value ?? <span className="muted">—</span>}</td>
                <td className="num">{formatCount(t.span_count)}</td>
                <td className="num">{formatDuration(t.latency_ms)}</td>
                <td>
                  <StatusBadge status={t.status} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" disabled={loading} onClick={() => loadMore(next)}>
          {loading ? "Loading…" : "More traces"}
        </button>
      )}
    </section>
  );
}

/** How to give the next traces a session. */
function SessionHint() {
  return (
    <div className="hint" data-testid="session-hint">
      <p>
        These traces carry no session id, so they belong to no conversation. Set one on every turn of a conversation:
      </p>
      <ul>
        <li>
          Python: <code>with using_session(&quot;conv-42&quot;): …</code> (
          <code>openinference.instrumentation.session</code> or <code>openinference.instrumentation</code>)
        </li>
        <li>
          Node: <code>await withSession(&quot;conv-42&quot;, handleTurn)</code> (<code>openinference-session</code>)
        </li>
        <li>
          Vercel AI SDK: <code>experimental_telemetry: {"{"} isEnabled: true, metadata: {"{"} sessionId: &quot;conv-42&quot; {"}"} {"}"}</code>
        </li>
        <li>
          Any OpenTelemetry span: the attribute <code>session.id</code> (or <code>gen_ai.conversation.id</code>)
        </li>
      </ul>
    </div>
  );
}
