import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, seg, type Annotation, type Page } from "../../lib/api";
import { formatTime } from "../../lib/format";
import { ErrorNote } from "../../components/Status";

const FEEDBACK = "user_feedback";

/**
 * A session's verdicts: thumbs up/down (the `user_feedback` annotation, which a
 * second click replaces), a form for any named annotation, and the list of
 * what people, code and LLM judges said, each deletable.
 */
export function AnnotationsPanel({ project, sessionId, onChange }: { project: string; sessionId: string; onChange: () => void }) {
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
  }, [base, version]);

  // written in the UI: `source` APP, as Phoenix tells them apart
  const write = (body: Record<string, unknown>) =>
    api<Annotation>(base, {
      method: "POST",
      body: JSON.stringify({ ...body, source: "APP" }),
      headers: { "content-type": "application/json" },
    }).then(
      reload,
      (e: Error) => setError(e),
    );
  const remove = (id: number) => api<void>(`${base}/${id}`, { method: "DELETE" }).then(reload, (e: Error) => setError(e));

  const feedback = annotations.find((a) => a.name === FEEDBACK && a.identifier === "");
  const thumbs = (up: boolean) => write({ name: FEEDBACK, label: up ? "thumbs_up" : "thumbs_down", score: up ? 1 : 0 });

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const formElement = e.currentTarget;
    const form = new FormData(formElement);
    const text = (k: string) => String(form.get(k) ?? "").trim();
    const score = text("score");
    const body: Record<string, unknown> = { name: text("name") };
    if (text("label")) body.label = text("label");
    if (score) body.score = Number(score);
    if (text("explanation")) body.explanation = text("explanation");
    if (score && !Number.isFinite(Number(score))) {
      setError(new Error("score must be a number"));
      return;
    }
    write(body).then(() => formElement.reset());
  };

  return (
    <section className="annotations-panel" data-testid="annotations">
      <div className="annotations-head">
        <h2>Annotations</h2>
        <div className="feedback">
          <button
            type="button"
            aria-pressed={feedback?.label === "thumbs_up"}
            title="the session went well"
            onClick={() => thumbs(true)}
          >
            👍
          </button>
          <button
            type="button"
            aria-pressed={feedback?.label === "thumbs_down"}
            title="the session went badly"
            onClick={() => thumbs(false)}
          >
            👎
          </button>
        </div>
      </div>
      {error && <ErrorNote error={error} />}
      {annotations.length === 0 ? (
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
            {annotations.map((a) => (
              <tr key={a.id} data-testid="annotation">
                <td>
                  {a.name}
                  {a.identifier && <span className="muted"> ({a.identifier})</span>}
                </td>
                <td>
                  <span className={`kind kind-${a.annotator_kind.toLowerCase()}`}>{a.annotator_kind}</span>
                  {a.user_id && <span className="muted"> {a.user_id}</span>}
                </td>
                <td>{a.label ?? "–"}</td>
                <td className="num">{a.score ?? "–"}</td>
                <td className="explanation">{a.explanation ?? ""}</td>
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
      <details className="add-annotation">
        <summary>add an annotation</summary>
        <form onSubmit={submit}>
          <input name="name" placeholder="name, e.g. goal_completion" required />
          <input name="label" placeholder="label" />
          <input name="score" placeholder="score" inputMode="decimal" />
          <input name="explanation" placeholder="explanation" className="grow" />
          <button type="submit">Save</button>
        </form>
      </details>
    </section>
  );
}
