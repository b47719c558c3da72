import { ApiError, type SessionStatus, type Status } from "../lib/api";

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

/** A session's lifecycle: active until no trace arrived for the idle period. */
export function SessionStatusBadge({ status }: { status: SessionStatus }) {
  return (
    <span
      className={`status session-${status}`}
      data-testid="session-status"
      title={status === "active" ? "traces arrived within the idle period" : "no trace for the idle period: judged by the evaluators"}
    >
      {status}
    </span>
  );
}
