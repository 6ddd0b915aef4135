"""The form-responses sheet (issue 7), against the real binary: the sample
export in tests/data (BOM, CRLF, quoted multi-line descriptions, commas in
fields, a duplicate response, a missing ticket number, a bad date, an unknown
action, a formula-looking cell) imported with `import-csv`, imported again,
then its longer, re-ordered re-export with an edited row; and
`serve --poll-csv` picking up a changing file exactly once while serving."""

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data")
SAMPLE = os.path.join(DATA, "form_responses.csv")
REEXPORT = os.path.join(DATA, "form_responses_reexport.csv")
TIMEOUT_SECONDS = 120
POLL_WAIT_SECONDS = 30

HEADER = ["Timestamp", "Email Address", "Action", "Ticket Number", "Title", "Description", "Affected Systems",
          "Engineer Responsible", "Severity", "Outage Start", "Outage End", "Update Notes"]

# Expected outcome per row of tests/data/form_responses.csv:
# row -> (outcome, ticket, column to blame, words of the rule).
EXPECTED_FIRST = {
    2: ("appended", "INC-1", None, None),         # create, multi-line quoted description, "Mail, VPN"
    3: ("appended", "INC-2", None, None),         # create, comma in the title
    4: ("appended", "INC-1", None, None),         # update naming INC-1
    5: ("already_present", "INC-1", None, None),  # the same response as row 2 again
    6: ("rejected", None, "Ticket Number", "ticket is required for action update"),
    7: ("rejected", None, "Outage Start", '"11/31/2025 9:00" is not a calendar date'),
    8: ("rejected", None, "Action", '"Escalate incident" is not one of'),
    9: ("appended", "INC-1", None, None),         # close INC-1
    10: ("appended", "INC-3", None, None),        # formula-looking title, kept as text
    # Names INC-3 meaning row 7's incident (which would have been INC-3):
    # the failed create on row 7 shifted the numbers, so it is refused.
    11: ("rejected", None, "Ticket Number", "the create on row 7 was rejected"),
}

# The longer re-export: sorted by email address, LF, no BOM; the response of
# row 4 edited (ETA 30 -> 20 min), and two closes/creates added.
EXPECTED_REEXPORT = {
    2: ("already_present", "INC-1", None, None),
    3: ("appended", "INC-1", None, None),  # the edited update: a new submission
    4: ("already_present", "INC-1", None, None),
    5: ("already_present", "INC-1", None, None),
    6: ("already_present", "INC-2", None, None),
    7: ("rejected", None, "Action", "Escalate incident"),
    8: ("appended", "INC-2", None, None),  # new: close INC-2
    9: ("rejected", None, "Ticket Number", "ticket is required"),
    10: ("rejected", None, "Outage Start", "not a calendar date"),
    11: ("rejected", None, "Ticket Number", "the create on row 10 was rejected"),
    12: ("already_present", "INC-3", None, None),
    13: ("appended", "INC-4", None, None),  # new: create
}


def run_cli(*arguments):
    completed = subprocess.run([service.ledger_binary(), *arguments], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT_SECONDS)
    return completed.returncode, completed.stdout.decode(), completed.stderr.decode()


def import_csv(data_dir, path, *extra):
    code, out, err = run_cli("import-csv", "--data", data_dir, path, *extra)
    report = json.loads(out) if out.strip() else None
    return code, report, err


def sheet_time(moment):
    """A datetime as the sheet writes it: M/D/YYYY H:MM:SS."""
    return "%d/%d/%d %d:%02d:%02d" % (moment.month, moment.day, moment.year, moment.hour, moment.minute,
                                      moment.second)


def csv_line(cells):
    out = []
    for cell in cells:
        if any(c in cell for c in ',"\r\n'):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return ",".join(out) + "\r\n"


def sheet_text(rows):
    text = csv_line(HEADER)
    for row in rows:
        text += csv_line([row.get(title, "") for title in HEADER])
    return text


