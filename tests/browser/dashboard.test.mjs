// Browser tests of the dashboard, the form and the incident page: the real
// service binary, Debian's chromium, playwright-core. Screenshots go to
// BROWSER_ARTIFACTS_DIR (ctest sets it to the build folder).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startService, launchBrowser, openPage, api, hoursAgo } from "./harness.mjs";

const WAIT_MS = 15_000;
let service;
let chrome;
const tickets = {};

async function create(body) {
  const answer = await api(service.url, "POST", "/api/v1/submissions", Object.assign({ action: "create" }, body));
  assert.equal(answer.status, 201, answer.text);
  return answer.json.ticket;
}

async function close(ticket, endedAt) {
  const answer = await api(service.url, "POST", "/api/v1/submissions", { action: "close", ticket, ended_at: endedAt });
  assert.equal(answer.status, 201, answer.text);
}

async function dashboard(query = "", options = {}) {
  const opened = await openPage(chrome.browser, service.url, options);
  await opened.page.goto(service.url + "/" + query);
  await opened.page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  return opened;
}

// The tickets the accessible table lists, in its order.
async function tableTickets(page) {
  return (await page.locator("#incident-table tbody th").allTextContents()).map((text) => text.trim());
}

// `allowHttpErrors`: the test asks for 4xx answers on purpose, which
// Chromium logs as failed loads.
async function finish(opened, { allowHttpErrors = false } = {}) {
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened: injected script ran");
  const errors = opened.record.consoleErrors
    .filter((text) => !(allowHttpErrors && /^Failed to load resource: the server responded with a status of 4\d\d/.test(text)));
  // On failure the service's lines for the event streams say how they ended.
  const streamLines = () => service.stderr().split("\n").filter((line) => line.includes("/events/stream")).join("\n");
  assert.deepEqual(errors, [], errors.length ? "console errors; the service's stream lines:\n" + streamLines() : "");
  await opened.close();
}

before(async () => {
  service = await startService();
  chrome = await launchBrowser();
  tickets.closed = await create({
    title: "Mail delayed", description: "Outbound queue stuck at the relay", systems: ["mail", "vpn"],
    engineer: "Ana Ruiz", severity: "major", started_at: hoursAgo(72), link: "https://helpdesk.example.org/t/4711",
  });
  await close(tickets.closed, hoursAgo(70));
  tickets.ongoing = await create({
    title: "VPN flapping", description: "Tunnels drop every few minutes", systems: ["vpn"], engineer: "Bo Chen",
    severity: "critical", started_at: hoursAgo(5),
  });
  tickets.old = await create({
    title: "Old printer outage", systems: ["print"], engineer: "Cy Park", severity: "minor", started_at: hoursAgo(20 * 24),
  });
  await close(tickets.old, hoursAgo(20 * 24 - 3));
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
});

test("the timeline shows a bar per affected system for incidents in the default 7 days", async () => {
  const opened = await dashboard();
  const { page } = opened;
  await page.waitForSelector(".tl-item.ticket-" + tickets.closed);
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.closed).count(), 2, "one bar per system: mail, vpn");
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.ongoing).count(), 1);
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.old).count(), 0, "20 days ago is outside 7 days");
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.ongoing + ".ongoing").count(), 1, "ongoing looks different");
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.closed + ".ongoing").count(), 0);
  const groups = await page.locator(".tl-labelset .tl-label").allTextContents();
  assert.deepEqual(groups.map((g) => g.trim()), ["mail", "vpn"]);
  assert.deepEqual((await tableTickets(page)).sort(), [tickets.closed, tickets.ongoing].sort());
  await page.waitForFunction(() => document.getElementById("live-status").textContent === "live", null,
    { timeout: WAIT_MS });
  assert.match(page.url(), /[?&]range=7d/);
  // The feed, for readers and for people, and the calendar.
  assert.equal(await page.locator("head link[rel=alternate][type='application/atom+xml']").getAttribute("href"), "/feed.atom");
  assert.equal(await page.locator(".follow-links a[href='/feed.atom']").count(), 1);
  assert.equal(await page.locator(".follow-links a[href='/calendar.ics']").count(), 1);
  await opened.screenshot("dashboard");
  // One row per incident instead of per system.
  await page.check("#group-by-incident");
  await page.waitForFunction(() => document.querySelectorAll(".tl-labelset .tl-label").length === 2);
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.closed).count(), 1);
  assert.match(page.url(), /rows=incident/);
  await finish(opened);
});

