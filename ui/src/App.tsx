import { useEffect, useState } from "react";
import { apiKey, setApiKey, type Health } from "./lib/api";
import { Link, matchRoute, useLocation } from "./lib/router";
import { ProjectsPage } from "./pages/projects/ProjectsPage";
import { SessionsPage } from "./pages/sessions/SessionsPage";
import { SessionPage } from "./pages/session/SessionPage";
import { TracePage } from "./pages/trace/TracePage";
import { TracesPage } from "./pages/traces/TracesPage";
import { EvaluatorsPage } from "./pages/evaluators/EvaluatorsPage";
import { ProjectPage } from "./pages/project/ProjectPage";

export function App() {
  const { pathname } = useLocation();
  const route = matchRoute(pathname);
  let page;
  switch (route.page) {
    case "projects":
      page = <ProjectsPage />;
      break;
    case "project":
      page = <ProjectPage key={route.project} project={route.project} />;
      break;
    case "evaluators":
      page = <EvaluatorsPage key={route.project} project={route.project} />;
      break;
    case "sessions":
      page = <SessionsPage key={route.project} project={route.project} />;
      break;
    case "session":
      page = <SessionPage key={`${route.project}/${route.sessionId}`} project={route.project} sessionId={route.sessionId} />;
      break;
    case "traces":
      page = <TracesPage key={route.project} project={route.project} />;
      break;
    case "trace":
      page = <TracePage key={`${route.project}/${route.traceId}`} project={route.project} traceId={route.traceId} />;
      break;
    default:
      page = <p>Nothing here: {route.path}</p>;
  }
  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand">
          oi-sessions
        </Link>
        <ServerVersion />
        <ApiKeyButton />
      </header>
      <main>{page}</main>
    </>
  );
}

/** The server's version and commit, from `/healthz` (which answers 503 with
 * the same body when the store is failing: the version is shown then too). */
function ServerVersion() {
  const [version, setVersion] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    fetch("/healthz", { headers: { accept: "application/json" } })
      .then((r) => r.json() as Promise<Health>)
      .then((health) => live && setVersion(health.version))
      .catch(() => undefined); // no version shown: the pages say what is wrong
    return () => {
      live = false;
    };
  }, []);
  return version === null ? null : (
    <span className="server-version" data-testid="server-version" title="oi-sessions version (commit, date)">
      {version}
    </span>
  );
}

/** For a server started with --api-key: the key is kept in this browser only. */
function ApiKeyButton() {
  const [has, setHas] = useState(apiKey() !== null);
  return (
    <button
      type="button"
      className="link-button"
      onClick={() => {
        const key = window.prompt("API key of this server (empty to forget it)", apiKey() ?? "");
        if (key === null) return;
        setApiKey(key.trim() || null);
        setHas(key.trim() !== "");
        window.location.reload();
      }}
    >
      {has ? "API key ✓" : "API key"}
    </button>
  );
}
