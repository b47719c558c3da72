// End to end: the Rust example chat, exporting with opentelemetry-otlp to the
// real sessions server (`oi-sessions serve`, started by
// tests/support/oi-server.mjs), read back through its API. Skipped when either
// binary is not built: `cargo build -p rust-chat` (or point OI_RUST_CHAT_BIN at
// it) and the server (see oi-server.mjs). `scripts/test.sh rust-example` builds
// both and runs this.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO, runApp, serverBinary, serverBuilt, startServer } from "../../tests/support/oi-server.mjs";
import { readSupportChat } from "../../tests/support/example-chat.mjs";

const chat = process.env.OI_RUST_CHAT_BIN ?? join(REPO, "target", "debug", "rust-chat");
const skip =
  (!serverBuilt() && `no server binary at ${serverBinary()}`) ||
  (!existsSync(chat) && `no example binary at ${chat}: cargo build -p rust-chat`);
const endpoint = () => ({ OI_SESSIONS_ENDPOINT: `${server.base}/v1/traces` });

let server;

before(async () => {
  if (!skip) server = await startServer();
});

after(() => server?.stop());

test("the Rust example chat reads back as one conversation of three turns", { skip }, async () => {
  const { code, out } = await runApp(chat, ["--session-id", "e2e-rust-chat"], endpoint());
  assert.equal(code, 0, out);
  assert.match(out, /session e2e-rust-chat: 3 turns sent/);
  const turns = await readSupportChat(server, "e2e-rust-chat");
  // turn, tool (on a spawned task) and model call, or turn and model call
  assert.deepEqual(turns.map((t) => t.span_count), [3, 3, 2]);
});

test("every span carries the session, the tool span run on a spawned task too", { skip }, async () => {
  const { code, out } = await runApp(chat, ["--session-id", "e2e-rust-spans", "--project", "rust-spans"], endpoint());
  assert.equal(code, 0, out);
  const [first] = (await server.get("/v1/projects/rust-spans/sessions/e2e-rust-spans/turns")).data;
  const { spans } = await server.get(`/v1/projects/rust-spans/traces/${first.trace_id}`);
  assert.deepEqual(spans.map((s) => s.name).sort(), ["ChatCompletion", "chat-turn", "lookup_invoice"]);
  const root = spans.find((s) => s.name === "chat-turn");
  for (const span of spans) {
    assert.equal(span.attributes["session.id"], "e2e-rust-spans", span.name);
    assert.equal(span.attributes["user.id"], "user-42", span.name);
    if (span !== root) assert.equal(span.parent_span_id, root.span_id, span.name);
  }
});
