/* global window */
// The UI in a real browser (Debian's Chromium driven by playwright-core) against
// the real server, filled through the real Python package.
//
//   OI_SESSIONS_BIN=target/release/oi-sessions OI_PYTHON=.venv/bin/python node --test tests/browser/
//   UI_SCREENSHOTS=../docs/screenshots ...   also writes screenshots of the main pages
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const bin = process.env.OI_SESSIONS_BIN ?? join(repo, "target/release/oi-sessions");
const python = process.env.OI_PYTHON ?? join(repo, ".venv/bin/python");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = process.env.UI_SCREENSHOTS ? resolve(process.cwd(), process.env.UI_SCREENSHOTS) : null;

let server;
let base;
let browser;
let page;
let dataDir;
const timings = {};

async function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), "oi-ui-"));
  server = spawn(bin, ["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "off", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: server.stdout });
  for await (const line of lines) {
    const m = /listening http=(\S+)/.exec(line);
    if (m) return `http://${m[1]}`;
  }
  throw new Error("server exited before listening");
}

async function api(path) {
  const r = await fetch(base + path);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

async function waitFor(check, what) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shot(name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

before(async () => {
  base = await startServer();
  const fill = spawnSync(python, [join(here, "fill.py"), `${base}/v1/traces`, repo], { encoding: "utf8" });
  assert.equal(fill.status, 0, fill.stderr);
  await waitFor(async () => (await api("/v1/projects/support-bot/sessions?limit=200")).data.length === 44, "44 sessions");
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
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
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
    await waitFor(async () => {
      const t = await turns();
      return t.length > 2 && t[0] === 1000 && t[1] === 5 && descending(t);
    }, "rows sorted by turns");
    const first = await turns();
    await page.reload();
    await rows().first().waitFor();
    assert.deepEqual(await turns(), first);
  });

  it("filters by user, tag, metadata and minimum turns", async () => {
    await page.goto(base + "/projects/support-bot/sessions?user=user-1");
    await rows().first().waitFor();
    await waitFor(async () => (await rows().locator(".cell").nth(3).innerText()) === "user-1", "user filter");
    const users = await rows().evaluateAll((els) => els.map((e) => e.children[3].textContent));
    assert.ok(users.length === 10 && users.every((u) => u === "user-1"), JSON.stringify(users));

    await page.goto(base + "/projects/support-bot/sessions?tag=vip&metadata=plan%3Dpro");
    await waitFor(async () => (await rowIds()).join() === "s-030,s-000", "tag + metadata filter");

    await page.goto(base + "/projects/support-bot/sessions?min_turns=5");
    await waitFor(async () => (await rows().count()) === 9, "min turns");
  });

  it("narrows sessions to a custom time window", async () => {
    await page.goto(base + "/projects/support-bot/sessions?range=custom&from=2099-01-01T00:00:00Z");
    await page.getByText("No session matches these filters.").waitFor();
    assert.equal(await page.locator("select[name=range]").inputValue(), "custom");
    assert.equal(await page.locator("input[name=from]").count(), 1);
    await page.goto(base + "/projects/support-bot/sessions?range=custom&from=2000-01-01T00:00:00Z&to=2099-01-01T00:00:00Z");
    await waitFor(async () => /^44 sessions shown/.test(await page.getByTestId("sessions-count").innerText()), "all 44 in the window");
  });

  it("searches inputs and outputs from the search box", async () => {
    await page.goto(base + "/projects/support-bot/sessions");
    await rows().first().waitFor();
    await page.locator("input[name=q]").fill("password");
    await page.locator("input[name=q]").press("Enter");
    await page.waitForURL(/q=password/);
    await waitFor(async () => (await rows().count()) === 8, "8 password sessions");
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
    await waitFor(async () => (await page.locator(".turn.current").getAttribute("id")) === "turn-1", "j twice");
    await page.keyboard.press("k");
    await waitFor(async () => (await page.locator(".turn.current").getAttribute("id")) === "turn-0", "k");

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
    for (let i = 0; i < 3; i++) await page.getByTestId("turn").last().scrollIntoViewIfNeeded();
    await waitFor(async () => (await page.getByTestId("turn").count()) >= 150, "more turns as the end scrolls into view");
    const inputs = await page.getByTestId("turn-input").locator(".markdown").allInnerTexts();
    assert.deepEqual(inputs.slice(98, 101), ["long question 0098", "long question 0099", "long question 0100"]);
  });

  it("records verdicts: thumbs that toggle, named annotations, evaluator results", async () => {
    await page.goto(base + "/projects/support-bot/sessions/browser-chat");
    const panel = page.getByTestId("annotations");
    await panel.getByText("No verdict on this session yet.").waitFor();
    await panel.getByRole("button", { name: "👍" }).click();
    await panel.getByTestId("annotation").first().waitFor();
    assert.match(await panel.getByTestId("annotation").first().innerText(), /user_feedback[\s\S]*HUMAN[\s\S]*thumbs_up/);
    assert.equal(await panel.getByRole("button", { name: "👍" }).getAttribute("aria-pressed"), "true");
    await panel.getByRole("button", { name: "👎" }).click();
    await waitFor(async () => /thumbs_down/.test(await panel.getByTestId("annotation").first().innerText()), "toggled");
    assert.equal(await panel.getByTestId("annotation").count(), 1, "the thumbs replace each other");

    await panel.getByText("add an annotation").click();
    await panel.locator("input[name=name]").fill("goal_completion");
    await panel.locator("input[name=label]").fill("met");
    await panel.locator("input[name=score]").fill("0.75");
    await panel.locator("input[name=explanation]").fill("the VAT number was fixed");
    await panel.getByRole("button", { name: "Save" }).click();
    await waitFor(async () => (await panel.getByTestId("annotation").count()) === 2, "second annotation");
    const header = page.getByTestId("session-header");
    await waitFor(async () => /goal_completion: 0\.75 · met/.test(await header.innerText()), "header summary");
    const stored = await api("/v1/projects/support-bot/sessions/browser-chat/annotations");
    assert.deepEqual(stored.data.map((a) => [a.name, a.label, a.score]), [
      ["user_feedback", "thumbs_down", 0],
      ["goal_completion", "met", 0.75],
    ]);
    await panel.getByRole("button", { name: "delete goal_completion" }).click();
    await waitFor(async () => (await panel.getByTestId("annotation").count()) === 1, "deleted");

    // the evaluator's verdicts show in the sessions table
    await page.goto(base + "/projects/support-bot/sessions?errors=1");
    await waitFor(async () => (await rowIds()).join() === "s-error", "errored session");
    assert.match(await rows().first().innerText(), /error_free: 0\.00 · had_errors/);
  });

  it("makes errored turns stand out", async () => {
    await page.goto(base + "/projects/support-bot/sessions?errors=1");
    await waitFor(async () => (await rowIds()).join() === "s-error", "errors filter");
    assert.ok(await rows().first().evaluate((el) => el.classList.contains("has-error")));
    await page.goto(base + "/projects/support-bot/sessions/s-error");
    await page.locator(".turn.turn-error").waitFor();
  });

  it("renders hostile LLM output without running it", async () => {
    await page.goto(base + "/projects/support-bot/sessions/s-xss");
    const output = page.getByTestId("turn-output").locator(".markdown");
    await output.waitFor();
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await output.locator("script, img, iframe").count(), 0);
    assert.match(await output.innerHTML(), /<strong>bold text<\/strong>/);
    assert.equal(await output.locator("a[href^=javascript]").count(), 0);
    // clicking what is left of the link runs nothing either
    await output.locator("a").first().click();
    await page.waitForTimeout(200);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  });

  it("teaches what to do on an empty project", async () => {
    await page.goto(base + "/projects/nothing-here/sessions");
    await page.getByText("No sessions in this project yet").waitFor();
    assert.match(await page.locator(".empty").innerText(), /using_session/);
  });
});
