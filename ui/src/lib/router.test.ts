import { matchRoute, routePath, type Route } from "./router";

describe("routes", () => {
  it("matches every page and round-trips ids with any character", () => {
    const routes: Route[] = [
      { page: "projects" },
      { page: "sessions", project: "support bot" },
      { page: "project", project: "support bot" },
      { page: "evaluators", project: "a/b" },
      { page: "session", project: "p", sessionId: "conv/42?x=1#y é" },
      { page: "trace", project: "p", traceId: "0af7651916cd43dd8448eb211c80319c" },
    ];
    for (const route of routes) expect(matchRoute(routePath(route))).toEqual(route);
  });

  it("refuses what is not a route", () => {
    expect(matchRoute("/projects").page).toBe("not-found");
    expect(matchRoute("/projects/p/sessions/s/extra").page).toBe("not-found");
    expect(matchRoute("/projects/p/%E0%A4%A").page).toBe("not-found");
    expect(matchRoute("/elsewhere").page).toBe("not-found");
    expect(matchRoute("/projects/p/evaluators/x").page).toBe("not-found");
  });
});