test("the wheel over the bars zooms around the pointer, a drag pans, and a drag that ends on a bar does not open it", async () => {
  const opened = await dashboard();
  const { page } = opened;
  const bar = page.locator(".tl-item.ticket-" + tickets.closed + " >> nth=0");
  await bar.waitFor({ timeout: WAIT_MS });
  const before = await bar.boundingBox();
  const ticksBefore = await page.locator(".tl-tick").allTextContents();
  // Zoom in around the bar's middle: it grows, and stays under the pointer.
  const middle = { x: before.x + before.width / 2, y: before.y + before.height / 2 };
  await page.mouse.move(middle.x, middle.y);
  await page.mouse.wheel(0, -500);
  await page.waitForFunction((width) => {
    const node = document.querySelector(".tl-item.ticket-" + width.ticket);
    return node && node.getBoundingClientRect().width > width.before * 1.5;
  }, { ticket: tickets.closed, before: before.width }, { timeout: WAIT_MS });
  const zoomed = await bar.boundingBox();
  assert.ok(Math.abs(zoomed.x + zoomed.width / 2 - middle.x) < 12,
    `the bar's middle moved from ${middle.x} to ${zoomed.x + zoomed.width / 2}`);
  assert.notDeepEqual(await page.locator(".tl-tick").allTextContents(), ticksBefore, "the axis follows the zoom");

  // A drag from the bar 150 px to the right moves it with the pointer and
  // stays on the dashboard.
  await page.mouse.move(middle.x, middle.y);
  await page.mouse.down();
  await page.mouse.move(middle.x + 75, middle.y, { steps: 3 });
  await page.mouse.move(middle.x + 150, middle.y, { steps: 3 });
  await page.mouse.up();
  await page.waitForFunction((expected) => {
    const node = document.querySelector(".tl-item.ticket-" + expected.ticket);
    return node && Math.abs(node.getBoundingClientRect().x - expected.x) < 3;
  }, { ticket: tickets.closed, x: zoomed.x + 150 }, { timeout: WAIT_MS });
  await page.waitForTimeout(300);
  assert.match(new URL(page.url()).pathname, /^\/$/, "the drag opened the incident");
  // A plain click still opens it.
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+$/), bar.click()]);
  assert.match(page.url(), new RegExp("/incidents/" + tickets.closed + "$"));
  await finish(opened);
});

