// Sessions recorded from real frameworks (server/tests/fixtures/frameworks:
// LangGraph's ReAct agent, the Vercel AI SDK) read as conversations in a real
// browser: the turn bubbles hold the user's words and the assistant's reply,
// not the frameworks' JSON; the tool call shows as a step; LangGraph's
// bookkeeping metadata is folded away; sessionless traces are reachable.
//
//   OI_SESSIONS_BIN=target/release/oi-sessions node --test tests/browser/frameworks.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO as repo, startServer } from "../../../tests/support/oi-server.mjs";

const fixtures = join(repo, "server/tests/fixtures/frameworks");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let browser;
let page;

const read = (path) => JSON.parse(readFileSync(path, "utf8"));

/** Posts a recorded framework's requests, in the order they were sent. */
async function ingest(name) {
  const dir = join(fixtures, name);
  const traces = read(join(dir, "traces.json"));
  const logs = existsSync(join(dir, "logs.json")) ? read(join(dir, "logs.json")) : [];
  const order = existsSync(join(dir, "order.json")) ? read(join(dir, "order.json")) : traces.map(() => "traces");
  const next = { traces: 0, logs: 0 };
  for (const signal of order) {
    const body = (signal === "traces" ? traces : logs)[next[signal]++];
    const r = await fetch(`${server.base}/v1/${signal}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200, `${name}: ${await r.text()}`);
  }
  return read(join(dir, "expected.json"));
}

before(async () => {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const name of ["langgraph", "vercel-ai", "vercel-ai-openinference"]) {
  describe(`a ${name} session`, () => {
    it("reads as the conversation: the user's words and the replies in the bubbles", async () => {
      const expected = await ingest(name);
      await page.goto(
        `${server.base}/projects/${encodeURIComponent(expected.project)}/sessions/${encodeURIComponent(expected.session_id)}`,
      );
      await page.getByTestId("turn").nth(expected.turns.length - 1).waitFor();
      const inputs = await page.getByTestId("turn-input").allInnerTexts();
      const outputs = await page.getByTestId("turn-output").allInnerTexts();
      assert.equal(inputs.length, expected.turns.length);
      expected.turns.forEach((turn, i) => {
        assert.ok(inputs[i].includes(turn.input), `turn ${i + 1} input: ${inputs[i]}`);
        assert.ok(outputs[i].includes(turn.output), `turn ${i + 1} output: ${outputs[i]}`);
        for (const bubble of [inputs[i], outputs[i]]) {
          assert.doesNotMatch(bubble, /"messages"|\{"|▸/, `turn ${i + 1} shows JSON: ${bubble}`);
        }
      });
      const header = await page.getByTestId("session-header").innerText();
      assert.match(header, new RegExp(`user ${expected.user_id}`));
      assert.doesNotMatch(header, /langgraph_step|checkpoint_ns|ls_provider/, "bookkeeping folded");
    });

    it("shows the tool call as a step of its turn", async () => {
      const tools = expected(name).turns[0].tools;
      assert.ok(tools.length > 0, "the first turn calls a tool");
      await page.getByTestId("turn").first().getByRole("button", { name: /steps/i }).click();
      const steps = page.getByTestId("steps").first();
      await steps.waitFor();
      const text = await steps.innerText();
      for (const tool of tools) assert.match(text, new RegExp(`TOOL[\\s\\S]*${tool}`), text);
    });
  });
}

describe("traces without a session", () => {
  it("are counted on the projects page and listed with a hint", async () => {
    const r = await fetch(`${server.base}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "no-sessions" } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: "0a".repeat(16),
                    spanId: "0b".repeat(8),
                    name: "turn",
                    startTimeUnixNano: "1790000000000000000",
                    endTimeUnixNano: "1790000001000000000",
                    attributes: [{ key: "input.value", value: { stringValue: "a question outside any session" } }],
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    assert.equal(r.status, 200);
    await page.goto(`${server.base}/projects/no-sessions/sessions`);
    await page.getByTestId("sessionless-note").waitFor();
    await page.getByTestId("sessionless-note").getByRole("link").click();
    await page.getByTestId("traces").waitFor();
    assert.match(await page.getByTestId("traces").innerText(), /a question outside any session/);
    assert.match(await page.getByTestId("session-hint").innerText(), /using_session/);
  });
});

function expected(name) {
  return read(join(fixtures, name, "expected.json"));
}
