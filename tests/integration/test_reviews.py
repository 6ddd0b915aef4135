"""Post-incident reviews and action items against the real binary.

- draft -> publish refused while open (409) -> close -> publish -> amend:
  GET /api/v1/incidents/{t} shows every version, who and when, and the head
  each published version was written against (checked against the log);
  a correction after publication is flagged
- roles: a viewer may not post and sees no drafts; helpdesk sees them
- expected_version and submission_id behave as for submissions
- hostile or oversized input is refused with a 400 naming the field, and
  nothing is appended
- action items: ids INC-n-A1.., updates, dropped needs a note, the list and
  its filters, overdue first (by the service's --timezone)
- everything survives a restart (checkpoint) and a rebuild from the log

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_reviews.py
"""

import datetime
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import ServiceTestCase, add_token, bearer, require_binary_or_exit  # noqa: E402

CREATE = {"action": "create", "title": "Mail down", "systems": ["mail", "MX"], "engineer": "Ana",
          "started_at": "2026-01-10T08:00:00Z"}
REVIEW = {"summary": "Mail stopped for two hours.", "impact_summary": "Nobody could send mail.",
          "root_cause": "Full disk on mx2.", "contributing_factors": ["no disk alert", "log rotation off"],
          "lessons": "Alert on disk space."}


def today_utc():
    return datetime.datetime.now(datetime.timezone.utc).date()


