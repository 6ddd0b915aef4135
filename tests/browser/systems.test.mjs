// Browser test of the systems catalog: the /systems page and the dashboard
// going by it. The real service binary with an auth file, Debian's chromium,
// playwright-core. An admin defines E-mail in group "Mail services" on the
// page; incidents on DNS and dns are one row; an incident on Mail is its own
// row until the admin merges Mail into E-mail on the page, and then one
// E-mail row holds both; the filter offers the group and choosing it shows
// its member's incidents; a viewer's open dashboard follows the merge live.
// A viewer sees the table and no form, and the API
// refuses a viewer's post. A system named like markup stays text everywhere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startService, launchBrowser, openPage, api, hoursAgo, addToken } from "./harness.mjs";

const WAIT_MS = 20_000;
const HOSTILE = "<img src=x onerror=alert(1)>";
let service;
let chrome;
let folder;
const tokens = {};
const tickets = {};

function as(role) {
  return { Authorization: "Bearer " + tokens[role] };
}

async function create(fields) {
  const answer = await api(service.url, "POST", "/api/v1/submissions",
    Object.assign({ action: "create", engineer: "Ana Ruiz", severity: "major" }, fields), as("helpdesk"));
  assert.equal(answer.status, 201, answer.text);
  return answer.json.ticket;
}

async function signedIn(role, next) {
  const opened = await openPage(chrome.browser, service.url);
  await opened.page.goto(service.url + "/signin?next=" + encodeURIComponent(next));
  await opened.page.fill("#f-token", tokens[role]);
  await Promise.all([opened.page.waitForNavigation(), opened.page.click("form.signin button[type=submit]")]);
  assert.equal(new URL(opened.page.url()).pathname, next.split("?")[0]);
  await opened.page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  return opened;
}

// Nothing left the service, no dialog opened (no injected script ran), no
// console error but the refusals a test asks for.
async function finish(opened) {
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened: injected script ran");
  const errors = opened.record.consoleErrors.filter((text) =>
    !/^Failed to load resource: the server responded with a status of 40[034]/.test(text));
  assert.deepEqual(errors, [], "console errors");
  assert.ok(!opened.record.requests.some((url) => url.endsWith("/x")), "the browser fetched the hostile img src");
  assert.equal(await opened.page.locator("main img, main script").count(), 0, "markup from a name became an element");
  await opened.close();
}

async function rowLabels(page) {
  return (await page.locator(".tl-labelset .tl-label").allTextContents()).map((text) => text.trim());
}

// The tickets whose bars are drawn in the timeline row labelled `label`.
async function ticketsInRow(page, label) {
  return page.evaluate((wanted) => {
    const labels = Array.from(document.querySelectorAll(".tl-labelset .tl-label"));
    const row = labels.find((node) => node.textContent.trim() === wanted);
    if (!row) return null;
    const box = row.getBoundingClientRect();
    const next = labels.map((node) => node.getBoundingClientRect().top).filter((top) => top > box.top + 1);
    const bottom = next.length ? Math.min(...next) : Infinity;
    const found = new Set();
    for (const bar of document.querySelectorAll(".tl-item")) {
      const middle = (bar.getBoundingClientRect().top + bar.getBoundingClientRect().bottom) / 2;
      const ticket = Array.from(bar.classList).find((name) => name.startsWith("ticket-"));
      if (ticket && middle >= box.top && middle < bottom) found.add(ticket.slice("ticket-".length));
    }
    return Array.from(found).sort();
  }, label);
}

async function submitSystemForm(page, action, fields) {
  const form = page.locator("#system-form-" + action);
  for (const [name, value] of Object.entries(fields)) await form.locator("[name=" + name + "]").fill(value);
  await form.locator("button[type=submit]").click();
  await page.waitForFunction((id) => {
    const form = document.getElementById(id);
    return !form.querySelector(".form-result").hidden || !form.querySelector(".form-error").hidden;
  }, "system-form-" + action, { timeout: WAIT_MS });
  return {
    result: await form.locator(".form-result").isVisible() ? await form.locator(".form-result").textContent() : null,
    error: await form.locator(".form-error").isVisible() ? await form.locator(".form-error").textContent() : null,
  };
}

async function tableRow(page, name) {
  const row = page.locator("#system-table tbody tr", { has: page.locator("th.system-name", { hasText: name }) });
  await row.first().waitFor({ timeout: WAIT_MS });
  return row.first().locator("th, td").allTextContents();
}

