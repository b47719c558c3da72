import { ApiError, type Status } from "../lib/api";

export function StatusBadge({ status }: { status: Status }) {
  return <span className={`status status-${status}`}>{status === "error" ? "error" : status === "ok" ? "ok" : "–"}</span>;
}

export function ErrorNote({ error }: { error: Error }) {
  return (
    <div className="error-note" role="alert">
      {error instanceof ApiError && error.status === 401
        ? "This server needs an API key: set it with the API key button at the top right."
        : error.message}
    </div>
  );
}
