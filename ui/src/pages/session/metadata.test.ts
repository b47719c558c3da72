import { isFrameworkKey, splitMetadata } from "./metadata";

describe("metadata keys", () => {
  it("tells a framework's bookkeeping from the app's keys", () => {
    for (const key of ["langgraph_step", "langgraph_triggers", "checkpoint_ns", "ls_provider", "ls_model_name", "__pregel_task_id"]) {
      expect(isFrameworkKey(key)).toBe(true);
    }
    for (const key of ["plan", "thread_id", "customer", "language", "langgraph", "checkpoint"]) {
      expect(isFrameworkKey(key)).toBe(false);
    }
  });

  it("keeps the app's keys first, in their order", () => {
    const { app, framework } = splitMetadata({ langgraph_step: 1, plan: "pro", ls_provider: "openai", thread_id: "t-1" });
    expect(app.map(([k]) => k)).toEqual(["plan", "thread_id"]);
    expect(framework.map(([k]) => k)).toEqual(["langgraph_step", "ls_provider"]);
  });
});
