// SessionsClient against the real server, filled through the real instrumentation.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { SessionsApiError, SessionsClient } from "openinference-session";
import { sendSessions, startServer } from "./helpers.mjs";

let server;
let client;

const SHOP = [
  {
    sessionId: "conv-a",
    userId: "u1",
    tags: ["billing"],
    metadata: { plan: "pro" },
    turns: [
      { input: "my invoice is wrong", output: "I fixed it" },
      { input: "resend it please", output: "sent" },
      { input: "thanks", output: "you're welcome" },
    ],
  },
  {
    sessionId: "conv-b",
    userId: "u2",
    tags: ["support"],
    metadata: { plan: "free" },
    turns: [
      { input: "the app crashes", output: "try restarting it" },
      { input: "it still crashes", error: "upstream timeout" },
    ],
  },
  {
    sessionId: "conv-c",
    userId: "u1",
    tags: ["billing"],
    metadata: { plan: "free" },
    turns: [{ input: "a refund please", output: "refund issued" }],
  },
];

before(async () => {
  server = await startServer();
  client = new SessionsClient({ baseUrl: server.base });
  await sendSessions(server.base, "shop", SHOP);
  const paging = Array.from({ length: 5 }, (_, i) => ({ sessionId: `page-${i}`, turns: [{ input: `q${i}`, output: `a${i}` }] }));
  await sendSessions(server.base, "paging", paging);
});

after(() => server?.stop());

const ids = (sessions) => sessions.map((s) => s.session_id);

async function all(iterator) {
  const out = [];
  for await (const item of iterator) out.push(item);
  return out;
}

describe("reading", () => {
  test("listProjects: every project with its counts", async () => {
    const projects = await client.listProjects();
    const shop = projects.find((p) => p.name === "shop");
    assert.equal(shop.session_count, 3);
    assert.equal(shop.trace_count, 6);
    assert.ok(projects.some((p) => p.name === "paging" && p.session_count === 5));
  });

  test("listSessions: one page, newest first, and the cursor to the next", async () => {
    const first = await client.listSessions("shop", { limit: 2 });
    assert.deepEqual(ids(first.data), ["conv-c", "conv-b"]);
    assert.equal(typeof first.next_cursor, "string");
    const second = await client.listSessions("shop", { limit: 2, cursor: first.next_cursor });
    assert.deepEqual(ids(second.data), ["conv-a"]);
    assert.equal(second.next_cursor, null);
    const summary = second.data[0];
    assert.equal(summary.num_traces, 3);
    assert.deepEqual(summary.user_ids, ["u1"]);
    assert.deepEqual(summary.tags, ["billing"]);
    assert.deepEqual(summary.metadata, { plan: "pro" });
    assert.equal(summary.first_input.value, "my invoice is wrong");
    assert.equal(summary.last_output.value, "you're welcome");
  });

  test("iterSessions follows next_cursor through every page", async () => {
    const sessions = await all(client.iterSessions("paging", { pageSize: 2, order: "asc" }));
    assert.deepEqual(ids(sessions), ["page-0", "page-1", "page-2", "page-3", "page-4"]);
    assert.equal((await all(client.iterSessions("paging"))).length, 5);
  });

  test("filters: user, tag, errors, trace count, text, metadata, time, sort", async () => {
    const list = async (filters) => ids((await client.listSessions("shop", filters)).data).sort();
    assert.deepEqual(await list({ userId: "u1" }), ["conv-a", "conv-c"]);
    assert.deepEqual(await list({ tag: "support" }), ["conv-b"]);
    assert.deepEqual(await list({ hasError: true }), ["conv-b"]);
    assert.deepEqual(await list({ hasError: false }), ["conv-a", "conv-c"]);
    assert.deepEqual(await list({ minTraces: 2 }), ["conv-a", "conv-b"]);
    assert.deepEqual(await list({ q: "REFUND" }), ["conv-c"]);
    assert.deepEqual(await list({ metadata: { plan: "free" } }), ["conv-b", "conv-c"]);
    assert.deepEqual(await list({ metadata: { plan: "free" }, userId: "u1" }), ["conv-c"]);
    assert.deepEqual(await list({ startTime: new Date(Date.now() + 3_600_000) }), []);
    assert.deepEqual(await list({ endTime: "2000-01-01T00:00:00Z" }), []);
    assert.equal((await list({ startTime: "2000-01-01T00:00:00Z" })).length, 3);
    const byTraces = await client.listSessions("shop", { sort: "num_traces", order: "asc" });
    assert.deepEqual(ids(byTraces.data), ["conv-c", "conv-b", "conv-a"]);
    assert.deepEqual(ids(await all(client.iterSessions("shop", { tag: "billing", pageSize: 1 }))).sort(), ["conv-a", "conv-c"]);
  });

  test("getSession and getTurns (every page, in time order)", async () => {
    const session = await client.getSession("shop", "conv-b");
    assert.equal(session.session_id, "conv-b");
    assert.equal(session.num_traces_with_error, 1);
    const turns = await client.getTurns("shop", "conv-a", { pageSize: 1 });
    assert.deepEqual(
      turns.map((t) => [t.input.value, t.output.value]),
      SHOP[0].turns.map((t) => [t.input, t.output]),
    );
    const failed = await client.getTurns("shop", "conv-b");
    assert.deepEqual(failed.map((t) => t.status), ["ok", "error"]);
    assert.equal(failed[1].output, null);
  });

  test("listTraces and getTrace", async () => {
    const traces = await client.listTraces("shop", { sessionId: "conv-a", pageSize: 2 });
    assert.equal(traces.length, 3);
    assert.ok(traces.every((t) => t.session_id === "conv-a"));
    assert.equal((await client.listTraces("shop")).length, 6);
    const trace = await client.getTrace("shop", traces[0].trace_id);
    assert.equal(trace.trace_id, traces[0].trace_id);
    assert.deepEqual(trace.spans.map((s) => s.name).sort(), ["llm", "turn"]);
    assert.equal(trace.spans.find((s) => s.name === "turn").attributes["session.id"], "conv-a");
  });
});

