"""Long requests beside the rest, on a generated ledger (tests/generate_tool.cc).

The slow request is a real one: the incident list over the whole history as
it stood at seq N, when every incident was open and none had closed. Every
ticket has changed since then, so each is folded again from its own events.

- A slow request does not hold up /healthz, even with one socket thread.
- A request whose client closes its connection stops working: the work
  thread is free again long before the request would have finished.
- A full queue answers 503 with Retry-After at once; a request past its time
  budget answers 503 naming the budget.
- The availability answer carries an ETag and answers 304 until an event.
"""

import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

INCIDENTS = int(os.environ.get("LEDGER_LONG_REQUEST_INCIDENTS", "20000"))
SLOW_PATH = ("/api/v1/incidents?as_of_seq=%d&from=1900-01-01T00:00:00Z&to=2200-01-01T00:00:00Z&limit=1000"
             % INCIDENTS)
# Below this the generated ledger is too small for "slow" to mean anything.
SLOW_SECONDS_MIN = 0.3


def generate_tool():
    tool = os.environ.get("LEDGER_GENERATE_TOOL")
    if not tool:
        raise RuntimeError("LEDGER_GENERATE_TOOL is not set (ctest sets it: build/debug/tests/ledger-generate)")
    return tool


def metric(svc, name):
    status, _, text = svc.get("/metrics")
    assert status == 200, status
    match = re.search(r"^%s (\d+)$" % re.escape(name), text, re.MULTILINE)
    assert match, "no %s in /metrics" % name
    return int(match.group(1))


def timed_get(svc, path, headers=None):
    started = time.monotonic()
    response = svc.get(path, headers=headers)
    return response, time.monotonic() - started


