// Concurrent async flows with different sessions never see each other's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { context } from "@opentelemetry/api";
import { getSession, setContextAttributes, withAttributes, withSession } from "openinference-session";
import { tick, traced } from "./helpers.mjs";

const FLOWS = 1000;

test(`${FLOWS} concurrent flows each stamp only their own session`, async () => {
  const t = traced();
  await Promise.all(
    Array.from({ length: FLOWS }, (_, i) =>
      withSession(`conv-${i}`, async () => {
        for (let turn = 0; turn < 3; turn++) {
          await tick();
          assert.equal(getSession(context.active())?.sessionId, `conv-${i}`);
          await t.tracer.startActiveSpan(`flow-${i}-turn-${turn}`, async (span) => {
            await tick();
            t.span(`flow-${i}-turn-${turn}-child`);
            span.end();
          });
        }
      }),
    ),
  );
  const spans = t.spans();
  assert.equal(spans.length, FLOWS * 3 * 2);
  for (const span of spans) {
    const flow = span.name.split("-")[1];
    assert.equal(span.attributes["session.id"], `conv-${flow}`, span.name);
  }
});

test(`${FLOWS} concurrent flows with nested scopes keep their own user, tags and metadata`, async () => {
  const t = traced();
  await Promise.all(
    Array.from({ length: FLOWS }, (_, i) =>
      withAttributes({ sessionId: `s-${i}`, tags: [`flow-${i}`] }, async () => {
        await tick();
        await withAttributes({ userId: `u-${i}`, metadata: { flow: i } }, async () => {
          await tick();
          t.span(`nested-${i}`);
        });
        await tick();
        t.span(`outer-${i}`);
      }),
    ),
  );
  for (let i = 0; i < FLOWS; i++) {
    const nested = t.attrs(`nested-${i}`);
    assert.equal(nested["session.id"], `s-${i}`);
    assert.equal(nested["user.id"], `u-${i}`);
    assert.deepEqual(nested["tag.tags"], [`flow-${i}`]);
    assert.equal(nested.metadata, JSON.stringify({ flow: i }));
    const outer = t.attrs(`outer-${i}`);
    assert.equal(outer["user.id"], undefined, "leaving the inner scope restores the outer one");
    assert.equal(outer.metadata, undefined);
  }
});

test("a context made for one flow stays bound to it when handed to another", async () => {
  const ctx = setContextAttributes(context.active(), { sessionId: "handed" });
  await withSession("other", async () => {
    await tick();
    assert.equal(getSession(ctx)?.sessionId, "handed");
    assert.equal(getSession(context.active())?.sessionId, "other");
  });
});

test(`${FLOWS} concurrent flows with openinference-core's setSession are stamped by our processor`, async () => {
  const { setSession: theirSetSession } = await import("@arizeai/openinference-core");
  const t = traced();
  await Promise.all(
    Array.from({ length: FLOWS }, (_, i) =>
      context.with(theirSetSession(context.active(), { sessionId: `theirs-${i}` }), async () => {
        await tick();
        t.span(`theirs-${i}`);
        await withAttributes({ userId: `u-${i}` }, async () => {
          await tick();
          t.span(`mixed-${i}`);
        });
      }),
    ),
  );
  for (let i = 0; i < FLOWS; i++) {
    assert.equal(t.attrs(`theirs-${i}`)["session.id"], `theirs-${i}`);
    assert.equal(t.attrs(`mixed-${i}`)["session.id"], `theirs-${i}`);
    assert.equal(t.attrs(`mixed-${i}`)["user.id"], `u-${i}`);
  }
});