describe("deleting", () => {
  test("deleteSession removes the session and its traces", async () => {
    await sendSessions(server.base, "scratch", [{ sessionId: "doomed", turns: [{ input: "x", output: "y" }] }]);
    assert.equal((await client.getSession("scratch", "doomed")).num_traces, 1);
    await client.deleteSession("scratch", "doomed");
    await assert.rejects(client.getSession("scratch", "doomed"), { name: "SessionsApiError", status: 404 });
    assert.deepEqual(await client.listTraces("scratch", { sessionId: "doomed" }), []);
    await assert.rejects(client.deleteSession("scratch", "doomed"), { status: 404 });
  });
});

describe("errors", () => {
  test("400: SessionsApiError with the parameter at fault", async () => {
    const error = await client.listSessions("shop", { sort: "bogus" }).catch((e) => e);
    assert.ok(error instanceof SessionsApiError);
    assert.ok(error instanceof Error);
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_parameter");
    assert.equal(error.parameter, "sort");
    assert.match(error.message, /sort/);
    assert.match(String(error), /^SessionsApiError: 400 invalid_parameter: .* \(parameter sort\)$/);
    await assert.rejects(client.listSessions("shop", { limit: 5000 }), { status: 400, parameter: "limit" });
  });

  test("404: an unknown session", async () => {
    const error = await client.getSession("shop", "no-such-session").catch((e) => e);
    assert.ok(error instanceof SessionsApiError);
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
    await assert.rejects(client.getTurns("shop", "no-such-session"), { status: 404 });
  });

  test("unreachable: status 0", async () => {
    const closed = createServer();
    await new Promise((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address();
    await new Promise((resolve) => closed.close(resolve));
    const offline = new SessionsClient({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await offline.listProjects().catch((e) => e);
    assert.ok(error instanceof SessionsApiError);
    assert.equal(error.status, 0);
    assert.equal(error.code, "unreachable");
    assert.match(error.message, new RegExp(`^http://127.0.0.1:${port}: `));
  });

  test("a server that does not answer in time: status 0, code timeout", async () => {
    const silent = createServer(() => {}); // never answers
    await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const slow = new SessionsClient({ baseUrl: `http://127.0.0.1:${silent.address().port}`, timeoutMs: 200 });
      await assert.rejects(slow.listProjects(), { name: "SessionsTimeoutError", status: 0, code: "timeout" });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test("bad arguments: TypeError naming the argument", async () => {
    await assert.rejects(client.listSessions(42), { name: "TypeError", message: "project must be a string, not a number" });
    await assert.rejects(client.getSession("shop", ""), { name: "TypeError", message: "sessionId must be a non-empty string" });
    await assert.rejects(client.deleteSession("shop", ".."), { name: "TypeError", message: /sessionId "\.\." cannot be sent/ });
    await assert.rejects(client.getTrace("shop", undefined), { name: "TypeError", message: /^traceId must be a string/ });
    await assert.rejects(client.listSessions("shop", { user_id: "u1" }), { name: "TypeError", message: /unknown option "user_id"/ });
    await assert.rejects(client.listSessions("shop", { minTraces: -1 }), { name: "TypeError", message: /^options\.minTraces must be an integer/ });
    await assert.rejects(client.listSessions("shop", { hasError: "yes" }), { name: "TypeError", message: /^options\.hasError must be a boolean/ });
    await assert.rejects(client.listSessions("shop", { startTime: new Date("nope") }), { name: "TypeError", message: /^options\.startTime is an invalid Date/ });
    await assert.rejects(client.listSessions("shop", { metadata: [["plan", "pro"]] }), { name: "TypeError", message: /^options\.metadata must be an object/ });
    await assert.rejects(client.listSessions("shop", { metadata: { plan: { a: 1 } } }), { name: "TypeError", message: /^options\.metadata\["plan"\]/ });
    await assert.rejects(client.listSessions("shop", { limit: 0 }), { name: "TypeError", message: /^options\.limit must be an integer of at least 1/ });
    await assert.rejects(client.listTraces("shop", { sessionId: 7 }), { name: "TypeError", message: /^options\.sessionId must be a string/ });
    await assert.rejects(client.deleteSessionAnnotation("shop", "conv-a", 1.5), { name: "TypeError", message: /^annotationId must be an integer/ });
    // iterSessions checks when called, not at the first next()
    assert.throws(() => client.iterSessions("shop", { pageSize: "10" }), { name: "TypeError", message: /^options\.pageSize/ });
    assert.throws(() => client.iterSessions(null), { name: "TypeError", message: "project must be a string, not null" });
    assert.throws(() => new SessionsClient({ baseUrl: "ftp://example.com" }), { name: "TypeError", message: /^baseUrl must be an http\(s\) URL/ });
    assert.throws(() => new SessionsClient({ timeoutMs: 0 }), { name: "TypeError", message: /^timeoutMs must be a positive number/ });
    assert.throws(() => new SessionsClient({ base_url: "http://x" }), { name: "TypeError", message: /unknown option "base_url"/ });
  });
});

describe("configuration", () => {
  test("defaults from $OI_SESSIONS_URL and $OI_SESSIONS_API_KEY (a bearer token); a trailing slash is dropped", async () => {
    const seen = [];
    const fake = createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization, accept: req.headers.accept });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: [], next_cursor: null }));
    });
    await new Promise((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const saved = { url: process.env.OI_SESSIONS_URL, key: process.env.OI_SESSIONS_API_KEY };
    try {
      process.env.OI_SESSIONS_URL = `http://127.0.0.1:${fake.address().port}/`;
      process.env.OI_SESSIONS_API_KEY = "secret-1";
      const fromEnv = new SessionsClient();
      assert.equal(fromEnv.baseUrl, `http://127.0.0.1:${fake.address().port}`);
      await fromEnv.listSessions("my project", { metadata: { "a b": "c&d" }, hasError: true });
      await new SessionsClient({ apiKey: "secret-2" }).listProjects();
      delete process.env.OI_SESSIONS_URL;
      delete process.env.OI_SESSIONS_API_KEY;
      assert.equal(new SessionsClient().baseUrl, "http://127.0.0.1:6006");
    } finally {
      for (const [name, value] of [["OI_SESSIONS_URL", saved.url], ["OI_SESSIONS_API_KEY", saved.key]]) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      fake.closeAllConnections();
      await new Promise((resolve) => fake.close(resolve));
    }
    assert.deepEqual(seen, [
      { url: "/v1/projects/my%20project/sessions?has_error=true&metadata.a+b=c%26d", authorization: "Bearer secret-1", accept: "application/json" },
      { url: "/v1/projects", authorization: "Bearer secret-2", accept: "application/json" },
    ]);
  });
});
