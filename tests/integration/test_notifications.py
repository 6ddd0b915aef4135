"""Notifications end to end: the real binary mails through a real SMTP server
(Debian's python3-aiosmtpd) that the test starts on a loopback port, and the
test reads back what the server received.

- the right recipients (subscriptions in force at each event), one mail each,
  with the right content, and the queue and receipts that say so
- the SMTP server down, then up: nothing lost, nothing duplicated, and
  submissions never slowed
- SIGKILL mid-delivery, then restart: no delivery recorded before the kill is
  sent again, and every job ends sent exactly once in the log

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_notifications.py
"""

import os
import sys
import asyncio
import collections
import email
import email.policy
import json
import math
import signal
import socket
import subprocess
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402
from service import ServiceTestCase, ledger_binary, require_binary_or_exit  # noqa: E402
from service import receipts  # noqa: E402

service.require_modules(["aiosmtpd"], ["python3-aiosmtpd"])
from aiosmtpd.controller import Controller  # noqa: E402

WAIT_SECONDS = 90
FROM = "noc@example.org"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self, delay_seconds=0.0):
        self.delay_seconds = delay_seconds
        self.lock = threading.Lock()
        self.messages = []  # (envelope recipients, parsed message)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return "250 OK"

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def by_job(self):
        """{(X-Ledger-Seq, recipient): count}"""
        counts = collections.Counter()
        for recipients, message in self.snapshot():
            for recipient in recipients:
                counts[(int(message["X-Ledger-Seq"]), recipient)] += 1
        return counts


class SmtpServer:
    def __init__(self, port=None, delay_seconds=0.0):
        self.port = port or free_port()
        self.mailbox = Mailbox(delay_seconds)
        self.controller = None

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port


def smtp_args(server, *more):
    return ["--smtp-url", server.url, "--smtp-from", FROM, "--smtp-retry-initial-ms", "100",
            "--smtp-retry-max-ms", "400"] + list(more)


class NotificationTestCase(ServiceTestCase):

    def start_smtp(self, **options):
        server = SmtpServer(**options).start()
        self.addCleanup(server.stop)
        return server

    def subscribe(self, service, address, systems, expect=201):
        response = service.request("POST", "/api/v1/subscriptions", {"email": address, "systems": systems})
        self.assertStatus(response, expect, "subscribe %s" % address)
        return response.data

    def unsubscribe(self, service, address, systems=None, expect=200):
        body = {"email": address}
        if systems is not None:
            body["systems"] = systems
        response = service.request("DELETE", "/api/v1/subscriptions", body)
        self.assertStatus(response, expect, "unsubscribe %s" % address)
        return response.data

    def submit(self, service, fields):
        response = service.submit(fields)
        self.assertStatus(response, 201, "submit %r" % fields)
        return response.data

    def queue(self, service, query=""):
        status, _, data = service.get("/api/v1/notifications" + query)
        self.assertEqual(status, 200, data)
        return data

    def wait_until(self, what, condition, seconds=WAIT_SECONDS):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        self.fail("timed out waiting for %s" % what)

    def wait_all_sent(self, service, total):
        def done():
            counts = self.queue(service, "?limit=1")["counts"]
            return counts if counts["sent"] == total and counts["pending"] == 0 else None
        return self.wait_until("%d jobs sent" % total, done)

    def all_jobs(self, service, query=""):
        jobs = []
        cursor = None
        while True:
            separator = "&" if query else "?"
            path = query + ("%slimit=1000" % separator) + ("&cursor=%s" % cursor if cursor else "")
            data = self.queue(service, path)
            jobs.extend(data["notifications"])
            cursor = data["next_cursor"]
            if cursor is None:
                return jobs


