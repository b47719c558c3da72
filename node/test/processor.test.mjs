// SessionSpanProcessor with a real SDK provider and an in-memory exporter.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOT_CONTEXT, context, propagation, diag, DiagLogLevel } from "@opentelemetry/api";
import * as s from "openinference-session";
import { SessionSpanProcessor, setBaggagePropagation, setContextAttributes, setSession, withSession } from "openinference-session";
import { traced } from "./helpers.mjs";

test("stamps every span started in a session scope, whatever started it", () => {
  const t = traced();
  context.with(setContextAttributes(ROOT_CONTEXT, { sessionId: "s", userId: "u", metadata: { m: 1 }, tags: ["t"] }), () => {
    t.tracer.startActiveSpan("root", (root) => {
      t.span("child");
      root.end();
    });
  });
  for (const name of ["root", "child"]) {
    assert.deepEqual(t.attrs(name), { "session.id": "s", "user.id": "u", metadata: '{"m":1}', "tag.tags": ["t"] });
  }
});

test("a span outside any session gets nothing", () => {
  const t = traced();
  t.span("bare", { own: 1 });
  assert.deepEqual(t.attrs("bare"), { own: 1 });
});

test("the context wins over attributes a library sets at span start; later writes still win", () => {
  const t = traced();
  withSession("app-session", () => {
    const span = t.tracer.startSpan("lib", { attributes: { "session.id": "library-guess", other: "kept" } });
    assert.equal(span.attributes["session.id"], "app-session");
    span.setAttribute("user.id", "set-later");
    span.end();
  });
  assert.deepEqual(t.attrs("lib"), { "session.id": "app-session", other: "kept", "user.id": "set-later" });
});

test("spans never share the cached tag array", () => {
  const t = traced();
  withSession("s", () => context.with(setContextAttributes(context.active(), { tags: ["a"] }), () => {
    t.span("one");
    t.span("two");
  }));
  const [one, two] = t.spans();
  assert.deepEqual(one.attributes["tag.tags"], ["a"]);
  try {
    one.attributes["tag.tags"].push("x");
  } catch {
    // a frozen array is fine too
  }
  assert.deepEqual(two.attributes["tag.tags"], ["a"]);
  assert.deepEqual(s.getTags(setContextAttributes(ROOT_CONTEXT, { tags: ["a"] })), ["a"]);
});

test("never throws into the application: a failing span is logged and skipped", () => {
  const warnings = [];
  diag.setLogger({ warn: (...m) => warnings.push(m.join(" ")), error() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
  try {
    const processor = new SessionSpanProcessor();
    const broken = { setAttribute() { throw new Error("broken span"); } };
    assert.doesNotThrow(() => processor.onStart(broken, setSession(ROOT_CONTEXT, { sessionId: "s" })));
    assert.doesNotThrow(() => processor.onStart(broken, { getValue() { throw new Error("broken context"); } }));
    assert.doesNotThrow(() => processor.onStart({}, setSession(ROOT_CONTEXT, { sessionId: "s" })));
    assert.equal(warnings.length, 3);
  } finally {
    diag.disable();
  }
});

test("processor lifecycle methods resolve", async () => {
  const processor = new SessionSpanProcessor();
  processor.onEnd({});
  processor.onEnding({});
  processor.onEnding({ attributes: { "tag.tags": "[" }, setAttribute() { throw new Error("never called"); } });
  await processor.forceFlush();
  await processor.shutdown();
});

test("baggage propagation: off by default, opt-in writes and reads session.id and user.id", () => {
  const t = traced();
  const scoped = setContextAttributes(ROOT_CONTEXT, { sessionId: "s", userId: "u" });
  assert.equal(propagation.getBaggage(scoped), undefined, "off by default");
  const inbound = propagation.setBaggage(
    ROOT_CONTEXT,
    propagation.createBaggage({ "session.id": { value: "from-upstream" }, "user.id": { value: " " } }),
  );
  context.with(inbound, () => t.span("baggage-off"));
  assert.deepEqual(t.attrs("baggage-off"), {}, "inbound baggage is not read unless opted in");
  setBaggagePropagation(true);
  try {
    const bag = propagation.getBaggage(setContextAttributes(ROOT_CONTEXT, { sessionId: "s", userId: "u" }));
    assert.equal(bag.getEntry("session.id").value, "s");
    assert.equal(bag.getEntry("user.id").value, "u");
    context.with(inbound, () => t.span("baggage-on"));
    assert.deepEqual(t.attrs("baggage-on"), { "session.id": "from-upstream" }, "an invalid entry is ignored");
    context.with(setSession(inbound, { sessionId: "local" }), () => t.span("context-first"));
    assert.equal(t.attrs("context-first")["session.id"], "local");
  } finally {
    setBaggagePropagation(false);
  }
});
