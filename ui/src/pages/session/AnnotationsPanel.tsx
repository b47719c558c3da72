import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, seg, send, type Annotation, type AnnotationConfig, type Page } from "../../lib/api";
import { formatTime } from "../../lib/format";
import { emojiSupported } from "../../lib/sessionNav";
import { useFetch } from "../../lib/useFetch";
import { ErrorNote } from "../../components/Status";
import { STALE_TITLE } from "../../components/AnnotationSummaries";
import { annotationBody, editorFields, noteBody, splitNotes, type EditorFields } from "./annotationForm";

const FEEDBACK = "user_feedback";

/**
 * A session's verdicts: thumbs up/down (the `user_feedback` annotation, which a
 * second click replaces), a form for any named annotation shaped by the
 * project's annotation configs, the list of what people, code and LLM judges
 * said (stale evaluator verdicts marked), each deletable, and the notes
 * (appended, never replacing).
 */
export function AnnotationsPanel({
  project,
  sessionId,
  onChange,
  refreshKey,
}: {
  project: string;
  sessionId: string;
  onChange: () => void;
  /** Changes when verdicts may have (the session's evaluation jobs moved on). */
  refreshKey: string;
}) {
  const base = `/v1/projects/${seg(project)}/sessions/${seg(sessionId)}/annotations`;
  const [annotations, setAnnotations] = useState<Annotation[]>([]);
  const [error, setError] = useState<Error>();
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => {
    setVersion((v) => v + 1);
    onChange();
  }, [onChange]);

  useEffect(() => {
    const controller = new AbortController();
    api<Page<Annotation>>(base, { signal: controller.signal }).then(
      (page) => setAnnotations(page.data),
      (e: Error) => {
        if (!controller.signal.aborted) setError(e);
      },
    );
    return () => controller.abort();
  }, [base, version, refreshKey]);

  // written in the UI: `source` APP, as Phoenix tells them apart
  const write = (body: Record<string, unknown>) =>
    send<Annotation>(base, "POST", { ...body, source: "APP" }).then(() => {
      setError(undefined);
      reload();
    });
  const remove = (id: number) => api<void>(`${base}/${id}`, { method: "DELETE" }).then(reload, (e: Error) => setError(e));

  const { verdicts, notes } = splitNotes(annotations);
  const feedback = annotations.find((a) => a.name === FEEDBACK && a.identifier === "");
  const thumbs = (up: boolean) =>
    write({ name: FEEDBACK, label: up ? "thumbs_up" : "thumbs_down", score: up ? 1 : 0 }).catch((e: Error) => setError(e));
  const emoji = emojiSupported();

  return (
    <section className="annotations-panel" data-testid="annotations">
      <div className="annotations-head">
        <h2>Annotations</h2>
        <div className="feedback">
          <button
            type="button"
            aria-pressed={feedback?.label === "thumbs_up"}
            title="the session went well (thumbs up)"
            data-testid="thumbs-up"
            onClick={() => thumbs(true)}
          >
            {emoji && <span aria-hidden="true">👍 </span>}Good
          </button>
          <button
            type="button"
            aria-pressed={feedback?.label === "thumbs_down"}
            title="the session went badly (thumbs down)"
            data-testid="thumbs-down"
            onClick={() => thumbs(false)}
          >
            {emoji && <span aria-hidden="true">👎 </span>}Bad
          </button>
        </div>
      </div>
      {error && <ErrorNote error={error} />}
      {verdicts.length === 0 ? (
        <p className="muted small">No verdict on this session yet.</p>
      ) : (
        <table className="table annotations-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>By</th>
              <th>Label</th>
              <th className="num">Score</th>
              <th>Explanation</th>
              <th>When</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {verdicts.map((a) => (
              <tr key={a.id} data-testid="annotation" data-name={a.name} className={a.stale ? "stale" : ""}>
                <td>
                  {a.name}
                  {a.identifier && <span className="muted"> ({a.identifier})</span>}
                  {a.stale && (
                    <span className="stale-badge" title={STALE_TITLE} data-testid="stale">
                      stale
                    </span>
                  )}
                </td>
                <td>
                  <span className={`kind kind-${a.annotator_kind.toLowerCase()}`}>{a.annotator_kind}</span>
                  {a.user_id && <span className="muted"> {a.user_id}</span>}
                </td>
                <td data-testid="annotation-label">{a.label ?? "–"}</td>
                <td className="num">{a.score ?? "–"}</td>
                {/* LLM text: shown as text, never as HTML */}
                <td className="explanation" data-testid="annotation-explanation">
                  {a.explanation ?? ""}
                </td>
                <td>{formatTime(a.updated_at)}</td>
                <td>
                  <button type="button" className="link-button" onClick={() => remove(a.id)} aria-label={`delete ${a.name}`}>
                    delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AnnotationEditor project={project} write={write} />
      <Notes notes={notes} add={(text) => {
        const body = noteBody(text);
        return body ? write(body) : Promise.resolve();
      }} />
    </section>
  );
}

/** "add an annotation": the name's config decides the inputs (a select, a bounded number, a text). */
function AnnotationEditor({ project, write }: { project: string; write: (body: Record<string, unknown>) => Promise<void> }) {
  const path = `/v1/projects/${seg(project)}/annotation_configs`;
  const configs = useFetch(path, (signal) => api<Page<AnnotationConfig>>(path, { signal }));
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<{ field: string; message: string }>();
  const config = configs.data?.data.find((c) => c.name === name.trim());
  const fields = editorFields(config);

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const formElement = e.currentTarget;
    const form = new FormData(formElement);
    const text = (k: string) => String(form.get(k) ?? "");
    const result = annotationBody(fields, { name, label: text("label"), score: text("score"), explanation: text("explanation") });
    if ("field" in result) {
      setProblem(result);
      return;
    }
    write(result.body).then(
      () => {
        setProblem(undefined);
        formElement.reset();
        setName("");
      },
      (err: Error) =>
        setProblem({ field: err instanceof ApiError && err.parameter ? err.parameter : "name", message: err.message }),
    );
  };
  const fieldError = (field: string) =>
    problem?.field === field ? (
      <span className="field-error" role="alert" data-testid={`error-${field}`}>
        {problem.message}
      </span>
    ) : null;

  return (
    <details className="add-annotation">
      <summary>add an annotation</summary>
      {/* noValidate: the bounds are checked here and said next to the score, not in a browser tooltip */}
      <form onSubmit={submit} data-testid="annotation-editor" data-kind={fields.kind} noValidate>
        <label>
          <input
            name="name"
            list="annotation-config-names"
            placeholder="name, e.g. goal_completion"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-label="annotation name"
          />
          {fieldError("name")}
        </label>
        <datalist id="annotation-config-names">
          {configs.data?.data.map((c) => <option key={c.name} value={c.name} />)}
        </datalist>
        <ConfigInputs fields={fields} />
        {fieldError("label")}
        {fieldError("score")}
        {fieldError("explanation")}
        <button type="submit">Save</button>
        {"description" in fields && fields.description && <p className="muted small config-description">{fields.description}</p>}
      </form>
    </details>
  );
}

function ConfigInputs({ fields }: { fields: EditorFields }) {
  switch (fields.kind) {
    case "categorical":
      return (
        <>
          <select name="label" aria-label="label" defaultValue="">
            <option value="" disabled>
              label…
            </option>
            {fields.labels.map((l) => (
              <option key={l.label} value={l.label}>
                {l.label}
                {l.score !== null ? ` (${l.score})` : ""}
              </option>
            ))}
          </select>
          <input name="explanation" placeholder="explanation" className="grow" aria-label="explanation" />
        </>
      );
    case "continuous":
      return (
        <>
          <input
            name="score"
            type="number"
            step="any"
            min={fields.min ?? undefined}
            max={fields.max ?? undefined}
            placeholder={`score${fields.min !== null ? ` ≥ ${fields.min}` : ""}${fields.max !== null ? ` ≤ ${fields.max}` : ""}`}
            aria-label="score"
          />
          <input name="explanation" placeholder="explanation" className="grow" aria-label="explanation" />
        </>
      );
    case "freeform":
      return <textarea name="explanation" placeholder="text" className="grow" aria-label="explanation" rows={2} />;
    default:
      return (
        <>
          <input name="label" placeholder="label" aria-label="label" />
          <input name="score" placeholder="score" inputMode="decimal" aria-label="score" />
          <input name="explanation" placeholder="explanation" className="grow" aria-label="explanation" />
        </>
      );
  }
}

/** Notes: remarks on the session, each kept; a new one is appended. */
function Notes({ notes, add }: { notes: Annotation[]; add: (text: string) => Promise<void> }) {
  const [error, setError] = useState<Error>();
  // one note at a time: the text box is cleared when its note is stored, not a later one
  const [saving, setSaving] = useState(false);
  return (
    <div className="notes" data-testid="notes">
      <h3>Notes</h3>
      {notes.length === 0 ? (
        <p className="muted small">No notes.</p>
      ) : (
        <ul className="note-list">
          {notes.map((n) => (
            <li key={n.id} data-testid="note">
              <span className="note-text">{n.explanation ?? ""}</span>{" "}
              <span className="muted small">
                {n.user_id ? `${n.user_id} · ` : ""}
                {formatTime(n.created_at)}
              </span>
            </li>
          ))}
        </ul>
      )}
      <form
        className="add-note"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const text = String(new FormData(form).get("note") ?? "");
          setSaving(true);
          add(text)
            .then(
              () => {
                setError(undefined);
                form.reset();
              },
              (err: Error) => setError(err),
            )
            .finally(() => setSaving(false));
        }}
      >
        <textarea name="note" rows={2} placeholder="add a note (kept with the others)" aria-label="new note" readOnly={saving} />
        <button type="submit" disabled={saving}>
          Add note
        </button>
      </form>
      {error && <ErrorNote error={error} />}
    </div>
  );
}
