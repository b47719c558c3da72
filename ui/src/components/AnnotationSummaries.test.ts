import { summaryText } from "./AnnotationSummaries";

describe("annotation summaries", () => {
  it("shows the mean score and the commonest label", () => {
    expect(summaryText({ name: "goal", count: 3, mean_score: 2 / 3, labels: { met: 2, missed: 1 }, stale: false })).toBe(
      "goal: 0.67 · met 2/3",
    );
    expect(summaryText({ name: "user_feedback", count: 1, mean_score: null, labels: { thumbs_up: 1 }, stale: false })).toBe(
      "user_feedback: thumbs_up",
    );
    expect(summaryText({ name: "note", count: 2, mean_score: null, labels: {}, stale: false })).toBe("note: 2");
  });
});
