/**
 * Evaluate whole sessions: run an evaluator (code or an LLM judge) over each
 * session's conversation and store its verdict as a session annotation. The
 * Node twin of the Python `openinference.instrumentation.session.evals`.
 *
 * ```ts
 * import { SessionsClient, LLMJudge, evaluateSessions } from "openinference-session";
 *
 * const client = new SessionsClient();
 * const judge = new LLMJudge({
 *   complete: async (prompt) => myLlmCall(prompt),   // any model, any SDK
 *   criteria: "Did the assistant resolve the user's problem?",
 *   labels: { resolved: 1, unresolved: 0 },
 * });
 * const run = await evaluateSessions(client, "support-bot", judge, { name: "resolution", minTraces: 2 });
 * console.log(run.annotations, run.errors);
 * ```
 *
 * An evaluator is a function taking a {@link SessionTranscript} and returning
 * (or resolving to) an {@link EvaluationResult}, or `null`/`undefined` to skip
 * the session; or an object with such an `evaluate` method ({@link LLMJudge}).
 * Results are logged as annotations named `name`, with `annotatorKind` `CODE`
 * (`LLM` for an `LLMJudge`), and replace the previous run's verdict on the same
 * session (same name and `identifier`).
 *
 * The Python `openinference.instrumentation.session.evals` is this module's
 * twin: same transcripts, prompt, parsing and checks (`tests/clients/cases.json`
 * pins both).
 *
 * @module
 */

import { diag } from "@opentelemetry/api";
import {
  SESSION_FILTERS,
  SessionsApiError,
  checkOptions,
  segment,
  sessionFilters,
  type Annotation,
  type AnnotatorKind,
  type IterSessionsOptions,
  type SessionSummary,
  type SessionAnnotationInput,
  type SessionsClient,
  type Turn,
} from "./client";
import { checkJsonObject, describe, isPlainObject } from "./convert";

/** How much conversation an LLM judge is shown, at most, in characters (the end is kept). */
export const DEFAULT_MAX_TRANSCRIPT_CHARS = 600_000;

/** One message of a conversation. */
export interface Message {
  role: string;
  content: string;
}

export interface SessionTranscriptInit {
  project: string;
  sessionId: string;
  session: SessionSummary;
  turns: Turn[];
  messages: Message[];
}

/**
 * A session read back as a conversation: its summary and its turns (the API's
 * objects) and the user/assistant messages in order.
 */
export class SessionTranscript {
  readonly project: string;
  readonly sessionId: string;
  readonly session: SessionSummary;
  readonly turns: readonly Turn[];
  readonly messages: readonly Message[];

  constructor(init: SessionTranscriptInit) {
    this.project = init.project;
    this.sessionId = init.sessionId;
    this.session = init.session;
    this.turns = init.turns;
    this.messages = init.messages;
  }

  /**
   * The conversation of a session's turns (the API's objects): each turn's
   * input as a user message and its output as an assistant message; a turn
   * without an input or an output (`null`) has no such message.
   */
  static fromTurns(init: Omit<SessionTranscriptInit, "messages">): SessionTranscript {
    const { project, sessionId, session, turns } = init;
    if (!Array.isArray(turns)) throw new TypeError(`turns must be an array, not ${describe(turns)}`);
    const messages: Message[] = [];
    turns.forEach((turn: unknown, i) => {
      if (!isPlainObject(turn)) throw new TypeError(`turns[${i}] must be an object, not ${describe(turn)}`);
      for (const [key, role] of [["input", "user"], ["output", "assistant"]] as const) {
        const io = turn[key];
        if (io === null || io === undefined) continue;
        const value = isPlainObject(io) ? io.value : undefined;
        if (typeof value !== "string") throw new TypeError(`turns[${i}].${key} must be null or an object with a string value`);
        messages.push({ role, content: value });
      }
    });
    return new SessionTranscript({ project, sessionId, session, turns, messages });
  }

