import { useState } from "react";
import {
  api,
  ApiError,
  query,
  seg,
  send,
  type AnnotationConfig,
  type AnnotationStats,
  type Page,
  type ProjectSettings,
  type ProjectStats,
} from "../../lib/api";
import { formatBucket, formatCount, formatDuration, formatTime } from "../../lib/format";
import { useFetch } from "../../lib/useFetch";
import { Link, routePath } from "../../lib/router";
import { ErrorNote } from "../../components/Status";
import { ProjectNav } from "../../components/ProjectNav";
import {
  bars,
  configOf,
  configText,
  emptyConfigDraft,
  labelShares,
  settingUpdate,
  settingView,
  WINDOWS,
  type ConfigDraft,
  type SettingKey,
} from "./projectModel";

/** A project: its settings (idle period, retention), its stats and its annotation configs. */
export function ProjectPage({ project }: { project: string }) {
  return (
    <section className="project-page">
      <h1>
        {project} <span className="muted">settings and stats</span>
      </h1>
      <ProjectNav project={project} current="project" />
      <StatsPanel project={project} />
      <SettingsPanel project={project} />
      <ConfigsPanel project={project} />
    </section>
  );
}

const SETTINGS: { key: SettingKey; label: string; help: string; placeholder: string }[] = [
  {
    key: "session_idle",
    label: "Idle period",
    help: "a session is active until no trace arrived for this long, then idle, and judged by the evaluators (at least 1s: 90s, 10m, 1h)",
    placeholder: "10m",
  },
  {
    key: "retention",
    label: "Retention",
    help: "sessions whose last activity is older are deleted, whole, with their traces and annotations (30d, 12h, at least 1m; or forever)",
    placeholder: "30d",
  },
];

function SettingsPanel({ project }: { project: string }) {
  const path = `/v1/projects/${seg(project)}/settings`;
  const [saved, setSaved] = useState<ProjectSettings>();
  const fetched = useFetch(path, (signal) => api<ProjectSettings>(path, { signal }));
  const settings = saved ?? fetched.data;
  const [problem, setProblem] = useState<{ key: SettingKey | ""; message: string }>();
  const put = (key: SettingKey, text: string | null) =>
    send<ProjectSettings>(path, "PUT", settingUpdate(key, text)).then(
      (s) => {
        setSaved(s);
        setProblem(undefined);
      },
      (e: Error) => {
        const p = e instanceof ApiError ? e.parameter : undefined;
        setProblem({ key: p === "session_idle" || p === "retention" ? p : "", message: e.message });
      },
    );
  return (
    <section className="panel" data-testid="settings">
      <h2>Settings</h2>
      {fetched.error && <ErrorNote error={fetched.error} />}
      {problem && problem.key === "" && <ErrorNote error={new Error(problem.message)} />}
      {settings &&
        SETTINGS.map(({ key, label, help, placeholder }) => {
          const v = settingView(settings, key);
          return (
            <form
              key={key}
              className="setting"
              data-testid={`setting-${key}`}
              onSubmit={(e) => {
                e.preventDefault();
                put(key, String(new FormData(e.currentTarget).get("value") ?? ""));
              }}
            >
              <div className="setting-head">
                <span className="setting-label">{label}</span>{" "}
                <strong data-testid="effective">{v.effective}</strong>{" "}
                <span className="muted" data-testid="source">
                  {v.isDefault ? "(the server's default)" : `(this project's; the server's is ${v.serverDefault})`}
                </span>
              </div>
              <div className="setting-edit">
                <input key={v.own} name="value" defaultValue={v.own} placeholder={placeholder} aria-label={label} />
                <button type="submit">Save</button>
                {!v.isDefault && (
                  <button type="button" className="link-button" onClick={() => put(key, null)}>
                    use the server's default ({v.serverDefault})
                  </button>
                )}
                {problem?.key === key && (
                  <span className="field-error" role="alert" data-testid="field-error">
                    {problem.message}
                  </span>
                )}
              </div>
              <p className="muted small">{help}</p>
            </form>
          );
        })}
    </section>
  );
}

const CHART_W = 480;
const CHART_H = 60;

