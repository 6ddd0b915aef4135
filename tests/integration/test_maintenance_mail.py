"""Mail about maintenance windows, through a real SMTP server (Debian's
python3-aiosmtpd), like every other notification:

- scheduling, starting and ending a window mails every subscriber of one of
  its systems (or of "*"), exactly once each; an update and a cancellation
  mail nobody, and subscribers of other systems hear nothing
- every such mail is a job with its receipt in the notification ledger
- hostile text in the title, description and link stays text (no header
  injection, no second message)
- a restart sends nothing again

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_maintenance_mail.py
"""

import collections
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_notifications  # noqa: E402,F401  (re-executes under the system python when aiosmtpd is missing)
from test_notifications import NotificationTestCase, smtp_args  # noqa: E402
from service import require_binary_or_exit  # noqa: E402
from service import receipts  # noqa: E402

HOSTILE = "<b>x</b> =?UTF-8?B?QmNjOiBldmls?= & \"q\"; \\,"


class MaintenanceMail(NotificationTestCase):

    def maintenance(self, service, fields):
        response = service.request("POST", "/api/v1/maintenance", fields)
        self.assertStatus(response, 201, "maintenance %r" % fields)
        return response.data

    def test_schedule_start_and_end_mail_each_subscriber_once(self):
        smtp = self.start_smtp()
        service = self.start_service(extra_args=smtp_args(smtp))
        self.subscribe(service, "ana@example.org", ["Mail"])
        self.subscribe(service, "bob@example.org", ["*"])
        self.subscribe(service, "carol@example.org", ["dns"])

        scheduled = self.maintenance(service, {
            "action": "schedule", "title": "Relay patch " + HOSTILE, "systems": ["mail", "smtp"],
            "starts_at": "2026-11-28T22:00:00+01:00", "ends_at": "2026-11-29T01:00:00+01:00",
            "description": "Line one " + HOSTILE + "\nBcc: victim@example.org\n.\nMAIL FROM:<evil@example.org>",
            "link": "https://change.example/9?a=1&b=2"})
        window = scheduled["window"]
        updated = self.maintenance(service, {"action": "update", "window": window, "title": "Relay patch v2"})
        started = self.maintenance(service, {"action": "start", "window": window, "at": "2026-11-28T22:05:00+01:00"})
        ended = self.maintenance(service, {"action": "end", "window": window, "at": "2026-11-29T00:30:00+01:00"})
        # Another window, cancelled: its schedule mails, its cancellation does not.
        other = self.maintenance(service, {"action": "schedule", "title": "DNS move", "systems": ["dns"],
                                           "starts_at": "2026-12-01T08:00:00Z", "ends_at": "2026-12-01T09:00:00Z"})
        cancelled = self.maintenance(service, {"action": "cancel", "window": other["window"]})

        # ana and bob: schedule, start, end of the first; bob and carol: the second's schedule.
        self.wait_all_sent(service, 3 * 2 + 2)
        time.sleep(0.3)
        counts = smtp.mailbox.by_job()
        expected = collections.Counter({(scheduled["seq"], "ana@example.org"): 1, (scheduled["seq"], "bob@example.org"): 1,
                                        (started["seq"], "ana@example.org"): 1, (started["seq"], "bob@example.org"): 1,
                                        (ended["seq"], "ana@example.org"): 1, (ended["seq"], "bob@example.org"): 1,
                                        (other["seq"], "bob@example.org"): 1, (other["seq"], "carol@example.org"): 1})
        self.assertEqual(counts, expected)
        self.assertNotIn(updated["seq"], [seq for seq, _ in counts])
        self.assertNotIn(cancelled["seq"], [seq for seq, _ in counts])

        messages = {(int(m["X-Ledger-Seq"]), r[0]): m for r, m in smtp.mailbox.snapshot()}
        first = messages[(scheduled["seq"], "ana@example.org")]
        self.assertEqual(first["X-Maintenance-Window"], window)
        self.assertIsNone(first["X-Incident-Ticket"])
        self.assertIsNone(first["Bcc"])
        self.assertEqual(first["Subject"], "[%s] Maintenance scheduled: Relay patch %s" % (window, HOSTILE))
        self.assertIsNotNone(first["X-Ledger-Tree-Head"])
        body = first.get_content().replace("\r\n", "\n")
        self.assertIn("Window:    %s\n" % window, body)
        self.assertIn("Planned:   2026-11-28T22:00:00+01:00 to 2026-11-29T01:00:00+01:00\n", body)
        self.assertIn("  Line one " + HOSTILE + "\n  Bcc: victim@example.org\n  .\n  MAIL FROM:<evil@example.org>",
                      body)
        self.assertIn("Link:      https://change.example/9?a=1&b=2\n", body)
        self.assertNotIn("Started:", body)
        start_mail = messages[(started["seq"], "bob@example.org")]
        self.assertEqual(start_mail["Subject"], "[%s] Maintenance started: Relay patch v2" % window)
        self.assertIn("Started:   2026-11-28T22:05:00+01:00", start_mail.get_content())
        end_body = messages[(ended["seq"], "ana@example.org")].get_content()
        self.assertIn("Status:    completed", end_body)
        self.assertIn("Ended:     2026-11-29T00:30:00+01:00", end_body)
        self.assertEqual(messages[(other["seq"], "carol@example.org")]["Subject"],
                         "[%s] Maintenance scheduled: DNS move" % other["window"])

        # The queue names the window and the event; each job has one receipt.
        jobs = self.all_jobs(service)
        self.assertEqual(sorted((j["ticket"], j["event_type"], j["recipient"], j["state"]) for j in jobs), sorted(
            [(window, "MAINTENANCE_SCHEDULED", r, "sent") for r in ("ana@example.org", "bob@example.org")] +
            [(window, "MAINTENANCE_STARTED", r, "sent") for r in ("ana@example.org", "bob@example.org")] +
            [(window, "MAINTENANCE_ENDED", r, "sent") for r in ("ana@example.org", "bob@example.org")] +
            [(other["window"], "MAINTENANCE_SCHEDULED", r, "sent") for r in ("bob@example.org", "carol@example.org")]))
        delivered = receipts(service.all_events(), "NOTIFICATION_DELIVERED")
        self.assertEqual(collections.Counter((r["payload"]["incident_seq"], r["payload"]["recipient"]) for r in delivered),
                         expected)

        # A restart sends nothing again.
        service.restart()
        time.sleep(1.5)
        self.assertEqual(smtp.mailbox.by_job(), expected)
        self.assertEqual(self.queue(service, "?limit=1")["counts"], {"pending": 0, "sent": 8, "failed": 0})
        # One more window after the restart mails its subscribers once.
        late = self.maintenance(service, {"action": "schedule", "title": "After", "systems": ["SMTP"],
                                          "starts_at": "2026-12-02T08:00:00Z", "ends_at": "2026-12-02T09:00:00Z"})
        self.wait_all_sent(service, 9)  # bob's only: ana is subscribed to mail, not smtp
        time.sleep(0.3)
        expected[(late["seq"], "bob@example.org")] = 1
        self.assertEqual(smtp.mailbox.by_job(), expected)


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