  /**
   * The conversation as `role: content` lines; when longer than `maxChars`
   * characters (Unicode code points), the start is cut and marked with `…`
   * (the end is where a session is decided).
   */
  text(maxChars: number = DEFAULT_MAX_TRANSCRIPT_CHARS): string {
    checkCount(maxChars, "maxChars", 1);
    const full = this.messages.map((m) => `${m.role}: ${m.content}`).join("\n");
    if (full.length <= maxChars) return full;
    if (codePoints(full) <= maxChars) return full;
    return "…" + lastCodePoints(full, maxChars - 1);
  }
}

/** A verdict: at least one of label, score and explanation. */
export interface EvaluationResult {
  label?: string | null;
  score?: number | null;
  explanation?: string | null;
  metadata?: Record<string, unknown>;
}

type MaybePromise<T> = T | Promise<T>;

/** A function evaluator; `annotatorKind` (a property of the function) sets the annotations' kind. */
export type EvaluatorFunction = ((transcript: SessionTranscript) => MaybePromise<EvaluationResult | null | undefined>) & {
  annotatorKind?: AnnotatorKind;
};

/** An object evaluator, such as {@link LLMJudge}. */
export interface EvaluatorObject {
  evaluate(transcript: SessionTranscript): MaybePromise<EvaluationResult | null | undefined>;
  readonly annotatorKind?: AnnotatorKind;
}

export type Evaluator = EvaluatorFunction | EvaluatorObject;

/** What {@link evaluateSessions} did: the stored annotations, and the sessions whose evaluation failed (session id → error text). */
export interface EvaluationRun {
  annotations: Annotation[];
  errors: Record<string, string>;
}

export interface EvaluateSessionsOptions extends IterSessionsOptions {
  /** The annotations' name (`resolution`, `error_free`, ...). */
  name: string;
  /** These sessions, instead of every session matching the filters. */
  sessionIds?: Iterable<string>;
  /** Default: the evaluator's `annotatorKind`, else `CODE`. */
  annotatorKind?: AnnotatorKind;
  /** Default `""`. */
  identifier?: string;
  /** How many sessions are evaluated at once (LLM judges wait on the network); default 4. */
  concurrency?: number;
}

// --- helpers --------------------------------------------------------------------

