// The evaluator form's model: a draft of strings as the inputs hold them,
// made from a stored evaluator and turned into the definition the API takes.
// The server checks every field again and names the one at fault (a 400);
// this only shapes what the form sends.
import type { Backfill, Evaluator, EvaluatorSpec, Rule } from "../../lib/api";

export type RuleType = Rule["type"];
export const RULE_TYPES: { type: RuleType; label: string }[] = [
  { type: "no_errors", label: "no errors" },
  { type: "turn_count", label: "turn count" },
  { type: "latency", label: "latency" },
  { type: "tool_error_rate", label: "tool error rate" },
  { type: "regex", label: "regular expression" },
];

export interface LabelRow {
  label: string;
  score: string;
}

export interface EvaluatorDraft {
  name: string;
  kind: "llm_judge" | "code";
  enabled: boolean;
  sampleRate: string;
  userId: string;
  tag: string;
  /** `key=value`, one a line. */
  metadata: string;
  baseUrl: string;
  model: string;
  apiKeyEnv: string;
  temperature: string;
  criteria: string;
  promptTemplate: string;
  /** How much of the conversation the judge sees, in characters ("" = the server's default). */
  maxTranscriptChars: string;
  labels: LabelRow[];
  ruleType: RuleType;
  minTurns: string;
  maxTurns: string;
  maxTurnMs: string;
  maxSessionMs: string;
  maxRate: string;
  pattern: string;
  on: "user" | "assistant" | "any";
  caseInsensitive: boolean;
  failOnMatch: boolean;
}

export function emptyDraft(): EvaluatorDraft {
  return {
    name: "",
    kind: "llm_judge",
    enabled: true,
    sampleRate: "1",
    userId: "",
    tag: "",
    metadata: "",
    baseUrl: "https://api.openai.com/v1",
    model: "gpt-4o-mini",
    apiKeyEnv: "OPENAI_API_KEY",
    temperature: "",
    criteria: "",
    promptTemplate: "",
    maxTranscriptChars: "",
    labels: [
      { label: "good", score: "1" },
      { label: "bad", score: "0" },
    ],
    ruleType: "no_errors",
    minTurns: "",
    maxTurns: "",
    maxTurnMs: "",
    maxSessionMs: "",
    maxRate: "0.2",
    pattern: "",
    on: "user",
    caseInsensitive: true,
    failOnMatch: true,
  };
}

const text = (v: unknown): string => (v === null || v === undefined ? "" : String(v));

/** The draft of a stored evaluator, to edit it. */
export function draftOf(e: Evaluator): EvaluatorDraft {
  const d = emptyDraft();
  const rule = e.rule ?? null;
  return {
    ...d,
    name: e.name ?? "",
    kind: e.kind,
    enabled: e.enabled ?? true,
    sampleRate: text(e.sample_rate ?? 1),
    userId: e.filter?.user_id ?? "",
    tag: e.filter?.tag ?? "",
    metadata: Object.entries(e.filter?.metadata ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    baseUrl: e.llm?.base_url ?? (e.kind === "llm_judge" ? "" : d.baseUrl),
    model: e.llm?.model ?? (e.kind === "llm_judge" ? "" : d.model),
    apiKeyEnv: e.llm ? (e.llm.api_key_env ?? "") : d.apiKeyEnv,
    temperature: text(e.llm?.temperature),
    criteria: e.criteria ?? "",
    promptTemplate: e.prompt_template ?? "",
    maxTranscriptChars: text(e.max_transcript_chars),
    labels: e.labels ? Object.entries(e.labels).map(([label, score]) => ({ label, score: String(score) })) : d.labels,
    ruleType: rule?.type ?? d.ruleType,
    minTurns: rule?.type === "turn_count" ? text(rule.min) : "",
    maxTurns: rule?.type === "turn_count" ? text(rule.max) : "",
    maxTurnMs: rule?.type === "latency" ? text(rule.max_turn_ms) : "",
    maxSessionMs: rule?.type === "latency" ? text(rule.max_session_ms) : "",
    maxRate: rule?.type === "tool_error_rate" ? text(rule.max_rate) : d.maxRate,
    pattern: rule?.type === "regex" ? rule.pattern : "",
    on: rule?.type === "regex" ? (rule.on ?? "user") : "user",
    caseInsensitive: rule?.type === "regex" ? (rule.case_insensitive ?? true) : true,
    failOnMatch: rule?.type === "regex" ? (rule.fail_on_match ?? true) : true,
  };
}

export type Problem = { field: string; message: string };

/** A number typed in a field, or a problem naming it; "" is `null`. */
function num(value: string, field: string, integer = false): number | null | Problem {
  const t = value.trim();
  if (!t) return null;
  const n = Number(t);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) return { field, message: integer ? "a whole number" : "a number" };
  return n;
}
const isProblem = (v: unknown): v is Problem => typeof v === "object" && v !== null && "field" in v;

