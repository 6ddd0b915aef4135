// Browser test of self-service subscription: Debian's chromium fills in the
// /subscribe form (with its script, and without), the service mails the
// confirmation through a real SMTP server (Debian's python3-aiosmtpd, writing
// a maildir), and the browser follows the mailed link and presses its button.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startService, launchBrowser, openPage, api, startSmtp, waitFor } from "./harness.mjs";

const WAIT_MS = 20_000;
const PUBLIC_URL = "https://status.example.org";
let service;
let chrome;
let smtp;
let folder;

// The confirm link of the confirmation mail to `address` in the maildir,
// its quoted-printable soft breaks and "=3D" undone.
function confirmLink(address) {
  const fresh = path.join(folder, "maildir", "new");
  let names = [];
  try { names = readdirSync(fresh); } catch (error) { return null; }
  for (const name of names) {
    const raw = readFileSync(path.join(fresh, name), "utf8");
    if (!raw.includes("To: <" + address + ">") || !raw.includes("Subject: Confirm")) continue;
    const body = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
    const match = /https:\/\/status\.example\.org(\/subscribe\/confirm\?token=[A-Za-z0-9_.-]+)/.exec(body);
    if (match) return match[1];
  }
  return null;
}

before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), "ledger-subscribe-"));
  smtp = await startSmtp(path.join(folder, "maildir"));
  service = await startService(["--smtp-url", smtp.url, "--smtp-from", "noc@example.org",
    "--public-url", PUBLIC_URL]);
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
  if (smtp) await smtp.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

async function finish(opened) {
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened: injected script ran");
  // The refused address below answers 400 on purpose.
  const errors = opened.record.consoleErrors.filter((text) =>
    !/^Failed to load resource: the server responded with a status of 400/.test(text));
  assert.deepEqual(errors, [], "console errors");
  await opened.close();
}

test("the form asks for a link, the mailed link confirms with a button", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/subscribe");
  // An address the browser takes but the service refuses: its error, on the page.
  await page.fill("#subscribe-email", "ana@localhost");
  await page.fill("#subscribe-systems", "mail");
  await page.click("#subscribe-form button[type=submit]");
  await page.waitForSelector("#subscribe-error:not([hidden])");
  assert.match(await page.textContent("#subscribe-error"), /email .*two labels/);

  await page.fill("#subscribe-email", "Ana.Ruiz@Example.org");
  await page.fill("#subscribe-systems", "Mail, <img src=x onerror=alert(1)>");
  await page.click("#subscribe-form button[type=submit]");
  await page.waitForSelector("#subscribe-result:not([hidden])");
  assert.match(await page.textContent("#subscribe-result"), /confirmation link is on its way/);
  assert.equal(await page.isHidden("#subscribe-error"), true);
  assert.equal(new URL(page.url()).pathname, "/subscribe", "the script posted; the page stayed");
  await opened.screenshot("subscribe-requested");

  const link = await waitFor("the confirmation mail", () => confirmLink("ana.ruiz@example.org"));
  await page.goto(service.url + link);
  assert.match(await page.textContent("main"), /Subscribe ana\.ruiz@example\.org to notices about mail, <img/);
  const before = await api(service.url, "GET", "/api/v1/subscriptions?email=ana.ruiz@example.org");
  assert.deepEqual(before.json.subscriptions, [], "opening the link subscribes nobody");
  await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);
  assert.match(await page.textContent("#confirm-result"), /Subscribed ana\.ruiz@example\.org/);
  await opened.screenshot("subscribe-confirmed");
  const now = await api(service.url, "GET", "/api/v1/subscriptions?email=ana.ruiz@example.org");
  assert.deepEqual(now.json.subscriptions,
    [{ email: "ana.ruiz@example.org", systems: ["<img src=x onerror=alert(1)>", "mail"] }]);
  await finish(opened);
});

test("without JavaScript the form posts and the service answers a page", async () => {
  const opened = await openPage(chrome.browser, service.url, { javaScript: false });
  const { page } = opened;
  await page.goto(service.url + "/subscribe");
  await page.fill("#subscribe-email", "bob@example.org");
  await page.fill("#subscribe-systems", "vpn");
  await Promise.all([page.waitForNavigation(), page.click("#subscribe-form button[type=submit]")]);
  assert.match(await page.textContent("#subscribe-result"), /confirmation link is on its way/);
  await waitFor("bob's confirmation mail", () => confirmLink("bob@example.org"));
  await finish(opened);
});
