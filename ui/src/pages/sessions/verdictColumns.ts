// Which verdicts the sessions table shows as columns of their own.
import type { Evaluator } from "../../lib/api";

/** At most this many evaluators get a column (the Annotations column shows every verdict). */
export const MAX_VERDICT_COLUMNS = 4;

/**
 * The enabled evaluators' names (as they were created, oldest first), then the
 * annotation the list is filtered or sorted by when it is not one of them.
 */
export function verdictColumns(evaluators: Pick<Evaluator, "name" | "enabled" | "created_at">[], annotation: string): string[] {
  const names = [...evaluators]
    .filter((e) => e.enabled !== false && e.name)
    .sort((a, b) => a.created_at.localeCompare(b.created_at))
    .map((e) => e.name as string)
    .slice(0, MAX_VERDICT_COLUMNS);
  if (annotation && !names.includes(annotation)) names.push(annotation);
  return names;
}