test("the search box and the system filter narrow the timeline, the table and the bars, and live in the URL", async () => {
  // A system named in another case, from the address.
  const opened = await dashboard("?range=7d&system=MAIL");
  const { page } = opened;
  await page.waitForSelector(".tl-item.ticket-" + tickets.closed, { timeout: WAIT_MS });
  await page.waitForSelector("#availability .availability-row", { timeout: WAIT_MS });
  assert.equal(await page.locator("#filter-system").inputValue(), "mail");
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.closed).count(), 1, "only the mail row of the incident");
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.ongoing).count(), 0, "the VPN incident is filtered out");
  assert.deepEqual((await page.locator(".tl-labelset .tl-label").allTextContents()).map((text) => text.trim()), ["mail"]);
  assert.deepEqual(await tableTickets(page), [tickets.closed]);
  assert.deepEqual(await page.locator("#availability .availability-system").allTextContents(), ["mail"]);
  // The choices: the systems of the range and of the 90-day bars.
  assert.deepEqual((await page.locator("#filter-system option").allTextContents()).slice(1).sort(), ["mail", "print", "vpn"]);

  // Every system again, then a search: every word, ignoring case, in the
  // title, description, engineer, systems, ticket or link.
  await page.selectOption("#filter-system", "");
  await page.waitForFunction(() => !new URL(location.href).searchParams.has("system"));
  assert.equal(await page.locator("#availability .availability-system").count() >= 2, true);
  await page.fill("#filter-text", "flapping TUNNELS");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("q") === "flapping TUNNELS");
  await page.waitForFunction((t) => document.querySelectorAll(".tl-item.ticket-" + t).length === 0, tickets.closed);
  assert.deepEqual(await tableTickets(page), [tickets.ongoing]);
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.ongoing).count(), 1);
  await page.fill("#filter-text", "ana ruiz 4711");
  await page.waitForFunction((t) => document.querySelectorAll(".tl-item.ticket-" + t).length === 2, tickets.closed);
  assert.deepEqual(await tableTickets(page), [tickets.closed]);
  await page.fill("#filter-text", "nothing like this");
  await page.waitForFunction(() => !document.getElementById("timeline-empty").hidden);
  assert.match(await page.locator("#incident-table tbody").textContent(), /match the filter/);

  // The address carries both to another page load.
  await page.selectOption("#filter-system", "vpn");
  await page.fill("#filter-text", "flapping");
  await page.waitForFunction(() => /[?&]q=flapping/.test(location.search) && /[?&]system=vpn/.test(location.search));
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.waitForSelector(".tl-item.ticket-" + tickets.ongoing, { timeout: WAIT_MS });
  assert.equal(await page.locator("#filter-text").inputValue(), "flapping");
  assert.equal(await page.locator("#filter-system").inputValue(), "vpn");
  assert.deepEqual(await tableTickets(page), [tickets.ongoing]);
  await finish(opened);
});

test("a bar's tooltip shows every field", async () => {
  const opened = await dashboard();
  const { page } = opened;
  await page.hover(".tl-item.ticket-" + tickets.closed + " >> nth=0");
  const tip = page.locator("div.tl-tooltip");
  await tip.waitFor({ state: "visible", timeout: WAIT_MS });
  const closedIncident = (await api(service.url, "GET", "/api/v1/incidents/" + tickets.closed)).json;
  const expectedStart = await page.evaluate((t) => window.Ledger.formatTime(t), closedIncident.started_at);
  const expectedEnd = await page.evaluate((t) => window.Ledger.formatTime(t), closedIncident.ended_at);
  assert.equal(await tip.locator(".tip-title").textContent(), "Mail delayed");
  assert.equal(await tip.locator(".tip-ticket").textContent(), tickets.closed);
  assert.equal(await tip.locator(".tip-description").textContent(), "Outbound queue stuck at the relay");
  assert.equal(await tip.locator(".tip-systems").textContent(), "mail, vpn");
  assert.equal(await tip.locator(".tip-engineer").textContent(), "Ana Ruiz");
  assert.equal(await tip.locator(".tip-severity").textContent(), "major");
  assert.equal(await tip.locator(".tip-start").textContent(), expectedStart);
  assert.equal(await tip.locator(".tip-end").textContent(), expectedEnd);
  assert.equal(await tip.locator("a.tip-link").getAttribute("href"), "/incidents/" + tickets.closed);
  assert.equal(await tip.locator("a.tip-helpdesk-link").getAttribute("href"), "https://helpdesk.example.org/t/4711");
  assert.equal(await tip.locator("a.tip-helpdesk-link").getAttribute("rel"), "noopener noreferrer");
  await opened.screenshot("tooltip-closed");
  // The pointer crosses from the bar to the tooltip, which stays, and its
  // link to the incident's page is followed.
  const tipBox = await tip.boundingBox();
  await page.mouse.move(tipBox.x + 10, tipBox.y + 10);
  await page.waitForTimeout(400);
  assert.ok(await tip.isVisible(), "the tooltip closed as the pointer reached it");
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+$/), tip.locator("a.tip-link").click()]);
  assert.match(page.url(), new RegExp("/incidents/" + tickets.closed + "$"));
  await page.goBack();
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });

  await page.mouse.move(5, 5);
  await page.hover(".tl-item.ticket-" + tickets.ongoing);
  await page.waitForFunction(
    (title) => document.querySelector("div.tl-tooltip .tip-title")?.textContent === title, "VPN flapping",
    { timeout: WAIT_MS });
  assert.match(await tip.locator(".tip-end").textContent(), /^ongoing for (\d+ h )?\d+ min$/);
  assert.match(await tip.locator(".tip-end").textContent(), /^ongoing for [45] h/);
  await opened.screenshot("tooltip-ongoing");
  await finish(opened);
});

