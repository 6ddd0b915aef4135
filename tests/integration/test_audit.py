"""Auditors: verification, export/import, backup, tamper evidence and
point-in-time reads, against the real binary."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFIER = os.path.join(HERE, "verify_export.py")
TIMEOUT_SECONDS = 120


def run_cli(*arguments, stdin=None):
    """Runs `incident-ledger ARGUMENTS...`; returns (exit code, stdout, stderr)."""
    completed = subprocess.run([service.ledger_binary(), *arguments], input=stdin, capture_output=True,
                               timeout=TIMEOUT_SECONDS)
    return completed.returncode, completed.stdout.decode(), completed.stderr.decode()


def tamper_tool():
    tool = os.environ.get("LEDGER_TAMPER_TOOL")
    if not tool:
        raise RuntimeError("LEDGER_TAMPER_TOOL is not set (ctest sets it to the ledger-tamper binary)")
    return tool


def create(svc, title, **fields):
    body = {"action": "create", "title": title, "systems": fields.pop("systems", ["mail"]), "engineer": "Ana"}
    body.update(fields)
    response = svc.submit(body)
    assert response.status == 201, response
    return response.data["ticket"]


class AuditTest(service.ServiceTestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-audit-")
        self.addCleanup(self.scratch.cleanup)

    def path(self, name):
        return os.path.join(self.scratch.name, name)

    def fill(self, svc):
        first = create(svc, "Mail down", systems=["mail", "vpn"], submission_id="a-1")
        second = create(svc, "DNS slow", systems=["dns"], severity="critical")
        self.assertStatus(svc.submit({"action": "update", "ticket": first, "note": "MX rebooted <b>now</b>"}), 201)
        self.assertStatus(svc.submit({"action": "close", "ticket": first}), 201)
        self.assertStatus(svc.submit({"action": "reopen", "ticket": first}), 201)
        self.assertStatus(svc.submit({"action": "close", "ticket": second}), 201)
        return first, second

    def test_export_verifies_with_the_independent_script(self):
        svc = self.start_service()
        self.fill(svc)
        served = svc.get("/api/v1/verify").data
        self.assertTrue(served["ok"], served)
        self.assertEqual(served["events"], 6)
        # Exported while the service runs (the CLI opens the ledger read-only).
        code, out, err = run_cli("export", "--data", svc.data_dir)
        self.assertEqual(code, 0, err)
        with open(self.path("log.ndjson"), "w") as handle:
            handle.write(out)
        self.assertEqual(out.splitlines()[0], service_json_line(svc, 1))
        checked = subprocess.run([sys.executable, VERIFIER, self.path("log.ndjson")], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn('"head_hash": "%s"' % served["head_hash"], checked.stdout)

        # The same script catches a record altered in the file.
        lines = out.splitlines()
        import json
        event = json.loads(lines[2])
        event["record"] = event["record"][:-4] + ("AAAA" if event["record"][-4:] != "AAAA" else "BBBB")
        lines[2] = json.dumps(event)
        with open(self.path("altered.ndjson"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
        altered = subprocess.run([sys.executable, VERIFIER, self.path("altered.ndjson")], capture_output=True, text=True)
        self.assertEqual(altered.returncode, 1)
        self.assertIn("line 3", altered.stderr)

    def test_import_rebuilds_the_identical_ledger_and_refuses_a_broken_chain(self):
        svc = self.start_service()
        first, _ = self.fill(svc)
        state = svc.get("/api/v1/incidents/" + first).data
        head = svc.get("/api/v1/verify").data
        code, exported, err = run_cli("export", "--data", svc.data_dir)
        self.assertEqual(code, 0, err)

        code, out, err = run_cli("import", "--data", self.path("copy"), stdin=exported.encode())
        self.assertEqual(code, 0, err)
        self.assertIn('"head_hash":"%s"' % head["head_hash"], out)
        code, out, err = run_cli("verify", "--data", self.path("copy"))
        self.assertEqual(code, 0, err)
        self.assertIn(head["head_hash"], out)
        copy = self.start_service(data_dir=self.path("copy"))
        self.assertEqual(copy.get("/api/v1/incidents/" + first).data, state)
        # The idempotency index came along: a repeat answers the original event.
        repeat = copy.submit({"action": "create", "title": "Mail down", "systems": ["mail", "vpn"], "engineer": "Ana",
                              "submission_id": "a-1"})
        self.assertEqual((repeat.status, repeat.data["seq"]), (201, 1))
        # And ticket numbers continue after the imported ones.
        self.assertEqual(create(copy, "After import"), "INC-3")

        lines = exported.splitlines()
        broken = "\n".join(lines[:3] + lines[4:]) + "\n"  # seq 4 removed
        code, _, err = run_cli("import", "--data", self.path("broken"), stdin=broken.encode())
        self.assertEqual(code, 2)
        self.assertIn("line 4", err)
        self.assertFalse(os.path.exists(self.path("broken")), "a refused import leaves nothing behind")

    def test_backup_while_serving_is_consistent_and_verifiable(self):
        svc = self.start_service(extra_args=["--backup-dir", self.scratch.name])
        self.fill(svc)
        code, out, err = run_cli("backup", "--data", svc.data_dir, "--to", self.path("backup"))
        self.assertEqual(code, 0, err)
        self.assertIn('"ok":true', out)
        self.assertStatus(svc.submit({"action": "update", "ticket": "INC-2", "note": "after the backup"}), 201)
        code, out, err = run_cli("verify", "--data", self.path("backup"))
        self.assertEqual(code, 0, err)
        self.assertIn('"head_seq":6', out)
        code, _, err = run_cli("backup", "--data", svc.data_dir, "--to", self.path("backup"))
        self.assertNotEqual(code, 0)
        self.assertIn("does not exist yet", err)

    def test_a_tampered_byte_is_named_and_never_served(self):
        svc = self.start_service()
        self.fill(svc)
        svc.stop()
        subprocess.run([tamper_tool(), svc.data_dir, "3"], check=True)
        code, out, err = run_cli("verify", "--data", svc.data_dir)
        self.assertEqual(code, 1, out + err)
        self.assertIn('"bad_seq":3', out)
        self.assertIn("seq 3", err)
        # The service does not serve it on: its background check of the whole
        # chain names the event and stops it, with exit status 2.
        started = subprocess.run([service.ledger_binary(), "serve", "--data", svc.data_dir, "--listen", "127.0.0.1:0"],
                                 capture_output=True, text=True, timeout=TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        self.assertEqual(started.returncode, 2, started.stdout + started.stderr)
        self.assertIn("event 3", started.stderr)

        # Without a projection checkpoint, the start itself folds event 3 and refuses before listening.
        import shutil
        shutil.rmtree(os.path.join(svc.data_dir, "projections"))
        started = subprocess.run([service.ledger_binary(), "serve", "--data", svc.data_dir, "--listen", "127.0.0.1:0"],
                                 capture_output=True, text=True, timeout=TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        self.assertEqual(started.returncode, 2, started.stdout + started.stderr)
        self.assertIn("event 3", started.stderr)
        self.assertNotIn("listening", started.stdout)

    def test_as_of_answers_what_was_served_then(self):
        svc = self.start_service()
        window = "from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"
        recorded = []  # (head seq, ticket answer, list answer)

        def snapshot(ticket):
            before = svc.head_seq()
            single = svc.get("/api/v1/incidents/" + ticket).data
            listing = svc.get("/api/v1/incidents?" + window).data
            self.assertEqual(svc.head_seq(), before)
            # A current list names the event it reflects; an as_of list is that point itself.
            self.assertEqual(listing.pop("applied_seq"), before)
            recorded.append((before, ticket, single, listing))

        first = create(svc, "Mail down", started_at="2026-11-20T08:00:00+01:00")
        snapshot(first)
        second = create(svc, "DNS slow", systems=["dns"], started_at="2026-11-21T08:00:00Z")
        snapshot(second)
        for fields in ({"action": "update", "ticket": first, "title": "Mail delayed", "systems": ["mail"]},
                       {"action": "close", "ticket": first, "ended_at": "2026-11-20T10:00:00+01:00"},
                       {"action": "update", "ticket": first, "ended_at": "2026-11-20T11:00:00+01:00"},
                       {"action": "reopen", "ticket": first},
                       {"action": "close", "ticket": second}):
            self.assertStatus(svc.submit(fields), 201)
            snapshot(fields["ticket"])

        for seq, ticket, single, listing in recorded:
            self.assertEqual(svc.get("/api/v1/incidents/%s?as_of_seq=%d" % (ticket, seq)).data, single, seq)
            self.assertEqual(svc.get("/api/v1/incidents?%s&as_of_seq=%d" % (window, seq)).data, listing, seq)
        early = svc.get("/api/v1/incidents/%s?as_of_seq=1" % second)
        self.assertEqual(early.status, 404)
        # as_of by time: the moment event 3 was recorded.
        events = svc.all_events()
        at = events[2]["recorded_at"]
        self.assertEqual(svc.get("/api/v1/incidents/%s?as_of=%s" % (first, at)).data["title"], "Mail delayed")
        before = svc.get("/api/v1/incidents/%s?as_of=%s" % (first, events[0]["recorded_at"])).data
        self.assertEqual(before["title"], "Mail down")
        self.assertEqual(svc.get("/api/v1/incidents/%s?as_of_seq=2&as_of=%s" % (first, at)).status, 400)


def service_json_line(svc, seq):
    """The NDJSON feed's line for one event, as the service serves it."""
    response = svc.get("/api/v1/events?after=%d&limit=1" % (seq - 1), headers={"Accept": "application/x-ndjson"})
    return response.raw.decode().splitlines()[0]


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
