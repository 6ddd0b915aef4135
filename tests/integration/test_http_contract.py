"""The HTTP contract of DESIGN.md, end to end against the real binary.

Run: LEDGER_BINARY=path/to/incident-ledger python3 tests/integration/test_http_contract.py
"""

import http.client
import json
import os
import re
import socket
import sys
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import service  # noqa: E402
from service import ZERO_HASH, ServiceTestCase  # noqa: E402

SUBMISSIONS = "/api/v1/submissions"
EVENT_KEYS = {"seq", "recorded_at", "submission_id", "actor", "ticket", "type", "version", "payload",
              "request_digest", "prev_hash", "hash", "record"}
INCIDENT_KEYS = {"ticket", "status", "title", "description", "systems", "engineer", "severity", "impact", "phase",
                 "started_at", "ended_at", "link", "version", "opened_seq", "last_seq", "periods", "visibility"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# The second stage's follow-through (README, "Reviews and action items"):
# the dashboard's marks in every incident's JSON, and the review and items in
# GET /api/v1/incidents/{t}.
LIST_MARK_KEYS = {"reviewed", "open_action_items"}
FOLLOW_UP_KEYS = LIST_MARK_KEYS | {"review", "action_items"}

# A window in the past, well outside the service's default "last 7 days".
JAN = "2025-01-%02dT00:00:00Z"


def create_fields(**overrides):
    fields = {"action": "create", "title": "Database outage", "systems": ["db"], "engineer": "Ada"}
    fields.update(overrides)
    return fields


class ContractTestCase(ServiceTestCase):
    def setUp(self):
        self.svc = self.start_service()

    def submit_ok(self, fields, form=False, status=201):
        response = self.svc.submit(fields, form=form)
        self.assertStatus(response, status, "submission %r" % (fields,))
        self.assertIsNone(response.json_error, response.raw)
        return response.data

    def incident(self, ticket, query=""):
        status, _, data = self.svc.get("/api/v1/incidents/%s%s" % (ticket, query))
        self.assertEqual(status, 200, data)
        return data

    def listing(self, query):
        status, _, data = self.svc.get("/api/v1/incidents?" + query)
        self.assertEqual(status, 200, "%s: %r" % (query, data))
        self.assertEqual(data["count"], len(data["incidents"]))
        return data

    def tickets_of(self, data):
        return [incident["ticket"] for incident in data["incidents"]]


class SubmissionTest(ContractTestCase):
    def test_create_json_answers_201_and_reads_back_every_field(self):
        fields = create_fields(title="Checkout database down", description="Primary lost quorum.\nFailover stuck.",
                               systems=["db", "checkout-api"], engineer="Ada Lovelace", severity="major",
                               started_at="2026-03-01T09:30:00+02:00", link="https://tickets.example/1",
                               submission_id="create-1", actor="helpdesk-7")
        status, headers, body = self.svc.submit(fields)
        self.assertEqual(status, 201, body)
        self.assertEqual(set(body), {"ticket", "seq", "version", "event"})
        self.assertEqual(body["ticket"], "INC-1")
        self.assertEqual(body["seq"], 1)
        self.assertEqual(body["version"], 1)
        self.assertEqual(headers.get("Location"), "/api/v1/incidents/INC-1")
        self.assertIsNone(headers.get("Idempotent-Replay"))
        event = body["event"]
        self.assertEqual(set(event), EVENT_KEYS)
        self.assertEqual(event["seq"], 1)
        self.assertEqual(event["ticket"], "INC-1")
        self.assertEqual(event["type"], "INCIDENT_OPENED")
        self.assertEqual(event["version"], 1)
        self.assertEqual(event["submission_id"], "create-1")
        self.assertEqual(event["actor"], "helpdesk-7")
        self.assertEqual(event["prev_hash"], ZERO_HASH)
        self.assertRegex(event["hash"], HEX64)
        self.assertEqual(event["payload"], {
            "title": "Checkout database down", "description": "Primary lost quorum.\nFailover stuck.",
            "systems": ["db", "checkout-api"], "engineer": "Ada Lovelace", "severity": "major",
            "started_at": "2026-03-01T09:30:00+02:00", "link": "https://tickets.example/1"})
        service.verify_chain([event])

        incident = self.incident("INC-1")
        self.assertEqual(set(incident) - {"note", "opened_at", "updated_at"}, INCIDENT_KEYS | FOLLOW_UP_KEYS)
        self.assertEqual(incident["ticket"], "INC-1")
        self.assertEqual(incident["status"], "open")
        self.assertEqual(incident["title"], "Checkout database down")
        self.assertEqual(incident["description"], "Primary lost quorum.\nFailover stuck.")
        self.assertEqual(incident["systems"], ["db", "checkout-api"])
        self.assertEqual(incident["engineer"], "Ada Lovelace")
        self.assertEqual(incident["severity"], "major")
        # The offset the submitter used is kept.
        self.assertEqual(incident["started_at"], "2026-03-01T09:30:00+02:00")
        self.assertIsNone(incident["ended_at"])
        self.assertEqual(incident["link"], "https://tickets.example/1")
        self.assertEqual(incident["version"], 1)
        self.assertEqual(incident["opened_seq"], 1)
        self.assertEqual(incident["last_seq"], 1)
        self.assertEqual(incident["periods"], [{"started_at": "2026-03-01T09:30:00+02:00", "ended_at": None}])

    def test_create_defaults(self):
        body = self.submit_ok(create_fields())
        recorded_at = body["event"]["recorded_at"]
        self.assertEqual(body["event"]["actor"], "anonymous")
        self.assertEqual(body["event"]["submission_id"], "")
        incident = self.incident(body["ticket"])
        self.assertEqual(incident["severity"], "minor")
        self.assertEqual(incident["description"], "")
        self.assertEqual(incident["link"], "")
        # No started_at: the outage starts at the recorded time.
        self.assertEqual(incident["started_at"], recorded_at)
        self.assertEqual(incident["periods"], [{"started_at": recorded_at, "ended_at": None}])

    def test_impact_and_phase_through_json_form_page_and_close(self):
        body = self.submit_ok(create_fields())
        incident = self.incident(body["ticket"])
        self.assertEqual((incident["impact"], incident["phase"]), ("full", "investigating"))
        ticket = body["ticket"]
        updated = self.submit_ok({"action": "update", "ticket": ticket, "impact": "Degraded", "phase": "identified"})
        self.assertEqual(updated["event"]["payload"], {"impact": "degraded", "phase": "identified"})
        response = self.svc.submit({"action": "update", "ticket": ticket, "impact": "total"})
        self.assertError(response, 400, "invalid_argument", "impact")
        self.assertIn("full, partial, degraded", response.data["error"]["message"])
        response = self.svc.submit({"action": "update", "ticket": ticket, "phase": "resolved"}, form=True)
        self.assertError(response, 400, "invalid_argument", "phase")
        self.assertIn("investigating, identified, monitoring", response.data["error"]["message"])
        response = self.svc.submit({"action": "close", "ticket": ticket, "phase": "monitoring"})
        self.assertError(response, 400, "invalid_argument", "phase")
        self.submit_ok({"action": "close", "ticket": ticket})
        incident = self.incident(ticket)
        self.assertEqual((incident["impact"], incident["phase"]), ("degraded", "resolved"))
        response = self.svc.submit({"action": "update", "ticket": ticket, "phase": "monitoring"})
        self.assertError(response, 400, "invalid_argument", "phase")
        self.assertEqual(self.incident(ticket)["version"], 3)
        page = self.svc.get("/incidents/" + ticket)
        self.assertStatus(page, 200)
        self.assertIn('class="badge impact-degraded"', page.data)
        self.assertIn('class="badge phase-resolved"', page.data)
        form = self.svc.get("/submit")
        for option in ("full", "partial", "degraded", "investigating", "identified", "monitoring"):
            self.assertIn('<option value="%s">' % option, form.data)

    def test_create_form_urlencoded_with_comma_separated_systems(self):
        fields = {"action": "create", "title": "  Mail delayed  ", "systems": "mail, smtp-relay ,,mail,dns",
                  "engineer": "Grace", "severity": "CRITICAL", "started_at": "2026-02-03T04:05:06.5-05:00",
                  "description": "", "link": "", "note": "first look"}
        response = self.svc.submit(fields, form=True)
        self.assertStatus(response, 201)
        incident = self.incident(response.data["ticket"])
        self.assertEqual(incident["title"], "Mail delayed")
        # Split on commas, trimmed, blanks and repeats dropped, order kept.
        self.assertEqual(incident["systems"], ["mail", "smtp-relay", "dns"])
        self.assertEqual(incident["engineer"], "Grace")
        self.assertEqual(incident["severity"], "critical")
        self.assertEqual(incident["started_at"], "2026-02-03T04:05:06.500000-05:00")
        # A blank form input means "not given".
        self.assertEqual(incident["description"], "")
        self.assertEqual(incident["link"], "")
        self.assertNotIn("description", response.data["event"]["payload"])
        self.assertNotIn("link", response.data["event"]["payload"])

    def test_json_systems_may_be_a_comma_separated_string(self):
        body = self.submit_ok(create_fields(systems="api, web"))
        self.assertEqual(self.incident(body["ticket"])["systems"], ["api", "web"])

    def test_lifecycle_update_close_correct_reopen(self):
        created = self.submit_ok(create_fields(started_at="2026-05-01T10:00:00Z", severity="minor"))
        ticket = created["ticket"]

        updated = self.submit_ok({"action": "update", "ticket": ticket, "title": "DB and cache outage",
                                  "systems": ["db", "cache"], "severity": "critical", "note": "cache too"})
        self.assertEqual((updated["ticket"], updated["seq"], updated["version"]), (ticket, 2, 2))
        self.assertEqual(updated["event"]["type"], "INCIDENT_UPDATED")
        # An update carries only the fields it changes.
        self.assertEqual(updated["event"]["payload"], {"title": "DB and cache outage", "systems": ["db", "cache"],
                                                       "severity": "critical", "note": "cache too"})
        incident = self.incident(ticket)
        self.assertEqual(incident["title"], "DB and cache outage")
        self.assertEqual(incident["systems"], ["db", "cache"])
        self.assertEqual(incident["severity"], "critical")
        self.assertEqual(incident["engineer"], "Ada")
        self.assertEqual(incident["started_at"], "2026-05-01T10:00:00Z")
        self.assertEqual((incident["version"], incident["opened_seq"], incident["last_seq"]), (2, 1, 2))

        # The ticket may be written loosely; it is normalized.
        closed = self.submit_ok({"action": "close", "ticket": " inc-1 ", "ended_at": "2026-05-01T14:30:00+02:00"})
        self.assertEqual((closed["ticket"], closed["seq"], closed["version"]), ("INC-1", 3, 3))
        self.assertEqual(closed["event"]["type"], "INCIDENT_CLOSED")
        incident = self.incident(ticket)
        self.assertEqual(incident["status"], "closed")
        self.assertEqual(incident["ended_at"], "2026-05-01T14:30:00+02:00")
        self.assertEqual(incident["periods"], [{"started_at": "2026-05-01T10:00:00Z",
                                                "ended_at": "2026-05-01T14:30:00+02:00"}])

        # After close an update may correct the latest period's times.
        self.submit_ok({"action": "update", "ticket": "1", "ended_at": "2026-05-01T13:00:00Z",
                        "started_at": "2026-05-01T09:45:00Z"})
        incident = self.incident(ticket)
        self.assertEqual(incident["status"], "closed")
        self.assertEqual(incident["periods"], [{"started_at": "2026-05-01T09:45:00Z",
                                                "ended_at": "2026-05-01T13:00:00Z"}])
        self.assertEqual((incident["version"], incident["last_seq"]), (4, 4))

        reopened = self.submit_ok({"action": "reopen", "ticket": ticket, "started_at": "2026-05-02T08:00:00Z",
                                   "note": "back again"})
        self.assertEqual((reopened["seq"], reopened["version"]), (5, 5))
        self.assertEqual(reopened["event"]["type"], "INCIDENT_REOPENED")
        incident = self.incident(ticket)
        self.assertEqual(incident["status"], "open")
        self.assertEqual(incident["started_at"], "2026-05-02T08:00:00Z")
        self.assertIsNone(incident["ended_at"])
        self.assertEqual(incident["periods"], [
            {"started_at": "2026-05-01T09:45:00Z", "ended_at": "2026-05-01T13:00:00Z"},
            {"started_at": "2026-05-02T08:00:00Z", "ended_at": None}])

        # Close without ended_at: the outage ends at the recorded time.
        final = self.submit_ok({"action": "close", "ticket": ticket})
        incident = self.incident(ticket)
        self.assertEqual(incident["status"], "closed")
        self.assertEqual(incident["ended_at"], final["event"]["recorded_at"])
        self.assertEqual(incident["periods"][-1]["ended_at"], final["event"]["recorded_at"])
        self.assertEqual((incident["version"], incident["opened_seq"], incident["last_seq"]), (6, 1, 6))

        status, _, events = self.svc.get("/api/v1/incidents/%s/events" % ticket)
        self.assertEqual(status, 200)
        self.assertEqual(events["ticket"], ticket)
        self.assertEqual([(e["seq"], e["version"], e["type"]) for e in events["events"]], [
            (1, 1, "INCIDENT_OPENED"), (2, 2, "INCIDENT_UPDATED"), (3, 3, "INCIDENT_CLOSED"),
            (4, 4, "INCIDENT_UPDATED"), (5, 5, "INCIDENT_REOPENED"), (6, 6, "INCIDENT_CLOSED")])
        service.verify_chain(events["events"])


class IncidentEventsTest(ContractTestCase):
    def test_milestones_are_kept_corrected_and_shown(self):
        # detected_at, acknowledged_at and mitigated_at: each the latest value
        # given, by JSON or by the form, shown in the ticket JSON and page.
        created = self.submit_ok(create_fields(detected_at="2026-06-01T08:50:00+02:00",
                                               started_at="2026-06-01T09:00:00+02:00"))
        ticket = created["ticket"]
        self.assertEqual(created["event"]["payload"]["detected_at"], "2026-06-01T08:50:00+02:00")
        incident = self.incident(ticket)
        self.assertEqual(incident["detected_at"], "2026-06-01T08:50:00+02:00")
        self.assertNotIn("acknowledged_at", incident)
        self.assertNotIn("mitigated_at", incident)

        # An update carrying only a milestone is an update.
        self.submit_ok({"action": "update", "ticket": ticket, "acknowledged_at": "2026-06-01T09:05:00+02:00"})
        self.submit_ok({"action": "update", "ticket": ticket, "mitigated_at": "2026-06-01T07:40:00Z",
                        "detected_at": "2026-06-01T06:45:00Z"}, form=True)
        incident = self.incident(ticket)
        self.assertEqual(incident["detected_at"], "2026-06-01T06:45:00Z")
        self.assertEqual(incident["acknowledged_at"], "2026-06-01T09:05:00+02:00")
        self.assertEqual(incident["mitigated_at"], "2026-06-01T07:40:00Z")
        self.assertEqual(incident["version"], 3)
        # As known after the first update, the later corrections are not there.
        earlier = self.incident(ticket, "?as_of_seq=%d" % (incident["last_seq"] - 1))
        self.assertEqual(earlier["detected_at"], "2026-06-01T08:50:00+02:00")
        self.assertNotIn("mitigated_at", earlier)

        status, _, page = self.svc.get("/incidents/" + ticket)
        self.assertEqual(status, 200)
        html = page.decode() if isinstance(page, bytes) else str(page)
        self.assertRegex(html, r'<dt>Detected</dt><dd data-field="detected_at">.*2026-06-01')
        self.assertIn('data-field="acknowledged_at"', html)
        self.assertIn('data-field="mitigated_at"', html)

        head = self.svc.head_seq()
        response = self.svc.submit({"action": "update", "ticket": ticket, "acknowledged_at": "yesterday"})
        self.assertError(response, 400, "invalid_argument", "acknowledged_at", "a milestone that is no time")
        self.assertEqual(self.svc.head_seq(), head)

    def test_events_of_one_ticket_in_order_and_only_that_ticket(self):
        for number in range(1, 12):
            self.submit_ok(create_fields(title="incident %d" % number))
        self.submit_ok({"action": "update", "ticket": "INC-10", "note": "ten"})
        self.submit_ok({"action": "update", "ticket": "INC-1", "note": "one"})
        self.submit_ok({"action": "close", "ticket": "INC-1"})
        self.submit_ok({"action": "update", "ticket": "INC-11", "note": "eleven"})

        status, _, data = self.svc.get("/api/v1/incidents/INC-1/events")
        self.assertEqual(status, 200, data)
        self.assertEqual(data["ticket"], "INC-1")
        self.assertEqual([(e["seq"], e["ticket"], e["type"]) for e in data["events"]],
                         [(1, "INC-1", "INCIDENT_OPENED"), (13, "INC-1", "INCIDENT_UPDATED"),
                          (14, "INC-1", "INCIDENT_CLOSED")])
        for event in data["events"]:
            self.assertEqual(set(event), EVENT_KEYS)
        status, _, data = self.svc.get("/api/v1/incidents/inc-10/events")
        self.assertEqual(status, 200, data)
        self.assertEqual([(e["seq"], e["ticket"]) for e in data["events"]], [(10, "INC-10"), (12, "INC-10")])

        # The same events as in the whole log, byte for byte.
        log = {event["seq"]: event for event in self.svc.all_events()}
        for event in data["events"]:
            self.assertEqual(event, log[event["seq"]])

        response = self.svc.get("/api/v1/incidents/INC-12/events")
        self.assertError(response, 404, "not_found", ("", "ticket"), "events of an unknown ticket")


class IncidentListTest(ContractTestCase):
    def setUp(self):
        super().setUp()
        # INC-1..INC-5, all outages in January/February 2025.
        self.submit_ok(create_fields(title="Database outage", systems=["db"], started_at=JAN % 1))
        self.submit_ok({"action": "close", "ticket": "INC-1", "ended_at": JAN % 2})
        self.submit_ok(create_fields(title="API latency", systems=["api"], started_at=JAN % 3))
        self.submit_ok(create_fields(title="Web frontend down", systems=["db", "web"], started_at=JAN % 5,
                                     description="Kafka consumer lag"))
        self.submit_ok({"action": "close", "ticket": "INC-3", "ended_at": JAN % 6})
        self.submit_ok(create_fields(title="Static assets", systems=["web"], started_at=JAN % 10,
                                     engineer="Zoë Smith"))
        self.submit_ok(create_fields(title="Mail queue", systems=["mail"], started_at="2025-02-01T00:00:00Z"))
        self.submit_ok({"action": "close", "ticket": "INC-5", "ended_at": "2025-02-02T00:00:00Z"})

    def test_window_overlap_is_half_open(self):
        data = self.listing("from=2025-01-01T00:00:00Z&to=2025-01-08T00:00:00Z")
        self.assertEqual(data["from"], "2025-01-01T00:00:00Z")
        self.assertEqual(data["to"], "2025-01-08T00:00:00Z")
        self.assertEqual(self.tickets_of(data), ["INC-3", "INC-2", "INC-1"])
        self.assertIsNone(data["next_cursor"])
        # The last event the list reflects: the stream a page follows starts there.
        self.assertEqual(data["applied_seq"], self.svc.get("/healthz").data["head_seq"])
        self.assertNotIn("applied_seq", self.listing("from=2025-01-01T00:00:00Z&to=2025-01-08T00:00:00Z&as_of_seq=3"))
        for incident in data["incidents"]:
            self.assertEqual(set(incident) - {"note", "opened_at", "updated_at"}, INCIDENT_KEYS | LIST_MARK_KEYS)
            single = self.incident(incident["ticket"])
            self.assertEqual(incident, {key: value for key, value in single.items()
                                        if key not in FOLLOW_UP_KEYS - LIST_MARK_KEYS})
        # INC-1 ended exactly at `from`: [from, to) does not overlap it.
        self.assertEqual(self.tickets_of(self.listing("from=2025-01-02T00:00:00Z&to=2025-01-08T00:00:00Z")),
                         ["INC-3", "INC-2"])
        # INC-4 starts exactly at `to`: not in the window.
        self.assertEqual(self.tickets_of(self.listing("from=2025-01-06T00:00:00Z&to=2025-01-10T00:00:00Z")),
                         ["INC-2"])
        # Times with an offset compare as instants (01-10T00:30+01:00 is 01-09T23:30Z).
        self.assertEqual(self.tickets_of(self.listing("from=2025-01-09T00:00:00Z&to=2025-01-10T00:30:00%2B01:00")),
                         ["INC-2"])
        self.assertEqual(self.tickets_of(self.listing("from=2025-01-09T00:00:00Z&to=2025-03-01T00:00:00Z")),
                         ["INC-5", "INC-4", "INC-2"])

    def test_a_repeated_question_sees_every_change(self):
        # The service keeps rendered answers until the next event (http/answer_cache.h).
        query = "from=2025-01-01T00:00:00Z&to=2025-01-08T00:00:00Z"
        first = self.listing(query)
        self.assertEqual(self.listing(query), first)
        self.submit_ok({"action": "update", "ticket": "INC-2", "title": "API latency (EU)"})
        changed = self.listing(query)
        self.assertEqual([i["title"] for i in changed["incidents"] if i["ticket"] == "INC-2"], ["API latency (EU)"])
        self.submit_ok({"action": "close", "ticket": "INC-2", "ended_at": JAN % 4})
        self.assertEqual([i["status"] for i in self.listing(query)["incidents"] if i["ticket"] == "INC-2"], ["closed"])
        # The same window spelled with an offset is the same question.
        self.assertEqual(self.listing("from=2025-01-01T01:00:00%2B01:00&to=2025-01-08T00:00:00Z")["incidents"],
                         self.listing(query)["incidents"])

    def test_default_window_is_the_last_seven_days(self):
        # INC-2 and INC-4 are still open: an ongoing outage overlaps every later window.
        self.assertEqual(self.tickets_of(self.listing("")), ["INC-4", "INC-2"])
        now = self.submit_ok(create_fields(title="happening now"))
        data = self.listing("")
        self.assertEqual(self.tickets_of(data), [now["ticket"], "INC-4", "INC-2"])
        to = service.rfc3339_micros(data["to"])
        self.assertEqual(to - service.rfc3339_micros(data["from"]), 7 * 24 * 3600 * 1_000_000)
        self.assertLessEqual(service.rfc3339_micros(now["event"]["recorded_at"]), to)
        # from alone: a 7-day window from it.
        data = self.listing("from=2025-01-01T00:00:00Z")
        self.assertEqual(data["to"], "2025-01-08T00:00:00Z")
        self.assertEqual(self.tickets_of(data), ["INC-3", "INC-2", "INC-1"])
        # to alone: the 7 days before it.
        data = self.listing("to=2025-01-08T00:00:00Z")
        self.assertEqual(data["from"], "2025-01-01T00:00:00Z")
        self.assertEqual(self.tickets_of(data), ["INC-3", "INC-2", "INC-1"])

    def test_filters_status_system_q(self):
        window = "from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"
        self.assertEqual(self.tickets_of(self.listing(window)), ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"])
        self.assertEqual(self.tickets_of(self.listing(window + "&status=open")), ["INC-4", "INC-2"])
        self.assertEqual(self.tickets_of(self.listing(window + "&status=closed")), ["INC-5", "INC-3", "INC-1"])
        self.assertEqual(self.tickets_of(self.listing(window + "&system=db")), ["INC-3", "INC-1"])
        self.assertEqual(self.tickets_of(self.listing(window + "&system=web&status=open")), ["INC-4"])
        self.assertEqual(self.tickets_of(self.listing(window + "&system=nope")), [])
        # q: case-insensitive substring of ticket, title, description, engineer or systems.
        self.assertEqual(self.tickets_of(self.listing(window + "&q=DATABASE")), ["INC-1"])
        self.assertEqual(self.tickets_of(self.listing(window + "&q=kafka")), ["INC-3"])
        self.assertEqual(self.tickets_of(self.listing(window + "&q=SMITH")), ["INC-4"])
        self.assertEqual(self.tickets_of(self.listing(window + "&q=mail")), ["INC-5"])
        self.assertEqual(self.tickets_of(self.listing(window + "&q=inc-2")), ["INC-2"])
        self.assertEqual(self.tickets_of(self.listing(window + "&q=web+frontend")), ["INC-3"])
        self.assertEqual(self.tickets_of(self.listing(window + "&q=web&status=closed&system=db")), ["INC-3"])

    def test_q_matches_non_ascii_text(self):
        window = "from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"
        # INC-4's engineer is "Zoë Smith": a search for what is written there must find it.
        for q in ("zo%C3%AB", "Zo%C3%AB+Smith", "%C3%AB"):
            with self.subTest(q=q):
                self.assertEqual(self.tickets_of(self.listing(window + "&q=" + q)), ["INC-4"],
                                 "SERVICE BUG: q with non-ASCII (UTF-8) text matches nothing: GET /api/v1/incidents?"
                                 "%s&q=%s should list INC-4 (engineer 'Zo\u00eb Smith')" % (window, q))

    def test_cursor_pagination(self):
        window = "from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"
        seen = []
        pages = []
        cursor = None
        while True:
            query = window + "&limit=2" + ("&cursor=" + cursor if cursor else "")
            data = self.listing(query)
            pages.append(self.tickets_of(data))
            seen += self.tickets_of(data)
            cursor = data["next_cursor"]
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
            self.assertLess(len(pages), 10, "pagination does not end")
        self.assertEqual(pages, [["INC-5", "INC-4"], ["INC-3", "INC-2"], ["INC-1"]])
        self.assertEqual(sorted(seen), ["INC-1", "INC-2", "INC-3", "INC-4", "INC-5"])
        # Exactly `limit` matches: no next page.
        data = self.listing(window + "&status=open&limit=2")
        self.assertEqual(self.tickets_of(data), ["INC-4", "INC-2"])
        self.assertIsNone(data["next_cursor"])
        # Filters apply across pages.
        data = self.listing(window + "&status=closed&limit=1")
        self.assertEqual((self.tickets_of(data), data["next_cursor"]), (["INC-5"], "5"))
        data = self.listing(window + "&status=closed&limit=1&cursor=5")
        self.assertEqual((self.tickets_of(data), data["next_cursor"]), (["INC-3"], "3"))
        data = self.listing(window + "&status=closed&limit=1&cursor=3")
        self.assertEqual((self.tickets_of(data), data["next_cursor"]), (["INC-1"], None))

    def test_list_as_of_seq(self):
        window = "from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"
        # At seq 1 only INC-1 existed, still open.
        data = self.listing(window + "&as_of_seq=1")
        self.assertEqual(self.tickets_of(data), ["INC-1"])
        self.assertEqual(data["incidents"][0]["status"], "open")
        self.assertEqual(self.tickets_of(self.listing(window + "&as_of_seq=1&status=closed")), [])
        self.assertEqual(self.tickets_of(self.listing(window + "&as_of_seq=2&status=closed")), ["INC-1"])

    def test_bad_query_parameters(self):
        head = self.svc.head_seq()
        cases = [
            ("status=ongoing", "status"),
            ("colour=red", "colour"),
            ("from=2025-01-01T00:00:00", "from"),
            ("to=yesterday", "to"),
            ("from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z", "to"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=two", "limit"),
            ("cursor=abc", "cursor"),
            ("q=" + "x" * 201, "q"),
            ("status=open&status=closed", "status"),
            ("as_of_seq=1&as_of=2025-01-01T00:00:00Z", "as_of"),
        ]
        for query, field in cases:
            with self.subTest(query=query):
                self.assertError(self.svc.get("/api/v1/incidents?" + query), 400, "invalid_argument", field, query)
        self.assertEqual(self.svc.head_seq(), head)


class EventsTest(ContractTestCase):
    def setUp(self):
        super().setUp()
        self.submit_ok(create_fields(submission_id="a", description="multi\nline \u00e9\u2028 \"quoted\" <b>&"))
        self.submit_ok({"action": "update", "ticket": "INC-1", "note": "n1"})
        self.submit_ok(create_fields(title="second", systems=["x", "y"], started_at="2026-01-01T00:00:00-03:30"))
        self.submit_ok({"action": "close", "ticket": "INC-1"})
        self.submit_ok({"action": "reopen", "ticket": "INC-1"})

    def test_events_json_chain_verifies_independently(self):
        status, headers, data = self.svc.get("/api/v1/events")
        self.assertEqual(status, 200, data)
        self.assertEqual(set(data), {"head_seq", "events", "next_after"})
        self.assertEqual(data["head_seq"], 5)
        self.assertIsNone(data["next_after"])
        events = data["events"]
        self.assertEqual([e["seq"] for e in events], [1, 2, 3, 4, 5])
        self.assertEqual([e["type"] for e in events], ["INCIDENT_OPENED", "INCIDENT_UPDATED", "INCIDENT_OPENED",
                                                        "INCIDENT_CLOSED", "INCIDENT_REOPENED"])
        for event in events:
            self.assertEqual(set(event), EVENT_KEYS)
            self.assertRegex(event["hash"], HEX64)
            self.assertRegex(event["prev_hash"], HEX64)
            self.assertRegex(event["request_digest"], HEX64)
        self.assertEqual(events[0]["prev_hash"], ZERO_HASH)
        for previous, event in zip(events, events[1:]):
            self.assertEqual(event["prev_hash"], previous["hash"])
            self.assertLessEqual(service.rfc3339_micros(previous["recorded_at"]),
                                 service.rfc3339_micros(event["recorded_at"]))
        service.verify_chain(events)
        self.assertEqual(events[0]["payload"]["description"], "multi\nline \u00e9\u2028 \"quoted\" <b>&")
        self.assertEqual(events[2]["payload"]["started_at"], "2026-01-01T00:00:00-03:30")

    def test_events_ndjson(self):
        _, _, as_json = self.svc.get("/api/v1/events")
        response = self.svc.get("/api/v1/events", headers={"Accept": "application/x-ndjson"})
        self.assertStatus(response, 200)
        self.assertEqual(response.content_type, "application/x-ndjson")
        text = response.data
        self.assertTrue(text.endswith("\n"))
        lines = text.split("\n")[:-1]
        parsed = [json.loads(line) for line in lines]
        self.assertEqual(parsed, as_json["events"])
        service.verify_chain(parsed)
        # Paged too.
        response = self.svc.get("/api/v1/events?after=3&limit=1", headers={"Accept": "application/x-ndjson"})
        self.assertEqual([json.loads(line)["seq"] for line in response.data.splitlines()], [4])

    def test_events_paging_after_limit(self):
        first = self.svc.events(0, 2)
        self.assertEqual([e["seq"] for e in first["events"]], [1, 2])
        self.assertEqual(first["next_after"], 2)
        self.assertEqual(first["head_seq"], 5)
        second = self.svc.events(2, 2)
        self.assertEqual([e["seq"] for e in second["events"]], [3, 4])
        self.assertEqual(second["next_after"], 4)
        third = self.svc.events(4, 2)
        self.assertEqual([e["seq"] for e in third["events"]], [5])
        self.assertIsNone(third["next_after"])
        # A page ending exactly at the head has no next page.
        self.assertIsNone(self.svc.events(3, 2)["next_after"])
        self.assertEqual(self.svc.events(5)["events"], [])
        self.assertEqual(self.svc.events(500)["events"], [])
        # Pages verify as a continuation of the chain.
        tail = service.verify_chain(first["events"])
        tail = service.verify_chain(second["events"], first_seq=3, prev_hash=tail)
        service.verify_chain(third["events"], first_seq=5, prev_hash=tail)
        self.assertEqual(first["events"] + second["events"] + third["events"], self.svc.all_events(page=1))
        for query, field in (("after=-1", "after"), ("limit=0", "limit"), ("limit=10001", "limit"),
                             ("after=x", "after"), ("seq=1", "seq")):
            with self.subTest(query=query):
                self.assertError(self.svc.get("/api/v1/events?" + query), 400, "invalid_argument", field, query)


class IdempotencyTest(ContractTestCase):
    def test_same_submission_id_same_content_replays(self):
        fields = create_fields(submission_id="form-42", severity="major")
        first = self.svc.submit(fields)
        self.assertStatus(first, 201)
        self.submit_ok(create_fields(title="unrelated"))
        head = self.svc.head_seq()
        self.assertEqual(head, 2)
        for form in (False, True, False):
            with self.subTest(form=form):
                again = self.svc.submit(fields, form=form)
                self.assertStatus(again, 201)
                self.assertEqual(again.headers.get("Idempotent-Replay"), "true")
                self.assertEqual(again.data, first.data)
                self.assertEqual(self.svc.events()["head_seq"], head)
        self.assertEqual(len(self.svc.all_events()), head)

    def test_replay_of_update_is_not_checked_again(self):
        self.submit_ok(create_fields())
        update = {"action": "update", "ticket": "INC-1", "expected_version": 1, "note": "x", "submission_id": "u-1"}
        first = self.submit_ok(update)
        self.submit_ok({"action": "close", "ticket": "INC-1", "submission_id": "c-1"})
        head = self.svc.head_seq()
        # The ticket is now at version 3 and closed; the repeats still get the original answers.
        again = self.svc.submit(update)
        self.assertStatus(again, 201)
        self.assertEqual(again.data, first)
        again = self.svc.submit({"action": "close", "ticket": "INC-1", "submission_id": "c-1"})
        self.assertStatus(again, 201)
        self.assertEqual(again.data["seq"], 3)
        self.assertEqual(self.svc.head_seq(), head)

    def test_submission_id_reused_with_other_content_is_409(self):
        self.submit_ok(create_fields(submission_id="s-1"))
        head = self.svc.head_seq()
        variants = [
            create_fields(submission_id="s-1", title="another title"),
            create_fields(submission_id="s-1", actor="someone-else"),
            {"action": "update", "ticket": "INC-1", "note": "n", "submission_id": "s-1"},
            {"action": "close", "ticket": "INC-1", "submission_id": " s-1 "},
        ]
        for fields in variants:
            with self.subTest(fields=fields):
                response = self.svc.submit(fields)
                error = self.assertError(response, 409, "conflict", "submission_id")
                self.assertIn("s-1", error["message"])
                self.assertEqual(self.svc.events()["head_seq"], head)
        self.assertEqual(self.incident("INC-1")["status"], "open")


class ExpectedVersionTest(ContractTestCase):
    def test_expected_version(self):
        self.submit_ok(create_fields())
        body = self.submit_ok({"action": "update", "ticket": "INC-1", "expected_version": 1, "note": "a"})
        self.assertEqual(body["version"], 2)
        # As a JSON string and from a form too.
        body = self.submit_ok({"action": "update", "ticket": "INC-1", "expected_version": "2", "note": "b"})
        self.assertEqual(body["version"], 3)
        body = self.submit_ok({"action": "close", "ticket": "INC-1", "expected_version": "3"}, form=True)
        self.assertEqual(body["version"], 4)
        head = self.svc.head_seq()
        for stale in (1, 3, 5):
            with self.subTest(stale=stale):
                response = self.svc.submit({"action": "reopen", "ticket": "INC-1", "expected_version": stale})
                error = self.assertError(response, 409, "conflict", "expected_version")
                self.assertIn("4", error["message"])
                self.assertEqual(self.svc.head_seq(), head)
        self.assertEqual(self.incident("INC-1")["status"], "closed")
        self.submit_ok({"action": "reopen", "ticket": "INC-1", "expected_version": 4})


class AsOfTest(ContractTestCase):
    def test_as_of_seq_and_as_of_time(self):
        e1 = self.submit_ok(create_fields(title="first title", started_at="2026-04-01T00:00:00Z"))["event"]
        e2 = self.submit_ok({"action": "update", "ticket": "INC-1", "title": "second title"})["event"]
        e3 = self.submit_ok({"action": "close", "ticket": "INC-1", "ended_at": "2026-04-01T06:00:00Z"})["event"]
        self.submit_ok(create_fields(title="other"))

        at1 = self.incident("INC-1", "?as_of_seq=1")
        self.assertEqual((at1["title"], at1["status"], at1["version"], at1["last_seq"]), ("first title", "open", 1, 1))
        self.assertEqual(at1["periods"], [{"started_at": "2026-04-01T00:00:00Z", "ended_at": None}])
        at2 = self.incident("INC-1", "?as_of_seq=2")
        self.assertEqual((at2["title"], at2["status"], at2["version"], at2["last_seq"]), ("second title", "open", 2, 2))
        at3 = self.incident("INC-1", "?as_of_seq=3")
        self.assertEqual(at3, self.incident("INC-1"))
        self.assertEqual(at3["ended_at"], "2026-04-01T06:00:00Z")
        self.assertEqual(self.incident("INC-1", "?as_of_seq=1000"), self.incident("INC-1"))

        # as_of is by recorded time, inclusive.
        self.assertEqual(self.incident("INC-1", "?as_of=" + e1["recorded_at"]), at1)
        self.assertEqual(self.incident("INC-1", "?as_of=" + e2["recorded_at"]), at2)
        self.assertEqual(self.incident("INC-1", "?as_of=" + e3["recorded_at"]), at3)

        for query in ("?as_of_seq=0", "?as_of=2000-01-01T00:00:00Z"):
            with self.subTest(query=query):
                self.assertError(self.svc.get("/api/v1/incidents/INC-1" + query), 404, "not_found", ("", "ticket"))
        # INC-2 did not exist at seq 3.
        self.assertError(self.svc.get("/api/v1/incidents/INC-2?as_of_seq=3"), 404, "not_found", ("", "ticket"))
        self.assertEqual(self.incident("INC-2", "?as_of_seq=4")["title"], "other")

        for query, field in (("?as_of_seq=1&as_of=2026-01-01T00:00:00Z", "as_of"),
                             ("?as_of=2026-01-01T00:00:00", "as_of"), ("?as_of_seq=x", "as_of_seq"),
                             ("?at=1", "at")):
            with self.subTest(query=query):
                self.assertError(self.svc.get("/api/v1/incidents/INC-1" + query), 400, "invalid_argument", field)


class HealthAndMetricsTest(ContractTestCase):
    def parse_metrics(self, text):
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
        return samples

    def test_healthz(self):
        status, _, data = self.svc.get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(data, {"status": "ok", "head_seq": 0})
        self.submit_ok(create_fields())
        self.assertEqual(self.svc.get("/healthz").data, {"status": "ok", "head_seq": 1})
        head = self.svc.request("HEAD", "/healthz")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.raw, b"")

    def test_incident_list_repeated_answers_alike_until_the_next_event(self):
        # The list is answered from a cache of rendered answers until the next
        # event (http/answer_cache.h), sent from the cached bytes themselves.
        window = "/api/v1/incidents?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        self.submit_ok(create_fields(title="First <b>outage</b>"))
        connection = self.svc.connection()
        try:
            bodies = []
            for _ in range(3):  # on one keep-alive connection, then on fresh ones
                bodies.append(service.send(connection, "GET", window).raw)
        finally:
            connection.close()
        fresh = self.svc.get(window)
        self.assertStatus(fresh, 200)
        self.assertEqual(int(fresh.headers.get("Content-Length")), len(fresh.raw))
        bodies.append(fresh.raw)
        self.assertEqual(len(set(bodies)), 1, "repeated answers differ")
        self.assertEqual([i["title"] for i in json.loads(bodies[0])["incidents"]], ["First <b>outage</b>"])
        head = self.svc.request("HEAD", window)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.raw, b"")
        self.assertEqual(int(head.headers.get("Content-Length")), len(bodies[0]))
        # A new event: the next answer includes it.
        self.submit_ok(create_fields(title="Second"))
        titles = sorted(i["title"] for i in self.svc.get(window).data["incidents"])
        self.assertEqual(titles, ["First <b>outage</b>", "Second"])

    def test_metrics_prometheus_text(self):
        self.submit_ok(create_fields())
        self.submit_ok({"action": "update", "ticket": "INC-1", "note": "x"})
        self.svc.submit({"action": "create"})
        self.svc.get("/api/v1/incidents/INC-1")
        response = self.svc.get("/metrics")
        self.assertStatus(response, 200)
        self.assertTrue(response.headers.get("Content-Type").startswith("text/plain; version=0.0.4"))
        text = response.data
        for family, kind in (("ledger_http_requests_total", "counter"),
                             ("ledger_http_request_duration_seconds", "histogram"),
                             ("ledger_append_duration_seconds", "histogram"),
                             ("ledger_group_commit_batch_events", "histogram"),
                             ("ledger_events_appended_total", "counter"),
                             ("ledger_head_seq", "gauge"),
                             ("ledger_memtable_bytes", "gauge"),
                             ("ledger_projection_applied_seq", "gauge"),
                             ("ledger_http_open_connections", "gauge")):
            self.assertIn("# TYPE %s %s\n" % (family, kind), text)
            self.assertIn("# HELP %s " % family, text)
        samples = self.parse_metrics(text)
        self.assertEqual(samples['ledger_http_requests_total{route="submissions",status="201"}'], 2)
        self.assertEqual(samples['ledger_http_requests_total{route="submissions",status="400"}'], 1)
        self.assertEqual(samples['ledger_http_requests_total{route="incident",status="200"}'], 1)
        self.assertEqual(samples["ledger_head_seq"], 2)
        self.assertGreater(samples["ledger_memtable_bytes"], 0)  # the two events, not yet flushed
        self.assertEqual(samples["ledger_events_appended_total"], 2)
        self.assertEqual(samples["ledger_projection_applied_seq"], 2)
        # Only submissions that reach the ledger are timed; the 400 does not.
        self.assertEqual(samples["ledger_append_duration_seconds_count"], 2)
        for name, value in samples.items():
            self.assertGreaterEqual(value, 0, name)


class ErrorTest(ContractTestCase):
    """Every error row of DESIGN.md: status, error shape, the field named, and nothing appended."""

    def setUp(self):
        super().setUp()
        self.submit_ok(create_fields(started_at="2026-06-01T12:00:00Z"))               # INC-1 open
        self.submit_ok(create_fields(title="closed one", started_at="2026-06-01T00:00:00Z"))  # INC-2
        self.submit_ok({"action": "close", "ticket": "INC-2", "ended_at": "2026-06-01T01:00:00Z"})
        self.submit_ok(create_fields(submission_id="taken"))                              # INC-3

    def assertRejected(self, response, status, code, field, what=""):
        """assertError, plus: nothing appended (head_seq in /healthz and /api/v1/events)."""
        error = self.assertError(response, status, code, field, what)
        self.assertEqual(self.svc.head_seq(), 4, "%s appended an event" % what)
        self.assertEqual(self.svc.events()["head_seq"], 4, what)
        if status == 400 and isinstance(field, str) and field:
            self.assertIn(field, error["message"], "%s: the message should name the field" % what)
        return error

    def check_cases(self, cases, form=False):
        for fields, field, code, status in cases:
            with self.subTest(fields=fields, form=form):
                self.assertRejected(self.svc.submit(fields, form=form), status, code, field, repr(fields))

    def test_400_invalid_submissions(self):
        long_title = "x" * 201
        cases = [
            ({"action": "create", "systems": ["db"], "engineer": "Ada"}, "title"),
            ({"action": "create", "title": "t", "engineer": "Ada"}, "systems"),
            ({"action": "create", "title": "t", "systems": ["db"]}, "engineer"),
            ({"action": "create", "title": None, "systems": ["db"], "engineer": "Ada"}, "title"),
            (create_fields(title="   "), "title"),
            (create_fields(systems=[]), "systems"),
            (create_fields(systems=[" ", ""]), "systems"),
            (create_fields(colour="red"), "colour"),
            (create_fields(severity="catastrophic"), "severity"),
            (create_fields(started_at="2026-06-01T12:00:00"), "started_at"),
            (create_fields(started_at="2026-06-01 12:00"), "started_at"),
            (create_fields(started_at="2026-02-30T12:00:00Z"), "started_at"),
            (create_fields(title=long_title), "title"),
            (create_fields(title="two\nlines"), "title"),
            (create_fields(link="javascript:alert(1)"), "link"),
            (create_fields(ended_at="2026-06-02T00:00:00Z"), "ended_at"),
            (create_fields(ticket="INC-1"), "ticket"),
            (create_fields(expected_version=1), "expected_version"),
            (create_fields(action="destroy"), "action"),
            ({"title": "t", "systems": ["db"], "engineer": "Ada"}, "action"),
            (create_fields(title=5), "title"),
            (create_fields(systems=[1, 2]), "systems"),
            (create_fields(systems={"a": 1}), "systems"),
            (create_fields(engineer=["Ada"]), "engineer"),
            (create_fields(submission_id=7), "submission_id"),
            (create_fields(submission_id="x" * 129), "submission_id"),
            ({"action": "update", "ticket": "INC-1", "expected_version": "abc", "note": "n"}, "expected_version"),
            ({"action": "update", "ticket": "INC-1", "expected_version": 0, "note": "n"}, "expected_version"),
            ({"action": "update", "ticket": "INC-1", "expected_version": True, "note": "n"}, "expected_version"),
            ({"action": "update", "ticket": "INC-1", "expected_version": -1, "note": "n"}, "expected_version"),
            ({"action": "update", "note": "n"}, "ticket"),
            ({"action": "close"}, "ticket"),
            ({"action": "reopen"}, "ticket"),
            ({"action": "update", "ticket": "FOO-1", "note": "n"}, "ticket"),
            ({"action": "update", "ticket": "INC-0", "note": "n"}, "ticket"),
            ({"action": "update", "ticket": "INC-1"}, ""),
            ({"action": "update", "ticket": "INC-1", "ended_at": "2026-06-02T00:00:00Z"}, "ended_at"),
            ({"action": "reopen", "ticket": "INC-2", "ended_at": "2026-06-02T00:00:00Z"}, "ended_at"),
            # ended_at before started_at, within the submission and against the stored start.
            ({"action": "close", "ticket": "INC-1", "started_at": "2026-06-01T12:00:00Z",
              "ended_at": "2026-06-01T11:00:00Z"}, "ended_at"),
            ({"action": "close", "ticket": "INC-1", "ended_at": "2026-06-01T11:59:59Z"}, "ended_at"),
            ({"action": "close", "ticket": "INC-1", "ended_at": "2026-06-01T13:00:00+02:00"}, "ended_at"),
            ({"action": "update", "ticket": "INC-2", "ended_at": "2026-05-31T00:00:00Z"}, "ended_at"),
            ({"action": "update", "ticket": "INC-2", "started_at": "2026-06-01T02:00:00Z"}, "started_at"),
            ({"action": "reopen", "ticket": "INC-2", "started_at": "2026-06-01T00:30:00Z"}, "started_at"),
        ]
        self.check_cases([(fields, field, "invalid_argument", 400) for fields, field in cases])

    def test_400_invalid_form_submissions(self):
        cases = [
            ({"action": "create", "systems": "db", "engineer": "Ada"}, "title"),
            ({"action": "create", "title": "t", "systems": " , ,", "engineer": "Ada"}, "systems"),
            ({"action": "create", "title": "t", "systems": "db", "engineer": ""}, "engineer"),
            ({"action": "create", "title": "t", "systems": "db", "engineer": "Ada", "colour": "red"}, "colour"),
            ({"action": "create", "title": "t", "systems": "db", "engineer": "Ada", "severity": "high"}, "severity"),
            ({"action": "create", "title": "t", "systems": "db", "engineer": "Ada",
              "started_at": "2026-06-01T12:00"}, "started_at"),
            ({"action": "update", "note": "n"}, "ticket"),
        ]
        self.check_cases([(fields, field, "invalid_argument", 400) for fields, field in cases], form=True)

    def test_400_malformed_bodies(self):
        json_headers = {"Content-Type": "application/json"}
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        cases = [
            (b'{"action": "create", "title": ', json_headers, ""),
            (b"", json_headers, ""),
            (b"not json at all", json_headers, ""),
            (b'[{"action": "create"}]', json_headers, ""),
            (b'"create"', json_headers, ""),
            (b"42", json_headers, ""),
            (b'{"action": "create", "title": "a", "title": "b", "systems": ["db"], "engineer": "e"}', json_headers,
             "title"),
            (b'{"action":"create","title":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}}', json_headers, ""),
            # Invalid UTF-8 in a JSON body and in a form value.
            (b'{"action": "create", "title": "caf\xe9", "systems": ["db"], "engineer": "e"}', json_headers, ""),
            (b"action=create&title=caf%E9&systems=db&engineer=e", form_headers, "title"),
            (b"action=create&title=t&systems=d%FFb&engineer=e", form_headers, "systems"),
            (b"action=create&title=t&systems=db&engineer=%C3%28", form_headers, "engineer"),
            (b"action=create&title=t&systems=db&engineer=%ED%A0%80", form_headers, "engineer"),
            (b"action=create&title=%ZZ&systems=db&engineer=e", form_headers, "title"),
            (b"action=create&title=a&title=b&systems=db&engineer=e", form_headers, "title"),
        ]
        for body, headers, field in cases:
            with self.subTest(body=body):
                response = self.svc.request("POST", SUBMISSIONS, body, headers)
                self.assertRejected(response, 400, "invalid_argument", field, repr(body))
        self.assertRejected(self.svc.request("POST", SUBMISSIONS + "?x=1", create_fields()), 400,
                            "invalid_argument", "", "submission with a query string")
        # Still serving, and the next event gets the next seq.
        self.assertEqual(self.submit_ok(create_fields())["seq"], 5)

    def test_400_invalid_utf8_in_form_field_name_gives_valid_json(self):
        # An unknown field name is echoed in the error; the answer must still be
        # valid JSON (RFC 8259: UTF-8) so that clients can read it.
        response = self.svc.request("POST", SUBMISSIONS, b"action=create&ti%FFtle=t&systems=db&engineer=e",
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 400, response)
        self.assertIsNone(response.json_error,
                          "SERVICE BUG: the 400 for a form field name holding invalid UTF-8 is not valid UTF-8 "
                          "JSON (%s); body: %r" % (response.json_error, response.raw))
        self.assertRejected(response, 400, "invalid_argument", ("ti\ufffdtle", "ti?tle", ""))

    def test_400_invalid_utf8_in_query_parameter_name_gives_valid_json(self):
        response = self.svc.get("/api/v1/incidents?st%FFtus=open")
        self.assertEqual(response.status, 400, response)
        self.assertIsNone(response.json_error,
                          "SERVICE BUG: the 400 for a query parameter name holding invalid UTF-8 is not valid "
                          "UTF-8 JSON (%s); body: %r" % (response.json_error, response.raw))
        self.assertRejected(response, 400, "invalid_argument", ("st\ufffdtus", "st?tus", ""))

    def test_404_unknown_ticket(self):
        for action in ("update", "close", "reopen"):
            with self.subTest(action=action):
                fields = {"action": action, "ticket": "INC-99"}
                if action == "update":
                    fields["note"] = "n"
                error = self.assertRejected(self.svc.submit(fields), 404, "not_found", "ticket", action)
                self.assertIn("INC-99", error["message"])
        for path in ("/api/v1/incidents/INC-99", "/api/v1/incidents/99", "/api/v1/incidents/garbage",
                     "/api/v1/incidents/INC-99/events", "/api/v1/incidents/INC-1/extra", "/api/v1/nothing"):
            with self.subTest(path=path):
                self.assertRejected(self.svc.get(path), 404, "not_found", ("", "ticket"), path)

    def test_409_conflicts(self):
        cases = [
            ({"action": "close", "ticket": "INC-2"}, "action"),
            ({"action": "close", "ticket": "INC-2", "ended_at": "2026-06-01T02:00:00Z"}, "action"),
            ({"action": "reopen", "ticket": "INC-1"}, "action"),
            ({"action": "update", "ticket": "INC-1", "expected_version": 2, "note": "n"}, "expected_version"),
            ({"action": "close", "ticket": "INC-2", "expected_version": 1}, "expected_version"),
            (create_fields(submission_id="taken", title="different"), "submission_id"),
            ({"action": "update", "ticket": "INC-3", "submission_id": "taken", "note": "n"}, "submission_id"),
        ]
        self.check_cases([(fields, field, "conflict", 409) for fields, field in cases])
        self.assertEqual(self.incident("INC-2")["status"], "closed")
        self.assertEqual(self.incident("INC-1")["version"], 1)

    def raw_exchange(self, request_bytes):
        """Sends bytes on a raw socket and reads the answer until the server closes."""
        with socket.create_connection((self.svc.host, self.svc.port), timeout=30) as sock:
            sock.sendall(request_bytes)
            answer = http.client.HTTPResponse(sock)
            answer.begin()
            return service.Response(answer.status, answer.headers, answer.read())

    def test_413_body_too_large(self):
        # Exactly 64 KiB is read (and refused for its content); one byte more is 413.
        limit = 64 * 1024
        base = b'{"action":"create","systems":["db"],"engineer":"e","title":"'
        at_limit = base + b"x" * (limit - len(base) - 2) + b'"}'
        self.assertEqual(len(at_limit), limit)
        self.assertRejected(self.svc.request("POST", SUBMISSIONS, at_limit, {"Content-Type": "application/json"}),
                            400, "invalid_argument", "title", "a 64 KiB body")
        over = base + b"x" * (limit - len(base) - 1) + b'"}'
        self.assertEqual(len(over), limit + 1)
        self.assertRejected(self.svc.request("POST", SUBMISSIONS, over, {"Content-Type": "application/json"}),
                            413, "too_large", "body", "a 64 KiB + 1 body")
        # A declared 1 MiB body is refused from its Content-Length, before any of it is sent.
        self.assertRejected(self.raw_exchange(b"POST " + SUBMISSIONS.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                              b"Content-Type: application/x-www-form-urlencoded\r\n"
                                              b"Content-Length: 1048576\r\n\r\n"),
                            413, "too_large", "body", "a declared 1 MiB form")

        def chunks():
            for _ in range(80):
                yield b"z" * 1024

        connection = self.svc.connection()
        try:
            connection.request("POST", SUBMISSIONS, body=chunks(), encode_chunked=True,
                               headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            response = service.Response(answer.status, answer.headers, answer.read())
        finally:
            connection.close()
        self.assertRejected(response, 413, "too_large", "body", "an 80 KiB chunked body")
        self.assertEqual(self.submit_ok(create_fields())["seq"], 5)

    def test_415_wrong_content_type(self):
        body = json.dumps(create_fields())
        for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x", None):
            with self.subTest(content_type=content_type):
                headers = {"Content-Type": content_type} if content_type else {}
                response = self.svc.request("POST", SUBMISSIONS, body, headers)
                self.assertRejected(response, 415, "invalid_argument", "Content-Type", str(content_type))
        # Parameters and case in the media type are fine.
        response = self.svc.request("POST", SUBMISSIONS, body, {"Content-Type": "Application/JSON; charset=utf-8"})
        self.assertStatus(response, 201)

    def test_405_wrong_method(self):
        cases = [
            ("GET", SUBMISSIONS, "POST"), ("PUT", SUBMISSIONS, "POST"), ("DELETE", SUBMISSIONS, "POST"),
            ("POST", "/api/v1/incidents", "GET"), ("POST", "/api/v1/incidents/INC-1", "GET"),
            ("DELETE", "/api/v1/incidents/INC-1", "GET"), ("PATCH", "/api/v1/incidents/INC-1/events", "GET"),
            ("POST", "/api/v1/events", "GET"), ("POST", "/healthz", "GET"), ("POST", "/metrics", "GET"),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                body = create_fields() if method in ("POST", "PUT", "PATCH") else None
                response = self.svc.request(method, path, body)
                self.assertRejected(response, 405, "invalid_argument", "method", "%s %s" % (method, path))
                self.assertEqual(response.headers.get("Allow"), allowed)

    def test_service_keeps_serving_after_errors_on_one_connection(self):
        connection = self.svc.connection()
        self.addCleanup(connection.close)
        for body, headers in ((b"{", {"Content-Type": "application/json"}),
                              (b"action=create&title=%FF", {"Content-Type": "application/x-www-form-urlencoded"}),
                              (b"{}", {"Content-Type": "text/plain"}),
                              (b'{"action":"close","ticket":"INC-2"}', {"Content-Type": "application/json"})):
            response = service.send(connection, "POST", SUBMISSIONS, body, headers)
            self.assertIn(response.status, (400, 409, 415))
        response = service.send(connection, "POST", SUBMISSIONS, create_fields(title="after errors"))
        self.assertStatus(response, 201)
        self.assertEqual(response.data["seq"], 5)
        self.assertEqual(response.data["ticket"], "INC-4")
        service.verify_chain(self.svc.all_events())


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
