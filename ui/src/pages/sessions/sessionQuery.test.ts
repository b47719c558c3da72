import { annotationFilter, annotationMode, apiParams, isFiltered, parseSessionQuery, windowStart } from "./sessionQuery";
import { verdictColumns } from "./verdictColumns";

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

  it("filters by status and by annotation, and sorts by last activity or a verdict's score", () => {
    const parse = (qs: string) => apiParams(parseSessionQuery(new URLSearchParams(qs)));
    expect(parse("status=idle&sort=last_activity")).toEqual({ sort: "last_activity", order: "desc", status: "idle" });
    expect(parse("status=sleeping")).toEqual({ sort: "start_time", order: "desc" });
    expect(parse("annotation=resolution&annotation_label=solved")).toEqual({
      sort: "start_time",
      order: "desc",
      annotation: "resolution",
      annotation_label: "solved",
    });
    expect(parse("annotation=resolution&annotation_score_min=0.5&annotation_score_max=abc")).toEqual({
      sort: "start_time",
      order: "desc",
      annotation: "resolution",
      annotation_score_min: "0.5",
    });
    // a label or score range without its annotation's name says nothing
    expect(parse("annotation_label=solved&annotation_score_min=1")).toEqual({ sort: "start_time", order: "desc" });
    expect(parse("missing_annotation=resolution")).toEqual({ sort: "start_time", order: "desc", missing_annotation: "resolution" });
    expect(parse("sort=annotation_score&order=asc&annotation=resolution")).toEqual({
      sort: "annotation_score",
      order: "asc",
      annotation: "resolution",
    });
    // by a score needs a name: the default order without one
    expect(parse("sort=annotation_score")).toEqual({ sort: "start_time", order: "desc" });
    expect(isFiltered(parseSessionQuery(new URLSearchParams("missing_annotation=x")))).toBe(true);
    expect(isFiltered(parseSessionQuery(new URLSearchParams("sort=last_activity")))).toBe(false);
  });

  it("writes the annotation filter's controls to the URL and reads them back", () => {
    const all = { annotation: null, annotation_label: null, annotation_score_min: null, annotation_score_max: null, missing_annotation: null };
    expect(annotationFilter(" resolution ", "has")).toEqual({ ...all, annotation: "resolution" });
    expect(annotationFilter("resolution", "missing")).toEqual({ ...all, missing_annotation: "resolution" });
    expect(annotationFilter("resolution", "label", { label: "solved" })).toEqual({ ...all, annotation: "resolution", annotation_label: "solved" });
    expect(annotationFilter("r", "score", { min: "0", max: " " })).toEqual({ ...all, annotation: "r", annotation_score_min: "0" });
    expect(annotationFilter("  ", "label", { label: "x" })).toEqual(all);
    const mode = (qs: string) => annotationMode(parseSessionQuery(new URLSearchParams(qs)));
    expect(mode("annotation=r")).toBe("has");
    expect(mode("missing_annotation=r")).toBe("missing");
    expect(mode("annotation=r&annotation_label=x")).toBe("label");
    expect(mode("annotation=r&annotation_score_max=1")).toBe("score");
  });

  it("gives enabled evaluators a verdict column each, then the annotation filtered by", () => {
    const ev = (name: string, created_at: string, enabled = true) => ({ name, created_at, enabled });
    expect(verdictColumns([ev("b", "2026-01-02"), ev("a", "2026-01-01"), ev("off", "2026-01-01", false)], "")).toEqual(["a", "b"]);
    expect(verdictColumns([ev("a", "2026-01-01")], "user_feedback")).toEqual(["a", "user_feedback"]);
    expect(verdictColumns([ev("a", "2026-01-01")], "a")).toEqual(["a"]);
    const many = ["1", "2", "3", "4", "5"].map((n) => ev(n, `2026-01-0${n}`));
    expect(verdictColumns(many, "")).toEqual(["1", "2", "3", "4"]);
  });
});
