// Browser tests of planned maintenance, impact and the availability bars:
// the maintenance form without JavaScript; the dashboard's timeline with a
// scheduled and an ongoing window in their own style and in the banner, a
// degraded and a partial incident in their own colours (and the tooltip
// saying so); and the 90-day bars read back from the page and compared with
// GET /api/v1/availability. The real service binary, Debian's chromium,
// playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startService, launchBrowser, openPage, api, hoursAgo } from "./harness.mjs";

const WAIT_MS = 15_000;
const ZONE = "Europe/Berlin";
const HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>\"'&amp;";
let service;
let chrome;
const tickets = {};
const windows = {};

function hoursFromNow(hours) {
  return hoursAgo(-hours);
}

// `days` days ago at 12:00 UTC, plus `hours`: 13:00 or 14:00 in Berlin, so
// two such times on different days fall on different days of the bars
// whatever the time of day the test runs at (hour offsets from now would
// put a window 72 h ago and an outage 50 h ago on one Berlin day when the
// test runs just after midnight there).
function noonDaysAgo(days, hours = 0) {
  const now = new Date();
  const noon = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - days, 12) + hours * 3600 * 1000;
  return new Date(noon).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function post(pathname, body) {
  const answer = await api(service.url, "POST", pathname, body);
  assert.equal(answer.status, 201, pathname + " " + answer.text);
  return answer.json;
}

before(async () => {
  service = await startService();
  chrome = await launchBrowser();
  // Upcoming tomorrow; in progress since 2 hours; run 3 days ago (at noon
  // UTC); cancelled.
  windows.upcoming = (await post("/api/v1/maintenance", {
    action: "schedule", title: "Relay patch " + HOSTILE, systems: ["mail"],
    starts_at: hoursFromNow(24), ends_at: hoursFromNow(27), description: "Kernel " + HOSTILE,
  })).window;
  windows.ongoing = (await post("/api/v1/maintenance", {
    action: "schedule", title: "Database upgrade", systems: ["db"], starts_at: hoursAgo(3), ends_at: hoursFromNow(1),
  })).window;
  await post("/api/v1/maintenance", { action: "start", window: windows.ongoing, at: hoursAgo(2) });
  windows.past = (await post("/api/v1/maintenance", {
    action: "schedule", title: "Switch swap", systems: ["web"], starts_at: noonDaysAgo(3), ends_at: noonDaysAgo(3, 2),
  })).window;
  await post("/api/v1/maintenance", { action: "start", window: windows.past, at: noonDaysAgo(3) });
  await post("/api/v1/maintenance", { action: "end", window: windows.past, at: noonDaysAgo(3, 1) });
  windows.cancelled = (await post("/api/v1/maintenance", {
    action: "schedule", title: "Never", systems: ["mail"], starts_at: hoursFromNow(30), ends_at: hoursFromNow(31),
  })).window;
  await post("/api/v1/maintenance", { action: "cancel", window: windows.cancelled });
  // Incidents: degraded, partial and full.
  tickets.degraded = (await post("/api/v1/submissions", {
    action: "create", title: "Slow lookups", systems: ["dns"], engineer: "Ana", severity: "minor",
    impact: "degraded", phase: "identified", started_at: hoursAgo(10),
  })).ticket;
  await post("/api/v1/submissions", { action: "close", ticket: tickets.degraded, ended_at: hoursAgo(8) });
  tickets.partial = (await post("/api/v1/submissions", {
    action: "create", title: "Some mailboxes", systems: ["mail"], engineer: "Bo", severity: "minor",
    impact: "partial", started_at: hoursAgo(30),
  })).ticket;
  await post("/api/v1/submissions", { action: "close", ticket: tickets.partial, ended_at: hoursAgo(29) });
  tickets.full = (await post("/api/v1/submissions", {
    action: "create", title: "Web down", systems: ["web"], engineer: "Cy", severity: "minor",
    started_at: noonDaysAgo(2),
  })).ticket;
  await post("/api/v1/submissions", { action: "close", ticket: tickets.full, ended_at: noonDaysAgo(2, 1) });
  // Days back: degraded on web a week ago (a day of its own colour).
  const old = (await post("/api/v1/submissions", {
    action: "create", title: "Slow web", systems: ["web"], engineer: "Cy", impact: "degraded", started_at: hoursAgo(24 * 8),
  })).ticket;
  await post("/api/v1/submissions", { action: "close", ticket: old, ended_at: hoursAgo(24 * 8 - 2) });
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
});

// `expected`: console errors a step asked for (a refused form post).
async function finish(opened, expected = []) {
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened: injected script ran");
  const errors = opened.record.consoleErrors.filter((text) =>
    !expected.some((pattern) => pattern.test(text)));
  assert.deepEqual(errors, [], "console errors");
  await opened.close();
}

