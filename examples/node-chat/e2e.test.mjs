// End to end: the example app, exporting with the real OTLP/HTTP exporter to
// the real sessions server (`oi-sessions serve`, started by
// tests/support/oi-server.mjs), read back through its API. Skipped when the
// server is not built: `scripts/build-ui.sh`, then `cargo build --release -p
// openinference-session-server`, or point OI_SESSIONS_BIN at the binary.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { serverBinary, serverBuilt, startServer } from "../../tests/support/oi-server.mjs";

const skip = !serverBuilt() && `no server binary at ${serverBinary()}`;
const chat = fileURLToPath(new URL("./chat.mjs", import.meta.url));

let server;

before(async () => {
  if (!skip) server = await startServer();
});

after(() => server?.stop());

async function get(path) {
  const res = await fetch(server.base + path);
  assert.equal(res.status, 200, path);
  return res.json();
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
  const { code, out } = await run(["--session-id", "e2e-node-chat"], { OI_SESSIONS_ENDPOINT: `${server.base}/v1/traces` });
  assert.equal(code, 0, out);
  // the app shut its provider down before exiting: every span is committed
  const path = "/v1/projects/support-bot/sessions/e2e-node-chat";
  const session = await get(path);
  assert.equal(session.num_traces, 3);
  assert.deepEqual(session.user_ids, ["user-42"]);
  assert.deepEqual(session.tags, ["billing"]);
  assert.equal(session.metadata.plan, "pro");
  assert.ok(session.token_count.total > 0);
  const turns = (await get(`${path}/turns`)).data;
  assert.deepEqual(
    turns.map((t) => t.input.value),
    ["My invoice shows the wrong VAT number", "Can you resend it to billing@example.com?", "Thanks, that worked"],
  );
  assert.equal(turns[1].output.value, "Done: invoice INV-1042 was sent to billing@example.com.");
  assert.ok(turns.every((t) => t.span_count >= 2));
});
