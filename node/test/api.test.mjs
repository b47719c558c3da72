// The public API: setters, getters, clearers, inheritance, the callback forms.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOT_CONTEXT, context, trace } from "@opentelemetry/api";
import * as s from "openinference-session";
import { tick, traced } from "./helpers.mjs";

test("setSession / getSession / clearSession", () => {
  const ctx = s.setSession(ROOT_CONTEXT, { sessionId: "conv-1" });
  assert.deepEqual(s.getSession(ctx), { sessionId: "conv-1" });
  assert.equal(s.getSession(ROOT_CONTEXT), undefined);
  const cleared = s.clearSession(s.setUser(ctx, { userId: "u-1" }));
  assert.equal(s.getSession(cleared), undefined);
  assert.deepEqual(s.getUser(cleared), { userId: "u-1" });
});

test("every trio reads back what it set", () => {
  let ctx = ROOT_CONTEXT;
  ctx = s.setUser(ctx, { userId: "u" });
  ctx = s.setMetadata(ctx, { plan: "pro", n: 1, nested: { ok: true } });
  ctx = s.setTags(ctx, ["a", "b"]);
  ctx = s.setPromptTemplate(ctx, { template: "hi {name}", variables: { name: "x" }, version: "v1" });
  ctx = s.setAttributes(ctx, { "app.turn": 3, "app.flags": [true, false] });
  assert.deepEqual(s.getUser(ctx), { userId: "u" });
  assert.deepEqual(s.getMetadata(ctx), { n: 1, nested: { ok: true }, plan: "pro" });
  assert.deepEqual(s.getTags(ctx), ["a", "b"]);
  assert.deepEqual(s.getPromptTemplate(ctx), { template: "hi {name}", variables: { name: "x" }, version: "v1" });
  assert.deepEqual(s.getAttributes(ctx), { "app.flags": [true, false], "app.turn": 3 });
  for (const [clear, get] of [
    [s.clearUser, s.getUser],
    [s.clearMetadata, s.getMetadata],
    [s.clearTags, s.getTags],
    [s.clearPromptTemplate, s.getPromptTemplate],
    [s.clearAttributes, s.getAttributes],
  ]) {
    const cleared = clear(ctx);
    assert.equal(get(cleared), undefined, clear.name);
    assert.notEqual(get(ctx), undefined, `${clear.name} left the original context alone`);
  }
});

test("nested scopes inherit: ids replaced, metadata merged, tags united, variables replaced", () => {
  let outer = s.setContextAttributes(ROOT_CONTEXT, {
    sessionId: "s-outer",
    userId: "u-outer",
    metadata: { a: 1, b: { x: 1 } },
    tags: ["t1", "t2"],
    promptTemplate: "outer",
    promptTemplateVariables: { p: 1, q: 2 },
    attributes: { keep: "yes", over: 1 },
  });
  const inner = s.setContextAttributes(outer, {
    sessionId: "s-inner",
    metadata: { b: { y: 2 }, c: 3 },
    tags: ["t2", "t3"],
    promptTemplateVariables: { r: 3 },
    attributes: { over: 2 },
  });
  assert.deepEqual(s.getAttributesFromContext(inner), {
    "session.id": "s-inner",
    "user.id": "u-outer",
    metadata: '{"a":1,"b":{"y":2},"c":3}',
    "tag.tags": ["t1", "t2", "t3"],
    "llm.prompt_template.template": "outer",
    "llm.prompt_template.variables": '{"r":3}',
    keep: "yes",
    over: 2,
  });
  assert.deepEqual(s.getSession(outer), { sessionId: "s-outer" }, "the outer context is unchanged");
});

test("getAttributesFromContext returns a fresh object every call and reads the active context", () => {
  const ctx = s.setContextAttributes(ROOT_CONTEXT, { sessionId: "s", tags: ["a"] });
  const first = s.getAttributesFromContext(ctx);
  first["tag.tags"].push("mutated");
  first.extra = 1;
  assert.deepEqual(s.getContextAttributes(ctx), { "session.id": "s", "tag.tags": ["a"] });
  assert.deepEqual(s.getAttributesFromContext(), {});
  context.with(ctx, () => assert.equal(s.getAttributesFromContext()["session.id"], "s"));
});