def write_atomically(path, text):
    with open(path + ".tmp", "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


class SheetTestCase(service.ServiceTestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-sheet-")
        self.addCleanup(self.scratch.cleanup)

    def path(self, name):
        return os.path.join(self.scratch.name, name)

    def assertRows(self, report, expected):
        by_row = {row["row"]: row for row in report["rows"]}
        self.assertEqual(sorted(by_row), sorted(expected), report)
        for number, (outcome, ticket, column, words) in expected.items():
            row = by_row[number]
            what = "row %d: %r" % (number, row)
            self.assertEqual(row["outcome"], outcome, what)
            if ticket is not None:
                self.assertEqual(row["ticket"], ticket, what)
            if outcome == "rejected":
                self.assertEqual(row["column"], column, what)
                self.assertIn(words, row["rule"], what)
                self.assertIsNone(row["seq"], what)
            else:
                self.assertIsInstance(row["seq"], int, what)
            self.assertTrue(row["submission_id"].startswith("sheet-"), what)


class ImportCsvTest(SheetTestCase):
    def test_sample_export_then_again_then_the_longer_reexport(self):
        data = self.path("data")
        zone = ["--sheet-timezone", "Europe/Berlin"]

        code, report, err = import_csv(data, SAMPLE, *zone)
        self.assertEqual(code, 1, err)  # some rows rejected
        self.assertIsNone(report["file_error"])
        self.assertEqual((report["rows_read"], report["appended"], report["already_present"], report["rejected"]),
                         (10, 5, 1, 4), report)
        self.assertRows(report, EXPECTED_FIRST)
        # Every bad row named on stderr with its row, line and column.
        self.assertIn('row 6 (line 8), column "Ticket Number" (D): ticket is required for action update', err)
        self.assertIn('row 7 (line 9), column "Outage Start" (J)', err)
        self.assertIn('row 8 (line 10), column "Action" (C)', err)
        self.assertIn("rows read 10, appended 5, already present 1, rejected 4", err)

        # The same file again: nothing new, the same rows rejected.
        code, again, err = import_csv(data, SAMPLE, *zone)
        self.assertEqual(code, 1, err)
        self.assertEqual((again["appended"], again["already_present"], again["rejected"]), (0, 6, 4), again)
        self.assertEqual({r["row"]: r["seq"] for r in again["rows"]}, {r["row"]: r["seq"] for r in report["rows"]})

        # The longer, re-ordered re-export: only the edited and the new rows.
        code, longer, err = import_csv(data, REEXPORT, *zone)
        self.assertEqual(code, 1, err)
        self.assertEqual((longer["rows_read"], longer["appended"], longer["already_present"], longer["rejected"]),
                         (12, 3, 5, 4), longer)
        self.assertRows(longer, EXPECTED_REEXPORT)

        # And once more: nothing.
        code, last, err = import_csv(data, REEXPORT, *zone)
        self.assertEqual(last["appended"], 0, last)

        # What the dashboard's API shows: each incident exactly once.
        svc = self.start_service(data_dir=data)
        events = svc.all_events()
        self.assertEqual(len(events), 8)
        listing = svc.get("/api/v1/incidents?from=2025-11-24T00:00:00Z&to=2025-11-25T00:00:00Z").data
        titles = sorted(incident["title"] for incident in listing["incidents"])
        self.assertEqual(titles, sorted(["Mail delayed", "Printer queue stuck, 3rd floor",
                                         '=HYPERLINK("http://evil.example","Click")', "DNS lookups slow"]), listing)
        mail = svc.get("/api/v1/incidents/INC-1").data
        self.assertEqual(mail["status"], "closed")
        self.assertEqual(mail["systems"], ["Mail", "VPN"])
        self.assertEqual(mail["severity"], "critical")
        self.assertEqual(mail["started_at"], "2025-11-24T08:30:00+01:00")
        self.assertEqual(mail["ended_at"], "2025-11-24T10:02:00+01:00")
        self.assertIn('Customers see "delivery delayed" bounces', mail["description"])
        self.assertIn("\n", mail["description"])
        printer = svc.get("/api/v1/incidents/INC-2").data
        self.assertEqual(printer["status"], "closed")
        # No Outage Start: the Timestamp is when the outage started.
        self.assertEqual(printer["started_at"], "2025-11-24T08:55:03+01:00")
        self.assertEqual(svc.get("/api/v1/incidents/INC-4").data["status"], "open")
        by_seq = {event["seq"]: event for event in events}
        self.assertEqual(by_seq[1]["actor"], "ana.ruiz@example.org")
        self.assertEqual(by_seq[2]["actor"], "bo.chen@example.org")
        # Line breaks inside quotes read the same from CRLF and LF files.
        close = [e for e in events if e["type"] == "INCIDENT_CLOSED" and e["ticket"] == "INC-1"][0]
        self.assertEqual(close["payload"]["note"], "Queue empty.\nRoot cause: full disk on mx2, cleaned up.")
        notes = sorted(e["payload"].get("note", "") for e in events if e["type"] == "INCIDENT_UPDATED")
        self.assertEqual(notes, ["MX queue draining, ETA 20 min", "MX queue draining, ETA 30 min"])

    def test_refused_while_the_service_holds_the_ledger(self):
        data = self.path("data")
        svc = self.start_service(data_dir=data)
        code, report, err = import_csv(data, SAMPLE, "--sheet-timezone", "Europe/Berlin")
        self.assertEqual(code, 2)
        self.assertIn("--poll-csv", err)
        self.assertEqual(svc.head_seq(), 0)

    def test_files_that_cannot_be_imported(self):
        data = self.path("data")
        broken = self.path("broken.csv")
        with open(SAMPLE, "rb") as handle:
            content = handle.read()
        with open(broken, "wb") as handle:
            handle.write(content + b'11/25/2025 9:00:00,x@example.org,create,,"never closed\r\n')
        code, report, err = import_csv(data, broken, "--sheet-timezone", "Europe/Berlin")
        self.assertEqual(code, 2, err)
        self.assertIn("CSV row 12 (line 15), column 5 (E)", report["file_error"]["message"])
        self.assertIn("unterminated", err)
        self.assertEqual(report["appended"], 0)

        no_timestamp = self.path("no_timestamp.csv")
        with open(no_timestamp, "w") as handle:
            handle.write("When,Action,Title\n1/1/2025 1:00,create,x\n")
        code, report, err = import_csv(data, no_timestamp)
        self.assertEqual(code, 2)
        self.assertIn('no "Timestamp" column', err)

        # Sheet times need the sheet's zone; each row says so.
        code, report, err = import_csv(data, SAMPLE)
        self.assertEqual(code, 1)
        self.assertEqual(report["appended"], 0)
        self.assertIn("--sheet-timezone", report["rows"][0]["rule"])

        for arguments in (["--data", data, SAMPLE, "--sheet-timezone", "Mars/Base"],
                          ["--data", data, SAMPLE, "--mapping", self.path("missing.json")],
                          ["--data", data, SAMPLE, "--colour", "red"], ["--data", data], [SAMPLE],
                          ["--data", data, SAMPLE, SAMPLE], ["--data", data, self.path("missing.csv")]):
            code, _, err = run_cli("import-csv", *arguments)
            self.assertEqual(code, 2, (arguments, err))
        self.assertEqual(run_cli("export", "--data", data)[1], "")  # nothing was ever appended

    def test_mapping_file_for_a_translated_form(self):
        mapping = self.path("mapping.json")
        with open(mapping, "w", encoding="utf-8") as handle:
            json.dump({"columns": {"timestamp": "Zeitstempel", "actor": "E-Mail-Adresse", "action": "Aktion",
                                   "ticket": "Ticketnummer", "title": "Titel", "systems": "Betroffene Systeme",
                                   "engineer": "Verantwortlich"},
                       "actions": {"Neuen Vorfall melden": "create", "Vorfall schließen": "close"}}, handle)
        sheet = self.path("antworten.csv")
        with open(sheet, "w", encoding="utf-8", newline="") as handle:
            handle.write("Zeitstempel,E-Mail-Adresse,Aktion,Ticketnummer,Titel,Betroffene Systeme,Verantwortlich\r\n"
                         "24.11.2025,x@example.org,Vorfall eskalieren,INC-1,,,\r\n"
                         "2025-11-24T09:00:00+01:00,x@example.org,Neuen Vorfall melden,,Drucker,Druck,Jo\r\n"
                         "2025-11-24T10:00:00+01:00,x@example.org,Vorfall schließen,INC-1,,,\r\n")
        data = self.path("data")
        code, report, err = import_csv(data, sheet, "--mapping", mapping)
        self.assertEqual(code, 1, err)
        self.assertEqual([r["outcome"] for r in report["rows"]], ["rejected", "appended", "appended"], report)
        self.assertEqual(report["rows"][0]["column"], "Zeitstempel")  # the first bad cell of the row
        self.assertIn('got "24.11.2025"', report["rows"][0]["rule"])
        with open(mapping, "w") as handle:
            handle.write('{"columns": {"colour": "Farbe"}}')
        code, _, err = import_csv(data, sheet, "--mapping", mapping)
        self.assertEqual(code, 2)
        self.assertIn('unknown field "colour"', err)


class PollTest(SheetTestCase):
    def wait_for_head(self, svc, seq):
        deadline = time.monotonic() + POLL_WAIT_SECONDS
        while time.monotonic() < deadline:
            if svc.head_seq() >= seq:
                return svc.head_seq()
            time.sleep(0.2)
        return svc.head_seq()

    def wait_for_log(self, svc, pattern):
        deadline = time.monotonic() + POLL_WAIT_SECONDS
        while time.monotonic() < deadline:
            if re.search(pattern, svc.read_log()):
                return True
            time.sleep(0.2)
        return False

    def test_poller_brings_in_each_change_exactly_once(self):
        sheet = self.path("responses.csv")
        now = datetime.datetime.now(datetime.timezone.utc)
        rows = [
            {"Timestamp": sheet_time(now), "Email Address": "ana@example.org", "Action": "Create new incident",
             "Title": "Mail delayed", "Description": "Queue stuck,\nsee MX", "Affected Systems": "Mail, VPN",
             "Engineer Responsible": "Ana Ruiz", "Severity": "Major"},
            {"Timestamp": sheet_time(now), "Email Address": "bo@example.org", "Action": "Close incident",
             "Update Notes": "no ticket number"},
        ]
        write_atomically(sheet, sheet_text(rows))
        svc = self.start_service(data_dir=self.path("data"), extra_args=[
            "--poll-csv", sheet, "--poll-interval", "1s", "--sheet-timezone", "UTC"])
        # The create, then the record of the refused row (sheet_refusals.h).
        self.assertEqual(self.wait_for_head(svc, 2), 2)
        self.assertTrue(self.wait_for_log(svc, r"rows read 2, appended 1, already present 0, rejected 1"))
        self.assertIn('row 3 (line 4), column "Ticket Number" (D): ticket is required for action close', svc.read_log())
        self.assertEqual(svc.get("/api/v1/incidents/INC-1").data["title"], "Mail delayed")
        refused = svc.events(after=1)["events"][0]
        self.assertEqual((refused["type"], refused["payload"]["row"], refused["payload"]["submitter"]),
                         ("SHEET_ROW_REFUSED", 3, "bo@example.org"))

        # The help desk sees INC-1 on the dashboard and uses it; rows are
        # appended to the sheet while the service runs.
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        rows.append({"Timestamp": sheet_time(later), "Email Address": "ana@example.org",
                     "Action": "Update existing incident", "Ticket Number": "INC-1", "Update Notes": "MX draining"})
        rows.append({"Timestamp": sheet_time(later), "Email Address": "cy@example.org", "Action": "create",
                     "Title": "VPN flaps", "Affected Systems": "VPN", "Engineer Responsible": "Cy"})
        write_atomically(sheet, sheet_text(rows))
        self.assertEqual(self.wait_for_head(svc, 4), 4)
        time.sleep(3)  # more looks at the unchanged file
        self.assertEqual(svc.head_seq(), 4)  # the refused row is recorded once

        # A broken file never stops the service; it is reported and skipped.
        write_atomically(sheet, sheet_text(rows) + '1/1/2026 0:00:00,x,create,,"never closed\r\n')
        self.assertTrue(self.wait_for_log(svc, r"file not imported: CSV row 6 \(line 7\), column 5 \(E\).*unterminated"))
        self.assertEqual(svc.get("/healthz").status, 200)
        self.assertEqual(svc.head_seq(), 4)

        # Re-ordered with one more row: only that row goes in.
        rows.append({"Timestamp": sheet_time(later), "Email Address": "ana@example.org", "Action": "Close incident",
                     "Ticket Number": "1", "Update Notes": "done"})
        write_atomically(sheet, sheet_text(list(reversed(rows))))
        self.assertEqual(self.wait_for_head(svc, 5), 5)
        self.assertTrue(self.wait_for_log(svc, r"rows read 5, appended 1, already present 3, rejected 1"))
        self.assertEqual(svc.get("/api/v1/incidents/INC-1").data["status"], "closed")
        metrics = svc.get("/metrics").data
        self.assertIn('ledger_sheet_rows_total{outcome="appended"} 4', metrics)
        self.assertIn("ledger_sheet_file_errors_total 1", metrics)

        # A restart reads the whole file again and appends nothing.
        svc.restart()
        self.assertTrue(self.wait_for_log(svc, r"rows read 5, appended 0, already present 4, rejected 1"))
        self.assertEqual(svc.head_seq(), 5)
        listing = svc.get("/api/v1/incidents").data
        self.assertEqual(sorted(i["title"] for i in listing["incidents"]), ["Mail delayed", "VPN flaps"])

    def test_a_missing_file_is_waited_for(self):
        sheet = self.path("later.csv")
        svc = self.start_service(data_dir=self.path("data"), extra_args=[
            "--poll-csv", sheet, "--poll-interval", "1s", "--sheet-timezone", "UTC"])
        self.assertTrue(self.wait_for_log(svc, r"cannot read .*later\.csv"))
        now = datetime.datetime.now(datetime.timezone.utc)
        write_atomically(sheet, sheet_text([{"Timestamp": sheet_time(now), "Action": "create", "Title": "Late",
                                             "Affected Systems": "x", "Engineer Responsible": "e"}]))
        self.assertEqual(self.wait_for_head(svc, 1), 1)

    def test_bad_poll_options_stop_the_start(self):
        for arguments in (["--poll-interval", "2m"], ["--poll-csv", "x.csv", "--poll-interval", "2 weeks"],
                          ["--poll-csv", "x.csv", "--sheet-timezone", "Nowhere/Atlantis"],
                          ["--poll-csv", "x.csv", "--mapping", self.path("missing.json")]):
            completed = subprocess.run([service.ledger_binary(), "serve", "--data", self.path("data"), "--listen",
                                        "127.0.0.1:0", *arguments], stdin=subprocess.DEVNULL, capture_output=True,
                                       timeout=TIMEOUT_SECONDS)
            self.assertEqual(completed.returncode, 2, (arguments, completed.stderr))
            self.assertNotIn(b"listening on", completed.stdout)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
