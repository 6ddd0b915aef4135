// Browser tests of signing in: a service with an auth file, Debian's
// chromium, playwright-core. The pages ask for a token once, then ride on the
// session cookie; the form's submissions carry the session's CSRF token, with
// JavaScript (X-CSRF-Token header) and without (a hidden field).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startService, launchBrowser, openPage, api, hoursAgo, addToken } from "./harness.mjs";

const WAIT_MS = 15_000;
let service;
let chrome;
let folder;
const tokens = {};

// The tests ask for 401 and 403 pages on purpose, which Chromium logs as
// failed loads; anything else is an error.
async function finish(opened) {
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened: injected script ran");
  const errors = opened.record.consoleErrors.filter((text) =>
    !/^Failed to load resource: the server responded with a status of 40[13]/.test(text));
  assert.deepEqual(errors, [], "console errors");
  await opened.close();
}

async function signIn(page, token) {
  await page.fill("#f-token", token);
  await Promise.all([page.waitForNavigation(), page.click("form.signin button[type=submit]")]);
}

before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), "ledger-signin-"));
  const authFile = path.join(folder, "auth.txt");
  tokens.helpdesk = addToken(authFile, "desk-ana", "helpdesk");
  tokens.viewer = addToken(authFile, "wall-screen", "viewer");
  service = await startService(["--auth-file", authFile]);
  chrome = await launchBrowser();
  const answer = await api(service.url, "POST", "/api/v1/submissions",
    { action: "create", title: "<img src=x onerror=alert(1)> Mail delayed", systems: ["mail"], engineer: "Ana Ruiz",
      severity: "major", started_at: hoursAgo(3) },
    { Authorization: "Bearer " + tokens.helpdesk });
  assert.equal(answer.status, 201, answer.text);
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
  if (folder) rmSync(folder, { recursive: true, force: true });
});

test("the form asks for a token, then submits with the session and its CSRF token", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  const first = await page.goto(service.url + "/submit");
  assert.equal(first.status(), 401);
  await page.waitForSelector("#f-token");
  await page.fill("#f-token", "ilt_not-the-right-one");
  await Promise.all([page.waitForNavigation(), page.click("form.signin button[type=submit]")]);
  assert.match(await page.locator(".notice-error").textContent(), /not valid/);
  await signIn(page, tokens.helpdesk);
  assert.equal(new URL(page.url()).pathname, "/submit");
  await page.waitForSelector("body[data-ready=true]");
  assert.equal((await page.locator("header .who").textContent()).trim(), "desk-ana");
  const cookies = await opened.context.cookies();
  const session = cookies.find((cookie) => cookie.name === "ledger_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  assert.equal(await page.evaluate(() => document.cookie), "", "the session cookie is visible to scripts");

  await page.fill("#f-title", "Printers offline");
  await page.fill("#f-systems", "print");
  await page.fill("#f-engineer", "Cy Park");
  await page.click("#submission-form button[type=submit]");
  await page.waitForSelector("#form-result:not([hidden])", { timeout: WAIT_MS });
  const ticket = (await page.locator("#result-link").textContent()).trim();
  const answer = await api(service.url, "GET", "/api/v1/incidents/" + ticket + "/events", null,
    { Authorization: "Bearer " + tokens.viewer });
  assert.equal(answer.json.events[0].actor, "desk-ana");
  await opened.screenshot("signin-form-submitted");

  await Promise.all([page.waitForNavigation(), page.click("header form.session button[type=submit]")]);
  assert.equal(new URL(page.url()).pathname, "/signin");
  const again = await page.goto(service.url + "/submit");
  assert.equal(again.status(), 401, "the session still worked after signing out");
  await finish(opened);
});

test("without JavaScript the form posts its CSRF token as a field", async () => {
  const opened = await openPage(chrome.browser, service.url, { javaScript: false });
  const { page } = opened;
  await page.goto(service.url + "/signin?next=/submit");
  await signIn(page, tokens.helpdesk);
  await page.fill("#f-title", "Wi-Fi down on floor 3");
  await page.fill("#f-systems", "wifi");
  await page.fill("#f-engineer", "Bo Chen");
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+\?recorded=\d+$/), page.click("#submission-form button[type=submit]")]);
  assert.match(await page.locator("h1").textContent(), /Wi-Fi down on floor 3/);
  await finish(opened);
});

test("a viewer's session shows the live dashboard and no form", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/signin?next=/");
  await signIn(page, tokens.viewer);
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.waitForSelector("#live-status.live-live", { timeout: WAIT_MS });
  assert.equal(await page.locator("header nav a[href='/submit']").count(), 0);
  // The title's markup stays text.
  await page.waitForSelector("#incident-table tbody tr", { timeout: WAIT_MS });
  assert.match(await page.locator("#incident-table tbody").textContent(), /<img src=x onerror=alert\(1\)> Mail delayed/);
  const forbidden = await page.goto(service.url + "/submit");
  assert.equal(forbidden.status(), 403);
  assert.match(await page.locator(".notice-error").textContent(), /needs helpdesk/);
  await finish(opened);
});
