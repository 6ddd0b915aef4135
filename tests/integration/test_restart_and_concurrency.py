"""Durability across restarts, concurrent submissions and SIGTERM under load
(and during a large answer's write), end to end against the real binary.

Run: LEDGER_BINARY=path/to/incident-ledger python3 tests/integration/test_restart_and_concurrency.py
"""

import collections
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import service  # noqa: E402
from service import ServiceTestCase  # noqa: E402

SUBMISSIONS = "/api/v1/submissions"
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


def report(text):
    sys.stderr.write("\n[integration] %s\n" % text)
    sys.stderr.flush()


class RestartTest(ServiceTestCase):
    def submit_ok(self, svc, fields):
        response = svc.submit(fields)
        self.assertStatus(response, 201, repr(fields))
        return response.data

    def test_events_tickets_and_numbers_survive_a_restart(self):
        svc = self.start_service()
        self.submit_ok(svc, {"action": "create", "title": "DB down", "systems": ["db"], "engineer": "Ada",
                             "started_at": "2026-07-01T10:00:00+02:00", "submission_id": "r-1"})
        self.submit_ok(svc, {"action": "create", "title": "API slow", "systems": ["api", "db"], "engineer": "Bo",
                             "severity": "major"})
        self.submit_ok(svc, {"action": "update", "ticket": "INC-1", "title": "DB down hard", "note": "worse"})
        self.submit_ok(svc, {"action": "close", "ticket": "INC-1", "ended_at": "2026-07-01T12:00:00Z",
                             "submission_id": "r-close"})
        before_events = svc.all_events()
        before = {ticket: svc.get("/api/v1/incidents/" + ticket).data for ticket in ("INC-1", "INC-2")}
        before_ticket_events = svc.get("/api/v1/incidents/INC-1/events").data
        window = "/api/v1/incidents?from=2026-06-01T00:00:00Z&to=2027-01-01T00:00:00Z"
        before_listing = svc.get(window).data
        self.assertEqual(len(before_events), 4)

        started = time.monotonic()
        code = svc.stop()
        stop_seconds = time.monotonic() - started
        self.assertEqual(code, 0, "SIGTERM should stop the service cleanly; stderr:\n" + svc.log)
        self.assertIn("stopped at head seq 4", svc.log)
        self.assertLess(stop_seconds, 10, "an idle service should stop promptly")
        svc.start()

        self.assertEqual(svc.head_seq(), 4)
        after_events = svc.all_events()
        self.assertEqual(after_events, before_events, "the log reads back identically after a restart")
        service.verify_chain(after_events)
        for ticket, state in before.items():
            self.assertEqual(svc.get("/api/v1/incidents/" + ticket).data, state)
        self.assertEqual(svc.get("/api/v1/incidents/INC-1/events").data, before_ticket_events)
        self.assertEqual(svc.get(window).data, before_listing)
        self.assertEqual(svc.get("/api/v1/incidents/INC-1?as_of_seq=1").data["title"], "DB down")

        # Idempotency keys, ticket state and version checks survive too.
        replay = svc.submit({"action": "close", "ticket": "INC-1", "ended_at": "2026-07-01T12:00:00Z",
                             "submission_id": "r-close"})
        self.assertStatus(replay, 201)
        self.assertEqual(replay.headers.get("Idempotent-Replay"), "true")
        self.assertEqual(replay.data["event"], before_events[3])
        self.assertError(svc.submit({"action": "close", "ticket": "INC-2", "submission_id": "r-1"}),
                         409, "conflict", "submission_id")
        self.assertError(svc.submit({"action": "close", "ticket": "INC-1"}), 409, "conflict", "action")
        self.assertError(svc.submit({"action": "update", "ticket": "INC-2", "note": "n", "expected_version": 2}),
                         409, "conflict", "expected_version")
        self.assertEqual(svc.head_seq(), 4)

        # The next create gets the next ticket number, and seq and chain continue.
        created = self.submit_ok(svc, {"action": "create", "title": "Mail", "systems": ["mail"], "engineer": "Cy"})
        self.assertEqual((created["ticket"], created["seq"], created["version"]), ("INC-3", 5, 1))
        self.assertEqual(created["event"]["prev_hash"], before_events[-1]["hash"])
        updated = self.submit_ok(svc, {"action": "update", "ticket": "INC-2", "note": "n", "expected_version": 1})
        self.assertEqual((updated["seq"], updated["version"]), (6, 2))

        # And once more.
        self.assertEqual(svc.restart(), 0)
        created = self.submit_ok(svc, {"action": "create", "title": "DNS", "systems": ["dns"], "engineer": "Di"})
        self.assertEqual((created["ticket"], created["seq"]), ("INC-4", 7))
        events = svc.all_events()
        self.assertEqual(events[:4], before_events)
        service.verify_chain(events)
        metrics = svc.get("/metrics").data
        self.assertIn("\nledger_head_seq 7\n", metrics)
        self.assertIn("\nledger_projection_applied_seq 7\n", metrics)

    def test_sigterm_while_a_large_answer_is_being_written_finishes_it_and_logs_it(self):
        # The answer (~5.7 MB) is larger than what the kernel buffers hold for
        # a client that has not read yet (~4 MB on loopback), so the write is
        # still under way when the signal comes. The stop waits for it: the
        # client gets every byte and the access log has the line.
        svc = self.start_service()
        self.assertStatus(svc.submit({"action": "create", "title": "Mail down", "systems": ["mail"],
                                      "engineer": "Ana"}), 201)
        for index in range(300):
            self.assertStatus(svc.submit({"action": "update", "ticket": "INC-1",
                                          "note": "%d %s" % (index, "x" * 7900)}), 201)
        with socket.create_connection((svc.host, svc.port), timeout=60) as sock:
            sock.sendall(b"GET /api/v1/incidents/INC-1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = sock.recv(1024)
            svc.signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while "stopping: no new connections" not in svc.read_log() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertTrue("stopping: no new connections answers_in_flight=1" in svc.read_log(),
                            "no 'stopping' line counting the answer being written within 30 s of SIGTERM")
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(svc.wait(timeout=60), 0)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        self.assertGreater(length, 5_000_000)
        self.assertEqual(len(body), length, "the answer was cut off by the stop")
        self.assertEqual(len(json.loads(body)["events"]), 301)
        self.assertIn("access: GET /api/v1/incidents/INC-1/events", svc.log)
        self.assertIn("status=200 bytes=%d " % length, svc.log)

    def test_projection_checkpoint_resumes_and_a_missing_one_is_rebuilt_and_said_so(self):
        svc = self.start_service()
        subscribed = svc.request("POST", "/api/v1/subscriptions", {"email": "ana@example.org", "systems": ["db"]})
        self.assertStatus(subscribed, 201)
        for title in ("DB down", "DB slow"):
            self.submit_ok(svc, {"action": "create", "title": title, "systems": ["db"], "engineer": "Ada"})
        self.submit_ok(svc, {"action": "close", "ticket": "INC-1", "note": "back"})
        head = svc.head_seq()

        def state():
            window = "/api/v1/incidents?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
            return (svc.get(window).data, svc.get("/api/v1/incidents/INC-1").data,
                    svc.get("/api/v1/notifications").data, svc.get("/api/v1/subscriptions").data)

        before = state()
        self.assertEqual(len(before[2]["notifications"]), 3, before[2])  # one per incident event, to ana@
        self.assertEqual(svc.restart(), 0)
        log = svc.read_log()
        self.assertIn("projections rebuilt from seq 1 (0 events): no checkpoint saved yet", log)
        self.assertIn("projections resumed at seq %d, caught up 0 events; 2 tickets" % head, log)
        self.assertEqual(state(), before, "a start resumed from the checkpoint answers as before")

        # The checkpoint is disposable: without it the start folds the log
        # again (every projection), says why, and answers the same.
        self.assertEqual(svc.stop(), 0)
        shutil.rmtree(os.path.join(svc.data_dir, "projections"))
        svc.start()
        self.assertEqual(state(), before, "a start rebuilt from the log answers as before")
        self.assertEqual(svc.stop(), 0)
        self.assertIn("projections rebuilt from seq 1 (%d events): no checkpoint saved yet" % head, svc.log)

    def test_ticket_counter_survives_when_the_last_events_are_not_creates(self):
        svc = self.start_service()
        for _ in range(3):
            self.submit_ok(svc, {"action": "create", "title": "t", "systems": ["s"], "engineer": "e"})
        for ticket in ("INC-3", "INC-1"):
            self.submit_ok(svc, {"action": "close", "ticket": ticket})
        self.assertEqual(svc.restart(), 0)
        self.assertEqual(svc.restart(), 0)
        created = self.submit_ok(svc, {"action": "create", "title": "t", "systems": ["s"], "engineer": "e"})
        self.assertEqual((created["ticket"], created["seq"]), ("INC-4", 6))

    def test_empty_ledger_restarts(self):
        svc = self.start_service()
        self.assertEqual(svc.restart(), 0)
        self.assertEqual(svc.head_seq(), 0)
        self.assertEqual(svc.events(), {"head_seq": 0, "events": [], "next_after": None})
        created = self.submit_ok(svc, {"action": "create", "title": "t", "systems": ["s"], "engineer": "e"})
        self.assertEqual((created["ticket"], created["seq"]), ("INC-1", 1))
        self.assertEqual(created["event"]["prev_hash"], service.ZERO_HASH)


class Client(threading.Thread):
    """One help desk: creates incidents and updates, closes and reopens its own,
    on one keep-alive connection, every submission with a unique submission_id
    and (for non-creates) the expected_version it last saw."""

    def __init__(self, svc, index, count, pair_every=50):
        super().__init__(name="client-%d" % index, daemon=True)
        self.svc = svc
        self.index = index
        self.count = count
        self.pair_every = pair_every
        self.acks = []          # (submission_id, fields, answer data)
        self.failures = []      # descriptions of anything unexpected
        self.replays = 0
        self.paired = 0
        self.tickets = []       # [ticket, version, status]
        self.latencies = []

    def fields_for(self, number):
        submission_id = "c%02d-%04d" % (self.index, number)
        if not self.tickets or number % 4 == 0:
            return {"action": "create", "submission_id": submission_id,
                    "title": "client %d incident %d" % (self.index, number),
                    "systems": ["sys-%d" % (self.index % 5), "shared"], "engineer": "eng-%d" % self.index,
                    "severity": random.choice(["minor", "major", "critical"])}, None
        entry = self.tickets[number % len(self.tickets)]
        ticket, version, status = entry
        fields = {"ticket": ticket, "expected_version": version, "submission_id": submission_id}
        if number % 10 == 5:
            fields["action"] = "close" if status == "open" else "reopen"
        else:
            fields.update({"action": "update", "note": "update %d from client %d" % (number, self.index)})
        return fields, entry

    def post(self, connection, fields):
        started = time.monotonic()
        response = service.send(connection, "POST", SUBMISSIONS, fields)
        self.latencies.append(time.monotonic() - started)
        return response

    def run(self):
        connection = self.svc.connection()
        second = self.svc.connection()
        try:
            for number in range(self.count):
                fields, entry = self.fields_for(number)
                if self.pair_every and number % self.pair_every == 7:
                    # The same submission from two connections at once: one event, two equal answers.
                    answers = [None, None]
                    # A fresh connection for each pair: an idle keep-alive
                    # connection is closed by the server after its read timeout.
                    second.close()
                    second = self.svc.connection()

                    def twin():
                        try:
                            answers[1] = service.send(second, "POST", SUBMISSIONS, fields)
                        except CONNECTION_ERRORS as error:
                            answers[1] = error

                    helper = threading.Thread(target=twin)
                    helper.start()
                    answers[0] = self.post(connection, fields)
                    helper.join()
                    self.paired += 1
                    if isinstance(answers[1], Exception):
                        self.failures.append("%s: twin request failed: %r" % (fields["submission_id"], answers[1]))
                        return
                    response = answers[0]
                    if [a.status for a in answers] != [201, 201] or answers[0].data != answers[1].data:
                        self.failures.append("%s: twin answers differ: %r / %r" % (fields["submission_id"], *answers))
                        return
                    replayed = [a.headers.get("Idempotent-Replay") == "true" for a in answers]
                    if sorted(replayed) != [False, True]:
                        self.failures.append("%s: expected exactly one original and one replay, got %r"
                                             % (fields["submission_id"], replayed))
                        return
                else:
                    response = self.post(connection, fields)
                if response.status != 201:
                    self.failures.append("%s: %r -> %r" % (fields["submission_id"], fields, response))
                    return
                data = response.data
                self.acks.append((fields["submission_id"], fields, data))
                if fields["action"] == "create":
                    self.tickets.append([data["ticket"], data["version"], "open"])
                else:
                    entry[1] = data["version"]
                    if fields["action"] == "close":
                        entry[2] = "closed"
                    elif fields["action"] == "reopen":
                        entry[2] = "open"
                if number % 25 == 3:
                    # A client retry (e.g. after a lost answer): same id, same content, same result.
                    again = self.post(connection, fields)
                    if again.status != 201 or again.data != data or again.headers.get("Idempotent-Replay") != "true":
                        self.failures.append("%s: retry answered %r, first answer %r"
                                             % (fields["submission_id"], again, data))
                        return
                    self.replays += 1
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.failures.append("client %d stopped: %r" % (self.index, error))
        finally:
            connection.close()
            second.close()


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class ConcurrencyTest(ServiceTestCase):
    THREADS = 32
    PER_THREAD = 200

    def check_log_against_acks(self, events, acks):
        """Every acknowledged submission is in the log exactly once, at the seq it was told."""
        by_seq = {event["seq"]: event for event in events}
        id_counts = collections.Counter(event["submission_id"] for event in events)
        for submission_id, fields, data in acks:
            self.assertEqual(id_counts[submission_id], 1, "%s appears %d times in the log"
                             % (submission_id, id_counts[submission_id]))
            event = by_seq.get(data["seq"])
            self.assertIsNotNone(event, "%s was acknowledged at seq %d, which is not in the log"
                                 % (submission_id, data["seq"]))
            self.assertEqual(event, data["event"], "%s: the log's event differs from the acknowledged one"
                             % submission_id)
            self.assertEqual((event["submission_id"], event["ticket"], event["version"]),
                             (submission_id, data["ticket"], data["version"]))
            if fields["action"] != "create":
                self.assertEqual(event["ticket"], fields["ticket"])
                if "expected_version" in fields:
                    self.assertEqual(event["version"], fields["expected_version"] + 1)

    def check_tickets(self, events):
        """Ticket numbers are given in seq order without gaps; each ticket's versions count 1, 2, 3..."""
        opened = [int(e["ticket"][len("INC-"):]) for e in events if e["type"] == "INCIDENT_OPENED"]
        self.assertEqual(opened, list(range(1, len(opened) + 1)))
        versions = collections.defaultdict(list)
        for event in events:
            versions[event["ticket"]].append(event["version"])
        for ticket, seen in versions.items():
            self.assertEqual(seen, list(range(1, len(seen) + 1)), ticket)

    def test_32_clients_x_200_submissions(self):
        svc = self.start_service()
        clients = [Client(svc, index, self.PER_THREAD) for index in range(self.THREADS)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=600)
        elapsed = time.monotonic() - started
        self.assertFalse(any(client.is_alive() for client in clients), "clients still running after 600 s")
        failures = [failure for client in clients for failure in client.failures]
        self.assertEqual(failures, [])
        acks = [ack for client in clients for ack in client.acks]
        latencies = [latency for client in clients for latency in client.latencies]
        self.assertEqual(len(acks), self.THREADS * self.PER_THREAD)
        replays = sum(client.replays for client in clients)
        paired = sum(client.paired for client in clients)

        read_started = time.monotonic()
        events = svc.all_events(page=1000)
        read_seconds = time.monotonic() - read_started
        self.assertEqual(svc.head_seq(), len(acks), "every event is an acknowledged submission, and no more")
        self.assertEqual(len(events), len(acks))
        self.assertEqual([e["seq"] for e in events], list(range(1, len(acks) + 1)))
        service.verify_chain(events)
        self.check_log_against_acks(events, acks)
        self.check_tickets(events)
        for client in clients:
            for ticket, version, status in client.tickets[:3]:
                state = svc.get("/api/v1/incidents/" + ticket).data
                self.assertEqual((state["version"], state["status"]), (version, status), ticket)

        # Retries after the fact: same submission_id and content -> same seq, nothing appended.
        head = svc.head_seq()
        for submission_id, fields, data in random.Random(7).sample(acks, 25):
            again = svc.submit(fields)
            self.assertStatus(again, 201, submission_id)
            self.assertEqual(again.data, data, submission_id)
            self.assertEqual(again.headers.get("Idempotent-Replay"), "true")
        self.assertEqual(svc.head_seq(), head)

        batches = [line for line in svc.get("/metrics").data.splitlines()
                   if line.startswith("ledger_group_commit_batch_events_")]
        batch_count = next(float(line.split()[-1]) for line in batches if line.startswith(
            "ledger_group_commit_batch_events_count"))
        report("concurrency: %d clients x %d = %d submissions (+%d retries, %d twin pairs) in %.1fs "
               "(%.0f/s); latency p50 %.1f ms p99 %.1f ms max %.1f ms; %d group commits (%.1f events each); "
               "read back %d events in %.1fs"
               % (self.THREADS, self.PER_THREAD, len(acks), replays, paired, elapsed, len(acks) / elapsed,
                  percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3, max(latencies) * 1e3,
                  batch_count, len(acks) / max(batch_count, 1), len(events), read_seconds))

    def test_sigterm_under_load_keeps_every_acknowledged_submission(self):
        svc = self.start_service()
        stop = threading.Event()
        lock = threading.Lock()
        acks = []         # (submission_id, fields, data)
        unanswered = []   # submission ids sent without an answer
        unexpected = []

        def load(index):
            number = 0
            connection = svc.connection(timeout=60)
            tickets = []
            try:
                while not stop.is_set():
                    submission_id = "load-%02d-%05d" % (index, number)
                    if not tickets or number % 3 == 0:
                        fields = {"action": "create", "title": "load %d/%d" % (index, number),
                                  "systems": ["load"], "engineer": "e", "submission_id": submission_id}
                    else:
                        fields = {"action": "update", "ticket": tickets[number % len(tickets)],
                                  "note": "n%d" % number, "submission_id": submission_id}
                    number += 1
                    try:
                        response = service.send(connection, "POST", SUBMISSIONS, fields)
                    except CONNECTION_ERRORS:
                        with lock:
                            unanswered.append(submission_id)
                        return
                    if response.status != 201:
                        with lock:
                            if response.status == 503:
                                unanswered.append(submission_id)
                            else:
                                unexpected.append(repr(response))
                        return
                    with lock:
                        acks.append((submission_id, fields, response.data))
                    if fields["action"] == "create":
                        tickets.append(response.data["ticket"])
            finally:
                connection.close()

        threads = [threading.Thread(target=load, args=(index,), daemon=True) for index in range(16)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if len(acks) >= 400:
                    break
            time.sleep(0.02)
        with lock:
            acked_before_signal = len(acks)
        signalled = time.monotonic()
        svc.signal(signal.SIGTERM)
        code = svc.wait(timeout=60)
        stop_seconds = time.monotonic() - signalled
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(code, 0, "the service should exit 0 on SIGTERM under load")
        self.assertEqual(unexpected, [])
        self.assertGreaterEqual(acked_before_signal, 400, "the load did not get going")
        with lock:
            acked = list(acks)
            lost_answers = list(unanswered)

        svc.start()
        events = svc.all_events()
        service.verify_chain(events)
        self.check_log_against_acks(events, acked)
        self.check_tickets(events)
        acked_ids = {submission_id for submission_id, _, _ in acked}
        in_log_ids = {event["submission_id"] for event in events}
        # Anything else in the log was sent by a client that lost the answer.
        self.assertLessEqual(in_log_ids - acked_ids, set(lost_answers))
        self.assertEqual(len(events), len(in_log_ids))
        # The service goes on from where it stopped.
        created = svc.submit({"action": "create", "title": "after", "systems": ["s"], "engineer": "e"})
        self.assertStatus(created, 201)
        self.assertEqual(created.data["seq"], len(events) + 1)
        self.assertEqual(created.data["event"]["prev_hash"], events[-1]["hash"])
        # A lost answer can be recovered by retrying with the same submission_id.
        for submission_id, fields, data in acked[-5:]:
            again = svc.submit(fields)
            self.assertStatus(again, 201)
            self.assertEqual(again.data["seq"], data["seq"])
        report("sigterm under load: %d acknowledged (%d before the signal), %d answers lost, %d of those "
               "in the log; stopped %.2fs after SIGTERM"
               % (len(acked), acked_before_signal, len(lost_answers),
                  len(set(lost_answers) & in_log_ids), stop_seconds))


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
