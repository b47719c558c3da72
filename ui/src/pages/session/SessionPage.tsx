import { useCallback, useEffect, useRef, useState } from "react";
import { api, query, seg, type Page, type Session, type Trace, type Turn } from "../../lib/api";
import { formatCost, formatCount, formatDuration, formatTime } from "../../lib/format";
import { Link, routePath } from "../../lib/router";
import { useFetch } from "../../lib/useFetch";
import { ContentView } from "../../components/ContentView";
import { ErrorNote, StatusBadge } from "../../components/Status";
import { splitMetadata } from "./metadata";
import { stepsOf } from "./steps";
import { AnnotationsPanel } from "./AnnotationsPanel";
import { allTurns, download, transcriptMarkdown } from "./transcript";
import { AnnotationSummaries } from "../../components/AnnotationSummaries";

const TURNS_PAGE = 50;

export function SessionPage({ project, sessionId }: { project: string; sessionId: string }) {
  const base = `/v1/projects/${seg(project)}/sessions/${seg(sessionId)}`;
  // the header's annotation summary is re-read when a verdict changes
  const [annotationsVersion, setAnnotationsVersion] = useState(0);
  const onAnnotationsChange = useCallback(() => setAnnotationsVersion((v) => v + 1), []);
  const summary = useFetch(`${base}#${annotationsVersion}`, (signal) => api<Session>(base, { signal }));
  const [turns, setTurns] = useState<Turn[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error>();
  const [current, setCurrent] = useState(-1);
  const loadingRef = useRef(false);

  const load = useCallback(
    (cursor: string | null) => {
      if (loadingRef.current) return;
      loadingRef.current = true;
      setLoading(true);
      api<Page<Turn>>(`${base}/turns${query({ limit: TURNS_PAGE, cursor })}`)
        .then((page) => {
          setTurns((t) => (cursor ? [...t, ...page.data] : page.data));
          setNext(page.next_cursor);
        })
        .catch((e: Error) => setError(e))
        .finally(() => {
          loadingRef.current = false;
          setLoading(false);
        });
    },
    [base],
  );
  // the page is keyed by session (see App), so the first page loads once
  useEffect(() => load(null), [load]);

  // the next page loads when the end of the conversation comes into view
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !next) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) load(next);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [next, load]);

  // j / k: next / previous turn
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
      if (e.key !== "j" && e.key !== "k") return;
      setCurrent((c) => {
        const n = e.key === "j" ? Math.min(turns.length - 1, c + 1) : Math.max(0, c - 1);
        document.getElementById(`turn-${n}`)?.scrollIntoView({ block: "center", behavior: "smooth" });
        return n;
      });
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [turns.length]);

  if (summary.error) return <ErrorNote error={summary.error} />;
  const s = summary.data;
  return (
    <section className="session-page">
      <p className="breadcrumb">
        <Link to={routePath({ page: "sessions", project })}>← sessions of {project}</Link>
      </p>
      <h1 className="session-title">
        Session <code>{sessionId}</code>
        {s && (
          <button
            type="button"
            className="link-button small"
            onClick={() =>
              allTurns(project, sessionId).then(
                (all) => download(`session-${sessionId}.md`, transcriptMarkdown(s, all)),
                (e: Error) => setError(e),
              )
            }
          >
            download transcript
          </button>
        )}
      </h1>
      {s && <SessionHeader session={s} />}
      <AnnotationsPanel project={project} sessionId={sessionId} onChange={onAnnotationsChange} />
      {error && <ErrorNote error={error} />}
      <ol className="conversation" data-testid="conversation">
        {turns.map((turn, i) => (
          <TurnView key={turn.trace_id} turn={turn} index={i} project={project} current={i === current} />
        ))}
      </ol>
      <div ref={sentinel} />
      <p className="muted small">
        {loading ? "Loading turns…" : next ? "" : `${turns.length} turn${turns.length === 1 ? "" : "s"}`}
        {next && !loading && (
          <button type="button" className="link-button" onClick={() => load(next)}>
            load more
          </button>
        )}
        {" · "}
        <kbd>j</kbd>/<kbd>k</kbd> move between turns
      </p>
    </section>
  );
}

