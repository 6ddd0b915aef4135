"""GET /api/v1/durations/changes: the restatement report, against a
hand-worked example on the real binary.

Two incidents in January 2026, known at `before`:
  INC-1 on db   10:00-12:00 on 1 January  -> 7,200 s
  INC-2 on web  00:00-00:30 on 2 January  -> 1,800 s;  MTTR (7,200 + 1,800) / 2 = 4,500 s
Then, before `after`: INC-1's start is corrected to 09:00 (-> 10,800 s, db's
downtime 10,800 s, MTTR (10,800 + 1,800) / 2 = 6,300 s), and INC-2's title is
changed (no figure changes). So the report lists INC-1, db and MTTR, each
with the correcting event (MTTR also with the title change of INC-2, an
incident it averages), and neither INC-2 nor web.

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_durations_changes.py
"""

import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

WINDOW = "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"


def micros_after(text):
    """An RFC 3339 time one microsecond after `text` (the server's recorded_at)."""
    return service.rfc3339_micros(text) + 1


def format_micros(micros):
    seconds, fraction = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%06dZ" % fraction


class DurationChangesTest(service.ServiceTestCase):
    def test_hand_worked_restatement(self):
        svc = self.start_service()

        def submit(fields):
            answer = svc.submit(fields)
            self.assertStatus(answer, 201, repr(fields))
            return answer.data

        first = submit({"action": "create", "title": "Database down", "systems": ["db"],
                        "engineer": "ana", "started_at": "2026-01-01T10:00:00Z"})
        submit({"action": "close", "ticket": first["ticket"], "ended_at": "2026-01-01T12:00:00Z"})
        second = submit({"action": "create", "title": "Web slow", "systems": ["web"],
                         "engineer": "ben", "started_at": "2026-01-02T00:00:00Z"})
        known = submit({"action": "close", "ticket": second["ticket"], "ended_at": "2026-01-02T00:30:00Z"})
        before = format_micros(micros_after(known["event"]["recorded_at"]))
        time.sleep(0.01)
        corrected = submit({"action": "update", "ticket": first["ticket"], "started_at": "2026-01-01T09:00:00Z"})
        renamed = submit({"action": "update", "ticket": second["ticket"], "title": "Web slow (CDN)"})
        after = format_micros(micros_after(renamed["event"]["recorded_at"]))

        # What each event set, as the log says (the expected old and new values).
        opened = svc.get("/api/v1/incidents/%s/events" % first["ticket"]).data["events"][0]["payload"]
        opened_second = svc.get("/api/v1/incidents/%s/events" % second["ticket"]).data["events"][0]["payload"]
        corrected_event = corrected["event"]
        renamed_event = renamed["event"]

        path = "/api/v1/durations/changes?%s&before=%s&after=%s" % (
            WINDOW, urllib.parse.quote(before), urllib.parse.quote(after))
        answer = svc.get(path)
        self.assertStatus(answer, 200, path)
        report = answer.data

        correction = {"seq": corrected["seq"], "recorded_at": corrected_event["recorded_at"],
                      "actor": corrected_event["actor"], "type": "INCIDENT_UPDATED", "ticket": first["ticket"],
                      "changes": [{"field": "started_at", "old": opened["started_at"],
                                   "new": corrected_event["payload"]["started_at"]}]}
        rename = {"seq": renamed["seq"], "recorded_at": renamed_event["recorded_at"],
                  "actor": renamed_event["actor"], "type": "INCIDENT_UPDATED", "ticket": second["ticket"],
                  "changes": [{"field": "title", "old": opened_second["title"], "new": "Web slow (CDN)"}]}
        self.assertEqual(report["incidents"], [
            {"ticket": first["ticket"], "before": {"seconds": 7200, "ongoing": False},
             "after": {"seconds": 10800, "ongoing": False}, "events": [correction]}])
        self.assertEqual(len(report["systems"]), 1, report["systems"])
        db = report["systems"][0]
        self.assertEqual(db["system"], "db")
        self.assertEqual(db["before"]["downtime_seconds"], 7200)
        self.assertEqual(db["after"]["downtime_seconds"], 10800)
        self.assertEqual(db["events"], [correction])
        self.assertEqual(report["mttr"], {
            "before": {"mttr_seconds": 4500, "tickets": [first["ticket"], second["ticket"]]},
            "after": {"mttr_seconds": 6300, "tickets": [first["ticket"], second["ticket"]]},
            "events": [correction, rename]})
        self.assertEqual(report["head_seq"], renamed["seq"])
        self.assertEqual(report["head_hash"], renamed_event["hash"])

        # The same knowledge time twice: nothing differs.
        same = svc.get("/api/v1/durations/changes?%s&before=%s&after=%s" % (
            WINDOW, urllib.parse.quote(after), urllib.parse.quote(after))).data
        self.assertEqual((same["incidents"], same["systems"], same["mttr"]), ([], [], None))

        for query, field in (("%s&after=%s" % (WINDOW, urllib.parse.quote(after)), "before"),
                             ("%s&before=%s&after=%s" % (WINDOW, urllib.parse.quote(after), urllib.parse.quote(before)),
                              "before"),
                             ("%s&before=yesterday" % WINDOW, "before"),
                             ("%s&before=%s&extra=1" % (WINDOW, urllib.parse.quote(before)), "extra")):
            refused = svc.get("/api/v1/durations/changes?" + query)
            self.assertEqual(refused.status, 400, query)
            self.assertEqual(refused.data["error"]["field"], field, query)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
