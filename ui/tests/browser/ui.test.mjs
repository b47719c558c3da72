/* global window, document, requestAnimationFrame */
// The UI in a real browser (Debian's Chromium driven by playwright-core) against
// the real server, filled through the real Python package.
//
//   OI_SESSIONS_BIN=target/release/oi-sessions OI_PYTHON=.venv/bin/python node --test tests/browser/
//   UI_SCREENSHOTS=../docs/screenshots ...   also writes screenshots of the main pages
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { REPO as repo, startServer } from "../../../tests/support/oi-server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env.OI_PYTHON ?? join(repo, ".venv/bin/python");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = process.env.UI_SCREENSHOTS ? resolve(process.cwd(), process.env.UI_SCREENSHOTS) : null;

let server;
let base;
let browser;
let page;
const timings = {};

async function api(path) {
  const r = await fetch(base + path);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

// Waits until the page's DOM satisfies `predicate(arg)`, checked by the
// browser at each animation frame (playwright's waitForFunction).
async function until(what, predicate, arg) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: 20_000 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message}`);
  }
}

const ROW = "[data-testid=session-row]";
// the session rows' ids, in order, are `ids` (joined by commas)
const rowIdsAre = (ids) =>
  until(`rows ${ids}`, (want) => [...document.querySelectorAll("[data-testid=session-row] .cell.id")].map((e) => e.textContent.trim()).join() === want, ids);
// exactly `n` elements match `selector`
const countIs = (selector, n) =>
  until(`${n} × ${selector}`, ([sel, want]) => document.querySelectorAll(sel).length === want, [selector, n]);

async function shot(name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

before(async () => {
  server = await startServer();
  base = server.base;
  const health = await api("/healthz");
  assert.equal(health.ui, true, "this oi-sessions was built without the UI: run scripts/build-ui.sh, then rebuild it");
  // fill.py returns once its exporter has shut down: every span is committed
  const fill = spawnSync(python, [join(here, "fill.py"), `${base}/v1/traces`, repo], { encoding: "utf8" });
  assert.equal(fill.status, 0, fill.stderr);
  assert.equal((await api("/v1/projects/support-bot/sessions?limit=200")).data.length, 44);
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
  page.on("dialog", (d) => {
    throw new Error(`unexpected dialog: ${d.message()}`);
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (Object.keys(timings).length) console.log(`# ui timings (ms): ${JSON.stringify(timings)}`);
});

const rows = () => page.locator("[data-testid=session-row]");
const rowIds = async () => (await rows().locator(".cell.id").allInnerTexts()).map((s) => s.trim());