function checkCount(value: unknown, argument: string, min: number): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${argument} must be an integer of at least ${min}, got ${typeof value === "number" ? value : describe(value)}`);
  }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** The length in code points (what Python's `len` counts). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
    n++;
  }
  return n;
}

/** The last `count` code points of `s`. */
function lastCodePoints(s: string, count: number): string {
  let i = s.length;
  for (let n = 0; i > 0 && n < count; n++) {
    if (isLow(s.charCodeAt(i - 1)) && i >= 2 && isHigh(s.charCodeAt(i - 2))) i--;
    i--;
  }
  return s.slice(i);
}

/** Python's `str.strip()`: its whitespace, not JavaScript's (which adds U+FEFF and lacks U+001C-U+001F, U+0085). */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");
function pyStrip(s: string): string {
  return s.replace(PY_STRIP, "");
}

function errorText(e: unknown): string {
  if (e instanceof SessionsApiError) return e.toString();
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return `thrown: ${String(e)}`;
}

/** An evaluator's answer as an annotation's verdict; throws on a malformed one. */
function asResult(value: unknown): Required<Pick<EvaluationResult, "metadata">> & EvaluationResult {
  if (!isPlainObject(value)) {
    throw new TypeError(`evaluator must return an object with label, score or explanation, or null to skip, not ${describe(value)}`);
  }
  const unknown = Object.keys(value).filter((k) => !["label", "score", "explanation", "metadata"].includes(k));
  if (unknown.length > 0) throw new TypeError(`evaluator returned unknown keys ${JSON.stringify(unknown.sort())}`);
  const { label, score, explanation, metadata } = value;
  if (label !== undefined && label !== null && typeof label !== "string") {
    throw new TypeError(`evaluator returned a label that is not a string: ${describe(label)}`);
  }
  if (score !== undefined && score !== null && (typeof score !== "number" || !Number.isFinite(score))) {
    throw new TypeError(`evaluator returned a score that is not a finite number: ${typeof score === "number" ? score : describe(score)}`);
  }
  if (explanation !== undefined && explanation !== null && typeof explanation !== "string") {
    throw new TypeError(`evaluator returned an explanation that is not a string: ${describe(explanation)}`);
  }
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) throw new TypeError(`evaluator returned metadata that is not an object: ${describe(metadata)}`);
    checkJsonObject(metadata, "metadata");
  }
  return {
    label: label as string | null | undefined,
    score: score as number | null | undefined,
    explanation: explanation as string | null | undefined,
    metadata: { ...((metadata as Record<string, unknown> | null | undefined) ?? {}) },
  };
}

// --- transcripts and runs ---------------------------------------------------------

/** Reads a session and its turns and builds the conversation (see {@link SessionTranscript.fromTurns}). */
export async function sessionTranscript(client: SessionsClient, project: string, sessionId: string): Promise<SessionTranscript> {
  const [session, turns] = await Promise.all([client.getSession(project, sessionId), client.getTurns(project, sessionId)]);
  return SessionTranscript.fromTurns({ project, sessionId, session, turns });
}

const RUN_OPTIONS = ["name", "sessionIds", "annotatorKind", "identifier", "concurrency"];

/**
 * Evaluates sessions of `project` and stores each verdict as an annotation
 * named `options.name`.
 *
 * The sessions are `options.sessionIds`, or every session matching the other
 * options (the session list's filters: `userId`, `tag`, `minTraces`,
 * `startTime`, `metadata: {...}`, ...). Evaluators run `concurrency` (4) at a
 * time. A session whose transcript or evaluator fails is reported in `errors`
 * and does not stop the others; the verdicts are logged in bulk (1,000 per
 * request, each request all or nothing).
 */
export async function evaluateSessions(
  client: SessionsClient,
  project: string,
  evaluator: Evaluator,
  options: EvaluateSessionsOptions,
): Promise<EvaluationRun> {
  if (typeof client !== "object" || client === null || typeof (client as SessionsClient).getTurns !== "function") {
    throw new TypeError(`client must be a SessionsClient, not ${describe(client)}`);
  }
  segment(project, "project");
  const evaluate: (t: SessionTranscript) => unknown =
    typeof evaluator === "function"
      ? evaluator
      : typeof evaluator === "object" && evaluator !== null && typeof evaluator.evaluate === "function"
        ? (t) => evaluator.evaluate(t)
        : (() => {
            throw new TypeError(`evaluator must be a function or an object with an evaluate method, not ${describe(evaluator)}`);
          })();
  if (!isPlainObject(options)) throw new TypeError(`options must be an object with a name, not ${describe(options)}`);
  const { name, sessionIds, annotatorKind, concurrency = 4 } = options;
  const identifier = options.identifier ?? "";
  const filters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!RUN_OPTIONS.includes(k)) filters[k] = v;
  if (typeof name !== "string" || name.trim() === "") {
    throw new TypeError(`options.name must be a non-empty string, got ${typeof name === "string" ? JSON.stringify(name) : describe(name)}`);
  }
  const kind = annotatorKind ?? evaluator.annotatorKind ?? "CODE";
  if (!["HUMAN", "LLM", "CODE"].includes(kind)) {
    throw new TypeError(`options.annotatorKind must be HUMAN, LLM or CODE, got ${JSON.stringify(kind)}`);
  }
  if (typeof identifier !== "string") throw new TypeError(`options.identifier must be a string, not ${describe(identifier)}`);
  checkCount(concurrency, "options.concurrency", 1);
  // the listing options are checked now, whether or not sessions are listed
  const listing = checkOptions(filters, "options", [...RUN_OPTIONS, ...SESSION_FILTERS, "pageSize"]);
  sessionFilters(listing, "options");
  if (listing.pageSize !== undefined && listing.pageSize !== null) checkCount(listing.pageSize, "options.pageSize", 1);

  let ids: string[];
  if (sessionIds !== undefined && sessionIds !== null) {
    if (typeof sessionIds !== "object" || typeof (sessionIds as Iterable<string>)[Symbol.iterator] !== "function") {
      throw new TypeError(`options.sessionIds must be an array (an iterable) of strings, not ${describe(sessionIds)}`);
    }
    const given = Object.keys(filters).filter((k) => filters[k] !== undefined && filters[k] !== null);
    if (given.length > 0) throw new TypeError(`options.sessionIds cannot be combined with filters (${given.join(", ")})`);
    ids = [...sessionIds];
    ids.forEach((id, i) => {
      if (typeof id !== "string" || id === "") {
        throw new TypeError(`options.sessionIds[${i}] must be a non-empty string, got ${typeof id === "string" ? '""' : describe(id)}`);
      }
    });
  } else {
    ids = [];
    for await (const session of client.iterSessions(project, filters as IterSessionsOptions)) ids.push(session.session_id);
  }

  type Outcome = { result?: ReturnType<typeof asResult>; error?: string };
  const outcomes: Outcome[] = new Array(ids.length);
  const runOne = async (sessionId: string): Promise<Outcome> => {
    try {
      const transcript = await sessionTranscript(client, project, sessionId);
      const value = await evaluate(transcript);
      return value === null || value === undefined ? {} : { result: asResult(value) };
    } catch (e) {
      // one session's failure is reported, not fatal
      diag.warn(`openinference-session: evaluating session ${JSON.stringify(sessionId)} failed: ${errorText(e)}`);
      return { error: errorText(e) };
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      outcomes[i] = await runOne(ids[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));

  const errors: Record<string, string> = Object.create(null);
  outcomes.forEach((o, i) => {
    if (o.error !== undefined) errors[ids[i]!] = o.error;
  });
  const toLog: SessionAnnotationInput[] = [];
  outcomes.forEach(({ result }, i) => {
    if (result === undefined) return;
    const sessionId = ids[i]!;
    const none = (v: unknown) => v === null || v === undefined;
    if (none(result.label) && none(result.score) && none(result.explanation)) {
      errors[sessionId] = "evaluator returned no label, score or explanation";
      return;
    }
    const annotation: SessionAnnotationInput = { sessionId, name, annotatorKind: kind, identifier, metadata: result.metadata };
    if (!none(result.label)) annotation.label = result.label!;
    if (!none(result.score)) annotation.score = result.score!;
    if (!none(result.explanation)) annotation.explanation = result.explanation!;
    toLog.push(annotation);
  });
  const annotations = toLog.length > 0 ? await client.logSessionAnnotations(project, toLog) : [];
  return { annotations, errors };
}

// --- the LLM judge ------------------------------------------------------------------

/** The prompt an {@link LLMJudge} sends, the same as the Python package's. */
export const DEFAULT_JUDGE_TEMPLATE = `You are judging a whole conversation between a user and an AI assistant.

