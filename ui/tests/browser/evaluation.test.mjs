/* global document */
// Online evaluation in a real browser (Debian's Chromium, playwright-core)
// against the real server: an LLM judge created in the UI, a fake
// OpenAI-compatible judge started here, a 3-turn session sent over OTLP, and
// its verdict appearing on the session and in the list once the session goes
// idle (`--session-idle 2s`); a new turn marks it stale until it is judged
// again. Then the project page (settings, stats, annotation configs), the
// config-driven annotation editor, notes, and `[`/`]` between sessions.
//
//   OI_SESSIONS_BIN=target/release/oi-sessions node --test tests/browser/evaluation.test.mjs
//   UI_SCREENSHOTS=../docs/screenshots ...   also writes screenshots of the evaluators, a judged session and the project page
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "../../../tests/support/oi-server.mjs";

const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PROJECT = "judged-chat";
const shots = process.env.UI_SCREENSHOTS ? resolve(process.cwd(), process.env.UI_SCREENSHOTS) : null;

async function shot(name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}
const KEY = "judge-secret-for-the-test";

let server;
let base;
let browser;
let page;
let judge;
const judgeCalls = [];
// what the fake judge answers next: the verdict's explanation says which call it was
const explanation = (n) => `the assistant answered every question (call ${n})`;

/** A fake OpenAI-compatible chat completions endpoint, counting its calls. */
function startJudge() {
  return new Promise((resolve) => {
    const http = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) {
          res.writeHead(404).end();
          return;
        }
        judgeCalls.push({ url: req.url, authorization: req.headers.authorization, body: JSON.parse(body) });
        const content = JSON.stringify({ label: "good", explanation: explanation(judgeCalls.length) });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content } }] }));
      });
    });
    http.listen(0, "127.0.0.1", () => resolve({ http, url: `http://127.0.0.1:${http.address().port}/v1` }));
  });
}

const hex = (bytes) => randomBytes(bytes).toString("hex");
const nanos = (ms) => String(BigInt(ms) * 1_000_000n);
const str = (key, value) => ({ key, value: { stringValue: value } });

/** Sends one turn (a CHAIN span with its input and output) of `sessionId` over OTLP/HTTP JSON; committed when answered. */
async function sendTurn(sessionId, question, answer, project = PROJECT) {
  const now = Date.now();
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [str("openinference.project.name", project)] },
        scopeSpans: [
          {
            scope: { name: "browser-test" },
            spans: [
              {
                traceId: hex(16),
                spanId: hex(8),
                name: "chat-turn",
                kind: 1,
                startTimeUnixNano: nanos(now - 300),
                endTimeUnixNano: nanos(now),
                attributes: [
                  str("openinference.span.kind", "CHAIN"),
                  str("session.id", sessionId),
                  str("user.id", "user-1"),
                  str("input.value", question),
                  str("output.value", answer),
                ],
                status: {},
              },
            ],
          },
        ],
      },
    ],
  };
  const r = await fetch(`${base}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 200, await r.text());
}

async function api(path, init) {
  const r = await fetch(base + path, init);
  assert.ok(r.ok, `${path}: ${r.status} ${await r.clone().text()}`);
  return r.status === 204 ? null : r.json();
}

/** Re-reads the API until `check()` holds (a condition, not a clock: each read is a round trip). */
async function untilApi(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function until(what, predicate, arg, timeout = 30_000) {
  try {
    await page.waitForFunction(predicate, arg, { timeout });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message}`);
  }
}

before(async () => {
  judge = await startJudge();
  server = await startServer({
    args: ["--session-idle", "2s", "--eval-allowed-hosts", "127.0.0.1"],
    env: { JUDGE_KEY: KEY },
  });
  base = server.base;
  const health = await api("/healthz");
  assert.equal(health.ui, true, "this oi-sessions was built without the UI: run scripts/build-ui.sh, then rebuild it");
  // a session that went idle before any evaluator existed: left unjudged until a backfill
  await sendTurn("conv-2", "hello", "hi");
  await untilApi("conv-2 idle", async () => (await api(`/v1/projects/${PROJECT}/sessions/conv-2`)).status === "idle");
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  page.on("dialog", (d) => d.accept());
});

after(async () => {
  await browser?.close();
  await server?.stop();
  judge?.http.close();
});