class RecipientsAndContent(NotificationTestCase):

    def test_right_recipients_one_each_right_content(self):
        smtp = self.start_smtp()
        service = self.start_service(extra_args=smtp_args(smtp))

        added = self.subscribe(service, "  Ana.Ruiz@Example.ORG ", ["Mail", "vpn"])
        self.assertEqual(added["email"], "ana.ruiz@example.org")
        self.assertEqual(added["systems"], ["mail", "vpn"])
        self.assertTrue(added["changed"])
        self.assertEqual(added["event"]["type"], "SUBSCRIPTION_ADDED")
        again = self.subscribe(service, "ana.ruiz@example.org", ["vpn"], expect=200)
        self.assertFalse(again["changed"])
        self.assertEqual(again["seq"], added["seq"])
        self.subscribe(service, "bob@example.org", ["*"])
        self.subscribe(service, "carol@example.org", ["dns"])
        self.subscribe(service, "dave@example.org", ["mail"])

        opened = self.submit(service, {
            "action": "create", "title": "Mail delayed \u2014 St\u00f6rung", "systems": ["mail", "vpn"],
            "engineer": "Ana Ruiz", "severity": "major", "started_at": "2026-11-24T08:40:00+01:00",
            "link": "https://helpdesk.example.org/t/4711", "note": "MX queue growing"})
        ticket = opened["ticket"]

        self.unsubscribe(service, "dave@example.org", ["mail"])
        self.subscribe(service, "erin@example.org", ["MAIL"])
        updated = self.submit(service, {
            "action": "update", "ticket": ticket,
            "note": "Draining.\r\nBcc: victim@example.org\r\n.\r\nMAIL FROM:<evil@example.org>"})
        closed = self.submit(service, {"action": "close", "ticket": ticket, "ended_at": "2026-11-24T10:05:00+01:00",
                                       "mitigated_at": "2026-11-24T09:30:00+01:00"})
        # A system nobody watches but bob's "*": only bob.
        other = self.submit(service, {"action": "create", "title": "Printer", "systems": ["printing"], "engineer": "Eve"})

        expected = {
            opened["seq"]: {"ana.ruiz@example.org", "bob@example.org", "dave@example.org"},
            updated["seq"]: {"ana.ruiz@example.org", "bob@example.org", "erin@example.org"},
            closed["seq"]: {"ana.ruiz@example.org", "bob@example.org", "erin@example.org"},
            other["seq"]: {"bob@example.org"},
        }
        total = sum(len(recipients) for recipients in expected.values())
        self.wait_all_sent(service, total)
        time.sleep(0.5)  # anything extra would arrive now

        received = smtp.mailbox.by_job()
        self.assertEqual(set(received), {(seq, r) for seq, rs in expected.items() for r in rs})
        self.assertTrue(all(count == 1 for count in received.values()), received)

        messages = {(int(m["X-Ledger-Seq"]), rcpts[0]): m for rcpts, m in smtp.mailbox.snapshot()}
        message_ids = [m["Message-ID"] for m in messages.values()]
        self.assertEqual(len(set(message_ids)), len(message_ids))

        first = messages[(opened["seq"], "ana.ruiz@example.org")]
        self.assertEqual(first["From"].addresses[0].addr_spec, FROM)
        self.assertEqual(first["To"].addresses[0].addr_spec, "ana.ruiz@example.org")
        self.assertIn("[%s]" % ticket, first["Subject"])
        self.assertIn("Mail delayed \u2014 St\u00f6rung", first["Subject"])
        self.assertIn("Opened", first["Subject"])
        body = first.get_content()
        for part in ("Ticket:    %s" % ticket, "Title:     Mail delayed \u2014 St\u00f6rung", "Status:    open",
                     "Systems:   mail, vpn", "Engineer:  Ana Ruiz", "Start:     2026-11-24T08:40:00+01:00",
                     "End:       ongoing", "MX queue growing", "https://helpdesk.example.org/t/4711",
                     "Severity:  major", "Changed:   opened"):
            self.assertIn(part, body)

        update_mail = messages[(updated["seq"], "erin@example.org")]
        self.assertIn("Updated (note)", update_mail["Subject"])
        self.assertIsNone(update_mail["Bcc"])
        update_body = update_mail.get_content()
        self.assertIn("Changed:   note", update_body)
        self.assertIn("Bcc: victim@example.org", update_body)  # as text in the body, indented
        self.assertNotIn("\nBcc:", update_body)
        all_recipients = {r for rcpts, _ in smtp.mailbox.snapshot() for r in rcpts}
        self.assertNotIn("victim@example.org", all_recipients)

        close_mail = messages[(closed["seq"], "bob@example.org")]
        self.assertIn("Closed", close_mail["Subject"])
        close_body = close_mail.get_content()
        self.assertIn("Status:    closed", close_body)
        self.assertIn("End:       2026-11-24T10:05:00+01:00", close_body)
        # A milestone is shown once given, by the field table's label.
        self.assertIn("Mitigated: 2026-11-24T09:30:00+01:00", close_body)
        self.assertNotIn("Mitigated:", body)

        # Same Message-ID as the queue and the receipt say.
        jobs = self.all_jobs(service)
        self.assertEqual(len(jobs), total)
        for job in jobs:
            self.assertEqual(job["state"], "sent")
            self.assertEqual(job["attempts"], 1)
            self.assertEqual(job["ticket"], ticket if job["event_seq"] != other["seq"] else other["ticket"])
            self.assertEqual(job["message_id"], messages[(job["event_seq"], job["recipient"])]["Message-ID"])

        # Filters: by ticket and state; pagination.
        by_ticket = self.all_jobs(service, "?ticket=%s&state=sent" % other["ticket"])
        self.assertEqual([(j["event_seq"], j["recipient"]) for j in by_ticket], [(other["seq"], "bob@example.org")])
        self.assertEqual(self.queue(service, "?state=pending")["notifications"], [])
        page = self.queue(service, "?limit=2")
        self.assertEqual(page["count"], 2)
        self.assertIsNotNone(page["next_cursor"])
        self.assertEqual(len(self.all_jobs(service)), total)

        # The receipts are in the log, hash-chained like everything else.
        events = service.all_events()
        delivered = receipts(events, "NOTIFICATION_DELIVERED")
        self.assertEqual(len(delivered), total)
        self.assertEqual({(e["payload"]["incident_seq"], e["payload"]["recipient"]) for e in delivered},
                         {(seq, r) for seq, rs in expected.items() for r in rs})
        from service import verify_chain
        verify_chain(events)

        # The subscriptions as they stand now.
        status, _, listed = service.get("/api/v1/subscriptions")
        self.assertEqual(status, 200)
        self.assertEqual({s["email"]: s["systems"] for s in listed["subscriptions"]}, {
            "ana.ruiz@example.org": ["mail", "vpn"], "bob@example.org": ["*"], "carol@example.org": ["dns"],
            "erin@example.org": ["mail"]})
        status, _, mail_watchers = service.get("/api/v1/subscriptions?system=Mail")
        self.assertEqual({s["email"] for s in mail_watchers["subscriptions"]},
                         {"ana.ruiz@example.org", "bob@example.org", "erin@example.org"})

        # Metrics.
        status, _, metrics = service.get("/metrics")
        self.assertIn('ledger_notification_jobs{state="sent"} %d' % total, metrics)
        self.assertIn('ledger_notification_attempts_total{outcome="delivered"} %d' % total, metrics)
        self.assertIn("ledger_notification_smtp_available 1", metrics)

    def test_refusals(self):
        service = self.start_service()
        cases = [
            ({"email": "not-an-address", "systems": ["mail"]}, "email"),
            ({"email": "a@example.org\r\nBcc: b@example.org", "systems": ["mail"]}, "email"),
            ({"email": "a@example.org"}, "systems"),
            ({"email": "a@example.org", "systems": []}, "systems"),
            ({"email": "a@example.org", "systems": ["mail"], "name": "A"}, "name"),
        ]
        for body, field in cases:
            self.assertError(service.request("POST", "/api/v1/subscriptions", body), 400, "invalid_argument", field,
                             repr(body))
        self.assertError(service.request("DELETE", "/api/v1/subscriptions", {"email": "a@example.org"}),
                         404, "not_found", "systems")
        response = service.request("POST", "/api/v1/subscriptions", "email=a@example.org",
                                   {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 415)
        response = service.request("PUT", "/api/v1/subscriptions", {})
        self.assertEqual(response.status, 405)
        self.assertError(service.get("/api/v1/notifications?state=lost"), 400, "invalid_argument", "state")
        self.assertError(service.get("/api/v1/notifications?statu=sent"), 400, "invalid_argument", "statu")
        self.assertError(service.get("/api/v1/notifications?cursor=zz"), 400, "invalid_argument", "cursor")
        self.assertEqual(service.head_seq(), 0)  # no failed request appended anything

    def test_without_smtp_jobs_wait_in_the_queue(self):
        service = self.start_service()
        self.subscribe(service, "a@example.org", ["mail"])
        self.submit(service, {"action": "create", "title": "t", "systems": ["mail"], "engineer": "e"})
        data = self.queue(service, "?state=pending")
        self.assertEqual([j["recipient"] for j in data["notifications"]], ["a@example.org"])
        self.assertEqual(data["notifications"][0]["attempts"], 0)
        status, _, metrics = service.get("/metrics")
        self.assertIn('ledger_notification_jobs{state="pending"} 1', metrics)
        self.assertIn("ledger_notification_worker_running 0", metrics)


class SmtpOutage(NotificationTestCase):

    def test_down_then_up_loses_nothing_duplicates_nothing(self):
        smtp = SmtpServer()  # not started: the port refuses connections
        self.addCleanup(smtp.stop)
        service = self.start_service(extra_args=smtp_args(smtp))
        addresses = ["user%d@example.org" % i for i in range(8)]
        for address in addresses:
            self.subscribe(service, address, ["mail"])
        opened = self.submit(service, {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "e"})

        def unavailable_seen():
            _, _, metrics = service.get("/metrics")
            return "ledger_notification_smtp_available 0" in metrics
        self.wait_until("the worker to notice the server is down", unavailable_seen)

        # Submissions are not slowed while the server is down.
        started = time.monotonic()
        updated = self.submit(service, {"action": "update", "ticket": opened["ticket"], "note": "still down"})
        self.assertLess(time.monotonic() - started, 5.0)  # no SMTP timeout in the way (generous for ASan under load)
        counts = self.queue(service)["counts"]
        self.assertEqual(counts["sent"], 0)
        self.assertEqual(counts["failed"], 0)
        failures = receipts(service.all_events(), "NOTIFICATION_FAILED")
        self.assertTrue(failures)
        self.assertTrue(all(e["payload"]["server_unavailable"] and not e["payload"]["gave_up"] for e in failures))

        smtp.start()
        self.wait_all_sent(service, 2 * len(addresses))
        time.sleep(0.5)
        received = smtp.mailbox.by_job()
        self.assertEqual(set(received), {(seq, a) for seq in (opened["seq"], updated["seq"]) for a in addresses})
        self.assertTrue(all(count == 1 for count in received.values()), received)

        # And a restart sends nothing again.
        service.restart()
        time.sleep(1.0)
        self.assertEqual(smtp.mailbox.by_job(), received)
        self.assertEqual(self.queue(service)["counts"]["sent"], 2 * len(addresses))


class PickyMailbox(Mailbox):
    """Refuses some recipients at RCPT: 550 (permanent) or 451 (try later)."""

    def __init__(self, replies):
        super().__init__()
        self.replies = replies
        self.rcpt_attempts = collections.Counter()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_attempts[address] += 1
        reply = self.replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"


class Rejections(NotificationTestCase):

    def open_incident_for(self, replies):
        """A service mailing through a PickyMailbox with `replies` (3 attempts at most), those
        addresses and fine@example.org subscribed to mail, and an incident about mail opened."""
        smtp = SmtpServer()
        smtp.mailbox = PickyMailbox(replies)
        smtp.start()
        self.addCleanup(smtp.stop)
        service = self.start_service(extra_args=smtp_args(smtp, "--smtp-attempts-max", "3"))
        for address in list(replies) + ["fine@example.org"]:
            self.subscribe(service, address, ["mail"])
        opened = self.submit(service, {"action": "create", "title": "t", "systems": ["mail"], "engineer": "e"})
        return smtp, service, opened

    def test_rejected_mail_retries_then_fails_visibly(self):
        smtp, service, opened = self.open_incident_for({"gone@example.org": "550 5.1.1 no such user",
                                                        "full@example.org": "451 4.2.2 mailbox full, try later"})

        def settled():
            counts = self.queue(service)["counts"]
            return counts if counts["pending"] == 0 else None
        counts = self.wait_until("every job to settle", settled)
        self.assertEqual(counts, {"pending": 0, "sent": 1, "failed": 2})
        failed = {job["recipient"]: job for job in self.all_jobs(service, "?state=failed")}
        self.assertEqual(set(failed), {"gone@example.org", "full@example.org"})
        self.assertEqual(failed["gone@example.org"]["attempts"], 1)  # 5xx: given up at once
        self.assertEqual(failed["gone@example.org"]["last_smtp_code"], 550)
        self.assertEqual(failed["full@example.org"]["attempts"], 3)  # 4xx: retried up to the limit
        self.assertEqual(failed["full@example.org"]["last_smtp_code"], 451)
        self.assertIn("451", failed["full@example.org"]["last_error"])
        self.assertEqual(smtp.mailbox.rcpt_attempts["full@example.org"], 3)
        self.assertEqual(smtp.mailbox.by_job(), {(opened["seq"], "fine@example.org"): 1})
        gave_up = [e for e in receipts(service.all_events(), "NOTIFICATION_FAILED") if e["payload"]["gave_up"]]
        self.assertEqual({e["payload"]["recipient"] for e in gave_up}, {"gone@example.org", "full@example.org"})
        _, _, metrics = service.get("/metrics")
        self.assertIn('ledger_notification_jobs{state="failed"} 2', metrics)
        self.assertIn("ledger_notification_given_up_total 2", metrics)
        self.assertIn('ledger_notification_attempts_total{outcome="transient"} 3', metrics)
        self.assertIn('ledger_notification_attempts_total{outcome="permanent"} 1', metrics)

        # The incident's page says how many were told and how many
        # deliveries failed, and names nobody.
        response = service.get("/incidents/" + opened["ticket"])
        self.assertEqual(response.status, 200)
        page = response.data
        self.assertRegex(page, r'id="incident-deliveries" data-people="1" data-sent="1" data-failed="2" '
                               r'data-waiting="0">1 person was mailed about it \(1 mail sent\); 2 deliveries failed; '
                               r'0 mails waiting to be sent\.')
        for address in ("fine@example.org", "gone@example.org", "full@example.org"):
            self.assertNotIn(address, page)

    def test_failed_jobs_are_retried_by_hand_once_the_cause_is_fixed(self):
        smtp, service, opened = self.open_incident_for({"gone@example.org": "550 5.1.1 no such user",
                                                        "relay@example.org": "554 5.7.1 relaying denied"})
        ticket = opened["ticket"]

        def counts_when_settled():
            counts = self.queue(service)["counts"]
            return counts if counts["pending"] == 0 else None
        self.assertEqual(self.wait_until("every job to settle", counts_when_settled),
                         {"pending": 0, "sent": 1, "failed": 2})

        # Refusals name the problem and append nothing.
        head = service.head_seq()
        retry = "/api/v1/notifications/retry"
        bad = [
            (service.request("POST", retry, "{}", {"Content-Type": "text/plain"}), 415, "Content-Type"),
            (service.request("POST", retry, {"state": "failed"}), 400, "state"),
            (service.request("POST", retry, {"seq": "x"}), 400, "seq"),
            (service.request("POST", retry, {"recipient": "not an address"}), 400, "recipient"),
            (service.request("POST", retry, "{\"ticket\": ", {"Content-Type": "application/json"}), 400, ""),
            (service.request("POST", retry + "?ticket=" + ticket, {}), 400, ""),
        ]
        for response, status, field in bad:
            self.assertStatus(response, status, "refused retry")
            self.assertEqual(response.data["error"]["field"], field, response.data)
        self.assertEqual(service.request("GET", retry).status, 405)
        # No failed job matches: 200, nothing appended.
        none = service.request("POST", retry, {"recipient": "fine@example.org"})
        self.assertStatus(none, 200, "retry of nothing")
        self.assertEqual((none.data["retried"], none.data["seq"], none.data["event"]), (0, None, None))
        self.assertEqual(service.head_seq(), head)

        # The relay is fixed: retry its job alone.
        del smtp.mailbox.replies["relay@example.org"]
        retried = service.request("POST", retry, {"ticket": ticket, "recipient": "RELAY@example.org", "actor": "Bo"})
        self.assertStatus(retried, 201, "retry")
        self.assertEqual(retried.data["retried"], 1)
        self.assertEqual(retried.data["remaining"], 0)
        self.assertEqual(retried.data["jobs"],
                         [{"event_seq": opened["seq"], "recipient": "relay@example.org", "ticket": ticket}])
        event = retried.data["event"]
        self.assertEqual((event["type"], event["actor"], event["seq"]), ("NOTIFICATION_RETRY_REQUESTED", "Bo", head + 1))
        # The payload names its fields as the stored event does (and receipts do).
        self.assertEqual(event["payload"],
                         {"jobs": [{"incident_seq": opened["seq"], "recipient": "relay@example.org", "ticket": ticket}]})

        def relay_job():
            jobs = self.all_jobs(service, "?recipient=relay@example.org")
            return jobs[0] if jobs and jobs[0]["state"] == "sent" else None
        sent = self.wait_until("the retried job to be sent", relay_job)
        self.assertEqual(sent["attempts"], 2)
        self.assertEqual(smtp.mailbox.by_job(), {(opened["seq"], "fine@example.org"): 1,
                                                 (opened["seq"], "relay@example.org"): 1})
        self.assertEqual(self.queue(service)["counts"], {"pending": 0, "sent": 2, "failed": 1})

        # Everything failed, retried again: the address that does not exist fails again, once.
        again = service.request("POST", retry, {})
        self.assertStatus(again, 201, "retry of all")
        self.assertEqual([job["recipient"] for job in again.data["jobs"]], ["gone@example.org"])

        def gone_failed_twice():
            jobs = self.all_jobs(service, "?state=failed")
            return jobs if jobs and jobs[0]["attempts"] == 2 else None
        failed = self.wait_until("the second attempt to fail", gone_failed_twice)
        self.assertEqual([job["recipient"] for job in failed], ["gone@example.org"])
        self.assertEqual(smtp.mailbox.rcpt_attempts["gone@example.org"], 2)

        # The log says it all, and a restart folds the same queue and sends nothing.
        events = service.all_events()
        self.assertEqual([e["type"] for e in events].count("NOTIFICATION_RETRY_REQUESTED"), 2)
        before = self.all_jobs(service)
        service.restart()
        self.assertEqual(self.all_jobs(service), before)
        time.sleep(0.5)
        self.assertEqual(smtp.mailbox.rcpt_attempts["gone@example.org"], 2)
        self.assertEqual(len(smtp.mailbox.snapshot()), 2)


class HungServer(NotificationTestCase):

    def test_sigterm_while_smtp_hangs_stops_promptly(self):
        # Accepts connections and never says a word.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        service = self.start_service(extra_args=["--smtp-url", "smtp://127.0.0.1:%d" % port, "--smtp-from", FROM])
        self.subscribe(service, "a@example.org", ["mail"])
        started = time.monotonic()
        self.submit(service, {"action": "create", "title": "t", "systems": ["mail"], "engineer": "e"})
        self.assertLess(time.monotonic() - started, 5.0)
        time.sleep(0.5)  # the worker is now waiting for a greeting
        stopping = time.monotonic()
        self.assertEqual(service.stop(), 0)
        self.assertLess(time.monotonic() - stopping, 15.0)
        service.start()
        self.assertEqual(self.queue(service)["counts"]["pending"], 1)  # not lost, not marked


class KillMidDelivery(NotificationTestCase):

    def export_events(self, data_dir):
        output = subprocess.run([ledger_binary(), "export", "--data", data_dir], capture_output=True, check=True,
                                timeout=60)
        return [json.loads(line) for line in output.stdout.decode().splitlines() if line.strip()]

    def test_a_fan_out_is_recorded_in_few_receipt_events_and_read_from_the_log_alone(self):
        smtp = self.start_smtp(delay_seconds=0.01)
        service = self.start_service(extra_args=smtp_args(smtp, "--smtp-concurrency", "4"))
        addresses = ["reader%03d@example.org" % i for i in range(120)]
        for address in addresses:
            self.subscribe(service, address, ["mail"])
        opened = self.submit(service, {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "e"})
        self.wait_all_sent(service, len(addresses))
        head = service.head_seq()
        service.stop()

        # Who was told what, when: from the exported log alone, no service.
        exported = self.export_events(service.data_dir)
        delivered = receipts(exported, "NOTIFICATION_DELIVERED")
        self.assertEqual(collections.Counter((r["payload"]["incident_seq"], r["payload"]["recipient"]) for r in delivered),
                         collections.Counter({(opened["seq"], a): 1 for a in addresses}))
        self.assertEqual(set(smtp.mailbox.by_job()), {(opened["seq"], a) for a in addresses})
        receipt_events = {r["seq"] for r in delivered}
        batches = [e for e in exported if e["type"] == "NOTIFICATION_RECEIPTS"]
        self.assertTrue(batches, "no receipts were gathered into one event")
        self.assertLess(len(receipt_events), len(addresses) // 4, "the log grew by about one event per recipient")
        self.assertEqual(len(exported), head)
        for batch in batches:
            self.assertEqual(batch["ticket"], "")  # like every receipt, the envelope names no ticket
            self.assertGreaterEqual(len(batch["payload"]["delivered"]) + len(batch["payload"]["failed"]), 2)
        # The hash chain, receipts batched or not, checks out.
        code = subprocess.run([ledger_binary(), "verify", "--data", service.data_dir], capture_output=True,
                              timeout=120).returncode
        self.assertEqual(code, 0)

        # The queue, folded again from the log, says each job was sent when
        # its receipt's event was recorded.
        service.start()
        times = {(r["payload"]["incident_seq"], r["payload"]["recipient"]): r["recorded_at"] for r in delivered}
        for job in self.all_jobs(service):
            self.assertEqual(job["state"], "sent")
            self.assertEqual(job["sent_at"], times[(job["event_seq"], job["recipient"])])
        # The API shows the batches as the export does (every answer is
        # checked against the OpenAPI document's schema, ReceiptsPayload here).
        status, _, page = service.get("/api/v1/events?after=%d&limit=1000" % opened["seq"])
        self.assertEqual(status, 200)
        self.assertEqual([e["payload"] for e in page["events"] if e["type"] == "NOTIFICATION_RECEIPTS"],
                         [e["payload"] for e in batches])

    def test_sigkill_then_restart_resends_no_recorded_delivery(self):
        delay_seconds = 0.05
        smtp = self.start_smtp(delay_seconds=delay_seconds)
        concurrency = 2
        linger_ms = 100
        service = self.start_service(extra_args=smtp_args(smtp, "--smtp-concurrency", str(concurrency),
                                                          "--smtp-receipt-linger-ms", str(linger_ms)))
        addresses = ["user%02d@example.org" % i for i in range(40)]
        for address in addresses:
            self.subscribe(service, address, ["mail"])
        opened = self.submit(service, {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "e"})

        self.wait_until("some mail to arrive", lambda: len(smtp.mailbox.snapshot()) >= 10)
        service.signal(signal.SIGKILL)
        service.wait()
        received_before = smtp.mailbox.by_job()

        # What the log says was delivered when the process died.
        recorded = {(e["payload"]["incident_seq"], e["payload"]["recipient"])
                    for e in receipts(self.export_events(service.data_dir), "NOTIFICATION_DELIVERED")}
        self.assertTrue(recorded)
        self.assertLess(len(recorded), len(addresses), "the kill came too late to test anything")

        service.start()
        self.wait_all_sent(service, len(addresses))
        time.sleep(0.5)
        received = smtp.mailbox.by_job()
        jobs = {(opened["seq"], a) for a in addresses}
        self.assertEqual(set(received), jobs)  # nothing lost
        for job in recorded:
            self.assertEqual(received[job], 1, "%r was recorded as delivered before the kill and sent again" % (job,))
        duplicates = {job: count for job, count in received.items() if count > 1}
        # Only mails in flight at the kill (accepted, receipt not yet durable)
        # may go out twice: those being sent, and those whose receipts were
        # gathering for one event (at most a linger's worth of sends).
        window = concurrency * (1 + math.ceil(linger_ms / 1000 / delay_seconds))
        self.assertLessEqual(len(duplicates), window, duplicates)
        for job in duplicates:
            self.assertIn(job, received_before)
        # The log records each job delivered exactly once.
        delivered = collections.Counter((e["payload"]["incident_seq"], e["payload"]["recipient"])
                                        for e in receipts(service.all_events(), "NOTIFICATION_DELIVERED"))
        self.assertEqual(set(delivered), jobs)
        self.assertTrue(all(count == 1 for count in delivered.values()), delivered)


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main(verbosity=2)
