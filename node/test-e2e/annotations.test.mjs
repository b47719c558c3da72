// Session annotations through SessionsClient against the real server.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SessionsApiError, SessionsClient } from "openinference-session";
import { sendSessions, startServer } from "./helpers.mjs";

let server;
let client;
const P = "annotated";

before(async () => {
  server = await startServer();
  client = new SessionsClient({ baseUrl: server.base });
  await sendSessions(server.base, P, [
    { sessionId: "s1", turns: [{ input: "hello", output: "hi" }] },
    { sessionId: "s2", turns: [{ input: "help", output: "sure" }] },
    { sessionId: "s3", turns: [{ input: "bye", output: "bye" }] },
  ]);
});

after(() => server?.stop());

test("annotateSession stores one annotation (API field names) and a rewrite of the same name and identifier replaces it", async () => {
  const first = await client.annotateSession(P, "s1", "user_feedback", { label: "thumbs_down", score: 0, userId: "u1" });
  assert.equal(first.session_id, "s1");
  assert.equal(first.name, "user_feedback");
  assert.equal(first.annotator_kind, "HUMAN");
  assert.equal(first.label, "thumbs_down");
  assert.equal(first.score, 0);
  assert.equal(first.explanation, null);
  assert.equal(first.identifier, "");
  assert.equal(first.user_id, "u1");
  assert.deepEqual(first.metadata, {});

  const again = await client.annotateSession(P, "s1", "user_feedback", { label: "thumbs_up", score: 1 });
  assert.equal(again.id, first.id);
  assert.equal(again.label, "thumbs_up");

  // another identifier: another annotation of the same name
  const note = await client.annotateSession(P, "s1", "note", {
    explanation: "polite",
    identifier: "reviewer-a",
    annotatorKind: "CODE",
    metadata: { source: "test" },
  });
  const note2 = await client.annotateSession(P, "s1", "note", { explanation: "short", identifier: "reviewer-b" });
  assert.notEqual(note.id, note2.id);
  assert.equal(note.annotator_kind, "CODE");
  assert.deepEqual(note.metadata, { source: "test" });

  const stored = await client.getSessionAnnotations(P, "s1");
  assert.deepEqual(
    stored.map((a) => [a.name, a.identifier, a.label ?? a.explanation]),
    [
      ["user_feedback", "", "thumbs_up"],
      ["note", "reviewer-a", "polite"],
      ["note", "reviewer-b", "short"],
    ],
  );
  const summaries = (await client.getSession(P, "s1")).annotations;
  const feedback = summaries.find((s) => s.name === "user_feedback");
  assert.equal(feedback.count, 1);
  assert.equal(feedback.mean_score, 1);
  assert.deepEqual(feedback.labels, { thumbs_up: 1 });
  assert.equal(summaries.find((s) => s.name === "note"), undefined, "notes are remarks, not summarized as verdicts");

  await client.deleteSessionAnnotation(P, "s1", note2.id);
  assert.deepEqual((await client.getSessionAnnotations(P, "s1")).map((a) => a.id), [first.id, note.id]);
  await assert.rejects(client.deleteSessionAnnotation(P, "s1", note2.id), { name: "SessionsApiError", status: 404 });
});

test("annotating an unknown session: 404", async () => {
  const error = await client.annotateSession(P, "nope", "x", { label: "y" }).catch((e) => e);
  assert.ok(error instanceof SessionsApiError);
  assert.equal(error.status, 404);
  await assert.rejects(client.getSessionAnnotations(P, "nope"), { status: 404 });
});

test("logSessionAnnotations: many sessions in one request, stored in order", async () => {
  const stored = await client.logSessionAnnotations(P, [
    { sessionId: "s2", name: "quality", label: "good", score: 0.9, annotatorKind: "LLM" },
    { sessionId: "s3", name: "quality", label: "bad", score: 0.1, annotatorKind: "LLM", explanation: "rude" },
  ]);
  assert.deepEqual(stored.map((a) => [a.session_id, a.label, a.annotator_kind]), [
    ["s2", "good", "LLM"],
    ["s3", "bad", "LLM"],
  ]);
  assert.equal((await client.getSessionAnnotations(P, "s3"))[0].explanation, "rude");
  assert.deepEqual(await client.logSessionAnnotations(P, []), []);
});

