// The installed packages: CommonJS and ES module entries share one copy, the
// types are shipped, and the addon comes from this platform's package
// (napi's layout; these tests run on glibc Linux).
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

test("the main package carries the loader and the types, the platform package the addon", () => {
  const root = path.dirname(require.resolve("openinference-session/package.json"));
  const pkg = require("openinference-session/package.json");
  assert.deepEqual(fs.readdirSync(path.join(root, "native")).sort(), ["index.d.ts", "index.js"]);
  for (const f of ["types/index.d.ts", "types/api.d.ts", "native/index.d.ts"]) {
    assert.ok(fs.existsSync(path.join(root, f)), f);
  }
  assert.equal(pkg.exports["."].types, "./types/index.d.ts");
  assert.ok(!fs.existsSync(path.join(root, "src")), "no Rust sources shipped");
  assert.equal(pkg.scripts, undefined, "no build scripts: nothing runs at install");

  // napi's layout: one package per platform, an optional dependency at the same version
  const platform = `openinference-session-${process.platform}-${process.arch}-gnu`;
  assert.equal(pkg.optionalDependencies[platform], pkg.version);
  const addonPkg = require(`${platform}/package.json`);
  assert.equal(addonPkg.version, pkg.version);
  assert.deepEqual([addonPkg.os, addonPkg.cpu, addonPkg.libc], [[process.platform], [process.arch], ["glibc"]]);
  // the loader found the addon there, the only copy installed
  const addon = require.resolve(platform);
  assert.ok(addon.endsWith(".node"), addon);
  require("openinference-session");
  assert.ok(Object.keys(require.cache).includes(addon), "the addon is loaded from the platform package");
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
