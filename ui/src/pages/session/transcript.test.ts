import type { Session, Turn } from "../../lib/api";
import { transcriptMarkdown } from "./transcript";

const session = {
  session_id: "conv-1",
  project: "p",
  start_time: "2026-11-25T10:00:00Z",
  num_traces: 2,
  user_ids: ["u-1"],
  tags: ["billing"],
} as Session;

function turn(input: string | null, output: string | null, status: "ok" | "error" = "ok"): Turn {
  return {
    trace_id: "t",
    start_time: "2026-11-25T10:00:00Z",
    end_time: "2026-11-25T10:00:01Z",
    latency_ms: 1000,
    status,
    user_id: "u-1",
    input: input === null ? null : { value: input, mime_type: "text/plain" },
    output: output === null ? null : { value: output, mime_type: "text/plain" },
    token_count: { prompt: 0, completion: 0, total: 0 },
    cost: { prompt: 0, completion: 0, total: 0 },
    span_count: 1,
    session_conflicts: [],
  };
}

describe("the Markdown transcript", () => {
  it("lists every turn in order, user then assistant", () => {
    const md = transcriptMarkdown(session, [turn("hi", "hello"), turn("bye", null, "error")]);
    expect(md).toContain("# Session conv-1");
    expect(md).toContain("- users: u-1");
    expect(md.indexOf("hi")).toBeLessThan(md.indexOf("hello"));
    expect(md.indexOf("hello")).toBeLessThan(md.indexOf("bye"));
    expect(md).toContain("## Turn 2 (2026-11-25T10:00:00Z, error)");
    expect(md).toContain("_no output recorded_");
  });
});
