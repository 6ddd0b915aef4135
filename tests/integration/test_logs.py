"""The service's log against the real binary: one access line per answered
request (method, path with secrets redacted, status, bytes, duration,
principal, request id, the same id in the X-Request-Id header), the text and
JSON line shapes of `--log-format`, `--access-log off`, and refused values of
both options.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

WAIT_SECONDS = 10


def wait_for(predicate, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("not within %ds: %s" % (WAIT_SECONDS, what))


class AccessLogTest(service.ServiceTestCase):

    def json_lines(self, ledger):
        """Every stderr line after the start, each parsed (a line that is not JSON fails the test)."""
        lines = []
        for line in ledger.read_log().splitlines():
            if not line.strip():
                continue
            try:
                lines.append(json.loads(line))
            except ValueError:
                self.fail("a log line is not JSON: %r" % line)
        return lines

    def test_json_lines_name_the_principal_and_the_request_id_and_redact_secrets(self):
        folder = tempfile.mkdtemp(prefix="ledger-logs-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", folder]))
        auth_file = os.path.join(folder, "tokens")
        token = service.add_token(auth_file, "ana", "helpdesk")
        ledger = self.start_service(extra_args=("--auth-file", auth_file, "--log-format", "json"))

        # Refused for its unknown parameters, and logged all the same.
        answer = ledger.get("/api/v1/incidents?limit=5&token=s3cret&email=someone%40example.org",
                            headers=service.bearer(token))
        self.assertStatus(answer, 400)
        request_id = answer.headers.get("X-Request-Id")
        self.assertRegex(request_id or "", r"^[0-9a-f]{16}$")
        refused = ledger.get("/api/v1/incidents", headers=service.bearer("wrong"))
        self.assertStatus(refused, 401)

        # Both lines, whatever else the service logged (the test harness may
        # ask for other paths, such as the OpenAPI document, first).
        wanted = {request_id, refused.headers.get("X-Request-Id")}

        def access_lines():
            lines = [line for line in self.json_lines(ledger) if line.get("component") == "access"]
            return lines if wanted <= {line.get("request_id") for line in lines} else None

        lines = wait_for(access_lines, "the access lines of both requests")
        mine = [line for line in lines if line["request_id"] == request_id]
        self.assertEqual(len(mine), 1, lines)
        line = mine[0]
        self.assertEqual(line["method"], "GET")
        self.assertEqual(line["path"], "/api/v1/incidents?limit=5&token=redacted&email=redacted")
        self.assertEqual(line["status"], "400")
        self.assertEqual(line["principal"], "ana")
        self.assertEqual(int(line["bytes"]), len(answer.raw))
        self.assertGreaterEqual(float(line["duration_ms"]), 0)
        self.assertEqual(line["client"], "127.0.0.1")
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        other = [line for line in lines if line["request_id"] == refused.headers.get("X-Request-Id")]
        self.assertEqual([(line["status"], line["principal"]) for line in other], [("401", "-")])
        log = ledger.read_log()
        self.assertNotIn("s3cret", log)
        self.assertNotIn("someone", log)
        self.assertNotIn(token, log)
        # The other messages are JSON lines too (json_lines fails on any that is not).
        self.assertTrue(any(line.get("component") == "incident-ledger" and "serving" in line["message"]
                            for line in self.json_lines(ledger)))

    def test_text_lines_by_default_and_a_closed_stream_is_logged_with_its_bytes(self):
        ledger = self.start_service()
        answer = ledger.get("/healthz")
        self.assertStatus(answer, 200)
        request_id = answer.headers["X-Request-Id"]
        line = wait_for(lambda: next((line for line in ledger.read_log().splitlines()
                                      if "request_id=" + request_id in line), None), "the access line")
        self.assertTrue(line.startswith("access: GET /healthz method=GET path=/healthz status=200 bytes=%d "
                                        % len(answer.raw)), line)
        self.assertIn(" principal=- ", line)

        connection = ledger.connection()
        connection.request("GET", "/api/v1/events/stream", headers={"Accept": "text/event-stream"})
        stream = connection.getresponse()
        self.assertEqual(stream.status, 200)
        stream_id = stream.getheader("X-Request-Id")
        first = stream.readline()
        self.assertTrue(first.startswith(b"retry:"), first)
        stream.close()
        connection.close()
        line = wait_for(lambda: next((line for line in ledger.read_log().splitlines()
                                      if "request_id=" + stream_id in line), None), "the stream's access line")
        self.assertIn("path=/api/v1/events/stream status=200 ", line)
        self.assertNotIn(" bytes=0 ", line)

    def test_access_log_off_keeps_the_request_id_header(self):
        ledger = self.start_service(extra_args=("--access-log", "off"))
        answer = ledger.get("/healthz")
        self.assertRegex(answer.headers.get("X-Request-Id") or "", r"^[0-9a-f]{16}$")
        time.sleep(0.3)
        self.assertNotIn("access: ", ledger.read_log())

    def test_bad_values_are_refused_naming_the_option(self):
        folder = tempfile.mkdtemp(prefix="ledger-logs-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", folder]))
        for option, value in (("--log-format", "xml"), ("--access-log", "maybe")):
            done = subprocess.run([service.ledger_binary(), "serve", "--data", os.path.join(folder, "d"),
                                   "--listen", "127.0.0.1:0", option, value],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn(option, done.stderr)
            self.assertIn("'%s'" % value, done.stderr)
            self.assertEqual(done.stdout, "")


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
