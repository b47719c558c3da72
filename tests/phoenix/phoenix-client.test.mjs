// Phoenix's TypeScript client (@arizeai/phoenix-client, pinned in
// package.json), unchanged, against oi-sessions on SQLite and on PostgreSQL:
// its session, annotation, note, span and trace functions, and the projects
// through its typed fetch client; what they did is read back through our own
// API (which the UI reads).
//
//   npm ci --prefix tests/phoenix && OI_SESSIONS_BIN=... node --test tests/phoenix/
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createClient } from "@arizeai/phoenix-client";
import {
  addSessionAnnotation,
  addSessionNote,
  deleteSession,
  deleteSessions,
  getSession,
  getSessionTurns,
  listSessions,
  logSessionAnnotations,
} from "@arizeai/phoenix-client/sessions";
import { getSpans } from "@arizeai/phoenix-client/spans";
import { getTraces } from "@arizeai/phoenix-client/traces";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";

import { postgresSchema, startServer } from "../support/oi-server.mjs";

// [project, session id, turns ([question, answer | null for a failed turn])]:
// "shared" is in both projects.
const SESSIONS = [
  ["support-bot", "conv-1", [["My invoice is wrong", "Let me check"], ["Thanks", "You're welcome"]]],
  ["support-bot", "conv-2", [["Where is my parcel?", null]]],
  ["support-bot", "shared", [["hi from support", "hello"]]],
  ["billing", "shared", [["hi from billing", "hello"]]],
];

// Explicit times, strictly increasing, so turns sort as sent.
let clock = Date.now();
const tick = () => (clock += 5);

/** Sends SESSIONS over OTLP: per turn a CHAIN root and an LLM child. */
async function sendSessions(base) {
  for (const project of new Set(SESSIONS.map(([p]) => p))) {
    const exporter = new OTLPTraceExporter({ url: `${base}/v1/traces` });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "openinference.project.name": project }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("phoenix-clients");
    for (const [p, sessionId, turns] of SESSIONS) {
      if (p !== project) continue;
      for (const [question, answer] of turns) {
        const root = tracer.startSpan("turn", {
          startTime: tick(),
          attributes: { "session.id": sessionId, "openinference.span.kind": "CHAIN", "input.value": question },
        });
        const ctx = trace.setSpan(context.active(), root);
        const llm = tracer.startSpan(
          "llm",
          {
            startTime: tick(),
            attributes: {
              "session.id": sessionId,
              "openinference.span.kind": "LLM",
              "llm.token_count.prompt": 10,
              "llm.token_count.completion": 5,
            },
          },
          ctx,
        );
        llm.end(tick());
        if (answer === null) root.setStatus({ code: SpanStatusCode.ERROR, message: "timed out" });
        else root.setAttribute("output.value", answer);
        root.end(tick());
      }
    }
    await provider.forceFlush();
    await provider.shutdown();
  }
}

/**
 * Asserts that a call fails with this status (the client throws its
 * `HttpError`, holding the response) and returns Phoenix's `detail`.
 */
async function failsWith(call, status) {
  let error;
  await call.catch((e) => {
    error = e;
  });
  assert.ok(error, `expected a ${status}`);
  assert.equal(error.status, status, String(error));
  return (await error.response.json()).detail;
}

/** GET from our own API. */
async function ours(server, path) {
  const r = await fetch(server.base + path);
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return r.json();
}