test("the maintenance form schedules and starts a window without JavaScript", async () => {
  const opened = await openPage(chrome.browser, service.url, { javaScript: false });
  const { page } = opened;
  await page.goto(service.url + "/maintenance");
  await page.check("#maintenance-form input[name=action][value=schedule]");
  await page.fill("#m-title", "Form window " + HOSTILE);
  await page.fill("#m-systems", "files, print");
  await page.fill("#m-starts_at", "2030-01-02T08:00");
  await page.fill("#m-ends_at", "2030-01-02T10:00");
  await Promise.all([page.waitForURL(/\/maintenance\?recorded=/), page.click("#maintenance-form button[type=submit]")]);
  const recorded = await page.locator("#form-result").textContent();
  const name = /MNT-\d+/.exec(recorded)[0];
  const row = page.locator("#window-table tbody tr", { hasText: name });
  assert.equal(await row.locator("td").first().textContent(), "Form window " + HOSTILE);
  assert.equal(await page.locator("#window-table img, #window-table script").count(), 0);
  const stored = (await api(service.url, "GET", "/api/v1/maintenance/" + name)).json;
  // Without JavaScript the times are UTC.
  assert.deepEqual([stored.title, stored.systems, stored.starts_at, stored.ends_at],
    ["Form window " + HOSTILE, ["files", "print"], "2030-01-02T08:00:00Z", "2030-01-02T10:00:00Z"]);

  // An error names its field and keeps what was typed.
  await page.check("#maintenance-form input[name=action][value=end]");
  await page.fill("#m-window", name);
  await page.click("#maintenance-form button[type=submit]");
  await page.waitForSelector("#error-action:not([hidden]), #error-window:not([hidden]), #form-error:not([hidden])");
  assert.match(await page.locator("#error-action, #error-window, #form-error").allTextContents().then((t) => t.join(" ")),
    /scheduled|in_progress|start/);
  await page.check("#maintenance-form input[name=action][value=start]");
  await Promise.all([page.waitForURL(/\/maintenance\?recorded=/), page.click("#maintenance-form button[type=submit]")]);
  assert.equal((await api(service.url, "GET", "/api/v1/maintenance/" + name)).json.status, "in_progress");
  await opened.screenshot("maintenance-form");
  // Ended, so that the dashboard's banner below lists the windows set up before.
  await post("/api/v1/maintenance", { action: "end", window: name });
  await finish(opened, [/status of 409 \(Conflict\) \(http:\/\/127\.0\.0\.1:\d+\/maintenance\)$/]);
});

test("the dashboard shows windows in their own style and in the banner, and impacts in their own colours", async () => {
  const opened = await openPage(chrome.browser, service.url, { timezoneId: ZONE });
  const { page } = opened;
  const from = encodeURIComponent(hoursAgo(60));
  const to = encodeURIComponent(hoursFromNow(48));
  await page.goto(service.url + "/?from=" + from + "&to=" + to);
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });

  // The banner: the ongoing and the upcoming window, not the cancelled or the past one.
  const banner = page.locator("#maintenance-banner");
  assert.equal(await banner.isVisible(), true);
  const listed = await page.locator("#maintenance-list li").evaluateAll((items) => items.map((li) => li.dataset.window));
  assert.deepEqual(listed, [windows.ongoing, windows.upcoming]);
  assert.equal(await page.locator(`#maintenance-list li[data-window=${windows.upcoming}] .banner-title`).textContent(),
    "Relay patch " + HOSTILE);
  assert.match(await page.locator(`#maintenance-list li[data-window=${windows.ongoing}]`).textContent(), /in progress/);
  assert.equal(await page.locator("#maintenance-banner img, #maintenance-banner script").count(), 0);

  // The timeline: the windows as hatched bars of their own, not the cancelled one.
  const upcoming = page.locator(`.tl-item.window-${windows.upcoming}`);
  await upcoming.first().waitFor({ timeout: WAIT_MS });
  assert.match(await upcoming.first().getAttribute("class"), /\bmaintenance-scheduled\b/);
  assert.equal(await page.locator(`.tl-item.window-${windows.ongoing}.maintenance-in_progress`).count(), 1);
  assert.equal(await page.locator(`.tl-item.window-${windows.cancelled}`).count(), 0);
  const style = (locator) => locator.first().evaluate((node) => {
    const computed = getComputedStyle(node);
    return { background: computed.backgroundColor, image: computed.backgroundImage, border: computed.borderStyle };
  });
  const windowStyle = await style(upcoming);
  assert.match(windowStyle.image, /repeating-linear-gradient/);

  // Impacts: degraded and partial each in their own colour, unlike a full
  // incident of the same severity.
  const degraded = page.locator(`.tl-item.ticket-${tickets.degraded}`);
  const partial = page.locator(`.tl-item.ticket-${tickets.partial}`);
  const full = page.locator(`.tl-item.ticket-${tickets.full}`);
  assert.match(await degraded.getAttribute("class"), /\bimpact-degraded\b/);
  assert.match(await partial.getAttribute("class"), /\bimpact-partial\b/);
  const colours = [(await style(degraded)).background, (await style(partial)).background, (await style(full)).background];
  assert.equal(colours[0], "rgb(151, 117, 250)");
  assert.equal(new Set(colours).size, 3, "three impacts, three colours: " + colours.join(" "));
  assert.notEqual(windowStyle.image, "none");

  // The tooltips say the impact and the phase, and the window's times.
  await degraded.hover();
  const tip = page.locator("div.tl-tooltip");
  await tip.locator(".tip-impact").waitFor({ timeout: WAIT_MS });
  assert.equal(await tip.locator(".tip-impact").textContent(), "degraded");
  assert.equal(await tip.locator(".tip-phase").textContent(), "resolved");
  await opened.screenshot("maintenance-dashboard");
  await upcoming.first().hover();
  await page.waitForFunction((name) => document.querySelector("div.tl-tooltip .tip-ticket")?.textContent === name,
    windows.upcoming, { timeout: WAIT_MS });
  assert.equal(await page.locator("div.tl-tooltip .tip-title").textContent(), "Relay patch " + HOSTILE);
  assert.equal(await page.locator("div.tl-tooltip img, div.tl-tooltip script").count(), 0);
  await finish(opened);
});

