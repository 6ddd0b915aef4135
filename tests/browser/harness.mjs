// Shared set-up for the browser tests: the real service binary on a free
// loopback port with a fresh data folder, and Debian's chromium driven by
// playwright-core. Every page records the requests it makes, so a test can
// assert that nothing left for another host.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { once } from "node:events";
import net from "node:net";
import { chromium } from "playwright-core";

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
export const CHROMIUM = process.env.CHROMIUM_BINARY || "/usr/bin/chromium";
export const ARTIFACTS = process.env.BROWSER_ARTIFACTS_DIR || path.join(tmpdir(), "ledger-browser-artifacts");

// `extraArgs` go to `serve` (e.g. ["--auth-file", FILE]).
export async function startService(extraArgs = []) {
  const binary = process.env.LEDGER_BINARY;
  if (!binary) throw new Error("LEDGER_BINARY is not set (ctest sets it; see tests/CMakeLists.txt)");
  const data = mkdtempSync(path.join(tmpdir(), "ledger-browser-"));
  const child = spawn(binary, ["serve", "--data", data, "--listen", "127.0.0.1:0", ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr += chunk; });
  // Never outlive the test process, even when a hook fails before stop().
  const killOnExit = () => { if (child.exitCode === null) child.kill("SIGKILL"); };
  process.on("exit", killOnExit);
  const url = await new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error("service did not start: " + stderr)), START_TIMEOUT_MS);
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error("service exited " + code + ": " + stderr)); });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await once(child, "exit");
        clearTimeout(timer);
      }
      process.off("exit", killOnExit);
      rmSync(data, { recursive: true, force: true });
      // Its log (an access line per request, streams when they close) stays
      // beside the screenshots, for when a test failed.
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(path.join(ARTIFACTS, "service-" + new URL(url).port + ".log"), stderr);
      return child.exitCode;
    },
    stderr: () => stderr,
  };
}

export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  // playwright-core gives each launch a fresh, temporary profile of its own
  // (it refuses --user-data-dir here).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

// A page that records every request and every console error, and fails on
// any dialog (an alert() would mean injected script ran).
export async function openPage(browser, base, options = {}) {
  const context = await browser.newContext({
    javaScriptEnabled: options.javaScript !== false,
    timezoneId: options.timezoneId || "Europe/Berlin",
    locale: "en-GB",
    viewport: { width: 1400, height: 1000 },
  });
  const page = await context.newPage();
  const record = { requests: [], consoleErrors: [], dialogs: [] };
  page.on("request", (request) => record.requests.push(request.url()));
  // A failed load names its URL (Chromium's text does not), so that a
  // failure says which request it was.
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const where = message.location() && message.location().url;
    const text = message.text();
    record.consoleErrors.push(where && text.startsWith("Failed to load resource") ? text + " (" + where + ")" : text);
  });
  page.on("pageerror", (error) => record.consoleErrors.push(String(error)));
  page.on("dialog", async (dialog) => { record.dialogs.push(dialog.message()); await dialog.dismiss(); });
  return {
    page,
    context,
    record,
    // Every request went to the service (or stayed inside the page).
    foreignRequests() {
      return record.requests.filter((url) => !url.startsWith(base + "/") && !url.startsWith("data:"));
    },
    async screenshot(name) {
      await page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
    },
    close: () => context.close(),
  };
}

export async function api(base, method, pathname, body, headers = {}) {
  const response = await fetch(base + pathname, {
    method,
    headers: Object.assign(body ? { "Content-Type": "application/json" } : {}, headers),
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch (error) { json = null; }
  return { status: response.status, headers: response.headers, json, text };
}

export function hoursAgo(hours) {
  return new Date(Date.now() - hours * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// A token for `name` with `roles` (comma-separated), added to `authFile`
// by the binary's own command; its secret.
export function addToken(authFile, name, roles) {
  return execFileSync(process.env.LEDGER_BINARY, ["add-token", "--auth-file", authFile, "--name", name, "--roles", roles],
    { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
}

export async function freePort() {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

export async function waitFor(what, probe, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("timed out waiting for " + what);
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => { socket.destroy(); resolve(true); });
    socket.on("error", () => resolve(false));
  });
}

// A real SMTP server (Debian's python3-aiosmtpd) on a free loopback port,
// writing what it accepts to the maildir `maildir`. stop() ends it.
export async function startSmtp(maildir) {
  const python = process.env.LEDGER_PYTHON || "/usr/bin/python3";
  const port = await freePort();
  const child = spawn(python, ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + port, "-c", "aiosmtpd.handlers.Mailbox",
    maildir], { stdio: ["ignore", "ignore", "pipe"] });
  let errors = "";
  child.stderr.on("data", (chunk) => { errors += chunk; });
  await waitFor("the SMTP server (" + errors + ")", () => accepts(port));
  return {
    url: "smtp://127.0.0.1:" + port,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}
