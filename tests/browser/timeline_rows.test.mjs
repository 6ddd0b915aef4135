// Browser test of a timeline with more rows than fit: the chart stays at most
// 65% of the window high, draws the bars of the rows in view, and those of
// the others when they are scrolled to; a bar drawn that way opens its
// tooltip and its incident like any other. Its own service, so that the
// many incidents do not change what dashboard.test.mjs expects.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startService, launchBrowser, openPage, api, hoursAgo } from "./harness.mjs";

const WAIT_MS = 15_000;
const SYSTEMS = 30;
let service;
let chrome;
const tickets = [];

before(async () => {
  service = await startService();
  chrome = await launchBrowser();
  for (let n = 1; n <= SYSTEMS; ++n) {
    const system = "sys-" + String(n).padStart(2, "0");
    const answer = await api(service.url, "POST", "/api/v1/submissions", {
      action: "create", title: "Outage on " + system, description: "Row " + n, systems: [system],
      engineer: "Gus Ortega", severity: "major", started_at: hoursAgo(24 + n),
    });
    assert.equal(answer.status, 201, answer.text);
    tickets.push(answer.json.ticket);
  }
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
});

test("rows beyond the chart's height scroll into view with their bars, tooltips and links", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  const first = page.locator(".tl-item.ticket-" + tickets[0]);
  await first.waitFor({ timeout: WAIT_MS });
  assert.equal(await page.locator(".tl-labelset .tl-label").count(), SYSTEMS, "one row per system");
  const { chartHeight, windowHeight } = await page.evaluate(() => ({
    chartHeight: document.querySelector("#timeline .tl-chart").getBoundingClientRect().height,
    windowHeight: window.innerHeight,
  }));
  assert.ok(chartHeight <= windowHeight * 0.65 + 1, `the chart is ${chartHeight} px high in a ${windowHeight} px window`);
  const last = page.locator(".tl-item.ticket-" + tickets[SYSTEMS - 1]);
  assert.equal(await last.count(), 0, "the last row is out of view, its bar not drawn yet");
  // Every incident is in the table all the same.
  assert.equal(await page.locator("#incident-table tbody tr").count(), SYSTEMS);

  // Scrolling the row names down brings the last row and its bar.
  await page.hover(".tl-labelset .tl-label >> nth=0");
  await page.mouse.wheel(0, 5000);
  await last.waitFor({ timeout: WAIT_MS });
  await page.waitForFunction(() => /sys-30/.test(Array.from(document.querySelectorAll(".tl-labelset .tl-label"))
    .filter((label) => { const box = label.getBoundingClientRect(); const chart = document.querySelector("#timeline .tl-chart").getBoundingClientRect();
      return box.top >= chart.top && box.bottom <= chart.bottom + 1; })
    .map((label) => label.textContent).join(" ")), null, { timeout: WAIT_MS });
  await last.hover();
  const tip = page.locator("div.tl-tooltip");
  await page.waitForFunction((title) => document.querySelector("div.tl-tooltip .tip-title")?.textContent === title,
    "Outage on sys-30", { timeout: WAIT_MS });
  assert.equal(await tip.locator(".tip-ticket").textContent(), tickets[SYSTEMS - 1]);
  assert.equal(await tip.locator(".tip-systems").textContent(), "sys-30");
  assert.equal(await tip.locator(".tip-engineer").textContent(), "Gus Ortega");
  assert.equal(await tip.locator("a.tip-link").getAttribute("href"), "/incidents/" + tickets[SYSTEMS - 1]);
  await opened.screenshot("timeline-rows-scrolled");
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+$/), last.click()]);
  assert.match(page.url(), new RegExp("/incidents/" + tickets[SYSTEMS - 1] + "$"));
  await opened.close();
});