test("withSession holds across await and ends with the callback", async () => {
  const t = traced();
  const result = await s.withSession("conv-await", async () => {
    await tick();
    t.span("after-await");
    await Promise.all([tick().then(() => t.span("in-all"))]);
    return 42;
  });
  assert.equal(result, 42);
  t.span("outside");
  assert.equal(t.attrs("after-await")["session.id"], "conv-await");
  assert.equal(t.attrs("in-all")["session.id"], "conv-await");
  assert.equal(t.attrs("outside")["session.id"], undefined);
});

test("withX forms pass thisArg and arguments through like context.with", () => {
  const self = { k: "v" };
  const got = s.withSession("s", function (a, b) { return [this.k, a, b, s.getSession(context.active())]; }, self, 1, 2);
  assert.deepEqual(got, ["v", 1, 2, { sessionId: "s" }]);
  assert.deepEqual(s.withUser("u", () => s.getUser(context.active())), { userId: "u" });
  assert.deepEqual(s.withTags(["x"], () => s.getTags(context.active())), ["x"]);
  assert.deepEqual(s.withMetadata({ m: 1 }, () => s.getMetadata(context.active())), { m: 1 });
  assert.deepEqual(
    s.withPromptTemplate({ template: "t" }, () => s.getPromptTemplate(context.active())),
    { template: "t" },
  );
  assert.deepEqual(
    s.withAttributes({ sessionId: "s2", userId: "u2" }, () => s.getAttributesFromContext()),
    { "session.id": "s2", "user.id": "u2" },
  );
});

test("scopes survive setting the active span and other keys on the context", () => {
  const t = traced();
  const ctx = s.setSession(ROOT_CONTEXT, { sessionId: "kept" });
  const parent = t.tracer.startSpan("parent", {}, ctx);
  const withSpan = trace.setSpan(ctx, parent);
  const key = Symbol("other");
  const withOther = withSpan.setValue(key, 1);
  assert.equal(withOther.getValue(key), 1);
  assert.equal(trace.getSpan(withOther), parent);
  assert.deepEqual(s.getSession(withOther), { sessionId: "kept" });
  assert.equal(withOther.deleteValue(key).getValue(key), undefined);
  t.tracer.startSpan("child", {}, withOther).end();
  parent.end();
  assert.equal(t.attrs("child")["session.id"], "kept");
  assert.equal(t.attrs("parent")["session.id"], "kept");
});

test("aliases write the keys of other conventions", () => {
  const ctx = s.setContextAttributes(ROOT_CONTEXT, { sessionId: "s", userId: "u" });
  assert.deepEqual(s.getAttributesFromContext(ctx, { aliases: ["gen_ai", "langsmith", "traceloop"] }), {
    "session.id": "s",
    "user.id": "u",
    "gen_ai.conversation.id": "s",
    "langsmith.metadata.thread_id": "s",
    "langsmith.metadata.user_id": "u",
    "traceloop.association.properties.session_id": "s",
    "traceloop.association.properties.user_id": "u",
  });
  const t = traced({ aliases: ["gen_ai"] });
  context.with(ctx, () => t.span("aliased"));
  assert.equal(t.attrs("aliased")["gen_ai.conversation.id"], "s");
  assert.equal(t.attrs("aliased")["langsmith.metadata.thread_id"], undefined);
});

test("ids are kept exactly as given, MAX_ID_BYTES included", () => {
  const ctx = s.setSession(ROOT_CONTEXT, { sessionId: "  spaced  " });
  assert.deepEqual(s.getSession(ctx), { sessionId: "  spaced  " });
  const long = "x".repeat(s.MAX_ID_BYTES);
  assert.equal(s.getSession(s.setSession(ROOT_CONTEXT, { sessionId: long })).sessionId, long);
});

test("CONTEXT_KEYS are OpenInference's registered symbols", () => {
  assert.equal(s.CONTEXT_KEYS[0], Symbol.for("OpenInference SDK Context Key session.id"));
  assert.equal(s.CONTEXT_KEYS.length, 8);
});
