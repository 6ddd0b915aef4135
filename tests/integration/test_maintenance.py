"""Maintenance windows against the real binary: schedule (JSON and form), the
start/end/cancel state machine with its 409s, refusals naming their field,
the list and its filters, a window as known earlier (as_of), idempotent
submissions, numbers of their own beside the incidents', the events in the
exported log (verifiable), and a restart that resumes from the checkpoint.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

SCHEDULE = {"action": "schedule", "title": "Patch the mail relays", "systems": ["mail", "smtp"],
            "starts_at": "2026-11-28T22:00:00+01:00", "ends_at": "2026-11-29T01:00:00+01:00",
            "description": "Kernel updates;\nrelays restart one by one.", "link": "https://change.example/9"}
WINDOW_KEYS = {"window", "title", "systems", "status", "starts_at", "ends_at", "started_at", "ended_at",
               "description", "link", "version", "scheduled_seq", "last_seq", "scheduled_at", "updated_at"}


class MaintenanceTest(service.ServiceTestCase):
    def setUp(self):
        self.svc = self.start_service()

    def post(self, fields, form=False, status=201):
        if form:
            response = self.svc.request("POST", "/api/v1/maintenance", service.form_encode(fields),
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            response = self.svc.request("POST", "/api/v1/maintenance", fields)
        self.assertStatus(response, status, fields)
        return response

    def window(self, name, query=""):
        response = self.svc.get("/api/v1/maintenance/" + name + query)
        self.assertStatus(response, 200)
        return response.data

    def test_a_window_from_schedule_to_end(self):
        response = self.post(SCHEDULE)
        body = response.data
        self.assertEqual(set(body), {"window", "seq", "version", "event"})
        self.assertEqual(body["window"], "MNT-1")
        self.assertEqual(response.headers.get("Location"), "/api/v1/maintenance/MNT-1")
        event = body["event"]
        self.assertEqual(event["type"], "MAINTENANCE_SCHEDULED")
        self.assertEqual(event["ticket"], "MNT-1")
        self.assertEqual(event["payload"]["starts_at"], "2026-11-28T22:00:00+01:00")
        window = self.window("MNT-1")
        self.assertEqual(set(window), WINDOW_KEYS)
        self.assertEqual(window["status"], "scheduled")
        self.assertEqual(window["systems"], ["mail", "smtp"])
        self.assertIsNone(window["started_at"])
        # An incident in between: INC-1, while windows count on.
        incident = self.svc.submit({"action": "create", "title": "t", "systems": ["x"], "engineer": "e"})
        self.assertStatus(incident, 201)
        self.assertEqual(incident.data["ticket"], "INC-1")

        before_start = self.svc.head_seq()
        started = self.post({"action": "start", "window": "mnt-1", "at": "2026-11-28T22:25:00+01:00",
                             "expected_version": 1})
        self.assertEqual(started.data["event"]["payload"], {"started_at": "2026-11-28T22:25:00+01:00"})
        for refused in ({"action": "start", "window": "MNT-1"}, {"action": "cancel", "window": "MNT-1"}):
            response = self.post(refused, status=409)
            self.assertEqual(response.data["error"]["field"], "action")
            self.assertIn("in_progress", response.data["error"]["message"])
        response = self.post({"action": "end", "window": "MNT-1", "at": "2026-11-28T20:00:00Z"}, status=400)
        self.assertEqual(response.data["error"]["field"], "at")
        ended = self.post({"action": "end", "window": "MNT-1", "at": "2026-11-29T00:40:00Z"}, form=True)
        self.assertEqual(ended.data["version"], 3)
        self.post({"action": "end", "window": "MNT-1"}, status=409)
        window = self.window("MNT-1")
        self.assertEqual((window["status"], window["started_at"], window["ended_at"]),
                         ("completed", "2026-11-28T22:25:00+01:00", "2026-11-29T00:40:00Z"))
        # As known before it started.
        then = self.window("MNT-1", "?as_of_seq=%d" % before_start)
        self.assertEqual((then["status"], then["version"]), ("scheduled", 1))
        missing = self.svc.get("/api/v1/maintenance/MNT-1?as_of_seq=0")
        self.assertError(missing, 404, "not_found", "window")

    def test_schedule_by_form_cancel_and_the_list(self):
        form = dict(SCHEDULE, systems="db, mail ,", window="", at="")
        self.post(form, form=True)
        self.post(dict(SCHEDULE, title="Later", starts_at="2026-12-10T08:00:00Z", ends_at="2026-12-10T09:00:00Z"))
        self.post(dict(SCHEDULE, title="Earlier", systems=["vpn"], starts_at="2026-11-01T08:00:00Z",
                       ends_at="2026-11-01T09:00:00Z"))
        self.post({"action": "cancel", "window": "MNT-2"})
        self.assertEqual(self.window("MNT-1")["systems"], ["db", "mail"])

        listing = self.svc.get("/api/v1/maintenance").data
        self.assertEqual(listing["count"], 3)
        self.assertEqual([w["window"] for w in listing["windows"]], ["MNT-3", "MNT-1", "MNT-2"])  # by planned start
        self.assertIn("applied_seq", listing)
        cancelled = self.svc.get("/api/v1/maintenance?status=cancelled").data
        self.assertEqual([w["window"] for w in cancelled["windows"]], ["MNT-2"])
        by_system = self.svc.get("/api/v1/maintenance?system=vpn").data
        self.assertEqual([w["window"] for w in by_system["windows"]], ["MNT-3"])
        november = self.svc.get("/api/v1/maintenance?from=2026-11-15T00:00:00Z&to=2026-12-01T00:00:00Z").data
        self.assertEqual([w["window"] for w in november["windows"]], ["MNT-1"])
        for query, field in (("status=done", "status"), ("from=yesterday", "from"), ("colour=red", "colour"),
                             ("from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", "to"), ("limit=0", "limit")):
            with self.subTest(query=query):
                self.assertError(self.svc.get("/api/v1/maintenance?" + query), 400, "invalid_argument", field)
        self.assertError(self.svc.get("/api/v1/maintenance/MNT-9"), 404, "not_found", "window")
        self.assertError(self.svc.get("/api/v1/maintenance/banana"), 404, "not_found", "window")

    def test_refusals_name_their_field_and_append_nothing(self):
        self.post(SCHEDULE)
        head = self.svc.head_seq()
        cases = [
            ({"action": "schedule", "systems": ["a"], "starts_at": "2026-11-28T22:00:00Z",
              "ends_at": "2026-11-28T23:00:00Z"}, 400, "title"),
            (dict(SCHEDULE, ends_at="2026-11-28T21:00:00Z"), 400, "ends_at"),
            (dict(SCHEDULE, starts_at="tomorrow"), 400, "starts_at"),
            (dict(SCHEDULE, window="MNT-1"), 400, "window"),
            ({"action": "update", "window": "MNT-1"}, 400, ""),
            ({"action": "update", "window": "MNT-1", "ends_at": "2026-11-28T20:00:00Z"}, 400, "ends_at"),
            ({"action": "update", "window": "MNT-1", "started_at": "2026-11-28T22:00:00Z"}, 400, "started_at"),
            ({"action": "start", "window": "MNT-1", "title": "x"}, 400, "title"),
            ({"action": "end", "window": "MNT-1"}, 409, "action"),
            ({"action": "start", "window": "MNT-7"}, 404, "window"),
            ({"action": "update", "window": "MNT-1", "title": "x", "expected_version": 5}, 409, "expected_version"),
            ({"action": "update", "window": "MNT-1", "link": "javascript:alert(1)"}, 400, "link"),
            ({"action": "pause", "window": "MNT-1"}, 400, "action"),
            ({"action": "update", "window": "MNT-1", "colour": "red"}, 400, "colour"),
        ]
        for fields, status, field in cases:
            with self.subTest(fields=fields):
                response = self.svc.request("POST", "/api/v1/maintenance", fields)
                self.assertEqual(response.status, status, response)
                self.assertEqual(response.data["error"]["field"], field, response)
        response = self.svc.request("POST", "/api/v1/maintenance", "title=x",
                                    headers={"Content-Type": "text/plain"})
        self.assertEqual(response.status, 415, response)
        self.assertEqual(self.svc.head_seq(), head)
        response = self.svc.request("DELETE", "/api/v1/maintenance")
        self.assertEqual(response.status, 405, response)
        self.assertEqual(response.headers.get("Allow"), "GET, POST")

    def test_repeats_are_idempotent_and_survive_a_restart_with_the_log_verifiable(self):
        fields = dict(SCHEDULE, submission_id="change-9")
        first = self.post(fields)
        again = self.post(fields)
        self.assertEqual(again.headers.get("Idempotent-Replay"), "true")
        self.assertEqual(again.data["seq"], first.data["seq"])
        self.post(dict(fields, title="other"), status=409)
        self.post({"action": "start", "window": "MNT-1"})
        self.svc.restart()
        self.assertEqual(self.window("MNT-1")["status"], "in_progress")
        self.assertEqual(self.post(SCHEDULE).data["window"], "MNT-2")
        events = self.svc.all_events()
        self.assertEqual([e["type"] for e in events],
                         ["MAINTENANCE_SCHEDULED", "MAINTENANCE_STARTED", "MAINTENANCE_SCHEDULED"])
        service.verify_chain(events)
        for event in events:
            record = service.decode_record(__import__("base64").b64decode(event["record"]))
            self.assertEqual(record["type"], event["type"])
            self.assertIsNotNone(record["maintenance"])
        verified = self.svc.get("/api/v1/verify").data
        self.assertTrue(verified["ok"])


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
