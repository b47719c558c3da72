import { useEffect, useRef, useState, type ReactNode } from "react";
import { api, ApiError, seg, send, type Backfill, type Evaluator, type Page } from "../../lib/api";
import { formatTime } from "../../lib/format";
import { useFetch } from "../../lib/useFetch";
import { ErrorNote } from "../../components/Status";
import { ProjectNav } from "../../components/ProjectNav";
import {
  backfillSummary,
  draftOf,
  emptyDraft,
  fieldOf,
  RULE_TYPES,
  specOf,
  withEnabled,
  type EvaluatorDraft,
  type Problem,
  type RuleType,
} from "./evaluatorForm";

/** The form fields a server error can be shown next to (the API's body field names). */
const FIELDS = [
  "name",
  "kind",
  "sample_rate",
  "filter.user_id",
  "filter.tag",
  "filter.metadata",
  "filter",
  "llm.base_url",
  "llm.model",
  "llm.api_key_env",
  "llm.temperature",
  "llm",
  "criteria",
  "prompt_template",
  "labels",
  "max_transcript_chars",
  "rule.min",
  "rule.max",
  "rule.max_turn_ms",
  "rule.max_session_ms",
  "rule.max_rate",
  "rule",
] as const;

/** A project's evaluators: list, create and edit (LLM judges and code rules), switch on and off, delete, backfill. */
export function EvaluatorsPage({ project }: { project: string }) {
  const path = `/v1/projects/${seg(project)}/evaluators`;
  const [version, setVersion] = useState(0);
  const list = useFetch(`${path}#${version}`, (signal) => api<Page<Evaluator>>(path, { signal }));
  const reload = () => setVersion((v) => v + 1);
  // null: no form open; "" a new evaluator; else the name edited
  const [editing, setEditing] = useState<string | null>(null);
  const [backfilling, setBackfilling] = useState<string | null>(null);
  const [error, setError] = useState<Error>();
  const evaluators = list.data?.data ?? [];
  const edited = editing ? evaluators.find((e) => e.name === editing) : undefined;

  const toggle = (e: Evaluator) =>
    send(`${path}/${seg(e.name ?? "")}`, "PUT", withEnabled(e, !(e.enabled ?? true))).then(reload, (err: Error) => setError(err));
  const remove = (e: Evaluator) => {
    if (!window.confirm(`Delete the evaluator ${e.name}? Its verdicts stay; its queued jobs are skipped.`)) return;
    api<void>(`${path}/${seg(e.name ?? "")}`, { method: "DELETE" }).then(reload, (err: Error) => setError(err));
  };

  return (
    <section className="evaluators-page">
      <h1>
        Evaluators <span className="muted">of {project}</span>
      </h1>
      <ProjectNav project={project} current="evaluators" />
      <p className="muted small">
        Each enabled evaluator judges a session once it goes idle (no new trace for the project's idle period); its verdict is
        an annotation named after it, shown on the session and as a column of the sessions list.
      </p>
      {list.error && <ErrorNote error={list.error} />}
      {error && <ErrorNote error={error} />}
      {evaluators.length === 0 && !list.loading ? (
        <p className="muted" data-testid="no-evaluators">
          No evaluator yet.
        </p>
      ) : (
        <table className="table" data-testid="evaluators">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Enabled</th>
              <th className="num">Version</th>
              <th>Jobs</th>
              <th>Changed</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {evaluators.map((e) => (
              <tr key={e.name} data-testid="evaluator" data-name={e.name}>
                <td>{e.name}</td>
                <td>{e.kind === "llm_judge" ? `LLM judge (${e.llm?.model ?? "?"})` : `code: ${e.rule?.type ?? "?"}`}</td>
                <td>
                  <button
                    type="button"
                    className={`toggle ${(e.enabled ?? true) ? "on" : "off"}`}
                    aria-pressed={e.enabled ?? true}
                    aria-label={`${e.name} enabled`}
                    title={(e.enabled ?? true) ? "judging sessions as they go idle: click to stop" : "off: click to judge sessions as they go idle"}
                    onClick={() => toggle(e)}
                  >
                    {(e.enabled ?? true) ? "on" : "off"}
                  </button>
                </td>
                <td className="num">{e.version}</td>
                <td className="small" data-testid="evaluator-jobs">
                  {e.jobs.done} done · {e.jobs.failed} failed · {e.jobs.queued + e.jobs.running} to run
                  {e.jobs.skipped ? ` · ${e.jobs.skipped} skipped` : ""}
                </td>
                <td>{formatTime(e.updated_at)}</td>
                <td className="actions">
                  <button type="button" className="link-button" onClick={() => setEditing(e.name ?? "")}>
                    edit
                  </button>
                  <button type="button" className="link-button" onClick={() => setBackfilling(e.name ?? "")}>
                    backfill
                  </button>
                  <button type="button" className="link-button" onClick={() => remove(e)} aria-label={`delete ${e.name}`}>
                    delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing === null && (
        <button type="button" className="primary" onClick={() => setEditing("")} data-testid="new-evaluator">
          New evaluator
        </button>
      )}
      {backfilling !== null && (
        <BackfillPanel project={project} evaluator={backfilling} onClose={() => setBackfilling(null)} onProgress={reload} />
      )}
      {editing !== null && (editing === "" || edited) && (
        <EvaluatorForm
          key={editing}
          project={project}
          existing={edited}
          onDone={() => {
            setEditing(null);
            reload();
          }}
          onCancel={() => setEditing(null)}
        />
      )}
    </section>
  );
}

function EvaluatorForm({
  project,
  existing,
  onDone,
  onCancel,
}: {
  project: string;
  existing: Evaluator | undefined;
  onDone: () => void;
  onCancel: () => void;
}) {
  const [d, setD] = useState<EvaluatorDraft>(() => (existing ? draftOf(existing) : emptyDraft()));
  const [problem, setProblem] = useState<Problem>();
  const [saving, setSaving] = useState(false);
  const set = <K extends keyof EvaluatorDraft>(k: K, v: EvaluatorDraft[K]) => setD((x) => ({ ...x, [k]: v }));
  const base = `/v1/projects/${seg(project)}/evaluators`;

  const save = () => {
    const spec = specOf(d);
    if ("field" in spec) {
      setProblem(spec);
      return;
    }
    setSaving(true);
    const request = existing
      ? send<Evaluator>(`${base}/${seg(existing.name ?? "")}`, "PUT", { ...spec, name: undefined })
      : send<Evaluator>(base, "POST", spec);
    request.then(
      () => {
        setSaving(false);
        onDone();
      },
      (err: Error) => {
        setSaving(false);
        const parameter = err instanceof ApiError ? err.parameter : undefined;
        setProblem({ field: fieldOf(parameter, FIELDS) ?? "", message: err.message });
      },
    );
  };

  // a field's input with its label, and the problem with it when there is one
  const field = (name: string, label: string, input: ReactNode, hint?: string) => (
    <label className={`field ${problem?.field === name ? "invalid" : ""}`} data-field={name}>
      <span className="field-label">{label}</span>
      {input}
      {hint && <span className="muted small">{hint}</span>}
      {problem?.field === name && (
        <span className="field-error" role="alert" data-testid="field-error">
          {problem.message}
        </span>
      )}
    </label>
  );
  const textInput = (k: keyof EvaluatorDraft, props: Record<string, unknown> = {}) => (
    <input value={String(d[k])} onChange={(e) => set(k, e.target.value as never)} name={k} {...props} />
  );

  return (
    <form
      className="evaluator-form"
      data-testid="evaluator-form"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <h2>{existing ? `Edit ${existing.name} (v${existing.version})` : "New evaluator"}</h2>
      {problem && problem.field === "" && (
        <div className="error-note" role="alert" data-testid="form-error">
          {problem.message}
        </div>
      )}
      <div className="form-grid">
        {field("name", "Name", textInput("name", { disabled: Boolean(existing), placeholder: "resolution" }), "the verdicts' annotation name")}
        {field(
          "kind",
          "Kind",
          <select name="kind" value={d.kind} onChange={(e) => set("kind", e.target.value as EvaluatorDraft["kind"])}>
            <option value="llm_judge">LLM judge</option>
            <option value="code">code rule</option>
          </select>,
        )}
        {field("sample_rate", "Sample rate", textInput("sampleRate", { inputMode: "decimal" }), "0 to 1: the share of sessions judged")}
        <label className="field checkbox">
          <input type="checkbox" name="enabled" checked={d.enabled} onChange={(e) => set("enabled", e.target.checked)} />
          enabled (judges sessions as they go idle)
        </label>
      </div>
      <fieldset>
        <legend>Scope (all given must hold)</legend>
        <div className="form-grid">
          {field("filter.user_id", "User", textInput("userId", { placeholder: "any" }))}
          {field("filter.tag", "Tag", textInput("tag", { placeholder: "any" }))}
          {field(
            "filter.metadata",
            "Metadata",
            <textarea name="metadata" rows={2} value={d.metadata} placeholder="plan=pro" onChange={(e) => set("metadata", e.target.value)} />,
            "key=value, one a line",
          )}
        </div>
      </fieldset>
      {d.kind === "llm_judge" ? (
        <fieldset data-testid="llm-fields">
          <legend>LLM judge (any OpenAI-compatible chat completions endpoint)</legend>
          <div className="form-grid">
            {field("llm.base_url", "Base URL", textInput("baseUrl", { placeholder: "https://api.openai.com/v1" }), "posts to <base URL>/chat/completions")}
            {field("llm.model", "Model", textInput("model"))}
            {field(
              "llm.api_key_env",
              "API key variable",
              textInput("apiKeyEnv", { placeholder: "OPENAI_API_KEY", autoComplete: "off", spellCheck: false }),
              "the NAME of the server's environment variable holding the key, never the key",
            )}
            {field("llm.temperature", "Temperature", textInput("temperature", { placeholder: "0", inputMode: "decimal" }))}
            {problem?.field === "llm" && (
              <span className="field-error" role="alert" data-testid="field-error">
                {problem.message}
              </span>
            )}
          </div>
          {field(
            "criteria",
            "Criteria",
            <textarea name="criteria" rows={2} value={d.criteria} onChange={(e) => set("criteria", e.target.value)} placeholder="Did the assistant resolve the user's problem?" />,
            "what the judge looks for: fills {criteria}",
          )}
          {field(
            "prompt_template",
            "Prompt template (optional)",
            <textarea
              name="prompt_template"
              rows={4}
              value={d.promptTemplate}
              onChange={(e) => set("promptTemplate", e.target.value)}
              placeholder="empty: the default, which asks for {&quot;label&quot;, &quot;explanation&quot;}"
            />,
            "{transcript}, {labels}, {criteria}; {{ and }} for braces",
          )}
          {field(
            "max_transcript_chars",
            "Transcript length (optional)",
            textInput("maxTranscriptChars", { inputMode: "numeric", placeholder: "600000" }),
            "characters of the conversation the judge sees, its end kept; empty: the server's default",
          )}
          <div className={`field labels ${problem?.field === "labels" ? "invalid" : ""}`} data-field="labels">
            <span className="field-label">Labels and their scores</span>
            {d.labels.map((row, i) => (
              <div key={i} className="label-row">
                <input
                  aria-label={`label ${i + 1}`}
                  name={`label-${i}`}
                  value={row.label}
                  onChange={(e) => set("labels", d.labels.map((r, j) => (j === i ? { ...r, label: e.target.value } : r)))}
                />
                <input
                  aria-label={`score ${i + 1}`}
                  name={`score-${i}`}
                  value={row.score}
                  inputMode="decimal"
                  onChange={(e) => set("labels", d.labels.map((r, j) => (j === i ? { ...r, score: e.target.value } : r)))}
                />
                <button type="button" className="link-button" onClick={() => set("labels", d.labels.filter((_, j) => j !== i))} aria-label={`remove label ${i + 1}`}>
                  remove
                </button>
              </div>
            ))}
            <button type="button" className="link-button" onClick={() => set("labels", [...d.labels, { label: "", score: "" }])}>
              add a label
            </button>
            {problem?.field === "labels" && (
              <span className="field-error" role="alert" data-testid="field-error">
                {problem.message}
              </span>
            )}
          </div>
        </fieldset>
      ) : (
        <fieldset data-testid="rule-fields">
          <legend>Code rule (passes: 1, fails: 0)</legend>
          <div className="form-grid">
            {field(
              "rule",
              "Rule",
              <select name="ruleType" value={d.ruleType} onChange={(e) => set("ruleType", e.target.value as RuleType)}>
                {RULE_TYPES.map((r) => (
                  <option key={r.type} value={r.type}>
                    {r.label}
                  </option>
                ))}
              </select>,
            )}
            {d.ruleType === "turn_count" && (
              <>
                {field("rule.min", "Fewest turns", textInput("minTurns", { inputMode: "numeric" }))}
                {field("rule.max", "Most turns", textInput("maxTurns", { inputMode: "numeric" }))}
              </>
            )}
            {d.ruleType === "latency" && (
              <>
                {field("rule.max_turn_ms", "Slowest turn (ms)", textInput("maxTurnMs", { inputMode: "decimal" }))}
                {field("rule.max_session_ms", "Longest session (ms)", textInput("maxSessionMs", { inputMode: "decimal" }))}
              </>
            )}
            {d.ruleType === "tool_error_rate" &&
              field("rule.max_rate", "Highest share of failed tool calls", textInput("maxRate", { inputMode: "decimal" }), "0 to 1")}
            {d.ruleType === "regex" && (
              <>
                {field("rule.pattern", "Pattern", textInput("pattern", { placeholder: "useless|speak to a human", spellCheck: false }))}
                {field(
                  "rule.on",
                  "In the messages of",
                  <select name="on" value={d.on} onChange={(e) => set("on", e.target.value as EvaluatorDraft["on"])}>
                    <option value="user">the user</option>
                    <option value="assistant">the assistant</option>
                    <option value="any">either</option>
                  </select>,
                )}
                <label className="field checkbox">
                  <input type="checkbox" checked={d.caseInsensitive} onChange={(e) => set("caseInsensitive", e.target.checked)} />
                  ignore case
                </label>
                <label className="field checkbox">
                  <input type="checkbox" checked={d.failOnMatch} onChange={(e) => set("failOnMatch", e.target.checked)} />
                  a match fails (else it passes)
                </label>
              </>
            )}
          </div>
        </fieldset>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving}>
          {existing ? "Save" : "Create"}
        </button>
        <button type="button" className="link-button" onClick={onCancel}>
          cancel
        </button>
      </div>
    </form>
  );
}

/** Runs an evaluator over existing sessions and follows it (long-polls) until its jobs are done. */
function BackfillPanel({
  project,
  evaluator,
  onClose,
  onProgress,
}: {
  project: string;
  evaluator: string;
  onClose: () => void;
  onProgress: () => void;
}) {
  const [backfill, setBackfill] = useState<Backfill>();
  const [problem, setProblem] = useState<Error>();
  const [status, setStatus] = useState("");
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [minTurns, setMinTurns] = useState("");
  const [running, setRunning] = useState(false);
  // closing the panel stops following (the backfill itself runs on in the server)
  const closed = useRef(false);
  useEffect(() => {
    closed.current = false;
    return () => {
      closed.current = true;
    };
  }, []);

  const follow = async (b: Backfill) => {
    let current = b;
    setBackfill(current);
    while (!current.finished && !closed.current) {
      current = await api<Backfill>(`/v1/projects/${seg(project)}/backfills/${current.id}?wait=10s`);
      setBackfill(current);
      onProgress();
    }
  };
  const start = () => {
    const filter: Record<string, unknown> = {};
    if (status) filter.status = status;
    if (errorsOnly) filter.has_error = true;
    if (/^\d+$/.test(minTurns.trim())) filter.min_traces = Number(minTurns.trim());
    setRunning(true);
    setProblem(undefined);
    send<Backfill>(`/v1/projects/${seg(project)}/evaluators/${seg(evaluator)}/backfills`, "POST", { filter })
      .then(follow)
      .catch((e: Error) => setProblem(e))
      .finally(() => setRunning(false));
  };
  const summary = backfill ? backfillSummary(backfill) : null;
  return (
    <section className="backfill-panel" data-testid="backfill">
      <h2>
        Backfill <code>{evaluator}</code> over existing sessions
      </h2>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Status</span>
          <select value={status} onChange={(e) => setStatus(e.target.value)} name="backfill-status">
            <option value="">any</option>
            <option value="idle">idle</option>
            <option value="active">active</option>
          </select>
        </label>
        <label className="field">
          <span className="field-label">Min turns</span>
          <input value={minTurns} onChange={(e) => setMinTurns(e.target.value)} inputMode="numeric" name="backfill-min-turns" />
        </label>
        <label className="field checkbox">
          <input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.target.checked)} />
          with errors only
        </label>
      </div>
      <div className="form-actions">
        <button type="button" className="primary" onClick={start} disabled={running}>
          {running ? "Running…" : "Run backfill"}
        </button>
        <button type="button" className="link-button" onClick={onClose}>
          close
        </button>
      </div>
      {problem && <ErrorNote error={problem} />}
      {summary && backfill && (
        <div className="backfill-progress" data-testid="backfill-progress" data-finished={backfill.finished ? "true" : "false"}>
          <Progress done={summary.judged + summary.failed + summary.skipped} total={Math.max(summary.matched, 1)} />
          <p data-testid="backfill-summary">
            {backfill.finished ? "Finished: " : backfill.listed ? "Running: " : "Listing sessions: "}
            {summary.matched} matched · {summary.judged} judged · {summary.skipped} skipped · {summary.failed} failed
            {summary.pending > 0 ? ` · ${summary.pending} to run` : ""}
          </p>
        </div>
      )}
    </section>
  );
}

function Progress({ done, total }: { done: number; total: number }) {
  const share = Math.min(1, done / total);
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={done}>
      <div className="progress-bar" style={{ width: `${(share * 100).toFixed(1)}%` }} />
    </div>
  );
}
