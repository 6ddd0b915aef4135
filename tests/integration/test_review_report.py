"""GET /api/v1/review-report (and `incident-ledger review-report`) against the
real binary:

- a hand-worked example: which incidents count as closed in the window,
  which are reviewed, coverage overall and for major and critical ones, the
  median time to review, the action items by state, and recurrence (the
  incidents on the same systems before the incident and after the fix)
- the same as known before the review was published (as_of)
- a seeded random history, checked against an independent calculation from
  the event log (GET /api/v1/events), not from the service's own figures
- CSV as for durations, and the command line agreeing with the API

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_review_report.py
"""

import csv
import datetime
import io
import json
import os
import random
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import ServiceTestCase, ledger_binary, require_binary_or_exit, rfc3339_micros  # noqa: E402

DAY = 86400 * 1_000_000
FROM = "2026-03-01T00:00:00Z"
TO = "2026-04-01T00:00:00Z"


def iso(micros):
    return datetime.datetime.fromtimestamp(micros / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def day_end_utc(due):
    day = datetime.date.fromisoformat(due) + datetime.timedelta(days=1)
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp()) * 1_000_000


class ReportTest(ServiceTestCase):

    def post(self, path, body):
        response = self.service.request("POST", path, body)
        self.assertStatus(response, 201, "POST %s %r" % (path, body))
        return response.data

    def create(self, systems, started, severity="minor", ended=None):
        ticket = self.post("/api/v1/submissions", {"action": "create", "title": "t", "systems": systems,
                                                   "engineer": "e", "severity": severity,
                                                   "started_at": started})["ticket"]
        if ended is not None:
            self.post("/api/v1/submissions", {"action": "close", "ticket": ticket, "ended_at": ended})
        return ticket

    def report(self, query):
        status, _, data = self.service.get("/api/v1/review-report?" + query)
        self.assertEqual(status, 200, "%s: %r" % (query, data))
        return data

    def test_hand_worked_example_as_of_csv_and_command_line(self):
        self.service = self.start_service()
        far_future = (datetime.date.today() + datetime.timedelta(days=400)).isoformat()
        future_start = iso(int(time.time() * 1e6) + 2 * DAY)
        old = self.create(["mail"], "2026-01-01T00:00:00Z", ended="2026-01-01T01:00:00Z")        # D: too early
        before = self.create(["MAIL", "web"], "2026-02-15T00:00:00Z", "critical",
                             ended="2026-02-15T03:00:00Z")                                         # C: before A
        a = self.create(["mail"], "2026-03-01T00:00:00Z", "major", ended="2026-03-01T02:00:00Z")  # A
        b = self.create(["dns"], "2026-03-02T00:00:00Z", ended="2026-03-02T01:00:00Z")             # B
        g = self.create(["mail"], "2026-03-09T00:00:00Z", "critical", ended="2026-03-10T00:00:00Z")  # G
        outside = self.create(["mail"], "2026-03-20T00:00:00Z", ended="2026-04-01T00:00:00Z")     # ends at `to`
        self.post("/api/v1/incidents/%s/review" % g, {"summary": "draft only"})
        a1 = self.post("/api/v1/incidents/%s/action-items" % a,
                       {"title": "alert", "owner": "o@example.org", "due": far_future})["item"]
        a2 = self.post("/api/v1/incidents/%s/action-items" % a,
                       {"title": "rotate", "owner": "o@example.org", "due": "2026-03-05"})["item"]
        a3 = self.post("/api/v1/incidents/%s/action-items" % a,
                       {"title": "rewrite", "owner": "o@example.org"})["item"]
        as_of_before = self.service.head_seq()
        status, _, head = self.service.get("/api/v1/events?after=%d&limit=1" % (as_of_before - 1))
        before_time = head["events"][0]["recorded_at"]
        time.sleep(0.01)
        published = self.post("/api/v1/incidents/%s/review" % a,
                              {"summary": "s", "root_cause": "r", "publish": True})
        self.post("/api/v1/action-items/" + a1, {"status": "done"})
        self.post("/api/v1/action-items/" + a3, {"status": "dropped", "note": "not worth it"})
        after = self.create(["Mail"], future_start)                                                # F: after the fix
        self.create(["dns"], future_start)                                                         # E: other system

        report = self.report("from=%s&to=%s&days=30" % (FROM, TO))
        seconds = (rfc3339_micros(published["event"]["recorded_at"]) - rfc3339_micros("2026-03-01T02:00:00Z")) \
            // 1_000_000
        self.assertEqual(report["closed"], 3)
        self.assertEqual(report["closed_tickets"], [a, b, g])
        self.assertEqual(report["reviewed"], 1)
        self.assertEqual(report["reviewed_tickets"], [a])
        self.assertAlmostEqual(report["review_coverage"], 1 / 3)
        self.assertEqual(report["median_seconds_to_review"], seconds)
        self.assertEqual(report["median_tickets"], [a])
        severe = report["major_and_critical"]
        self.assertEqual((severe["closed"], severe["reviewed"], severe["review_coverage"]), (2, 1, 0.5))
        self.assertEqual((severe["closed_tickets"], severe["reviewed_tickets"]), ([a, g], [a]))
        items = report["action_items"]
        self.assertEqual({key: items[key] for key in ("open", "overdue", "done", "done_on_time", "dropped")},
                         {"open": 1, "overdue": 1, "done": 1, "done_on_time": 1, "dropped": 1})
        self.assertEqual((items["open_items"], items["overdue_items"], items["done_items"], items["dropped_items"]),
                         ([a2], [a2], [a1], [a3]))
        self.assertEqual(len(report["recurrence"]), 1)
        recurrence = report["recurrence"][0]
        self.assertEqual((recurrence["item"], recurrence["ticket"], recurrence["systems"]), (a1, a, ["mail"]))
        self.assertEqual((recurrence["incidents_before"], recurrence["tickets_before"]), (1, [before]))
        self.assertEqual((recurrence["incidents_after"], recurrence["tickets_after"]), (1, [after]))
        self.assertNotIn(old, recurrence["tickets_before"])
        self.assertNotIn(outside, report["closed_tickets"])
        # With days=60 the January incident is in (60 days before 03-01 is 12-31).
        wide = self.report("from=%s&to=%s&days=60" % (FROM, TO))
        self.assertEqual(wide["recurrence"][0]["tickets_before"], [old, before])

        # As known before the publication: nothing reviewed, nothing done.
        then = self.report("from=%s&to=%s&days=30&as_of=%s" % (FROM, TO, before_time))
        self.assertEqual(then["as_of"], before_time)
        self.assertEqual((then["reviewed"], then["median_seconds_to_review"]), (0, None))
        self.assertEqual((then["action_items"]["open"], then["action_items"]["done"], then["recurrence"]), (3, 0, []))

        # CSV, one list at a time, as durations writes it.
        status, headers, text = self.service.get("/api/v1/review-report?from=%s&to=%s&format=csv&by=incident"
                                                 % (FROM, TO))
        self.assertEqual(status, 200, text)
        self.assertTrue(headers["Content-Type"].startswith("text/csv"))
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], ["ticket", "severity", "closed_at", "reviewed", "published_at", "seconds_to_review"])
        self.assertEqual([row[0] for row in rows[1:]], [a, b, g])
        self.assertEqual(rows[1][3:], ["true", published["event"]["recorded_at"], str(seconds)])
        status, _, text = self.service.get("/api/v1/review-report?from=%s&to=%s&format=csv&by=recurrence&days=30"
                                           % (FROM, TO))
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[1][4:], ["1", "1", before, after])
        for bad in ("format=csv", "by=system", "days=0", "days=4000", "from=yesterday", "to=%s&from=%s" % (FROM, TO)):
            status, _, data = self.service.get("/api/v1/review-report?" + bad)
            self.assertEqual(status, 400, "%s: %r" % (bad, data))

        # The command line reads the same log (read-only, beside the service).
        done = subprocess.run([ledger_binary(), "review-report", "--data", self.service.data_dir, "--from", FROM,
                               "--to", TO, "--days", "30"], capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        offline = json.loads(done.stdout)
        self.assertEqual((offline["head_seq"], offline["head_hash"]), (report["head_seq"], report["head_hash"]))
        self.assertEqual(headers.get("X-Ledger-Head"), "seq=%d; hash=%s" % (report["head_seq"], report["head_hash"]))
        for key in ("closed_tickets", "reviewed_tickets", "median_seconds_to_review", "action_items", "recurrence",
                    "major_and_critical"):
            self.assertEqual(offline[key], report[key], key)

    def test_seeded_random_history_matches_an_independent_calculation(self):
        seed = int(os.environ.get("LEDGER_TEST_SEED", random.randrange(1 << 30)))
        sys.stderr.write("review report seed: %d (LEDGER_TEST_SEED=%d reproduces it)\n" % (seed, seed))
        rng = random.Random(seed)
        self.service = self.start_service()
        systems = ["mail", "Mail", "dns", "vpn", "web"]
        base = rfc3339_micros("2026-02-01T00:00:00Z")
        now_micros = int(time.time() * 1e6)
        tickets = []
        for _ in range(30):
            start = base + rng.randrange(0, 90) * DAY + rng.randrange(0, DAY)
            if rng.random() < 0.1:
                start = now_micros + rng.randrange(1, 20) * DAY  # after any fix made now
            chosen = rng.sample(systems, rng.randrange(1, 3))
            severity = rng.choice(["minor", "major", "critical"])
            ended = None
            if start < now_micros and rng.random() < 0.8:
                ended = iso(start + rng.randrange(1, 5 * DAY))
            tickets.append(self.create(chosen, iso(start), severity, ended))
        items = []
        for ticket in tickets:
            roll = rng.random()
            if roll < 0.3:
                self.post("/api/v1/incidents/%s/review" % ticket, {"summary": "s", "root_cause": "r"})
            status, _, state = self.service.get("/api/v1/incidents/" + ticket)
            if state["status"] == "closed" and roll < 0.6:
                self.post("/api/v1/incidents/%s/review" % ticket, {"summary": "s", "root_cause": "r", "publish": True})
            for _ in range(rng.randrange(0, 3)):
                due = rng.choice(["", "2026-02-20", "2026-03-15", (datetime.date.today()
                                                                   + datetime.timedelta(days=300)).isoformat()])
                body = {"title": "x", "owner": "o@example.org"}
                if due:
                    body["due"] = due
                items.append(self.post("/api/v1/incidents/%s/action-items" % ticket, body)["item"])
        for item in items:
            roll = rng.random()
            if roll < 0.4:
                self.post("/api/v1/action-items/" + item, {"status": "done"})
            elif roll < 0.55:
                self.post("/api/v1/action-items/" + item, {"status": "dropped", "note": "n"})
            if rng.random() < 0.1:
                self.post("/api/v1/action-items/" + item, {"status": "open"})
        # More incidents after the fixes: recurrence has something to find.
        for _ in range(5):
            self.create(rng.sample(systems, 1), iso(int(time.time() * 1e6) + rng.randrange(1, 30) * DAY))

        for days in (7, 30, 90):
            for window in ((FROM, TO), ("2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z")):
                query = "from=%s&to=%s&days=%d" % (window[0], window[1], days)
                got = self.report(query)
                events = self.service.all_events()
                # The head it was computed at names the last event.
                self.assertEqual((got["head_seq"], got["head_hash"]), (events[-1]["seq"], events[-1]["hash"]))
                expected = independent_report(events, rfc3339_micros(window[0]),
                                              rfc3339_micros(window[1]), days, rfc3339_micros(got["computed_for"]))
                for key, value in expected.items():
                    if key == "review_coverage" or key == "major_coverage":
                        actual = got["review_coverage"] if key == "review_coverage" else \
                            got["major_and_critical"]["review_coverage"]
                        if value is None:
                            self.assertIsNone(actual, "%s %s (seed %d)" % (query, key, seed))
                        else:
                            self.assertAlmostEqual(actual, value, msg="%s %s (seed %d)" % (query, key, seed))
                        continue
                    actual = got
                    for part in key.split("."):
                        actual = actual[part]
                    if key == "recurrence":
                        for row in actual:
                            self.assertEqual(row["incidents_before"], len(row["tickets_before"]))
                            self.assertEqual(row["incidents_after"], len(row["tickets_after"]))
                        actual = [{name: row[name] for name in ("item", "ticket", "systems", "tickets_before",
                                                                 "tickets_after")} for row in actual]
                    self.assertEqual(actual, value, "%s %s (seed %d)" % (query, key, seed))


def independent_report(events, from_micros, to_micros, days, now_micros):
    """The report's definitions (projections/review_report.h), computed from the raw events."""
    tickets = {}
    first_published = {}
    items = {}
    for event in events:
        kind = event["type"]
        payload = event["payload"]
        recorded = rfc3339_micros(event["recorded_at"])
        ticket = event["ticket"]
        if kind == "INCIDENT_OPENED":
            start = rfc3339_micros(payload["started_at"]) if "started_at" in payload else recorded
            tickets[ticket] = {"status": "open", "severity": payload.get("severity", "minor"),
                               "systems": payload["systems"], "periods": [[start, None]],
                               "number": int(ticket.split("-")[1])}
        elif kind in ("INCIDENT_UPDATED", "INCIDENT_CLOSED", "INCIDENT_REOPENED"):
            state = tickets[ticket]
            if "systems" in payload:
                state["systems"] = payload["systems"]
            if "severity" in payload:
                state["severity"] = payload["severity"]
            if kind == "INCIDENT_CLOSED":
                state["status"] = "closed"
                state["periods"][-1][1] = rfc3339_micros(payload["ended_at"]) if "ended_at" in payload else recorded
                if "started_at" in payload:
                    state["periods"][-1][0] = rfc3339_micros(payload["started_at"])
            elif kind == "INCIDENT_REOPENED":
                state["status"] = "open"
                start = rfc3339_micros(payload["started_at"]) if "started_at" in payload else recorded
                state["periods"].append([start, None])
            else:
                if "started_at" in payload:
                    state["periods"][-1][0] = rfc3339_micros(payload["started_at"])
                if "ended_at" in payload and state["periods"][-1][1] is not None:
                    state["periods"][-1][1] = rfc3339_micros(payload["ended_at"])
        elif kind == "REVIEW_PUBLISHED":
            first_published.setdefault(ticket, recorded)
        elif kind == "ACTION_ITEM_ADDED":
            items[payload["item"]] = {"ticket": ticket, "status": "open", "due": payload.get("due", ""),
                                      "done_at": None, "number": int(payload["item"].rsplit("-A", 1)[1])}
        elif kind == "ACTION_ITEM_UPDATED":
            item = items[payload["item"]]
            if "due" in payload:
                item["due"] = payload["due"]
            if "status" in payload:
                if payload["status"] == "done":
                    if item["status"] != "done":
                        item["done_at"] = recorded
                else:
                    item["done_at"] = None
                item["status"] = payload["status"]

    def order(names):
        return sorted(names, key=lambda name: tickets[name]["number"])

    closed = order(name for name, state in tickets.items()
                   if state["status"] == "closed" and from_micros <= state["periods"][-1][1] < to_micros)
    reviewed = [name for name in closed if name in first_published]
    severe = [name for name in closed if tickets[name]["severity"] in ("major", "critical")]
    severe_reviewed = [name for name in severe if name in first_published]
    seconds = sorted(max(0, first_published[name] - tickets[name]["periods"][-1][1]) // 1_000_000
                     for name in reviewed)
    median = None
    if seconds:
        middle = len(seconds) // 2
        median = seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) // 2
    figures = {"open_items": [], "overdue_items": [], "done_items": [], "done_on_time_items": [],
               "dropped_items": []}
    recurrence = []
    for name in closed:
        mine = sorted((item_id for item_id, item in items.items() if item["ticket"] == name),
                      key=lambda item_id: items[item_id]["number"])
        for item_id in mine:
            item = items[item_id]
            if item["status"] == "open":
                figures["open_items"].append(item_id)
                if item["due"] and now_micros >= day_end_utc(item["due"]):
                    figures["overdue_items"].append(item_id)
            elif item["status"] == "dropped":
                figures["dropped_items"].append(item_id)
            else:
                figures["done_items"].append(item_id)
                if not item["due"] or item["done_at"] < day_end_utc(item["due"]):
                    figures["done_on_time_items"].append(item_id)
                folded = {system.lower() for system in tickets[name]["systems"]}
                start = tickets[name]["periods"][0][0]
                done = item["done_at"]

                def started(low, high):
                    return order(other for other, state in tickets.items()
                                 if other != name and low <= state["periods"][0][0] <= high
                                 and folded & {system.lower() for system in state["systems"]})

                recurrence.append({"item": item_id, "ticket": name, "systems": tickets[name]["systems"],
                                   "tickets_before": started(start - days * DAY, start - 1),
                                   "tickets_after": started(done + 1, done + days * DAY)})
    expected = {
        "closed_tickets": closed,
        "reviewed_tickets": reviewed,
        "closed": len(closed),
        "reviewed": len(reviewed),
        "review_coverage": len(reviewed) / len(closed) if closed else None,
        "major_coverage": len(severe_reviewed) / len(severe) if severe else None,
        "major_and_critical.closed_tickets": severe,
        "major_and_critical.reviewed_tickets": severe_reviewed,
        "median_seconds_to_review": median,
    }
    for key, value in figures.items():
        expected["action_items." + key] = value
        expected["action_items." + key.replace("_items", "")] = len(value)
    expected["recurrence"] = recurrence
    return expected


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
