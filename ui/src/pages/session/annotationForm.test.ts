import type { Annotation } from "../../lib/api";
import { annotationBody, editorFields, noteBody, splitNotes } from "./annotationForm";

describe("the annotation editor", () => {
  const categorical = editorFields({
    name: "resolution",
    type: "categorical",
    values: [
      { label: "solved", score: 1 },
      { label: "unsolved", score: 0 },
      { label: "unclear", score: null },
    ],
  });
  const continuous = editorFields({ name: "quality", type: "continuous", lower_bound: 1, upper_bound: 5 });
  const freeform = editorFields({ name: "summary", type: "freeform", description: "in a sentence" });

  it("offers a config's labels, bounds or text", () => {
    expect(categorical).toMatchObject({ kind: "categorical", labels: [{ label: "solved" }, { label: "unsolved" }, { label: "unclear" }] });
    expect(continuous).toEqual({ kind: "continuous", min: 1, max: 5, description: null });
    expect(freeform).toEqual({ kind: "freeform", description: "in a sentence" });
    expect(editorFields(undefined)).toEqual({ kind: "free" });
  });

  it("writes what fits the config and names the field that does not", () => {
    expect(annotationBody(categorical, { name: "resolution", label: "solved" })).toEqual({ body: { name: "resolution", label: "solved", score: 1 } });
    expect(annotationBody(categorical, { name: "resolution", label: "unclear", explanation: " why " })).toEqual({
      body: { name: "resolution", label: "unclear", explanation: "why" },
    });
    expect(annotationBody(categorical, { name: "resolution", label: "maybe" })).toMatchObject({ field: "label" });
    expect(annotationBody(continuous, { name: "quality", score: "4.5" })).toEqual({ body: { name: "quality", score: 4.5 } });
    expect(annotationBody(continuous, { name: "quality", score: "9" })).toEqual({ field: "score", message: "at most 5" });
    expect(annotationBody(continuous, { name: "quality", score: "0" })).toEqual({ field: "score", message: "at least 1" });
    expect(annotationBody(continuous, { name: "quality", score: "" })).toMatchObject({ field: "score" });
    expect(annotationBody(freeform, { name: "summary", explanation: "fixed it" })).toEqual({ body: { name: "summary", explanation: "fixed it" } });
    expect(annotationBody(freeform, { name: "summary", explanation: " " })).toMatchObject({ field: "explanation" });
    const free = editorFields(undefined);
    expect(annotationBody(free, { name: "x", label: "a", score: "2" })).toEqual({ body: { name: "x", label: "a", score: 2 } });
    expect(annotationBody(free, { name: "x", score: "two" })).toMatchObject({ field: "score" });
    expect(annotationBody(free, { name: "x" })).toMatchObject({ field: "label" });
    expect(annotationBody(free, { name: " " })).toMatchObject({ field: "name" });
    expect(annotationBody(free, { name: "note", explanation: "hi" })).toMatchObject({ field: "name" });
  });

  it("appends notes under fresh identifiers and keeps them apart from verdicts", () => {
    const a = noteBody(" first ", 1000, 0.25);
    const b = noteBody("first", 1000, 0.5);
    expect(a).toMatchObject({ name: "note", explanation: "first" });
    expect(a?.identifier).not.toBe(b?.identifier);
    expect(noteBody("  ")).toBeNull();
    const ann = (name: string, id: number) => ({ name, id }) as Annotation;
    expect(splitNotes([ann("note", 1), ann("resolution", 2), ann("note", 3)])).toEqual({
      verdicts: [ann("resolution", 2)],
      notes: [ann("note", 1), ann("note", 3)],
    });
  });
});
