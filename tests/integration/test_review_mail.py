"""Mail about reviews and action items, through a real SMTP server
(Debian's python3-aiosmtpd), like every other notification:

- publishing a review mails the subscribers of the incident's systems, once
  each, with the review in the body; hostile text in every field stays text
  (no header injection, no second message)
- adding an action item mails its owner; a change of owner mails the new one
- an overdue item mails its owner exactly once per due date, across a
  restart: the ACTION_ITEM_OVERDUE event in the log says it was noticed
- every such mail is a job with its receipt in the notification ledger

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_review_mail.py
"""

import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_notifications  # noqa: E402  (re-executes under the system python when aiosmtpd is missing)
from test_notifications import NotificationTestCase, smtp_args  # noqa: E402
from service import require_binary_or_exit  # noqa: E402
from service import receipts  # noqa: E402

HOSTILE = "<img src=x onerror=alert(1)> =?UTF-8?B?QmNjOiBldmls?= & \"q\""


class ReviewMail(NotificationTestCase):

    def post(self, service, path, body, expect=201):
        response = service.request("POST", path, body)
        self.assertStatus(response, expect, "POST %s %r" % (path, body))
        return response.data

    def mails(self, smtp, recipient=None, subject_part=None):
        found = []
        for recipients, message in smtp.mailbox.snapshot():
            if recipient is not None and recipient not in recipients:
                continue
            if subject_part is not None and subject_part not in message["Subject"]:
                continue
            found.append(message)
        return found

    def test_publish_mails_subscribers_and_items_mail_their_owners_once(self):
        smtp = self.start_smtp()
        args = smtp_args(smtp, "--overdue-check-ms", "100")
        service = self.start_service(extra_args=args)
        self.subscribe(service, "ana@example.org", ["mail"])
        self.subscribe(service, "carol@example.org", ["dns"])
        opened = self.submit(service, {"action": "create", "title": "Mail down " + HOSTILE, "systems": ["Mail"],
                                       "engineer": "Ana"})
        ticket = opened["ticket"]
        self.submit(service, {"action": "close", "ticket": ticket})
        review = {"summary": "Summary " + HOSTILE, "impact_summary": "Impact\nBcc: victim@example.org",
                  "root_cause": "Cause " + HOSTILE, "contributing_factors": ["factor " + HOSTILE],
                  "lessons": "Lessons\r\n.\r\nMAIL FROM:<evil@example.org>", "publish": True}
        refused = service.request("POST", "/api/v1/incidents/%s/review" % ticket, review)
        # A bare CR is refused in text, as in every other text field.
        if refused.status == 400:
            review["lessons"] = "Lessons\n.\nMAIL FROM:<evil@example.org>"
        else:
            self.assertStatus(refused, 201, "publish")
        published = refused.data if refused.status == 201 else self.post(
            service, "/api/v1/incidents/%s/review" % ticket, review)

        # open + close + publish to ana; nothing to carol (other system).
        self.wait_all_sent(service, 3)
        review_mails = self.mails(smtp, "ana@example.org", "Review published")
        self.assertEqual(len(review_mails), 1, [m["Subject"] for m in self.mails(smtp)])
        self.assertEqual(self.mails(smtp, "carol@example.org"), [])
        mail = review_mails[0]
        self.assertEqual(int(mail["X-Ledger-Seq"]), published["seq"])
        self.assertIsNone(mail["Bcc"])
        self.assertIn("[%s]" % ticket, mail["Subject"])
        self.assertIn(HOSTILE, mail["Subject"])
        body = mail.get_content().replace("\r\n", "\n")
        for part in ("Summary " + HOSTILE, "Cause " + HOSTILE, "- factor " + HOSTILE,
                     "through event %d" % (published["seq"] - 1), published["event"]["prev_hash"]):
            self.assertIn(part, body)
        self.assertIn("  Impact\n  Bcc: victim@example.org", body)
        jobs = self.all_jobs(service, "?seq=%d" % published["seq"])
        self.assertEqual([(job["recipient"], job["state"], job["event_type"]) for job in jobs],
                         [("ana@example.org", "sent", "REVIEW_PUBLISHED")])

        # An action item: its owner hears of it; a new owner too.
        today = datetime.datetime.now(datetime.timezone.utc).date()
        past = (today - datetime.timedelta(days=3)).isoformat()
        added = self.post(service, "/api/v1/incidents/%s/action-items" % ticket,
                          {"title": "Disk alert " + HOSTILE, "owner": "sam@example.org", "due": past,
                           "link": "https://tracker.example.org/7"})
        item = added["item"]
        self.wait_until("assignment and overdue mail",
                        lambda: len(self.mails(smtp, "sam@example.org")) >= 2)
        assigned = self.mails(smtp, "sam@example.org", "assigned to you")
        self.assertEqual(len(assigned), 1)
        self.assertIn(item, assigned[0]["Subject"])
        self.assertIn("Disk alert " + HOSTILE, assigned[0].get_content())
        overdue = self.mails(smtp, "sam@example.org", "is overdue")
        self.assertEqual(len(overdue), 1)
        self.assertIn("due " + past, overdue[0]["Subject"])

        # A restart does not mail it again: the log says it was noticed.
        time.sleep(0.5)
        service.restart()
        time.sleep(1.5)  # many overdue checks at 100 ms
        self.assertEqual(len(self.mails(smtp, "sam@example.org", "is overdue")), 1)
        events = service.all_events()
        self.assertEqual([e["payload"]["due"] for e in events if e["type"] == "ACTION_ITEM_OVERDUE"], [past])

        # A new due date that has ended too: one more, once; a new owner is told.
        earlier = (today - datetime.timedelta(days=5)).isoformat()
        self.post(service, "/api/v1/action-items/" + item, {"due": earlier, "owner": "kim@example.org"})
        self.wait_until("the new owner's mails", lambda: len(self.mails(smtp, "kim@example.org")) >= 2)
        time.sleep(0.5)
        self.assertEqual(len(self.mails(smtp, "kim@example.org", "assigned to you")), 1)
        self.assertEqual(len(self.mails(smtp, "kim@example.org", "is overdue")), 1)
        # Done: never overdue again; an update that changes nothing mails nobody.
        self.post(service, "/api/v1/action-items/" + item, {"status": "done", "owner": "kim@example.org"})
        service.restart()
        time.sleep(1)
        self.assertEqual(len(self.mails(smtp, "sam@example.org")), 2)
        self.assertEqual(len(self.mails(smtp, "kim@example.org")), 2)
        overdue_events = [e for e in service.all_events() if e["type"] == "ACTION_ITEM_OVERDUE"]
        self.assertEqual([e["payload"]["due"] for e in overdue_events], [past, earlier])
        self.assertTrue(all(e["actor"] == "incident-ledger" and e["ticket"] == "" for e in overdue_events))
        # Every job of the item is sent, with its receipt in the log.
        delivered = receipts(service.all_events(), "NOTIFICATION_DELIVERED")
        for event in overdue_events:
            self.assertEqual(len([r for r in delivered if r["payload"]["incident_seq"] == event["seq"]]), 1)


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
