// The steps of a turn worth showing inline: tool calls, retrievals, LLM calls,
// in start order, from the spans of its trace.
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

export function spanKind(span: Span): string {
  const oi = span.attributes["openinference.span.kind"];
  if (typeof oi === "string") return oi.toUpperCase();
  const op = span.attributes["gen_ai.operation.name"];
  if (op === "chat" || op === "text_completion" || op === "generate_content") return "LLM";
  if (op === "execute_tool") return "TOOL";
  if (op === "invoke_agent") return "AGENT";
  // The Vercel AI SDK's own span names: a tool call, and a call to the model.
  if (span.name === "ai.toolCall") return "TOOL";
  if (/^ai\.\w+\.do(Generate|Stream)$/.test(span.name)) return "LLM";
  return "";
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function stepsOf(spans: Span[]): Step[] {
  return spans
    .map((span) => ({ span, kind: spanKind(span) }))
    .filter(({ kind }) => SHOWN.has(kind))
    .sort((a, b) => a.span.start_time.localeCompare(b.span.start_time))
    .map(({ span, kind }) => {
      const a = span.attributes;
      const name =
        text(a["tool.name"]) ??
        text(a["gen_ai.tool.name"]) ??
        text(a["ai.toolCall.name"]) ??
        text(a["llm.model_name"]) ??
        text(a["gen_ai.request.model"]) ??
        text(a["ai.model.id"]) ??
        span.name;
      return {
        span,
        kind,
        title: name,
        input:
          text(a["input.value"]) ??
          text(a["gen_ai.input.messages"]) ??
          text(a["ai.toolCall.args"]) ??
          text(a["gen_ai.tool.call.arguments"]) ??
          text(a["ai.prompt.messages"]),
        output:
          text(a["output.value"]) ??
          text(a["gen_ai.output.messages"]) ??
          text(a["ai.toolCall.result"]) ??
          text(a["gen_ai.tool.call.result"]) ??
          text(a["ai.response.text"]),
        durationMs: Date.parse(span.end_time) - Date.parse(span.start_time),
      };
    });
}
