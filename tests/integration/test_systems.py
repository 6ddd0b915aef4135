"""The catalog of systems against the real binary (DESIGN.md: SYSTEM_* events,
/api/v1/systems, "Systems match case-insensitively and through aliases
everywhere"), with an auth file and a real SMTP server (Debian's
python3-aiosmtpd on a loopback port):

- only an admin changes the catalog (no credentials: 401; viewer and help
  desk: 403); malformed,
  hostile and conflicting changes answer 400/404/409 naming the problem and
  append nothing;
- incidents on `DNS` and `dns` that overlap are one system whose downtime is
  the union; after `Mail` is aliased to `E-mail`, figures as corrected merge
  them, figures as of before the alias do not; the incident list's `system`
  filter finds an alias's incidents under its name and a group's members;
- a subscriber to a group is mailed about an incident on a member system
  (also one named through an alias), a subscriber to `dns` about `DNS`;
- `serve --systems strict`: a system the catalog does not know, or retired,
  is a 400 naming it, through JSON, the form encoding and the maintenance
  route, and nothing is appended; an alias's spelling is accepted;
- the catalog's events go through export, import and verify, and the copy
  answers the same catalog.

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_systems.py
"""

import os
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402
from service import ServiceTestCase, add_token, bearer  # noqa: E402

service.require_modules(["aiosmtpd"], ["python3-aiosmtpd"])
from test_notifications import SmtpServer, smtp_args  # noqa: E402

WAIT_SECONDS = 90
DAY = "2026-11-20T"
HOUR = 3600


def at(hour, minute=0):
    return "%s%02d:%02d:00Z" % (DAY, hour, minute)


