#!/usr/bin/env python3
"""Follower lag on loopback: a primary takes submissions at a steady rate and
a `serve --follow` copy of it follows; for every event, the time from the
primary's 201 to the moment the copy's event stream sends it.

usage: follow_lag.py BINARY WORKDIR [--rate 1000] [--seconds 5] [--clients 8]
                     [--primary-from DIR]

Both services run in fresh folders below WORKDIR, on free loopback ports, and
are stopped at the end. With --primary-from, the primary starts on a copy of
that ledger folder (say one `ledger_bench generate` wrote), and the copy,
started on an empty folder, first catches up with it: the time from the
copy's start to its head equalling the primary's is measured before the
steady stream starts. Prints one JSON line (bench/bench_common.h's shape):
{"bench":"follow","label":"follower lag","ops","ops_per_second","p50_ms",
"p99_ms","max_ms","errors","rate_asked","catch_up_events",
"catch_up_seconds"} (the last two 0 without --primary-from). Standard
library only.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time


def start(binary, data, extra):
    process = subprocess.Popen([binary, "serve", "--data", data, "--listen", "127.0.0.1:0", *extra],
                               stdout=subprocess.PIPE, stderr=open(data + ".log", "wb"))
    line = process.stdout.readline().decode().strip()
    if not line.startswith("listening on http://"):
        process.kill()
        raise SystemExit("the service did not start: %r (see %s.log)" % (line, data))
    host, port = line[len("listening on http://"):].rsplit(":", 1)
    return process, host, int(port)


def head_seq(host, port):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", "/healthz")
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer["head_seq"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--primary-from")
    options = parser.parse_args()
    os.makedirs(options.workdir, exist_ok=True)
    primary_dir = os.path.join(options.workdir, "primary")
    if options.primary_from:
        shutil.copytree(options.primary_from, primary_dir)
    primary, host, port = start(options.binary, primary_dir, [])
    mirror = None
    try:
        catch_up_events = head_seq(host, port) if options.primary_from else 0
        began = time.monotonic()
        mirror, mirror_host, mirror_port = start(options.binary, os.path.join(options.workdir, "mirror"),
                                                 ["--follow", "http://%s:%d" % (host, port)])
        while head_seq(mirror_host, mirror_port) < catch_up_events:
            if time.monotonic() - began > 1800:
                raise SystemExit("the copy did not catch up with %d events in 30 minutes" % catch_up_events)
            time.sleep(0.02)
        catch_up_seconds = time.monotonic() - began if options.primary_from else 0
        seen = {}
        acknowledged = {}
        errors = [0]
        lock = threading.Lock()
        start_after = head_seq(host, port)

        def watch():
            stream = socket.create_connection((mirror_host, mirror_port))
            stream.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: %s:%d\r\nLast-Event-ID: %d\r\n\r\n"
                            % (mirror_host, mirror_port, start_after)).encode())
            buffer = b""
            while True:
                chunk = stream.recv(1 << 16)
                if not chunk:
                    return
                now = time.monotonic()
                buffer += chunk
                while True:
                    at = buffer.find(b"id: ")
                    end = buffer.find(b"\n", at) if at >= 0 else -1
                    if at < 0 or end < 0:
                        buffer = buffer[at:] if at >= 0 else b""
                        break
                    seq = int(buffer[at + 4:end])
                    with lock:
                        seen.setdefault(seq, now)
                    buffer = buffer[end:]

        threading.Thread(target=watch, daemon=True).start()
        time.sleep(0.5)
        interval = options.clients / options.rate
        deadline = time.monotonic() + options.seconds

        def submit(client):
            connection = http.client.HTTPConnection(host, port, timeout=30)
            next_at = time.monotonic() + client * interval / options.clients
            number = 0
            while next_at < deadline:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                body = json.dumps({"action": "create", "title": "lag %d-%d" % (client, number), "systems": ["db"],
                                   "engineer": "bench"})
                try:
                    connection.request("POST", "/api/v1/submissions", body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    answer = json.loads(response.read())
                    if response.status == 201:
                        with lock:
                            acknowledged[answer["seq"]] = time.monotonic()
                    else:
                        errors[0] += 1
                except (OSError, http.client.HTTPException, ValueError):
                    errors[0] += 1
                    connection.close()
                    connection = http.client.HTTPConnection(host, port, timeout=30)
                number += 1
                next_at += interval
            connection.close()

        began = time.monotonic()
        clients = [threading.Thread(target=submit, args=(client,)) for client in range(options.clients)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        elapsed = time.monotonic() - began
        wait_until = time.monotonic() + 10
        while time.monotonic() < wait_until:
            with lock:
                if all(seq in seen for seq in acknowledged):
                    break
            time.sleep(0.05)
        with lock:
            lags = [max(0.0, seen[seq] - at) * 1000 for seq, at in acknowledged.items() if seq in seen]
            missing = sum(1 for seq in acknowledged if seq not in seen)
        lags.sort()

        def quantile(q):
            return lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0

        print(json.dumps({"bench": "follow", "label": "follower lag", "ops": len(lags),
                          "ops_per_second": len(acknowledged) / elapsed if elapsed else 0,
                          "p50_ms": statistics.median(lags) if lags else 0, "p99_ms": quantile(0.99),
                          "max_ms": lags[-1] if lags else 0, "errors": errors[0] + missing,
                          "rate_asked": options.rate, "catch_up_events": catch_up_events,
                          "catch_up_seconds": catch_up_seconds}))
    finally:
        for process in (mirror, primary):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


if __name__ == "__main__":
    sys.exit(main())
