"""Attacks on the HTTP edge over raw sockets against the real binary: each is
refused before any handler runs, appends nothing, and the service keeps
serving.

- DNS rebinding in open mode (no --auth-file): a page of another site that
  points its own name at 127.0.0.1 sends that name as Host (and a matching
  Origin). Only the listen address, localhost and --allowed-host names are
  served; any other Host gets 421 naming the Host and the flag, reads too.
- Parser leniency (RFC 9112) that a proxy in front could read differently:
  Transfer-Encoding other than exactly `chunked`, Transfer-Encoding with
  Content-Length, Content-Length twice, folded header lines, a missing or
  second Host, two Authorization headers, trailer fields after a chunked
  body (an Authorization there must never authenticate). Each gets 400
  naming the problem.
"""

import json
import os
import socket
import subprocess
import tempfile
import unittest

import service
from service import Service, add_token, exchange, ledger_binary

CREATE = {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Ana",
          "started_at": "2026-11-20T08:00:00Z"}
CREATE_BODY = json.dumps(CREATE).encode()





def chunked(body, trailer=b""):
    """`body` as one chunk and the last chunk, then `trailer` lines and the empty line."""
    return b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(body), body, trailer)


def post(path, headers, body, host=b"127.0.0.1"):
    """A POST with exactly these header lines (bytes, each without CRLF); Host first unless host is None."""
    lines = [b"POST " + path + b" HTTP/1.1"]
    if host is not None:
        lines.append(b"Host: " + host)
    lines += headers
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HardeningTestCase(unittest.TestCase):
    def assertRefused(self, answer, status, *named):
        code, head, body = answer
        self.assertEqual(code, status, (head, body))
        error = json.loads(body)["error"]
        self.assertTrue(error["message"])
        for text in named:
            self.assertIn(text, error["message"] + " " + error["field"])
        return error

    def assertServing(self, ledger, head_before):
        """Nothing was appended, and the service still answers a well-formed request."""
        self.assertEqual(ledger.head_seq(), head_before)
        status, _, body = ledger.get("/healthz")
        self.assertEqual(status, 200, body)


