"""Duration figures with impact and maintenance against an independent
calculation: a seeded random history (the seed is printed; LEDGER_FIGURES_SEED
repeats one) of incidents with every impact, reopened and corrected after the
fact (times, impact, systems, milestones), and maintenance windows scheduled,
started late or early, ended, corrected and cancelled, goes through the real
binary. Then this file folds the exported event log itself, with its own
interval arithmetic (subtraction, not the service's unions), and compares
every figure of GET /api/v1/durations (JSON and CSV) and of the per-day
availability (GET /api/v1/availability and the `availability` command) with
its own: as corrected now, and as known at a moment in the middle of the
history (`as_of`). Every answer names the head it was computed at (head_seq,
head_hash: the last event's, and for CSV the X-Ledger-Head header), and the
figures asked again as of that seq are the same. The restatement report
(GET /api/v1/durations/changes) between the middle and the end of the
history is checked against the difference of the two independent
calculations: the same incidents, systems and MTTR, with the same figures
and the incident events recorded in between.

Systems are named in random letter case throughout, and two spellings are
merged into other systems by aliases (POST /api/v1/systems): one before the
middle of the history and one after it. The independent fold resolves names
as DESIGN.md says ("Systems match case-insensitively and through aliases
everywhere; an alias recorded later changes 'as corrected', not 'as known
then'"): figures as corrected follow both aliases, figures as known at the
middle only the first, and every system is reported under the name the
catalog defined for it.

DESIGN.md's rule, per system and window: down = periods of its full and
partial incidents, planned = its maintenance as actually run, degraded =
periods of its degraded incidents; downtime = |down - planned|, planned =
|planned|, degraded = |degraded - down - planned|, availability =
1 - downtime / window. MTTR, MTTA, MTTM over the incidents closed in the
window (MTTA/MTTM over those with the milestone; one before the start counts
0).
"""

import csv
import io
import json
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

MICROS = 1_000_000
HOUR = 3600 * MICROS
DAY = 24 * HOUR
WINDOW_FROM = "2026-10-01T00:00:00Z"
WINDOW_TO = "2026-11-01T00:00:00Z"
SYSTEMS = ["mail", "vpn", "db", "dns", "wifi", "webmail", "net"]
# How the catalog spells each system (defined before the history starts).
CATALOG = {"mail": "Mail", "vpn": "VPN", "db": "db", "dns": "DNS", "wifi": "WiFi", "webmail": "Webmail",
           "net": "Net", "backup": "Backup"}
# (alias, name): the first is recorded before the middle of the history,
# the second after it.
ALIASES = [("WIFI", "net"), ("webMail", "Mail")]


def micros(text):
    return service.rfc3339_micros(text)


def datetime_text(value):
    """YYYY-MM-DDTHH:MM:SS (UTC) of unix micros."""
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(value // MICROS))


def rfc3339(value, offset_minutes=0):
    """RFC 3339 of unix micros, written with an offset (as a submitter might)."""
    import datetime
    zone = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=value)
    return moment.astimezone(zone).isoformat()


# -- interval arithmetic, on sorted lists of disjoint [start, end) ----------

def union(intervals):
    merged = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(intervals, taken):
    """What of `intervals` (disjoint) is not in `taken` (disjoint)."""
    left = []
    for start, end in intervals:
        pieces = [(start, end)]
        for t_start, t_end in taken:
            next_pieces = []
            for p_start, p_end in pieces:
                if t_end <= p_start or t_start >= p_end:
                    next_pieces.append((p_start, p_end))
                    continue
                if p_start < t_start:
                    next_pieces.append((p_start, t_start))
                if t_end < p_end:
                    next_pieces.append((t_end, p_end))
            pieces = next_pieces
        left.extend(pieces)
    return left


def length(intervals):
    return sum(end - start for start, end in intervals)


def clip(interval, low, high):
    return (max(interval[0], low), min(interval[1], high))


# -- the independent fold of the exported log ---------------------------------

class Incident:
    def __init__(self, ticket):
        self.ticket = ticket
        self.periods = []  # [start, end or None]
        self.systems = []
        self.impact = "full"
        self.closed = False
        self.acknowledged_at = None
        self.mitigated_at = None


class Maintenance:
    def __init__(self, window):
        self.window = window
        self.systems = []
        self.started_at = None
        self.ended_at = None
        self.status = "scheduled"


