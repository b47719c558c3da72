import { formatBucket, formatShortTime, formatCost, formatCount, formatDuration, preview } from "./format";

describe("formatting", () => {
  it("formats durations, counts, money and previews", () => {
    expect(formatDuration(0.5)).toBe("0.50 ms");
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(1500)).toBe("1.50 s");
    expect(formatDuration(125_000)).toBe("2m 5s");
    expect(formatDuration(null)).toBe("–");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1234)).toBe("1.2k");
    expect(formatCount(2_500_000)).toBe("2.5M");
    expect(formatCost(0)).toBe("–");
    expect(formatCost(0.00123)).toBe("$0.0012");
    expect(formatCost(0.00001)).toBe("<$0.0001");
    expect(formatCost(1.5)).toBe("$1.50");
    expect(preview("a\n  b   c", 10)).toBe("a b c");
    expect(preview("x".repeat(20), 5)).toBe("xxxx…");
  });

  it("says a stats bucket in words and keeps table times short", () => {
    expect(formatBucket(3600e3)).toBe("1 hour");
    expect(formatBucket(6 * 3600e3)).toBe("6 hours");
    expect(formatBucket(86400e3)).toBe("1 day");
    expect(formatBucket(7 * 86400e3)).toBe("1 week");
    expect(formatBucket(90e3)).toBe("1m 30s");
    const now = new Date("2026-06-01T00:00:00Z");
    expect(formatShortTime("2026-03-04T05:06:07Z", now)).not.toMatch(/2026/);
    expect(formatShortTime("2025-03-04T05:06:07Z", now)).toMatch(/2025/);
    expect(formatShortTime(null)).toBe("–");
  });
});
