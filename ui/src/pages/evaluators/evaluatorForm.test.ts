import type { Backfill, Evaluator } from "../../lib/api";
import { backfillSummary, draftOf, emptyDraft, fieldOf, specOf, withEnabled } from "./evaluatorForm";

const stored = (over: Partial<Evaluator>): Evaluator => ({
  name: "resolution",
  kind: "llm_judge",
  enabled: true,
  sample_rate: 0.5,
  filter: { user_id: "u1", metadata: { plan: "pro" } },
  llm: { base_url: "http://127.0.0.1:9/v1", model: "judge", api_key_env: "JUDGE_KEY" },
  criteria: "solved?",
  labels: { good: 1, bad: 0 },
  version: 3,
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-01T00:00:00Z",
  jobs: { queued: 0, running: 0, done: 2, failed: 1, skipped: 0 },
  ...over,
});

describe("the evaluator form", () => {
  it("turns an LLM judge's draft into its definition", () => {
    const d = { ...emptyDraft(), name: " resolution ", criteria: "solved?", baseUrl: "http://127.0.0.1:9/v1", model: "judge", apiKeyEnv: "JUDGE_KEY", userId: "u1", metadata: "plan=pro\n\n tier = gold " };
    expect(specOf(d)).toEqual({
      name: "resolution",
      kind: "llm_judge",
      enabled: true,
      sample_rate: 1,
      filter: { user_id: "u1", metadata: { plan: "pro", tier: "gold" } },
      llm: { base_url: "http://127.0.0.1:9/v1", model: "judge", api_key_env: "JUDGE_KEY" },
      criteria: "solved?",
      labels: { good: 1, bad: 0 },
    });
    // blank label rows are left out; an empty label set goes to the server, which refuses it by name
    expect(specOf({ ...d, labels: [{ label: "", score: "" }] })).toMatchObject({ labels: {} });
  });

  it("names the field of a malformed value before sending", () => {
    const d = { ...emptyDraft(), name: "x", criteria: "c" };
    expect(specOf({ ...d, name: " " })).toMatchObject({ field: "name" });
    expect(specOf({ ...d, sampleRate: "half" })).toMatchObject({ field: "sample_rate" });
    expect(specOf({ ...d, labels: [{ label: "good", score: "high" }] })).toMatchObject({ field: "labels" });
    expect(specOf({ ...d, labels: [{ label: "", score: "1" }] })).toMatchObject({ field: "labels" });
    expect(specOf({ ...d, metadata: "novalue" })).toMatchObject({ field: "filter.metadata" });
    expect(specOf({ ...d, temperature: "warm" })).toMatchObject({ field: "llm.temperature" });
    expect(specOf({ ...d, kind: "code", ruleType: "turn_count", minTurns: "1.5" })).toMatchObject({ field: "rule.min" });
    expect(specOf({ ...d, kind: "code", ruleType: "tool_error_rate", maxRate: "" })).toMatchObject({ field: "rule.max_rate" });
  });

  it("builds every code rule with its parameters", () => {
    const code = { ...emptyDraft(), name: "r", kind: "code" as const };
    const rule = (over: object) => (specOf({ ...code, ...over }) as { rule: unknown }).rule;
    expect(rule({ ruleType: "no_errors" })).toEqual({ type: "no_errors" });
    expect(rule({ ruleType: "turn_count", minTurns: "2", maxTurns: "" })).toEqual({ type: "turn_count", min: 2, max: null });
    expect(rule({ ruleType: "latency", maxTurnMs: "1500" })).toEqual({ type: "latency", max_turn_ms: 1500, max_session_ms: null });
    expect(rule({ ruleType: "tool_error_rate", maxRate: "0.25" })).toEqual({ type: "tool_error_rate", max_rate: 0.25 });
    expect(rule({ ruleType: "regex", pattern: "useless", on: "any", caseInsensitive: false, failOnMatch: true })).toEqual({
      type: "regex",
      pattern: "useless",
      on: "any",
      case_insensitive: false,
      fail_on_match: true,
    });
    expect(specOf({ ...code, ruleType: "no_errors" })).not.toHaveProperty("llm");
  });

  it("edits a stored evaluator and sends back what it read", () => {
    const e = stored({});
    const d = draftOf(e);
    expect(d).toMatchObject({ name: "resolution", sampleRate: "0.5", userId: "u1", metadata: "plan=pro", apiKeyEnv: "JUDGE_KEY" });
    expect(specOf(d)).toMatchObject({ sample_rate: 0.5, llm: e.llm, labels: e.labels, criteria: "solved?" });
    expect(specOf(d)).not.toHaveProperty("max_transcript_chars");
    // a transcript length set through the API survives an edit in the form
    const long = draftOf(stored({ max_transcript_chars: 20000 }));
    expect(long.maxTranscriptChars).toBe("20000");
    expect(specOf(long)).toMatchObject({ max_transcript_chars: 20000 });
    expect(specOf({ ...long, maxTranscriptChars: "2.5" })).toMatchObject({ field: "max_transcript_chars" });
    const code = draftOf(stored({ kind: "code", llm: null, labels: null, criteria: null, rule: { type: "regex", pattern: "p", on: "assistant" } }));
    expect(code).toMatchObject({ kind: "code", ruleType: "regex", pattern: "p", on: "assistant", caseInsensitive: true });
  });

  it("switches an evaluator on and off with its definition unchanged", () => {
    const body = withEnabled(stored({}), false);
    expect(body.enabled).toBe(false);
    expect(body).not.toHaveProperty("version");
    expect(body).not.toHaveProperty("jobs");
    expect(body).not.toHaveProperty("name");
    expect(body.llm).toEqual(stored({}).llm);
  });

  it("puts a server error next to the field it names", () => {
    const fields = ["llm.api_key_env", "llm", "labels", "rule", "name"];
    expect(fieldOf("llm.api_key_env", fields)).toBe("llm.api_key_env");
    expect(fieldOf("llm.api_key", fields)).toBe("llm");
    expect(fieldOf("labels.good", fields)).toBe("labels");
    expect(fieldOf("rule.pattern", fields)).toBe("rule");
    expect(fieldOf("elsewhere", fields)).toBeNull();
    expect(fieldOf(undefined, fields)).toBeNull();
  });

  it("sums a backfill up", () => {
    const b = { matched: 10, skipped: 3, jobs: { queued: 1, running: 1, done: 3, failed: 1, skipped: 1 } } as Backfill;
    expect(backfillSummary(b)).toEqual({ matched: 10, judged: 3, failed: 1, skipped: 4, pending: 2 });
  });
});
