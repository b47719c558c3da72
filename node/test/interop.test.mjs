// Interop both ways with the real @arizeai/openinference-core from npm.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOT_CONTEXT, context, diag, DiagLogLevel } from "@opentelemetry/api";
import * as oi from "@arizeai/openinference-core";
import * as s from "openinference-session";
import { traced } from "./helpers.mjs";

test("a session set with openinference-core is stamped by our processor", () => {
  const t = traced();
  const ctx = oi.setTags(
    oi.setMetadata(oi.setUser(oi.setSession(ROOT_CONTEXT, { sessionId: "theirs" }), { userId: "u" }), { k: "v" }),
    ["x", "y"],
  );
  context.with(ctx, () => t.span("theirs"));
  assert.deepEqual(t.attrs("theirs"), {
    "session.id": "theirs",
    "user.id": "u",
    metadata: '{"k":"v"}',
    "tag.tags": ["x", "y"],
  });
});

test("their JSON-string tags and prompt template read correctly through our getters", () => {
  let ctx = oi.setTags(ROOT_CONTEXT, ["a", "b"]);
  ctx = oi.setPromptTemplate(ctx, { template: "t {x}", variables: { x: 1 }, version: "v2" });
  ctx = oi.setAttributes(ctx, { "app.n": 2 });
  assert.deepEqual(s.getTags(ctx), ["a", "b"]);
  assert.deepEqual(s.getPromptTemplate(ctx), { template: "t {x}", variables: { x: 1 }, version: "v2" });
  assert.deepEqual(s.getAttributesFromContext(ctx), {
    "tag.tags": ["a", "b"],
    "llm.prompt_template.template": "t {x}",
    "llm.prompt_template.version": "v2",
    "llm.prompt_template.variables": '{"x":1}',
    "app.n": 2,
  });
});

test("what we set is seen by their getAttributesFromContext and getters", () => {
  const ctx = s.setContextAttributes(ROOT_CONTEXT, {
    sessionId: "ours",
    userId: "u",
    metadata: { a: 1 },
    tags: ["t"],
    promptTemplate: "p",
    promptTemplateVersion: "1",
    promptTemplateVariables: { v: true },
    attributes: { "app.k": "x" },
  });
  assert.deepEqual(oi.getAttributesFromContext(ctx), {
    "session.id": "ours",
    "user.id": "u",
    metadata: '{"a":1}',
    "tag.tags": '["t"]',
    "llm.prompt_template.template": "p",
    "llm.prompt_template.version": "1",
    "llm.prompt_template.variables": '{"v":true}',
    "app.k": "x",
  });
  assert.deepEqual(oi.getSession(ctx), { sessionId: "ours" });
  assert.deepEqual(oi.getTags(ctx), ["t"]);
  assert.deepEqual(oi.getMetadata(ctx), { a: 1 });
});

test("their setter inside our scope is the inner scope; ours inside theirs inherits", () => {
  const t = traced();
  const ours = s.setContextAttributes(ROOT_CONTEXT, { sessionId: "outer", tags: ["a"], attributes: { keep: 1 } });
  const theirs = oi.setUser(oi.setSession(ours, { sessionId: "inner" }), { userId: "u" });
  context.with(theirs, () => t.span("mixed"));
  assert.deepEqual(t.attrs("mixed"), { "session.id": "inner", "user.id": "u", "tag.tags": ["a"], keep: 1 });
  const back = s.setTags(theirs, ["b"]);
  assert.deepEqual(s.getAttributesFromContext(back)["tag.tags"], ["a", "b"]);
  assert.equal(s.getSession(back)?.sessionId, "inner");
  assert.deepEqual(oi.getAttributesFromContext(back)["tag.tags"], '["a","b"]');
  assert.equal(oi.getSession(oi.clearSession(ours)), undefined, "their clearSession clears ours");
  assert.equal(s.getSession(oi.clearSession(ours)), undefined);
});

test("their OITracer with our processor: the session is stamped and tags end as an array", () => {
  // OITracer writes the context attributes right after a span starts, tags as
  // JSON text; the processor turns that text back into the array before the
  // span ends.
  const t = traced();
  const tracer = new oi.OITracer({ tracer: t.tracer });
  context.with(s.setContextAttributes(ROOT_CONTEXT, { sessionId: "s", tags: ["x", "y"] }), () => {
    tracer.startSpan("oi-span").end();
  });
  context.with(oi.setTags(oi.setSession(ROOT_CONTEXT, { sessionId: "theirs" }), ["t"]), () => {
    tracer.startSpan("all-theirs").end();
  });
  assert.equal(t.attrs("oi-span")["session.id"], "s");
  assert.deepEqual(t.attrs("oi-span")["tag.tags"], ["x", "y"]);
  assert.deepEqual(t.attrs("all-theirs")["tag.tags"], ["t"]);
});

test("a tag.tags string that is not a JSON list of strings is left alone", () => {
  const t = traced();
  for (const [name, value] of [["plain", "billing"], ["numbers", "[1,2]"], ["object", '{"a":1}']]) {
    const span = t.tracer.startSpan(name);
    span.setAttribute("tag.tags", value);
    span.end();
    assert.equal(t.attrs(name)["tag.tags"], value);
  }
});

test("foreign values of the wrong shape are ignored with a warning, never thrown", () => {
  const warnings = [];
  diag.setLogger({ warn: (m) => warnings.push(m), error() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
  try {
    const t = traced();
    let ctx = ROOT_CONTEXT.setValue(Symbol.for("OpenInference SDK Context Key session.id"), "  ");
    ctx = ctx.setValue(Symbol.for("OpenInference SDK Context Key tag.tags"), "not json");
    ctx = ctx.setValue(Symbol.for("OpenInference SDK Context Key user.id"), 42);
    ctx = ctx.setValue(Symbol.for("OpenInference SDK Context Key metadata"), '{"ok":1}');
    context.with(ctx, () => t.span("lenient"));
    assert.deepEqual(t.attrs("lenient"), { metadata: '{"ok":1}' });
    assert.ok(warnings.some((w) => w.includes("sessionId")), warnings.join("\n"));
    assert.ok(warnings.some((w) => w.includes("tag.tags")), warnings.join("\n"));
    assert.ok(warnings.some((w) => w.includes("user.id")), warnings.join("\n"));
  } finally {
    diag.disable();
  }
});
