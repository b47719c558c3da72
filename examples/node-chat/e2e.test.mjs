// End to end: the example app, exporting with the real OTLP/HTTP exporter to
// the real sessions server (`oi-sessions serve`, started by
// tests/support/oi-server.mjs), read back through its API. Skipped when the
// server is not built: `scripts/build-ui.sh`, then `cargo build --release -p
// openinference-session-server`, or point OI_SESSIONS_BIN at the binary.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runApp, serverBinary, serverBuilt, startServer } from "../../tests/support/oi-server.mjs";
import { readSupportChat } from "../../tests/support/example-chat.mjs";

const skip = !serverBuilt() && `no server binary at ${serverBinary()}`;
const chat = fileURLToPath(new URL("./chat.mjs", import.meta.url));

let server;

before(async () => {
  if (!skip) server = await startServer();
});

after(() => server?.stop());

test("the Node example chat reads back as one conversation", { skip }, async () => {
  const { code, out } = await runApp(process.execPath, [chat, "--session-id", "e2e-node-chat"], {
    OI_SESSIONS_ENDPOINT: `${server.base}/v1/traces`,
  });
  assert.equal(code, 0, out);
  const turns = await readSupportChat(server, "e2e-node-chat");
  assert.ok(turns.every((t) => t.span_count >= 2));
});
