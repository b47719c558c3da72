import { cleanup, render } from "@testing-library/react";
import { STALE_TITLE, summaryText, VerdictChip } from "./AnnotationSummaries";
import { SessionStatusBadge } from "./Status";

afterEach(cleanup);

describe("verdict chips", () => {
  const verdict = { name: "helpfulness", count: 1, mean_score: 1, labels: { good: 1 }, stale: false };

  it("shows a verdict without its name in its own column", () => {
    expect(summaryText(verdict, false)).toBe("1.00 · good");
    const { getByTestId } = render(<VerdictChip summary={verdict} withName={false} />);
    expect(getByTestId("verdict-chip").textContent).toBe("1.00 · good");
    expect(getByTestId("verdict-chip").dataset.stale).toBe("false");
  });

  it("marks a stale verdict in its text, class and tooltip", () => {
    const { getByTestId } = render(<VerdictChip summary={{ ...verdict, stale: true }} />);
    const chip = getByTestId("verdict-chip");
    expect(chip.textContent).toBe("helpfulness: 1.00 · good (stale)");
    expect(chip.classList.contains("stale")).toBe(true);
    expect(chip.title).toBe(STALE_TITLE);
  });

  it("says a session's status as a word", () => {
    const { getByTestId } = render(<SessionStatusBadge status="idle" />);
    expect(getByTestId("session-status").textContent).toBe("idle");
    expect(getByTestId("session-status").className).toContain("session-idle");
  });
});
