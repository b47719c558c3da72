import type { Span } from "../../lib/api";
import { llmMessages, spanRows } from "./spanTree";

function span(id: string, parent: string | null, start: number, end: number, attributes: Record<string, unknown> = {}): Span {
  return {
    span_id: id,
    parent_span_id: parent,
    name: id,
    kind: "INTERNAL",
    status: "unset",
    status_message: "",
    start_time: new Date(start).toISOString(),
    end_time: new Date(end).toISOString(),
    attributes,
    events: [],
    step: null,
  };
}

describe("the span tree", () => {
  it("orders children by start, nests them, and places them on the timeline", () => {
    const rows = spanRows([span("b", "root", 50, 100), span("root", null, 0, 100), span("a", "root", 10, 40), span("a1", "a", 20, 30)]);
    expect(rows.map((r) => [r.span.span_id, r.depth])).toEqual([
      ["root", 0],
      ["a", 1],
      ["a1", 2],
      ["b", 1],
    ]);
    const b = rows[3]!;
    expect(b.offsetPct).toBeCloseTo(50);
    expect(b.widthPct).toBeCloseTo(50);
  });

  it("shows spans whose parent never arrived as roots, and survives cycles", () => {
    const rows = spanRows([span("orphan", "missing", 0, 10), span("x", "y", 0, 1), span("y", "x", 0, 1)]);
    expect(rows.map((r) => r.span.span_id)).toEqual(["orphan"]);
  });

  it("reads LLM messages from OpenInference and GenAI attributes", () => {
    expect(
      llmMessages(
        {
          "llm.input_messages.1.message.role": "user",
          "llm.input_messages.1.message.content": "hi",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.0.message.content": "be brief",
        },
        "input",
      ),
    ).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "hi" },
    ]);
    const genai = JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "hello" }] }]);
    expect(llmMessages({ "gen_ai.output.messages": genai }, "output")).toEqual([{ role: "assistant", content: "hello" }]);
  });
});
