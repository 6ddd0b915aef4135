"""Followers and read-only copies, against the real binaries.

- `follow --from URL --data DIR` started on an empty folder catches up with a
  primary of a few thousand events (tests/generate_tool.cc), byte for byte;
  killed (SIGKILL) in the middle and started again it resumes where its
  ledger stops; it works through a primary that wants a token (--token-file)
- `serve --follow URL` stays within a second of a primary under a steady
  stream of submissions, serves what it copies (reads, the event stream),
  answers 503 to writes, and shows its lag in /metrics
- a primary whose history was rewritten (ledger-tamper --rewrite: one event
  changed, every later hash, the head and the tree re-hashed) is refused
  with the seq of the rewritten event, and the copy is left as it was
- `serve --read-only` serves a copy without writing: reads, the dashboard
  and the stream work, every write answers 503 naming the read-only copy

Run: LEDGER_BINARY=build/debug/app/incident-ledger LEDGER_TAMPER_TOOL=build/debug/tests/ledger-tamper \
     LEDGER_GENERATE_TOOL=build/debug/tests/ledger-generate python3 tests/integration/test_follow.py
"""

import base64
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

INCIDENTS = 1500  # 3,000 events
TIMEOUT_SECONDS = 120
CATCH_UP_SECONDS = 120
LAG_LIMIT_SECONDS = 1.0


def tool(variable):
    path = os.environ.get(variable)
    if not path:
        raise RuntimeError("%s is not set (ctest sets it)" % variable)
    return path


def run_cli(*arguments, stdin=None):
    completed = subprocess.run([service.ledger_binary(), *arguments], input=stdin, capture_output=True,
                               timeout=TIMEOUT_SECONDS)
    return completed.returncode, completed.stdout.decode(), completed.stderr.decode()


def verify(data_dir):
    """`verify --data DIR` (read-only, works beside a running follower): its JSON report."""
    code, out, err = run_cli("verify", "--data", data_dir)
    if code != 0:
        raise AssertionError("verify --data %s exited %d: %s %s" % (data_dir, code, out, err))
    return json.loads(out)


def export_lines(data_dir):
    code, out, err = run_cli("export", "--data", data_dir)
    if code != 0:
        raise AssertionError("export exited %d: %s" % (code, err))
    return out.splitlines()


def folder_state(folder):
    """Every file below `folder` with its size and modification time, but RocksDB's own info logs (LOG*),
    which any open of the database writes, also a read-only one."""
    state = []
    for root, _, files in os.walk(folder):
        for name in files:
            if name.startswith("LOG"):
                continue
            path = os.path.join(root, name)
            state.append((os.path.relpath(path, folder), os.path.getsize(path), os.path.getmtime(path)))
    return sorted(state)


