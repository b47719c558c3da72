// A small client-side router: seven routes, deep links that survive a reload,
// and the page state kept in the query string so a view can be shared.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from "react";

export type Route =
  | { page: "projects" }
  | { page: "project"; project: string }
  | { page: "sessions"; project: string }
  | { page: "evaluators"; project: string }
  | { page: "session"; project: string; sessionId: string }
  | { page: "traces"; project: string }
  | { page: "trace"; project: string; traceId: string }
  | { page: "not-found"; path: string };

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Matches a path to a route. Segments are URL-decoded; ids may contain any character. */
export function matchRoute(pathname: string): Route {
  const parts = pathname.split("/").filter((p) => p !== "");
  if (parts.length === 0) return { page: "projects" };
  const decoded = parts.map(decode);
  if (decoded.some((p) => p === null)) return { page: "not-found", path: pathname };
  const [first, project, kind, id, ...rest] = decoded as string[];
  if (first !== "projects" || project === undefined || rest.length > 0) return { page: "not-found", path: pathname };
  if (kind === undefined) return { page: "project", project };
  if (kind === "evaluators" && id === undefined) return { page: "evaluators", project };
  if (kind === "sessions" && id === undefined) return { page: "sessions", project };
  if (kind === "sessions" && id !== undefined) return { page: "session", project, sessionId: id };
  if (kind === "traces" && id === undefined) return { page: "traces", project };
  if (kind === "traces" && id !== undefined) return { page: "trace", project, traceId: id };
  return { page: "not-found", path: pathname };
}

export function routePath(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case "projects":
      return "/";
    case "project":
      return `/projects/${e(route.project)}`;
    case "sessions":
      return `/projects/${e(route.project)}/sessions`;
    case "evaluators":
      return `/projects/${e(route.project)}/evaluators`;
    case "session":
      return `/projects/${e(route.project)}/sessions/${e(route.sessionId)}`;
    case "traces":
      return `/projects/${e(route.project)}/traces`;
    case "trace":
      return `/projects/${e(route.project)}/traces/${e(route.traceId)}`;
    case "not-found":
      return route.path;
  }
}

const NAVIGATE = "oi-sessions:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(NAVIGATE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(NAVIGATE, onChange);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { pathname: string; search: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(href, "http://local");
  return { pathname: url.pathname, search: url.searchParams };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new Event(NAVIGATE));
}

/** Replaces query parameters of the current URL (null removes one). */
export function setQuery(changes: Record<string, string | null>, options: { replace?: boolean } = { replace: true }): void {
  const url = new URL(window.location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === "") url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  navigate(url.pathname + url.search, options);
}

export function Link({
  to,
  children,
  ...rest
}: { to: string; children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href">) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
      return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