function StatsPanel({ project }: { project: string }) {
  const [windowKey, setWindowKey] = useState("7d");
  // the window's start is fixed when chosen, so the request is stable
  const [start, setStart] = useState<string | null>(() => new Date(Date.now() - (WINDOWS["7d"] ?? 0)).toISOString());
  const path = `/v1/projects/${seg(project)}/stats${query({ start_time: start })}`;
  const stats = useFetch(path, (signal) => api<ProjectStats>(path, { signal }));
  const s = stats.data;
  return (
    <section className="panel" data-testid="stats">
      <div className="panel-head">
        <h2>Stats</h2>
        <select
          aria-label="stats window"
          value={windowKey}
          onChange={(e) => {
            const span = WINDOWS[e.target.value] ?? null;
            setWindowKey(e.target.value);
            setStart(span === null ? null : new Date(Date.now() - span).toISOString());
          }}
        >
          {Object.keys(WINDOWS).map((w) => (
            <option key={w} value={w}>
              {w === "all" ? "all time" : `last ${w}`}
            </option>
          ))}
        </select>
      </div>
      {stats.error && <ErrorNote error={stats.error} />}
      {!s && !stats.error && <p className="muted small">Loading…</p>}
      {s && (
        <>
          <div className="stats">
            <Stat label="Sessions" value={formatCount(s.sessions)} id="sessions" />
            <Stat label="Turns" value={formatCount(s.turns)} id="turns" />
            <Stat label="With errors" value={formatCount(s.sessions_with_error)} id="errors" />
            <Stat
              label="Turns per session (mean · p50 · p99)"
              value={`${s.turns_per_session.mean.toFixed(1)} · ${s.turns_per_session.p50} · ${s.turns_per_session.p99}`}
              id="turns-per-session"
            />
            <Stat
              label="Duration p50 / p99"
              value={`${formatDuration(s.duration_ms.p50)} / ${formatDuration(s.duration_ms.p99)}`}
              id="duration"
            />
          </div>
          <h3>Sessions over time</h3>
          <Trend
            testId="sessions-trend"
            points={s.trend.map((b) => ({ label: `${formatTime(b.start)}: ${b.sessions} sessions, ${b.turns} turns`, value: b.sessions }))}
          />
          <p className="muted small">one bar per {formatBucket(s.bucket_ms)} (buckets without sessions left out)</p>
          <h3>Annotations</h3>
          {s.annotations.length === 0 ? (
            <p className="muted small">No verdicts in this window.</p>
          ) : (
            <div className="annotation-stats">
              {s.annotations.map((a) => (
                <AnnotationStat key={a.name} project={project} stats={a} />
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}

function Stat({ label, value, id }: { label: string; value: string; id: string }) {
  return (
    <div className="stat" data-testid={`stat-${id}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
    </div>
  );
}

/** A small bar chart, inline SVG: each bar's value in its tooltip. */
function Trend({ points, testId }: { points: { label: string; value: number }[]; testId: string }) {
  if (points.length === 0) return <p className="muted small">No data.</p>;
  return (
    <svg className="trend" width={CHART_W} height={CHART_H} viewBox={`0 0 ${CHART_W} ${CHART_H}`} role="img" data-testid={testId}>
      {bars(points, CHART_W, CHART_H, 2).map((b, i) => (
        <rect key={i} x={b.x} y={b.y} width={b.width} height={b.height} className="trend-bar" data-value={b.value}>
          <title>{b.label}</title>
        </rect>
      ))}
    </svg>
  );
}

function AnnotationStat({ project, stats: a }: { project: string; stats: AnnotationStats }) {
  const shares = labelShares(a.labels);
  const scored = a.trend.some((b) => b.mean_score !== null);
  return (
    <div className="annotation-stat" data-testid="annotation-stat" data-name={a.name}>
      <h4>
        <Link to={`${routePath({ page: "sessions", project })}?annotation=${encodeURIComponent(a.name)}`}>{a.name}</Link>{" "}
        <span className="muted small">
          {a.count} verdict{a.count === 1 ? "" : "s"}
          {a.mean_score !== null && (
            <>
              {" · mean score "}
              <strong data-testid="mean-score">{a.mean_score.toFixed(2)}</strong>
            </>
          )}
        </span>
      </h4>
      {shares.length > 0 && (
        <ul className="label-bars">
          {shares.map((l) => (
            <li key={l.label} data-testid="label-share" data-label={l.label}>
              <span className="label-name">{l.label}</span>
              <span className="label-bar">
                <span style={{ width: `${(l.share * 100).toFixed(1)}%` }} />
              </span>
              <span className="muted small">
                {l.count} ({Math.round(l.share * 100)}%)
              </span>
            </li>
          ))}
        </ul>
      )}
      <Trend
        testId="annotation-trend"
        points={a.trend.map((b) =>
          scored
            ? { label: `${formatTime(b.start)}: mean ${b.mean_score?.toFixed(2) ?? "–"} of ${b.count}`, value: b.mean_score ?? 0 }
            : { label: `${formatTime(b.start)}: ${b.count} verdicts`, value: b.count },
        )}
      />
      <p className="muted small">{scored ? "mean score" : "verdicts"} over time</p>
    </div>
  );
}

/** What the project's annotations of a name may hold; the annotation editor offers exactly that. */
function ConfigsPanel({ project }: { project: string }) {
  const path = `/v1/projects/${seg(project)}/annotation_configs`;
  const [version, setVersion] = useState(0);
  const list = useFetch(`${path}#${version}`, (signal) => api<Page<AnnotationConfig>>(path, { signal }));
  const [draft, setDraft] = useState<ConfigDraft | null>(null);
  const [problem, setProblem] = useState<{ field: string; message: string }>();
  const [error, setError] = useState<Error>();
  const reload = () => setVersion((v) => v + 1);
  const set = <K extends keyof ConfigDraft>(k: K, v: ConfigDraft[K]) => setDraft((d) => (d ? { ...d, [k]: v } : d));
  const save = () => {
    if (!draft) return;
    const config = configOf(draft);
    if ("field" in config) {
      setProblem(config);
      return;
    }
    const { name, ...body } = config;
    send<AnnotationConfig>(`${path}/${seg(name ?? "")}`, "PUT", body).then(
      () => {
        setDraft(null);
        setProblem(undefined);
        reload();
      },
      (e: Error) => setProblem({ field: (e instanceof ApiError && e.parameter?.replace(/\[\d+\].*$/, "")) || "", message: e.message }),
    );
  };
  const fieldError = (field: string) =>
    problem?.field === field ? (
      <span className="field-error" role="alert" data-testid="field-error">
        {problem.message}
      </span>
    ) : null;
  const configs = list.data?.data ?? [];
  return (
    <section className="panel" data-testid="configs">
      <h2>Annotation configs</h2>
      <p className="muted small">
        What an annotation of a name may hold: a label from a list, a score within bounds, or free text. Every write is checked
        against it, and the session page's editor offers exactly that.
      </p>
      {list.error && <ErrorNote error={list.error} />}
      {error && <ErrorNote error={error} />}
      {configs.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Values</th>
              <th>Better</th>
              <th>Description</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {configs.map((c) => (
              <tr key={c.name} data-testid="config" data-name={c.name}>
                <td>{c.name}</td>
                <td>{c.type}</td>
                <td>{configText(c)}</td>
                <td>{c.optimization_direction ?? ""}</td>
                <td>{c.description ?? ""}</td>
                <td>
                  <button
                    type="button"
                    className="link-button"
                    aria-label={`delete config ${c.name}`}
                    onClick={() => api<void>(`${path}/${seg(c.name ?? "")}`, { method: "DELETE" }).then(reload, (e: Error) => setError(e))}
                  >
                    delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {draft === null ? (
        <button type="button" className="primary" onClick={() => setDraft(emptyConfigDraft())} data-testid="new-config">
          New config
        </button>
      ) : (
        <form
          className="config-form form-grid"
          data-testid="config-form"
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <label className="field">
            <span className="field-label">Name</span>
            <input name="name" value={draft.name} onChange={(e) => set("name", e.target.value)} />
            {fieldError("name")}
          </label>
          <label className="field">
            <span className="field-label">Type</span>
            <select name="type" value={draft.type} onChange={(e) => set("type", e.target.value as ConfigDraft["type"])}>
              <option value="categorical">categorical (labels)</option>
              <option value="continuous">continuous (a score)</option>
              <option value="freeform">freeform (text)</option>
            </select>
          </label>
          {draft.type === "categorical" && (
            <label className="field">
              <span className="field-label">Labels: label=score, one a line</span>
              <textarea name="values" rows={3} value={draft.values} onChange={(e) => set("values", e.target.value)} />
              {fieldError("values")}
            </label>
          )}
          {draft.type === "continuous" && (
            <>
              <label className="field">
                <span className="field-label">Lowest score</span>
                <input name="lower_bound" value={draft.lower} onChange={(e) => set("lower", e.target.value)} inputMode="decimal" />
                {fieldError("lower_bound")}
              </label>
              <label className="field">
                <span className="field-label">Highest score</span>
                <input name="upper_bound" value={draft.upper} onChange={(e) => set("upper", e.target.value)} inputMode="decimal" />
                {fieldError("upper_bound")}
              </label>
            </>
          )}
          <label className="field">
            <span className="field-label">Better when</span>
            <select name="direction" value={draft.direction} onChange={(e) => set("direction", e.target.value as ConfigDraft["direction"])}>
              <option value="maximize">higher</option>
              <option value="minimize">lower</option>
              <option value="none">neither</option>
            </select>
          </label>
          <label className="field">
            <span className="field-label">Description</span>
            <input name="description" value={draft.description} onChange={(e) => set("description", e.target.value)} />
            {fieldError("description")}
          </label>
          {problem && !["name", "values", "lower_bound", "upper_bound", "description"].includes(problem.field) && (
            <span className="field-error" role="alert" data-testid="field-error">
              {problem.message}
            </span>
          )}
          <div className="form-actions">
            <button type="submit" className="primary">
              Save config
            </button>
            <button type="button" className="link-button" onClick={() => setDraft(null)}>
              cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