for (const backend of ["sqlite", "postgres"]) {
  describe(`@arizeai/phoenix-client against oi-sessions on ${backend}`, () => {
    let server;
    let schema;
    let client;
    before(async () => {
      schema = backend === "postgres" ? postgresSchema() : undefined;
      server = await startServer({ databaseUrl: schema?.url });
      await sendSessions(server.base);
      client = createClient({ options: { baseUrl: server.base } });
    });
    after(async () => {
      await server?.stop();
      schema?.drop();
    });

    test("the version gate passes", async () => {
      assert.deepEqual(await client.getServerVersion(), [20, 8, 0]);
    });

    test("getSession, listSessions and getSessionTurns", async () => {
      const session = await getSession({ client, sessionId: "conv-1" });
      assert.equal(session.sessionId, "conv-1");
      assert.equal(session.traces.length, 2);
      assert.deepEqual(await getSession({ client, sessionId: session.id }), session);
      const listed = await listSessions({ client, projectId: session.projectId });
      assert.deepEqual(listed.map((s) => s.sessionId).sort(), ["conv-1", "conv-2", "shared"]);
      const turns = await getSessionTurns({ client, sessionId: session.id });
      assert.deepEqual(
        turns.map((t) => [t.input?.value, t.output?.value]),
        [
          ["My invoice is wrong", "Let me check"],
          ["Thanks", "You're welcome"],
        ],
      );
      assert.equal(turns[0].rootSpan.span_kind, "CHAIN");
      // a session id in two projects: 409 naming both
      assert.match(await failsWith(getSession({ client, sessionId: "shared" }), 409), /billing, support-bot/);
    });

    test("annotations and notes show on our session", async () => {
      const one = await addSessionAnnotation({
        client,
        sync: true,
        sessionAnnotation: {
          sessionId: "conv-1",
          name: "goal_completion",
          label: "met",
          score: 1,
          annotatorKind: "LLM",
          metadata: { judge: "gpt-4o" },
        },
      });
      assert.ok(one?.id);
      const logged = await logSessionAnnotations({
        client,
        sync: true,
        sessionAnnotations: [
          { sessionId: "conv-1", name: "tone", score: 0.5, annotatorKind: "CODE" },
          { sessionId: "conv-2", name: "tone", score: 0, annotatorKind: "CODE", identifier: "v2" },
        ],
      });
      assert.equal(logged.length, 2);
      const note = await addSessionNote({ client, sessionNote: { sessionId: "conv-1", note: "escalated to billing" } });
      assert.ok(note.id);
      await addSessionNote({ client, sessionNote: { sessionId: "conv-1", note: "resolved" } });

      const session = await ours(server, "/v1/projects/support-bot/sessions/conv-1");
      assert.deepEqual(session.annotations.map((a) => a.name), ["goal_completion", "tone"], "notes left out");
      const all = (await ours(server, "/v1/projects/support-bot/sessions/conv-1/annotations")).data;
      assert.deepEqual(
        all.filter((a) => a.name === "note").map((a) => a.explanation),
        ["escalated to billing", "resolved"],
      );
      const goal = all.find((a) => a.name === "goal_completion");
      assert.deepEqual([goal.label, goal.score, goal.annotator_kind, goal.source], ["met", 1, "LLM", "API"]);

      const reserved = addSessionAnnotation({ client, sessionAnnotation: { sessionId: "conv-1", name: "note", label: "x" } });
      assert.match(await failsWith(reserved, 400), /session_notes/);
      assert.match(await failsWith(addSessionNote({ client, sessionNote: { sessionId: "nope", note: "x" } }), 404), /nope/);
    });

    test("getSpans and getTraces", async () => {
      const session = await getSession({ client, sessionId: "conv-1" });
      const traceIds = session.traces.map((t) => t.traceId);
      const roots = await getSpans({ client, project: { projectId: session.projectId }, traceIds, parentId: null });
      assert.deepEqual(roots.spans.map((s) => s.attributes["input.value"]).sort(), ["My invoice is wrong", "Thanks"]);
      const errored = await getSpans({ client, project: { projectName: "support-bot" }, statusCode: "ERROR" });
      assert.deepEqual(
        errored.spans.map((s) => s.name),
        ["turn"],
      );
      const byAttribute = await getSpans({
        client,
        project: { project: "support-bot" },
        attributes: { "session.id": "conv-2", "llm.token_count.prompt": 10 },
      });
      assert.equal(byAttribute.spans.length, 1);
      const page = await getSpans({ client, project: { project: "support-bot" }, limit: 3 });
      assert.equal(page.spans.length, 3);
      assert.ok(page.nextCursor);
      const next = await getSpans({ client, project: { project: "support-bot" }, limit: 3, cursor: page.nextCursor });
      assert.equal(new Set([...page.spans, ...next.spans].map((s) => s.id)).size, 6);

      const traces = await getTraces({
        client,
        project: { project: "support-bot" },
        sessionId: [session.id, "conv-2"],
        includeSpans: true,
      });
      assert.equal(traces.traces.length, 3);
      assert.ok(traces.traces.every((t) => t.spans.length === 2 && t.project_id === session.projectId));
    });

    test("projects through the typed client", async () => {
      const listed = await client.GET("/v1/projects", { params: { query: { limit: 1 } } });
      assert.equal(listed.data.data.length, 1);
      assert.ok(listed.data.next_cursor);
      const created = await client.POST("/v1/projects", { body: { name: "evals", description: "offline" } });
      assert.equal(created.data.data.name, "evals");
      const got = await client.GET("/v1/projects/{project_identifier}", {
        params: { path: { project_identifier: created.data.data.id } },
      });
      assert.equal(got.data.data.description, "offline");
      const removed = await client.DELETE("/v1/projects/{project_identifier}", {
        params: { path: { project_identifier: "evals" } },
      });
      assert.equal(removed.response.status, 204);
    });

    test("deleteSession and deleteSessions", async () => {
      const billing = await listSessions({ client, project: "billing" });
      await deleteSession({ client, sessionId: billing[0].id });
      // "shared" now names one session: the bulk delete takes it
      await deleteSessions({ client, sessionIds: ["conv-1", "shared", "never-was"] });
      await deleteSession({ client, sessionId: "conv-2" });
      assert.deepEqual(await listSessions({ client, project: "support-bot" }), []);
      await failsWith(deleteSession({ client, sessionId: "conv-2" }), 404);
    });
  });
}
