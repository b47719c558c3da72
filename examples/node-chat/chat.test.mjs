// The example runs end to end: against a local OTLP/HTTP receiver, and with --console.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { test } from "node:test";

const chat = new URL("./chat.mjs", import.meta.url).pathname;

function run(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [chat, ...args], { env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

function count(haystack, needle) {
  return haystack.split(needle).length - 1;
}

test("exports the conversation as OTLP/HTTP protobuf to OI_SESSIONS_ENDPOINT", async () => {
  const bodies = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      bodies.push({ url: req.url, type: req.headers["content-type"], auth: req.headers.authorization, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address();
    const { code, out } = await run(["--session-id", "conv-example-1"], {
      OI_SESSIONS_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
      OI_SESSIONS_API_KEY: "secret",
    });
    assert.equal(code, 0, out);
    assert.match(out, /session conv-example-1: 3 turns sent/);
    assert.ok(bodies.length >= 1);
    assert.ok(bodies.every((b) => b.url === "/v1/traces" && b.type === "application/x-protobuf"));
    assert.ok(bodies.every((b) => b.auth === "Bearer secret"));
    const all = Buffer.concat(bodies.map((b) => b.body)).toString("latin1");
    assert.equal(count(all, "chat-turn"), 3, "one trace per turn");
    assert.equal(count(all, "conv-example-1"), 8, "every span carries the session id");
    assert.equal(count(all, "session.id"), 8);
  } finally {
    server.close();
  }
});

test("--console prints every span with the session attributes", async () => {
  const { code, out } = await run(["--console", "--session-id", "conv-console"]);
  assert.equal(code, 0, out);
  assert.equal(count(out, "'session.id': 'conv-console'"), 8);
  assert.equal(count(out, "'user.id': 'user-42'"), 8);
  assert.equal(count(out, "'tag.tags': [ 'billing' ]"), 8);
});
