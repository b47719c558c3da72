// Time to interactive of the sessions page and a session page on a server that
// already holds data (the 300k-span benchmark set): navigation start to the
// first rows / turns rendered, median of 5 cold loads each, in real Chromium.
//
//   node tests/browser/perf.mjs http://127.0.0.1:6006 <project>
import { chromium } from "playwright-core";

const [base, project = "bench"] = process.argv.slice(2);
if (!base) {
  console.error("usage: node tests/browser/perf.mjs <server url> [project]");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(url, selector) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(url);
    await page.locator(selector).first().waitFor({ timeout: 30_000 });
    times.push(Date.now() - t0);
    await context.close();
  }
  return { median_ms: median(times), runs_ms: times };
}

const sessions = await (await fetch(`${base}/v1/projects/${encodeURIComponent(project)}/sessions?limit=1`)).json();
const sessionId = sessions.data[0]?.session_id;
const result = {
  sessions_page: await measure(`${base}/projects/${encodeURIComponent(project)}/sessions`, "[data-testid=session-row]"),
  sessions_page_sorted_by_tokens: await measure(
    `${base}/projects/${encodeURIComponent(project)}/sessions?sort=total_tokens`,
    "[data-testid=session-row]",
  ),
  sessions_page_text_search: await measure(
    `${base}/projects/${encodeURIComponent(project)}/sessions?q=refund`,
    "[data-testid=session-row]",
  ),
  session_page: await measure(
    `${base}/projects/${encodeURIComponent(project)}/sessions/${encodeURIComponent(sessionId)}`,
    "[data-testid=turn]",
  ),
};
console.log(JSON.stringify(result, null, 2));
await browser.close();
