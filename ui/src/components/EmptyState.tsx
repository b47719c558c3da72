import { api, type Page, type Project } from "../lib/api";
import { formatCount } from "../lib/format";
import { Link, routePath } from "../lib/router";
import { useFetch } from "../lib/useFetch";

/** What to do when there is nothing to show yet: send a first session. In a
 *  project that holds traces without a session id, lead to them first. */
export function EmptyState({ title, project }: { title: string; project?: string }) {
  const origin = window.location.origin;
  return (
    <div className="empty">
      <h2>{title}</h2>
      {project !== undefined && <SessionlessTraces project={project} />}
      <p>Send a first session to this server. In Python:</p>
      <pre className="snippet">{`pip install openinference-instrumentation-session
from openinference.instrumentation.session import register, using_session
tracer = register(endpoint="${origin}/v1/traces", project_name="my-app").get_tracer("app")
with using_session("conv-1"), tracer.start_as_current_span("turn"): ...`}</pre>
      <p>In Node:</p>
      <pre className="snippet">{`npm install openinference-session @opentelemetry/sdk-trace-base @opentelemetry/exporter-trace-otlp-proto
import { SessionSpanProcessor, withSession } from "openinference-session";
provider.addSpanProcessor(new SessionSpanProcessor());   // exporter: ${origin}/v1/traces
await withSession("conv-1", () => handleTurn());`}</pre>
      <p>
        Any OpenTelemetry exporter works: OTLP/HTTP at <code>{origin}/v1/traces</code>, OTLP/gRPC on port 4317, with
        the session id in <code>session.id</code> (or <code>gen_ai.conversation.id</code>).
      </p>
    </div>
  );
}

function SessionlessTraces({ project }: { project: string }) {
  const { data } = useFetch("projects", (signal) => api<Page<Project>>("/v1/projects", { signal }));
  const count = data?.data.find((p) => p.name === project)?.traces_without_session ?? 0;
  if (count === 0) return null;
  return (
    <p data-testid="sessionless-note">
      This project holds{" "}
      <Link to={`${routePath({ page: "traces", project })}?has_session=false`}>
        {formatCount(count)} {count === 1 ? "trace" : "traces"} without a session id
      </Link>
      : they were sent outside any session. Give the next ones a session id as below.
    </p>
  );
}