class ReviewTest(ServiceTestCase):

    def setUp(self):
        self.folder = tempfile.TemporaryDirectory(prefix="ledger-reviews-")
        self.addCleanup(self.folder.cleanup)
        self.auth_file = os.path.join(self.folder.name, "auth.txt")
        self.helpdesk = bearer(add_token(self.auth_file, "desk", "helpdesk"))
        self.viewer = bearer(add_token(self.auth_file, "reader", "viewer"))
        self.service = self.start_service(extra_args=["--auth-file", self.auth_file])

    def post(self, path, body, headers=None, expect=201):
        response = self.service.request("POST", path, body, headers=headers or self.helpdesk)
        self.assertStatus(response, expect, "POST %s %r" % (path, body))
        return response.data

    def incident(self, ticket, headers=None):
        status, _, data = self.service.get("/api/v1/incidents/" + ticket, headers=headers or self.helpdesk)
        self.assertEqual(status, 200, data)
        return data

    def open_incident(self):
        return self.post("/api/v1/submissions", CREATE)["ticket"]

    def close(self, ticket):
        return self.post("/api/v1/submissions", {"action": "close", "ticket": ticket,
                                                 "ended_at": "2026-01-10T10:00:00Z"})

    def events(self):
        status, _, data = self.service.get("/api/v1/events?after=0&limit=10000", headers=self.helpdesk)
        if status != 200:
            # helpdesk is not an auditor: read the ticket's own events instead
            return None
        return data["events"]

    def ticket_events(self, ticket):
        status, _, data = self.service.get("/api/v1/incidents/%s/events" % ticket, headers=self.helpdesk)
        self.assertEqual(status, 200, data)
        return data["events"]

    # -- the review's life ------------------------------------------------

    def test_draft_publish_refused_while_open_then_published_and_amended(self):
        ticket = self.open_incident()
        self.assertIsNone(self.incident(ticket)["review"])
        self.assertEqual(self.incident(ticket)["action_items"], [])

        draft = self.post("/api/v1/incidents/%s/review" % ticket, {"summary": "first notes"})
        self.assertEqual(draft["ticket"], ticket)
        self.assertEqual(draft["version"], 1)
        self.assertEqual(draft["event"]["type"], "REVIEW_DRAFTED")
        self.assertEqual(draft["event"]["actor"], "desk")

        head_before = self.service.head_seq()
        refused = self.service.request("POST", "/api/v1/incidents/%s/review" % ticket,
                                       dict(REVIEW, publish=True), headers=self.helpdesk)
        self.assertError(refused, 409, "conflict", "publish", "publish while open")
        self.assertEqual(self.service.head_seq(), head_before, "a refused publish appends nothing")

        self.close(ticket)
        # Publishing needs a summary and a root cause: the draft has no root cause.
        missing = self.service.request("POST", "/api/v1/incidents/%s/review" % ticket, {"publish": True},
                                       headers=self.helpdesk)
        self.assertError(missing, 400, "invalid_argument", "root_cause", "publish without a root cause")
        self.assertEqual(self.service.head_seq(), head_before + 1, "only the close was appended")

        published = self.post("/api/v1/incidents/%s/review" % ticket, dict(REVIEW, publish=True))
        self.assertEqual(published["version"], 2)
        self.assertEqual(published["event"]["type"], "REVIEW_PUBLISHED")
        payload = published["event"]["payload"]
        self.assertEqual(payload["reviewed_through_seq"], published["seq"] - 1)
        # The head it was written against is the event right before it, as the log has it.
        before = [event for event in self.ticket_events(ticket) if event["seq"] == published["seq"] - 1]
        self.assertEqual(len(before), 1, "the close is the event before the publication")
        self.assertEqual(payload["reviewed_head_hash"], before[0]["hash"])
        self.assertEqual(published["event"]["prev_hash"], payload["reviewed_head_hash"])

        # Amend: only the lessons change; the rest carries over.
        amended = self.post("/api/v1/incidents/%s/review" % ticket,
                            {"lessons": "Alert on disk space; rotate logs.", "publish": True, "expected_version": 2})
        self.assertEqual(amended["version"], 3)
        self.assertEqual(amended["event"]["payload"]["root_cause"], REVIEW["root_cause"])

        review = self.incident(ticket)["review"]
        self.assertEqual(review["status"], "published")
        self.assertEqual(review["version"], 3)
        self.assertEqual([v["version"] for v in review["versions"]], [1, 2, 3])
        self.assertEqual([v["status"] for v in review["versions"]], ["draft", "published", "published"])
        self.assertEqual({v["actor"] for v in review["versions"]}, {"desk"})
        self.assertIsNone(review["versions"][0]["reviewed_through_seq"])
        self.assertEqual(review["versions"][1]["reviewed_through_seq"], published["seq"] - 1)
        self.assertEqual(review["versions"][2]["reviewed_through_seq"], amended["seq"] - 1)
        self.assertEqual(review["current"]["lessons"], "Alert on disk space; rotate logs.")
        self.assertEqual(review["current"]["contributing_factors"], REVIEW["contributing_factors"])
        self.assertEqual(review["published"]["version"], 3)
        self.assertFalse(review["recorded_after_review"])
        self.assertEqual(review["events_after_review"], [])
        # The incident's own version is untouched by review events.
        self.assertEqual(self.incident(ticket)["version"], 2)

        # A correction of the end time after the review: flagged, with what changed.
        corrected = self.post("/api/v1/submissions", {"action": "update", "ticket": ticket,
                                                      "ended_at": "2026-01-10T11:00:00Z"})
        review = self.incident(ticket)["review"]
        self.assertTrue(review["recorded_after_review"])
        self.assertEqual([(e["seq"], e["type"], e["fields"]) for e in review["events_after_review"]],
                         [(corrected["seq"], "INCIDENT_UPDATED", ["ended_at"])])

        # A stale expected_version is a conflict; nothing appended.
        head = self.service.head_seq()
        stale = self.service.request("POST", "/api/v1/incidents/%s/review" % ticket,
                                     {"summary": "x", "expected_version": 2}, headers=self.helpdesk)
        self.assertError(stale, 409, "conflict", "expected_version", "stale expected_version")
        self.assertEqual(self.service.head_seq(), head)

        # The list marks it reviewed, and did not before the publication.
        window = "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
        listed = self.service.get("/api/v1/incidents?" + window, headers=self.viewer).data["incidents"]
        self.assertEqual([(i["ticket"], i["reviewed"], i["open_action_items"]) for i in listed], [(ticket, True, 0)])
        earlier = self.service.get("/api/v1/incidents?%s&as_of_seq=%d" % (window, published["seq"] - 1),
                                   headers=self.viewer).data["incidents"]
        self.assertEqual([i["reviewed"] for i in earlier], [False])

        # As known before the publication: only the draft.
        as_of = self.incident(ticket + "?as_of_seq=%d" % (published["seq"] - 1))
        self.assertEqual(as_of["review"]["status"], "draft")
        self.assertEqual(len(as_of["review"]["versions"]), 1)

        # The same after a restart (checkpoint) and after a rebuild from the log.
        expected = self.incident(ticket)
        self.service.restart()
        self.assertEqual(self.incident(ticket), expected)

    def test_viewer_may_not_post_and_sees_no_drafts(self):
        ticket = self.open_incident()
        self.post("/api/v1/incidents/%s/review" % ticket, {"summary": "secret draft"})
        head = self.service.head_seq()
        for path, body in (("/api/v1/incidents/%s/review" % ticket, {"summary": "x"}),
                           ("/api/v1/incidents/%s/action-items" % ticket, {"title": "t", "owner": "a@example.org"}),
                           ("/api/v1/action-items/%s-A1" % ticket, {"status": "done"})):
            refused = self.service.request("POST", path, body, headers=self.viewer)
            self.assertEqual(refused.status, 403, "%s: %r" % (path, refused))
            anonymous = self.service.request("POST", path, body)
            self.assertEqual(anonymous.status, 401, "%s: %r" % (path, anonymous))
        self.assertEqual(self.service.head_seq(), head)
        self.assertIsNone(self.incident(ticket, headers=self.viewer)["review"], "a viewer sees no draft")
        status, _, events = self.service.get("/api/v1/incidents/%s/events" % ticket, headers=self.viewer)
        self.assertEqual(status, 200, events)
        self.assertNotIn("REVIEW_DRAFTED", [event["type"] for event in events["events"]], "nor in the ticket's events")
        self.assertIn("REVIEW_DRAFTED", [event["type"] for event in self.ticket_events(ticket)])
        self.assertEqual(self.incident(ticket)["review"]["status"], "draft")

        self.close(ticket)
        self.post("/api/v1/incidents/%s/review" % ticket, dict(REVIEW, publish=True))
        self.post("/api/v1/incidents/%s/review" % ticket, {"lessons": "next draft"})
        seen = self.incident(ticket, headers=self.viewer)["review"]
        self.assertEqual(seen["status"], "published")
        self.assertEqual([v["version"] for v in seen["versions"]], [2])
        self.assertEqual(seen["current"]["lessons"], REVIEW["lessons"])
        mine = self.incident(ticket)["review"]
        self.assertEqual(mine["status"], "draft")
        self.assertEqual([v["version"] for v in mine["versions"]], [1, 2, 3])
        self.assertEqual(mine["published"]["version"], 2)
        status, _, listed = self.service.get("/api/v1/action-items", headers=self.viewer)
        self.assertEqual(status, 200, listed)

    def test_submission_id_repeats_and_conflicts(self):
        ticket = self.open_incident()
        body = {"summary": "once", "submission_id": "review-1"}
        first = self.post("/api/v1/incidents/%s/review" % ticket, body)
        again = self.service.request("POST", "/api/v1/incidents/%s/review" % ticket, body, headers=self.helpdesk)
        self.assertStatus(again, 201, "repeat")
        self.assertEqual(again.headers.get("Idempotent-Replay"), "true")
        self.assertEqual(again.data["seq"], first["seq"])
        head = self.service.head_seq()
        other = self.service.request("POST", "/api/v1/incidents/%s/review" % ticket,
                                     {"summary": "other", "submission_id": "review-1"}, headers=self.helpdesk)
        self.assertError(other, 409, "conflict", "submission_id", "reused submission_id")
        self.assertEqual(self.service.head_seq(), head)
        missing = self.service.request("POST", "/api/v1/incidents/INC-999/review", {"summary": "x"},
                                       headers=self.helpdesk)
        self.assertError(missing, 404, "not_found", "ticket", "unknown ticket")

    def test_hostile_and_oversized_input_is_refused_and_nothing_appended(self):
        ticket = self.open_incident()
        self.post("/api/v1/incidents/%s/action-items" % ticket, {"title": "fix", "owner": "ops@example.org"})
        head = self.service.head_seq()
        review_path = "/api/v1/incidents/%s/review" % ticket
        add_path = "/api/v1/incidents/%s/action-items" % ticket
        item_path = "/api/v1/action-items/%s-A1" % ticket
        cases = [
            (review_path, {"summary": "x" * 8001}, "summary"),
            (review_path, {"root_cause": "bad \u202e override"}, "root_cause"),
            (review_path, {"lessons": "nul \u0000 byte"}, "lessons"),
            (review_path, {"contributing_factors": ["two\nlines"]}, "contributing_factors"),
            (review_path, {"contributing_factors": ["f%d" % i for i in range(51)]}, "contributing_factors"),
            (review_path, {"contributing_factors": "not\u2028a line"}, "contributing_factors"),
            (review_path, {"publish": "maybe"}, "publish"),
            (review_path, {"expected_version": -1}, "expected_version"),
            (review_path, {"summary": 7}, "summary"),
            (review_path, {"verdict": "guilty"}, "verdict"),
            (review_path, {}, "summary"),
            (add_path, {"title": "t"}, "owner"),
            (add_path, {"owner": "ops@example.org"}, "title"),
            (add_path, {"title": "t" * 201, "owner": "ops@example.org"}, "title"),
            (add_path, {"title": "t", "owner": "Eve <eve@example.org>"}, "owner"),
            (add_path, {"title": "t", "owner": "eve@example.org\r\nBcc: x@example.org"}, "owner"),
            (add_path, {"title": "t", "owner": "ops@example.org", "due": "2026-02-30"}, "due"),
            (add_path, {"title": "t", "owner": "ops@example.org", "due": "tomorrow"}, "due"),
            (add_path, {"title": "t", "owner": "ops@example.org", "link": "javascript:alert(1)"}, "link"),
            (add_path, {"title": "<b>\u0007</b>", "owner": "ops@example.org"}, "title"),
            (item_path, {"status": "finished"}, "status"),
            (item_path, {"status": "dropped"}, "note"),
            (item_path, {"status": "dropped", "note": "   "}, "note"),
            (item_path, {}, "status"),
            (item_path, {"note": "x" * 8001}, "note"),
        ]
        for path, body, field in cases:
            response = self.service.request("POST", path, body, headers=self.helpdesk)
            self.assertError(response, 400, "invalid_argument", field, "%s %r" % (path, body))
        too_big = self.service.request("POST", review_path, {"summary": "x" * 70000}, headers=self.helpdesk)
        self.assertEqual(too_big.status, 413, too_big)
        not_json = self.service.request("POST", review_path, "{", headers=dict(self.helpdesk, **{
            "Content-Type": "application/json"}))
        self.assertEqual(not_json.status, 400, not_json)
        wrong_type = self.service.request("POST", review_path, "summary=x", headers=dict(self.helpdesk, **{
            "Content-Type": "text/plain"}))
        self.assertEqual(wrong_type.status, 415, wrong_type)
        bad_item = self.service.request("POST", "/api/v1/action-items/INC-1-B1", {"status": "done"},
                                        headers=self.helpdesk)
        self.assertError(bad_item, 400, "invalid_argument", "item", "malformed item id")
        unknown_item = self.service.request("POST", "/api/v1/action-items/%s-A9" % ticket, {"status": "done"},
                                            headers=self.helpdesk)
        self.assertError(unknown_item, 404, "not_found", "item", "unknown item")
        self.assertEqual(self.service.head_seq(), head, "no refused post appends anything")

        # Hostile text that is allowed (markup, quotes) is stored as typed.
        hostile = "<script>alert('x')</script> & \"quotes\""
        self.post(review_path, {"summary": hostile, "contributing_factors": [hostile]})
        self.assertEqual(self.incident(ticket)["review"]["current"]["summary"], hostile)

    # -- action items -------------------------------------------------------

    def test_action_items_ids_updates_filters_and_overdue_first(self):
        first = self.open_incident()
        second = self.post("/api/v1/submissions", dict(CREATE, systems=["vpn"]))["ticket"]
        yesterday = (today_utc() - datetime.timedelta(days=2)).isoformat()
        later = (today_utc() + datetime.timedelta(days=30)).isoformat()
        a1 = self.post("/api/v1/incidents/%s/action-items" % first,
                       {"title": "Disk alert", "owner": "Ops@Example.org", "due": later,
                        "link": "https://tracker.example.org/1"})
        self.assertEqual(a1["item"], first + "-A1")
        self.assertEqual(a1["version"], 1)
        self.assertEqual(a1["event"]["type"], "ACTION_ITEM_ADDED")
        self.assertEqual(a1["event"]["payload"]["owner"], "ops@example.org")
        a2 = self.post("/api/v1/incidents/%s/action-items" % first,
                       {"title": "Rotate logs", "owner": "sam@example.org", "due": yesterday})
        self.assertEqual(a2["item"], first + "-A2")
        b1 = self.post("/api/v1/incidents/%s/action-items" % second,
                       {"title": "VPN failover", "owner": "ops@example.org"})
        self.assertEqual(b1["item"], second + "-A1")

        done = self.post("/api/v1/action-items/" + a1["item"].lower(), {"status": "done", "expected_version": 1})
        self.assertEqual(done["version"], 2)
        stale = self.service.request("POST", "/api/v1/action-items/" + a1["item"], {"title": "x", "expected_version": 1},
                                     headers=self.helpdesk)
        self.assertError(stale, 409, "conflict", "expected_version", "stale item version")
        dropped = self.post("/api/v1/action-items/" + b1["item"], {"status": "dropped", "note": "vendor fixed it"})
        self.assertEqual(dropped["event"]["payload"]["status"], "dropped")

        items = {item["item"]: item for item in self.incident(first)["action_items"]}
        self.assertEqual(list(items), [a1["item"], a2["item"]])
        self.assertEqual(items[a1["item"]]["status"], "done")
        self.assertIsNotNone(items[a1["item"]]["done_at"])
        self.assertTrue(items[a2["item"]]["overdue"])
        self.assertFalse(items[a1["item"]]["overdue"])

        status, _, listed = self.service.get("/api/v1/action-items", headers=self.viewer)
        self.assertEqual(status, 200, listed)
        self.assertEqual(listed["count"], 3)
        self.assertEqual(listed["items"][0]["item"], a2["item"], "overdue first")
        self.assertTrue(listed["items"][0]["overdue"])

        def listing(query):
            status, _, data = self.service.get("/api/v1/action-items?" + query, headers=self.viewer)
            self.assertEqual(status, 200, "%s: %r" % (query, data))
            return [item["item"] for item in data["items"]]

        self.assertEqual(listing("owner=OPS@example.org"), [a1["item"], b1["item"]])
        self.assertEqual(listing("status=open"), [a2["item"]])
        self.assertEqual(listing("overdue=true"), [a2["item"]])
        self.assertEqual(listing("overdue=false"), [a1["item"], b1["item"]])
        self.assertEqual(listing("system=mx"), [a2["item"], a1["item"]])
        self.assertEqual(listing("system=VPN"), [b1["item"]])
        self.assertEqual(listing("ticket=" + second.lower()), [b1["item"]])
        for bad in ("status=closed", "overdue=yes", "owner=nobody", "ticket=x", "colour=red"):
            status, _, data = self.service.get("/api/v1/action-items?" + bad, headers=self.viewer)
            self.assertEqual(status, 400, "%s: %r" % (bad, data))

        # Reopening clears done_at; everything survives a restart.
        reopened = self.post("/api/v1/action-items/" + a1["item"], {"status": "open"})
        self.assertEqual(reopened["version"], 3)
        expected = self.incident(first)
        self.assertIsNone(expected["action_items"][0]["done_at"])
        self.service.restart()
        self.assertEqual(self.incident(first)["action_items"], expected["action_items"])

    def test_overdue_follows_the_service_timezone(self):
        # A due date that has ended in UTC but not yet 14 hours west of it,
        # only while UTC is between 00:00 and 10:00 (else it cannot be told apart).
        now = datetime.datetime.now(datetime.timezone.utc)
        if now.hour >= 10:
            self.skipTest("needs UTC between 00:00 and 10:00 to separate the zones")
        yesterday = (now.date() - datetime.timedelta(days=1)).isoformat()
        for zone, overdue in (("UTC", True), ("Pacific/Honolulu", False)):
            service = self.start_service(extra_args=["--auth-file", self.auth_file, "--timezone", zone])
            ticket = service.request("POST", "/api/v1/submissions", CREATE, headers=self.helpdesk).data["ticket"]
            added = service.request("POST", "/api/v1/incidents/%s/action-items" % ticket,
                                    {"title": "t", "owner": "ops@example.org", "due": yesterday},
                                    headers=self.helpdesk)
            self.assertEqual(added.status, 201, added)
            status, _, data = service.get("/api/v1/action-items", headers=self.viewer)
            self.assertEqual(data["items"][0]["overdue"], overdue, zone)


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