describe("the sessions UI", () => {
  it("lists projects with their counts", async () => {
    await page.goto(base + "/");
    const table = page.getByTestId("projects");
    await table.waitFor();
    const text = await table.innerText();
    assert.match(text, /support-bot/);
    assert.match(text, /44/);
    // the header names the server's version and commit, as /healthz does
    const { version } = await api("/healthz");
    assert.match(version, /^\d+\.\d+\.\d+ \(/);
    assert.equal(await page.getByTestId("server-version").innerText(), version);
    await shot("projects");
  });

  it("lists sessions, newest first, and opens fast", async () => {
    const t0 = Date.now();
    await page.goto(base + "/projects/support-bot/sessions");
    await rows().first().waitFor();
    timings.sessions_page = Date.now() - t0;
    assert.ok((await rows().count()) >= 20, "rows are rendered");
    assert.equal((await rowIds())[0], "s-long"); // started last
    await shot("sessions");
  });

  it("sorts by turns, and the sort survives a reload", async () => {
    await page.getByRole("button", { name: /^Turns/ }).click();
    await page.waitForURL(/sort=num_traces/);
    const turns = async () => (await rows().locator(".cell.num").allInnerTexts()).filter((_, i) => i % 5 === 0).map(Number);
    const descending = (xs) => xs.every((x, i) => i === 0 || xs[i - 1] >= x);
    // the previous order (newest first) also starts with s-long: wait for the new one
    await until("rows sorted by turns", () => {
      const t = [...document.querySelectorAll("[data-testid=session-row]")].map((r) => Number(r.querySelector(".cell.num").textContent));
      return t.length > 2 && t[0] === 1000 && t[1] === 5 && t.every((x, i) => i === 0 || t[i - 1] >= x);
    });
    const first = await turns();
    assert.ok(descending(first), JSON.stringify(first));
    await page.reload();
    await rows().first().waitFor();
    assert.deepEqual(await turns(), first);
  });

  it("filters by user, tag, metadata and minimum turns", async () => {
    await page.goto(base + "/projects/support-bot/sessions?user=user-1");
    await rows().first().waitFor();
    // the users column: after the session id, its status and first input and last output
    await rows().first().locator(".cell").nth(4).filter({ hasText: /^user-1$/ }).waitFor();
    const users = await rows().evaluateAll((els) => els.map((e) => e.children[4].textContent));
    assert.ok(users.length === 10 && users.every((u) => u === "user-1"), JSON.stringify(users));

    await page.goto(base + "/projects/support-bot/sessions?tag=vip&metadata=plan%3Dpro");
    await rowIdsAre("s-030,s-000");

    await page.goto(base + "/projects/support-bot/sessions?min_turns=5");
    await countIs(ROW, 9);
  });

  it("narrows sessions to a custom time window", async () => {
    await page.goto(base + "/projects/support-bot/sessions?range=custom&from=2099-01-01T00:00:00Z");
    await page.getByText("No session matches these filters.").waitFor();
    assert.equal(await page.locator("select[name=range]").inputValue(), "custom");
    assert.equal(await page.locator("input[name=from]").count(), 1);
    await page.goto(base + "/projects/support-bot/sessions?range=custom&from=2000-01-01T00:00:00Z&to=2099-01-01T00:00:00Z");
    await page.getByTestId("sessions-count").filter({ hasText: /^44 sessions shown/ }).waitFor();
  });

  it("searches inputs and outputs from the search box", async () => {
    await page.goto(base + "/projects/support-bot/sessions");
    await rows().first().waitFor();
    await page.locator("input[name=q]").fill("password");
    await page.locator("input[name=q]").press("Enter");
    await page.waitForURL(/q=password/);
    await countIs(ROW, 8);
    for (const id of await rowIds()) assert.equal(Number(id.slice(2)) % 5, 2, id);
  });

  it("shows a session as a conversation, in order", async () => {
    const t0 = Date.now();
    await page.goto(base + "/projects/support-bot/sessions/browser-chat");
    await page.getByTestId("turn").nth(2).waitFor();
    timings.session_page = Date.now() - t0;
    const inputs = await page.getByTestId("turn-input").locator(".markdown").allInnerTexts();
    assert.deepEqual(inputs, [
      "My invoice shows the wrong VAT number",
      "Can you resend it to billing@example.com?",
      "Thanks, that worked",
    ]);
    const outputs = await page.getByTestId("turn-output").locator(".markdown").allInnerTexts();
    assert.equal(outputs[1], "Done: invoice INV-1042 was sent to billing@example.com.");
    const header = await page.getByTestId("session-header").innerText();
    assert.match(header, /user user-42/);
    assert.match(header, /#billing/);
    await shot("session");

    // j / k move between turns
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    await page.locator(".turn.current#turn-1").waitFor();
    await page.keyboard.press("k");
    await page.locator(".turn.current#turn-0").waitFor();

    // the steps of a turn expand inline
    await page.getByRole("button", { name: /^steps/ }).first().click();
    const steps = await page.getByTestId("steps").first().innerText();
    assert.match(steps, /TOOL/);
    assert.match(steps, /lookup_invoice/);
    assert.match(steps, /LLM/);
  });

  it("downloads the whole conversation as a Markdown transcript", async () => {
    await page.goto(base + "/projects/support-bot/sessions/browser-chat");
    await page.getByTestId("turn").first().waitFor();
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "download transcript" }).click(),
    ]);
    assert.equal(file.suggestedFilename(), "session-browser-chat.md");
    const text = readFileSync(await file.path(), "utf8");
    const order = ["My invoice shows the wrong VAT number", "I corrected the VAT number", "Can you resend it", "Thanks, that worked"];
    const positions = order.map((t) => text.indexOf(t));
    assert.ok(positions.every((p) => p >= 0), text);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    await page.getByRole("link", { name: "view trace" }).first().waitFor();
  });

  it("opens a turn's trace: span tree, details, and the way back", async () => {
    await page.getByRole("link", { name: "view trace" }).first().click();
    await page.getByTestId("span-tree").waitFor();
    const tree = await page.getByTestId("span-tree").innerText();
    assert.match(tree, /chat-turn/);
    assert.match(tree, /lookup_invoice/);
    assert.match(tree, /ChatCompletion/);
    await page.getByRole("treeitem", { name: /ChatCompletion/ }).click();
    await page.waitForURL(/span=/);
    const details = await page.getByTestId("span-details").innerText();
    assert.match(details, /LLM input messages/i);
    assert.match(details, /You are the billing assistant/);
    await shot("trace");
    await page.reload();
    await page.getByTestId("span-details").waitFor();
    assert.match(await page.getByTestId("span-details").innerText(), /ChatCompletion/);
    await page.getByTestId("back-to-session").click();
    await page.getByTestId("turn").first().waitFor();
    assert.match(page.url(), /sessions\/browser-chat$/);
  });

  it("opens a 1,000-turn session quickly and pages through it", async () => {
    const t0 = Date.now();
    await page.goto(base + "/projects/support-bot/sessions/s-long");
    await page.getByTestId("turn").first().waitFor();
    timings.long_session_page = Date.now() - t0;
    assert.equal(await page.getByTestId("turn").count(), 50);
    assert.equal(await page.getByTestId("turn-input").first().locator(".markdown").innerText(), "long question 0000");
    // a page of 50 more turns each time the end of the conversation scrolls into view
    for (const last of [99, 149]) {
      await page.getByTestId("turn").last().scrollIntoViewIfNeeded();
      await page.getByTestId("turn").nth(last).waitFor({ state: "attached" });
    }
    const inputs = await page.getByTestId("turn-input").locator(".markdown").allInnerTexts();
    assert.deepEqual(inputs.slice(98, 101), ["long question 0098", "long question 0099", "long question 0100"]);
  });

  it("records verdicts: thumbs that toggle, named annotations, evaluator results", async () => {
    await page.goto(base + "/projects/support-bot/sessions/browser-chat");
    const panel = page.getByTestId("annotations");
    await panel.getByText("No verdict on this session yet.").waitFor();
    await panel.getByTestId("thumbs-up").click();
    await panel.getByTestId("annotation").first().waitFor();
    // the thumbs read as text whether or not an emoji font is installed
    assert.match(await panel.getByTestId("thumbs-up").innerText(), /Good/);
    assert.match(await panel.getByTestId("annotation").first().innerText(), /user_feedback[\s\S]*HUMAN[\s\S]*thumbs_up/);
    assert.equal(await panel.getByTestId("thumbs-up").getAttribute("aria-pressed"), "true");
    await panel.getByTestId("thumbs-down").click();
    await panel.getByTestId("annotation").first().filter({ hasText: "thumbs_down" }).waitFor();
    assert.equal(await panel.getByTestId("annotation").count(), 1, "the thumbs replace each other");

    await panel.getByText("add an annotation").click();
    await panel.locator("input[name=name]").fill("goal_completion");
    await panel.locator("input[name=label]").fill("met");
    await panel.locator("input[name=score]").fill("0.75");
    await panel.locator("input[name=explanation]").fill("the VAT number was fixed");
    await panel.getByRole("button", { name: "Save" }).click();
    await panel.getByTestId("annotation").filter({ hasText: "goal_completion" }).waitFor();
    assert.equal(await panel.getByTestId("annotation").count(), 2);
    await page.getByTestId("session-header").filter({ hasText: /goal_completion: 0\.75 · met/ }).waitFor();
    const stored = await api("/v1/projects/support-bot/sessions/browser-chat/annotations");
    assert.deepEqual(stored.data.map((a) => [a.name, a.label, a.score]), [
      ["user_feedback", "thumbs_down", 0],
      ["goal_completion", "met", 0.75],
    ]);
    await panel.getByRole("button", { name: "delete goal_completion" }).click();
    await panel.getByTestId("annotation").filter({ hasText: "goal_completion" }).waitFor({ state: "detached" });
    assert.equal(await panel.getByTestId("annotation").count(), 1);

    assert.deepEqual(
      stored.data.map((a) => a.source),
      ["APP", "APP"],
      "written in the UI",
    );

    // a verdict and a note logged through Phoenix's API, as its clients send them,
    // show on the session page; the note stays out of the header's summary
    const phoenix = async (path, body) => {
      const r = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(r.status, 200, `${path}: ${await r.text()}`);
    };
    await phoenix("/v1/session_annotations?sync=true", {
      data: [{ session_id: "browser-chat", name: "resolution", annotator_kind: "LLM", result: { label: "resolved", score: 1 }, metadata: null, identifier: "" }],
    });
    await phoenix("/v1/session_notes", { data: { session_id: "browser-chat", note: "customer asked twice" } });
    await page.reload();
    await panel.getByTestId("annotation").filter({ hasText: /resolution[\s\S]*LLM[\s\S]*resolved/ }).waitFor();
    // notes are listed apart from the verdicts
    await panel.getByTestId("note").filter({ hasText: "customer asked twice" }).waitFor();
    assert.equal(await panel.getByTestId("annotation").filter({ hasText: "customer asked twice" }).count(), 0);
    await page.getByTestId("session-header").filter({ hasText: /resolution: 1\.00 · resolved/ }).waitFor();
    assert.doesNotMatch(await page.getByTestId("session-header").innerText(), /\bnote: /);

    // the evaluator's verdicts show in the sessions table
    await page.goto(base + "/projects/support-bot/sessions?errors=1");
    await rowIdsAre("s-error");
    assert.match(await rows().first().innerText(), /error_free: 0\.00 · had_errors/);
  });

  it("makes errored turns stand out", async () => {
    await page.goto(base + "/projects/support-bot/sessions?errors=1");
    await rowIdsAre("s-error");
    assert.ok(await rows().first().evaluate((el) => el.classList.contains("has-error")));
    await page.goto(base + "/projects/support-bot/sessions/s-error");
    await page.locator(".turn.turn-error").waitFor();
  });

  it("renders hostile LLM output without running it", async () => {
    await page.goto(base + "/projects/support-bot/sessions/s-xss");
    const output = page.getByTestId("turn-output").locator(".markdown");
    // the Markdown is rendered: whatever it injected is in the DOM now
    await output.locator("strong").first().waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await output.locator("script, img, iframe").count(), 0);
    assert.match(await output.innerHTML(), /<strong>bold text<\/strong>/);
    assert.equal(await output.locator("a[href^=javascript]").count(), 0);
    // clicking what is left of the link runs nothing either
    await output.locator("a").first().click();
    // a frame later, the click and anything it started have run
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve))));
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  });

  it("teaches what to do on an empty project", async () => {
    await page.goto(base + "/projects/nothing-here/sessions");
    await page.getByText("No sessions in this project yet").waitFor();
    assert.match(await page.locator(".empty").innerText(), /using_session/);
  });
});
