// Runs the tests the way a user meets the package: pack it in napi's
// per-platform layout (scripts/pack.mjs: the main package and this platform's
// addon package), install both tarballs into a scratch app in a temporary
// directory (with the OpenTelemetry packages and @arizeai/openinference-core
// from npm), then `node --test` there. Nothing is imported from the source tree.
//
//   npm test --workspace node            all tests
//   npm test --workspace node -- NAME    only test/NAME.test.mjs
//   OI_KEEP_APP=1 npm test ...           keep the scratch app and print its path
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { packAll } from "./pack.mjs";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));

/**
 * PATH without the directories that hold cargo or rustc (but Node's own): the
 * package must install and load on a machine without Rust.
 */
export function pathWithoutRust(path = process.env.PATH ?? "") {
  const hasRust = (dir) => ["cargo", "rustc"].some((tool) => existsSync(join(dir, tool)));
  return path
    .split(delimiter)
    .filter((dir) => dir && (dir === dirname(process.execPath) || !hasRust(dir)))
    .join(delimiter);
}

/** A scratch app with the tarballs and `extra` packages (name@version) installed, without Rust. */
export function scratchApp(prefix, extra) {
  const app = mkdtempSync(join(tmpdir(), prefix));
  const tarballs = packAll({ out: app });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "scratch-app", private: true, type: "module" }));
  const dev = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).devDependencies;
  const deps = extra.map((name) => `${name}@${dev[name]}`);
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs, ...deps], {
    cwd: app,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, PATH: pathWithoutRust() },
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = scratchApp("oi-session-test-", [
    "@opentelemetry/api",
    "@opentelemetry/context-async-hooks",
    "@opentelemetry/sdk-trace-base",
    "@arizeai/openinference-core",
  ]);
  const only = process.argv[2];
  const testDir = join(pkgDir, "test");
  cpSync(testDir, join(app, "test"), { recursive: true });
  const files = readdirSync(testDir)
    .filter((f) => f.endsWith(".test.mjs") || f.endsWith(".test.cjs"))
    .filter((f) => !only || f.startsWith(`${only}.test.`))
    .map((f) => join("test", f));
  // The type test compiles against the installed declarations with our own tsc.
  const tsc = createRequire(join(pkgDir, "package.json")).resolve("typescript/bin/tsc");
  // The clients' shared cases stay in the repository (tests/clients/), read by the Python tests too.
  const clientCases = fileURLToPath(new URL("../../tests/clients/cases.json", import.meta.url));
  const run = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], {
    cwd: app,
    stdio: "inherit",
    env: { ...process.env, PATH: pathWithoutRust(), OI_TSC: tsc, OI_CLIENT_CASES: clientCases },
  });
  if (process.env.OI_KEEP_APP) console.log(`scratch app kept at ${app}`);
  else rmSync(app, { recursive: true, force: true });
  process.exit(run.status ?? 1);
}
