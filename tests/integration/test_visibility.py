"""Internal incidents (`visibility: internal`) against the real binary, with an
auth file, `--anonymous viewer` and a real SMTP server (Debian's
python3-aiosmtpd on a loopback port):

- an internal incident answers 404 to an anonymous reader and to a viewer
  token (the incident, its events, its bundle, its page), and is left out of
  /api/v1/incidents, /feed.atom, /calendar.ics, the event stream, the
  dashboard's data (/api/v1/availability), the action items and the review
  report's names; a help-desk token sees it all;
- figures as a viewer still count its downtime (per system, MTTR's
  closed_count) without naming it (no per-incident row, no ticket in the
  lists);
- subscribers to its system get no mail about it, while they do get mail
  about the public incident on the same system;
- an update (here through the form encoding) to `everyone` makes it appear
  for viewers, and that update is mailed; an update to `internal` makes a
  public incident disappear.

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_visibility.py
"""

import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402
from service import ServiceTestCase, add_token, bearer  # noqa: E402

service.require_modules(["aiosmtpd"], ["python3-aiosmtpd"])
from test_notifications import SmtpServer, smtp_args  # noqa: E402

WAIT_SECONDS = 90
STREAM_SECONDS = 20


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class VisibilityTest(ServiceTestCase):

    def setUp(self):
        import tempfile
        self.folder = tempfile.TemporaryDirectory(prefix="ledger-visibility-")
        self.addCleanup(self.folder.cleanup)
        auth_file = os.path.join(self.folder.name, "auth.txt")
        self.desk = bearer(add_token(auth_file, "desk", "helpdesk"))
        self.reader = bearer(add_token(auth_file, "reader", "viewer"))
        self.boss = bearer(add_token(auth_file, "boss", "admin"))
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ledger = self.start_service(
            extra_args=["--auth-file", auth_file, "--anonymous", "viewer"] + smtp_args(self.smtp))
        self.viewers = {"anonymous": {}, "viewer token": self.reader}

    # -- helpers ---------------------------------------------------------------

    def submit(self, fields, form=False):
        answer = self.ledger.submit(fields, form=form, headers=self.desk)
        self.assertStatus(answer, 201, "submit %r" % fields)
        return answer.data

    def get(self, path, headers=None, status=200):
        answer = self.ledger.get(path, headers=headers)
        self.assertStatus(answer, status, "GET %s" % path)
        return answer.data

    def listed(self, headers):
        return [item["ticket"] for item in self.get("/api/v1/incidents", headers)["incidents"]]

    def stream_frames(self, headers, last_seq):
        """The event stream from the start up to `last_seq`: [(seq, data text)]."""
        connection = self.ledger.connection(timeout=STREAM_SECONDS)
        frames = []
        try:
            connection.request("GET", "/api/v1/events/stream?after=0",
                               headers=dict(headers, Accept="text/event-stream"))
            answer = connection.getresponse()
            self.assertEqual(answer.status, 200)
            seq = None
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                line = answer.fp.readline().decode("utf-8")
                if not line:
                    break
                if line.startswith("id: "):
                    seq = int(line[4:])
                elif line.startswith("data: "):
                    frames.append((seq, line[6:]))
                    if seq == last_seq:
                        return frames
            self.fail("the stream did not reach seq %d; it sent %r" % (last_seq, frames))
        finally:
            connection.close()

    def wait_sent(self, seqs):
        """Waits until every job is sent and the mailbox holds a mail of each seq in `seqs`."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            counts = self.get("/api/v1/notifications?limit=1", self.boss)["counts"]
            mailed = {seq for (seq, _) in self.smtp.mailbox.by_job()}
            if counts["pending"] == 0 and set(seqs) <= mailed:
                return
            time.sleep(0.05)
        self.fail("timed out waiting for the mail of %r" % (seqs,))

    # -- the test ----------------------------------------------------------------

    def test_internal_incidents_are_hidden_below_the_help_desk_and_still_counted(self):
        subscribed = self.ledger.request("POST", "/api/v1/subscriptions",
                                         {"email": "ops@example.org", "systems": ["mail"]}, self.boss)
        self.assertStatus(subscribed, 201, "subscribe")

        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        public = self.submit({"action": "create", "title": "Webmail slow", "systems": ["mail"],
                              "engineer": "Ana", "started_at": rfc3339(now - datetime.timedelta(hours=5))})
        hidden = self.submit({"action": "create", "title": "Secret relay outage", "systems": ["mail", "relay"],
                              "engineer": "Ben", "visibility": "internal",
                              "started_at": rfc3339(now - datetime.timedelta(hours=3))})
        ticket = hidden["ticket"]
        self.assertEqual(hidden["event"]["payload"]["visibility"], "internal")
        closed = self.submit({"action": "close", "ticket": ticket,
                              "ended_at": rfc3339(now - datetime.timedelta(hours=2))})
        # A public event after the hidden ones: the stream and the mail are
        # read up to it.
        noted = self.submit({"action": "update", "ticket": public["ticket"], "note": "Looking into it"})

        item = self.ledger.request("POST", "/api/v1/incidents/%s/action-items" % ticket,
                                  {"title": "Replace the relay", "owner": "ben@example.org"}, self.desk)
        self.assertStatus(item, 201, "an action item on the internal incident")

        # Help desk: as any other incident.
        state = self.get("/api/v1/incidents/" + ticket, self.desk)
        self.assertEqual(state["visibility"], "internal")
        self.assertEqual(self.get("/api/v1/incidents/" + public["ticket"], self.desk)["visibility"], "everyone")
        self.assertIn(ticket, self.listed(self.desk))
        self.get("/api/v1/incidents/%s/events" % ticket, self.desk)
        self.get("/api/v1/incidents/%s/bundle" % ticket, self.desk)
        self.get("/incidents/" + ticket, self.desk)

        for who, headers in self.viewers.items():
            with self.subTest(who=who):
                for path in ("/api/v1/incidents/" + ticket, "/api/v1/incidents/%s/events" % ticket,
                             "/api/v1/incidents/%s/bundle" % ticket,
                             "/api/v1/incidents/%s?as_of_seq=%d" % (ticket, hidden["seq"])):
                    self.assertError(self.ledger.get(path, headers), 404, "not_found", "ticket", path)
                page = self.ledger.get("/incidents/" + ticket, headers)
                self.assertStatus(page, 404, "the incident page")
                self.assertNotIn("Secret relay", page.data)

                self.assertEqual(self.listed(headers), [public["ticket"]])
                as_of = self.get("/api/v1/incidents?as_of_seq=%d" % noted["seq"], headers)
                self.assertEqual([item["ticket"] for item in as_of["incidents"]], [public["ticket"]])
                feed = self.get("/feed.atom", headers)
                self.assertIn("Webmail slow", feed)
                self.assertNotIn("Secret relay", feed)
                calendar = self.get("/calendar.ics", headers)
                self.assertIn("Webmail slow", calendar)
                self.assertNotIn("Secret relay", calendar)

                # The dashboard's data: the bars and the days' tickets.
                availability = self.get("/api/v1/availability?days=2", headers)
                self.assertEqual(set(availability["incidents"]), {public["ticket"]})
                for system in availability["systems"]:
                    for day in system["days"]:
                        self.assertNotIn(ticket, day["tickets"])

                # Figures count it without naming it.
                window = "from=%s&to=%s" % (rfc3339(now - datetime.timedelta(hours=4)),
                                            rfc3339(now - datetime.timedelta(hours=1)))
                figures = self.get("/api/v1/durations?" + window, headers)
                self.assertEqual([row["ticket"] for row in figures["incidents"]], [public["ticket"]])
                mail = [system for system in figures["systems"] if system["system"] == "mail"]
                self.assertEqual(len(mail), 1, figures)
                # The public incident covers the whole window anyway: the
                # union is 3 h; what shows the hidden one is counted is MTTR.
                self.assertEqual(mail[0]["downtime_seconds"], 3 * 3600)
                self.assertEqual(mail[0]["tickets"], [public["ticket"]])
                # A system only the hidden incident names: its downtime counts.
                relay = [system for system in figures["systems"] if system["system"] == "relay"]
                self.assertEqual(relay, [dict(relay[0], downtime_seconds=3600, tickets=[])] if relay else ["relay"])
                self.assertEqual(figures["closed_count"], 1)
                self.assertEqual(figures["mttr_seconds"], 3600)
                self.assertEqual(figures["mttr_tickets"], [])
                csv = self.get("/api/v1/durations?by=incident&format=csv&" + window, headers)
                self.assertNotIn(ticket, csv)

                # Its action items and its name in the review report.
                self.assertEqual(self.get("/api/v1/action-items", headers)["items"], [])
                report = self.get("/api/v1/review-report", headers)
                self.assertEqual(report["closed"], 1)
                self.assertEqual(report["closed_tickets"], ["internal"])
                self.assertEqual(report["incidents"], [])
                self.assertEqual(report["action_items"]["open"], 1)
                self.assertEqual(report["action_items"]["open_items"], ["internal"])

                frames = self.stream_frames(headers, noted["seq"])
                self.assertTrue(frames)
                self.assertFalse([text for _, text in frames if '"ticket":"%s"' % ticket in text], frames)

        # Help desk's figures name it; its stream carries its events.
        figures = self.get("/api/v1/durations?from=%s&to=%s" % (rfc3339(now - datetime.timedelta(hours=4)),
                                                                  rfc3339(now - datetime.timedelta(hours=1))),
                           self.desk)
        self.assertIn({"ticket": ticket, "seconds": 3600, "ongoing": False}, figures["incidents"])
        self.assertEqual(figures["mttr_tickets"], [ticket])
        frames = self.stream_frames(self.desk, noted["seq"])
        self.assertEqual(len([text for _, text in frames if '"ticket":"%s"' % ticket in text]), 2)
        self.assertIn(ticket, set(self.get("/api/v1/availability?days=2", self.desk)["incidents"]))
        self.assertEqual([entry["ticket"] for entry in self.get("/api/v1/action-items", self.desk)["items"]], [ticket])
        self.assertEqual(self.get("/api/v1/review-report", self.desk)["closed_tickets"], [ticket])

        # No mail about it: the public incident's mails went out, the hidden
        # one's jobs were never made.
        self.wait_sent([public["seq"], noted["seq"]])
        mailed = {seq for (seq, _) in self.smtp.mailbox.by_job()}
        self.assertFalse(mailed & {hidden["seq"], closed["seq"]}, mailed)
        jobs = self.get("/api/v1/notifications?limit=1000", self.boss)["notifications"]
        # Its action item's owner is mailed (staff, not a subscriber).
        self.assertEqual([(job["recipient"], job["event_type"]) for job in jobs if job["ticket"] == ticket],
                         [("ben@example.org", "ACTION_ITEM_ADDED")])

        # Made public again (through the form encoding): it appears, and that
        # update is mailed.
        shown = self.submit({"action": "update", "ticket": ticket, "visibility": "everyone",
                             "note": "Relay restored; details now public"}, form=True)
        for who, headers in self.viewers.items():
            with self.subTest(who=who, after="everyone"):
                self.assertEqual(self.get("/api/v1/incidents/" + ticket, headers)["visibility"], "everyone")
                self.assertIn(ticket, self.listed(headers))
                self.assertIn("Secret relay", self.get("/feed.atom", headers))
        self.wait_sent([shown["seq"]])

        # And a public incident made internal disappears.
        self.submit({"action": "update", "ticket": public["ticket"], "visibility": "internal"})
        for who, headers in self.viewers.items():
            with self.subTest(who=who, after="internal"):
                self.assertError(self.ledger.get("/api/v1/incidents/" + public["ticket"], headers),
                                 404, "not_found", "ticket")
                self.assertEqual(self.listed(headers), [ticket])
        self.assertEqual(sorted(self.listed(self.desk)), sorted([ticket, public["ticket"]]))


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