Criteria: {criteria}

Conversation:
{transcript}

Answer with one of these labels on the first line: {labels}.
Then, on the next line, write "EXPLANATION:" and a short reason.`;

const PLACEHOLDERS = ["criteria", "transcript", "labels"] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** Python's `str.format` for our three names: `{name}` replaced, `{{` and `}}` are braces; anything else throws. */
function format(template: string, values: Record<Placeholder, string>, used?: Set<string>): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (match, field: string | undefined) => {
    if (match === "{{") return "{";
    if (match === "}}") return "}";
    if (field !== undefined && (PLACEHOLDERS as readonly string[]).includes(field)) {
      used?.add(field);
      return values[field as Placeholder];
    }
    throw new TypeError(
      field === undefined
        ? `template has a single ${JSON.stringify(match)}: write braces as {{ and }}`
        : `template has an unknown placeholder {${field}}; the placeholders are {criteria}, {transcript} and {labels}`,
    );
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[\^$\\.*+?()[\]{}|]/g, "\\$&");
}

/** Python's `\b` on text (Unicode word characters: letters, numbers, underscore). */
const WORD = "[\\p{L}\\p{N}_]";
const BOUNDARY = `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`;

export interface LLMJudgeOptions {
  /** Sends a prompt to a model and returns (or resolves to) its text answer; any model, any SDK. */
  complete: (prompt: string) => string | Promise<string>;
  /** What the judge decides, in a sentence. */
  criteria: string;
  /**
   * Each allowed label and its score; default `{ yes: 1, no: 0 }`. Listed in the
   * prompt in this order (a `Map` or an array of pairs keeps the order of
   * labels that look like integers, which a plain object does not). Labels
   * must differ in more than case: an answer is read in any case.
   */
  labels?: Record<string, number> | ReadonlyMap<string, number> | ReadonlyArray<readonly [string, number]>;
  /** The prompt, with `{criteria}`, `{transcript}` and `{labels}` (`{{` and `}}` for braces, as in Python's `str.format`; nothing else). */
  template?: string;
  /** How much conversation the judge is shown, in characters; the end is kept. Default 600,000. */
  maxTranscriptChars?: number;
}

/**
 * An evaluator that asks an LLM for a verdict on the whole conversation.
 *
 * The first allowed label found on the answer's first line (whole word, any
 * case; the longest label first, so `unresolved` is never read as `resolved`)
 * wins, with its score, and the rest of the answer (after `EXPLANATION:`) is
 * the explanation. An answer without one gives no label or score and the
 * answer as the explanation, with `metadata.unparsable = true`: not guessed.
 */
export class LLMJudge implements EvaluatorObject {
  readonly annotatorKind: AnnotatorKind = "LLM";
  readonly complete: (prompt: string) => string | Promise<string>;
  readonly criteria: string;
  readonly labels: ReadonlyMap<string, number>;
  readonly template: string;
  readonly maxTranscriptChars: number;
  readonly #labelPattern: RegExp;
  readonly #labelOrder: string[];

  constructor(options: LLMJudgeOptions) {
    if (!isPlainObject(options)) throw new TypeError(`options must be an object with complete and criteria, not ${describe(options)}`);
    const known = ["complete", "criteria", "labels", "template", "maxTranscriptChars"];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw new TypeError(`options has an unknown option ${JSON.stringify(key)}; known options are ${known.join(", ")}`);
    }
    const { complete, criteria, labels, template = DEFAULT_JUDGE_TEMPLATE, maxTranscriptChars = DEFAULT_MAX_TRANSCRIPT_CHARS } = options;
    if (typeof complete !== "function") {
      throw new TypeError(`complete must be a function (prompt: string) => string | Promise<string>, not ${describe(complete)}`);
    }
    if (typeof criteria !== "string" || criteria.trim() === "") throw new TypeError("criteria must be a non-empty string");
    let entries: Array<readonly [unknown, unknown]>;
    if (labels === undefined || labels === null) entries = [["yes", 1], ["no", 0]];
    else if (labels instanceof Map || Array.isArray(labels)) entries = [...(labels as Iterable<readonly [unknown, unknown]>)];
    else if (isPlainObject(labels)) entries = Object.entries(labels);
    else throw new TypeError(`labels must be an object, a Map or an array of [label, score] pairs, not ${describe(labels)}`);
    if (entries.length === 0) throw new TypeError("labels must not be empty");
    const map = new Map<string, number>();
    const seen = new Map<string, string>();
    entries.forEach((entry, i) => {
      const [label, score] = Array.isArray(entry) && entry.length === 2 ? entry : [undefined, undefined];
      if (typeof label !== "string" || label.trim() === "") {
        throw new TypeError(`labels[${i}] must be a non-empty string, got ${typeof label === "string" ? JSON.stringify(label) : describe(label)}`);
      }
      if (typeof score !== "number" || !Number.isFinite(score)) {
        throw new TypeError(`labels[${JSON.stringify(label)}] must be a finite number (its score), got ${typeof score === "number" ? score : describe(score)}`);
      }
      const other = seen.get(label.toLowerCase());
      if (other !== undefined) {
        throw new TypeError(`labels[${i}] ${JSON.stringify(label)} repeats ${JSON.stringify(other)}: an answer is read in any case`);
      }
      seen.set(label.toLowerCase(), label);
      map.set(label, score);
    });
    if (typeof template !== "string") throw new TypeError(`template must be a string, not ${describe(template)}`);
    const used = new Set<string>();
    format(template, { criteria: "", transcript: "", labels: "" }, used); // throws on a malformed template
    for (const p of PLACEHOLDERS) if (!used.has(p)) throw new TypeError(`template must contain {${p}}`);
    checkCount(maxTranscriptChars, "maxTranscriptChars", 1);

    this.complete = complete;
    this.criteria = criteria;
    this.labels = map;
    this.template = template;
    this.maxTranscriptChars = maxTranscriptChars;
    // longest first (in code points; stable: ties keep their order), so "unresolved" is not read as "resolved"
    this.#labelOrder = [...map.keys()].sort((a, b) => codePoints(b) - codePoints(a));
    const alternatives = this.#labelOrder.map((l) => `(${escapeRegExp(l)})`).join("|");
    this.#labelPattern = new RegExp(`${BOUNDARY}(?:${alternatives})${BOUNDARY}`, "iu");
  }

  /** The prompt sent for a transcript. */
  prompt(transcript: SessionTranscript): string {
    return format(this.template, {
      criteria: this.criteria,
      transcript: transcript.text(this.maxTranscriptChars),
      labels: [...this.labels.keys()].join(", "),
    });
  }

  /** Reads a verdict from a model's answer (what {@link evaluate} does after `complete`). */
  parse(answer: string): EvaluationResult {
    if (typeof answer !== "string") throw new TypeError(`complete must return a string, not ${describe(answer)}`);
    const stripped = pyStrip(answer);
    const newline = stripped.indexOf("\n");
    const firstLine = newline < 0 ? stripped : stripped.slice(0, newline);
    const rest = newline < 0 ? "" : stripped.slice(newline + 1);
    let explanation = pyStrip(rest);
    if (explanation.toUpperCase().startsWith("EXPLANATION:")) explanation = pyStrip(explanation.slice("EXPLANATION:".length));
    const match = this.#labelPattern.exec(firstLine);
    if (match === null) return { explanation: stripped || "(empty answer)", metadata: { unparsable: true } };
    const label = this.#labelOrder[match.slice(1).findIndex((g) => g !== undefined)]!;
    const result: EvaluationResult = { label, score: this.labels.get(label)! };
    if (explanation) result.explanation = explanation;
    return result;
  }

  /** Asks the model about a transcript and reads its verdict. */
  async evaluate(transcript: SessionTranscript): Promise<EvaluationResult> {
    return this.parse(await this.complete(this.prompt(transcript)));
  }
}

/** A code evaluator: the share of turns without an error (label `clean` or `had_errors`). */
export function errorFree(transcript: SessionTranscript): EvaluationResult {
  const turns = transcript.turns;
  if (turns.length === 0) return { explanation: "no turns" };
  const errored = turns.filter((t) => t.status === "error").length;
  return {
    label: errored === 0 ? "clean" : "had_errors",
    score: 1 - errored / turns.length,
    explanation: `${errored} of ${turns.length} turns errored`,
  };
}
