// A trace's spans as a tree in display order, with each span's place on the
// trace's timeline. Spans whose parent is missing (not received) are roots.
import type { Span } from "../../lib/api";

export interface SpanRow {
  span: Span;
  depth: number;
  offsetPct: number;
  widthPct: number;
  durationMs: number;
}

export function spanRows(spans: Span[]): SpanRow[] {
  if (spans.length === 0) return [];
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string | null, Span[]>();
  for (const span of spans) {
    const parent = span.parent_span_id && ids.has(span.parent_span_id) ? span.parent_span_id : null;
    const list = children.get(parent) ?? [];
    list.push(span);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.start_time.localeCompare(b.start_time));
  const start = Math.min(...spans.map((s) => Date.parse(s.start_time)));
  const end = Math.max(...spans.map((s) => Date.parse(s.end_time)));
  const total = Math.max(1, end - start);
  const rows: SpanRow[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      if (seen.has(span.span_id)) continue; // a cycle in bad data must not loop forever
      seen.add(span.span_id);
      const s = Date.parse(span.start_time);
      const e = Date.parse(span.end_time);
      rows.push({
        span,
        depth,
        offsetPct: ((s - start) / total) * 100,
        widthPct: Math.max(0.3, ((e - s) / total) * 100),
        durationMs: e - s,
      });
      walk(span.span_id, depth + 1);
    }
  };
  walk(null, 0);
  return rows;
}

/** LLM messages from flattened OpenInference attributes or GenAI JSON. */
export function llmMessages(attributes: Record<string, unknown>, direction: "input" | "output"): { role: string; content: string }[] {
  const prefix = `llm.${direction}_messages.`;
  const byIndex = new Map<number, { role: string; content: string }>();
  for (const [key, value] of Object.entries(attributes)) {
    if (!key.startsWith(prefix)) continue;
    const match = /^(\d+)\.message\.(role|content)$/.exec(key.slice(prefix.length));
    if (!match) continue;
    const i = Number(match[1]);
    const m = byIndex.get(i) ?? { role: "", content: "" };
    if (match[2] === "role") m.role = String(value);
    else m.content = String(value);
    byIndex.set(i, m);
  }
  if (byIndex.size > 0) return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
  const genai = attributes[`gen_ai.${direction}.messages`];
  if (typeof genai === "string") {
    try {
      const parsed = JSON.parse(genai) as { role?: string; parts?: { type?: string; content?: string }[] }[];
      if (Array.isArray(parsed))
        return parsed.map((m) => ({
          role: m.role ?? "",
          content: (m.parts ?? []).map((p) => p.content ?? "").join("\n"),
        }));
    } catch {
      // not the JSON we know: the raw attribute is still shown in the table
    }
  }
  return [];
}