test("logSessionAnnotations is all or nothing: an unknown session fails the request with a 404 and stores nothing", async () => {
  const before = await client.getSessionAnnotations(P, "s2");
  const error = await client
    .logSessionAnnotations(P, [
      { sessionId: "s2", name: "quality", label: "changed", score: 0.5 },
      { sessionId: "s2", name: "brand_new", label: "x" },
      { sessionId: "missing", name: "quality", label: "x" },
    ])
    .catch((e) => e);
  assert.ok(error instanceof SessionsApiError);
  assert.equal(error.status, 404);
  assert.deepEqual(await client.getSessionAnnotations(P, "s2"), before);
});

test("logSessionAnnotations: the server's 400 names data[i].field", async () => {
  const error = await client
    .logSessionAnnotations(P, [
      { sessionId: "s2", name: "ok", label: "fine" },
      { sessionId: "s3", name: "ok", label: "x".repeat(2000) },
    ])
    .catch((e) => e);
  assert.ok(error instanceof SessionsApiError, String(error));
  assert.equal(error.status, 400);
  assert.match(`${error.parameter ?? ""} ${error.message}`, /data\[1\]\.label/);
  assert.equal((await client.getSessionAnnotations(P, "s2")).filter((a) => a.name === "ok").length, 0);
});

test("logSessionAnnotations sends 1,000 per request", async () => {
  const many = Array.from({ length: 1001 }, (_, i) => ({ sessionId: "s3", name: "bulk", identifier: `i${i}`, score: i }));
  const stored = await client.logSessionAnnotations(P, many);
  assert.equal(stored.length, 1001);
  assert.equal(stored[1000].identifier, "i1000");
  assert.equal((await client.getSessionAnnotations(P, "s3")).filter((a) => a.name === "bulk").length, 1001);
});

test("bad annotations: TypeError naming the argument, before any request", async () => {
  const reject = (promise, message) => assert.rejects(promise, { name: "TypeError", message });
  await reject(client.annotateSession(P, "s1", "x", {}), "an annotation needs a label, a score or an explanation");
  await reject(client.annotateSession(P, "s1", " ", { label: "y" }), 'name must be a non-empty string, got " "');
  await reject(client.annotateSession(P, "s1", "x", { label: "y", annotatorKind: "ROBOT" }), 'annotatorKind must be HUMAN, LLM or CODE, got "ROBOT"');
  await reject(client.annotateSession(P, "s1", "x", { score: NaN }), "score must be a finite number, got NaN");
  await reject(client.annotateSession(P, "s1", "x", { label: 1 }), "label must be a string, not a number");
  await reject(client.annotateSession(P, "s1", "x", { label: "y", metadata: [] }), "metadata must be an object, not an array");
  await reject(client.annotateSession(P, "s1", "x", { label: "y", annotator_kind: "LLM" }), /unknown option "annotator_kind"/);
  await reject(client.logSessionAnnotations(P, "s1"), /^annotations must be an array/);
  await reject(
    client.logSessionAnnotations(P, [{ sessionId: "s1", name: "x", label: "y" }, { name: "x", label: "y" }]),
    "annotations[1].sessionId must be a non-empty string, got undefined",
  );
  await reject(client.logSessionAnnotations(P, [{ sessionId: "s1", name: "x" }]), "annotations[0] needs a label, a score or an explanation");
  await reject(client.logSessionAnnotations(P, [{ sessionId: "s1", name: "x", score: Infinity }]), "annotations[0].score must be a finite number, got Infinity");
  await reject(client.logSessionAnnotations(P, [null]), "annotations[0] must be an object, not null");
  // nothing of the bad batch was stored
  assert.equal((await client.getSessionAnnotations(P, "s1")).filter((a) => a.name === "x").length, 0);
});
