"""Kill-and-recover, after RocksDB's crash test: drive concurrent submissions
at the real binary over HTTP, SIGKILL it at a random moment, restart, and
check the ledger after every cycle:

- every acknowledged submission is present exactly once, at the seq it was
  acknowledged with;
- the chain verifies (the service's /api/v1/verify and an independent check
  here), with no gap in seq;
- re-sending every submission whose answer was lost (same submission_id)
  never creates a second event;
- the read model built incrementally equals the one rebuilt from the log at
  the next start.

Seeded: the seed is printed; LEDGER_CRASH_SEED=N repeats a run,
LEDGER_CRASH_CYCLES=N changes the number of cycles.
"""

import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

CLIENTS = 8
CYCLES = int(os.environ.get("LEDGER_CRASH_CYCLES", "5"))
KILL_AFTER_SECONDS = (0.2, 1.5)
WIDE_WINDOW = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"


class Client(threading.Thread):
    """Submits until the service dies; records what was acknowledged and what was lost."""

    def __init__(self, svc, name, rng_seed, acknowledged, unanswered, lock):
        super().__init__(daemon=True)
        self.svc = svc
        self.name_prefix = name
        self.rng = random.Random(rng_seed)
        self.acknowledged = acknowledged
        self.unanswered = unanswered
        self.lock = lock
        self.tickets = []
        self.count = 0

    def next_submission(self):
        self.count += 1
        submission_id = "%s-%d" % (self.name_prefix, self.count)
        if self.tickets and self.rng.random() < 0.5:
            fields = {"action": "update", "ticket": self.rng.choice(self.tickets),
                      "note": "step %d" % self.count, "submission_id": submission_id}
        else:
            fields = {"action": "create", "title": "crash %s" % submission_id,
                      "systems": [self.rng.choice(["mail", "vpn", "dns", "db"])], "engineer": "Ana",
                      "submission_id": submission_id}
        return submission_id, fields

    def run(self):
        connection = None
        while True:
            submission_id, fields = self.next_submission()
            try:
                if connection is None:
                    connection = self.svc.connection(timeout=30)
                response = service.send(connection, "POST", "/api/v1/submissions", fields)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unanswered[submission_id] = fields
                return
            if response.status != 201:
                with self.lock:
                    self.unanswered[submission_id] = fields
                return
            with self.lock:
                self.acknowledged[submission_id] = response.data["seq"]
            if fields["action"] == "create":
                self.tickets.append(response.data["ticket"])


def incidents_everywhere(svc):
    """Every incident, all pages, as the read model answers them."""
    incidents = []
    cursor = None
    while True:
        path = "/api/v1/incidents?%s&limit=1000" % WIDE_WINDOW + ("&cursor=" + cursor if cursor else "")
        data = svc.get(path).data
        incidents.extend(data["incidents"])
        cursor = data["next_cursor"]
        if cursor is None:
            return incidents


class CrashTest(service.ServiceTestCase):
    def test_kill_and_recover_cycles(self):
        seed = int(os.environ.get("LEDGER_CRASH_SEED", str(random.SystemRandom().randrange(1 << 30))))
        sys.stderr.write("\ncrash test seed: %d (repeat with LEDGER_CRASH_SEED=%d), %d cycles\n" % (seed, seed, CYCLES))
        rng = random.Random(seed)
        svc = self.start_service()
        acknowledged = {}  # submission_id -> seq, over all cycles
        lock = threading.Lock()
        for cycle in range(CYCLES):
            unanswered = {}
            clients = [Client(svc, "c%d-%d" % (cycle, index), rng.randrange(1 << 30), acknowledged, unanswered, lock)
                       for index in range(CLIENTS)]
            for client in clients:
                client.start()
            time.sleep(rng.uniform(*KILL_AFTER_SECONDS))
            svc.process.send_signal(signal.SIGKILL)
            svc.wait()
            for client in clients:
                client.join(timeout=60)
                self.assertFalse(client.is_alive(), "a client did not notice the service died")
            svc.returncode = 0  # killed on purpose
            svc.start()
            self.check_ledger(svc, acknowledged, "cycle %d (seed %d)" % (cycle, seed))

            # Answers lost in the crash: the same submission_id again never appends twice.
            for submission_id, fields in unanswered.items():
                response = svc.submit(fields)
                if response.status == 201:
                    acknowledged[submission_id] = response.data["seq"]
                else:
                    # An update that names a ticket whose create was lost is refused; nothing appended.
                    self.assertIn(response.status, (404,), (submission_id, response))
            self.check_ledger(svc, acknowledged, "cycle %d after re-sending (seed %d)" % (cycle, seed))

            # The read model kept up incrementally equals a rebuild from the log.
            incremental = incidents_everywhere(svc)
            self.assertEqual(svc.restart(), 0)
            self.assertEqual(incidents_everywhere(svc), incremental, "rebuild differs, cycle %d seed %d" % (cycle, seed))
        self.assertGreater(len(acknowledged), CYCLES, "the test acknowledged almost nothing (seed %d)" % seed)

    def check_ledger(self, svc, acknowledged, where):
        events = svc.all_events()
        service.verify_chain(events)
        verified = svc.get("/api/v1/verify").data
        self.assertTrue(verified["ok"], (where, verified))
        self.assertEqual(verified["head_seq"], len(events), where)
        by_submission = {}
        for event in events:
            submission_id = event["submission_id"]
            self.assertNotIn(submission_id, by_submission, "%s: %s appears twice" % (where, submission_id))
            by_submission[submission_id] = event["seq"]
        for submission_id, seq in acknowledged.items():
            self.assertEqual(by_submission.get(submission_id), seq,
                             "%s: acknowledged %s (seq %d) is missing or moved" % (where, submission_id, seq))


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