/** The definition the draft describes (for POST/PUT), or the first field at fault. */
export function specOf(d: EvaluatorDraft): EvaluatorSpec | Problem {
  const name = d.name.trim();
  if (!name) return { field: "name", message: "a name is needed" };
  const sample = num(d.sampleRate, "sample_rate");
  if (isProblem(sample)) return sample;
  const metadata: Record<string, string> = {};
  for (const line of d.metadata.split("\n")) {
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return { field: "filter.metadata", message: "one key=value a line" };
    metadata[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  const filter: EvaluatorSpec["filter"] = {};
  if (d.userId.trim()) filter.user_id = d.userId.trim();
  if (d.tag.trim()) filter.tag = d.tag.trim();
  if (Object.keys(metadata).length) filter.metadata = metadata;
  const spec: EvaluatorSpec = { name, kind: d.kind, enabled: d.enabled, sample_rate: sample ?? 1, filter };
  if (d.kind === "llm_judge") {
    const temperature = num(d.temperature, "llm.temperature");
    if (isProblem(temperature)) return temperature;
    spec.llm = {
      base_url: d.baseUrl.trim(),
      model: d.model.trim(),
      api_key_env: d.apiKeyEnv.trim() || null,
      ...(temperature !== null ? { temperature } : {}),
    };
    if (d.criteria.trim()) spec.criteria = d.criteria;
    if (d.promptTemplate.trim()) spec.prompt_template = d.promptTemplate;
    // kept when editing: a definition sent without it would fall back to the default
    const maxChars = num(d.maxTranscriptChars, "max_transcript_chars", true);
    if (isProblem(maxChars)) return maxChars;
    if (maxChars !== null) spec.max_transcript_chars = maxChars;
    const labels: Record<string, number> = {};
    for (const row of d.labels) {
      if (!row.label.trim() && !row.score.trim()) continue;
      const score = num(row.score, "labels");
      if (isProblem(score) || score === null) return { field: "labels", message: `the score of "${row.label}" must be a number` };
      if (!row.label.trim()) return { field: "labels", message: "a label is empty" };
      labels[row.label.trim()] = score;
    }
    spec.labels = labels;
    return spec;
  }
  spec.rule = ruleOf(d) as Rule;
  if (isProblem(spec.rule)) return spec.rule;
  return spec;
}

function ruleOf(d: EvaluatorDraft): Rule | Problem {
  switch (d.ruleType) {
    case "no_errors":
      return { type: "no_errors" };
    case "turn_count": {
      const min = num(d.minTurns, "rule.min", true);
      const max = num(d.maxTurns, "rule.max", true);
      if (isProblem(min)) return min;
      if (isProblem(max)) return max;
      return { type: "turn_count", min, max };
    }
    case "latency": {
      const turn = num(d.maxTurnMs, "rule.max_turn_ms");
      const session = num(d.maxSessionMs, "rule.max_session_ms");
      if (isProblem(turn)) return turn;
      if (isProblem(session)) return session;
      return { type: "latency", max_turn_ms: turn, max_session_ms: session };
    }
    case "tool_error_rate": {
      const rate = num(d.maxRate, "rule.max_rate");
      if (isProblem(rate)) return rate;
      if (rate === null) return { field: "rule.max_rate", message: "a share from 0 to 1" };
      return { type: "tool_error_rate", max_rate: rate };
    }
    case "regex":
      return { type: "regex", pattern: d.pattern, on: d.on, case_insensitive: d.caseInsensitive, fail_on_match: d.failOnMatch };
  }
}

/**
 * Which form field a server error belongs to: the API names body fields
 * (`llm.api_key_env`, `labels`, `rule`, `rule.pattern`, ...); an unknown one
 * shows at the top of the form.
 */
export function fieldOf(parameter: string | undefined, fields: readonly string[]): string | null {
  if (!parameter) return null;
  let p = parameter;
  for (;;) {
    if (fields.includes(p)) return p;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) return null;
    p = p.slice(0, cut);
  }
}

/** The PUT body to switch an evaluator on or off: its definition as it is, but `enabled`. */
export function withEnabled(e: Evaluator, enabled: boolean): EvaluatorSpec {
  const spec: Record<string, unknown> = { ...e, enabled };
  // what the server shows beside the definition, and the name (the path's)
  for (const k of ["version", "created_at", "updated_at", "jobs", "name"]) delete spec[k];
  return spec as EvaluatorSpec;
}

/** What a backfill has done: judged (done), failed, skipped (not queued, or queued then skipped), still to run. */
export function backfillSummary(b: Backfill): { judged: number; failed: number; skipped: number; pending: number; matched: number } {
  return {
    matched: b.matched,
    judged: b.jobs.done,
    failed: b.jobs.failed,
    skipped: b.skipped + b.jobs.skipped,
    pending: b.jobs.queued + b.jobs.running,
  };
}
