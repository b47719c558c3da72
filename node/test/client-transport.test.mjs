// The client over real sockets (no oi-sessions server): a listener that never
// answers gives the timeout error, a closed port the unreachable one. The shared
// cases (clients-shared.test.mjs) cover the rest with a fake fetch.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { SessionsApiError, SessionsClient, SessionsTimeoutError } from "openinference-session";

const listening = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const closed = (server) => new Promise((resolve) => server.close(resolve));

test("a server that does not answer in time: SessionsTimeoutError", async () => {
  const silent = createServer(() => {}); // never answers
  await listening(silent);
  const { port } = silent.address();
  try {
    const client = new SessionsClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 });
    const started = Date.now();
    const error = await client.listProjects().catch((e) => e);
    assert.ok(Date.now() - started < 5000);
    assert.ok(error instanceof SessionsTimeoutError);
    assert.ok(error instanceof SessionsApiError);
    assert.equal(error.name, "SessionsTimeoutError");
    assert.deepEqual([error.status, error.code], [0, "timeout"]);
    assert.equal(error.message, `http://127.0.0.1:${port}: no answer within 200 ms`);
  } finally {
    silent.closeAllConnections();
    await closed(silent);
  }
});

test("a closed port is unreachable", async () => {
  const probe = createServer();
  await listening(probe);
  const { port } = probe.address();
  await closed(probe);
  const error = await new SessionsClient({ baseUrl: `http://127.0.0.1:${port}` }).getSession("p", "s").catch((e) => e);
  assert.ok(error instanceof SessionsApiError);
  assert.ok(!(error instanceof SessionsTimeoutError));
  assert.deepEqual([error.status, error.code], [0, "unreachable"]);
  assert.ok(error.message.startsWith(`http://127.0.0.1:${port}: `), error.message);
});
