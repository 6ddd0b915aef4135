#pragma once
// Outage durations, recomputed from folded ticket state: per incident, per
// system (overlapping outages merged), availability, MTTR, and per-day
// availability in a time zone. These are pure functions of a TicketStore and
// a query: no I/O, no clock (the caller passes "now"), no HTTP. For "as known
// then", fold only the events recorded up to as_of into a separate store and
// pass as_of as now_micros; for "as corrected now", pass the current store
// and the current time.
//
// Semantics (DESIGN.md, "Semantics analysts rely on"), and the choices it
// leaves open:
// - Windows are half-open, [from, to). A period's part inside the window is
//   [max(start, from), min(end, to)); an open period ends at now_micros.
// - An incident is listed when one of its periods overlaps the window: it has
//   a non-empty part inside it, or it is instantaneous (start == end) and
//   starts inside it, the same rule as the incident list (PeriodOverlaps).
//   An open period that has not begun by now_micros (start after it) does not
//   count; one that begins exactly at now_micros is instantaneous, so a
//   just-opened incident is listed with 0 seconds and ongoing.
// - `ongoing` is true when the listed incident's open period is one that
//   overlaps the window (an incident reopened only after the window is not
//   ongoing in it).
// - An incident's duration is the length of the union of its periods' parts
//   in the window. The ingest rules keep periods disjoint, so this equals
//   their sum; the union keeps a malformed log from counting time twice.
// - A system's downtime is the length of the union of the parts of every
//   listed incident whose current `systems` include it. Systems appear when
//   at least one listed incident, or a maintenance run with a part inside
//   the window, names them. Systems are resolved through the store's names
//   (TicketStore::names, systems.h): `DNS` and `dns`, or an alias and its
//   name, are one system, shown under the catalog's name.
// - Impact and maintenance (DESIGN.md, "Availability with impact and
//   maintenance"). For a system, `down` is the union of the parts of its
//   listed `full` and `partial` incidents, `planned` the union of the runs of
//   its maintenance windows as actually run (started_at to ended_at, or to
//   now_micros while in progress; a cancelled or never started window runs
//   nothing), `degraded` the union of the parts of its `degraded` incidents.
//   downtime = |down - planned|, planned = |planned|, degraded = |degraded -
//   down - planned|. An incident's current impact counts for all of its
//   outage time, as its current systems do. With every incident full and no
//   maintenance, downtime is exactly the union above and planned and
//   degraded are 0.
// - Availability = 1 - downtime / window length, both in microseconds (not
//   the rounded seconds), as a double in [0, 1].
// - MTTR: mean, over incidents closed (as of the store) whose latest period
//   ends in [from, to), of the union length of all their periods, unclipped.
//   Absent (std::nullopt; JSON null) when there are none. closed_count is the
//   number of those incidents.
// - MTTA and MTTM, over the same incidents: the mean of acknowledged_at -
//   started_at and of mitigated_at - started_at (the start of the first
//   period), over those that have the milestone; a milestone before the
//   start counts as 0. Absent when none has it.
// - Whole seconds everywhere in the output, rounded down (floor) from the
//   exact microseconds: an outage of 59.9 s reports 59. A mean is floored
//   once, from the exact mean in microseconds.
// - Lists are ordered: incidents by ticket number, systems by name (bytewise),
//   tickets inside a figure by ticket number.
//
// Thread safety: the functions only read the store; callers keep it from
// changing meanwhile (ReadModel::Read does). The time zone database is
// loaded once, on first use, and is safe to share between threads.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/stop.h"
#include "projections/maintenance.h"
#include "projections/tickets.h"