before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), "ledger-systems-"));
  const authFile = path.join(folder, "auth.txt");
  tokens.admin = addToken(authFile, "admin-ida", "admin");
  tokens.helpdesk = addToken(authFile, "desk-ana", "helpdesk");
  tokens.viewer = addToken(authFile, "wall-screen", "viewer");
  service = await startService(["--auth-file", authFile]);
  chrome = await launchBrowser();
  tickets.dnsUpper = await create({ title: "Resolver down", systems: ["DNS"], started_at: hoursAgo(30) });
  tickets.dnsLower = await create({ title: "Slow lookups", systems: ["dns"], started_at: hoursAgo(20) });
  tickets.hostile = await create({ title: "Markup in a name", systems: [HOSTILE], started_at: hoursAgo(10) });
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
  if (folder) rmSync(folder, { recursive: true, force: true });
});

test("an admin defines and merges systems on /systems, and the dashboard goes by the catalog", async () => {
  const admin = await signedIn("admin", "/systems");
  const { page } = admin;
  assert.equal(await page.locator("header nav a[href='/systems']").count(), 1);
  assert.equal(await page.locator("header nav a[href='/imports']").count(), 1, "an admin may see the imports");
  assert.match(await page.locator("#system-form-alias").locator("xpath=..").textContent(), /as corrected/);

  // Define E-mail in its group; the table shows it.
  const defined = await submitSystemForm(page, "define",
    { name: "E-mail", group: "Mail services", owner: "mail-team@example.org", description: "Exchange and the relays" });
  assert.equal(defined.error, null);
  assert.match(defined.result, /E-mail/);
  assert.deepEqual(await tableRow(page, "E-mail"), ["E-mail", "Mail services", "mail-team@example.org", "Exchange and the relays", "", ""]);
  // The service's error is shown next to the form that was sent.
  const refused = await submitSystemForm(page, "update", { name: "No such system", owner: "nobody@example.org" });
  assert.equal(refused.result, null);
  assert.ok(refused.error && refused.error.length > 10, "no error shown: " + refused.error);
  assert.equal(await page.locator("#system-form-update [name=name]").getAttribute("aria-invalid"), "true");
  // Retired systems: Fax (no incident) and DNS (incidents in range).
  assert.equal((await submitSystemForm(page, "define", { name: "Fax", group: "Office" })).error, null);
  for (const name of ["Fax", "dns"]) {
    const retired = await submitSystemForm(page, "retire", { name });
    assert.equal(retired.error, null, name);
  }
  assert.equal((await tableRow(page, "Fax"))[5], "retired");

  tickets.email = await create({ title: "Mailboxes unreachable", systems: ["E-mail"], started_at: hoursAgo(40) });
  tickets.mail = await create({ title: "Mail delayed", systems: ["Mail"], started_at: hoursAgo(5) });

  // DNS and dns are one row, under the name first written; Mail is its own.
  await page.goto(service.url + "/?range=7d");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.waitForSelector(".tl-item.ticket-" + tickets.mail, { timeout: WAIT_MS });
  let labels = await rowLabels(page);
  assert.equal(labels.filter((label) => label.toLowerCase() === "dns").length, 1, JSON.stringify(labels));
  assert.ok(labels.includes("DNS"), JSON.stringify(labels));
  assert.deepEqual(await ticketsInRow(page, "DNS"), [tickets.dnsUpper, tickets.dnsLower].sort());
  assert.deepEqual(await ticketsInRow(page, "Mail"), [tickets.mail]);
  assert.deepEqual(await ticketsInRow(page, "E-mail"), [tickets.email]);
  assert.ok(labels.includes(HOSTILE), "the hostile name is a row, as text: " + JSON.stringify(labels));
  // A retired system is offered only while an incident in range names it.
  const offered = await page.locator("#filter-system option").allTextContents();
  assert.ok(offered.includes("DNS") && !offered.includes("Fax"), JSON.stringify(offered));
  assert.equal(await page.locator("#filter-system optgroup[label='Office']").count(), 0);

  // A viewer's dashboard, open while the merge is recorded, follows it live.
  const watcher = await signedIn("viewer", "/?range=7d");
  await watcher.page.waitForSelector("#live-status.live-live", { timeout: WAIT_MS });
  await watcher.page.waitForSelector(".tl-item.ticket-" + tickets.mail, { timeout: WAIT_MS });
  assert.deepEqual(await ticketsInRow(watcher.page, "Mail"), [tickets.mail]);

  // Merge Mail into E-mail on the page.
  await page.goto(service.url + "/systems");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  const merged = await submitSystemForm(page, "alias", { alias: "Mail", name: "E-mail" });
  assert.equal(merged.error, null);
  assert.match((await tableRow(page, "E-mail"))[4], /\bMail\b/);

  await watcher.page.waitForFunction(() => !Array.from(document.querySelectorAll(".tl-labelset .tl-label"))
    .some((label) => label.textContent.trim() === "Mail"), null, { timeout: WAIT_MS });
  assert.deepEqual(await ticketsInRow(watcher.page, "E-mail"), [tickets.email, tickets.mail].sort());
  await finish(watcher);

  // One E-mail row with both incidents; the tooltip names the system as the
  // incident does.
  await page.goto(service.url + "/?range=7d");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.waitForSelector(".tl-item.ticket-" + tickets.mail, { timeout: WAIT_MS });
  labels = await rowLabels(page);
  assert.ok(!labels.includes("Mail"), JSON.stringify(labels));
  assert.deepEqual(await ticketsInRow(page, "E-mail"), [tickets.email, tickets.mail].sort());
  await page.hover(".tl-item.ticket-" + tickets.mail);
  await page.waitForSelector(".tip-systems", { timeout: WAIT_MS });
  assert.equal((await page.locator(".tip-systems").textContent()).trim(), "Mail");

  // The filter offers the group; choosing it shows its member's incidents.
  const group = page.locator("#filter-system optgroup[label='Mail services']");
  assert.equal(await group.count(), 1);
  assert.deepEqual(await group.locator("option").allTextContents(), ["all of Mail services", "E-mail"]);
  await page.selectOption("#filter-system", "Mail services");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("system") === "Mail services");
  await page.waitForFunction(() => document.querySelectorAll("#incident-table tbody tr").length === 2);
  const shown = await page.locator("#incident-table tbody th a").allTextContents();
  assert.deepEqual(shown.sort(), [tickets.email, tickets.mail].sort());
  assert.deepEqual(await rowLabels(page), ["E-mail"]);
  // The alias spelling in the address selects its system.
  await page.goto(service.url + "/?range=7d&system=mail");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  assert.equal(await page.locator("#filter-system").inputValue(), "E-mail");
  await page.waitForFunction(() => document.querySelectorAll("#incident-table tbody tr").length === 2);
  await admin.screenshot("systems-dashboard");

  // The form offers the catalog by group (its datalist labels the group).
  await page.goto(service.url + "/submit");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  assert.equal(await page.locator("#known-systems option[value='E-mail']").getAttribute("label"), "Mail services");
  assert.ok((await page.locator(".system-chip").allTextContents()).includes(HOSTILE));
  await finish(admin);
});

