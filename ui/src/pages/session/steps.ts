// The steps of a turn worth showing inline: tool calls, retrievals, LLM calls,
// in start order, from the spans of its trace. What a span is as a step (its
// kind, title, and which attributes hold its input and output) comes from the
// server (`span.step`), which knows every convention.
import type { Span } from "../../lib/api";

export interface Step {
  span: Span;
  kind: string;
  title: string;
  input?: string;
  output?: string;
  durationMs: number;
}

const SHOWN = new Set(["TOOL", "RETRIEVER", "LLM", "EMBEDDING", "RERANKER", "AGENT"]);

/** The span's step kind (`LLM`, `TOOL`, ...), or "" for a span that is no step. */
export function spanKind(span: Span): string {
  return span.step?.kind ?? "";
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function stepsOf(spans: Span[]): Step[] {
  return spans
    .filter((span) => span.step !== null && SHOWN.has(span.step.kind))
    .sort((a, b) => a.start_time.localeCompare(b.start_time))
    .map((span) => {
      const step = span.step!;
      return {
        span,
        kind: step.kind,
        title: step.title,
        input: step.input_key === null ? undefined : text(span.attributes[step.input_key]),
        output: step.output_key === null ? undefined : text(span.attributes[step.output_key]),
        durationMs: Date.parse(span.end_time) - Date.parse(span.start_time),
      };
    });
}