def resolver(events, as_of_micros=None):
    """A system's name as the catalog shows it, known at as_of_micros (None:
    now): case folded, aliases recorded by then followed, the defined
    spelling (the catalog's names are today's in both)."""
    shown, aliases = {}, {}
    for event in events:
        payload = event["payload"]
        if event["type"] == "SYSTEM_DEFINED":
            shown.setdefault(payload["name"].lower(), payload["name"])
        elif event["type"] == "SYSTEM_ALIASED":
            if as_of_micros is None or micros(event["recorded_at"]) <= as_of_micros:
                aliases[payload["alias"].lower()] = payload["name"].lower()

    def resolve(name):
        key = name.lower()
        while key in aliases:
            key = aliases[key]
        return shown.get(key, name)
    return resolve


def distinct(resolve, names):
    out = []
    for name in names:
        if resolve(name) not in out:
            out.append(resolve(name))
    return out


def fold(events, as_of_micros=None):
    incidents, windows = {}, {}
    resolve = resolver(events, as_of_micros)
    for event in events:
        recorded = micros(event["recorded_at"])
        if as_of_micros is not None and recorded > as_of_micros:
            continue
        kind, payload, ticket = event["type"], event["payload"], event["ticket"]
        if kind.startswith("INCIDENT_"):
            if kind == "INCIDENT_OPENED":
                incidents[ticket] = Incident(ticket)
                incidents[ticket].periods.append([micros(payload.get("started_at")) if "started_at" in payload
                                                  else recorded, None])
            incident = incidents[ticket]
            if "systems" in payload:
                incident.systems = distinct(resolve, payload["systems"])
            if "impact" in payload:
                incident.impact = payload["impact"]
            for name in ("acknowledged_at", "mitigated_at"):
                if name in payload:
                    setattr(incident, name, micros(payload[name]))
            latest = incident.periods[-1]
            if kind == "INCIDENT_CLOSED":
                incident.closed = True
                latest[1] = micros(payload["ended_at"]) if "ended_at" in payload else recorded
                if "started_at" in payload:
                    latest[0] = micros(payload["started_at"])
            elif kind == "INCIDENT_REOPENED":
                incident.closed = False
                incident.periods.append([micros(payload["started_at"]) if "started_at" in payload else recorded, None])
            elif kind == "INCIDENT_UPDATED":
                if "started_at" in payload:
                    latest[0] = micros(payload["started_at"])
                if "ended_at" in payload and latest[1] is not None:
                    latest[1] = micros(payload["ended_at"])
        elif kind.startswith("MAINTENANCE_"):
            if kind == "MAINTENANCE_SCHEDULED":
                windows[ticket] = Maintenance(ticket)
            window = windows[ticket]
            if "systems" in payload:
                window.systems = distinct(resolve, payload["systems"])
            if "started_at" in payload:
                window.started_at = micros(payload["started_at"])
            if "ended_at" in payload:
                window.ended_at = micros(payload["ended_at"])
            window.status = {"MAINTENANCE_STARTED": "in_progress", "MAINTENANCE_ENDED": "completed",
                             "MAINTENANCE_CANCELLED": "cancelled"}.get(kind, window.status)
    return incidents, windows


def period_intervals(incident, now):
    """The incident's periods as they count at `now` (an open one runs to now)."""
    out = []
    for start, end in incident.periods:
        if end is None:
            if start > now:
                continue
            end = now
        out.append((start, max(start, end)))
    return out


def run_interval(window, now):
    if window.started_at is None:
        return None
    if window.ended_at is None:
        return None if window.started_at > now else (window.started_at, now)
    return (window.started_at, max(window.started_at, window.ended_at))


def overlaps(interval, low, high):
    start, end = interval
    if start == end:
        return low <= start < high
    return start < high and end > low


def expected_system(system, incidents, windows, low, high, now):
    down, degraded, planned, tickets, names = [], [], [], [], []
    for ticket in sorted(incidents, key=lambda t: int(t.split("-")[1])):
        incident = incidents[ticket]
        if system not in incident.systems:
            continue
        periods = [p for p in period_intervals(incident, now) if overlaps(p, low, high)]
        if not periods:
            continue
        tickets.append(ticket)
        parts = [clip(p, low, high) for p in periods]
        (degraded if incident.impact == "degraded" else down).extend(parts)
    for name in sorted(windows, key=lambda w: int(w.split("-")[1])):
        window = windows[name]
        run = run_interval(window, now)
        if system not in window.systems or run is None:
            continue
        part = clip(run, low, high)
        if part[0] < part[1]:
            planned.append(part)
            names.append(name)
    down, degraded, planned = union(down), union(degraded), union(planned)
    downtime = length(subtract(down, planned))
    degraded_left = length(subtract(subtract(degraded, down), planned))
    return {"downtime_micros": downtime, "planned_micros": length(planned), "degraded_micros": degraded_left,
            "tickets": tickets, "windows": names}