describe("online evaluation in the UI", () => {
  it("creates an LLM judge, showing the server's 400 next to the field it names", async () => {
    await page.goto(`${base}/projects/${PROJECT}/evaluators`);
    await page.getByTestId("no-evaluators").waitFor();
    await page.getByTestId("new-evaluator").click();
    const form = page.getByTestId("evaluator-form");
    await form.locator("input[name=name]").fill("helpfulness");
    await form.locator("input[name=baseUrl]").fill(judge.url);
    await form.locator("input[name=model]").fill("fake-judge");
    await form.locator("textarea[name=criteria]").fill("Did the assistant help the user?");
    // a key where its variable's name belongs: refused by the server, shown at that field
    await form.locator("input[name=apiKeyEnv]").fill("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789");
    await form.getByRole("button", { name: "Create" }).click();
    const keyField = form.locator('[data-field="llm.api_key_env"]');
    await keyField.getByTestId("field-error").waitFor();
    assert.match(await keyField.getByTestId("field-error").innerText(), /api_key_env/);
    assert.equal(await form.getByTestId("field-error").count(), 1, "only that field shows an error");
    // an empty label set: refused, shown at the labels
    await form.locator("input[name=apiKeyEnv]").fill("JUDGE_KEY");
    await form.getByRole("button", { name: "remove label 2" }).click();
    await form.getByRole("button", { name: "remove label 1" }).click();
    await form.getByRole("button", { name: "Create" }).click();
    await form.locator('[data-field="labels"]').getByTestId("field-error").waitFor();
    await form.getByRole("button", { name: "add a label" }).click();
    await form.getByRole("button", { name: "add a label" }).click();
    await form.locator("input[name=label-0]").fill("good");
    await form.locator("input[name=score-0]").fill("1");
    await form.locator("input[name=label-1]").fill("bad");
    await form.locator("input[name=score-1]").fill("0");
    await form.getByRole("button", { name: "Create" }).click();
    await page.locator('[data-testid=evaluator][data-name="helpfulness"]').waitFor();
    await form.waitFor({ state: "detached" });
    const stored = await api(`/v1/projects/${PROJECT}/evaluators/helpfulness`);
    assert.equal(stored.kind, "llm_judge");
    assert.equal(stored.llm.base_url, judge.url);
    assert.equal(stored.llm.model, "fake-judge");
    assert.equal(stored.llm.api_key_env, "JUDGE_KEY");
    assert.deepEqual(stored.labels, { good: 1, bad: 0 });
    assert.equal(stored.enabled, true);
    assert.equal(stored.version, 1);
  });

  it("judges a 3-turn session once it goes idle: the verdict and its explanation on the session and in the list", async () => {
    for (const [q, a] of [
      ["My parcel is late", "Sorry! Let me check the tracking."],
      ["It says delivered but it is not here", "I have opened a claim with the carrier."],
      ["Thanks", "You're welcome: the refund follows within 3 days."],
    ])
      await sendTurn("conv-1", q, a);
    await page.goto(`${base}/projects/${PROJECT}/sessions/conv-1`);
    await page.getByTestId("turn").nth(2).waitFor();
    // active now, idle 2 s after its last trace arrived; then judged, while the page is open
    const verdict = page.locator('[data-testid=annotation][data-name="helpfulness"]');
    await verdict.waitFor({ timeout: 30_000 });
    assert.equal(await verdict.getByTestId("annotation-label").innerText(), "good");
    assert.equal(await verdict.getByTestId("annotation-explanation").innerText(), explanation(1));
    assert.match(await verdict.innerText(), /LLM/);
    assert.equal(await verdict.getByTestId("stale").count(), 0);
    await page.getByTestId("session-header").getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    await page.locator('[data-testid=job][data-state="done"]').filter({ hasText: "helpfulness" }).waitFor();
    await shot("session-verdict");

    // the judge was asked once, as the issue says: JSON mode, the key from the server's environment, the transcript
    assert.equal(judgeCalls.length, 1);
    const call = judgeCalls[0];
    assert.equal(call.url, "/v1/chat/completions");
    assert.equal(call.authorization, `Bearer ${KEY}`);
    assert.deepEqual(call.body.response_format, { type: "json_object" });
    assert.equal(call.body.model, "fake-judge");
    assert.match(JSON.stringify(call.body.messages), /It says delivered but it is not here/);

    // the list: its status, and the evaluator's verdict column
    await page.goto(`${base}/projects/${PROJECT}/sessions`);
    const row = page.getByTestId("session-row").filter({ hasText: "conv-1" });
    await row.waitFor();
    assert.equal(await row.getByTestId("session-status").innerText(), "idle");
    const cell = row.locator('.cell.verdict[data-verdict="helpfulness"]');
    assert.equal((await cell.innerText()).trim(), "1.00 · good");
    assert.equal(await cell.getByTestId("verdict-chip").getAttribute("data-stale"), "false");
    assert.equal(
      await page.locator('.session-row.header [data-verdict="helpfulness"]').innerText(),
      "helpfulness",
      "the evaluator has its own column",
    );
  });

  it("marks the verdict stale when the session gets a new turn, then replaces it", async () => {
    await page.goto(`${base}/projects/${PROJECT}/sessions/conv-1`);
    const verdict = page.locator('[data-testid=annotation][data-name="helpfulness"]');
    await verdict.waitFor();
    await sendTurn("conv-1", "One more thing: can I change the address?", "Yes, I have updated it.");
    // the page re-reads a session that may change: active again, the verdict stale
    await verdict.getByTestId("stale").waitFor();
    // judged again once idle: the explanation of the second call, no longer stale
    await verdict.getByTestId("annotation-explanation").filter({ hasText: explanation(2) }).waitFor({ timeout: 30_000 });
    await verdict.getByTestId("stale").waitFor({ state: "detached" });
    assert.equal(await page.locator('[data-testid=annotation][data-name="helpfulness"]').count(), 1, "replaced, not added");
    assert.equal(judgeCalls.length, 2);
    await page.locator('[data-testid=job][data-state="done"]').nth(1).waitFor();
  });

  it("sorts by the verdict's score, filters by it, and finds a session by its id prefix", async () => {
    await page.goto(`${base}/projects/${PROJECT}/sessions`);
    await page.getByTestId("session-row").nth(1).waitFor();
    assert.equal(judgeCalls.length, 2, "conv-2 went idle before the evaluator existed: not judged");
    // sorting by the verdict's score lists the sessions that have it
    await page.locator('.session-row.header [data-verdict="helpfulness"] button').click();
    await page.waitForURL(/sort=annotation_score/);
    assert.match(page.url(), /annotation=helpfulness/);
    await until("only the judged session", () => {
      const ids = [...document.querySelectorAll("[data-testid=session-row] .cell.id")].map((e) => e.textContent.trim());
      return ids.join() === "conv-1";
    });
    // has not: the other one
    await page.goto(`${base}/projects/${PROJECT}/sessions?missing_annotation=helpfulness`);
    await until("the unjudged session", () =>
      [...document.querySelectorAll("[data-testid=session-row] .cell.id")].map((e) => e.textContent.trim()).join() === "conv-2",
    );
    // label is, through the controls
    await page.goto(`${base}/projects/${PROJECT}/sessions`);
    const filter = page.getByTestId("annotation-filter");
    await filter.locator("input[name=annotation_name]").fill("helpfulness");
    await filter.getByLabel("annotation condition").selectOption("label");
    await filter.locator("input[name=annotation_label]").fill("bad");
    await filter.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/annotation_label=bad/);
    await page.getByText("No session matches these filters.").waitFor();
    // the search box finds a session by the start of its id
    await page.goto(`${base}/projects/${PROJECT}/sessions`);
    await page.locator("input[name=q]").fill("conv-");
    await page.locator("input[name=q]").press("Enter");
    await until("both by prefix", () => document.querySelectorAll("[data-testid=session-row]").length === 2);
    // by status: both are idle, none active
    await page.locator("select[name=status]").selectOption("active");
    await page.waitForURL(/status=active/);
    await page.getByText("No session matches these filters.").waitFor();
    await page.locator("select[name=status]").selectOption("idle");
    await page.waitForURL(/status=idle/);
    await until("both idle", () => document.querySelectorAll("[data-testid=session-row]").length === 2);
  });

  it("follows the project while it shows its first page: new sessions and sessions going idle, without a reload", async () => {
    const project = "live-list";
    await sendTurn("live-1", "first", "one", project);
    await page.goto(`${base}/projects/${project}/sessions`);
    await page.getByTestId("session-row").first().waitFor();
    assert.equal(await page.getByTestId("session-row").count(), 1);
    await sendTurn("live-2", "second", "two", project);
    // no navigation from here on: the list reads itself again
    await until("the new session listed", () => document.querySelectorAll("[data-testid=session-row]").length === 2);
    await until("both gone idle", () => {
      const statuses = [...document.querySelectorAll("[data-testid=session-row] [data-testid=session-status]")].map((e) => e.textContent.trim());
      return statuses.length === 2 && statuses.every((s) => s === "idle");
    });
    assert.match(await page.getByTestId("sessions-count").innerText(), /updated as sessions arrive/);
  });

  it("switches the evaluator off and on without a new version, and backfills with a summary", async () => {
    await page.goto(`${base}/projects/${PROJECT}/evaluators`);
    const row = page.locator('[data-testid=evaluator][data-name="helpfulness"]');
    await row.waitFor();
    const toggle = row.getByRole("button", { name: "helpfulness enabled" });
    assert.equal(await toggle.getAttribute("aria-pressed"), "true");
    await toggle.click();
    await row.locator('[aria-pressed="false"]').waitFor();
    let stored = await api(`/v1/projects/${PROJECT}/evaluators/helpfulness`);
    assert.equal(stored.enabled, false);
    assert.equal(stored.version, 1, "switching does not change the definition");
    await toggle.click();
    await row.locator('[aria-pressed="true"]').waitFor();
    stored = await api(`/v1/projects/${PROJECT}/evaluators/helpfulness`);
    assert.equal(stored.enabled, true);

    // conv-1 is judged at its last activity (skipped); conv-2, never judged, is
    await row.getByRole("button", { name: "backfill" }).click();
    const panel = page.getByTestId("backfill");
    await panel.getByRole("button", { name: "Run backfill" }).click();
    await panel.locator('[data-testid=backfill-progress][data-finished="true"]').waitFor({ timeout: 30_000 });
    const summary = await panel.getByTestId("backfill-summary").innerText();
    assert.equal(summary, "Finished: 2 matched · 1 judged · 1 skipped · 0 failed");
    assert.equal(judgeCalls.length, 3);
    await page.goto(`${base}/projects/${PROJECT}/sessions/conv-2`);
    await page.locator('[data-testid=annotation][data-name="helpfulness"]').waitFor();
    await page.locator('[data-testid=job][data-state="done"]').filter({ hasText: "backfill" }).waitFor();
  });

  it("edits an evaluator into a new version, creates a code rule, and shows a failed job's error on the session", async () => {
    await page.goto(`${base}/projects/${PROJECT}/evaluators`);
    const row = page.locator('[data-testid=evaluator][data-name="helpfulness"]');
    await row.getByRole("button", { name: "edit" }).click();
    let form = page.getByTestId("evaluator-form");
    // the form holds the stored definition
    assert.equal(await form.locator("input[name=model]").inputValue(), "fake-judge");
    assert.equal(await form.locator("input[name=apiKeyEnv]").inputValue(), "JUDGE_KEY");
    const labels = [await form.locator("input[name=label-0]").inputValue(), await form.locator("input[name=label-1]").inputValue()];
    assert.deepEqual(labels.sort(), ["bad", "good"]);
    await form.locator("textarea[name=criteria]").fill("Did the assistant solve the problem?");
    await form.getByRole("button", { name: "Save" }).click();
    await form.waitFor({ state: "detached" });
    await until("version 2", () => document.querySelector('[data-testid=evaluator][data-name="helpfulness"] td.num')?.textContent === "2");
    const edited = await api(`/v1/projects/${PROJECT}/evaluators/helpfulness`);
    assert.equal(edited.version, 2);
    assert.equal(edited.criteria, "Did the assistant solve the problem?");
    assert.equal(edited.llm.api_key_env, "JUDGE_KEY");

    // a code rule: a regular expression over the user's messages
    await page.getByTestId("new-evaluator").click();
    form = page.getByTestId("evaluator-form");
    await form.locator("input[name=name]").fill("frustration");
    await form.locator("select[name=kind]").selectOption("code");
    await form.locator("select[name=ruleType]").selectOption("regex");
    await form.locator("input[name=pattern]").fill("useless|speak to a human");
    await form.getByRole("button", { name: "Create" }).click();
    await page.locator('[data-testid=evaluator][data-name="frustration"]').waitFor();
    const rule = (await api(`/v1/projects/${PROJECT}/evaluators/frustration`)).rule;
    assert.deepEqual(rule, { type: "regex", pattern: "useless|speak to a human", on: "user", case_insensitive: true, fail_on_match: true });

    // a judge whose key variable the server does not have: its jobs fail at once, saying why
    await page.getByTestId("new-evaluator").click();
    form = page.getByTestId("evaluator-form");
    await form.locator("input[name=name]").fill("keyless");
    await form.locator("input[name=baseUrl]").fill(judge.url);
    await form.locator("input[name=model]").fill("fake-judge");
    await form.locator("input[name=apiKeyEnv]").fill("OI_TEST_UNSET_KEY");
    await form.locator("textarea[name=criteria]").fill("anything");
    await form.getByRole("button", { name: "Create" }).click();
    const keyless = page.locator('[data-testid=evaluator][data-name="keyless"]');
    await keyless.waitFor();
    await keyless.getByRole("button", { name: "backfill" }).click();
    const panel = page.getByTestId("backfill");
    await panel.getByRole("button", { name: "Run backfill" }).click();
    await panel.locator('[data-testid=backfill-progress][data-finished="true"]').waitFor({ timeout: 30_000 });
    assert.equal(await panel.getByTestId("backfill-summary").innerText(), "Finished: 2 matched · 0 judged · 0 skipped · 2 failed");
    assert.equal(judgeCalls.length, 3, "the judge was not called without its key");
    await shot("evaluators");
    await page.goto(`${base}/projects/${PROJECT}/sessions/conv-2`);
    const failed = page.locator('[data-testid=job][data-state="failed"]').filter({ hasText: "keyless" });
    await failed.waitFor();
    assert.match(await failed.innerText(), /OI_TEST_UNSET_KEY/);
  });
});

