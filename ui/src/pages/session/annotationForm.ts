// The annotation editor's rules: which inputs an annotation name gets from the
// project's annotation configs, and the body a filled form writes. The server
// checks every write against the same configs; this only offers what fits.
import type { Annotation, AnnotationConfig } from "../../lib/api";

export const NOTE = "note";

export type EditorFields =
  | { kind: "categorical"; labels: { label: string; score: number | null }[]; description: string | null }
  | { kind: "continuous"; min: number | null; max: number | null; description: string | null }
  | { kind: "freeform"; description: string | null }
  /** No config for the name: label, score and explanation, all free. */
  | { kind: "free" };

export function editorFields(config: AnnotationConfig | undefined): EditorFields {
  if (!config) return { kind: "free" };
  const description = config.description ?? null;
  switch (config.type) {
    case "categorical":
      return { kind: "categorical", labels: (config.values ?? []).map((v) => ({ label: v.label, score: v.score })), description };
    case "continuous":
      return { kind: "continuous", min: config.lower_bound ?? null, max: config.upper_bound ?? null, description };
    default:
      return { kind: "freeform", description };
  }
}

export interface FormValues {
  name: string;
  label?: string;
  score?: string;
  explanation?: string;
}

/** The annotation a form writes, or the field at fault and why. */
export function annotationBody(
  fields: EditorFields,
  values: FormValues,
): { body: Record<string, unknown> } | { field: string; message: string } {
  const name = values.name.trim();
  if (!name) return { field: "name", message: "a name is needed" };
  if (name === NOTE) return { field: "name", message: "notes are added under Notes" };
  const label = values.label?.trim() ?? "";
  const scoreText = values.score?.trim() ?? "";
  const explanation = values.explanation?.trim() ?? "";
  const body: Record<string, unknown> = { name };
  if (explanation) body.explanation = explanation;
  if (fields.kind === "categorical") {
    const value = fields.labels.find((l) => l.label === label);
    if (!value) return { field: "label", message: "pick one of the labels" };
    body.label = value.label;
    if (value.score !== null) body.score = value.score;
    return { body };
  }
  if (fields.kind === "freeform") {
    if (!explanation) return { field: "explanation", message: "write the text" };
    return { body };
  }
  if (scoreText) {
    const score = Number(scoreText);
    if (!Number.isFinite(score)) return { field: "score", message: "the score must be a number" };
    if (fields.kind === "continuous") {
      if (fields.min !== null && score < fields.min) return { field: "score", message: `at least ${fields.min}` };
      if (fields.max !== null && score > fields.max) return { field: "score", message: `at most ${fields.max}` };
    }
    body.score = score;
  } else if (fields.kind === "continuous") {
    return { field: "score", message: "a score is needed" };
  }
  if (fields.kind === "free" && label) body.label = label;
  if (body.label === undefined && body.score === undefined && body.explanation === undefined)
    return { field: "label", message: "give a label, a score or an explanation" };
  return { body };
}

/** A new note's body: appended under a fresh identifier, never replacing one. */
export function noteBody(text: string, now: number = Date.now(), random: number = Math.random()): Record<string, unknown> | null {
  const t = text.trim();
  if (!t) return null;
  return { name: NOTE, explanation: t, identifier: `ui-${now.toString(36)}-${Math.floor(random * 1e9).toString(36)}` };
}

/** Notes apart from verdicts, each list oldest first (as the API gives them). */
export function splitNotes(annotations: Annotation[]): { verdicts: Annotation[]; notes: Annotation[] } {
  return {
    verdicts: annotations.filter((a) => a.name !== NOTE),
    notes: annotations.filter((a) => a.name === NOTE),
  };
}
