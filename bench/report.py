#!/usr/bin/env python3
"""Turns bench/run's measurements into one table (stdout and bench/RESULTS.md).

usage: report.py RESULTS.jsonl MICRO.json MACHINE.txt OUT.md

RESULTS.jsonl holds one JSON object per measured run (bench_common.h); each
figure in the table is the median of its runs, with the lowest and highest
beside it. bench/analysis.md (hand-written: where the time goes) is appended
to the file as it is.
"""
import json
import os
import statistics
import sys


def load_runs(path):
    runs = {}
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            runs.setdefault((record["bench"], record["label"]), []).append(record)
    return runs


def load_machine(path):
    machine = {}
    with open(path) as lines:
        for line in lines:
            key, _, value = line.rstrip("\n").partition("=")
            machine[key] = value
    return machine


def rate(value):
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ms(value):
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


class Figures:
    """Median and spread of one measured thing."""

    def __init__(self, records):
        self.records = records

    def median(self, field):
        return statistics.median(r.get(field, 0) for r in self.records)

    def spread(self, field):
        values = [r.get(field, 0) for r in self.records]
        return min(values), max(values)

    def throughput(self, unit="/s", latency=True):
        errors = sum(r.get("errors", 0) for r in self.records)
        timeouts = sum(r.get("timeouts", 0) for r in self.records)
        if errors and not any(r.get("ops", 0) for r in self.records):
            # Nothing answered (workload 6: every request has a time limit).
            text = f"no answer: {errors} error{'s' if errors != 1 else ''}"
            if timeouts:
                text += f", {timeouts} of them with no answer within the time limit"
            return text
        low, high = self.spread("ops_per_second")
        text = f"{rate(self.median('ops_per_second'))}{unit}"
        if len(self.records) > 1:
            text += f" ({rate(low)}–{rate(high)})"
        if latency and self.median("p99_ms") > 0:
            text += f"; p50 {ms(self.median('p50_ms'))} ms, p99 {ms(self.median('p99_ms'))} ms"
        if errors:
            text += f"; {errors} error{'s' if errors != 1 else ''}"
            if timeouts:
                text += f" ({timeouts} with no answer within the time limit)"
        return text


