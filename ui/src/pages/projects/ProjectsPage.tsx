import { api, type Page, type Project } from "../../lib/api";
import { formatCount, formatTime } from "../../lib/format";
import { Link, routePath } from "../../lib/router";
import { useFetch } from "../../lib/useFetch";
import { EmptyState } from "../../components/EmptyState";
import { ErrorNote } from "../../components/Status";

export function ProjectsPage() {
  const { data, error, loading } = useFetch("projects", (signal) => api<Page<Project>>("/v1/projects", { signal }));
  if (error) return <ErrorNote error={error} />;
  if (loading && !data) return <p className="muted">Loading projects…</p>;
  const projects = data?.data ?? [];
  if (projects.length === 0) return <EmptyState title="No projects yet" />;
  return (
    <section>
      <h1>Projects</h1>
      <table className="table" data-testid="projects">
        <thead>
          <tr>
            <th>Project</th>
            <th className="num">Sessions</th>
            <th className="num">Traces</th>
            <th className="num">Without session</th>
            <th>Last activity</th>
          </tr>
        </thead>
        <tbody>
          {projects.map((p) => (
            <tr key={p.name}>
              <td>
                <Link to={routePath({ page: "sessions", project: p.name })}>{p.name}</Link>{" "}
                <Link className="small muted-link" to={routePath({ page: "project", project: p.name })}>
                  settings &amp; stats
                </Link>{" "}
                <Link className="small muted-link" to={routePath({ page: "evaluators", project: p.name })}>
                  evaluators
                </Link>
              </td>
              <td className="num">{formatCount(p.session_count)}</td>
              <td className="num">{formatCount(p.trace_count)}</td>
              <td className="num">
                {p.traces_without_session > 0 ? (
                  <Link
                    to={`${routePath({ page: "traces", project: p.name })}?has_session=false`}
                    data-testid="traces-without-session"
                  >
                    {formatCount(p.traces_without_session)}
                  </Link>
                ) : (
                  "0"
                )}
              </td>
              <td>{formatTime(p.last_activity)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
