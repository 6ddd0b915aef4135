"""Analysts: duration figures through the API and the CLI, worked out by hand.

Window W = [2026-11-10T00:00Z, 2026-11-11T00:00Z), 86400 s.

INC-1  mail        22:00 (Nov 9) -> 02:00 closed         in W: 00:00-02:00 = 7200 s; unclipped 4 h = 14400 s
INC-2  mail, vpn   01:00 -> 03:00 closed, reopened 05:00 -> 06:00 closed,
                   then corrected after close: end 06:30
                   as corrected: 2 h + 1.5 h = 12600 s;   as known before the correction: 2 h + 1 h = 10800 s
INC-3  dns         23:00 -> ongoing                       in W: 23:00-24:00 = 3600 s, ongoing
INC-4  mail        Nov 12 (outside W)                     not listed

mail: union of [00:00,02:00] (INC-1), [01:00,03:00] and [05:00,06:30] (INC-2)
      = [00:00,03:00] + [05:00,06:30] = 3 h + 1.5 h = 16200 s -> availability 1 - 16200/86400 = 0.8125
      (before the correction: 3 h + 1 h = 14400 s -> 0.8333...)
vpn:  INC-2 alone: 12600 s -> 1 - 12600/86400 = 0.8541666...
dns:  3600 s -> 0.9583333...
MTTR: incidents whose final end falls in W: INC-1 (14400 s) and INC-2 (12600 s) -> 13500 s, closed_count 2
      (before the correction: (14400 + 10800) / 2 = 12600 s)
"""

import csv
import io
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

WINDOW = "from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z"


def cli(*arguments):
    completed = subprocess.run([service.ledger_binary(), *arguments], capture_output=True, text=True, timeout=120)
    return completed.returncode, completed.stdout, completed.stderr