test("changing the range shows the right incidents and lives in the URL", async () => {
  const opened = await dashboard();
  const { page } = opened;
  await page.click("a[data-range='30d']");
  await page.waitForSelector(".tl-item.ticket-" + tickets.old, { timeout: WAIT_MS });
  assert.match(page.url(), /[?&]range=30d/);
  assert.ok((await tableTickets(page)).includes(tickets.old));

  // A fixed range around the old incident only, shared by URL.
  const from = new Date(Date.now() - 21 * 24 * 3600e3).toISOString();
  const to = new Date(Date.now() - 19 * 24 * 3600e3).toISOString();
  await page.goto(service.url + "/?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to));
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector(".tl-item.ticket-" + tickets.old, { timeout: WAIT_MS });
  assert.equal(await page.locator(".tl-item").count(), 1);
  const rows = await page.locator("#incident-table tbody tr").count();
  assert.equal(rows, 1);

  // Typed into the range inputs (local time), submitted: the URL carries it.
  await page.fill("#range-from", await page.evaluate(() => window.Ledger.toLocalInput(new Date(Date.now() - 80 * 3600e3))));
  await page.fill("#range-to", await page.evaluate(() => window.Ledger.toLocalInput(new Date(Date.now() - 60 * 3600e3))));
  await page.click("#range-form button[type=submit]");
  await page.waitForSelector(".tl-item.ticket-" + tickets.closed, { timeout: WAIT_MS });
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.ongoing).count(), 0);
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.old).count(), 0);
  const url = new URL(page.url());
  assert.ok(url.searchParams.get("from") && url.searchParams.get("to"), page.url());
  await finish(opened);
});

test("a hostile title, description, engineer and system are shown as text everywhere", async () => {
  const hostile = {
    title: "<img src=x onerror=alert(1)>",
    description: "<script>alert(2)</script><b>bold</b>",
    engineer: "<i>eve</i>",
    systems: ["<svg onload=alert(3)>"],
    severity: "critical",
  };
  const ticket = await create(hostile);
  const opened = await dashboard();
  const { page } = opened;
  const bar = page.locator(".tl-item.ticket-" + ticket);
  await bar.waitFor({ timeout: WAIT_MS });
  assert.equal(await bar.locator(".bar-label").textContent(), ticket + " · " + hostile.title);
  assert.equal(await page.locator("main img, main svg, main b, main i").count(), 0, "markup in user text was rendered");
  await bar.hover();
  const tip = page.locator("div.tl-tooltip");
  await tip.waitFor({ state: "visible", timeout: WAIT_MS });
  assert.equal(await tip.locator(".tip-title").textContent(), hostile.title);
  assert.equal(await tip.locator(".tip-description").textContent(), hostile.description);
  assert.equal(await tip.locator(".tip-engineer").textContent(), hostile.engineer);
  assert.equal(await tip.locator(".tip-systems").textContent(), hostile.systems[0]);
  assert.equal(await page.locator("div.tl-tooltip img, div.tl-tooltip script, div.tl-tooltip b").count(), 0);
  assert.match(await page.locator("#incident-table tbody").textContent(), /<img src=x onerror=alert\(1\)>/);
  await opened.screenshot("hostile-dashboard");

  await page.goto(service.url + "/incidents/" + ticket);
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.locator("#incident-title").textContent(), hostile.title);
  assert.equal(await page.locator("#incident-description").textContent(), hostile.description);
  assert.match(await page.title(), /<img src=x onerror=alert\(1\)>/);
  assert.equal(await page.locator("main img, main svg, main b, main i, main script").count(), 0);
  await opened.screenshot("hostile-incident");
  assert.ok(!opened.record.requests.some((url) => url.endsWith("/x")), "the browser fetched the hostile img src");
  await finish(opened);
});

