import { useState } from "react";
import { api, seg, type Span, type Trace } from "../../lib/api";
import { formatCount, formatDuration, formatTime } from "../../lib/format";
import { Link, routePath, setQuery, useLocation } from "../../lib/router";
import { useFetch } from "../../lib/useFetch";
import { ContentView } from "../../components/ContentView";
import { ErrorNote, StatusBadge } from "../../components/Status";
import { spanKind } from "../session/steps";
import { llmMessages, spanRows } from "./spanTree";

export function TracePage({ project, traceId }: { project: string; traceId: string }) {
  const path = `/v1/projects/${seg(project)}/traces/${seg(traceId)}`;
  const { data, error } = useFetch(path, (signal) => api<Trace>(path, { signal }));
  const { search } = useLocation();
  if (error) return <ErrorNote error={error} />;
  if (!data) return <p className="muted">Loading trace…</p>;
  const rows = spanRows(data.spans);
  const selectedId = search.get("span") ?? data.root_span_id ?? rows[0]?.span.span_id;
  const selected = data.spans.find((s) => s.span_id === selectedId) ?? rows[0]?.span;
  return (
    <section className="trace-page">
      <p className="breadcrumb">
        {data.session_id ? (
          <Link to={routePath({ page: "session", project, sessionId: data.session_id })} data-testid="back-to-session">
            ← session {data.session_id}
          </Link>
        ) : (
          <Link to={routePath({ page: "sessions", project })}>← sessions of {project}</Link>
        )}
      </p>
      <h1>
        Trace <code>{traceId}</code> <StatusBadge status={data.status} />
      </h1>
      <p className="muted">
        {formatTime(data.start_time)} · {formatDuration(data.latency_ms)} · {data.span_count} spans ·{" "}
        {formatCount(data.token_count.total)} tokens
        {data.session_conflicts.length > 0 && <> · also tagged with sessions {data.session_conflicts.join(", ")}</>}
      </p>
      <div className="trace-layout">
        <div className="span-tree" data-testid="span-tree" role="tree">
          {rows.map((row) => (
            <button
              type="button"
              key={row.span.span_id}
              role="treeitem"
              aria-selected={row.span.span_id === selected?.span_id}
              className={`span-row ${row.span.span_id === selected?.span_id ? "selected" : ""} ${row.span.status === "error" ? "span-error" : ""}`}
              onClick={() => setQuery({ span: row.span.span_id })}
            >
              <span className="span-name" style={{ paddingLeft: row.depth * 16 }}>
                <span className={`kind kind-${(spanKind(row.span) || "span").toLowerCase()}`}>{spanKind(row.span) || row.span.kind}</span>{" "}
                {row.span.name}
              </span>
              <span className="waterfall">
                <span className="bar" style={{ left: `${row.offsetPct}%`, width: `${row.widthPct}%` }} />
              </span>
              <span className="span-duration">{formatDuration(row.durationMs)}</span>
            </button>
          ))}
        </div>
        {selected && <SpanDetails span={selected} />}
      </div>
    </section>
  );
}

function SpanDetails({ span }: { span: Span }) {
  const [tab, setTab] = useState<"io" | "attributes" | "events">("io");
  const a = span.attributes;
  const input = a["input.value"];
  const output = a["output.value"];
  const inMessages = llmMessages(a, "input");
  const outMessages = llmMessages(a, "output");
  return (
    <div className="span-details" data-testid="span-details">
      <h2>
        {span.name} <StatusBadge status={span.status} />
      </h2>
      {span.status_message && <p className="error-note">{span.status_message}</p>}
      <div className="tabs" role="tablist">
        {(["io", "attributes", "events"] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t === "io" ? "input / output" : t === "events" ? `events (${span.events.length})` : "attributes"}
          </button>
        ))}
      </div>
      {tab === "io" && (
        <div>
          {inMessages.length > 0 && <Messages title="LLM input messages" messages={inMessages} />}
          {outMessages.length > 0 && <Messages title="LLM output messages" messages={outMessages} />}
          {typeof input === "string" && (
            <>
              <h3>input</h3>
              <ContentView value={input} mimeType={String(a["input.mime_type"] ?? "")} />
            </>
          )}
          {typeof output === "string" && (
            <>
              <h3>output</h3>
              <ContentView value={output} mimeType={String(a["output.mime_type"] ?? "")} />
            </>
          )}
          {inMessages.length + outMessages.length === 0 && input === undefined && output === undefined && (
            <p className="muted">No input or output on this span.</p>
          )}
        </div>
      )}
      {tab === "attributes" && (
        <table className="table attributes">
          <tbody>
            {Object.entries(a)
              .sort(([x], [y]) => x.localeCompare(y))
              .map(([k, v]) => (
                <tr key={k}>
                  <th>{k}</th>
                  <td>{typeof v === "string" ? v : JSON.stringify(v)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
      {tab === "events" && (
        <ul className="events">
          {span.events.map((e, i) => (
            <li key={i} className={e.name === "exception" ? "span-error" : ""}>
              <strong>{e.name}</strong> <span className="muted">{formatTime(e.time)}</span>
              <pre>{JSON.stringify(e.attributes, null, 2)}</pre>
            </li>
          ))}
          {span.events.length === 0 && <li className="muted">No events.</li>}
        </ul>
      )}
    </div>
  );
}

function Messages({ title, messages }: { title: string; messages: { role: string; content: string }[] }) {
  return (
    <>
      <h3>{title}</h3>
      <ol className="messages">
        {messages.map((m, i) => (
          <li key={i} className={`message role-${m.role}`}>
            <div className="who">{m.role}</div>
            <ContentView value={m.content} />
          </li>
        ))}
      </ol>
    </>
  );
}
