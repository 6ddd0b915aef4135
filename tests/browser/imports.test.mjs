// Browser test of the /imports page: a polled sheet with a refused row whose
// cells are hostile (HTML, script, CRLF) shows the row, its column and rule,
// its author and what it said, all as text: no dialog, no console error, no
// element made from a cell. The real service binary polling a real file,
// Debian's chromium, playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startService, launchBrowser, openPage, api } from "./harness.mjs";

const WAIT_MS = 30_000;
const HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>\"'&amp;\r\nBcc: evil@example.org";
const HEADER = ["Timestamp", "Email Address", "Action", "Ticket Number", "Title", "Affected Systems",
  "Engineer Responsible", "Update Notes"];
let folder;
let service;
let chrome;

function csvLine(cells) {
  return cells.map((cell) => (/[",\r\n]/.test(cell) ? "\"" + cell.replaceAll("\"", "\"\"") + "\"" : cell)).join(",") + "\r\n";
}

before(async () => {
  folder = mkdtempSync(path.join(tmpdir(), "ledger-imports-"));
  const sheet = path.join(folder, "responses.csv");
  const text = csvLine(HEADER) +
    csvLine(["3/28/2026 8:00:00", "desk@example.org", "Create new incident", "", "Mail delayed", "Mail", "Ana", ""]) +
    csvLine(["3/28/2026 9:00:00", "Ana@Example.org", "Update existing incident", "INC-999", "", "", "", HOSTILE]);
  writeFileSync(sheet + ".tmp", text);
  renameSync(sheet + ".tmp", sheet);
  service = await startService(["--poll-csv", sheet, "--poll-interval", "1s", "--sheet-timezone", "Europe/Berlin"]);
  chrome = await launchBrowser();
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const answer = await api(service.url, "GET", "/api/v1/imports");
    assert.equal(answer.status, 200, answer.text);
    if (answer.json.runs.length > 0) break;
    assert.ok(Date.now() < deadline, "no import within " + WAIT_MS + " ms: " + service.stderr());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

after(async () => {
  if (chrome) await chrome.close();
  if (service) assert.equal(await service.stop(), 0);
  if (folder) rmSync(folder, { recursive: true, force: true });
});

test("the imports page shows the refused row and every cell as text", async () => {
  const view = await openPage(chrome.browser, service.url);
  try {
    const response = await view.page.goto(service.url + "/imports");
    assert.equal(response.status(), 200);
    assert.match(response.headers()["content-security-policy"], /script-src 'self'/);
    const rows = view.page.locator("table.refused tbody tr");
    assert.equal(await rows.count(), 1);
    const cells = await rows.first().locator("td").allInnerTexts();
    assert.equal(cells[0], "3");
    assert.equal(cells[1], "Ticket Number (D)");
    assert.match(cells[2], /INC-999 does not exist/);
    assert.equal(cells[3], "ana@example.org");
    assert.equal(cells[4], "no (mail pending)");  // no SMTP server here: the job waits
    const said = await rows.first().locator("dl.cells dd").allTextContents();
    assert.ok(said.includes(HOSTILE.replace("\r\n", "\n")), JSON.stringify(said));
    // Nothing a cell said became an element or ran.
    assert.equal(await view.page.locator("main img, main script").count(), 0);
    assert.deepEqual(view.record.dialogs, []);
    assert.deepEqual(view.record.consoleErrors, []);
    assert.deepEqual(view.foreignRequests(), []);
    const counts = await view.page.locator("section.import-run p").first().textContent();
    assert.match(counts, /rows read 2, appended 1, already present 0, rejected 1/);
    await view.screenshot("imports");
  } finally {
    await view.close();
  }
});
