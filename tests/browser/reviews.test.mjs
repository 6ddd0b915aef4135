// Browser tests of reviews and action items: the incident page's review and
// item forms (without JavaScript), /actions, and the dashboard's marks; with
// hostile text in every new field, which must stay text. The real service
// binary, Debian's chromium, playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startService, launchBrowser, openPage, api, hoursAgo } from "./harness.mjs";

const WAIT_MS = 15_000;
const HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>\"'&amp;";
let service;
let chrome;
let ticket;

before(async () => {
  service = await startService();
  chrome = await launchBrowser();
  const opened = await api(service.url, "POST", "/api/v1/submissions", {
    action: "create", title: "Mail down " + HOSTILE, systems: ["mail"], engineer: "Ana", severity: "major",
    started_at: hoursAgo(6),
  });
  assert.equal(opened.status, 201, opened.text);
  ticket = opened.json.ticket;
  const closed = await api(service.url, "POST", "/api/v1/submissions", { action: "close", ticket, ended_at: hoursAgo(4) });
  assert.equal(closed.status, 201, closed.text);
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
});

async function finish(opened) {
  assert.deepEqual(opened.foreignRequests(), [], "requests left the service");
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened: injected script ran");
  const errors = opened.record.consoleErrors;
  assert.deepEqual(errors, [], "console errors");
  await opened.close();
}

test("a review and an action item written through the pages, without JavaScript, show on the incident page and /actions", async () => {
  const opened = await openPage(chrome.browser, service.url, { javaScript: false });
  const { page } = opened;
  await page.goto(service.url + "/incidents/" + ticket);
  assert.equal((await page.locator("#no-review").textContent()).trim(), "No review yet.");

  // Draft first, then publish with an amendment.
  await page.fill("#review-summary", "Summary " + HOSTILE);
  await page.fill("#review-root_cause", "Cause " + HOSTILE);
  await page.fill("#review-contributing_factors", "factor one " + HOSTILE + "\nfactor two");
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+\?recorded=\d+$/), page.click("#review-form button[type=submit]")]);
  assert.match(await page.locator("#review .badge").first().textContent(), /draft/);
  await page.click("#review details summary:has-text('Amend the review')");
  await page.fill("#review-lessons", "Lessons " + HOSTILE);
  await page.check("#review-form input[name=publish]");
  await Promise.all([page.waitForURL(/\?recorded=\d+$/), page.click("#review-form button[type=submit]")]);
  assert.match(await page.locator("#review .badge").first().textContent(), /published/);
  assert.equal(await page.locator("#review [data-review=summary]").first().textContent(), "Summary " + HOSTILE);
  assert.equal(await page.locator("#review [data-review=lessons]").first().textContent(), "Lessons " + HOSTILE);
  assert.deepEqual(await page.locator("#review [data-review=contributing_factors] li").first().allTextContents(),
    ["factor one " + HOSTILE]);
  const versions = await page.locator("table.review-versions tbody tr").allTextContents();
  assert.equal(versions.length, 2);
  assert.match(versions[0], /draft/);
  assert.match(versions[1], /published/);
  const stored = (await api(service.url, "GET", "/api/v1/incidents/" + ticket)).json;
  const head = stored.review.published.reviewed_head_hash;
  assert.match(await page.locator("#review-head").textContent(), new RegExp(head));
  assert.equal(await page.locator("#review img, #review script").count(), 0, "no markup from user text");

  // An action item through the page's form, then its state through /actions.
  await page.click("#action-items details summary");
  await page.fill("#item-title", "Disk alert " + HOSTILE);
  await page.fill("#item-owner", "ops@example.org");
  await page.fill("#item-due", "2026-01-05");
  await page.fill("#item-link", "https://tracker.example.org/7");
  await Promise.all([page.waitForURL(/\?recorded=\d+$/), page.click("#item-form button[type=submit]")]);
  const item = ticket + "-A1";
  const row = page.locator("#action-items tr[data-item='" + item + "']");
  assert.equal(await row.locator(".item-title").textContent(), "Disk alert " + HOSTILE);
  assert.match(await row.locator(".item-status").textContent(), /open\s+overdue/);

  await page.goto(service.url + "/actions?overdue=true");
  const listed = page.locator("tr[data-item='" + item + "']");
  assert.equal(await listed.count(), 1);
  assert.equal(await listed.locator(".item-title").textContent(), "Disk alert " + HOSTILE);
  await listed.locator("select[name=status]").selectOption("done");
  await Promise.all([page.waitForURL(/\/incidents\/INC-\d+\?recorded=\d+$/), listed.locator("button[type=submit]").click()]);
  assert.match(await page.locator("#action-items tr[data-item='" + item + "'] .item-status").textContent(), /done/);
  await page.goto(service.url + "/actions?status=done");
  assert.equal(await page.locator("tr[data-item='" + item + "']").count(), 1);
  await opened.screenshot("reviews-actions-no-js");

  // Dropping without a note is refused, and says why.
  await page.goto(service.url + "/actions");
  await page.locator("tr[data-item='" + item + "'] select[name=status]").selectOption("dropped");
  const [refused] = await Promise.all([page.waitForResponse((r) => r.url().includes("/actions/")),
    page.locator("tr[data-item='" + item + "'] button[type=submit]").click()]);
  assert.equal(refused.status(), 400);
  assert.match(await page.locator("main").textContent(), /note is required/);
  assert.deepEqual(opened.record.dialogs, []);
  await opened.close();
});

test("with JavaScript, the incident page keeps hostile text inert and the dashboard marks reviewed incidents", async () => {
  const added = await api(service.url, "POST", "/api/v1/incidents/" + ticket + "/action-items",
    { title: "Second " + HOSTILE, owner: "ops@example.org" });
  assert.equal(added.status, 201, added.text);
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/incidents/" + ticket);
  await page.waitForSelector("#review");
  assert.equal(await page.locator("#review [data-review=root_cause]").first().textContent(), "Cause " + HOSTILE);
  await opened.screenshot("reviews-incident-page");

  await page.goto(service.url + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  const cell = page.locator("#incident-table tbody tr", { hasText: ticket });
  await cell.locator(".mark-reviewed").waitFor({ timeout: WAIT_MS });
  assert.equal(await cell.locator(".mark-open-items").textContent(), "1 open action item");
  await opened.screenshot("reviews-dashboard");
  await finish(opened);
});
