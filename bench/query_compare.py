#!/usr/bin/env python3
# Read queries of two builds side by side on the same big ledger: `serve` of
# each on its own copy of DATA_DIR (e.g. the data folder bench/run generates;
# each copy folds its own checkpoint first if the build needs one), then every
# query ROUNDS times, alternating between the two, and the median of each.
# Asked as a reader would: durations by system over a week and 90 days, as of
# the middle of the log, the incident list filtered by a system (two letter
# cases), the dashboard's availability strip, and the incident list as of
# the middle (a seq and a time). Prints a Markdown table
# with the ratio new / old.
#   bench/query_compare.py OLD_BINARY NEW_BINARY DATA_DIR ROUNDS
# Copies go to /tmp/query_compare/{old,new} (twice the data folder's size).
import http.client, json, os, shutil, signal, statistics, subprocess, sys, time

old, new, data, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def start(binary, folder, port):
    # An older build may not know --access-log: whatever it logs goes to a
    # file (a pipe nobody reads would fill and stall the service).
    quiet = ["--access-log", "off"] if b"--access-log" in open(binary, "rb").read() else []
    log = open(folder + ".log", "w+b")
    proc = subprocess.Popen([binary, "serve", "--data", folder, "--listen", "127.0.0.1:%d" % port] + quiet,
                            stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    while True:
        try:
            status, _ = get(port, "/healthz")
            if status == 200:
                return proc
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit("exited: " + log.read().decode(errors="replace")[-2000:])
            time.sleep(0.05)


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "identity"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


procs = {}
ports = {"old": 18731, "new": 18732}
try:
    for name, binary in (("old", old), ("new", new)):
        folder = "/tmp/query_compare/" + name
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(data, folder)
        procs[name] = start(binary, folder, ports[name])
    # The newest incident's start: the queries' windows end there.
    status, body = get(ports["new"], "/api/v1/incidents?limit=1&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")
    newest = json.loads(body)["incidents"][0]
    end_day = newest["started_at"][:10]
    head = json.loads(get(ports["new"], "/api/v1/tree-head")[1])["tree_size"]
    system = newest["systems"][0]
    end = end_day + "T00:00:%02dZ"
    # The incident list as of half the head (bench/run's row): the week
    # around the incident whose event is at that seq, the seq varied over
    # 256 neighbours; and the same point given as a time (?as_of=).
    half = head // 2
    event = json.loads(get(ports["new"], "/api/v1/events?after=%d&limit=1" % (half - 1))[1])["events"][0]
    then = json.loads(get(ports["new"], "/api/v1/incidents/%s?as_of_seq=%d" % (event["ticket"], half))[1])
    middle = time.mktime(time.strptime(then["started_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    week_around = "from=%s&to=%s" % tuple(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(middle + hours * 3600))
                                           for hours in (-84, 84))
    queries = {
        "incidents as of the middle seq, the week around it": lambda i: "/api/v1/incidents?as_of_seq=%d&%s" % (
            half - 128 + i % 256, week_around),
        "incidents as of the middle's time, the week around it": lambda i: "/api/v1/incidents?as_of=%s&%s" % (
            event["recorded_at"], week_around),
        "durations by system, a week": lambda i: "/api/v1/durations?to=%s&by=system" % (end % (i % 60)),
        "durations, 90 days": lambda i: "/api/v1/durations?from=%s&to=%s" % (
            time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.mktime(time.strptime(end_day, "%Y-%m-%d")) - 90 * 86400)),
            end % (i % 60)),
        "durations as of the middle seq, a week": lambda i: "/api/v1/durations?to=%s&as_of_seq=%d" % (
            end % (i % 60), head // 2),
        "incidents system=%s, a week" % system.lower(): lambda i: "/api/v1/incidents?system=%s&to=%s&limit=%d" % (
            system.lower(), end % 0, 50 + i),
        "incidents system=%s, a week" % system.upper(): lambda i: "/api/v1/incidents?system=%s&to=%s&limit=%d" % (
            system.upper(), end % 0, 50 + i),
        "availability, 90 days, every system (the dashboard's call)": lambda i:
            "/api/v1/availability?days=90&timezone=UTC&end_date=%s" % end_day,
        "availability, 7 days": lambda i: "/api/v1/availability?days=7&timezone=UTC&end_date=%s&system=%s" % (
            end_day, system if i % 2 else system.upper()),
    }
    print("| query | old median ms | new median ms | new / old |")
    print("| --- | --- | --- | --- |")
    for label, make in queries.items():
        times = {"old": [], "new": []}
        for i in range(rounds):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for name in order:
                started = time.perf_counter()
                status, body = get(ports[name], make(i))
                times[name].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise SystemExit("%s %s: %d %s" % (name, make(i), status, body[:300]))
        a, b = statistics.median(times["old"]), statistics.median(times["new"])
        print("| %s | %.1f | %.1f | %.2f |" % (label, a, b, b / a), flush=True)
finally:
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
