import type { AnnotationSummary } from "../lib/api";

/** One short chip per annotation name: mean score and/or the commonest label. */
export function summaryText(s: AnnotationSummary, withName = true): string {
  const labels = Object.entries(s.labels).sort((a, b) => b[1] - a[1]);
  const parts: string[] = [];
  if (s.mean_score !== null) parts.push(s.mean_score.toFixed(2));
  if (labels.length > 0) {
    const [label, n] = labels[0]!;
    parts.push(s.count > 1 ? `${label} ${n}/${s.count}` : label);
  }
  const text = parts.join(" · ") || String(s.count);
  return withName ? `${s.name}: ${text}` : text;
}

/** Said on a stale verdict: the session changed after it was judged. */
export const STALE_TITLE = "stale: the session had new turns after this verdict; it is judged again when it goes idle";

/** A verdict's chip; a stale one is marked (class `stale`, "stale" in its text). */
export function VerdictChip({ summary, withName = true }: { summary: AnnotationSummary; withName?: boolean }) {
  return (
    <span
      className={`chip annotation ${summary.stale ? "stale" : ""}`}
      data-testid="verdict-chip"
      data-stale={summary.stale ? "true" : "false"}
      title={summary.stale ? STALE_TITLE : JSON.stringify(summary.labels)}
    >
      {summaryText(summary, withName)}
      {summary.stale && <span className="stale-mark"> (stale)</span>}
    </span>
  );
}

export function AnnotationSummaries({ summaries }: { summaries: AnnotationSummary[] | undefined }) {
  if (!summaries || summaries.length === 0) return null;
  return (
    <span className="annotation-summaries">
      {summaries.map((s) => (
        <VerdictChip key={s.name} summary={s} />
      ))}
    </span>
  );
}