namespace ledger::projections {

// Every instant in a query must lie in the years RFC 3339 allows here
// (0001-01-01T00:00:00Z up to and including 10000-01-01T00:00:00Z), which
// also keeps every sum of microseconds far from overflowing int64.
inline constexpr int64_t kDurationInstantMicrosMin = -62'135'596'800LL * 1'000'000;
inline constexpr int64_t kDurationInstantMicrosMax = 253'402'300'800LL * 1'000'000;

// Per-day availability covers at most this many days in one query.
inline constexpr int kDailyDaysMax = 366;
// IANA zone names are short ("America/Argentina/ComodRivadavia" is among the
// longest); anything longer is refused before the database is searched.
inline constexpr size_t kTimezoneNameBytesMax = 64;

struct DurationQuery {
  int64_t from_micros = 0;  // the window [from, to); from < to
  int64_t to_micros = 0;
  int64_t now_micros = 0;  // now, or as_of: where open periods stop
};

struct IncidentDuration {
  std::string ticket;
  int64_t seconds = 0;  // floor of its time inside the window
  bool ongoing = false;
};

struct SystemDowntime {
  std::string system;
  int64_t downtime_seconds = 0;  // floor of |down - planned| inside the window
  double availability = 1.0;
  std::vector<std::string> tickets;  // the listed incidents naming the system
  int64_t planned_seconds = 0;       // floor of |planned|
  int64_t degraded_seconds = 0;      // floor of |degraded - down - planned|
  std::vector<std::string> windows;  // the maintenance windows whose run counts, by number
};

struct DurationReport {
  DurationQuery query;  // the window and the moment it was computed for
  std::vector<IncidentDuration> incidents;
  std::vector<SystemDowntime> systems;
  std::optional<int64_t> mttr_seconds;  // nullopt: no incident closed in the window
  std::vector<std::string> mttr_tickets;  // the incidents the mean is over
  uint64_t closed_count = 0;             // == mttr_tickets.size()
  std::optional<int64_t> mtta_seconds;   // nullopt: none of them has acknowledged_at
  std::vector<std::string> mtta_tickets;
  std::optional<int64_t> mttm_seconds;   // nullopt: none of them has mitigated_at
  std::vector<std::string> mttm_tickets;
};

// Computes the figures of `query` over `store`.
// Fails with kInvalidArgument when an instant lies outside
// [kDurationInstantMicrosMin, kDurationInstantMicrosMax] (field "from", "to"
// or "as_of" for now_micros) or when from >= to (field "to").
// Costs in proportion to the incidents near the window (TicketStore::
// Overlapping), not the whole history. Fails with `stop`'s reason when it
// says to stop.
Result<DurationReport> ComputeDurations(const TicketStore& store, const DurationQuery& query,
                                        const StopToken& stop = StopToken());
// The same with the maintenance windows of `maintenance` (found through its
// run index: those whose run may overlap the window).
Result<DurationReport> ComputeDurations(const TicketStore& store, const MaintenanceStore& maintenance,
                                        const DurationQuery& query, const StopToken& stop = StopToken());

struct DailyQuery {
  // One system (any case, an alias) or a group of systems (the union of its
  // members' outages: SystemNames::Covers); empty: any system (every
  // incident counts).
  std::string system;
  std::string timezone = "UTC";  // IANA name, e.g. "Europe/Berlin"
  std::string end_date;          // the last day, "YYYY-MM-DD" in the zone; empty: today there
  int days = 7;                  // how many days, ending with end_date; 1..kDailyDaysMax
  int64_t now_micros = 0;        // now, or as_of: where open periods stop
};

struct DayFigure {
  std::string date;          // "YYYY-MM-DD", local to the zone
  int64_t start_micros = 0;  // first instant of the local day
  int64_t end_micros = 0;    // first instant of the next local day (23 h or 25 h on DST changes)
  int64_t downtime_seconds = 0;
  double availability = 1.0;  // 1 - downtime / (end - start), in microseconds
  std::vector<std::string> tickets;
  int64_t planned_seconds = 0;
  int64_t degraded_seconds = 0;
  std::vector<std::string> windows;
};

// Availability per local day, oldest day first, `days` of them ending with
// `end_date`. A day runs from the first instant of its local date to the
// first instant of the next, so days follow the zone's DST changes; where a
// change skips local midnight, the day starts at the change, and a date the
// zone skipped entirely (Pacific/Apia, 2011-12-30) is listed with no length
// and availability 1. A day is an ordinary window: the rules above apply
// (an open period adds nothing after now_micros).
// Fails with kInvalidArgument: "timezone" for an empty name, one longer than
// kTimezoneNameBytesMax or one the database does not know (names are
// case-sensitive, as in tzdata); "end_date" for anything but a real
// YYYY-MM-DD date, or days reaching outside the kDurationInstantMicros range;
// "days" outside 1..kDailyDaysMax; "as_of" for now_micros out of that range.
// Fails with kIoError when the system time zone database cannot be loaded.
// Fails with `stop`'s reason when it says to stop.
Result<std::vector<DayFigure>> DailyAvailability(const TicketStore& store, const DailyQuery& query,
                                                 const StopToken& stop = StopToken());
Result<std::vector<DayFigure>> DailyAvailability(const TicketStore& store, const MaintenanceStore& maintenance,
                                                 const DailyQuery& query, const StopToken& stop = StopToken());

struct SystemDays {
  std::string system;
  std::vector<DayFigure> days;
};

// The same figures for each of `systems` (query.system is not read; an
// empty name means any system), in that order, from one look at the
// incidents that overlap the days: the cost grows with those incidents, the
// days and the systems, not with the whole history.
Result<std::vector<SystemDays>> DailyAvailabilityOfSystems(const TicketStore& store, const DailyQuery& query,
                                                           const std::vector<std::string>& systems,
                                                           const StopToken& stop = StopToken());
// The same with the maintenance windows whose runs may touch the days.
Result<std::vector<SystemDays>> DailyAvailabilityOfSystems(const TicketStore& store,
                                                           const MaintenanceStore& maintenance,
                                                           const DailyQuery& query,
                                                           const std::vector<std::string>& systems,
                                                           const StopToken& stop = StopToken());

}  // namespace ledger::projections
