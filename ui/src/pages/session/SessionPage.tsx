import { useCallback, useEffect, useRef, useState } from "react";
import { api, query, seg, type EvaluationJob, type Page, type Session, type Trace, type Turn } from "../../lib/api";
import { formatCost, formatCount, formatDuration, formatTime } from "../../lib/format";
import { Link, navigate, routePath } from "../../lib/router";
import { neighbor, rememberedSessionList } from "../../lib/sessionNav";
import { useFetch } from "../../lib/useFetch";
import { ContentView } from "../../components/ContentView";
import { ErrorNote, SessionStatusBadge, StatusBadge } from "../../components/Status";
import { splitMetadata } from "./metadata";
import { stepsOf } from "./steps";
import { AnnotationsPanel } from "./AnnotationsPanel";
import { allTurns, download, transcriptMarkdown } from "./transcript";
import { AnnotationSummaries } from "../../components/AnnotationSummaries";

const TURNS_PAGE = 50;
/** How often a live session (active, or with evaluations to come) is re-read: every second for a minute, then every 5 s. */
const LIVE_MS = 1000;
const LIVE_SLOW_MS = 5000;
const LIVE_FAST_TICKS = 60;
/** How long after a session is seen idle its evaluations are waited for. */
const AWAIT_JOBS_MS = 15_000;

export function SessionPage({ project, sessionId }: { project: string; sessionId: string }) {
  const base = `/v1/projects/${seg(project)}/sessions/${seg(sessionId)}`;
  // the header's annotation summary is re-read when a verdict changes
  const [annotationsVersion, setAnnotationsVersion] = useState(0);
  const onAnnotationsChange = useCallback(() => setAnnotationsVersion((v) => v + 1), []);
  // a live session is re-read every LIVE_MS: its status, then its evaluations and verdicts
  const [tick, setTick] = useState(0);
  const summary = useFetch(`${base}#${annotationsVersion}#${tick}`, (signal) => api<Session>(base, { signal }));
  const jobsPath = `/v1/projects/${seg(project)}/evaluation_jobs${query({ session_id: sessionId, limit: 50 })}`;
  const jobs = useFetch(`${jobsPath}#${tick}`, (signal) => api<Page<EvaluationJob>>(jobsPath, { signal }));
  const jobList = jobs.data?.data;
  const pending = jobList?.some((j) => j.state === "queued" || j.state === "running") ?? false;
  const jobsSignature = (jobList ?? []).map((j) => `${j.id}:${j.state}`).join();
  const status = summary.data?.status;
  // ticks seen idle with nothing pending: the evaluators' jobs are queued soon after a session goes idle
  const [quietTicks, setQuietTicks] = useState(0);
  useEffect(() => {
    if (status === undefined) return;
    const quiet = status === "idle" && !pending;
    if (quiet && quietTicks >= AWAIT_JOBS_MS / LIVE_MS) return;
    const timer = window.setTimeout(() => {
      setQuietTicks((n) => (quiet ? n + 1 : 0));
      setTick((t) => t + 1);
    }, tick < LIVE_FAST_TICKS ? LIVE_MS : LIVE_SLOW_MS);
    return () => window.clearTimeout(timer);
  }, [status, pending, quietTicks, tick]);
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

  // [ / ]: previous / next session of the list this one was opened from
  const remembered = rememberedSessionList(project);
  const ids = remembered?.ids ?? [];
  const previousId = neighbor(ids, sessionId, -1);
  const nextId = neighbor(ids, sessionId, 1);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      const to = e.key === "]" ? nextId : e.key === "[" ? previousId : null;
      if (to !== null) navigate(routePath({ page: "session", project, sessionId: to }));
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [project, previousId, nextId]);

  if (summary.error) return <ErrorNote error={summary.error} />;
  const s = summary.data;
  return (
    <section className="session-page">
      <p className="breadcrumb">
        <Link to={remembered?.list ?? routePath({ page: "sessions", project })}>← sessions of {project}</Link>
        {ids.includes(sessionId) && (
          <span className="session-steps" data-testid="session-steps">
            {previousId !== null && (
              <Link to={routePath({ page: "session", project, sessionId: previousId })} title="previous session ([)">
                ‹ previous
              </Link>
            )}
            <span className="muted">
              {ids.indexOf(sessionId) + 1} of {ids.length}
            </span>
            {nextId !== null && (
              <Link to={routePath({ page: "session", project, sessionId: nextId })} title="next session (])">
                next ›
              </Link>
            )}
          </span>
        )}
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
      <AnnotationsPanel project={project} sessionId={sessionId} onChange={onAnnotationsChange} refreshKey={`${jobsSignature}|${summary.data?.last_activity ?? ""}|${status ?? ""}`} />
      <JobsPanel jobs={jobList} error={jobs.error} />
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
      </p>
      <p className="muted small shortcuts" data-testid="shortcuts">
        Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous turn · <kbd>]</kbd>/<kbd>[</kbd> next/previous session (of the list you came from)
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
        <div className="stat">
          <div className="stat-label">Status</div>
          <div className="stat-value">
            <SessionStatusBadge status={s.status} />
          </div>
        </div>
        {stat("Last activity", formatTime(s.last_activity))}
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

/** The session's evaluation jobs: each evaluator's run, its state and why one failed. */
function JobsPanel({ jobs, error }: { jobs: EvaluationJob[] | undefined; error: Error | undefined }) {
  if (error) return <ErrorNote error={error} />;
  if (!jobs || jobs.length === 0) return null;
  return (
    <section className="jobs-panel" data-testid="jobs">
      <h2>Evaluations</h2>
      <table className="table">
        <thead>
          <tr>
            <th>Evaluator</th>
            <th>State</th>
            <th className="num">Attempts</th>
            <th>Judged activity</th>
            <th>Updated</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} data-testid="job" data-state={j.state}>
              <td>
                {j.evaluator} <span className="muted">v{j.evaluator_version}</span>
                {j.backfill_id !== null && <span className="muted"> (backfill {j.backfill_id})</span>}
              </td>
              <td>
                <span className={`job-state job-${j.state}`}>{j.state}</span>
              </td>
              <td className="num">{j.attempts}</td>
              <td>{formatTime(j.activity)}</td>
              <td>{formatTime(j.updated_at)}</td>
              <td className="explanation">{j.error ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
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
