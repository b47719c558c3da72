import { neighbor, rememberedSessionList, rememberSessionList } from "./sessionNav";

describe("moving between sessions", () => {
  it("steps through the list the sessions page showed", () => {
    const ids = ["a", "b", "c"];
    expect(neighbor(ids, "b", 1)).toBe("c");
    expect(neighbor(ids, "b", -1)).toBe("a");
    expect(neighbor(ids, "c", 1)).toBeNull();
    expect(neighbor(ids, "a", -1)).toBeNull();
    expect(neighbor(ids, "zzz", 1)).toBeNull();
  });

  it("remembers one list per tab, for its project only", () => {
    const store = new Map<string, string>();
    const storage = { setItem: (k: string, v: string) => void store.set(k, v), getItem: (k: string) => store.get(k) ?? null };
    rememberSessionList({ project: "p", list: "/projects/p/sessions?sort=duration", ids: ["x", "y"] }, storage);
    expect(rememberedSessionList("p", storage)).toEqual({ project: "p", list: "/projects/p/sessions?sort=duration", ids: ["x", "y"] });
    expect(rememberedSessionList("other", storage)).toBeNull();
    store.set("oi-sessions.session-list", "{not json");
    expect(rememberedSessionList("p", storage)).toBeNull();
  });
});
