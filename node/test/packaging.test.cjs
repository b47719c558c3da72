// The installed package: CommonJS and ES module entries share one copy, the
// addon built for this platform is inside, the types are shipped.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const fs = require("node:fs");
const path = require("node:path");

test("require and import give the same module instance", async () => {
  const cjs = require("openinference-session");
  const esm = await import("openinference-session");
  assert.equal(cjs.SessionSpanProcessor, esm.SessionSpanProcessor);
  assert.equal(cjs.withSession, esm.withSession);
  const names = Object.keys(cjs).filter((n) => n !== "__esModule").sort();
  assert.deepEqual(Object.keys(esm).filter((n) => n !== "default").sort(), names);
});

test("the tarball carries the addon, the loader and the type declarations", () => {
  const root = path.dirname(require.resolve("openinference-session/package.json"));
  const files = fs.readdirSync(path.join(root, "native"));
  assert.ok(files.some((f) => f.endsWith(".node")), files.join(", "));
  for (const f of ["types/index.d.ts", "types/api.d.ts", "native/index.d.ts"]) {
    assert.ok(fs.existsSync(path.join(root, f)), f);
  }
  const pkg = require("openinference-session/package.json");
  assert.equal(pkg.exports["."].types, "./types/index.d.ts");
  assert.ok(!fs.existsSync(path.join(root, "src")), "no Rust sources shipped");
});

test("withSession warns once when no context manager is registered", async () => {
  // This file registers none: OpenTelemetry's no-op manager is in place.
  const { diag, DiagLogLevel } = require("@opentelemetry/api");
  const warnings = [];
  diag.setLogger({ warn: (m) => warnings.push(m), error() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
  try {
    const { withSession } = require("openinference-session");
    assert.equal(withSession("s", () => 1), 1);
    withSession("s", () => 2);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /no OpenTelemetry context manager is registered/);
  } finally {
    diag.disable();
  }
});
