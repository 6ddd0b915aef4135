"""Slow and abusive clients over real sockets: each gets a timeout or a clear
4xx, nothing is appended, and a well-behaved client keeps being answered
while it happens (a prober asks /healthz throughout and must never wait long).

Limits under test (http/server.h, http/api.h): kRequestReadTimeout (15 s for a
whole request), kHeaderBytesMax (16 KiB), kBodyBytesMax (64 KiB),
kConnectionsMax (1024; a new client takes the slot of the longest-waiting one).
"""

import json
import resource
import socket
import threading
import time
import unittest

import service
from service import Service

REQUEST_READ_TIMEOUT_SECONDS = 15
PROBE_INTERVAL_SECONDS = 0.1
PROBE_WAIT_MAX_SECONDS = 2.0
IDLE_CONNECTIONS = 2500  # more than twice kConnectionsMax


class Prober:
    """Asks /healthz every PROBE_INTERVAL_SECONDS on fresh connections and
    records failures and the slowest answer."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.failures = []
        self.slowest = 0.0
        self.answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                status, _, _ = self.ledger.request("GET", "/healthz", timeout=10)
                if status != 200:
                    self.failures.append("status %d" % status)
            except OSError as error:
                self.failures.append(repr(error))
            self.slowest = max(self.slowest, time.monotonic() - began)
            self.answers += 1
            self._stop.wait(PROBE_INTERVAL_SECONDS)

    def check(self, test):
        test.assertGreater(self.answers, 0)
        test.assertEqual(self.failures, [], "the well-behaved client was not answered")
        test.assertLess(self.slowest, PROBE_WAIT_MAX_SECONDS, "the well-behaved client waited too long")


def read_answer(sock, timeout=30):
    """Reads until the server closes; returns the bytes (status line first)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


class AbusiveClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = IDLE_CONNECTIONS + 256
        if soft < wanted and (hard == resource.RLIM_INFINITY or hard >= wanted):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        cls.ledger = Service()
        cls.ledger.start()

    @classmethod
    def tearDownClass(cls):
        cls.ledger.close()

    def connect(self):
        sock = socket.create_connection((self.ledger.host, self.ledger.port), timeout=30)
        self.addCleanup(sock.close)
        return sock

    def test_trickling_headers_are_cut_off(self):
        sock = self.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        began = time.monotonic()
        closed_after = None
        with Prober(self.ledger) as prober:
            while time.monotonic() - began < REQUEST_READ_TIMEOUT_SECONDS + 10:
                try:
                    sock.sendall(b"X")
                    sock.settimeout(0.5)
                    if sock.recv(4096) == b"":
                        closed_after = time.monotonic() - began
                        break
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - began
                    break
        prober.check(self)
        self.assertIsNotNone(closed_after, "a client trickling its headers was never cut off")
        self.assertLess(closed_after, REQUEST_READ_TIMEOUT_SECONDS + 5)

    def test_endless_chunked_body_gets_413(self):
        head_before = self.ledger.head_seq()
        sock = self.connect()
        sock.sendall(b"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (4096, b"[" * 4096)
        with Prober(self.ledger) as prober:
            try:
                for _ in range(10_000):  # 40 MB, far beyond the limit
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = read_answer(sock)
        prober.check(self)
        self.assertEqual(status_of(answer), 413, answer[:300])
        self.assertIn(b"larger than", answer)
        self.assertEqual(self.ledger.head_seq(), head_before)

    def test_declared_huge_body_gets_413_at_once(self):
        sock = self.connect()
        sock.sendall(b"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000000\r\n\r\n")
        answer = read_answer(sock, timeout=10)
        self.assertEqual(status_of(answer), 413, answer[:300])

    def test_oversized_headers_get_431(self):
        sock = self.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * (40 * 1024) + b"\r\n\r\n")
        answer = read_answer(sock)
        self.assertEqual(status_of(answer), 431, answer[:300])

    def test_thousands_of_idle_connections_do_not_shut_others_out(self):
        idle = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                idle.append(socket.create_connection((self.ledger.host, self.ledger.port), timeout=30))
            # Half-sent requests as well: they wait like idle ones.
            for sock in idle[::10]:
                sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.5)
            began = time.monotonic()
            for _ in range(20):
                status, _, body = self.ledger.request("GET", "/healthz", timeout=10)
                self.assertEqual(status, 200, body)
            self.assertLess(time.monotonic() - began, 20 * PROBE_WAIT_MAX_SECONDS)
            status, _, body = self.ledger.submit({"action": "create", "title": "Still served", "systems": ["web"],
                                                  "engineer": "Ana"})
            self.assertEqual(status, 201, body)
        finally:
            for sock in idle:
                sock.close()

    def test_hostile_bodies_get_clear_400s_and_append_nothing(self):
        head_before = self.ledger.head_seq()
        deep = "[" * 100_000 + "]" * 100_000
        cases = [
            ("application/json", b'{"action":"create","title":"\xff\xfe bad","systems":["x"],"engineer":"e"}',
             "UTF-8"),
            ("application/json", ('{"action":"create","title":%s}' % deep).encode(), ""),
            ("application/json", b'{"action":"create","title":"x"' * 2, ""),
            ("application/x-www-form-urlencoded", b"action=create&title=%FF%FE&systems=x&engineer=e", "UTF-8"),
            ("application/x-www-form-urlencoded", b"action=create&title=%zz", ""),
            ("application/json", b"\x00\x01\x02", ""),
        ]
        with Prober(self.ledger) as prober:
            for content_type, body, named in cases:
                with self.subTest(body=body[:60]):
                    response = self.ledger.request("POST", "/api/v1/submissions", body,
                                                   headers={"Content-Type": content_type})
                    self.assertIn(response.status, (400, 413), response)
                    self.assertIsNone(response.json_error)
                    self.assertTrue(response.data["error"]["message"])
                    if named:
                        self.assertIn(named, json.dumps(response.data))
            # Invalid UTF-8 and control bytes in the request line and headers.
            for raw in (b"GET /api/v1/incidents?q=%FF%FE HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        b"GET /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: \xff\xfe\x01\r\n\r\n",
                        b"GET /\x01\x02 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64):
                with self.subTest(raw=raw[:40]):
                    sock = self.connect()
                    sock.sendall(raw)
                    sock.shutdown(socket.SHUT_WR)
                    answer = read_answer(sock)
                    status = status_of(answer)
                    self.assertIsNotNone(status, answer[:200])
                    self.assertLess(status, 500, answer[:300])
        prober.check(self)
        self.assertEqual(self.ledger.head_seq(), head_before)
        self.assertFalse(service.sanitizer_report(self.ledger.read_log()))


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
