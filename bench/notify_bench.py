#!/usr/bin/env python3
"""Notification fan-out benchmark (issue 5, "Speed").

One incident affecting a system with N subscribers (default 5,000): the time
until all N mails are accepted by a local SMTP server (Debian's
python3-aiosmtpd on loopback), and the submissions per second that other
clients get while that delivery runs, against the same clients with no
delivery going on. Prints one JSON report.

    LEDGER_BINARY=build/release/app/incident-ledger python3 bench/notify_bench.py \
        [--subscribers 5000] [--smtp-concurrency 4] [--clients 4]

It measures and reports; it asserts only that every mail arrived exactly once.
The SMTP server is a Python process on the same machine, so it (and the
machine's cores) bound the mail rate as much as the service does.
"""

import argparse
import collections
import json
import os
import sys
import threading
import time

try:
    import aiosmtpd  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != "/usr/bin/python3" \
            and not os.environ.get("LEDGER_REEXECUTED"):
        os.environ["LEDGER_REEXECUTED"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("aiosmtpd is missing: apt-get install python3-aiosmtpd")

from aiosmtpd.controller import Controller

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from service import Service, send  # noqa: E402


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_recipient = collections.Counter()
        self.first_at = None
        self.last_at = None

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.by_recipient[recipient] += 1
            self.first_at = self.first_at or now
            self.last_at = now
        return "250 OK"

    def total(self):
        with self.lock:
            return sum(self.by_recipient.values())


def free_port():
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_clients(service, clients, stop, counts, latencies):
    def client(index):
        connection = service.connection()
        number = 0
        while not stop.is_set():
            number += 1
            started = time.monotonic()
            response = send(connection, "POST", "/api/v1/submissions", {
                "action": "create", "title": "bench %d-%d" % (index, number), "systems": ["printing"],
                "engineer": "bench"})
            if response.status != 201:
                raise RuntimeError("submission failed: %r" % response)
            latencies.append(time.monotonic() - started)
            counts[index] += 1
        connection.close()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    return threads


def submissions_per_second(service, clients, seconds):
    stop = threading.Event()
    counts = [0] * clients
    latencies = []
    threads = run_clients(service, clients, stop, counts, latencies)
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    latencies.sort()
    return sum(counts) / seconds, latencies[len(latencies) * 99 // 100] if latencies else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--smtp-concurrency", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    arguments = parser.parse_args()

    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    service = Service(extra_args=["--smtp-url", "smtp://127.0.0.1:%d" % port, "--smtp-from", "noc@example.org",
                                  "--smtp-concurrency", str(arguments.smtp_concurrency)])
    service.start()
    try:
        started = time.monotonic()
        subscribe_threads = []
        per_thread = (arguments.subscribers + 7) // 8

        def subscribe(first):
            connection = service.connection()
            for i in range(first, min(first + per_thread, arguments.subscribers)):
                response = send(connection, "POST", "/api/v1/subscriptions",
                                {"email": "user%05d@example.org" % i, "systems": ["mail"]})
                if response.status != 201:
                    raise RuntimeError("subscribe failed: %r" % response)
            connection.close()
        for first in range(0, arguments.subscribers, per_thread):
            subscribe_threads.append(threading.Thread(target=subscribe, args=(first,)))
            subscribe_threads[-1].start()
        for thread in subscribe_threads:
            thread.join()
        subscribe_seconds = time.monotonic() - started

        baseline_rate, baseline_p99 = submissions_per_second(service, arguments.clients, arguments.baseline_seconds)

        stop = threading.Event()
        counts = [0] * arguments.clients
        latencies = []
        opened_at = time.monotonic()
        response = service.submit({"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "e"})
        assert response.status == 201, response
        threads = run_clients(service, arguments.clients, stop, counts, latencies)
        while counter.total() < arguments.subscribers and time.monotonic() - opened_at < 600:
            time.sleep(0.01)
        accepted_seconds = time.monotonic() - opened_at
        stop.set()
        for thread in threads:
            thread.join()
        during_rate = sum(counts) / accepted_seconds
        latencies.sort()

        def all_recorded():
            status, _, data = service.get("/api/v1/notifications?limit=1")
            return data["counts"]["sent"] == arguments.subscribers
        while not all_recorded() and time.monotonic() - opened_at < 600:
            time.sleep(0.05)
        recorded_seconds = time.monotonic() - opened_at

        duplicates = sum(1 for count in counter.by_recipient.values() if count > 1)
        report = {
            "subscribers": arguments.subscribers,
            "smtp_concurrency": arguments.smtp_concurrency,
            "clients": arguments.clients,
            "subscribe_seconds": round(subscribe_seconds, 3),
            "all_accepted_by_smtp_seconds": round(accepted_seconds, 3),
            "all_receipts_recorded_seconds": round(recorded_seconds, 3),
            "mails_per_second": round(arguments.subscribers / accepted_seconds, 1),
            "submissions_per_second_idle": round(baseline_rate, 1),
            "submissions_per_second_during_delivery": round(during_rate, 1),
            "submission_p99_ms_idle": round(baseline_p99 * 1000, 2) if baseline_p99 else None,
            "submission_p99_ms_during_delivery": round(latencies[len(latencies) * 99 // 100] * 1000, 2)
            if latencies else None,
            "mails_received": counter.total(),
            "recipients_mailed_twice": duplicates,
        }
        print(json.dumps(report, indent=2))
        if counter.total() != arguments.subscribers or duplicates:
            sys.exit("not every subscriber got exactly one mail")
    finally:
        service.close()
        controller.stop()


if __name__ == "__main__":
    main()