class DurationsTest(service.ServiceTestCase):
    def setUp(self):
        self.svc = self.start_service()
        submit = self.submit
        submit({"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Ana",
                "started_at": "2026-11-09T23:00:00+01:00"})  # 22:00Z, written in +01:00
        submit({"action": "close", "ticket": "INC-1", "ended_at": "2026-11-10T02:00:00Z"})
        submit({"action": "create", "title": "Mail and VPN", "systems": ["mail", "vpn"], "engineer": "Bo",
                "started_at": "2026-11-10T01:00:00Z"})
        submit({"action": "close", "ticket": "INC-2", "ended_at": "2026-11-10T03:00:00Z"})
        submit({"action": "reopen", "ticket": "INC-2", "started_at": "2026-11-10T05:00:00Z"})
        submit({"action": "close", "ticket": "INC-2", "ended_at": "2026-11-10T06:00:00Z"})
        submit({"action": "create", "title": "DNS", "systems": ["dns"], "engineer": "Cy",
                "started_at": "2026-11-10T23:00:00Z"})
        submit({"action": "create", "title": "Later", "systems": ["mail"], "engineer": "Cy",
                "started_at": "2026-11-12T10:00:00Z"})
        self.before_correction = self.svc.all_events()[-1]["recorded_at"]
        submit({"action": "update", "ticket": "INC-2", "ended_at": "2026-11-10T06:30:00Z"})

    def submit(self, fields):
        response = self.svc.submit(fields)
        self.assertStatus(response, 201, fields)

    def test_as_corrected_now(self):
        response = self.svc.get("/api/v1/durations?" + WINDOW)
        self.assertStatus(response, 200)
        report = response.data
        self.assertEqual(report["incidents"], [
            {"ticket": "INC-1", "seconds": 7200, "ongoing": False},
            {"ticket": "INC-2", "seconds": 12600, "ongoing": False},
            {"ticket": "INC-3", "seconds": 3600, "ongoing": True},
        ])
        systems = {entry["system"]: entry for entry in report["systems"]}
        self.assertEqual(sorted(systems), ["dns", "mail", "vpn"])
        self.assertEqual(systems["mail"]["downtime_seconds"], 16200)
        self.assertAlmostEqual(systems["mail"]["availability"], 0.8125, places=9)
        self.assertEqual(systems["mail"]["tickets"], ["INC-1", "INC-2"])
        self.assertEqual(systems["vpn"]["downtime_seconds"], 12600)
        self.assertAlmostEqual(systems["vpn"]["availability"], 1 - 12600 / 86400, places=9)
        self.assertEqual(systems["dns"]["downtime_seconds"], 3600)
        self.assertEqual(report["mttr_seconds"], 13500)
        self.assertEqual(report["closed_count"], 2)
        self.assertEqual(report["mttr_tickets"], ["INC-1", "INC-2"])
        self.assertIsNone(report["as_of"])

        only_systems = self.svc.get("/api/v1/durations?%s&by=system" % WINDOW).data
        self.assertNotIn("incidents", only_systems)
        self.assertEqual(len(only_systems["systems"]), 3)

    def test_as_known_before_the_correction(self):
        report = self.svc.get("/api/v1/durations?%s&as_of=%s" % (WINDOW, self.before_correction)).data
        incidents = {entry["ticket"]: entry["seconds"] for entry in report["incidents"]}
        self.assertEqual(incidents["INC-2"], 10800)
        mail = [entry for entry in report["systems"] if entry["system"] == "mail"][0]
        self.assertEqual(mail["downtime_seconds"], 14400)
        self.assertEqual(report["mttr_seconds"], 12600)
        self.assertEqual(report["as_of"], self.before_correction)

    def test_csv_through_the_api_and_the_cli_agree(self):
        response = self.svc.get("/api/v1/durations?%s&by=system&format=csv" % WINDOW)
        self.assertStatus(response, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("text/csv"))
        rows = list(csv.reader(io.StringIO(response.raw.decode())))
        self.assertEqual(rows[0], ["system", "downtime_seconds", "availability", "tickets", "planned_seconds",
                                   "degraded_seconds", "windows"])
        self.assertEqual([row[0] for row in rows[1:]], ["dns", "mail", "vpn"])
        self.assertEqual(rows[2][1], "16200")
        self.assertEqual(rows[2][3], "INC-1 INC-2")

        code, out, err = cli("durations", "--data", self.svc.data_dir, "--from", "2026-11-10T00:00:00Z",
                             "--to", "2026-11-11T00:00:00Z", "--by", "system", "--format", "csv")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.replace("\r\n", "\n").strip(), response.raw.decode().replace("\r\n", "\n").strip())

        code, out, err = cli("durations", "--data", self.svc.data_dir, "--from", "2026-11-10T00:00:00Z",
                             "--to", "2026-11-11T00:00:00Z", "--by", "incident", "--format", "csv",
                             "--as-of", self.before_correction)
        self.assertEqual(code, 0, err)
        rows = list(csv.reader(io.StringIO(out)))
        self.assertEqual(rows[0], ["ticket", "seconds", "ongoing"])
        self.assertEqual(rows[2], ["INC-2", "10800", "false"])

    def test_per_day_availability_follows_the_time_zone(self):
        code, out, err = cli("availability", "--data", self.svc.data_dir, "--system", "mail", "--days", "2",
                             "--end-date", "2026-11-10", "--timezone", "Europe/Berlin")
        self.assertEqual(code, 0, err)
        import json
        days = json.loads(out)["days"]
        self.assertEqual([day["date"] for day in days], ["2026-11-09", "2026-11-10"])
        # Berlin's Nov 10 is [Nov 9 23:00Z, Nov 10 23:00Z): INC-1 from 23:00Z; INC-2 as corrected.
        # union = [23:00Z, 03:00Z] + [05:00Z, 06:30Z] = 4 h + 1.5 h = 19800 s.
        self.assertEqual(days[1]["downtime_seconds"], 19800)
        # Berlin's Nov 9 ends at 23:00Z: INC-1's first hour (22:00Z-23:00Z) falls on it.
        self.assertEqual(days[0]["downtime_seconds"], 3600)
        code, _, err = cli("availability", "--data", self.svc.data_dir, "--timezone", "Mars/Olympus")
        self.assertEqual(code, 2)
        self.assertIn("timezone", err)

    def test_bad_parameters_name_themselves(self):
        for query, field in (("by=team", "by"), ("format=xml", "format"), ("format=csv", "by"),
                             ("from=yesterday", "from"), ("from=2026-11-11T00:00:00Z&to=2026-11-10T00:00:00Z", "to"),
                             ("colour=red", "colour")):
            with self.subTest(query=query):
                response = self.svc.get("/api/v1/durations?" + query)
                self.assertEqual(response.status, 400, response)
                self.assertEqual(response.data["error"]["field"], field)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
