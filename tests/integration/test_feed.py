"""GET /feed.atom against the real binary, read back with Python's XML parser:

- one entry per incident event (opened, updated, closed), published review
  and maintenance event, newest first, at most 50; never a subscription, a
  delivery receipt or a review draft
- ?system= keeps the events whose incident or window names the system,
  ignoring case
- hostile text (markup, an attempt to close the element and add an entry,
  quotes, ampersands, a control character) comes back as the same text,
  never as markup; the document always parses
- ids are unique and the same from one fetch to the next (the same bytes);
  links are relative to the feed's address
- a feed reader's parser (Debian's python3-feedparser) reads it as Atom 1.0
  without error
- refusals name their parameter

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_feed.py
"""

import os
import sys
import unittest
import xml.etree.ElementTree as ElementTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

service.require_modules(["feedparser"], ["python3-feedparser"])
import feedparser  # noqa: E402

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "</title></entry><entry><title>forged</title> & \"quotes\" 'single' <b>bold</b> ]]> <!-- x"


class FeedTest(service.ServiceTestCase):
    def setUp(self):
        self.svc = self.start_service()

    def submit(self, fields):
        response = self.svc.submit(fields)
        self.assertStatus(response, 201, fields)
        return response.data

    def post(self, path, body):
        response = self.svc.request("POST", path, body)
        self.assertStatus(response, 201, body)
        return response.data

    def feed(self, query=""):
        response = self.svc.get("/feed.atom" + query)
        self.assertStatus(response, 200, "the feed " + query)
        self.assertEqual(response.headers.get("Content-Type"), "application/atom+xml; charset=utf-8")
        root = ElementTree.fromstring(response.raw)
        self.assertEqual(root.tag, ATOM + "feed")
        # As a feed reader reads it: Atom 1.0, no error.
        parsed = feedparser.parse(response.raw)
        self.assertFalse(parsed.bozo, "feedparser: %r" % parsed.get("bozo_exception"))
        self.assertEqual(parsed.version, "atom10")
        self.assertEqual(len(parsed.entries), len(root.findall(ATOM + "entry")))
        for entry, element in zip(parsed.entries, root.findall(ATOM + "entry")):
            self.assertEqual(entry.title, element.findtext(ATOM + "title"))
            self.assertEqual(entry.id, element.findtext(ATOM + "id"))
        return root, response.raw

    @staticmethod
    def entries(root):
        return [{
            "id": entry.findtext(ATOM + "id"),
            "title": entry.findtext(ATOM + "title"),
            "updated": entry.findtext(ATOM + "updated"),
            "author": entry.findtext(ATOM + "author/" + ATOM + "name"),
            "link": entry.find(ATOM + "link").get("href"),
            "categories": [category.get("term") for category in entry.findall(ATOM + "category")],
            "summary": entry.findtext(ATOM + "summary"),
        } for entry in root.findall(ATOM + "entry")]

    def test_incident_review_and_maintenance_events_newest_first(self):
        opened = self.submit({"action": "create", "title": HOSTILE, "systems": ["mail", "VPN"], "engineer": "Ana",
                              "severity": "major", "started_at": "2026-11-20T08:00:00Z",
                              "description": "Outbound <script>alert(1)</script> queue"})
        ticket = opened["ticket"]
        self.submit({"action": "update", "ticket": ticket, "note": "Relay restarted & watched", "phase": "identified"})
        self.post("/api/v1/subscriptions", {"email": "someone@example.org", "systems": ["mail"]})
        other = self.submit({"action": "create", "title": "DNS slow", "systems": ["dns"], "engineer": "Bo",
                             "started_at": "2026-11-20T09:00:00Z"})["ticket"]
        self.submit({"action": "close", "ticket": ticket, "ended_at": "2026-11-20T10:00:00Z"})
        self.post("/api/v1/incidents/%s/review" % ticket, {"summary": "draft only", "root_cause": "unknown yet"})
        self.post("/api/v1/incidents/%s/review" % ticket,
                  {"summary": "Mail stopped for two hours.", "root_cause": "Full disk on mx2.", "publish": True})
        window = self.post("/api/v1/maintenance", {"action": "schedule", "title": "Relay patch", "systems": ["Mail"],
                                                   "starts_at": "2026-12-20T20:00:00Z",
                                                   "ends_at": "2026-12-20T22:00:00Z"})["window"]

        root, raw = self.feed()
        entries = self.entries(root)
        self.assertEqual([entry["title"] for entry in entries], [
            window + " scheduled: Relay patch",
            ticket + " review published: " + HOSTILE,
            ticket + " closed: " + HOSTILE,
            other + " opened: DNS slow",
            ticket + " updated: " + HOSTILE,
            ticket + " opened: " + HOSTILE,
        ], "newest first; no subscription, no draft")
        self.assertNotIn(b"someone@example.org", raw)
        self.assertNotIn(b"draft only", raw)
        self.assertNotIn(b"<b>", raw, "markup in user text reached the document")
        self.assertEqual(len(root.findall(ATOM + "entry")), 6, "the hostile title added no entry")
        self.assertEqual(len({entry["id"] for entry in entries}), 6, "ids are unique")
        for entry in entries:
            self.assertRegex(entry["id"], r"^tag:incident-ledger,2026:event-\d+-[0-9a-f]{16}$")
            self.assertRegex(entry["updated"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
            self.assertEqual(entry["author"], "anonymous")
        self.assertEqual(root.findtext(ATOM + "updated"), entries[0]["updated"])
        by_title = {entry["title"]: entry for entry in entries}
        updated = by_title[ticket + " updated: " + HOSTILE]
        self.assertEqual(updated["link"], "/incidents/" + ticket)
        self.assertEqual(updated["categories"], ["mail", "VPN"])
        self.assertIn("note: Relay restarted & watched\n", updated["summary"])
        self.assertIn("phase: identified\n", updated["summary"])
        self.assertIn("Now: closed, major", updated["summary"], "the incident's state as it is now")
        review = by_title[ticket + " review published: " + HOSTILE]
        self.assertIn("root cause: Full disk on mx2.", review["summary"])
        scheduled = by_title[window + " scheduled: Relay patch"]
        self.assertEqual(scheduled["link"], "/?from=2026-12-20T19%3A00%3A00Z&to=2026-12-20T23%3A00%3A00Z")
        self.assertIn("Planned: 2026-12-20T20:00:00Z to 2026-12-20T22:00:00Z", scheduled["summary"])

        # The same ledger, the same bytes.
        self.assertEqual(self.feed()[1], raw)

        # One system, ignoring case: mail names the first incident and the window.
        mail = self.entries(self.feed("?system=MAIL")[0])
        self.assertEqual(len(mail), 5)
        self.assertTrue(all(ticket in entry["title"] or window in entry["title"] for entry in mail))
        self.assertEqual([entry["title"] for entry in self.entries(self.feed("?system=dns")[0])],
                         [other + " opened: DNS slow"])
        self.assertEqual(self.entries(self.feed("?system=nothing")[0]), [])

    def test_at_most_fifty_entries_and_an_empty_feed_parses(self):
        root, _ = self.feed()
        self.assertEqual(self.entries(root), [])
        self.assertEqual(root.findtext(ATOM + "updated"), "1970-01-01T00:00:00Z")
        ticket = self.submit({"action": "create", "title": "Flapping", "systems": ["vpn"], "engineer": "Cy"})["ticket"]
        for n in range(55):
            self.submit({"action": "update", "ticket": ticket, "note": "check %d" % n})
        entries = self.entries(self.feed()[0])
        self.assertEqual(len(entries), 50)
        self.assertIn("note: check 54\n", entries[0]["summary"])
        self.assertIn("note: check 5\n", entries[-1]["summary"])

    def test_tabs_and_line_ends_in_stored_text_stay_text(self):
        # The submission rules refuse control characters in a title; a tab
        # and line ends in a description are kept and must stay well-formed.
        ticket = self.submit({"action": "create", "title": "Tabs & things", "systems": ["files"],
                              "engineer": "Di", "description": "line one\nline two\r\n\tindented"})["ticket"]
        entries = self.entries(self.feed()[0])
        self.assertEqual(entries[0]["title"], ticket + " opened: Tabs & things")
        self.assertIn("description: line one\nline two\n\tindented", entries[0]["summary"])

    def test_refusals_name_the_parameter(self):
        for query, field in (("?system=", "system"), ("?sytem=mail", "sytem"), ("?system=a&limit=3", "limit")):
            response = self.svc.get("/feed.atom" + query)
            self.assertError(response, 400, "invalid_argument", field, "the feed " + query)
        self.assertStatus(self.svc.get("/healthz"), 200)


if __name__ == "__main__":
    unittest.main()