class OpenModeTestCase(HardeningTestCase):
    """One service in open mode (no auth file) for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.ledger = Service()
        cls.ledger.start()

    @classmethod
    def tearDownClass(cls):
        cls.ledger.close()


class OpenModeHostTest(OpenModeTestCase):
    """Issue 24 item 2: open mode trusts only Host names that name the service."""

    def rebinding(self, method, path, body=b"", content_type=b"application/json"):
        """A request as a page on http://evil.example:PORT sends it once its name points at 127.0.0.1."""
        site = b"evil.example:%d" % self.ledger.port
        headers = [b"Host: " + site, b"Origin: http://" + site, b"Content-Type: " + content_type,
                   b"Content-Length: %d" % len(body)]
        return exchange(self.ledger, b"%s %s HTTP/1.1\r\n%s\r\n\r\n%s"
                        % (method, path, b"\r\n".join(headers), body))

    def test_a_rebinding_page_can_neither_write_nor_read(self):
        head_before = self.ledger.head_seq()
        with tempfile.TemporaryDirectory(prefix="ledger-rebind-") as folder:
            backup_to = os.path.join(folder, "backup")
            attempts = [
                (b"POST", b"/api/v1/submissions", CREATE_BODY),
                (b"POST", b"/api/v1/subscriptions", b'{"email":"spy@evil.example","systems":["*"]}'),
                (b"GET", b"/api/v1/subscriptions", b""),
                (b"GET", b"/api/v1/events", b""),
                (b"GET", b"/api/v1/incidents", b""),
                (b"POST", b"/api/v1/backup", json.dumps({"to": backup_to}).encode()),
                (b"GET", b"/", b""),
            ]
            for method, path, body in attempts:
                with self.subTest(method=method, path=path):
                    error = self.assertRefused(self.rebinding(method, path, body), 421,
                                               "evil.example:%d" % self.ledger.port, "--allowed-host")
                    self.assertEqual(error["field"], "Host")
            self.assertFalse(os.path.exists(backup_to), "a backup was written for a rebinding page")
        self.assertServing(self.ledger, head_before)

    def test_names_of_the_service_are_served_whatever_the_port(self):
        for host in (b"127.0.0.1:%d" % self.ledger.port, b"127.0.0.1", b"localhost:%d" % self.ledger.port,
                     b"localhost", b"LocalHost:80"):
            with self.subTest(host=host):
                status, head, body = exchange(self.ledger, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
                self.assertEqual(status, 200, (head, body))

    def test_look_alike_hosts_are_refused(self):
        head_before = self.ledger.head_seq()
        for host in (b"127.0.0.1.evil.example", b"localhost.evil.example", b"localhost.", b"127.0.0.2",
                     b"evil.example:%d" % self.ledger.port, b"[::1]", b"127.0.0.1:80x", b"", b"127.0.0.1@evil.example"):
            with self.subTest(host=host):
                self.assertRefused(exchange(self.ledger, post(b"/api/v1/submissions",
                                                              [b"Content-Type: application/json",
                                                               b"Content-Length: %d" % len(CREATE_BODY)],
                                                              CREATE_BODY, host=host)),
                                   421, "--allowed-host")
        self.assertServing(self.ledger, head_before)

    def test_http_1_0_without_host_is_served(self):
        # No browser sends a request without Host, so there is nothing to rebind.
        status, head, body = exchange(self.ledger, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(status, 200, (head, body))


class AllowedHostFlagTest(HardeningTestCase):
    def test_allowed_host_names_are_served_and_others_still_refused(self):
        with Service(extra_args=["--allowed-host", "ledger.internal", "--allowed-host", "Noc.Example.org"]) as ledger:
            head_before = ledger.head_seq()
            for host in (b"ledger.internal", b"ledger.internal:%d" % ledger.port, b"noc.example.org"):
                with self.subTest(host=host):
                    status, head, body = exchange(ledger, b"GET /api/v1/incidents HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
                    self.assertEqual(status, 200, (head, body))
            self.assertRefused(exchange(ledger, b"GET /api/v1/incidents HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
                               421, "evil.example")
            self.assertServing(ledger, head_before)
            self.assertIn("ledger.internal", ledger.read_log())

    def test_bad_flag_values_stop_the_start(self):
        with tempfile.TemporaryDirectory(prefix="ledger-flags-") as folder:
            auth_file = os.path.join(folder, "auth.txt")
            add_token(auth_file, "ana", "viewer")
            cases = {
                ("--allowed-host", "ledger.internal:8080"): "not a host name",
                ("--allowed-host", ""): "not a host name",
                ("--allowed-host", "ledger.internal", "--auth-file", auth_file): "without --auth-file",
            }
            for extra, expected in cases.items():
                with self.subTest(extra=extra):
                    done = subprocess.run([ledger_binary(), "serve", "--data", os.path.join(folder, "data"),
                                           "--listen", "127.0.0.1:0", *extra],
                                          capture_output=True, text=True, timeout=60)
                    self.assertEqual(done.returncode, 2, done.stderr)
                    self.assertIn(expected, done.stderr)
        done = subprocess.run([ledger_binary(), "serve", "--help"], capture_output=True, text=True, timeout=60)
        self.assertIn("--allowed-host NAME", done.stdout)

    def test_with_an_auth_file_any_host_is_served(self):
        # Tokens guard every route there; a rebinding page has none.
        with tempfile.TemporaryDirectory(prefix="ledger-auth-") as folder:
            auth_file = os.path.join(folder, "auth.txt")
            viewer = add_token(auth_file, "ana", "viewer")
            with Service(extra_args=["--auth-file", auth_file]) as ledger:
                status, head, body = exchange(ledger, b"GET /api/v1/incidents HTTP/1.1\r\nHost: ledger.example.org\r\n"
                                                      b"Authorization: Bearer %s\r\n\r\n" % viewer.encode())
                self.assertEqual(status, 200, (head, body))
                status, head, body = exchange(ledger, b"GET /api/v1/incidents HTTP/1.1\r\nHost: evil.example\r\n\r\n")
                self.assertEqual(status, 401, (head, body))


class ParserLeniencyTest(OpenModeTestCase):
    """Issue 24 item 9: each request below would append an incident if its
    framing were taken the way Beast's parser takes it."""

    def submit_raw(self, headers, body, host=b"127.0.0.1"):
        return exchange(self.ledger, post(b"/api/v1/submissions", [b"Content-Type: application/json"] + headers,
                                          body, host=host))

    def test_the_well_formed_requests_below_would_be_taken(self):
        # The baseline: the same submission framed correctly, both ways.
        for headers, body in (([b"Content-Length: %d" % len(CREATE_BODY)], CREATE_BODY),
                              ([b"Transfer-Encoding: chunked"], chunked(CREATE_BODY)),
                              ([b"Transfer-Encoding: Chunked"], chunked(CREATE_BODY))):
            with self.subTest(headers=headers):
                status, head, answer = self.submit_raw(headers, body)
                self.assertEqual(status, 201, (head, answer))

    def test_transfer_encoding_other_than_chunked(self):
        head_before = self.ledger.head_seq()
        cases = [
            ([b"Transfer-Encoding: gzip, chunked"], chunked(CREATE_BODY)),
            ([b"Transfer-Encoding: chunked, chunked"], chunked(CREATE_BODY)),
            ([b"Transfer-Encoding: gzip"], chunked(CREATE_BODY)),
            ([b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"], chunked(CREATE_BODY)),
            ([b"Transfer-Encoding: identity", b"Content-Length: %d" % len(CREATE_BODY)], CREATE_BODY),
        ]
        for headers, body in cases:
            with self.subTest(headers=headers):
                self.assertRefused(self.submit_raw(headers, body), 400, "Transfer-Encoding")
        # On HTTP/1.0 there is no chunked coding at all.
        self.assertRefused(exchange(self.ledger, b"POST /api/v1/submissions HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                                                 b"\r\n" + chunked(CREATE_BODY)),
                           400, "Transfer-Encoding", "HTTP/1.0")
        self.assertServing(self.ledger, head_before)

    def test_transfer_encoding_with_content_length(self):
        head_before = self.ledger.head_seq()
        length = b"Content-Length: %d" % len(chunked(CREATE_BODY))
        for headers in ([b"Transfer-Encoding: chunked", length], [length, b"Transfer-Encoding: chunked"]):
            with self.subTest(headers=headers):
                self.assertRefused(self.submit_raw(headers, chunked(CREATE_BODY)), 400,
                                   "Transfer-Encoding", "Content-Length")
        self.assertServing(self.ledger, head_before)

    def test_content_length_twice(self):
        head_before = self.ledger.head_seq()
        length = len(CREATE_BODY)
        cases = [
            [b"Content-Length: %d" % length, b"Content-Length: %d" % (length - 1)],
            [b"Content-Length: %d" % length, b"Content-Length: %d" % length],
            [b"Content-Length: %d, %d" % (length, length)],
        ]
        for headers in cases:
            with self.subTest(headers=headers):
                self.assertRefused(self.submit_raw(headers, CREATE_BODY), 400, "Content-Length")
        self.assertServing(self.ledger, head_before)

    def test_folded_header_lines(self):
        head_before = self.ledger.head_seq()
        length = b"Content-Length: %d" % len(CREATE_BODY)
        cases = [
            [length, b"X-Note: first part", b" second part"],
            [length, b"X-Note: first part", b"\tsecond part"],
            [b"X-Note:", b" folded from the start", length],
        ]
        for headers in cases:
            with self.subTest(headers=headers):
                self.assertRefused(self.submit_raw(headers, CREATE_BODY), 400, "folding")
        self.assertServing(self.ledger, head_before)

    def test_missing_or_second_host(self):
        head_before = self.ledger.head_seq()
        length = b"Content-Length: %d" % len(CREATE_BODY)
        self.assertRefused(self.submit_raw([length], CREATE_BODY, host=None), 400, "Host", "HTTP/1.1")
        self.assertRefused(self.submit_raw([length, b"Host: 127.0.0.1"], CREATE_BODY), 400, "Host", "2")
        self.assertRefused(self.submit_raw([length, b"Host: evil.example"], CREATE_BODY), 400, "Host")
        self.assertServing(self.ledger, head_before)

    def test_a_second_copy_of_a_single_valued_field(self):
        head_before = self.ledger.head_seq()
        length = b"Content-Length: %d" % len(CREATE_BODY)
        for field in (b"Origin: http://127.0.0.1", b"Content-Type: application/json", b"Cookie: a=b",
                      b"X-CSRF-Token: x", b"Sec-Fetch-Site: same-origin"):
            with self.subTest(field=field):
                name = field.split(b":")[0].decode()
                self.assertRefused(self.submit_raw([length, field, field], CREATE_BODY), 400, name)
        self.assertServing(self.ledger, head_before)

    def test_trailer_fields(self):
        head_before = self.ledger.head_seq()
        for trailer in (b"X-Checksum: abc\r\n", b"Host: evil.example\r\n", b"Content-Type: text/plain\r\n"):
            with self.subTest(trailer=trailer):
                self.assertRefused(self.submit_raw([b"Transfer-Encoding: chunked"], chunked(CREATE_BODY, trailer)),
                                   400, "trailer")
        self.assertServing(self.ledger, head_before)

    def test_a_smuggled_request_is_never_answered(self):
        # Beast takes `Transfer-Encoding: gzip` as "no body", so the body
        # would be read as a second request on the same connection.
        head_before = self.ledger.head_seq()
        smuggled = post(b"/api/v1/submissions", [b"Content-Type: application/json",
                                                 b"Content-Length: %d" % len(CREATE_BODY)], CREATE_BODY)
        raw = post(b"/healthz", [b"Transfer-Encoding: gzip", b"Content-Length: %d" % len(smuggled)], smuggled)
        with socket.create_connection((self.ledger.host, self.ledger.port), timeout=30) as sock:
            sock.sendall(raw)
            answers = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answers += chunk
        self.assertTrue(answers.startswith(b"HTTP/1.1 400 "), answers[:300])
        self.assertEqual(answers.count(b"HTTP/1.1 "), 1, answers)
        self.assertServing(self.ledger, head_before)


class AuthorizationFramingTest(HardeningTestCase):
    """With tokens: two Authorization headers, or one in a chunked trailer,
    never authenticate."""

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory(prefix="ledger-hardening-")
        auth_file = os.path.join(cls.folder.name, "auth.txt")
        cls.helpdesk = add_token(auth_file, "desk", "helpdesk").encode()
        cls.viewer = add_token(auth_file, "ana", "viewer").encode()
        cls.ledger = Service(extra_args=["--auth-file", auth_file])
        cls.ledger.start()

    @classmethod
    def tearDownClass(cls):
        cls.ledger.close()
        cls.folder.cleanup()

    def test_two_authorization_headers(self):
        head_before = self.ledger.head_seq()
        length = b"Content-Length: %d" % len(CREATE_BODY)
        pairs = [(self.helpdesk, b"garbage"), (b"garbage", self.helpdesk), (self.viewer, self.helpdesk),
                 (self.helpdesk, self.helpdesk)]
        for first, second in pairs:
            with self.subTest(first=first[:8], second=second[:8]):
                raw = post(b"/api/v1/submissions", [b"Content-Type: application/json", length,
                                                    b"Authorization: Bearer " + first,
                                                    b"Authorization: Bearer " + second], CREATE_BODY)
                self.assertRefused(exchange(self.ledger, raw), 400, "Authorization", "once")
        self.assertServing(self.ledger, head_before)

    def test_authorization_in_a_trailer_never_authenticates(self):
        head_before = self.ledger.head_seq()
        raw = post(b"/api/v1/submissions", [b"Content-Type: application/json", b"Transfer-Encoding: chunked"],
                   chunked(CREATE_BODY, b"Authorization: Bearer " + self.helpdesk + b"\r\n"))
        self.assertRefused(exchange(self.ledger, raw), 400, "trailer", "Authorization")
        # A viewer's header with a helpdesk token in the trailer: refused too.
        raw = post(b"/api/v1/submissions", [b"Content-Type: application/json", b"Transfer-Encoding: chunked",
                                            b"Authorization: Bearer " + self.viewer],
                   chunked(CREATE_BODY, b"Authorization: Bearer " + self.helpdesk + b"\r\n"))
        self.assertRefused(exchange(self.ledger, raw), 400, "trailer")
        self.assertServing(self.ledger, head_before)
        # The same submission with the token where it belongs is taken.
        raw = post(b"/api/v1/submissions", [b"Content-Type: application/json", b"Transfer-Encoding: chunked",
                                            b"Authorization: Bearer " + self.helpdesk], chunked(CREATE_BODY))
        status, head, body = exchange(self.ledger, raw)
        self.assertEqual(status, 201, (head, body))
        self.assertEqual(self.ledger.head_seq(), head_before + 1)

    def test_a_folded_authorization_is_refused(self):
        head_before = self.ledger.head_seq()
        raw = post(b"/api/v1/submissions", [b"Content-Type: application/json",
                                            b"Content-Length: %d" % len(CREATE_BODY),
                                            b"Authorization: Bearer", b" " + self.helpdesk], CREATE_BODY)
        self.assertRefused(exchange(self.ledger, raw), 400, "folding")
        self.assertServing(self.ledger, head_before)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
