"""GET /calendar.ics against the real binary, read back with Debian's
python3-icalendar:

- one VEVENT per maintenance window (actual times once known, planned
  before; a cancelled one as STATUS:CANCELLED) and per period of an outage
  incident (full or partial; degraded ones are no outage), matching
  GET /api/v1/maintenance and the incidents
- ?system= filters, ignoring case; UIDs and DTSTAMPs stay the same from one
  fetch to the next
- the text is RFC 5545: CRLF line ends, lines of at most 75 octets, and
  hostile text (newlines, ';', ',', '\\', a CRLF followed by a property) comes
  back as the same text, never as a property of its own
- refusals name their parameter; a viewer may read it

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_calendar.py
"""

import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

service.require_modules(["icalendar"], ["python3-icalendar"])
import icalendar  # noqa: E402

HOSTILE = "Relays; a, b \\ c\r\nDTSTART:19990101T000000Z\nX-INJECTED:1 <b>é</b> " + "long " * 30


def utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)


class CalendarTest(service.ServiceTestCase):
    def setUp(self):
        self.svc = self.start_service()

    def post(self, fields):
        response = self.svc.request("POST", "/api/v1/maintenance", fields)
        self.assertStatus(response, 201, fields)
        return response.data

    def submit(self, fields):
        response = self.svc.submit(fields)
        self.assertStatus(response, 201, fields)
        return response.data

    def calendar(self, query=""):
        response = self.svc.get("/calendar.ics" + query)
        self.assertStatus(response, 200)
        self.assertEqual(response.headers.get("Content-Type"), "text/calendar; charset=utf-8")
        raw = response.raw
        # CRLF everywhere, 75 octets at most per line.
        self.assertTrue(raw.endswith(b"\r\n"))
        for line in raw.split(b"\r\n")[:-1]:
            self.assertLessEqual(len(line), 75, line)
            self.assertNotIn(b"\n", line)
            self.assertNotIn(b"\r", line)
        parsed = icalendar.Calendar.from_ical(raw)
        self.assertEqual(str(parsed["VERSION"]), "2.0")
        return raw, {str(event["UID"]): event for event in parsed.walk("VEVENT")}

    def test_windows_and_outages_as_icalendar(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
        # MNT-1: run, later than planned; MNT-2: cancelled; MNT-3: hostile text, still scheduled.
        first = self.post({"action": "schedule", "title": "Patch relays", "systems": ["Mail", "smtp"],
                           "starts_at": iso(now - datetime.timedelta(days=2)),
                           "ends_at": iso(now - datetime.timedelta(days=2) + datetime.timedelta(hours=2)),
                           "link": "https://change.example/9"})["window"]
        self.post({"action": "start", "window": first, "at": iso(now - datetime.timedelta(days=2, minutes=-20))})
        self.post({"action": "end", "window": first, "at": iso(now - datetime.timedelta(days=2, hours=-3))})
        second = self.post({"action": "schedule", "title": "DNS move", "systems": ["dns"],
                            "starts_at": iso(now + datetime.timedelta(days=1)),
                            "ends_at": iso(now + datetime.timedelta(days=1, hours=1))})["window"]
        self.post({"action": "cancel", "window": second})
        third = self.post({"action": "schedule", "title": HOSTILE.replace("\r\n", " ").replace("\n", " ")[:150],
                           "systems": ["mail"], "description": HOSTILE.replace("\r\n", "\n"),
                           "starts_at": iso(now + datetime.timedelta(days=3)),
                           "ends_at": iso(now + datetime.timedelta(days=3, hours=4))})["window"]
        # Incidents: a full one reopened (two periods), a degraded one, a partial one still open.
        full = self.submit({"action": "create", "title": "Mail down, again; \\ really", "systems": ["mail"],
                            "engineer": "Ana", "started_at": iso(now - datetime.timedelta(days=5))})["ticket"]
        self.submit({"action": "close", "ticket": full, "ended_at": iso(now - datetime.timedelta(days=5, hours=-1))})
        self.submit({"action": "reopen", "ticket": full, "started_at": iso(now - datetime.timedelta(days=4))})
        self.submit({"action": "close", "ticket": full, "ended_at": iso(now - datetime.timedelta(days=4, hours=-2))})
        degraded = self.submit({"action": "create", "title": "Slow mail", "systems": ["mail"], "engineer": "Ana",
                                "impact": "degraded", "started_at": iso(now - datetime.timedelta(days=1))})["ticket"]
        partial = self.submit({"action": "create", "title": "Some DNS", "systems": ["DNS"], "engineer": "Bo",
                               "impact": "partial", "started_at": iso(now - datetime.timedelta(hours=5))})["ticket"]

        raw, events = self.calendar()
        self.assertEqual(set(events), {first + "@incident-ledger", second + "@incident-ledger",
                                       third + "@incident-ledger", full + "-1@incident-ledger",
                                       full + "-2@incident-ledger", partial + "-1@incident-ledger"})
        self.assertNotIn(degraded.encode(), raw)
        windows = {w["window"]: w for w in self.svc.get("/api/v1/maintenance").data["windows"]}
        for name, window in windows.items():
            event = events[name + "@incident-ledger"]
            start = window["started_at"] or window["starts_at"]
            end = window["ended_at"] or window["ends_at"]
            self.assertEqual(event.decoded("DTSTART"), utc(start), name)
            self.assertEqual(event.decoded("DTEND"), utc(end), name)
            self.assertEqual(str(event["STATUS"]), "CANCELLED" if window["status"] == "cancelled" else "CONFIRMED")
            self.assertEqual(int(event["SEQUENCE"]), window["version"])
            self.assertEqual(str(event["SUMMARY"]), "Maintenance %s: %s" % (name, window["title"]))
            self.assertEqual(event.decoded("DTSTAMP"), utc(window["updated_at"]).replace(microsecond=0))
        # Hostile text: the same text back, and no property it tried to inject.
        hostile = events[third + "@incident-ledger"]
        self.assertIn(HOSTILE.replace("\r\n", "\n"), str(hostile["DESCRIPTION"]))
        self.assertNotIn("X-INJECTED", hostile)
        self.assertEqual(hostile.decoded("DTSTART"), utc(windows[third]["starts_at"]))
        self.assertNotIn(b"\r\nX-INJECTED", raw)
        self.assertNotIn(b"\r\nDTSTART:19990101", raw)
        # Outages: each period, with its times.
        incident = self.svc.get("/api/v1/incidents/" + full).data
        for number, period in enumerate(incident["periods"], start=1):
            event = events["%s-%d@incident-ledger" % (full, number)]
            self.assertEqual(event.decoded("DTSTART"), utc(period["started_at"]))
            self.assertEqual(event.decoded("DTEND"), utc(period["ended_at"]))
            self.assertEqual(str(event["SUMMARY"]), "%s outage (full): Mail down, again; \\ really" % full)
        ongoing = events[partial + "-1@incident-ledger"]
        self.assertIn("Impact: partial", str(ongoing["DESCRIPTION"]))
        self.assertGreaterEqual(ongoing.decoded("DTEND"), now - datetime.timedelta(minutes=1))

        # The same ledger, the same UIDs and stamps.
        _, again = self.calendar()
        self.assertEqual({uid: str(e["DTSTAMP"].to_ical()) for uid, e in events.items() if uid != partial + "-1@incident-ledger"},
                         {uid: str(e["DTSTAMP"].to_ical()) for uid, e in again.items() if uid != partial + "-1@incident-ledger"})
        # ?system= ignores case; dns: the cancelled window and the partial outage.
        _, dns = self.calendar("?system=DNS")
        self.assertEqual(set(dns), {second + "@incident-ledger", partial + "-1@incident-ledger"})
        _, mail = self.calendar("?system=mail&from=" + iso(now - datetime.timedelta(days=3)))
        self.assertEqual(set(mail), {first + "@incident-ledger", third + "@incident-ledger"})
        _, none = self.calendar("?system=nothing")
        self.assertEqual(none, {})

    def test_refusals_name_their_parameter(self):
        for query, field in (("?from=yesterday", "from"), ("?to=2026-13-01T00:00:00Z", "to"),
                             ("?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "to"),
                             ("?system=", "system"), ("?colour=red", "colour")):
            with self.subTest(query=query):
                response = self.svc.get("/calendar.ics" + query)
                self.assertEqual(response.status, 400, response)
                self.assertEqual(response.data["error"]["field"], field)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
