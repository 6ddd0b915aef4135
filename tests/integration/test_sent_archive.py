"""Sent notification jobs leave memory and are read back from disk: the real
binary mails many subscribers through a real SMTP server (Debian's
python3-aiosmtpd on loopback), then

- ledger_notification_jobs_in_memory (/metrics) falls to pending + failed
  while the sent count is all of them, for 50 jobs and for 1,000 alike
- GET /api/v1/notifications (sent, per ticket, per event, per recipient,
  page by page) answers the same before a restart, after a restart from the
  checkpoint, after a SIGKILL, and after a start without the checkpoint
  (rebuilt from the log)
- each job's answer agrees with its receipt in the log (who was told what,
  when), and the receipt counters stay as they were

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_sent_archive.py
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402
from service import require_binary_or_exit  # noqa: E402
from service import receipts  # noqa: E402

service.require_modules(["aiosmtpd"], ["python3-aiosmtpd"])
from test_notifications import NotificationTestCase, smtp_args  # noqa: E402


def metric(service_, name):
    status, _, text = service_.get("/metrics")
    assert status == 200, status
    for line in text.splitlines() if isinstance(text, str) else text.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError("no %s in /metrics" % name)


class SentJobsLeaveMemory(NotificationTestCase):

    def fan_out(self, service_, subscribers, tickets, updates):
        for i in range(subscribers):
            self.subscribe(service_, "reader%03d@example.org" % i, ["*"])
        for t in range(tickets):
            opened = self.submit(service_, {"action": "create", "title": "Outage %d" % t,
                                            "systems": ["mail" if t % 2 == 0 else "vpn"], "engineer": "Ana"})
            for u in range(updates):
                self.submit(service_, {"action": "update", "ticket": opened["ticket"], "note": "step %d" % u})

    def answers(self, service_):
        """Every answer about sent jobs a client can ask for here."""
        answers = {}
        answers["all"] = self.all_jobs(service_)
        answers["sent"] = self.all_jobs(service_, "?state=sent")
        answers["pending"] = self.all_jobs(service_, "?state=pending")
        answers["ticket"] = self.all_jobs(service_, "?state=sent&ticket=INC-1")
        answers["ticket2"] = self.all_jobs(service_, "?ticket=INC-2")
        first = answers["sent"][0]
        answers["seq"] = self.all_jobs(service_, "?state=sent&seq=%d" % first["event_seq"])
        answers["recipient"] = self.all_jobs(service_, "?recipient=reader001%40example.org")
        # Small pages, each resuming from the last one's cursor.
        pages = []
        cursor = None
        while True:
            data = self.queue(service_, "?state=sent&limit=7" + ("&cursor=" + cursor if cursor else ""))
            pages.append([(job["event_seq"], job["recipient"]) for job in data["notifications"]])
            cursor = data["next_cursor"]
            if cursor is None:
                break
        answers["pages"] = pages
        answers["counts"] = self.queue(service_, "?limit=1")["counts"]
        answers["duplicates"] = metric(service_, "ledger_notification_duplicate_deliveries")
        answers["orphans"] = metric(service_, "ledger_notification_orphan_receipts")
        return answers

    def check_receipts(self, service_, sent):
        """Each sent job's answer is what its DELIVERED receipt in the log says."""
        delivered = {}
        for receipt in receipts(service_.all_events(), "NOTIFICATION_DELIVERED"):
            payload = receipt["payload"]
            key = (payload["incident_seq"], payload["recipient"])
            delivered.setdefault(key, (receipt["recorded_at"], payload["message_id"]))
        self.assertEqual(len(delivered), len(sent))
        for job in sent:
            recorded_at, message_id = delivered[(job["event_seq"], job["recipient"])]
            self.assertEqual(job["state"], "sent")
            self.assertEqual(job["message_id"], message_id)
            self.assertEqual(job["sent_at"], recorded_at)

    def test_small_and_large_fan_out_keep_only_what_is_in_flight(self):
        for subscribers, tickets, updates in ((10, 1, 4), (40, 5, 4)):
            with self.subTest(jobs=subscribers * tickets * (1 + updates)):
                smtp = self.start_smtp()
                service_ = self.start_service(extra_args=smtp_args(smtp))
                self.fan_out(service_, subscribers, tickets, updates)
                total = subscribers * tickets * (1 + updates)
                self.wait_all_sent(service_, total)
                # Saved and archived right after the receipts' fold.
                self.wait_until("sent jobs to leave memory",
                                lambda: metric(service_, "ledger_notification_jobs_in_memory") == 0)
                self.assertEqual(len(smtp.mailbox.snapshot()), total)
                service_.close()

    def test_answers_survive_restart_kill_and_rebuild(self):
        smtp = self.start_smtp()
        service_ = self.start_service(extra_args=smtp_args(smtp))
        self.fan_out(service_, 25, 4, 4)
        total = 25 * 4 * 5
        self.wait_all_sent(service_, total)
        self.wait_until("sent jobs to leave memory",
                        lambda: metric(service_, "ledger_notification_jobs_in_memory") == 0)
        before = self.answers(service_)
        self.assertEqual(len(before["sent"]), total)
        self.assertEqual(before["all"], before["sent"])
        self.assertEqual(before["pending"], [])
        self.assertEqual(len(before["ticket"]), 25 * 5)
        self.assertTrue(all(job["ticket"] == "INC-1" for job in before["ticket"]))
        self.assertEqual(len(before["seq"]), 25)
        self.assertEqual(len(before["recipient"]), 4 * 5)
        self.assertEqual(sum(len(page) for page in before["pages"]), total)
        self.assertEqual([job["event_type"] for job in before["seq"]], ["INCIDENT_OPENED"] * 25)
        self.check_receipts(service_, before["sent"])

        # A restart resumes from the checkpoint.
        self.assertEqual(service_.restart(), 0)
        self.assertEqual(self.answers(service_), before)
        # A SIGKILL: the next start catches up from what was saved.
        service_.signal(9)
        service_.wait()
        service_.start()
        self.assertEqual(self.answers(service_), before)
        # Without the checkpoint: everything rebuilt from the log.
        service_.stop()
        shutil.rmtree(os.path.join(service_.data_dir, "projections"))
        service_.start()
        self.assertEqual(self.answers(service_), before)
        self.assertEqual(metric(service_, "ledger_notification_jobs_in_memory"), 0)

        self.assertEqual(before["duplicates"], 0)
        self.assertEqual(before["orphans"], 0)
        service_.close()

if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
