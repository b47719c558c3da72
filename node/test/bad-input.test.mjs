// Bad arguments throw a TypeError naming the argument, at the call.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import * as s from "openinference-session";

function check(call, message) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
    assert.match(error.message, message);
    return true;
  });
}

const badSessionIds = [
  [undefined, /^sessionId must be a string, not undefined$/],
  [null, /^sessionId must be a string, not null$/],
  [42, /^sessionId must be a string, not a number$/],
  [["a"], /^sessionId must be a string, not an array$/],
  ["", /^sessionId must be a non-empty string, got ""$/],
  ["  \t", /^sessionId must be a non-empty string/],
  ["x".repeat(10 * 1024 * 1024), /^sessionId is 10485760 bytes, over the limit of 4096 bytes$/],
  ["é".repeat(2049), /^sessionId is 4098 bytes/],
];

for (const [value, message] of badSessionIds) {
  test(`bad session id ${JSON.stringify(value)?.slice(0, 20)} is refused by every entry point`, () => {
    check(() => s.setSession(ROOT_CONTEXT, { sessionId: value }), message);
    check(() => s.withSession(value, () => {}), message);
    check(() => s.setContextAttributes(ROOT_CONTEXT, { sessionId: value ?? 0 }), typeof value === "string" ? message : /^sessionId must be a string/);
  });
}

test("bad users, tags, templates", () => {
  check(() => s.setUser(ROOT_CONTEXT, { userId: 7 }), /^userId must be a string, not a number$/);
  check(() => s.setUser(ROOT_CONTEXT, "u"), /^user must be an object, not a string$/);
  check(() => s.withUser(" ", () => {}), /^userId must be a non-empty string/);
  check(() => s.setTags(ROOT_CONTEXT, "billing"), /^tags must be an array of strings, not a string$/);
  check(() => s.setTags(ROOT_CONTEXT, ["ok", 3]), /^tags\[1\] must be a string, not a number$/);
  check(() => s.setTags(ROOT_CONTEXT, ["ok", ""]), /^tags must be a non-empty string/);
  check(() => s.setPromptTemplate(ROOT_CONTEXT, { template: 1 }), /^template must be a string/);
  check(() => s.setPromptTemplate(ROOT_CONTEXT, { template: "t", version: "" }), /^promptTemplateVersion must be a non-empty/);
  check(() => s.setPromptTemplate(ROOT_CONTEXT, { template: "t", variables: [] }), /^promptTemplateVariables must be an object, not an array$/);
});

const badMetadata = [
  [null, /^metadata must be an object, not null$/],
  [[1, 2], /^metadata must be an object, not an array$/],
  ['{"a":1}', /^metadata must be an object, not a string$/],
  [new Map(), /^metadata must be an object, not a Map$/],
  [{ a: () => 1 }, /^metadata\["a"\] is not JSON-serializable: a function$/],
  [{ a: new Date(0) }, /^metadata\["a"\] is not JSON-serializable: a Date$/],
  [{ a: 1n }, /^metadata\["a"\] is not JSON-serializable: a bigint$/],
  [{ a: [1, NaN] }, /^metadata\["a"\]\[1\] is NaN, which JSON cannot represent$/],
  [{ a: Infinity }, /^metadata\["a"\] is Infinity/],
  [{ blob: "x".repeat(1024 * 1024) }, /^metadata is \d+ bytes, over the limit of 262144 bytes$/],
];

for (const [value, message] of badMetadata) {
  test(`bad metadata ${message.source.slice(1, 40)}`, () => {
    check(() => s.setMetadata(ROOT_CONTEXT, value), message);
    check(() => s.withMetadata(value, () => {}), message);
  });
}

