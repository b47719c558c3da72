import { Link, routePath } from "../lib/router";

/** The project's pages, as tabs under its title. */
export function ProjectNav({ project, current }: { project: string; current: "sessions" | "evaluators" | "project" }) {
  const tabs: { id: typeof current; label: string; to: string }[] = [
    { id: "sessions", label: "Sessions", to: routePath({ page: "sessions", project }) },
    { id: "evaluators", label: "Evaluators", to: routePath({ page: "evaluators", project }) },
    { id: "project", label: "Settings & stats", to: routePath({ page: "project", project }) },
  ];
  return (
    <nav className="project-nav" aria-label="project">
      {tabs.map((t) => (
        <Link key={t.id} to={t.to} aria-current={t.id === current ? "page" : undefined}>
          {t.label}
        </Link>
      ))}
    </nav>
  );
}