test("a day of the availability bars names its outages on hover and on focus", async () => {
  const opened = await dashboard();
  const { page } = opened;
  await page.waitForSelector("#availability .day", { timeout: WAIT_MS });
  const mailRow = page.locator(".availability-row", { has: page.locator(".availability-system", { hasText: /^mail$/ }) });
  assert.equal(await mailRow.locator(".day").count(), 90, "one bar per day");
  // The closed mail outage (2 h, three days ago) darkens one day, or two
  // when it spans midnight in the browser's zone.
  const down = mailRow.locator(".day:not(.day-up)");
  assert.ok((await down.count()) >= 1 && (await down.count()) <= 2, "the outage's days are marked");
  await down.first().hover();
  const detail = page.locator("#availability-detail");
  await page.waitForFunction((ticket) => document.getElementById("availability-detail").textContent.includes(ticket),
    tickets.closed, { timeout: WAIT_MS });
  assert.match(await detail.textContent(), /^mail, \d{4}-\d{2}-\d{2}: \d+\.\d{2}% available, down /);
  assert.equal(await detail.locator("a").first().getAttribute("href"), "/incidents/" + tickets.closed);
  // Keyboard: focusing a day that had none shows it as up.
  await mailRow.locator(".day.day-up").first().focus();
  await page.waitForFunction(() => /100\.00% available, down 0 min$/.test(document.getElementById("availability-detail").textContent),
    null, { timeout: WAIT_MS });
  await finish(opened);
});

test("an incident submitted in one page appears live in an open dashboard, then closes, without reload", async () => {
  const board = await dashboard();
  await board.page.evaluate(() => { window.notReloaded = true; });
  const form = await openPage(chrome.browser, service.url);
  await form.page.goto(service.url + "/submit");
  await form.page.waitForSelector("body[data-ready=true]");
  await form.page.fill("#f-title", "DNS resolution failing");
  await form.page.fill("#f-description", "Internal names do not resolve");
  await form.page.fill("#f-systems", "dns");
  await form.page.fill("#f-engineer", "Dee Okafor");
  await form.page.selectOption("#f-severity", "critical");
  await form.page.click("button[type=submit]");
  await form.page.waitForSelector("#form-result:not([hidden])", { timeout: WAIT_MS });
  const ticket = await form.page.locator("#result-link").textContent();
  assert.match(ticket, /^INC-\d+$/);
  assert.equal(await form.page.locator("#result-link").getAttribute("href"), "/incidents/" + ticket);

  const bar = board.page.locator(".tl-item.ticket-" + ticket);
  await bar.waitFor({ timeout: WAIT_MS });
  assert.equal(await board.page.locator(".tl-item.ticket-" + ticket + ".ongoing").count(), 1);
  assert.ok((await tableTickets(board.page)).includes(ticket));
  await board.screenshot("live-opened");

  await api(service.url, "POST", "/api/v1/submissions", { action: "update", ticket, title: "DNS resolution failing (partial)" });
  await board.page.waitForFunction((t) => document.querySelector(".tl-item.ticket-" + t + " .bar-label")?.textContent
    === t + " · DNS resolution failing (partial)", ticket, { timeout: WAIT_MS });
  // A second ahead: an end truncated to the second could fall before a start recorded this second.
  await close(ticket, new Date(Date.now() + 1000).toISOString());
  await board.page.waitForSelector(".tl-item.ticket-" + ticket + ":not(.ongoing)", { timeout: WAIT_MS });
  assert.equal(await board.page.evaluate(() => window.notReloaded), true, "the dashboard reloaded");
  await board.screenshot("live-closed");
  await finish(form);
  await finish(board);
});

