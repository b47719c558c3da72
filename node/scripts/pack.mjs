// Packs the npm packages in napi's per-platform layout:
//
// - `openinference-session-<platform>` for each target of the `napi` config in
//   package.json whose addon is built: its package.json and README written by
//   `napi create-npm-dirs` into npm/ (generated, not committed), the addon
//   copied in (what `napi artifacts` does);
// - `openinference-session`, the main package: JavaScript, types and the napi
//   loader, no addon; the platform packages packed beside it are its
//   optionalDependencies at its own version (what `napi pre-publish` writes
//   before publishing), so npm installs the one that matches the machine.
//
//   node scripts/pack.mjs [--out DIR] [--artifacts DIR] [--all]
//
// --out        where the tarballs go (default: the current directory)
// --artifacts  where the built addons are, named `<binaryName>.<platform>.node`
//              as `napi build --platform` names them (a release: the build
//              matrix's outputs, gathered); default native/, this machine's
//              build, rebuilt first (cargo skips what is unchanged)
// --all        fail unless every target in the config has its addon (a release)
//
// Prints the tarballs' paths as JSON, the main package first. Adding a
// platform: its triple in `napi.targets` and a line in the build matrix.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const npmDir = join(pkgDir, "npm");

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
}

/** `npm pack` of `dir` into `dest` without running its scripts; the tarball's path. */
function npmPack(dir, dest, dryRun = false) {
  const args = ["pack", "--json", "--ignore-scripts", "--pack-destination", dest];
  const out = run("npm", dryRun ? [...args, "--dry-run"] : args, dir);
  return JSON.parse(out.slice(out.indexOf("[")))[0];
}

/**
 * Packs the main package and the platform packages into `out`; returns the
 * tarballs' paths, the main package first.
 */
export function packAll({ out = process.cwd(), artifacts, all = false } = {}) {
  out = resolve(out);
  mkdirSync(out, { recursive: true });
  if (!artifacts) run("npm", ["run", "--silent", "build:native"], pkgDir);
  run("npm", ["run", "--silent", "build:ts"], pkgDir);
  const addons = resolve(artifacts ?? join(pkgDir, "native"));
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

  rmSync(npmDir, { recursive: true, force: true });
  run("npx", ["--no-install", "napi", "create-npm-dirs", "--npm-dir", "npm"], pkgDir);
  const tarballs = [];
  const optionalDependencies = {};
  const missing = [];
  for (const platform of readdirSync(npmDir).sort()) {
    const dir = join(npmDir, platform);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const addon = join(addons, manifest.main);
    if (!existsSync(addon)) {
      missing.push(manifest.main);
      continue;
    }
    copyFileSync(addon, join(dir, manifest.main));
    tarballs.push(join(out, npmPack(dir, out).filename));
    optionalDependencies[manifest.name] = manifest.version;
  }
  if (tarballs.length === 0 || (all && missing.length > 0)) {
    throw new Error(`no addon in ${addons} for: ${missing.join(", ")} (build them with napi build --platform)`);
  }
  if (missing.length > 0) console.error(`pack: not packed (no addon in ${addons}): ${missing.join(", ")}`);

  // The main package from a copy of exactly the files `npm pack` would take,
  // with the platform packages as its optional dependencies.
  const stage = mkdtempSync(join(tmpdir(), "oi-session-pack-"));
  try {
    for (const { path } of npmPack(pkgDir, stage, true).files) {
      mkdirSync(dirname(join(stage, path)), { recursive: true });
      cpSync(join(pkgDir, path), join(stage, path));
    }
    // what only this repository uses stays behind: the build scripts (npm would
    // list `prepare` as an install script to approve) and the dev dependencies
    const { scripts: _scripts, devDependencies: _dev, ...published } = pkg;
    const main = { ...published, optionalDependencies: { ...pkg.optionalDependencies, ...optionalDependencies } };
    writeFileSync(join(stage, "package.json"), `${JSON.stringify(main, null, 2)}\n`);
    tarballs.unshift(join(out, npmPack(stage, out).filename));
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return tarballs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { out: { type: "string" }, artifacts: { type: "string" }, all: { type: "boolean", default: false } },
  });
  console.log(JSON.stringify(packAll(values), null, 2));
}
