import type { AnnotationSummary } from "../lib/api";

/** One short chip per annotation name: mean score and/or the commonest label. */
export function summaryText(s: AnnotationSummary): string {
  const labels = Object.entries(s.labels).sort((a, b) => b[1] - a[1]);
  const parts: string[] = [];
  if (s.mean_score !== null) parts.push(s.mean_score.toFixed(2));
  if (labels.length > 0) {
    const [label, n] = labels[0]!;
    parts.push(s.count > 1 ? `${label} ${n}/${s.count}` : label);
  }
  return `${s.name}: ${parts.join(" · ") || s.count}`;
}

export function AnnotationSummaries({ summaries }: { summaries: AnnotationSummary[] | undefined }) {
  if (!summaries || summaries.length === 0) return null;
  return (
    <span className="annotation-summaries">
      {summaries.map((s) => (
        <span key={s.name} className="chip annotation" title={JSON.stringify(s.labels)}>
          {summaryText(s)}
        </span>
      ))}
    </span>
  );
}