class CatalogTest(ServiceTestCase):

    def setUp(self):
        import tempfile
        self.folder = tempfile.TemporaryDirectory(prefix="ledger-systems-")
        self.addCleanup(self.folder.cleanup)
        auth_file = os.path.join(self.folder.name, "auth.txt")
        self.desk = bearer(add_token(auth_file, "desk", "helpdesk"))
        self.reader = bearer(add_token(auth_file, "reader", "viewer"))
        self.boss = bearer(add_token(auth_file, "boss", "admin"))
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ledger = self.start_service(extra_args=["--auth-file", auth_file] + smtp_args(self.smtp))

    def change(self, body, headers=None, status=201):
        answer = self.ledger.request("POST", "/api/v1/systems", body, headers=self.boss if headers is None else headers)
        self.assertStatus(answer, status, "POST /api/v1/systems %r" % (body,))
        return answer.data

    def submit(self, fields):
        answer = self.ledger.submit(fields, headers=self.desk)
        self.assertStatus(answer, 201, "submit %r" % fields)
        return answer.data

    def outage(self, systems, start, end=None):
        ticket = self.submit({"action": "create", "title": "down", "engineer": "Ana", "systems": systems,
                              "started_at": start})["ticket"]
        if end is not None:
            self.submit({"action": "close", "ticket": ticket, "ended_at": end})
        return ticket

    def durations(self, extra=""):
        answer = self.ledger.get("/api/v1/durations?from=%s&to=%s%s" % (at(0), at(23), extra), headers=self.reader)
        self.assertStatus(answer, 200, "durations")
        return {s["system"]: (s["downtime_seconds"], s["tickets"]) for s in answer.data["systems"]}

    def listed(self, system):
        query = urllib.parse.urlencode({"system": system, "from": at(0), "to": at(23)})
        answer = self.ledger.get("/api/v1/incidents?" + query, headers=self.reader)
        self.assertStatus(answer, 200, "incidents")
        return sorted(i["ticket"] for i in answer.data["incidents"])

    def mailed(self):
        """{recipient: set of tickets mailed about}"""
        out = {}
        for recipients, message in self.smtp.mailbox.snapshot():
            for recipient in recipients:
                out.setdefault(recipient, set()).add(message["X-Incident-Ticket"])
        return out

    def wait_sent(self):
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            answer = self.ledger.get("/api/v1/notifications?state=pending", headers=self.boss)
            if answer.status == 200 and answer.data["count"] == 0:
                return
            time.sleep(0.1)
        self.fail("mail still pending")

    def test_roles_and_bad_changes_append_nothing(self):
        self.assertEqual(self.ledger.get("/api/v1/systems", headers=self.reader).data["systems"], [])
        self.assertStatus(self.ledger.get("/api/v1/systems"), 401, "GET without credentials")
        self.change({"action": "define", "name": "DNS"}, headers={}, status=401)
        self.change({"action": "define", "name": "DNS"}, headers=self.reader, status=403)
        self.change({"action": "define", "name": "DNS"}, headers=self.desk, status=403)
        defined = self.change({"action": "define", "name": "E-mail", "group": "Mail services",
                               "owner": "Mail-Team@Example.org", "description": "<b>webmail</b> & IMAP"})
        self.assertEqual(defined["system"], "E-mail")
        self.assertEqual(defined["event"]["type"], "SYSTEM_DEFINED")
        self.assertEqual(defined["event"]["ticket"], "")
        head = self.ledger.head_seq()
        for body, status, field, words in (
                ({"action": "define", "name": "a,b"}, 400, "name", "comma"),
                ({"action": "define", "name": "*"}, 400, "name", "every system"),
                ({"action": "define", "name": ""}, 400, "name", "empty"),
                ({"action": "define", "name": "x" * 101}, 400, "name", "100"),
                ({"action": "define", "name": "bad\u202eline"}, 400, "name", "U+202E"),
                ({"action": "explode", "name": "DNS"}, 400, "action", "define, update, alias, retire"),
                ({"action": "define", "name": "DNS", "colour": "red"}, 400, "colour", "unknown field"),
                ({"action": "define", "name": "DNS", "owner": "not an address"}, 400, "owner", ""),
                ({"action": "retire", "name": "DNS", "group": "x"}, 400, "group", "does not apply"),
                ({"action": "update", "name": "E-mail"}, 400, "", "at least one"),
                ({"action": "alias", "name": "E-mail"}, 400, "alias", "required"),
                ({"action": "define", "name": "e-MAIL"}, 409, "name", "already defined"),
                ({"action": "alias", "name": "Nowhere", "alias": "x"}, 404, "name", "not in the catalog"),
                ({"action": "alias", "name": "E-mail", "alias": "E-MAIL"}, 409, "alias", "same system"),
                ({"action": "update", "name": "Nowhere", "group": "x"}, 404, "name", "not in the catalog")):
            answer = self.change(body, status=status)
            self.assertEqual(answer["error"]["field"], field, body)
            self.assertIn(words, answer["error"]["message"], body)
        for raw, content_type in (("[1,2]", "application/json"), ("{\"action\":", "application/json"),
                                  ("action=define", "text/plain")):
            answer = self.ledger.request("POST", "/api/v1/systems", raw.encode(),
                                         headers=dict(self.boss, **{"Content-Type": content_type}))
            self.assertIn(answer.status, (400, 415), raw)
        self.assertEqual(self.ledger.head_seq(), head, "refused changes appended something")

        # The form encoding, an update that clears a field, and a retire.
        self.change("action=update&name=e-mail&owner=&description=IMAP+and+webmail".encode(),
                    headers=dict(self.boss, **{"Content-Type": "application/x-www-form-urlencoded"}))
        self.change({"action": "define", "name": "VPN"})
        self.change({"action": "retire", "name": "vpn"})
        self.change({"action": "retire", "name": "VPN"}, status=409)
        catalog = self.ledger.get("/api/v1/systems", headers=self.reader).data
        by_name = {s["name"]: s for s in catalog["systems"]}
        self.assertEqual(by_name["E-mail"]["owner"], "")
        self.assertEqual(by_name["E-mail"]["description"], "IMAP and webmail")
        self.assertEqual(by_name["E-mail"]["group"], "Mail services")
        self.assertTrue(by_name["VPN"]["retired"])
        self.assertEqual(catalog["groups"], ["Mail services"])
        only_retired = self.ledger.get("/api/v1/systems?retired=true", headers=self.reader).data
        self.assertEqual([s["name"] for s in only_retired["systems"]], ["VPN"])
        self.assertStatus(self.ledger.get("/api/v1/systems?retired=maybe", headers=self.reader), 400, "retired")
        # Open mode: a retired system may still be named.
        self.outage(["vpn"], at(1))

    def test_one_system_whatever_the_case_aliases_and_groups(self):
        self.change({"action": "define", "name": "E-mail", "group": "Mail services"})
        subscribe = self.ledger.request("POST", "/api/v1/subscriptions",
                                        {"email": "team@example.org", "systems": ["mail SERVICES"]}, headers=self.boss)
        self.assertStatus(subscribe, 201, "subscribe to a group")
        subscribe = self.ledger.request("POST", "/api/v1/subscriptions",
                                        {"email": "dns@example.org", "systems": ["dns"]}, headers=self.boss)
        self.assertStatus(subscribe, 201, "subscribe to dns")

        one = self.outage(["DNS"], at(1), at(3))
        two = self.outage(["dns"], at(2), at(4))
        three = self.outage(["Mail"], at(5), at(6))
        four = self.outage(["E-mail"], at(5, 30), at(7))
        before = self.durations()
        self.assertEqual(before["DNS"], (3 * HOUR, [one, two]))  # the union: 01:00-04:00
        self.assertEqual(before["Mail"], (HOUR, [three]))
        self.assertEqual(before["E-mail"], (HOUR * 3 // 2, [four]))
        self.assertEqual(self.listed("dns"), [one, two])
        self.assertEqual(self.listed("Mail services"), [four])
        head_before_alias = self.ledger.head_seq()

        aliased = self.change({"action": "alias", "name": "e-mail", "alias": "Mail"})
        self.assertEqual(aliased["event"]["payload"], {"name": "E-mail", "alias": "Mail"})
        now = self.durations()
        self.assertEqual(sorted(now), ["DNS", "E-mail"])
        self.assertEqual(now["E-mail"], (2 * HOUR, [three, four]))  # 05:00-07:00
        self.assertEqual(self.durations("&as_of_seq=%d" % head_before_alias), before)
        self.assertEqual(self.listed("mail"), [three, four])
        self.assertEqual(self.listed("MAIL SERVICES"), [three, four])
        catalog = {s["name"]: s for s in self.ledger.get("/api/v1/systems", headers=self.reader).data["systems"]}
        self.assertEqual(sorted(catalog), ["DNS", "E-mail"])
        self.assertEqual(catalog["E-mail"]["aliases"], ["Mail"])
        self.assertFalse(catalog["DNS"]["declared"])  # defined by its first use

        # A note on the Mail incident now reaches the group's subscriber.
        self.submit({"action": "update", "ticket": three, "note": "root cause found"})
        self.wait_sent()
        mailed = self.mailed()
        self.assertEqual(mailed.get("dns@example.org"), {one, two})
        self.assertEqual(mailed.get("team@example.org"), {three, four})

        # The availability strip has one row per system.
        strip = self.ledger.get("/api/v1/availability?days=3&timezone=UTC&end_date=2026-11-21", headers=self.reader)
        self.assertStatus(strip, 200, "availability")
        self.assertEqual([s["system"] for s in strip.data["systems"]], ["DNS", "E-mail"])
        # Restart: the catalog comes back from the checkpoint the same.
        self.ledger.restart()
        self.assertEqual(self.durations(), now)
        self.assertEqual(self.durations("&as_of_seq=%d" % head_before_alias), before)


class StrictCatalogTest(ServiceTestCase):

    def test_unknown_and_retired_systems_are_refused_by_name(self):
        ledger = self.start_service(extra_args=["--systems", "strict"])
        self.assertStatus(ledger.request("POST", "/api/v1/systems", {"action": "define", "name": "DNS"}), 201, "define")
        self.assertStatus(ledger.request("POST", "/api/v1/systems",
                                         {"action": "alias", "name": "DNS", "alias": "resolver"}), 201, "alias")
        self.assertStatus(ledger.submit({"action": "create", "title": "t", "engineer": "Ana", "systems": ["dns"]}),
                          201, "a known system in another case")
        self.assertStatus(ledger.submit({"action": "create", "title": "t", "engineer": "Ana",
                                         "systems": ["RESOLVER"]}), 201, "an alias")
        head = ledger.head_seq()
        for answer in (
                ledger.submit({"action": "create", "title": "t", "engineer": "Ana", "systems": ["DNS", "Payroll"]}),
                ledger.submit({"action": "create", "title": "t", "engineer": "Ana", "systems": "Payroll"}, form=True),
                ledger.request("POST", "/api/v1/maintenance",
                               {"action": "schedule", "title": "patch", "systems": ["Payroll"],
                                "starts_at": "2026-12-01T01:00:00Z", "ends_at": "2026-12-01T02:00:00Z"})):
            self.assertStatus(answer, 400, "an unknown system")
            if answer.data is not None and isinstance(answer.data, dict) and "error" in answer.data:
                self.assertEqual(answer.data["error"]["field"], "systems")
                self.assertIn("'Payroll' is not in the catalog", answer.data["error"]["message"])
            else:
                self.assertIn(b"Payroll", answer.raw)
        self.assertStatus(ledger.request("POST", "/api/v1/systems", {"action": "retire", "name": "dns"}), 201, "retire")
        refused = ledger.submit({"action": "create", "title": "t", "engineer": "Ana", "systems": ["resolver"]})
        self.assertStatus(refused, 400, "a retired system")
        self.assertIn("'DNS' is retired", refused.data["error"]["message"])
        self.assertEqual(ledger.head_seq(), head + 1, "only the retire was appended")

        # The catalog's events go through export, import and verify like any
        # other, and the copy answers the same catalog.
        catalog = ledger.get("/api/v1/systems").data
        exported = subprocess.run([service.ledger_binary(), "export", "--data", ledger.data_dir],
                                  capture_output=True, timeout=120)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        self.assertIn(b'"type":"SYSTEM_ALIASED"', exported.stdout)
        import tempfile
        folder = tempfile.TemporaryDirectory(prefix="ledger-systems-copy-")
        self.addCleanup(folder.cleanup)  # registered first: runs after the copy's own clean-up
        copy_dir = os.path.join(folder.name, "copy")
        for arguments, stdin in ((["import", "--data", copy_dir], exported.stdout),
                                 (["verify", "--data", copy_dir], None)):
            done = subprocess.run([service.ledger_binary(), *arguments], input=stdin, capture_output=True,
                                  timeout=120)
            self.assertEqual(done.returncode, 0, done.stderr)
        copy = self.start_service(data_dir=copy_dir)
        self.assertEqual(copy.get("/api/v1/systems").data["systems"], catalog["systems"])


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
