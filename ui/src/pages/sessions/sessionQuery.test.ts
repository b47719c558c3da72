import { apiParams, parseSessionQuery, windowStart } from "./sessionQuery";

describe("the sessions list's URL state", () => {
  it("defaults to newest first over all time", () => {
    const q = parseSessionQuery(new URLSearchParams(""));
    expect(q).toMatchObject({ sort: "start_time", order: "desc", range: "all", errors: false });
    expect(apiParams(q)).toEqual({ sort: "start_time", order: "desc" });
    expect(windowStart(q, Date.now())).toBeNull();
  });

  it("turns filters into API parameters and ignores junk", () => {
    const q = parseSessionQuery(
      new URLSearchParams("sort=total_cost&order=asc&user=u-1&tag=vip&metadata=plan%3Dpro&errors=1&min_turns=3&q=refund&range=1h"),
    );
    expect(apiParams(q)).toEqual({
      sort: "total_cost",
      order: "asc",
      user_id: "u-1",
      tag: "vip",
      "metadata.plan": "pro",
      has_error: "true",
      min_traces: "3",
      q: "refund",
    });
    expect(windowStart(q, Date.parse("2026-01-01T12:00:00Z"))).toBe("2026-01-01T11:00:00.000Z");
    const custom = parseSessionQuery(
      new URLSearchParams("range=custom&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00.000Z"),
    );
    expect(windowStart(custom, Date.now())).toBe("2026-11-01T00:00:00.000Z");
    expect(apiParams(custom)).toEqual({ sort: "start_time", order: "desc", end_time: "2026-11-02T00:00:00.000Z" });
    const badTimes = parseSessionQuery(new URLSearchParams("range=custom&from=yesterday&to=soon"));
    expect(windowStart(badTimes, Date.now())).toBeNull();
    expect(apiParams(badTimes)).toEqual({ sort: "start_time", order: "desc" });
    const junk = parseSessionQuery(new URLSearchParams("sort=drop table&range=forever&min_turns=abc&metadata=novalue"));
    expect(apiParams(junk)).toEqual({ sort: "start_time", order: "desc" });
  });
});