// What the page should show for a day of GET /api/v1/availability, by the
// rule the legend states: downtime in shades of red, then degraded, then planned.
function expectedClass(day) {
  if (day.downtime_seconds === 0) {
    if (day.degraded_seconds > 0) return "day day-degraded";
    if (day.planned_seconds > 0) return "day day-planned";
    return "day day-up";
  }
  if (day.availability >= 0.99) return "day day-down-1";
  if (day.availability >= 0.95) return "day day-down-2";
  if (day.availability >= 0.75) return "day day-down-3";
  return "day day-down-4";
}

test("the 90-day bars equal GET /api/v1/availability", async () => {
  const opened = await openPage(chrome.browser, service.url, { timezoneId: ZONE });
  const { page } = opened;
  await page.goto(service.url + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.locator("#availability .availability-row").first().waitFor({ timeout: WAIT_MS });
  const shown = await page.locator("#availability .availability-row").evaluateAll((rows) => rows.map((row) => ({
    system: row.querySelector(".availability-system").textContent,
    total: row.querySelector(".availability-total").textContent,
    days: Array.from(row.querySelectorAll(".day")).map((bar) => ({
      date: bar.dataset.date, className: bar.className, label: bar.getAttribute("aria-label"),
    })),
  })));
  const answer = await api(service.url, "GET", "/api/v1/availability?days=90&timezone=" + encodeURIComponent(ZONE));
  assert.equal(answer.status, 200, answer.text);
  const systems = answer.json.systems;
  assert.deepEqual(shown.map((row) => row.system), systems.map((system) => system.system));
  const seen = new Set();
  systems.forEach((system, index) => {
    const row = shown[index];
    assert.equal(row.days.length, 90, system.system);
    let down = 0;
    let total = 0;
    system.days.forEach((day, dayIndex) => {
      const bar = row.days[dayIndex];
      const what = system.system + " " + day.date;
      assert.equal(bar.date, day.date, what);
      assert.equal(bar.className, expectedClass(day), what);
      assert.ok(bar.label.startsWith(day.date + ": " + (day.availability * 100).toFixed(2) + "% available"), what);
      assert.equal(bar.label.includes("planned maintenance"), day.planned_seconds > 0, what);
      assert.equal(bar.label.includes("degraded"), day.degraded_seconds > 0, what);
      for (const ticket of day.tickets) assert.ok(bar.label.includes(ticket), what);
      seen.add(bar.className);
      down += day.downtime_seconds;
      total += (Date.parse(day.end) - Date.parse(day.start)) / 1000;
    });
    assert.equal(row.total, ((1 - down / total) * 100).toFixed(3) + "%", system.system);
  });
  // The history has each kind of day: the comparison covers them all.
  for (const kind of ["day day-up", "day day-planned", "day day-degraded"]) {
    assert.ok(seen.has(kind), kind + " is among " + Array.from(seen).join(", "));
  }
  assert.ok(Array.from(seen).some((kind) => kind.startsWith("day day-down-")), Array.from(seen).join(", "));
  // A blue day names its window on focus.
  const webRow = page.locator(".availability-row", { has: page.locator(".availability-system", { hasText: /^web$/ }) });
  await webRow.locator(".day.day-planned").first().focus();
  await page.waitForFunction((name) => document.getElementById("availability-detail").textContent.includes(name),
    windows.past, { timeout: WAIT_MS });
  assert.match(await page.locator("#availability-detail").textContent(),
    /^web, \d{4}-\d{2}-\d{2}: 100\.00% available, down 0 min, planned maintenance (\d+ h )?\d+ min/);
  await opened.screenshot("maintenance-availability");
  await finish(opened);
});
