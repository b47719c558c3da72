// What the example chats (examples/node-chat, examples/rust-chat, like
// examples/python-chat) send: the same three-turn support conversation, as
// user-42 with metadata and tags. Their end-to-end tests read it back with
// `readSupportChat`. Node built-ins only.
import assert from "node:assert/strict";

export const QUESTIONS = [
  "My invoice shows the wrong VAT number",
  "Can you resend it to billing@example.com?",
  "Thanks, that worked",
];

/**
 * Reads session `sessionId` of project `support-bot` from `server` (from
 * tests/support/oi-server.mjs) and checks it is the example conversation;
 * resolves to its turns. The app has shut its provider down before exiting,
 * so every span is committed.
 */
export async function readSupportChat(server, sessionId) {
  const path = `/v1/projects/support-bot/sessions/${sessionId}`;
  const session = await server.get(path);
  assert.equal(session.num_traces, 3);
  assert.deepEqual(session.user_ids, ["user-42"]);
  assert.deepEqual(session.tags, ["billing"]);
  assert.deepEqual(session.metadata, { channel: "web", plan: "pro" });
  assert.ok(session.token_count.total > 0);
  const turns = (await server.get(`${path}/turns`)).data;
  assert.deepEqual(turns.map((t) => t.input.value), QUESTIONS);
  assert.equal(turns[1].output.value, "Done: invoice INV-1042 was sent to billing@example.com.");
  return turns;
}