function SessionHeader({ session: s }: { session: Session }) {
  const stat = (label: string, value: string) => (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
    </div>
  );
  const { app, framework } = splitMetadata(s.metadata);
  const [showFramework, setShowFramework] = useState(false);
  const chip = ([k, v]: [string, unknown]) => (
    <span key={k} className="chip meta">
      {k}: {typeof v === "string" ? v : JSON.stringify(v)}
    </span>
  );
  return (
    <div className="session-header" data-testid="session-header">
      <div className="stats">
        {stat("Turns", String(s.num_traces))}
        {stat("Errors", String(s.num_traces_with_error))}
        {stat("Duration", formatDuration(s.duration_ms))}
        {stat("Tokens", `${formatCount(s.token_count.total)} (${formatCount(s.token_count.prompt)} in, ${formatCount(s.token_count.completion)} out)`)}
        {stat("Cost", formatCost(s.cost.total))}
        {stat("Latency p50 / p99", `${formatDuration(s.latency_ms.p50)} / ${formatDuration(s.latency_ms.p99)}`)}
        {stat("Started", formatTime(s.start_time))}
      </div>
      <div className="chips">
        {s.user_ids.map((u) => (
          <span key={u} className="chip user">
            user {u}
          </span>
        ))}
        {s.tags.map((t) => (
          <span key={t} className="chip tag">
            #{t}
          </span>
        ))}
        {app.map(chip)}
        {framework.length > 0 &&
          (showFramework ? (
            framework.map(chip)
          ) : (
            <button
              type="button"
              className="link-button"
              data-testid="framework-metadata"
              title={framework.map(([k]) => k).join(", ")}
              onClick={() => setShowFramework(true)}
            >
              {framework.length} more
            </button>
          ))}
        <AnnotationSummaries summaries={s.annotations} />
      </div>
    </div>
  );
}

function TurnView({ turn, index, project, current }: { turn: Turn; index: number; project: string; current: boolean }) {
  const [showSteps, setShowSteps] = useState(false);
  return (
    <li id={`turn-${index}`} className={`turn ${turn.status === "error" ? "turn-error" : ""} ${current ? "current" : ""}`} data-testid="turn">
      <div className="bubble user-bubble" data-testid="turn-input">
        <div className="who">{turn.user_id ? `user ${turn.user_id}` : "user"}</div>
        {turn.input ? <ContentView value={turn.input.value} mimeType={turn.input.mime_type} /> : <em className="muted">no input recorded</em>}
      </div>
      {showSteps && <Steps project={project} traceId={turn.trace_id} />}
      <div className="bubble assistant-bubble" data-testid="turn-output">
        <div className="who">assistant</div>
        {turn.output ? <ContentView value={turn.output.value} mimeType={turn.output.mime_type} /> : <em className="muted">no output recorded</em>}
      </div>
      <div className="turn-meta">
        <span>#{index + 1}</span>
        <span>{formatTime(turn.start_time)}</span>
        <span>{formatDuration(turn.latency_ms)}</span>
        <span>{formatCount(turn.token_count.total)} tokens</span>
        <span>{formatCost(turn.cost.total)}</span>
        <StatusBadge status={turn.status} />
        <button type="button" className="link-button" onClick={() => setShowSteps(!showSteps)}>
          {showSteps ? "hide steps" : `steps (${turn.span_count} spans)`}
        </button>
        <Link to={routePath({ page: "trace", project, traceId: turn.trace_id })}>view trace</Link>
        {turn.session_conflicts && turn.session_conflicts.length > 0 && (
          <span className="conflict" title="other session ids seen on this trace's spans">
            also tagged {turn.session_conflicts.join(", ")}
          </span>
        )}
      </div>
    </li>
  );
}

/** The tool calls, retrievals and LLM calls of one turn, inline. */
function Steps({ project, traceId }: { project: string; traceId: string }) {
  const path = `/v1/projects/${seg(project)}/traces/${seg(traceId)}`;
  const { data, error } = useFetch(path, (signal) => api<Trace>(path, { signal }));
  if (error) return <ErrorNote error={error} />;
  if (!data) return <p className="muted small">Loading steps…</p>;
  const steps = stepsOf(data.spans);
  if (steps.length === 0) return <p className="muted small">No tool, retrieval or LLM steps in this turn.</p>;
  return (
    <ul className="steps" data-testid="steps">
      {steps.map((step) => (
        <li key={step.span.span_id} className={`step step-${step.kind.toLowerCase()}`}>
          <details>
            <summary>
              <span className="kind">{step.kind}</span> {step.title}{" "}
              <span className="muted">{formatDuration(step.durationMs)}</span>
            </summary>
            {step.input && (
              <div className="step-io">
                <div className="step-label">input</div>
                <ContentView value={step.input} />
              </div>
            )}
            {step.output && (
              <div className="step-io">
                <div className="step-label">output</div>
                <ContentView value={step.output} />
              </div>
            )}
          </details>
        </li>
      ))}
    </ul>
  );
}