def main():
    results_path, micro_path, machine_path, out_path = sys.argv[1:5]
    runs = load_runs(results_path)
    machine = load_machine(machine_path)
    incidents = int(machine.get("incidents", "0") or 0)

    def get(bench, label):
        records = runs.get((bench, label))
        return Figures(records) if records else None

    rows = []  # (workload, ours, peer, ratio, goal)

    def ratio_of(ours, peer, field="ops_per_second"):
        if not ours or not peer or peer.median(field) == 0 or ours.median(field) == 0:
            return "—"
        return f"{ours.median(field) / peer.median(field):.2f}×"

    def missing(figures):
        return figures.throughput() if figures else "not measured"

    for clients in (1, 8, 64):
        ours = get("submit", f"ledger c={clients}")
        peer = get("submit", f"postgresql c={clients}")
        goal = "≥ 5× PostgreSQL" if clients == 64 else ""
        verdict = ""
        if clients == 64 and ours and peer:
            verdict = " (met)" if ours.median("ops_per_second") >= 5 * peer.median("ops_per_second") else " (not met)"
        rows.append((f"1. Durable submissions over HTTP, {clients} client{'s' if clients > 1 else ''} "
                     f"| PostgreSQL INSERT, synchronous_commit=on, via libpq",
                     missing(ours), missing(peer), ratio_of(ours, peer), goal + verdict))

    ceiling = get("http", "ledger GET /healthz c=64")
    peer = get("submit", "postgresql c=64")
    note = ""
    if ceiling and peer:
        goal = 5 * peer.median("ops_per_second")
        note = f"5× PostgreSQL ({rate(goal)}/s) is {goal / ceiling.median('ops_per_second'):.0%} of this ceiling"
    rows.append(("1. Ceiling over HTTP: GET /healthz (an empty answer, no work), 64 connections, same load generator "
                 "| PostgreSQL INSERT at 64 clients (the row above)",
                 missing(ceiling), missing(peer), ratio_of(ceiling, peer), note))

    for writers in (1, 8, 64):
        ours = get("append", f"ledger w={writers}")
        peer = get("append", f"rocksdb w={writers}")
        batch = f"; {ours.median('events_per_batch'):.1f} events/batch" if ours else ""
        what = "one sync per event" if writers == 1 else "group commit"
        rows.append((f"2. Ledger append in-process, {writers} writer{'s' if writers > 1 else ''} ({what}) "
                     f"| bare RocksDB WriteBatch + sync, same writers",
                     missing(ours) + batch, missing(peer), ratio_of(ours, peer), ""))

    raw = get("rebuild", "raw RocksDB scan + parse")
    events = int(raw.median("ops")) if raw else incidents * 5
    for label, what in (("ledger tickets", "ticket read model, in-process"),
                        ("ledger all projections", "tickets + notifications (what serve folds)"),
                        ("incident-ledger rebuild (CLI)", "`incident-ledger rebuild` incl. checkpoint save")):
        ours = get("rebuild", label)
        verdict = ""
        if ours and raw:
            verdict = " (met)" if ours.median("ops_per_second") >= 0.8 * raw.median("ops_per_second") else " (not met)"
        figure = ours.throughput(" events/s", latency=False) if ours else "not measured"
        if ours and all("save_seconds" in record for record in ours.records):
            figure += f"; the save {ours.median('save_seconds') * 1000:,.0f} ms of it"
        rows.append((f"3. Rebuild from {events:,} events: {what} | raw RocksDB scan + protobuf parse",
                     figure,
                     raw.throughput(" events/s", latency=False) if raw else "not measured",
                     ratio_of(ours, raw), "≥ 0.8× raw scan" + verdict))

    for label, goal in (("ledger start-up, checkpoints", "< 1 s"), ("ledger start-up, no checkpoint", "")):
        ours = get("startup", label)
        if not ours:
            continue
        low, high = ours.spread("seconds")
        text = f"{ours.median('seconds') * 1e3:,.0f} ms"
        if len(ours.records) > 1:
            text += f" ({low * 1e3:,.0f}–{high * 1e3:,.0f})"
        verdict = ""
        if goal:
            verdict = " (met)" if ours.median("seconds") < 1 else " (not met)"
        # The answers asked for right after (load_client startup --then):
        # the dashboard's one-week list, then a report over every incident.
        thens = [r.get("then_ms", []) for r in ours.records]
        if thens and all(len(t) >= 2 for t in thens):
            first = statistics.median(t[0] for t in thens)
            every = statistics.median(t[1] for t in thens)
            text += f"; first one-week list at {first:,.0f} ms, first report over every incident at {every:,.0f} ms"
        how = "with checkpoints" if "checkpoints" in label else "without a checkpoint (folds the log)"
        rows.append((f"3b. Start-up to the first /healthz 200, {events:,} events, {how}",
                     text, "", "—", goal + verdict))

    dashboard = get("dashboard", "ledger GET /api/v1/incidents")
    nginx = get("dashboard", "nginx static file")
    postgres = get("dashboard", "postgresql overlap query")
    verdict = ""
    if dashboard and nginx:
        met = dashboard.median("ops_per_second") >= 0.8 * nginx.median("ops_per_second") and dashboard.median("p99_ms") < 5
        verdict = " (met)" if met else " (not met)"
    static_bytes = int(machine.get("static_bytes", "0") or 0)
    rows.append((f"4. Dashboard: one-week window, 64 connections | nginx, static file of the same size "
                 f"({static_bytes:,} bytes)",
                 missing(dashboard), missing(nginx), ratio_of(dashboard, nginx), "≥ 0.8× nginx, p99 < 5 ms" + verdict))
    rows.append(("4. Dashboard: one-week window, 64 connections | PostgreSQL, same overlap query "
                 "(GiST on tstzrange, JSON built in SQL), 64 libpq connections",
                 missing(dashboard), missing(postgres), ratio_of(dashboard, postgres), ""))

    startup = get("startup", "ledger start-up, checkpoints")
    tickets = get("rebuild", "ledger tickets")
    pg_load = get("pg_load", "postgresql COPY + index")
    if incidents:
        per = 100000 / incidents
        service = f"{startup.median('rss_bytes') * per / 2**20:,.0f} MiB" if startup else "not measured"
        model = f"{tickets.median('rss_bytes_per_100k') / 2**20:,.0f} MiB" if tickets else "not measured"
        table = f"{pg_load.median('table_bytes') * per / 2**20:,.0f} MiB on disk" if pg_load else "not measured"
        rows.append(("5. Memory per 100,000 incidents: the service's resident set after start-up and a report "
                     "over every incident (every ticket built) "
                     "| PostgreSQL tables + indexes (on disk; its memory is shared_buffers)",
                     service + f" (the ticket read model alone: {model})", table, "—", ""))

    # 6. The dashboard at scale (bench/run section 6; each request limited to
    # request_timeout seconds, a request over it counted as an error).
    limit = machine.get("request_timeout", "30")

    def verdict_p99(figures, below_ms):
        if not figures or not figures.median("ops"):
            return " (not met: no answer)" if figures else ""
        return " (met)" if figures.median("p99_ms") < below_ms else " (not met)"

    page = get("page", "ledger dashboard page load c=1")
    page_text = missing(page)
    if page and page.median("ops"):
        page_text += (f"; {page.median('requests_per_operation'):.0f} requests, "
                      f"{page.median('bytes') / 1024:,.0f} KiB a page load")
    rows.append(("6. Dashboard whole page: every request a browser with an empty cache makes for GET / in its order "
                 "(the HTML, its stylesheets and scripts, /healthz, the default week's /api/v1/incidents pages, "
                 "/api/v1/availability?days=90, the icon; not the event stream), one client, page loads back to back",
                 page_text.replace("/s ", " page loads/s ", 1).replace("/s;", " page loads/s;", 1), "", "—", ""))

    browser = get("browser", "chromium dashboard drawn")
    browser_text = "not measured"
    browser_goal = "< 1 s"
    if browser:
        record = browser.records[0]
        if record.get("ops"):
            browser_text = (f"p50 {record['p50_ms']:,.0f} ms, p99 {record['p99_ms']:,.0f} ms over {record['ops']} loads "
                            f"(timeline bars alone: p50 {record.get('timeline_p50_ms', 0):,.0f} ms; availability bars: "
                            f"p50 {record.get('availability_p50_ms', 0):,.0f} ms; {record.get('timeline_items', 0):,} "
                            f"timeline bars, {record.get('availability_bars', 0):,} day bars, "
                            f"{record.get('requests_per_load', 0)} requests incl. the event stream)")
        else:
            browser_text = "no load drawn"
        if record.get("errors"):
            browser_text += f"; {record['errors']} error{'s' if record['errors'] != 1 else ''}"
            if record.get("timeouts"):
                browser_text += f" ({record['timeouts']} not drawn within {limit} s)"
        if record.get("ops"):
            browser_goal += " (met)" if record["p99_ms"] < 1000 else " (not met)"
        else:
            browser_goal += " (not met: not drawn)"
    rows.append(("6. The dashboard drawn in chromium (headless, a fresh profile each load): from navigation start "
                 "to the timeline's bars and the 90-day availability bars in the page, one load after another",
                 browser_text, "", "—", browser_goal))

    availability = get("availability", "ledger GET /api/v1/availability")
    pg_availability = get("availability", "postgresql availability, range_agg")
    check = get("availability_check", "ledger vs postgresql")
    pg_text = missing(pg_availability)
    if check:
        record = check.records[0]
        pg_text += f"; the same figures as ours in {record['agree']:,} of {record['cells']:,} system-days"
    elif availability and pg_availability:
        pg_text += "; not compared with ours (no answer from us)"
    rows.append(("6. 90-day availability: GET /api/v1/availability?days=90&timezone=UTC (the dashboard's call), "
                 "one client | PostgreSQL, the same answer in one statement (generate_series days, GiST overlap, "
                 "range_agg union per system and day, JSON built in SQL), one libpq connection",
                 missing(availability), pg_text, ratio_of(availability, pg_availability),
                 "p99 < 50 ms" + verdict_p99(availability, 50)))

    as_of = get("as_of", "ledger GET /api/v1/incidents?as_of_seq")
    rows.append(("6. Incident list as of a past seq: GET /api/v1/incidents?as_of_seq=(half the head, ± 128 so that "
                 "no two requests in a row ask the same)&from&to (the week around that seq's incident), one client",
                 missing(as_of), "", "—", ""))

    durations = get("durations", "ledger GET /api/v1/durations, ten years")
    durations_text = missing(durations)
    if durations and durations.median("ops"):
        durations_text += f"; the answer {durations.median('bytes'):,.0f} bytes"
    rows.append(("6. Ten-year durations report: GET /api/v1/durations from the first incident's start to now, "
                 "both lists, one client", durations_text, "", "—", ""))

    probe = get("page", "ledger GET /healthz beside 8 page-loading clients")
    loaders = get("page", "ledger dashboard page load c=8")
    rows.append(("6. GET /healthz, one every 5 ms, while 8 clients load the whole dashboard page in a loop "
                 "| the 8 clients' page loads, measured at the same time",
                 missing(probe), missing(loaders).replace("/s ", " page loads/s ", 1).replace("/s;", " page loads/s;", 1),
                 "—", "p99 < 10 ms" + verdict_p99(probe, 10)))

    generate = get("generate", "ledger via CommandProcessor, no sync")

    # 7. Proofs from the stored Merkle tree on the big ledger (ledger_bench
    # proofs): one at a time, in-process, each path checked outside its timing.
    for label, goal in (("inclusion proof", "p99 < 1 ms"), ("consistency proof", "")):
        figures = get("proofs", label)
        text = missing(figures)
        verdict = ""
        if figures and figures.median("ops"):
            text += (f"; CPU p50 {ms(figures.median('cpu_p50_ms'))} ms, p99 {ms(figures.median('cpu_p99_ms'))} ms "
                     f"(the thread's own time; the rest of the wall time it waited, for a core on a busy machine or for I/O); "
                     f"{figures.median('path_hashes_mean'):.0f} hashes a path")
            verdict = " (met)" if figures.median("p99_ms") < 1 else " (not met)"
        size = f"{int(figures.median('tree_size')):,}" if figures else "?"
        rows.append((f"7. {label[0].upper() + label[1:]} at {size} events: Ledger from the stored tree, "
                     "one at a time, in-process", text.replace("/s", " proofs/s", 1), "", "—",
                     goal + verdict if goal else ""))

    # 8. Follower lag (bench/follow_lag.py): a `serve --follow` copy of a
    # primary taking 1,000 submissions/s on loopback.
    lag = get("follow", "follower lag")
    lag_text = "not measured"
    lag_verdict = ""
    if lag and lag.median("ops"):
        lag_text = (f"p50 {ms(lag.median('p50_ms'))} ms, p99 {ms(lag.median('p99_ms'))} ms, max "
                    f"{ms(lag.median('max_ms'))} ms over {int(lag.median('ops')):,} events at "
                    f"{lag.median('ops_per_second'):,.0f} submissions/s")
        if lag.median("errors"):
            lag_text += f"; {int(lag.median('errors'))} errors"
        if lag.median("catch_up_events"):
            lag_text = (f"caught up with {int(lag.median('catch_up_events')):,} events from an empty folder in "
                        f"{lag.median('catch_up_seconds'):.1f} s, then " + lag_text)
        lag_verdict = " (met)" if lag.median("p99_ms") < 100 else " (not met)"
    rows.append(("8. Follower catch-up and lag: `serve --follow` copy, started on an empty folder, of a primary "
                 "holding 100,000 events, then taking 1,000 submissions/s (8 clients) on "
                 "loopback, from each 201 to the copy's event stream sending the event",
                 lag_text, "", "—", "p99 < 100 ms" + lag_verdict))

    # 9. Notification queue memory (bench/notify_memory.py): the service with
    # N subscribers to "*" beside the same one with none, E incident events.
    memory = get("notify_memory", "notification queue memory")
    memory_text = "not measured"
    memory_verdict = ""
    size = "2,000 subscribers × 1,000 events"
    if memory and memory.median("jobs"):
        size = f"{int(memory.median('subscribers')):,} subscribers × {int(memory.median('events')):,} events"
        beyond = ""
        if any("bytes_per_sent_job_beyond_memtables" in r for r in memory.records):
            beyond = (f", {memory.median('bytes_per_sent_job_beyond_memtables'):.1f} beyond the log's memtables "
                      f"({memory.median('memtable_mib_subscribers_after'):.1f} MiB with subscribers, "
                      f"{memory.median('memtable_mib_no_subscribers_after'):.1f} MiB without, bounded by "
                      "RocksDB's 64 MiB write buffer)")
        memory_text = (f"{memory.median('bytes_per_sent_job'):.1f} bytes per sent job "
                       f"({memory.median('growth_bytes_per_sent_job'):.1f} counted as growth while sending{beyond}); RSS "
                       f"{memory.median('rss_mib_subscribers_start'):.1f} → "
                       f"{memory.median('rss_mib_subscribers_after'):.1f} MiB with subscribers, "
                       f"{memory.median('rss_mib_no_subscribers_start'):.1f} → "
                       f"{memory.median('rss_mib_no_subscribers_after'):.1f} MiB without; "
                       f"{int(memory.median('jobs')):,} jobs sent in {memory.median('send_seconds'):.0f} s; "
                       f"`?state=sent&ticket=` with {int(memory.median('ticket_sent_jobs')):,} receipts: p50 "
                       f"{ms(memory.median('ticket_sent_p50_ms'))} ms, p99 {ms(memory.median('ticket_sent_p99_ms'))} ms; "
                       f"the log: {memory.median('log_events_per_sent_job'):.4f} events and "
                       f"{memory.median('log_bytes_per_sent_job'):.0f} bytes on disk per sent job")
        met = memory.median("bytes_per_sent_job") < 16 and memory.median("ticket_sent_p99_ms") < 20
        memory_verdict = " (met)" if met else " (not met)"
    rows.append((f"9. Notification queue memory: `serve` RSS after all mail is sent, {size}, subscribers to `*` "
                 "against none; local SMTP sink (aiosmtpd)", memory_text, "", "—",
                 "< 16 bytes per sent job; per-ticket sent p99 < 20 ms" + memory_verdict))

    # 10. Sustained durable submissions (load_client pace): one ledger, every
    # window of 100,000 answers, the last window's rate over the first's.
    pace = get("pace", "ledger c=64 sustained")
    pace_text = "not measured"
    pace_verdict = ""
    pace_size = int(machine.get("pace_submissions", "2000000") or 2000000)
    if pace and pace.median("ops"):
        rates = pace.records[0].get("window_rates", [])
        pace_text = (f"{rate(pace.median('ops_per_second'))}/s over {int(pace.median('ops')):,} submissions; "
                     f"first 100k {rate(rates[0]) if rates else '?'}/s, last 100k "
                     f"{rate(rates[-1]) if rates else '?'}/s: last / first "
                     f"{pace.median('last_over_first'):.2f}; p50 {ms(pace.median('p50_ms'))} ms, "
                     f"p99 {ms(pace.median('p99_ms'))} ms")
        cpu = pace.records[0].get("window_cpu_us", [])
        if cpu:
            pace_text += (f"; the service's CPU per submission: first 100k {cpu[0]:.0f} µs, last 100k "
                          f"{cpu[-1]:.0f} µs")
        if pace.median("errors"):
            pace_text += f"; {int(pace.median('errors'))} errors"
        pace_verdict = " (met)" if pace.median("last_over_first") >= 0.9 else " (not met)"
    rows.append((f"10. Sustained durable submissions: 64 clients, {pace_size:,} create submissions into one fresh "
                 "ledger, the rate of every 100,000 (once per run)", pace_text, "", "—",
                 "last 100k ≥ 90% of the first 100k's rate" + pace_verdict))

    lines = []
    lines.append("| workload | ours | peer | ours / peer | goal |")
    lines.append("| --- | --- | --- | --- | --- |")
    for workload, ours, peer, ratio, goal in rows:
        what, _, against = workload.partition(" | ")
        peer_cell = f"{against}: {peer}" if against else "—"
        lines.append(f"| {what} | {ours} | {peer_cell} | {ratio} | {goal} |")
    table = "\n".join(lines)

    micro_lines = ["| micro-benchmark | time per operation | counters |", "| --- | --- | --- |"]
    try:
        with open(micro_path) as micro_file:
            micro = json.load(micro_file)
        for bench in micro.get("benchmarks", []):
            unit = bench.get("time_unit", "ns")
            counters = ", ".join(f"{k} {v:,.0f}" for k, v in bench.items()
                                 if k in ("incidents", "bytes") and isinstance(v, (int, float)))
            if "bytes_per_second" in bench:
                counters = (counters + ", " if counters else "") + f"{bench['bytes_per_second'] / 2**20:,.0f} MiB/s"
            micro_lines.append(f"| {bench['name']} | {bench['real_time']:,.0f} {unit} | {counters} |")
    except (OSError, ValueError):
        micro_lines.append("| (not run) | | |")
    micro_table = "\n".join(micro_lines)

    versions = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in machine.items() if k.startswith("version.") and v)
    header = [
        "# Benchmark results",
        "",
        "Written by `bench/run` (see README, \"Benchmarks\"); every peer measured in the same run, on the same "
        "machine. Each figure is the median of "
        f"{machine.get('runs', '?')} runs of {machine.get('seconds', '?')} s, the rebuild rows of twice as many "
        "(lowest–highest in brackets); the chromium row is one series of page loads. "
        f"In workload 6 every request has a client-side limit of {machine.get('request_timeout', '30')} s; a row "
        "whose run had a request over it runs no more (see bench/run). "
        "Benchmarks measure and report; they never fail on a number.",
        "",
        f"- Machine: {machine.get('cores', '?')} cores, {machine.get('cpu', '?')}, {machine.get('memory', '?')}; "
        f"disk {machine.get('disk', '?')}; {machine.get('os', '?')}; {machine.get('compiler', '?')}; "
        f"load average at the end {machine.get('load_average', '?')}",
        f"- Versions: {versions}",
        f"- Run: commit {machine.get('commit', '?')}, {machine.get('date', '?')}; build "
        f"{machine.get('build_seconds', '?')} s, whole run {machine.get('total_seconds', '?')} s"
        + (f" (the dashboard at scale, workload 6: {machine['dashboard_seconds']} s)"
           if machine.get("dashboard_seconds") else ""),
        f"- Data: {incidents:,} incidents over 10 years, {incidents * 5:,} events, generated in-process through "
        "CommandProcessor with sync_writes=false"
        + (f" in {generate.median('seconds'):.0f} s ({rate(generate.median('ops_per_second'))} events/s)" if generate else "")
        + ".",
        f"- HTTP servers, ours (`serve --threads`) and nginx (`worker_processes`) alike: "
        f"{machine.get('server_workers', '?')} worker(s), one per core the load generator leaves them "
        "(it runs on the same machine). PostgreSQL runs its usual process per connection.",
        "- A shared, virtualised 2-core machine: the load generators run on the same two cores as the server "
        "they drive, and other builds may have been running; read ratios rather than absolute figures. "
        "The bare RocksDB single-writer row shows what one fsync costs on this disk; it bounds every "
        "one-client durable figure.",
        "",
    ]
    text = "\n".join(header) + "\n" + table + "\n\n" + micro_table + "\n"
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as notes:
            text += "\n" + notes.read()
    with open(out_path, "w") as out:
        out.write(text)
    print(table)
    print()
    print(micro_table)


if __name__ == "__main__":
    main()