test("cyclic and deeply nested metadata is refused, not a crash", () => {
  const cyclic = { a: {} };
  cyclic.a.self = cyclic;
  check(() => s.setMetadata(ROOT_CONTEXT, cyclic), /nested deeper than 64 levels/);
  let deep = {};
  const top = deep;
  for (let i = 0; i < 10_000; i++) deep = deep.x = {};
  check(() => s.setMetadata(ROOT_CONTEXT, top), /nested deeper than 64 levels/);
});

test("bad free-form attributes", () => {
  check(() => s.setAttributes(ROOT_CONTEXT, { "session.id": "x" }), /^attributes must not set "session.id": it has its own argument$/);
  check(() => s.setAttributes(ROOT_CONTEXT, { "": 1 }), /^attributes must not have an empty key$/);
  check(() => s.setAttributes(ROOT_CONTEXT, { k: [1, "x"] }), /^attributes\["k"\] mixes value types/);
  check(() => s.setAttributes(ROOT_CONTEXT, { k: { nested: 1 } }), /^attributes\["k"\] must be a string, number, boolean or an array/);
  check(() => s.setAttributes(ROOT_CONTEXT, { k: null }), /^attributes\["k"\] must be/);
  check(() => s.setAttributes(ROOT_CONTEXT, { k: NaN }), /^attributes\["k"\] is NaN/);
  check(() => s.setAttributes(ROOT_CONTEXT, [1]), /^attributes must be an object, not an array$/);
});

test("bad contexts, aliases and switches", () => {
  check(() => s.setSession(undefined, { sessionId: "s" }), /^context must be an OpenTelemetry Context, not undefined$/);
  check(() => s.getSession({}), /^context must be an OpenTelemetry Context/);
  check(() => new s.SessionSpanProcessor({ aliases: ["nope"] }), /^unknown alias "nope"; known aliases are gen_ai, langsmith, traceloop$/);
  check(() => new s.SessionSpanProcessor({ aliases: "gen_ai" }), /^aliases must be an array of strings/);
  check(() => s.getAttributesFromContext(ROOT_CONTEXT, { aliases: [1] }), /^aliases\[0\] must be a string/);
  check(() => s.setBaggagePropagation("yes"), /^enabled must be a boolean, not a string$/);
});

test("a refused call leaves nothing behind", () => {
  assert.throws(() => s.withSession("", () => assert.fail("must not run")), TypeError);
  assert.equal(s.getSession(ROOT_CONTEXT), undefined);
});

test("the shortcut that spares the core a call agrees with the core on every id", async () => {
  // The wrapper accepts the usual id without calling into Rust; whatever it
  // accepts, the core must accept too (and whatever it sends on, the core decides).
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("openinference-session/package.json"));
  const native = require(join(root, "native", "index.js"));
  const alphabet = ["a", "Z", "0", "~", "!", " ", "\t", "\n", "\u000b", "\u00a0", "\u0085", "\u1680", "\u180e",
    "\u2000", "\u200b", "\u2028", "\u202f", "\u3000", "\ufeff", "é", "😀", "\u0000", "\u007f"];
  const accepts = (call) => {
    try {
      call();
      return true;
    } catch {
      return false;
    }
  };
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const ids = [];
  for (let i = 0; i < 5000; i++) {
    const length = random(6);
    ids.push(Array.from({ length }, () => alphabet[random(alphabet.length)]).join(""));
  }
  for (const [char, count] of [["x", 4096], ["x", 4097], ["é", 2048], ["é", 2049], ["😀", 1024], ["😀", 1025], ["é", 1365], ["x", 1365]]) {
    ids.push(char.repeat(count), `a${char.repeat(count - 1)}`);
  }
  for (const id of ids) {
    assert.equal(
      accepts(() => s.setSession(ROOT_CONTEXT, { sessionId: id })),
      accepts(() => native.checkSessionId(id)),
      JSON.stringify(id.slice(0, 20)),
    );
    assert.equal(
      accepts(() => s.setTags(ROOT_CONTEXT, [id])),
      accepts(() => native.checkScope(JSON.stringify({ tags: [id] }))),
    );
  }
});