class Follower:
    """`incident-ledger follow` as a child process; its stderr kept in a file."""

    def __init__(self, url, data_dir, log_dir, extra=()):
        self.command = [service.ledger_binary(), "follow", "--from", url, "--data", data_dir, *extra]
        self.log_path = os.path.join(log_dir, "follow-%d.log" % time.monotonic_ns())
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self.log_file)

    def log(self):
        with open(self.log_path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")

    def stop(self, signum=signal.SIGTERM, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()
        self.process.stdout.close()
        return self.process.returncode

    def wait(self, timeout):
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGKILL)
            raise AssertionError("follow did not stop within %ds; its log:\n%s" % (timeout, self.log()))
        out = self.process.stdout.read().decode()
        self.log_file.close()
        self.process.stdout.close()
        return code, out


class ForgingProxy:
    """A loopback HTTP server in front of a primary: passes every GET through, but alters the events pages
    as `mode` says: "record" flips a bit of event 5's record (its hash left as it was), "garbage" answers
    them with bytes that are not JSON."""

    def __init__(self, primary, mode):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                connection = http.client.HTTPConnection(primary.host, primary.port, timeout=60)
                connection.request("GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
                answer = connection.getresponse()
                body = answer.read()
                connection.close()
                if self.path.startswith("/api/v1/events?"):
                    if mode == "garbage":
                        body = b"{this is not json"
                    elif mode == "record":
                        page = json.loads(body)
                        for event in page["events"]:
                            if event["seq"] == 5:
                                record = bytearray(base64.b64decode(event["record"]))
                                record[-1] ^= 1
                                event["record"] = base64.b64encode(bytes(record)).decode()
                        body = json.dumps(page).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *arguments):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class FollowTest(service.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        cls.workspace = tempfile.TemporaryDirectory(prefix="ledger-follow-")
        cls.generated = os.path.join(cls.workspace.name, "generated")
        completed = subprocess.run([tool("LEDGER_GENERATE_TOOL"), cls.generated, str(INCIDENTS)],
                                   capture_output=True, text=True, timeout=600)
        if completed.returncode != 0:
            raise RuntimeError("ledger-generate failed: " + completed.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.workspace.cleanup()

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-follow-case-")
        self.addCleanup(self.scratch.cleanup)

    def primary_copy(self):
        """A primary's data folder: a copy of the generated ledger (closed, so its files are the ledger)."""
        folder = os.path.join(self.scratch.name, "primary")
        shutil.copytree(self.generated, folder)
        return folder

    def follower(self, url, data_dir, extra=()):
        follower = Follower(url, data_dir, self.scratch.name, extra)
        self.addCleanup(lambda: follower.process.poll() is None and follower.stop(signal.SIGKILL))
        return follower

    def wait_for_head(self, data_dir, head_seq, what, follower=None):
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            if os.path.exists(os.path.join(data_dir, "CURRENT")):
                report = verify(data_dir)
                if report["head_seq"] >= head_seq:
                    return report
            if follower is not None and follower.process.poll() is not None:
                self.fail("%s: follow exited %s; its log:\n%s" % (what, follower.process.returncode, follower.log()))
            time.sleep(0.2)
        self.fail("%s: the copy did not reach seq %d within %ds" % (what, head_seq, CATCH_UP_SECONDS))

    def test_follow_catches_up_resumes_after_sigkill_and_refuses_a_rewritten_primary(self):
        primary_dir = self.primary_copy()
        auth_file = os.path.join(self.scratch.name, "auth")
        auditor = service.add_token(auth_file, "mirror", "auditor")
        helpdesk = service.add_token(auth_file, "desk", "helpdesk")
        token_file = os.path.join(self.scratch.name, "token")
        with open(token_file, "w") as handle:
            handle.write(auditor + "\n")
        primary = self.start_service(data_dir=primary_dir, extra_args=["--auth-file", auth_file])
        head = primary.get("/healthz").data["head_seq"]
        self.assertEqual(head, 2 * INCIDENTS)
        copy_dir = os.path.join(self.scratch.name, "copy")

        # Without the token the primary refuses: the follower keeps asking,
        # it neither stops nor writes anything.
        refused = self.follower(primary.url, copy_dir)
        time.sleep(1.5)
        self.assertIsNone(refused.process.poll(), refused.log())
        self.assertEqual(refused.stop(), 0, refused.log())
        self.assertIn("HTTP 401", refused.log())
        self.assertEqual(verify(copy_dir)["head_seq"], 0)

        # Killed in the middle of catching up, whatever it had is kept and
        # the next run starts after it.
        first = self.follower(primary.url, copy_dir, ["--token-file", token_file])
        time.sleep(0.3)
        first.stop(signal.SIGKILL)
        kept = verify(copy_dir)["head_seq"]
        second = self.follower(primary.url, copy_dir, ["--token-file", token_file])
        self.wait_for_head(copy_dir, head, "after SIGKILL (%d events kept)" % kept, second)
        deadline = time.monotonic() + 30
        while "from seq" not in second.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("from seq %d" % (kept + 1), second.log())

        # New events reach the running follower.
        ticket = None
        for number in range(5):
            fields = {"action": "create", "title": "Follow %d" % number, "systems": ["mail"], "engineer": "ops"}
            answer = primary.submit(fields, headers=service.bearer(helpdesk))
            self.assertStatus(answer, 201)
            ticket = answer.data["ticket"]
        head += 5
        self.wait_for_head(copy_dir, head, "new events", second)
        self.assertEqual(second.stop(), 0, second.log())
        copy_lines = export_lines(copy_dir)
        self.assertEqual(len(copy_lines), head)
        served = primary.get("/api/v1/events?after=%d&limit=10" % (head - 10), headers=service.bearer(auditor)).data
        self.assertEqual([json.loads(line) for line in copy_lines[-10:]], served["events"])
        copy_report = verify(copy_dir)
        self.assertEqual(copy_report["head_hash"], primary.get("/api/v1/verify", headers=service.bearer(auditor)).data["head_hash"])
        self.assertTrue(os.path.exists(os.path.join(copy_dir, "primary-public-key.pem")))

        # Someone with the primary's disk rewrites event 1,000 and re-hashes
        # everything after it: the primary verifies on its own, the copy
        # refuses it, naming seq 1000, and keeps what it had.
        primary.stop()
        subprocess.run([tool("LEDGER_TAMPER_TOOL"), "--rewrite", primary_dir, "1000"], check=True,
                       capture_output=True, timeout=TIMEOUT_SECONDS)
        primary.start()
        answer = primary.submit({"action": "update", "ticket": ticket, "note": "after the rewrite"},
                                headers=service.bearer(helpdesk))
        self.assertStatus(answer, 201)
        third = self.follower(primary.url, copy_dir, ["--token-file", token_file])
        code, out = third.wait(TIMEOUT_SECONDS)
        self.assertEqual(code, 1, third.log())
        self.assertIn("differs from this copy's at seq 1000", third.log())
        self.assertEqual(json.loads(out)["diverged_seq"], 1000)
        self.assertEqual(verify(copy_dir), copy_report, "the copy is left as it was")
        self.assertEqual(export_lines(copy_dir), copy_lines)

    def test_serve_follow_stays_within_a_second_and_serves_reads_only(self):
        primary = self.start_service(data_dir=self.primary_copy())
        head = primary.head_seq()
        copy_dir = os.path.join(self.scratch.name, "mirror")
        mirror = self.start_service(data_dir=copy_dir, extra_args=["--follow", primary.url, "--poll-ms", "20"])
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while mirror.head_seq() < head:
            self.assertLess(time.monotonic(), deadline, "the mirror did not catch up")
            time.sleep(0.1)

        # The stream of the mirror shows what it copies.
        stream = socket.create_connection((mirror.host, mirror.port), timeout=30)
        self.addCleanup(stream.close)
        stream.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
                        "Last-Event-ID: %d\r\n\r\n" % (mirror.host, mirror.port, head)).encode())

        # A steady stream of submissions to the primary: each is on the
        # mirror within a second.
        delays = []
        for number in range(40):
            submitted = primary.submit({"action": "create", "title": "Steady %d" % number, "systems": ["db"],
                                        "engineer": "ops"})
            self.assertStatus(submitted, 201)
            seq = submitted.data["seq"]
            started = time.monotonic()
            while mirror.head_seq() < seq:
                if time.monotonic() - started > 10:
                    break
                time.sleep(0.005)
            delays.append(time.monotonic() - started)
            time.sleep(0.05)
        self.assertLess(max(delays), LAG_LIMIT_SECONDS, "delays: %r" % delays)
        ticket = submitted.data["ticket"]
        self.assertEqual(mirror.get("/api/v1/incidents/" + ticket).data, primary.get("/api/v1/incidents/" + ticket).data)

        received = b""
        stream.settimeout(10)
        while ("id: %d\n" % seq).encode() not in received:
            chunk = stream.recv(65536)
            self.assertTrue(chunk, "the mirror's stream ended: %r" % received[-2000:])
            received += chunk
        self.assertIn(("id: %d\n" % (head + 1)).encode(), received)
        self.assertIn(b"Steady 39", received)

        metrics = mirror.get("/metrics").data
        lag = float(re.search(r"^ledger_follow_lag_seconds (\S+)$", metrics, re.M).group(1))
        self.assertLess(lag, LAG_LIMIT_SECONDS, metrics)
        self.assertRegex(metrics, r"(?m)^ledger_follow_lag_events 0$")
        self.assertRegex(metrics, r"(?m)^ledger_follow_primary_head_seq %d$" % seq)
        self.assertRegex(metrics, r"(?m)^ledger_follow_diverged_seq 0$")
        self.assertNotRegex(metrics, r"(?m)^ledger_follow_tree_heads_checked_total 0$")

        refused = mirror.submit({"action": "create", "title": "Not here", "systems": ["db"], "engineer": "ops"})
        self.assertError(refused, 503, "unavailable", "read_only", "a submission to the mirror")
        self.assertIn("read-only copy", refused.data["error"]["message"])
        self.assertEqual(mirror.head_seq(), seq, "the refused write appended nothing")

        # Stopped, the primary goes on; the lag grows while the mirror has
        # not got them, and the mirror catches up once it is back.
        mirror.stop()
        for number in range(3):
            self.assertStatus(primary.submit({"action": "create", "title": "While away %d" % number,
                                              "systems": ["db"], "engineer": "ops"}), 201)
        mirror.start()
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while mirror.head_seq() < seq + 3:
            self.assertLess(time.monotonic(), deadline, "the restarted mirror did not catch up")
            time.sleep(0.05)

    def test_serve_read_only_serves_a_copy_without_writing(self):
        primary = self.start_service(data_dir=self.primary_copy())
        head = primary.head_seq()
        copy_dir = os.path.join(self.scratch.name, "copy")
        follower = self.follower(primary.url, copy_dir)
        self.wait_for_head(copy_dir, head, "catch-up", follower)
        self.assertEqual(follower.stop(), 0, follower.log())
        before = folder_state(copy_dir)

        copy = self.start_service(data_dir=copy_dir, extra_args=["--read-only"])
        self.assertEqual(copy.head_seq(), head)
        self.assertStatus(copy.get("/"), 200)
        self.assertStatus(copy.get("/api/v1/incidents/INC-7"), 200)
        self.assertEqual(copy.get("/api/v1/incidents/INC-7").data, primary.get("/api/v1/incidents/INC-7").data)
        proof = copy.get("/api/v1/proofs/inclusion?seq=5")
        self.assertStatus(proof, 200)
        self.assertEqual(proof.data, primary.get("/api/v1/proofs/inclusion?seq=5&tree_size=%d" % head).data)
        self.assertEqual(copy.get("/api/v1/verify").data["head_hash"], primary.get("/api/v1/verify").data["head_hash"])
        for method, path, body in (("POST", "/api/v1/submissions", {"action": "create", "title": "x"}),
                                   ("POST", "/api/v1/maintenance", {"action": "schedule", "title": "x"}),
                                   ("POST", "/api/v1/incidents/INC-7/review", {"summary": "x"}),
                                   ("POST", "/api/v1/backup", {"to": "/tmp/nowhere"}),
                                   ("DELETE", "/api/v1/subscriptions", {"email": "a@example.com"})):
            answer = copy.request(method, path, body)
            self.assertError(answer, 503, "unavailable", "read_only", "%s %s" % (method, path))
            self.assertIn("read-only copy", answer.data["error"]["message"])
        answer = copy.request("POST", "/submit", "action=create&title=x",
                              {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(answer.status, 503)

        stream = socket.create_connection((copy.host, copy.port), timeout=30)
        self.addCleanup(stream.close)
        stream.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: %s:%d\r\nLast-Event-ID: %d\r\n\r\n"
                        % (copy.host, copy.port, head - 2)).encode())
        received = b""
        while ("id: %d\n" % head).encode() not in received:
            chunk = stream.recv(65536)
            self.assertTrue(chunk, "the stream ended: %r" % received[-2000:])
            received += chunk
        self.assertIn(b"200 OK", received)
        self.assertIn(("id: %d\n" % (head - 1)).encode(), received)
        stream.close()
        copy.stop()
        after = folder_state(copy_dir)
        self.assertEqual(after, before, "serve --read-only wrote to its folder")

    def test_forged_or_garbled_answers_write_nothing(self):
        primary = self.start_service(data_dir=self.primary_copy())
        copy_dir = os.path.join(self.scratch.name, "copy")

        # Answers that are not JSON: asked again and again, never a divergence.
        garbage = ForgingProxy(primary, "garbage")
        self.addCleanup(garbage.close)
        patient = self.follower(garbage.url, copy_dir)
        time.sleep(1.5)
        self.assertIsNone(patient.process.poll(), patient.log())
        self.assertEqual(patient.stop(), 0, patient.log())
        self.assertIn("not JSON", patient.log())
        self.assertEqual(verify(copy_dir)["head_seq"], 0)

        # An event whose record does not give its hash: refused, naming it,
        # and nothing of its page is written.
        forged = ForgingProxy(primary, "record")
        self.addCleanup(forged.close)
        refusing = self.follower(forged.url, copy_dir)
        code, out = refusing.wait(TIMEOUT_SECONDS)
        self.assertEqual(code, 1, refusing.log())
        self.assertIn("differs from this copy's at seq 5", refusing.log())
        self.assertIn("hash is not SHA-256(prev_hash || record)", refusing.log())
        self.assertEqual(json.loads(out)["diverged_seq"], 5)
        self.assertEqual(verify(copy_dir)["head_seq"], 0)

    def test_bad_arguments_are_refused_clearly(self):
        for arguments, expected in (
                (["follow", "--data", self.scratch.name + "/a"], "--from URL is required"),
                (["follow", "--data", self.scratch.name + "/a", "--from", "ftp://x"], "must be http://"),
                (["follow", "--data", self.scratch.name + "/a", "--from", "http://u:p@127.0.0.1:1"], "no user:password@"),
                (["follow", "--data", self.scratch.name + "/a", "--from", "http://127.0.0.1:1", "--poll-ms", "0"],
                 "--poll-ms must be"),
                (["serve", "--data", self.scratch.name + "/a", "--read-only", "--smtp-url", "smtp://127.0.0.1:1"],
                 "does not go with --read-only"),
                (["serve", "--data", self.scratch.name + "/a", "--token-file", "/nonexistent"], "go with --follow")):
            code, out, err = run_cli(*arguments)
            self.assertEqual(code, 2, arguments)
            self.assertIn(expected, err, arguments)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
