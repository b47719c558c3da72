import type { ProjectSettings } from "../../lib/api";
import { bars, configOf, configText, emptyConfigDraft, labelShares, settingUpdate, settingView } from "./projectModel";

const settings: ProjectSettings = {
  session_idle: "10m",
  default_session_idle: "5m",
  effective_session_idle: "10m",
  retention: null,
  default_retention: "forever",
  effective_retention: "forever",
};

describe("the project page", () => {
  it("shows each setting's value in force and whether it is the server's", () => {
    expect(settingView(settings, "session_idle")).toEqual({ effective: "10m", isDefault: false, serverDefault: "5m", own: "10m" });
    expect(settingView(settings, "retention")).toEqual({ effective: "forever", isDefault: true, serverDefault: "forever", own: "" });
  });

  it("changes only the setting edited; empty goes back to the server's", () => {
    expect(settingUpdate("retention", " 30d ")).toEqual({ retention: "30d" });
    expect(settingUpdate("session_idle", "")).toEqual({ session_idle: null });
    expect(settingUpdate("session_idle", null)).toEqual({ session_idle: null });
  });

  it("draws bars to scale, the tallest full height, small ones still visible", () => {
    const b = bars(
      [
        { label: "a", value: 10 },
        { label: "b", value: 5 },
        { label: "c", value: 0 },
        { label: "d", value: 0.01 },
      ],
      100,
      40,
    );
    expect(b.map((x) => x.height)).toEqual([40, 20, 0, 1]);
    expect(b.map((x) => x.x)).toEqual([0, 25, 50, 75]);
    expect(b[1]!.y).toBe(20);
    expect(bars([], 100, 40)).toEqual([]);
    expect(bars([{ label: "z", value: 0 }], 100, 40)[0]!.height).toBe(0);
    expect(bars([{ label: "one", value: 3 }], 480, 40)[0]).toMatchObject({ x: 0, width: 24, height: 40 });
  });

  it("orders a label distribution by count", () => {
    expect(labelShares({ bad: 1, good: 3, meh: 1 })).toEqual([
      { label: "good", count: 3, share: 0.6 },
      { label: "bad", count: 1, share: 0.2 },
      { label: "meh", count: 1, share: 0.2 },
    ]);
    expect(labelShares({})).toEqual([]);
  });

  it("builds annotation configs of each type", () => {
    const d = emptyConfigDraft();
    expect(configOf({ ...d, name: "resolution", values: "solved=1\nunsolved = 0\nunclear\n" })).toEqual({
      name: "resolution",
      type: "categorical",
      optimization_direction: "maximize",
      values: [
        { label: "solved", score: 1 },
        { label: "unsolved", score: 0 },
        { label: "unclear", score: null },
      ],
    });
    expect(configOf({ ...d, name: "q", type: "continuous", lower: "1", upper: "5", direction: "none" })).toEqual({
      name: "q",
      type: "continuous",
      optimization_direction: "none",
      lower_bound: 1,
      upper_bound: 5,
    });
    expect(configOf({ ...d, name: "s", type: "freeform", description: " why " })).toMatchObject({ type: "freeform", description: "why" });
    expect(configOf({ ...d, name: "q", type: "continuous", lower: "low" })).toEqual({ field: "lower_bound", message: "a number" });
    expect(configOf({ ...d, values: "a=x" , name: "n"})).toMatchObject({ field: "values" });
    expect(configOf({ ...d, name: "" })).toMatchObject({ field: "name" });
    expect(configText({ name: "r", type: "categorical", values: [{ label: "a", score: 1 }, { label: "b", score: null }] })).toBe("a (1), b");
    expect(configText({ name: "q", type: "continuous", lower_bound: 0, upper_bound: null })).toBe("0 to ∞");
  });
});