class LongRequestsTest(service.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory(prefix="ledger-long-")
        cls.data = os.path.join(cls.folder.name, "data")
        completed = subprocess.run([generate_tool(), cls.data, str(INCIDENTS)], capture_output=True, text=True,
                                   timeout=600)
        if completed.returncode != 0:
            raise RuntimeError("ledger-generate failed: %s" % completed.stderr)
        assert int(completed.stdout) == 2 * INCIDENTS, completed.stdout

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def start_on_data(self, *extra):
        # A budget far beyond the work unless a test sets its own: on a
        # loaded machine (a sanitizer build beside other tests) the slow
        # request may take tens of seconds, and only the budget test is
        # about the budget.
        if "--work-budget-ms" not in extra:
            extra = ("--work-budget-ms", "600000") + extra
        return self.start_service(data_dir=self.data, threads=1, extra_args=list(extra))

    def slow_seconds(self, svc):
        """Runs the slow request alone and checks its answer: every incident, open."""
        response, seconds = timed_get(svc, SLOW_PATH)
        self.assertStatus(response, 200, "the incident list as of seq %d" % INCIDENTS)
        data = response.data
        self.assertEqual(data["count"], min(1000, INCIDENTS))
        self.assertTrue(all(incident["status"] == "open" and incident["ended_at"] is None
                            for incident in data["incidents"]), "as of seq N every incident was open")
        self.assertEqual(data["incidents"][0]["ticket"], "INC-%d" % INCIDENTS)
        self.assertGreater(seconds, SLOW_SECONDS_MIN,
                           "the slow request took only %.3f s: the generated ledger is too small" % seconds)
        return seconds

    def test_a_slow_request_does_not_delay_healthz(self):
        svc = self.start_on_data()
        slow = self.slow_seconds(svc)
        answers = []
        worker = threading.Thread(target=lambda: answers.append(timed_get(svc, SLOW_PATH)))
        worker.start()
        time.sleep(min(0.1, slow / 10))
        latencies = []
        for _ in range(10):
            response, seconds = timed_get(svc, "/healthz")
            self.assertStatus(response, 200, "/healthz beside a slow request")
            latencies.append(seconds)
        still_running = worker.is_alive()
        worker.join(timeout=120)
        self.assertTrue(still_running, "the slow request ended before the /healthz calls (%.3f s alone)" % slow)
        self.assertStatus(answers[0][0], 200, "the slow request")
        self.assertLess(max(latencies), slow / 4,
                        "/healthz took up to %.3f s beside a request of %.3f s" % (max(latencies), slow))

    def test_a_request_whose_client_left_stops_working(self):
        svc = self.start_on_data()
        slow = self.slow_seconds(svc)
        self.assertEqual(metric(svc, 'ledger_work_total{outcome="abandoned"}'), 0)
        client = socket.create_connection((svc.host, svc.port), timeout=10)
        client.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (SLOW_PATH, svc.host, svc.port)).encode())
        time.sleep(min(0.1, slow / 10))
        self.assertEqual(metric(svc, "ledger_work_running"), 1, "the slow request is running")
        client.close()
        gone = time.monotonic()
        while time.monotonic() - gone < slow:
            if metric(svc, "ledger_work_running") == 0:
                break
            time.sleep(0.01)
        freed_after = time.monotonic() - gone
        self.assertEqual(metric(svc, "ledger_work_running"), 0,
                         "the work went on for %.3f s after its client left (alone it takes %.3f s)"
                         % (freed_after, slow))
        self.assertLess(freed_after, slow / 2)
        self.assertEqual(metric(svc, 'ledger_work_total{outcome="abandoned"}'), 1)
        # The pool serves on.
        self.slow_seconds(svc)

    def test_a_full_queue_answers_503_with_retry_after(self):
        # A budget far beyond the work: under a loaded machine the queued
        # request waits for the running one, and its budget counts from
        # when it was queued; this test is about the queue's limit alone.
        svc = self.start_on_data("--work-threads", "1", "--work-queue", "1", "--work-budget-ms", "600000")
        self.slow_seconds(svc)
        answers = []
        lock = threading.Lock()

        def ask():
            response = svc.get(SLOW_PATH)
            with lock:
                answers.append(response)

        workers = [threading.Thread(target=ask) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
        statuses = sorted(response.status for response in answers)
        self.assertIn(200, statuses)
        self.assertIn(503, statuses, "one running and one queued at most: %r" % statuses)
        for response in answers:
            if response.status == 503:
                self.assertError(response, 503, "unavailable", "", "a long request over the queue limit")
                self.assertTrue(response.headers.get("Retry-After"), "503 without Retry-After")
        self.assertGreaterEqual(metric(svc, 'ledger_work_total{outcome="rejected"}'), 1)

    def test_a_request_past_its_budget_answers_503(self):
        # The budget is a tenth of what the slow request takes alone on this
        # machine now, so that it runs out however loaded the machine is,
        # and the short request below (one event folded) fits in it.
        alone = self.start_on_data()
        budget_ms = max(50, int(self.slow_seconds(alone) * 100))
        alone.stop()
        svc = self.start_on_data("--work-budget-ms", str(budget_ms))
        response = svc.get(SLOW_PATH)
        error = self.assertError(response, 503, "unavailable", "", "a long request past its budget")
        self.assertIn("time budget of %d ms" % budget_ms, error["message"])
        # The pool counts the outcome once the task has returned, which is
        # just after it answered: give the counter a moment.
        deadline = time.monotonic() + 10
        while metric(svc, 'ledger_work_total{outcome="expired"}') == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(metric(svc, 'ledger_work_total{outcome="expired"}'), 1)
        self.assertStatus(svc.get("/healthz"), 200)
        # Short work within the budget still answers.
        self.assertStatus(svc.get("/api/v1/incidents?as_of_seq=1"), 200)


class AvailabilityCacheTest(service.ServiceTestCase):
    def test_etag_answers_304_until_an_event(self):
        svc = self.start_service()
        svc.submit({"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Ana",
                    "started_at": "2026-11-10T01:00:00Z"})
        svc.submit({"action": "close", "ticket": "INC-1", "ended_at": "2026-11-10T02:00:00Z"})
        path = "/api/v1/availability?days=30&timezone=UTC&end_date=2026-11-20"
        first = svc.get(path)
        self.assertStatus(first, 200)
        etag = first.headers.get("ETag")
        self.assertTrue(etag)
        self.assertEqual(first.headers.get("Cache-Control"), "no-cache")
        day = [d for d in first.data["systems"][0]["days"] if d["date"] == "2026-11-10"][0]
        self.assertEqual(day["downtime_seconds"], 3600)
        zipped = svc.get(path, headers={"Accept-Encoding": "gzip"})
        self.assertStatus(zipped, 200)
        self.assertEqual(zipped.headers.get("Content-Encoding"), "gzip")
        self.assertNotEqual(zipped.headers.get("ETag"), etag, "one ETag per encoding")
        self.assertEqual(json.loads(gzip.decompress(zipped.raw)), first.data)
        again = svc.get(path, headers={"If-None-Match": etag})
        self.assertStatus(again, 304, "nothing changed")
        self.assertEqual(again.raw, b"")
        svc.submit({"action": "update", "ticket": "INC-1", "ended_at": "2026-11-10T03:00:00Z"})
        changed = svc.get(path, headers={"If-None-Match": etag})
        self.assertStatus(changed, 200, "an event changed the figures")
        self.assertNotEqual(changed.headers.get("ETag"), etag)
        day = [d for d in changed.data["systems"][0]["days"] if d["date"] == "2026-11-10"][0]
        self.assertEqual(day["downtime_seconds"], 7200)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
