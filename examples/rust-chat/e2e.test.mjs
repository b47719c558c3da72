// End to end: the Rust example chat, exporting with opentelemetry-otlp to the
// real sessions server (`oi-sessions serve`, started by
// tests/support/oi-server.mjs), read back through its API. Skipped when either
// binary is not built: `cargo build -p rust-chat` (or point OI_RUST_CHAT_BIN at
// it) and the server (see oi-server.mjs). `scripts/test.sh rust-example` builds
// both and runs this.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO, serverBinary, serverBuilt, startServer } from "../../tests/support/oi-server.mjs";

const chat = process.env.OI_RUST_CHAT_BIN ?? join(REPO, "target", "debug", "rust-chat");
const skip =
  (!serverBuilt() && `no server binary at ${serverBinary()}`) ||
  (!existsSync(chat) && `no example binary at ${chat}: cargo build -p rust-chat`);

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
    const child = spawn(chat, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("the Rust example chat reads back as one conversation of three turns", { skip }, async () => {
  const { code, out } = await run(["--session-id", "e2e-rust-chat"], { OI_SESSIONS_ENDPOINT: `${server.base}/v1/traces` });
  assert.equal(code, 0, out);
  assert.match(out, /session e2e-rust-chat: 3 turns sent/);
  // the app shut its provider down before exiting: every span is committed
  const path = "/v1/projects/support-bot/sessions/e2e-rust-chat";
  const session = await get(path);
  assert.equal(session.num_traces, 3);
  assert.deepEqual(session.user_ids, ["user-42"]);
  assert.deepEqual(session.tags, ["billing"]);
  assert.deepEqual(session.metadata, { channel: "web", plan: "pro" });
  assert.ok(session.token_count.total > 0);
  const turns = (await get(`${path}/turns`)).data;
  assert.deepEqual(
    turns.map((t) => t.input.value),
    ["My invoice shows the wrong VAT number", "Can you resend it to billing@example.com?", "Thanks, that worked"],
  );
  assert.equal(turns[1].output.value, "Done: invoice INV-1042 was sent to billing@example.com.");
  // turn, tool (on a spawned task) and model call, or turn and model call
  assert.deepEqual(turns.map((t) => t.span_count), [3, 3, 2]);
});

test("every span carries the session, the tool span run on a spawned task too", { skip }, async () => {
  const { code, out } = await run(["--session-id", "e2e-rust-spans", "--project", "rust-spans"], {
    OI_SESSIONS_ENDPOINT: `${server.base}/v1/traces`,
  });
  assert.equal(code, 0, out);
  const [first] = (await get("/v1/projects/rust-spans/sessions/e2e-rust-spans/turns")).data;
  const { spans } = await get(`/v1/projects/rust-spans/traces/${first.trace_id}`);
  assert.deepEqual(spans.map((s) => s.name).sort(), ["ChatCompletion", "chat-turn", "lookup_invoice"]);
  const root = spans.find((s) => s.name === "chat-turn");
  for (const span of spans) {
    assert.equal(span.attributes["session.id"], "e2e-rust-spans", span.name);
    assert.equal(span.attributes["user.id"], "user-42", span.name);
    if (span !== root) assert.equal(span.parent_span_id, root.span_id, span.name);
  }
});