describe("the project page", () => {
  it("shows and changes the idle period and retention, one field at a time", async () => {
    await page.goto(`${base}/projects/${PROJECT}`);
    const idle = page.getByTestId("setting-session_idle");
    await idle.getByTestId("effective").waitFor();
    assert.equal(await idle.getByTestId("effective").innerText(), "2s");
    assert.match(await idle.getByTestId("source").innerText(), /server's default/);
    const retention = page.getByTestId("setting-retention");
    assert.equal(await retention.getByTestId("effective").innerText(), "forever");

    await retention.locator("input[name=value]").fill("soon");
    await retention.getByRole("button", { name: "Save" }).click();
    await retention.getByTestId("field-error").waitFor();
    assert.match(await retention.getByTestId("field-error").innerText(), /retention/);
    assert.equal(await idle.getByTestId("field-error").count(), 0);

    await retention.locator("input[name=value]").fill("30d");
    await retention.getByRole("button", { name: "Save" }).click();
    // the server says it back its own way (humantime: "30days")
    await retention.getByTestId("effective").filter({ hasText: /^30\s*d(ays?)?$/ }).waitFor();
    assert.match(await retention.getByTestId("source").innerText(), /this project's; the server's is forever/);
    let settings = await api(`/v1/projects/${PROJECT}/settings`);
    assert.match(settings.retention, /^30\s*d(ays?)?$/);
    assert.equal(settings.session_idle, null, "the other setting is left as it was");

    await retention.getByRole("button", { name: /use the server's default/ }).click();
    await retention.getByTestId("effective").filter({ hasText: /^forever$/ }).waitFor();
    settings = await api(`/v1/projects/${PROJECT}/settings`);
    assert.equal(settings.retention, null);
  });

  it("shows the project's stats with the verdicts' label distribution", async () => {
    const stats = await api(`/v1/projects/${PROJECT}/stats?start_time=${encodeURIComponent(new Date(Date.now() - 7 * 86400e3).toISOString())}`);
    await page.goto(`${base}/projects/${PROJECT}`);
    const panel = page.getByTestId("stats");
    await panel.getByTestId("stat-sessions").waitFor();
    assert.match(await panel.getByTestId("stat-sessions").innerText(), new RegExp(`\\b${stats.sessions}\\b`));
    assert.equal(stats.sessions, 2);
    assert.match(await panel.getByTestId("stat-turns").innerText(), /\b5\b/);
    assert.ok((await panel.locator("[data-testid=sessions-trend] rect").count()) >= 1);
    const helpfulness = panel.locator('[data-testid=annotation-stat][data-name="helpfulness"]');
    await helpfulness.waitFor();
    const good = helpfulness.locator('[data-testid=label-share][data-label="good"]');
    assert.match(await good.innerText(), /100%/);
    assert.match(await helpfulness.getByTestId("mean-score").innerText(), /^1\.00$/);
    await shot("project");
  });

  it("creates annotation configs that shape the session's annotation editor", async () => {
    await page.goto(`${base}/projects/${PROJECT}`);
    const configs = page.getByTestId("configs");
    await configs.getByTestId("new-config").click();
    let form = configs.getByTestId("config-form");
    await form.locator("input[name=name]").fill("resolution");
    await form.locator("textarea[name=values]").fill("solved=1\nunsolved=0");
    await form.getByRole("button", { name: "Save config" }).click();
    await configs.locator('[data-testid=config][data-name="resolution"]').waitFor();
    await configs.getByTestId("new-config").click();
    form = configs.getByTestId("config-form");
    await form.locator("input[name=name]").fill("quality");
    await form.locator("select[name=type]").selectOption("continuous");
    await form.locator("input[name=lower_bound]").fill("1");
    await form.locator("input[name=upper_bound]").fill("5");
    await form.getByRole("button", { name: "Save config" }).click();
    await configs.locator('[data-testid=config][data-name="quality"]').waitFor();
    assert.match(await configs.locator('[data-testid=config][data-name="quality"]').innerText(), /1 to 5/);

    await page.goto(`${base}/projects/${PROJECT}/sessions/conv-2`);
    const panel = page.getByTestId("annotations");
    await panel.getByText("add an annotation").click();
    const editor = panel.getByTestId("annotation-editor");
    await editor.getByLabel("annotation name").fill("resolution");
    await until("a select of the config's labels", () => document.querySelector("[data-testid=annotation-editor]")?.dataset.kind === "categorical");
    assert.deepEqual(await editor.locator("select[name=label] option:not([disabled])").allInnerTexts(), ["solved (1)", "unsolved (0)"]);
    await editor.locator("select[name=label]").selectOption("solved");
    await editor.getByRole("button", { name: "Save" }).click();
    const resolution = panel.locator('[data-testid=annotation][data-name="resolution"]');
    await resolution.waitFor();
    assert.match(await resolution.innerText(), /solved[\s\S]*\b1\b/);

    // a bounded score: out of bounds is said at the score, before anything is sent
    await editor.getByLabel("annotation name").fill("quality");
    await until("a bounded score input", () => document.querySelector("[data-testid=annotation-editor]")?.dataset.kind === "continuous");
    assert.equal(await editor.locator("input[name=score]").getAttribute("max"), "5");
    await editor.locator("input[name=score]").fill("9");
    await editor.getByRole("button", { name: "Save" }).click();
    await editor.getByTestId("error-score").waitFor();
    await editor.locator("input[name=score]").fill("4");
    await editor.getByRole("button", { name: "Save" }).click();
    await panel.locator('[data-testid=annotation][data-name="quality"]').waitFor();
    const stored = await api(`/v1/projects/${PROJECT}/sessions/conv-2/annotations`);
    assert.deepEqual(
      stored.data.filter((a) => a.source === "APP").map((a) => [a.name, a.label, a.score]),
      [
        ["resolution", "solved", 1],
        ["quality", null, 4],
      ],
    );
  });

  it("appends notes, never replacing one", async () => {
    await page.goto(`${base}/projects/${PROJECT}/sessions/conv-2`);
    const notes = page.getByTestId("notes");
    await notes.getByText("No notes.").waitFor();
    // the same text twice: two notes, the second not replacing the first
    for (const n of [1, 2]) {
      await notes.getByLabel("new note").fill("asked for a human");
      await notes.getByRole("button", { name: "Add note" }).click();
      await until(`${n} note(s)`, (want) => document.querySelectorAll("[data-testid=note]").length === want, n);
    }
    const stored = await api(`/v1/projects/${PROJECT}/sessions/conv-2/annotations`);
    assert.equal(stored.data.filter((a) => a.name === "note").length, 2);
    // notes are no verdicts: not in the header's summary
    assert.doesNotMatch(await page.getByTestId("session-header").innerText(), /\bnote\b/);
  });

  it("moves between the list's sessions with ] and [", async () => {
    await page.goto(`${base}/projects/${PROJECT}/sessions?sort=start_time&order=asc`);
    await page.getByTestId("session-row").nth(1).waitFor();
    const ids = (await page.locator("[data-testid=session-row] .cell.id").allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(ids, ["conv-2", "conv-1"]);
    await page.getByRole("link", { name: "conv-2" }).click();
    await page.getByTestId("session-steps").waitFor();
    assert.match(await page.getByTestId("shortcuts").innerText(), /\] ?\/ ?\[ next\/previous session/);
    await page.keyboard.press("]");
    await page.waitForURL(/sessions\/conv-1$/);
    await page.getByTestId("turn").first().waitFor();
    await page.keyboard.press("]"); // the last: stays
    await page.keyboard.press("[");
    await page.waitForURL(/sessions\/conv-2$/);
    // the way back keeps the list's order
    await page.getByRole("link", { name: /sessions of/ }).click();
    await page.waitForURL(/order=asc/);
  });
});
