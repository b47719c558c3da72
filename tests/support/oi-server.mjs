// A real `oi-sessions serve` for the Node tests (node/test-e2e, the example
// chats' end-to-end tests, the UI's browser tests, tests/phoenix): free ports,
// its SQLite file in a temp dir or a fresh schema of the PostgreSQL test
// database (`postgresSchema()`), ready once it has printed its `listening`
// lines (its sockets are bound then).
//
// The server answers an export only after the spans are committed, so a test
// reads the API right after its provider's forceFlush()/shutdown(): no polling.
// Node built-ins only, so any package of the repository can import it.
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

const HOW_TO =
  "build the server (scripts/build-ui.sh, then " +
  "`flock /tmp/oi-cargo.lock cargo build --release -p openinference-session-server`) " +
  "or point OI_SESSIONS_BIN at an oi-sessions binary";

/** `$OI_SESSIONS_BIN`, else the release build. */
export function serverBinary() {
  return process.env.OI_SESSIONS_BIN ?? join(REPO, "target", "release", "oi-sessions");
}

/** Whether there is a binary to start (tests may skip without one). */
export function serverBuilt() {
  return existsSync(serverBinary());
}

/**
 * A fresh schema of the PostgreSQL test database
 * ($OI_SESSIONS_TEST_DATABASE_URL, printed by `scripts/postgres.sh`), made
 * with `psql` (which comes with PostgreSQL): `{ url, drop() }`, `url` a
 * database URL whose connections work in it.
 */
export function postgresSchema() {
  const base = (process.env.OI_SESSIONS_TEST_DATABASE_URL ?? "").trim();
  if (!base) {
    throw new Error(
      'OI_SESSIONS_TEST_DATABASE_URL is not set: run `export OI_SESSIONS_TEST_DATABASE_URL="$(bash scripts/postgres.sh)"` first',
    );
  }
  const schema = `oi_js_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const psql = (sql) => execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", base, "-c", sql], { stdio: "pipe" });
  psql(`CREATE SCHEMA "${schema}"`);
  const sep = base.includes("?") ? "&" : "?";
  return {
    url: `${base}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    drop: () => psql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`),
  };
}

/**
 * Starts `oi-sessions serve` on 127.0.0.1:0 (and gRPC on another free port
 * when `grpc`), storing in PostgreSQL at `databaseUrl` when given, with
 * `args` added to its flags (`["--session-idle", "2s"]`) and `env` to its
 * environment. Resolves to
 * `{ base, grpc, dataDir, stop }` once it listens: `base` is
 * `http://127.0.0.1:<port>`, `grpc` `127.0.0.1:<port>` or undefined, `stop()`
 * sends SIGTERM, waits for the exit and removes the data directory.
 */
export async function startServer({ grpc = false, databaseUrl, args = [], env = {}, timeoutMs = 15_000 } = {}) {
  const bin = serverBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "oi-sessions-test-"));
  const storage = databaseUrl ? ["--database-url", databaseUrl] : [];
  const child = spawn(
    bin,
    ["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", grpc ? "127.0.0.1:0" : "off", "--data-dir", dataDir, ...storage, ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  );
  // the log, read all along (a full pipe would block the server), kept for errors
  let log = "";
  child.stderr.on("data", (d) => {
    log = (log + d).slice(-20_000);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const addresses = {};
  let timer;
  const failed = new Promise((_, reject) => {
    child.once("error", (e) => reject(new Error(`cannot run ${bin}: ${e.message}; ${HOW_TO}`)));
    timer = setTimeout(() => reject(new Error(`oi-sessions did not listen within ${timeoutMs} ms: ${log}`)), timeoutMs);
  });
  failed.catch(() => {}); // reported through the race below, or too late to matter
  const listening = (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      const m = /^oi-sessions listening (\w+)=(\S+)/.exec(line);
      if (m) addresses[m[1]] = m[2];
      if (addresses.http && (!grpc || addresses.grpc)) return;
    }
    throw new Error(`oi-sessions exited before listening (exit ${child.exitCode}): ${log}`);
  })();
  listening.catch(() => {}); // reported through the race below
  try {
    await Promise.race([listening, failed]);
  } catch (e) {
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const base = `http://${addresses.http}`;
  return {
    base,
    grpc: addresses.grpc,
    dataDir,
    /** GET `path` of the API as JSON; throws unless the answer is 200. */
    async get(path) {
      const res = await fetch(base + path);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs an app (an example chat) with `env` added to this process's
 * environment; resolves to `{ code, out }`, its stdout and stderr together.
 */
export function runApp(command, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}
