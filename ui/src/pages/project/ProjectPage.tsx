export function ProjectPage({ project }: { project: string }) {
  return <p>{project}</p>;
}
