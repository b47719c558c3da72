export function EvaluatorsPage({ project }: { project: string }) {
  return <p>{project}</p>;
}
