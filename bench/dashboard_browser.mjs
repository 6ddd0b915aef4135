// bench/dashboard_browser.mjs: the dashboard drawn in a real browser.
//
//   node bench/dashboard_browser.mjs --url http://127.0.0.1:PORT [--loads N] [--budget-seconds B]
//                                    [--timeout-seconds T] [--timezone Z] [--label L]
//
// Debian's chromium (CHROMIUM_BINARY, default /usr/bin/chromium), driven by
// playwright-core, launched as the browser tests launch it (headless, no
// sandbox, no GPU, no background networking). Each load opens GET / in a
// fresh browser context (an empty cache, as a first visit) and times, from
// the navigation's start (performance.timeOrigin), until both the timeline's
// bars (the .tl-item elements under #timeline, in a chart that is not
// hidden, or the "no incidents" notice when the week has none) and the 90-day availability
// bars (.day elements under #availability) are in the page, plus the next
// animation frame (the one that paints them). One load first, not counted,
// warms the browser up; then up to N loads (default 10), none started after
// B seconds (default 30); each may take T seconds (default 30) before it
// counts as an error (a timeout). When the first load runs out of time, no
// other starts. The page's event stream stays open while a
// load is timed, as in any browser.
//
// Prints one JSON line as the other benchmark programs do (bench_common.h):
// the p50/p99 of the whole draw, and of the timeline and the availability
// bars apart; the requests the first load made go to stderr. Exits 0 after
// printing, whatever the figures; 2 when it could not measure at all.
import { chromium } from "playwright-core";

const options = {
  url: "",
  loads: 10,
  "budget-seconds": 30,
  "timeout-seconds": 30,
  timezone: "UTC",
  label: "chromium dashboard drawn",
};
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, "");
  if (!(name in options) || i + 1 >= process.argv.length) {
    console.error("dashboard_browser: unknown option or missing value: " + process.argv[i]);
    process.exit(2);
  }
  options[name] = process.argv[i + 1];
}
if (!options.url.startsWith("http://127.0.0.1:")) {
  console.error("dashboard_browser: --url must be http://127.0.0.1:PORT (a server bench/run started)");
  process.exit(2);
}
const loads = Number(options.loads);
const budgetMs = Number(options["budget-seconds"]) * 1000;
const timeoutMs = Number(options["timeout-seconds"]) * 1000;
const LAUNCH_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;

// The whole program's limit: the warm-up load, the budget, one more load
// that may run over it, the launch and the closing.
const guard = setTimeout(() => {
  console.error("dashboard_browser: over its time limit; giving up");
  process.exit(2);
}, LAUNCH_TIMEOUT_MS + 2 * timeoutMs + budgetMs + 2 * CLOSE_TIMEOUT_MS);
guard.unref();

// Runs in the page before its own scripts: notes when the bars appear.
function watchForBars() {
  const marks = {};
  window.__benchDrawn = marks;
  // The bars count once their chart shows (is not visibility: hidden).
  const chartShown = () => {
    const chart = document.querySelector("#timeline .tl-chart");
    return chart !== null && getComputedStyle(chart).visibility !== "hidden";
  };
  let waitingForChart = false;
  const check = () => {
    if (marks.timeline === undefined && !waitingForChart) {
      const items = document.querySelectorAll("#timeline .tl-item").length;
      const empty = document.getElementById("timeline-empty");
      const ready = document.body && document.body.dataset.ready === "true";
      if (ready && empty && !empty.hidden) {
        marks.timeline = performance.now();
        marks.items = 0;
      } else if (items > 0) {
        waitingForChart = true;
        const whenShown = () => {
          if (!chartShown()) return requestAnimationFrame(whenShown);
          marks.timeline = performance.now();
          marks.items = document.querySelectorAll("#timeline .tl-item").length;
          check();
        };
        whenShown();
      }
    }
    if (marks.availability === undefined) {
      const bars = document.querySelectorAll("#availability .day").length;
      if (bars > 0) {
        marks.availability = performance.now();
        marks.bars = bars;
      } else if (document.querySelector("#availability .notice-error")) {
        marks.failed = "the page says: " + document.querySelector("#availability .notice-error").textContent;
      }
    }
    if (marks.timeline !== undefined && marks.availability !== undefined && marks.pending === undefined) {
      marks.pending = true;
      observer.disconnect();
      requestAnimationFrame(() => { marks.drawn = performance.now(); });
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["hidden"] });
}

