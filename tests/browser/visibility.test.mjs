// Browser test of internal incidents on the dashboard: a service with an auth
// file and `--anonymous viewer`, Debian's chromium, playwright-core. An
// anonymous reader's dashboard draws no bar and no table row for an internal
// incident; once an update makes it public, its bar appears live.
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
let desk;
const tickets = {};

async function submit(body) {
  const answer = await api(service.url, "POST", "/api/v1/submissions", body, { Authorization: "Bearer " + desk });
  assert.equal(answer.status, 201, answer.text);
  return answer.json.ticket;
}

before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), "ledger-visibility-"));
  const authFile = path.join(folder, "auth.txt");
  desk = addToken(authFile, "desk-ana", "helpdesk");
  service = await startService(["--auth-file", authFile, "--anonymous", "viewer"]);
  chrome = await launchBrowser();
  tickets.public = await submit({ action: "create", title: "VPN flapping", systems: ["vpn"], engineer: "Bo Chen",
    started_at: hoursAgo(5) });
  tickets.internal = await submit({ action: "create", title: "Firewall rule audit", systems: ["firewall"],
    engineer: "Cy Park", visibility: "internal", started_at: hoursAgo(4) });
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
  if (folder) rmSync(folder, { recursive: true, force: true });
});

test("an anonymous reader's dashboard has no bar for an internal incident until it is made public", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.waitForSelector("#live-status.live-live", { timeout: WAIT_MS });
  await page.waitForSelector(".tl-item.ticket-" + tickets.public, { timeout: WAIT_MS });
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.internal).count(), 0, "the internal incident's bar");
  const rows = (await page.locator("#incident-table tbody th").allTextContents()).map((text) => text.trim());
  assert.deepEqual(rows, [tickets.public]);
  assert.doesNotMatch(await page.locator("body").textContent(), /Firewall rule audit/);

  await submit({ action: "update", ticket: tickets.internal, visibility: "everyone" });
  await page.waitForSelector(".tl-item.ticket-" + tickets.internal, { timeout: WAIT_MS });
  await opened.screenshot("visibility-made-public");
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened");
  assert.deepEqual(opened.record.consoleErrors, [], "console errors");
  await opened.close();
});