def expected_report(incidents, windows, low, high, now):
    systems = {}
    named = set()
    for incident in incidents.values():
        if any(overlaps(p, low, high) for p in period_intervals(incident, now)):
            named.update(incident.systems)
    for window in windows.values():
        run = run_interval(window, now)
        if run is not None and clip(run, low, high)[0] < clip(run, low, high)[1]:
            named.update(window.systems)
    for system in sorted(named):
        systems[system] = expected_system(system, incidents, windows, low, high, now)
    closed = [t for t in sorted(incidents, key=lambda t: int(t.split("-")[1]))
              if incidents[t].closed and low <= incidents[t].periods[-1][1] < high]
    means = {}
    for name, values in (
            ("mttr", {t: length(union(period_intervals(incidents[t], now))) for t in closed}),
            ("mtta", {t: max(0, incidents[t].acknowledged_at - incidents[t].periods[0][0])
                      for t in closed if incidents[t].acknowledged_at is not None}),
            ("mttm", {t: max(0, incidents[t].mitigated_at - incidents[t].periods[0][0])
                      for t in closed if incidents[t].mitigated_at is not None})):
        means[name] = (sum(values.values()) // len(values) // MICROS if values else None, list(values))
    incident_seconds = {}
    for ticket, incident in incidents.items():
        periods = [p for p in period_intervals(incident, now) if overlaps(p, low, high)]
        if periods:
            incident_seconds[ticket] = length(union([clip(p, low, high) for p in periods])) // MICROS
    return systems, means, incident_seconds


# -- the random history --------------------------------------------------------

class History:
    def __init__(self, svc, rng):
        self.svc, self.rng = svc, rng
        self.base = micros(WINDOW_FROM) - 3 * DAY  # some start before the window
        self.incidents = {}  # ticket -> {"open": bool, "end": micros or None, "start": micros}
        self.windows = {}    # name -> status

    def submit(self, fields):
        response = self.svc.submit(fields)
        assert response.status == 201, (fields, response)
        return response.data

    def maintain(self, fields):
        response = self.svc.request("POST", "/api/v1/maintenance", fields)
        assert response.status == 201, (fields, response)
        return response.data

    def spell(self, systems):
        """The systems in a random letter case each (one system is one
        system whatever its case)."""
        return [self.rng.choice([s, s.upper(), s.capitalize(), CATALOG[s]]) for s in systems]

    def define_catalog(self):
        for name in CATALOG.values():
            response = self.svc.request("POST", "/api/v1/systems", {"action": "define", "name": name})
            assert response.status == 201, (name, response)

    def alias(self, alias, name):
        response = self.svc.request("POST", "/api/v1/systems", {"action": "alias", "name": name, "alias": alias})
        assert response.status == 201, (alias, name, response)

    def time(self, spread_days=36):
        return self.base + self.rng.randrange(spread_days * 24 * 60) * 60 * MICROS

    def step(self):
        rng = self.rng
        choice = rng.random()
        if choice < 0.22 or not self.incidents:
            start = self.time()
            fields = {"action": "create", "title": "incident", "engineer": "Ana",
                      "systems": self.spell(rng.sample(SYSTEMS, rng.randint(1, 2))),
                      "started_at": rfc3339(start, rng.choice([0, 60, -300]))}
            if rng.random() < 0.8:
                fields["impact"] = rng.choice(["full", "partial", "degraded"])
            if rng.random() < 0.5:
                fields["acknowledged_at"] = rfc3339(start + rng.randrange(-30, 120) * 60 * MICROS)
            ticket = self.submit(fields)["ticket"]
            self.incidents[ticket] = {"open": True, "start": start, "end": None}
            return
        if choice < 0.5:
            # Mostly an open one: few incidents stay open for weeks.
            still_open = sorted(t for t, state in self.incidents.items() if state["open"])
            ticket = rng.choice(still_open if still_open and rng.random() < 0.7 else sorted(self.incidents))
            state = self.incidents[ticket]
            if state["open"]:
                end = state["start"] + rng.randrange(10, 30 * 60) * 60 * MICROS
                fields = {"action": "close", "ticket": ticket, "ended_at": rfc3339(end)}
                if rng.random() < 0.4:
                    fields["mitigated_at"] = rfc3339(state["start"] + rng.randrange(0, 600) * 60 * MICROS)
                self.submit(fields)
                state.update(open=False, end=end)
            elif rng.random() < 0.3:
                start = state["end"] + rng.randrange(1, 48 * 60) * 60 * MICROS
                self.submit({"action": "reopen", "ticket": ticket, "started_at": rfc3339(start)})
                state.update(open=True, start=start, end=None)
            else:  # a correction after the fact
                fix = rng.random()
                if fix < 0.35:
                    end = state["start"] + rng.randrange(1, 40 * 60) * 60 * MICROS
                    self.submit({"action": "update", "ticket": ticket, "ended_at": rfc3339(end)})
                    state["end"] = end
                elif fix < 0.7:
                    self.submit({"action": "update", "ticket": ticket,
                                 "impact": rng.choice(["full", "partial", "degraded"])})
                else:
                    self.submit({"action": "update", "ticket": ticket,
                                 "systems": self.spell(rng.sample(SYSTEMS, rng.randint(1, 3)))})
            return
        if choice < 0.62:
            ticket = rng.choice(sorted(self.incidents))
            self.submit({"action": "update", "ticket": ticket, "impact": rng.choice(["full", "partial", "degraded"]),
                         "mitigated_at": rfc3339(self.incidents[ticket]["start"] + rng.randrange(0, 300) * 60 * MICROS)})
            return
        # maintenance
        scheduled = [w for w, s in self.windows.items() if s == "scheduled"]
        running = [w for w, s in self.windows.items() if s == "in_progress"]
        done = [w for w, s in self.windows.items() if s == "completed"]
        pick = rng.random()
        if pick < 0.3 or not self.windows:
            starts = self.time()
            systems = self.spell(rng.sample(SYSTEMS + ["backup"], rng.randint(1, 2)))
            name = self.maintain({"action": "schedule", "title": "patch", "systems": systems,
                                  "starts_at": rfc3339(starts), "ends_at": rfc3339(starts + rng.randint(1, 6) * HOUR)})["window"]
            self.windows[name] = "scheduled"
            self.windows[name + ":planned"] = starts
        elif pick < 0.55 and scheduled:
            name = rng.choice(scheduled)
            if rng.random() < 0.25:
                self.maintain({"action": "cancel", "window": name})
                self.windows[name] = "cancelled"
            else:  # started late (or now and then early)
                at = self.windows[name + ":planned"] + rng.randrange(-20, 180) * 60 * MICROS
                self.maintain({"action": "start", "window": name, "at": rfc3339(at, 60)})
                self.windows[name] = "in_progress"
                self.windows[name + ":started"] = at
        elif pick < 0.8 and running:
            name = rng.choice(running)
            at = self.windows[name + ":started"] + rng.randrange(10, 8 * 60) * 60 * MICROS
            self.maintain({"action": "end", "window": name, "at": rfc3339(at)})
            self.windows[name] = "completed"
            self.windows[name + ":ended"] = at
        elif done:
            name = rng.choice(done)
            at = self.windows[name + ":started"] + rng.randrange(10, 12 * 60) * 60 * MICROS
            self.maintain({"action": "update", "window": name, "ended_at": rfc3339(at)})
            self.windows[name + ":ended"] = at


class FiguresTest(service.ServiceTestCase):
    def test_random_history_agrees_with_an_independent_calculation(self):
        seed = int(os.environ.get("LEDGER_FIGURES_SEED", random.randrange(1 << 30)))
        print("figures seed: %d (repeat with LEDGER_FIGURES_SEED=%d)" % (seed, seed), file=sys.stderr)
        rng = random.Random(seed)
        self.svc = self.start_service()
        history = History(self.svc, rng)
        history.define_catalog()
        for step in range(90):
            if step == 45:
                history.alias(*ALIASES[0])
            history.step()
        as_of = self.svc.all_events()[-1]["recorded_at"]
        for step in range(90):
            if step == 10:
                history.alias(*ALIASES[1])
            history.step()
        events = self.svc.all_events()
        kinds = {e["type"] for e in events}
        self.assertTrue({"MAINTENANCE_STARTED", "INCIDENT_UPDATED"} <= kinds, kinds)

        low, high = micros(WINDOW_FROM), micros(WINDOW_TO)
        for label, query, as_of_micros in (("now", "", None), ("as of", "&as_of=" + as_of, micros(as_of))):
            with self.subTest(label, seed=seed):
                report = self.svc.get("/api/v1/durations?from=%s&to=%s%s" % (WINDOW_FROM, WINDOW_TO, query)).data
                now = micros(report["computed_for"])
                incidents, windows = fold(events, as_of_micros)
                systems, means, incident_seconds = expected_report(incidents, windows, low, high, now)
                self.check_report(report, systems, means, incident_seconds, high - low)
                self.check_head(report, events[-1])
                self.check_csv(query, report, events[-1])
                self.check_days(incidents, windows, now, as_of if as_of_micros is not None else None, events[-1])
                if as_of_micros is None:
                    again = self.svc.get("/api/v1/durations?from=%s&to=%s&as_of_seq=%d" %
                                         (WINDOW_FROM, WINDOW_TO, report["head_seq"])).data
                    # The open incidents' time runs on between the two answers.
                    for key in ("mttr_seconds", "mttr_tickets", "mtta_seconds", "mttm_seconds", "closed_count"):
                        self.assertEqual(again[key], report[key], key)
                    self.assertEqual([s["tickets"] for s in again["systems"]], [s["tickets"] for s in report["systems"]])

        with self.subTest("changes", seed=seed):
            self.check_changes(events, as_of, low, high)

    def check_changes(self, events, before, low, high):
        after_micros = micros(events[-1]["recorded_at"]) + 1
        before_micros = micros(before)
        after = "%s.%06dZ" % (datetime_text(after_micros), after_micros % MICROS)
        answer = self.svc.get("/api/v1/durations/changes?from=%s&to=%s&before=%s&after=%s" %
                              (WINDOW_FROM, WINDOW_TO, before, after)).data
        self.check_head(answer, events[-1])
        known = {}
        for name, moment in (("before", before_micros), ("after", after_micros)):
            incidents, windows = fold(events, moment)
            systems, means, seconds = expected_report(incidents, windows, low, high, after_micros)
            ongoing = {t: any(end is None and start <= after_micros and overlaps((start, after_micros), low, high)
                              for start, end in incidents[t].periods) for t in seconds}
            known[name] = (systems, means, seconds, ongoing)
        (sys_b, means_b, sec_b, on_b), (sys_a, means_a, sec_a, on_a) = known["before"], known["after"]

        def between(tickets):
            return [e["seq"] for e in events if e["ticket"] in tickets and e["type"].startswith("INCIDENT_")
                    and before_micros < micros(e["recorded_at"]) <= after_micros]

        def figure(seconds, ongoing, ticket):
            return None if ticket not in seconds else {"seconds": seconds[ticket], "ongoing": ongoing[ticket]}

        want_incidents = {}
        for ticket in set(sec_b) | set(sec_a):
            old, new = figure(sec_b, on_b, ticket), figure(sec_a, on_a, ticket)
            if old != new:
                want_incidents[ticket] = (old, new, between({ticket}))
        got_incidents = {i["ticket"]: (i["before"], i["after"], [e["seq"] for e in i["events"]])
                         for i in answer["incidents"]}
        self.assertEqual(got_incidents, want_incidents)

        def downtime(systems, name):
            if name not in systems:
                return None
            return {k: systems[name][k + "_micros"] // MICROS for k in ("downtime", "planned", "degraded")}

        want_systems = {}
        for name in set(sys_b) | set(sys_a):
            old, new = downtime(sys_b, name), downtime(sys_a, name)
            if old != new:
                involved = set(sys_b.get(name, {}).get("tickets", [])) | set(sys_a.get(name, {}).get("tickets", []))
                want_systems[name] = (old, new, between(involved))
        got_systems = {}
        for s in answer["systems"]:
            figures = [None if s[k] is None else {n: s[k][n + "_seconds"] for n in ("downtime", "planned", "degraded")}
                       for k in ("before", "after")]
            got_systems[s["system"]] = (figures[0], figures[1], [e["seq"] for e in s["events"]])
        self.assertEqual(got_systems, want_systems)

        if means_b["mttr"] == means_a["mttr"]:
            self.assertIsNone(answer["mttr"])
        else:
            got = answer["mttr"]
            self.assertEqual((got["before"]["mttr_seconds"], got["before"]["tickets"]), means_b["mttr"])
            self.assertEqual((got["after"]["mttr_seconds"], got["after"]["tickets"]), means_a["mttr"])
            involved = set(means_b["mttr"][1]) | set(means_a["mttr"][1])
            self.assertEqual([e["seq"] for e in got["events"]], between(involved))
        self.assertTrue(want_incidents or want_systems, "the history restated nothing: a weak check")

    def check_head(self, answer, last_event):
        self.assertEqual((answer["head_seq"], answer["head_hash"]), (last_event["seq"], last_event["hash"]))

    def check_report(self, report, systems, means, incident_seconds, window_micros):
        self.assertEqual({i["ticket"]: i["seconds"] for i in report["incidents"]}, incident_seconds)
        self.assertEqual([s["system"] for s in report["systems"]], sorted(systems))
        for got in report["systems"]:
            want = systems[got["system"]]
            self.assertEqual(got["downtime_seconds"], want["downtime_micros"] // MICROS, got)
            self.assertEqual(got["planned_seconds"], want["planned_micros"] // MICROS, got)
            self.assertEqual(got["degraded_seconds"], want["degraded_micros"] // MICROS, got)
            self.assertEqual(got["availability"], 1.0 - want["downtime_micros"] / window_micros, got)
            self.assertEqual(got["tickets"], want["tickets"], got)
            self.assertEqual(got["windows"], want["windows"], got)
        for name in ("mttr", "mtta", "mttm"):
            seconds, tickets = means[name]
            self.assertEqual(report[name + "_seconds"], seconds, name)
            self.assertEqual(report[name + "_tickets"], tickets, name)

    def check_csv(self, query, report, last_event):
        response = self.svc.get("/api/v1/durations?from=%s&to=%s&by=system&format=csv%s" % (WINDOW_FROM, WINDOW_TO, query))
        self.assertEqual(response.headers.get("X-Ledger-Head"),
                         "seq=%d; hash=%s" % (last_event["seq"], last_event["hash"]))
        rows = list(csv.DictReader(io.StringIO(response.raw.decode())))
        self.assertEqual([row["system"] for row in rows], [s["system"] for s in report["systems"]])
        for row, system in zip(rows, report["systems"]):
            for column in ("downtime_seconds", "planned_seconds", "degraded_seconds"):
                self.assertEqual(int(row[column]), system[column], column)
            self.assertEqual(float(row["availability"]), system["availability"])
            self.assertEqual(row["windows"].split(), system["windows"])

    def check_days(self, incidents, windows, now, as_of, last_event):
        """Per-day availability over October in UTC: the API's (now) or the command's (as_of)."""
        days = 31
        if as_of is None:
            answer = self.svc.get("/api/v1/availability?days=%d&timezone=UTC&end_date=2026-10-31" % days).data
            self.check_head(answer, last_event)
            per_system = {entry["system"]: entry["days"] for entry in answer["systems"]}
        else:
            per_system = {}
            for system in sorted({s for i in incidents.values() for s in i.systems} |
                                 {s for w in windows.values() for s in w.systems}):
                done = subprocess.run([service.ledger_binary(), "availability", "--data", self.svc.data_dir,
                                       "--system", system, "--days", str(days), "--end-date", "2026-10-31",
                                       "--timezone", "UTC", "--as-of", as_of],
                                      capture_output=True, text=True, timeout=120)
                self.assertEqual(done.returncode, 0, done.stderr)
                answer = json.loads(done.stdout)
                self.check_head(answer, last_event)
                per_system[system] = answer["days"]
        self.assertTrue(per_system)
        for system, got_days in per_system.items():
            self.assertEqual(len(got_days), days)
            for day in got_days:
                low = micros(day["start"])
                high = micros(day["end"])
                want = expected_system(system, incidents, windows, low, high, now)
                where = (system, day["date"])
                self.assertEqual(day["downtime_seconds"], want["downtime_micros"] // MICROS, where)
                self.assertEqual(day["planned_seconds"], want["planned_micros"] // MICROS, where)
                self.assertEqual(day["degraded_seconds"], want["degraded_micros"] // MICROS, where)
                self.assertEqual(day["availability"], 1.0 - want["downtime_micros"] / (high - low), where)
                self.assertEqual(day["tickets"], want["tickets"], where)
                self.assertEqual(day["windows"], want["windows"], where)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
