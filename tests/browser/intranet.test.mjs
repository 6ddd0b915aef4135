// Browser test of the intranet dashboard: a service with an auth file,
// `--anonymous viewer --trusted-network 127.0.0.1/32`, Debian's chromium,
// playwright-core. Two loopback source addresses stand for two networks:
// chromium's own connections come from 127.0.0.1 (trusted), and a relay in
// this file forwards a second browser context's connections to the service
// from 127.0.0.2 (not trusted), so the service sees a real peer address of
// each. From the trusted one, without any token, the dashboard, an incident
// page, the feed and the subscribe page work and an internal incident is
// nowhere; from the other they ask for a token, and the help desk's token
// signs in there and sees the internal incident.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startService, launchBrowser, openPage, api, hoursAgo, addToken, startSmtp } from "./harness.mjs";

const WAIT_MS = 15_000;
let service;
let chrome;
let smtp;
let folder;
let relay;
let relayUrl;
let desk;
const tickets = {};

// Forwards every connection to the service from 127.0.0.2.
async function startRelay(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(port), localAddress: "127.0.0.2" });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: "http://127.0.0.1:" + server.address().port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

async function submit(body) {
  const answer = await api(service.url, "POST", "/api/v1/submissions", body, { Authorization: "Bearer " + desk });
  assert.equal(answer.status, 201, answer.text);
  return answer.json.ticket;
}

before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), "ledger-intranet-"));
  const authFile = path.join(folder, "auth.txt");
  desk = addToken(authFile, "desk-ana", "helpdesk");
  smtp = await startSmtp(path.join(folder, "maildir"));
  service = await startService(["--auth-file", authFile, "--anonymous", "viewer", "--trusted-network", "127.0.0.1/32",
    "--smtp-url", smtp.url, "--smtp-from", "noc@example.org", "--public-url", "https://status.example.org"]);
  relay = await startRelay(service.url);
  relayUrl = relay.url;
  chrome = await launchBrowser();
  tickets.public = await submit({ action: "create", title: "Mail delayed", systems: ["mail"], engineer: "Bo Chen",
    started_at: hoursAgo(5) });
  tickets.internal = await submit({ action: "create", title: "Payroll export stuck", systems: ["payroll"],
    engineer: "Cy Park", visibility: "internal", started_at: hoursAgo(4) });
});

after(async () => {
  if (chrome) await chrome.close();
  if (relay) await relay.stop();
  if (service) assert.equal(await service.stop(), 0, "service did not stop cleanly: " + service.stderr());
  if (smtp) await smtp.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

function finish(opened, base) {
  assert.deepEqual(opened.record.dialogs, [], "a dialog opened");
  assert.deepEqual(opened.record.requests.filter((url) => !url.startsWith(base + "/") && !url.startsWith("data:")), [],
    "requests left the service");
}

test("from the trusted network, without a token: dashboard, incident page, feed and subscribe page", async () => {
  const opened = await openPage(chrome.browser, service.url);
  const { page } = opened;
  await page.goto(service.url + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
  await page.waitForSelector(".tl-item.ticket-" + tickets.public, { timeout: WAIT_MS });
  assert.equal(await page.locator(".tl-item.ticket-" + tickets.internal).count(), 0, "the internal incident's bar");
  assert.doesNotMatch(await page.locator("body").textContent(), /Payroll export stuck/);
  // The feed is linked from the dashboard.
  assert.ok(await page.locator('link[type="application/atom+xml"], a[href^="/feed.atom"]').count() > 0, "no feed link");

  let answer = await page.goto(service.url + "/incidents/" + tickets.public);
  assert.equal(answer.status(), 200);
  assert.match(await page.locator("main").textContent(), /Mail delayed/);
  answer = await page.goto(service.url + "/incidents/" + tickets.internal);
  assert.equal(answer.status(), 404, "an internal incident's page for an anonymous reader");

  answer = await page.goto(service.url + "/feed.atom");
  assert.equal(answer.status(), 200);
  const feed = await answer.text();
  assert.match(feed, /Mail delayed/);
  assert.doesNotMatch(feed, /Payroll export stuck/);

  answer = await page.goto(service.url + "/subscribe");
  assert.equal(answer.status(), 200);
  await page.waitForSelector("#subscribe-form", { timeout: WAIT_MS });
  await opened.screenshot("intranet-trusted-subscribe");
  finish(opened, service.url);
  assert.deepEqual(opened.record.consoleErrors.filter((text) => !/status of 404/.test(text)), [], "console errors");
  await opened.close();
});

test("from another network the same pages ask for a token; the help desk's signs in and sees internal incidents",
  async () => {
    const opened = await openPage(chrome.browser, relayUrl);
    const { page } = opened;
    for (const where of ["/", "/incidents/" + tickets.public, "/feed.atom", "/subscribe"]) {
      const answer = await page.goto(relayUrl + where);
      assert.equal(answer.status(), 401, where + " from 127.0.0.2 without a token");
      assert.doesNotMatch(await answer.text(), /Mail delayed/, where);
    }
    const api401 = await page.evaluate(async () => (await fetch("/api/v1/incidents")).status);
    assert.equal(api401, 401);

    await page.goto(relayUrl + "/signin?next=/");
    await page.fill("#f-token", desk);
    await Promise.all([page.waitForNavigation(), page.click("form.signin button[type=submit]")]);
    await page.waitForSelector("body[data-ready=true]", { timeout: WAIT_MS });
    await page.waitForSelector(".tl-item.ticket-" + tickets.internal, { timeout: WAIT_MS });
    await page.waitForSelector(".tl-item.ticket-" + tickets.public, { timeout: WAIT_MS });
    const answer = await page.goto(relayUrl + "/incidents/" + tickets.internal);
    assert.equal(answer.status(), 200);
    assert.match(await page.locator("main").textContent(), /Payroll export stuck/);
    await opened.screenshot("intranet-untrusted-helpdesk");
    finish(opened, relayUrl);
    assert.deepEqual(opened.record.consoleErrors.filter((text) => !/status of 401/.test(text)), [], "console errors");
    await opened.close();
  });
