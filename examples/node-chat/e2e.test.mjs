// End to end: the example app, exporting with the real OTLP/HTTP exporter to
// the real sessions server (`oi-sessions serve`), read back through its API.
// Skipped when the server is not built: `cargo build --release -p
// openinference-session-server`, or point OI_SESSIONS_BIN at the binary.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.OI_SESSIONS_BIN ?? join(root, "target", "release", "oi-sessions");
const skip = !existsSync(bin) && `no server binary at ${bin}`;
const chat = fileURLToPath(new URL("./chat.mjs", import.meta.url));

let server;
let dataDir;
let base;

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), "oi-node-e2e-"));
  server = spawn(bin, ["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  base = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 10_000);
    server.stdout.on("data", (d) => {
      out += d;
      const m = /listening http=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    server.on("exit", (code) => reject(new Error(`the server exited with ${code}: ${out}`)));
  });
});

after(() => {
  server?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function get(path) {
  const res = await fetch(base + path);
  return { status: res.status, body: res.status === 200 ? await res.json() : undefined };
}

async function waitFor(path, ready) {
  for (let i = 0; i < 100; i++) {
    const { status, body } = await get(path);
    if (status === 200 && ready(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${path} never got ready`);
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [chat, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("the Node example chat reads back as one conversation", { skip }, async () => {
  const { code, out } = await run(["--session-id", "e2e-node-chat"], { OI_SESSIONS_ENDPOINT: `${base}/v1/traces` });
  assert.equal(code, 0, out);
  const path = "/v1/projects/support-bot/sessions/e2e-node-chat";
  const session = await waitFor(path, (s) => s.num_traces === 3);
  assert.deepEqual(session.user_ids, ["user-42"]);
  assert.deepEqual(session.tags, ["billing"]);
  assert.equal(session.metadata.plan, "pro");
  assert.ok(session.token_count.total > 0);
  const turns = (await get(`${path}/turns`)).body.data;
  assert.deepEqual(
    turns.map((t) => t.input.value),
    ["My invoice shows the wrong VAT number", "Can you resend it to billing@example.com?", "Thanks, that worked"],
  );
  assert.equal(turns[1].output.value, "Done: invoice INV-1042 was sent to billing@example.com.");
  assert.ok(turns.every((t) => t.span_count >= 2));
});