test("the form works without JavaScript: creates, redirects to the incident, shows errors by the field", async () => {
  const opened = await openPage(chrome.browser, service.url, { javaScript: false });
  const { page } = opened;
  await page.goto(service.url + "/submit");
  await page.fill("#f-title", "Wiki read-only");
  await page.fill("#f-systems", "wiki, sso");
  await page.fill("#f-engineer", "Eli Novak");
  await page.fill("#f-started_at", "2026-01-15T09:30");
  await page.fill("#f-detected_at", "2026-01-15T09:20");
  await page.selectOption("#f-severity", "minor");
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+\?recorded=\d+$/), page.click("button[type=submit]")]);
  assert.equal(await page.locator("#incident-title").textContent(), "Wiki read-only");
  assert.match(await page.locator(".notice-ok").textContent(), /Recorded as event \d+/);
  const ticket = await page.locator("#incident").getAttribute("data-ticket");
  const stored = (await api(service.url, "GET", "/api/v1/incidents/" + ticket)).json;
  assert.deepEqual(stored.systems, ["wiki", "sso"]);
  assert.equal(stored.started_at, "2026-01-15T09:30:00Z", "without JavaScript a local time is UTC");
  // A milestone from the form's table-driven field is kept and shown on the incident page.
  assert.equal(stored.detected_at, "2026-01-15T09:20:00Z");
  assert.match(await page.locator("dd[data-field=detected_at]").textContent(), /2026-01-15/);

  // An update without a ticket: the form comes back, error by the ticket field.
  await page.goto(service.url + "/submit");
  await page.check("input[name=action][value=update]");
  await page.fill("#f-note", "still read-only");
  const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/submit")),
    page.click("button[type=submit]")]);
  assert.equal(response.status(), 400);
  const error = page.locator("#error-ticket");
  assert.equal(await error.isVisible(), true);
  assert.match(await error.textContent(), /ticket/);
  assert.equal(await page.inputValue("#f-note"), "still read-only", "what was typed is kept");
  assert.equal(await page.locator(".field-ticket.has-error").count(), 1);
  await opened.screenshot("form-no-js-error");
  await finish(opened, { allowHttpErrors: true });
});

test("with JavaScript, the form shows errors next to the field they name", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/submit");
  await page.waitForSelector("body[data-ready=true]");
  await page.check("input[name=action][value=close]");
  assert.equal(await page.locator(".field-ticket.required").count(), 1, "the page says the ticket is required");
  await page.click("button[type=submit]");
  await page.waitForSelector("#error-ticket:not([hidden])");
  assert.match(await page.locator("#error-ticket").textContent(), /ticket is required/);

  await page.fill("#f-ticket", "INC-999");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => /INC-999/.test(document.getElementById("error-ticket").textContent));

  await page.check("input[name=action][value=create]");
  await page.fill("#f-ticket", "");
  await page.fill("#f-title", "Bad link");
  await page.fill("#f-systems", "mail");
  await page.fill("#f-engineer", "Fay");
  await page.fill("#f-link", "javascript:alert(1)");
  await page.click("button[type=submit]");
  await page.waitForSelector("#error-link:not([hidden])", { timeout: WAIT_MS });
  assert.match(await page.locator("#error-link").textContent(), /link/);
  assert.equal(await page.locator("#error-ticket").isVisible(), false, "the old error is cleared");
  await opened.screenshot("form-js-error");
  await finish(opened, { allowHttpErrors: true });
});

