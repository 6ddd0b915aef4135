"""Refused sheet rows, against the real binary and a real SMTP server
(Debian's python3-aiosmtpd): a polled sheet with three bad rows (a mistyped
ticket number, a time the clocks skip, an update with nothing in it), each
from another author, read twice and across a restart of the service:

- each refused row is one SHEET_ROW_REFUSED event and its author gets exactly
  one mail, saying the row, the column, the rule and what was typed
- a hostile cell (HTML, CRLF, a header line) stays text in the mail and on
  the /imports page
- GET /api/v1/imports (help desk) shows the three with their reasons and
  told=true, also after the restart; a viewer gets 403
- `export` and `verify` take the new event; the export's chain checks out

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_sheet_refusals.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_notifications  # noqa: E402,F401  (re-executes under the system python when aiosmtpd is missing)
from test_notifications import NotificationTestCase, smtp_args  # noqa: E402
from service import add_token, bearer, ledger_binary, require_binary_or_exit  # noqa: E402
from test_sheet_import import HEADER, csv_line  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = '<script>alert("x")</script> & <b>bold</b>\r\nBcc: evil@example.org\r\nSubject: pwned'
AUTHORS = {"ana@example.org": 3, "bo@example.org": 4, "cy@example.org": 5}  # author -> bad row


def sheet_text(rows):
    return csv_line(HEADER) + "".join(csv_line([row.get(title, "") for title in HEADER]) for row in rows)


def write_atomically(path, text):
    with open(path + ".tmp", "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


ROWS = [
    # Row 2: a good create, INC-1.
    {"Timestamp": "3/28/2026 8:00:00", "Email Address": "desk@example.org", "Action": "Create new incident",
     "Title": "Mail delayed", "Affected Systems": "Mail", "Engineer Responsible": "Ana Ruiz"},
    # Row 3: a mistyped ticket number, with a hostile note.
    {"Timestamp": "3/28/2026 9:00:00", "Email Address": "Ana@Example.org", "Action": "Update existing incident",
     "Ticket Number": "INC-999", "Update Notes": HOSTILE},
    # Row 4: an outage start the clocks skip in Europe/Berlin (DST began at 2:00).
    {"Timestamp": "3/28/2026 9:10:00", "Email Address": "bo@example.org", "Action": "Create new incident",
     "Title": "VPN flaps", "Affected Systems": "VPN", "Engineer Responsible": "Bo",
     "Outage Start": "3/29/2026 2:30:00"},
    # Row 5: an update with nothing in it.
    {"Timestamp": "3/28/2026 9:20:00", "Email Address": "cy@example.org", "Action": "Update existing incident",
     "Ticket Number": "INC-1"},
]
EXPECTED = {  # row -> (column, words of the rule)
    3: ("Ticket Number", "INC-999"),
    4: ("Outage Start", "clocks skip"),
    5: (None, "must change at least one"),
}


class SheetRefusals(NotificationTestCase):

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-refusals-")
        self.addCleanup(self.scratch.cleanup)
        self.auth_file = os.path.join(self.scratch.name, "tokens")
        self.admin = bearer(add_token(self.auth_file, "admin", "admin"))
        self.desk = bearer(add_token(self.auth_file, "desk", "helpdesk"))
        self.viewer = bearer(add_token(self.auth_file, "viewer", "viewer"))
        self.sheet = os.path.join(self.scratch.name, "responses.csv")

    def imports(self, service):
        response = service.get("/api/v1/imports", headers=self.desk)
        self.assertStatus(response, 200, "GET /api/v1/imports")
        return response.data["runs"]

    def wait_for_runs(self, service, count):
        return self.wait_until("%d imports" % count,
                               lambda: (lambda runs: runs if len(runs) >= count else None)(self.imports(service)))

    def refusal_events(self, service):
        status, _, data = service.get("/api/v1/events?limit=10000", headers=self.admin)
        self.assertEqual(status, 200, data)
        return [event for event in data["events"] if event["type"] == "SHEET_ROW_REFUSED"]

    def mails_to(self, smtp, address):
        return [message for recipients, message in smtp.mailbox.snapshot() if address in recipients]

    def check_refused(self, run):
        self.assertEqual(run["rejected"], 3, run)
        by_row = {row["row"]: row for row in run["refused"]}
        self.assertEqual(sorted(by_row), sorted(EXPECTED), run)
        for number, (column, words) in EXPECTED.items():
            row = by_row[number]
            self.assertEqual(row["column"], column, row)
            self.assertIn(words, row["rule"], row)
            self.assertTrue(row["told"], row)
            self.assertEqual(row["mail"], "sent", row)
            self.assertIsInstance(row["seq"], int, row)
        self.assertEqual({by_row[number]["author"]: number for number in by_row}, AUTHORS)

    def test_three_bad_rows_mail_each_author_once_across_polls_and_a_restart(self):
        smtp = self.start_smtp()
        write_atomically(self.sheet, sheet_text(ROWS))
        args = smtp_args(smtp, "--auth-file", self.auth_file, "--poll-csv", self.sheet, "--poll-interval", "1s",
                         "--sheet-timezone", "Europe/Berlin")
        service = self.start_service(extra_args=args)

        # First read: one incident, three refusals, three mails.
        runs = self.wait_for_runs(service, 1)
        self.assertEqual((runs[0]["rows_read"], runs[0]["appended"], runs[0]["rejected"]), (4, 1, 3), runs[0])
        self.wait_until("three mails", lambda: len(smtp.mailbox.snapshot()) >= 3)
        self.wait_until("told", lambda: all(row["told"] for row in self.imports(service)[0]["refused"]))
        self.check_refused(self.imports(service)[0])

        # Second read: the file changed (one more good row); nobody is mailed again.
        rows = ROWS + [{"Timestamp": "3/28/2026 10:00:00", "Email Address": "desk@example.org",
                        "Action": "Close incident", "Ticket Number": "INC-1"}]
        time.sleep(1.1)
        write_atomically(self.sheet, sheet_text(rows))
        runs = self.wait_for_runs(service, 2)
        self.assertEqual((runs[0]["rows_read"], runs[0]["appended"], runs[0]["already_present"], runs[0]["rejected"]),
                         (5, 1, 1, 3), runs[0])
        self.check_refused(runs[0])
        self.assertEqual([row["seq"] for row in runs[0]["refused"]], [row["seq"] for row in runs[1]["refused"]])

        # A restart: the poller reads the file again at once; the log remembers.
        service.restart()
        runs = self.wait_for_runs(service, 1)
        self.assertEqual((runs[0]["appended"], runs[0]["already_present"], runs[0]["rejected"]), (0, 2, 3), runs[0])
        self.check_refused(runs[0])
        time.sleep(1.5)  # time for any mail that should not come
        for address in AUTHORS:
            self.assertEqual(len(self.mails_to(smtp, address)), 1, address)
        self.assertEqual(len(smtp.mailbox.snapshot()), 3, [m["Subject"] for _, m in smtp.mailbox.snapshot()])
        events = self.refusal_events(service)
        self.assertEqual(len(events), 3)
        self.assertEqual({event["payload"]["submitter"] for event in events}, set(AUTHORS))
        for event in events:
            self.assertEqual(event["ticket"], "")
            self.assertEqual(event["actor"], "incident-ledger")
            self.assertEqual(event["submission_id"], "sheet-refused-" + event["payload"]["content_id"])

        # The mails: which row, which column, which rule, what was typed, as text.
        mail = self.mails_to(smtp, "ana@example.org")[0]
        self.assertIsNone(mail["Bcc"])
        self.assertEqual(mail.get_all("Subject"), [mail["Subject"]])
        self.assertIn("Sheet row 3 was not imported: Ticket Number (D)", mail["Subject"])
        self.assertEqual(mail["Content-Type"].split(";")[0], "text/plain")
        self.assertIsNone(mail["X-Incident-Ticket"])
        body = mail.get_content().replace("\r\n", "\n")
        self.assertIn("row 3 of the incident sheet responses.csv", body)
        self.assertIn("INC-999", body)
        self.assertIn('<script>alert("x")</script> & <b>bold</b>', body)
        self.assertIn("\n    Bcc: evil@example.org\n", body)  # an indented line of the body, not a header
        self.assertIn("How to fix it", body)
        bo = self.mails_to(smtp, "bo@example.org")[0]
        self.assertIn("Outage Start (J)", bo["Subject"])
        self.assertIn("3/29/2026 2:30:00", bo.get_content())
        cy = self.mails_to(smtp, "cy@example.org")[0]
        self.assertIn("(the row as a whole)", cy.get_content())
        # Every refusal mail is a job with its receipt.
        jobs = self.all_jobs_as_admin(service)
        refusal_seqs = {event["seq"] for event in events}
        self.assertEqual(sorted((job["event_seq"], job["recipient"], job["state"]) for job in jobs
                                if job["event_seq"] in refusal_seqs),
                         sorted((event["seq"], event["payload"]["submitter"], "sent") for event in events))

        # The page: the help desk sees the rows, the hostile cell as text.
        page = service.get("/imports", headers=self.desk)
        self.assertStatus(page, 200, "GET /imports")
        html = page.raw.decode("utf-8")
        self.assertIn("Content-Security-Policy", page.headers)
        self.assertNotIn("<script>alert", html)
        self.assertNotIn("<b>bold</b>", html)
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;", html)
        self.assertIn("clocks skip", html)
        self.assertIn("ana@example.org", html)

        # Below the help desk: refused.
        self.assertStatus(service.get("/api/v1/imports", headers=self.viewer), 403, "viewer on /api/v1/imports")
        self.assertStatus(service.get("/imports", headers=self.viewer), 403, "viewer on /imports")
        self.assertStatus(service.get("/api/v1/imports?x=1", headers=self.desk), 400, "unknown parameter")

        # The auditors' tools take the new event.
        data_dir = service.data_dir
        service.stop()
        exported = subprocess.run([ledger_binary(), "export", "--data", data_dir], capture_output=True, timeout=120)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        lines = [json.loads(line) for line in exported.stdout.decode().splitlines()]
        self.assertEqual(len([e for e in lines if e["type"] == "SHEET_ROW_REFUSED"]), 3)
        export_file = os.path.join(self.scratch.name, "export.ndjson")
        with open(export_file, "wb") as handle:
            handle.write(exported.stdout)
        checked = subprocess.run([sys.executable, os.path.join(HERE, "verify_export.py"), export_file],
                                 capture_output=True, timeout=120)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        verified = subprocess.run([ledger_binary(), "verify", "--data", data_dir], capture_output=True, timeout=120)
        self.assertEqual(verified.returncode, 0, verified.stderr)

    def all_jobs_as_admin(self, service):
        status, _, data = service.get("/api/v1/notifications?limit=1000", headers=self.admin)
        self.assertEqual(status, 200, data)
        return data["notifications"]


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