function quantile(values, q) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function withTimeout(promise, ms) {
  let timer;
  const limit = new Promise((resolve) => { timer = setTimeout(() => resolve("timeout"), ms); });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function loadOnce(browser) {
  const context = await browser.newContext({
    timezoneId: options.timezone,
    locale: "en-GB",
    viewport: { width: 1400, height: 1000 },
  });
  const requests = [];
  try {
    await context.addInitScript(watchForBars);
    const page = await context.newPage();
    page.on("request", (request) => requests.push(request.url().replace(options.url, "")));
    await page.goto(options.url + "/", { timeout: timeoutMs, waitUntil: "commit" });
    await page.waitForFunction(() => window.__benchDrawn && (window.__benchDrawn.drawn !== undefined ||
      window.__benchDrawn.failed !== undefined), null, { timeout: timeoutMs });
    const marks = await page.evaluate(() => window.__benchDrawn);
    if (marks.failed) return { ok: false, failure: marks.failed, requests };
    return { ok: true, marks, requests };
  } catch (error) {
    const timedOut = error && error.name === "TimeoutError";
    return { ok: false, timedOut, failure: String(error && error.message).split("\n")[0], requests };
  } finally {
    await withTimeout(context.close(), CLOSE_TIMEOUT_MS);
  }
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BINARY || "/usr/bin/chromium",
    timeout: LAUNCH_TIMEOUT_MS,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
} catch (error) {
  console.error("dashboard_browser: cannot launch chromium: " + error.message);
  process.exit(2);
}

const drawn = [];
const timelines = [];
const availabilities = [];
let errors = 0;
let timeouts = 0;
let firstFailure = "";
let items = 0;
let bars = 0;
const warm = await loadOnce(browser);
if (!warm.ok) {
  errors += 1;
  if (warm.timedOut) timeouts += 1;
  firstFailure = "warm-up load: " + warm.failure;
}
console.error("dashboard_browser: the first load's requests, in order: " + warm.requests.join(" "));
const started = Date.now();
let measured = 0;
// A warm-up that ran out of time says the others would too (the service
// may well still be working on its answer): none is started.
const planned = warm.timedOut ? 0 : loads;
for (let n = 0; n < planned && Date.now() - started < budgetMs; ++n) {
  const result = await loadOnce(browser);
  measured += 1;
  if (!result.ok) {
    errors += 1;
    if (result.timedOut) timeouts += 1;
    if (!firstFailure) firstFailure = result.failure;
    continue;
  }
  drawn.push(result.marks.drawn);
  timelines.push(result.marks.timeline);
  availabilities.push(result.marks.availability);
  items = result.marks.items;
  bars = result.marks.bars;
}
const seconds = (Date.now() - started) / 1000;
await withTimeout(browser.close(), CLOSE_TIMEOUT_MS);
if (firstFailure) console.error("dashboard_browser: " + firstFailure);
const round = (value) => Math.round(value * 1000) / 1000;
console.log(JSON.stringify({
  bench: "browser",
  label: options.label,
  ops: drawn.length,
  errors,
  seconds: round(seconds),
  ops_per_second: seconds > 0 ? round(drawn.length / seconds) : 0,
  p50_ms: round(quantile(drawn, 0.5)),
  p99_ms: round(quantile(drawn, 0.99)),
  timeouts,
  loads: measured,
  timeline_p50_ms: round(quantile(timelines, 0.5)),
  availability_p50_ms: round(quantile(availabilities, 0.5)),
  timeline_items: items,
  availability_bars: bars,
  requests_per_load: warm.requests.length,
}));
process.exit(0);