test("a viewer reads the catalog without the forms, and may not change it", async () => {
  const viewer = await signedIn("viewer", "/systems");
  const { page } = viewer;
  await page.waitForSelector("#system-table tbody tr", { timeout: WAIT_MS });
  assert.equal(await page.locator("form.system-form").count(), 0);
  assert.equal(await page.locator("#systems-read-only").count(), 1);
  assert.equal(await page.locator("header nav a[href='/imports']").count(), 0, "imports are the help desk's");
  assert.equal(await page.locator("header nav a[href='/systems']").count(), 1);
  const names = await page.locator("#system-table th.system-name").allTextContents();
  assert.ok(names.includes(HOSTILE), JSON.stringify(names));
  await viewer.screenshot("systems-viewer");
  // The incident page and the dashboard keep the hostile name as text too.
  await page.goto(service.url + "/incidents/" + tickets.hostile);
  assert.match(await page.locator("main").textContent(), /<img src=x onerror=alert\(1\)>/);
  await page.goto(service.url + "/?range=7d");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  assert.ok((await page.locator("#filter-system option").allTextContents()).includes(HOSTILE));
  await finish(viewer);

  const refused = await api(service.url, "POST", "/api/v1/systems",
    { action: "define", name: "Printers", submission_id: "viewer-try" }, as("viewer"));
  assert.equal(refused.status, 403, refused.text);
  const catalog = await api(service.url, "GET", "/api/v1/systems", null, as("viewer"));
  assert.equal(catalog.status, 200, catalog.text);
  assert.ok(!catalog.json.systems.some((system) => system.name === "Printers"));
  // A viewer's session on the page may not post either.
  const page403 = await signedIn("viewer", "/systems");
  const answer = await page403.page.evaluate(async () => {
    const response = await window.Ledger.fetchJson("/api/v1/systems", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: "define", name: "Printers" }),
    });
    return response.status;
  });
  assert.equal(answer, 403);
  await finish(page403);
});