test("the incident page shows state, periods and the full history", async () => {
  await api(service.url, "POST", "/api/v1/submissions", { action: "reopen", ticket: tickets.closed, started_at: hoursAgo(2) });
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/incidents/" + tickets.closed.toLowerCase());
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.locator("#incident-title").textContent(), "Mail delayed");
  assert.equal(await page.locator("table.periods tbody tr").count(), 2);
  const history = await page.locator("table.history tbody tr").allTextContents();
  assert.equal(history.length, 3);
  assert.match(history[0], /INCIDENT_OPENED/);
  assert.match(history[1], /INCIDENT_CLOSED/);
  assert.match(history[2], /INCIDENT_REOPENED/);
  // Live: a new event for this ticket refreshes the page in place.
  await page.evaluate(() => { window.notReloaded = true; });
  await api(service.url, "POST", "/api/v1/submissions", { action: "update", ticket: tickets.closed, note: "relay replaced" });
  await page.waitForFunction(() => document.querySelectorAll("table.history tbody tr").length === 4, null, { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  await opened.screenshot("incident-page");
  const missing = await page.goto(service.url + "/incidents/INC-4242");
  assert.equal(missing.status(), 404);
  await finish(opened, { allowHttpErrors: true });
});

// Reads an event stream until `until` matches what arrived (or times out).
function readStream(url, headers, until) {
  return new Promise((resolve, reject) => {
    let text = "";
    const request = http.get(url, { headers }, (response) => {
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        text += chunk;
        if (until(text)) { request.destroy(); resolve({ status: response.statusCode, headers: response.headers, text }); }
      });
    });
    request.on("error", (error) => { if (!until(text)) reject(error); });
    setTimeout(() => { request.destroy(); reject(new Error("stream timed out with: " + text)); }, WAIT_MS);
  });
}

test("the event stream resumes after Last-Event-ID and sends each event's JSON with its seq as id", async () => {
  const result = await readStream(service.url + "/api/v1/events/stream", { "Last-Event-ID": "1" },
    (text) => /\nid: 3\n/.test(text));
  assert.equal(result.status, 200);
  assert.match(result.headers["content-type"], /^text\/event-stream/);
  assert.doesNotMatch(result.text, /^id: 1$/m);
  const frame = /id: 2\ndata: (.*)\n\n/.exec(result.text);
  assert.ok(frame, result.text);
  const event = JSON.parse(frame[1]);
  assert.equal(event.seq, 2);
  assert.equal(event.type, "INCIDENT_CLOSED");
  const bad = await api(service.url, "GET", "/api/v1/events/stream?after=x");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "after");
});

test("assets are embedded, typed, compressed when accepted, and revalidated by ETag", async () => {
  const script = await fetch(service.url + "/static/dashboard.js", { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type"), /^text\/javascript/);
  assert.equal(script.headers.get("content-encoding"), "gzip");
  const etag = script.headers.get("etag");
  assert.match(etag, /^"[0-9a-f]{32}-gzip"$/);
  const again = await fetch(service.url + "/static/dashboard.js",
    { headers: { "Accept-Encoding": "gzip", "If-None-Match": etag } });
  assert.equal(again.status, 304);
  const css = await fetch(service.url + "/static/app.css", { headers: { "Accept-Encoding": "identity" } });
  assert.match(css.headers.get("content-type"), /^text\/css/);
  assert.equal(css.headers.get("content-encoding"), null);
  const page = await fetch(service.url + "/");
  assert.match(page.headers.get("content-security-policy"), /script-src 'self'/);
  assert.doesNotMatch(page.headers.get("content-security-policy"), /unsafe-inline/);
  assert.equal((await fetch(service.url + "/static/nope.js")).status, 404);
});
