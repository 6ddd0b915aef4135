#include "projections/durations.h"

#include "common/time_zone.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <string_view>

#include <date/date.h>
#include <date/tz.h>

namespace ledger::projections {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

// Sums of many incidents' durations may exceed int64 microseconds in a
// pathological log (each can be up to ~10,000 years); a 128-bit accumulator
// makes the mean exact whatever the count. __extension__ keeps -Wpedantic
// quiet about the GCC/Clang type.
__extension__ using WideMicros = __int128;

struct Interval {
  int64_t start_micros = 0;
  int64_t end_micros = 0;
};

struct Window {
  int64_t from_micros = 0;
  int64_t to_micros = 0;
  int64_t now_micros = 0;
};

// One incident's share of a window.
struct Share {
  bool listed = false;   // some period overlaps the window
  bool ongoing = false;  // that overlap includes its open period
  std::vector<Interval> parts;  // non-empty parts inside the window
};

// Stored instants come from validated RFC 3339 text, so clamping changes
// nothing for a sound log; it only guarantees the arithmetic below cannot
// overflow whatever the log holds.
int64_t ClampInstant(int64_t micros) {
  return std::clamp(micros, kDurationInstantMicrosMin, kDurationInstantMicrosMax);
}

// The period as an interval; an open one ends at now. nullopt when it is
// open but has not begun by now. An end before the start (which the ingest
// rules refuse) is read as an instantaneous period rather than a negative one.
std::optional<Interval> EffectiveInterval(const Period& period, int64_t now_micros) {
  const int64_t start = ClampInstant(period.start.unix_micros);
  if (!period.end && start > now_micros) return std::nullopt;
  const int64_t end = period.end ? ClampInstant(period.end->unix_micros) : now_micros;
  return Interval{start, std::max(start, end)};
}

// Mirrors PeriodOverlaps: a non-empty part inside the window, or an
// instantaneous period starting inside it.
bool Overlaps(const Interval& interval, const Window& window) {
  if (interval.start_micros == interval.end_micros) {
    return interval.start_micros >= window.from_micros && interval.start_micros < window.to_micros;
  }
  return interval.start_micros < window.to_micros && interval.end_micros > window.from_micros;
}

// A period as it counts at a moment: its interval, and whether it is open.
struct EffectivePeriod {
  Interval interval;
  bool open = false;
};

// A ticket's periods as they count at `now_micros`, with the span they
// cover (to skip windows they cannot touch without looking closer).
struct EffectivePeriods {
  const TicketState* state = nullptr;
  std::vector<EffectivePeriod> periods;
  int64_t first_start_micros = kDurationInstantMicrosMax;
  int64_t last_end_micros = kDurationInstantMicrosMin;

  // False when no period can overlap the window: an overlap needs a start
  // before its end, and an end after its start (or at it, if instantaneous).
  bool MayOverlap(const Window& window) const {
    return first_start_micros < window.to_micros && last_end_micros >= window.from_micros;
  }
};

EffectivePeriods EffectivePeriodsOf(const TicketState& state, int64_t now_micros) {
  EffectivePeriods effective{.state = &state};
  effective.periods.reserve(state.periods.size());
  for (const Period& period : state.periods) {
    const std::optional<Interval> interval = EffectiveInterval(period, now_micros);
    if (!interval) continue;
    effective.periods.push_back(EffectivePeriod{*interval, !period.end});
    effective.first_start_micros = std::min(effective.first_start_micros, interval->start_micros);
    effective.last_end_micros = std::max(effective.last_end_micros, interval->end_micros);
  }
  return effective;
}

Share ShareOf(const EffectivePeriods& effective, const Window& window) {
  Share share;
  for (const EffectivePeriod& period : effective.periods) {
    const Interval& interval = period.interval;
    if (!Overlaps(interval, window)) continue;
    share.listed = true;
    if (period.open) share.ongoing = true;
    const int64_t start = std::max(interval.start_micros, window.from_micros);
    const int64_t end = std::min(interval.end_micros, window.to_micros);
    if (start < end) share.parts.push_back(Interval{start, end});
  }
  return share;
}

Share ShareOf(const TicketState& state, const Window& window) {
  return ShareOf(EffectivePeriodsOf(state, window.now_micros), window);
}

// Length of the union: sort by start, then sweep, counting each stretch of
// time once however many intervals cover it.
int64_t UnionMicros(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start_micros < b.start_micros; });
  int64_t total = 0;
  int64_t covered_until = kDurationInstantMicrosMin;
  for (const Interval& interval : intervals) {
    const int64_t start = std::max(interval.start_micros, covered_until);
    if (interval.end_micros > start) {
      total += interval.end_micros - start;
      covered_until = interval.end_micros;
    }
  }
  return total;
}

// All figures are whole seconds, rounded down; durations are never negative,
// so integer division is the floor.
int64_t FloorSeconds(int64_t micros) { return micros / kMicrosPerSecond; }

// A window of no length can hold no downtime: a local day that a zone skipped
// entirely (Pacific/Apia's 2011-12-30) counts as fully available.
double Availability(int64_t downtime_micros, int64_t window_micros) {
  if (window_micros <= 0) return 1.0;
  return 1.0 - static_cast<double>(downtime_micros) / static_cast<double>(window_micros);
}

bool InRange(int64_t micros) {
  return micros >= kDurationInstantMicrosMin && micros <= kDurationInstantMicrosMax;
}

Status CheckInstant(int64_t micros, const char* field) {
  if (InRange(micros)) return {};
  return InvalidArgument(field, std::string(field) + " must lie between years 0001 and 9999");
}

bool NamesSystem(const SystemNames& names, const TicketState& state, std::string_view system) {
  return names.CoversAny(system, state.systems);
}

// One system's share of a window: the parts of its incidents by impact,
// the runs of its maintenance windows, and who contributed.
struct Coverage {
  std::vector<Interval> down;      // full and partial incidents
  std::vector<Interval> degraded;  // degraded incidents
  std::vector<Interval> planned;   // maintenance as run
  std::vector<std::string> tickets;
  std::vector<std::string> windows;

  void Add(const TicketState& state, const Share& share) {
    // A system listed twice in one incident still names the ticket once.
    if (tickets.empty() || tickets.back() != state.ticket) tickets.push_back(state.ticket);
    std::vector<Interval>& into = state.impact == proto::DEGRADED ? degraded : down;
    into.insert(into.end(), share.parts.begin(), share.parts.end());
  }
  void AddRun(const MaintenanceWindow& window, const Interval& part) {
    if (windows.empty() || windows.back() != window.window) windows.push_back(window.window);
    planned.push_back(part);
  }
};

// The three figures of DESIGN.md's rule, in microseconds.
struct CoverageMicros {
  int64_t downtime = 0;  // |down - planned|
  int64_t planned = 0;   // |planned|
  int64_t degraded = 0;  // |degraded - down - planned|
};

// |A - B| is |A u B| - |B|: three unions answer all of it. Without
// maintenance and degraded incidents this is the one union of the first
// stage, to the microsecond.
CoverageMicros Measure(Coverage coverage) {
  CoverageMicros micros;
  if (coverage.planned.empty() && coverage.degraded.empty()) {
    micros.downtime = UnionMicros(std::move(coverage.down));
    return micros;
  }
  micros.planned = UnionMicros(coverage.planned);
  std::vector<Interval> outage = std::move(coverage.down);
  outage.insert(outage.end(), coverage.planned.begin(), coverage.planned.end());
  const int64_t outage_micros = UnionMicros(outage);
  micros.downtime = outage_micros - micros.planned;
  if (!coverage.degraded.empty()) {
    outage.insert(outage.end(), coverage.degraded.begin(), coverage.degraded.end());
    micros.degraded = UnionMicros(std::move(outage)) - outage_micros;
  }
  return micros;
}

SystemDowntime ToSystemDowntime(const std::string& system, Coverage coverage, int64_t window_micros) {
  std::vector<std::string> tickets = std::move(coverage.tickets);
  std::vector<std::string> windows = std::move(coverage.windows);
  const CoverageMicros micros = Measure(std::move(coverage));
  return SystemDowntime{.system = system,
                        .downtime_seconds = FloorSeconds(micros.downtime),
                        .availability = Availability(micros.downtime, window_micros),
                        .tickets = std::move(tickets),
                        .planned_seconds = FloorSeconds(micros.planned),
                        .degraded_seconds = FloorSeconds(micros.degraded),
                        .windows = std::move(windows)};
}

// The part of a window's run inside [from, to), when it has one.
std::optional<Interval> RunPart(const MaintenanceWindow& window, const Window& in) {
  const std::optional<WindowRun> run = RunOf(window, in.now_micros);
  if (!run) return std::nullopt;
  const int64_t start = std::max(ClampInstant(run->start_micros), in.from_micros);
  const int64_t end = std::min(ClampInstant(run->end_micros), in.to_micros);
  if (start >= end) return std::nullopt;
  return Interval{start, end};
}

// An empty store, for the forms without maintenance.
const MaintenanceStore& NoMaintenance() {
  static const MaintenanceStore kNone;
  return kNone;
}

// Total unclipped duration of a closed incident, for MTTR.
int64_t UnclippedMicros(const TicketState& state, int64_t now_micros) {
  std::vector<Interval> intervals;
  for (const Period& period : state.periods) {
    const std::optional<Interval> interval = EffectiveInterval(period, now_micros);
    if (interval) intervals.push_back(*interval);
  }
  return UnionMicros(std::move(intervals));
}

bool ClosedInWindow(const TicketState& state, const Window& window) {
  if (state.status != TicketStatus::kClosed || state.periods.empty()) return false;
  const std::optional<Instant>& end = state.periods.back().end;
  return end && end->unix_micros >= window.from_micros && end->unix_micros < window.to_micros;
}

// A mean of whole microseconds, floored once to whole seconds.
struct Mean {
  WideMicros total_micros = 0;
  std::vector<std::string>* tickets;

  void Add(const std::string& ticket, int64_t micros) {
    total_micros += micros;
    tickets->push_back(ticket);
  }
  std::optional<int64_t> Seconds() const {
    if (tickets->empty()) return std::nullopt;
    const WideMicros mean_micros = total_micros / static_cast<WideMicros>(tickets->size());
    return static_cast<int64_t>(mean_micros / kMicrosPerSecond);
  }
};

// `candidates`: every ticket with a period overlapping [from - 1 µs, to), in
// ticket order; a closed period ending in [from, to) overlaps that.
void AddMeans(const std::vector<const TicketState*>& candidates, const Window& window, DurationReport* report) {
  Mean mttr{.tickets = &report->mttr_tickets};
  Mean mtta{.tickets = &report->mtta_tickets};
  Mean mttm{.tickets = &report->mttm_tickets};
  for (const TicketState* state : candidates) {
    if (!ClosedInWindow(*state, window)) continue;
    mttr.Add(state->ticket, UnclippedMicros(*state, window.now_micros));
    if (state->other_fields.empty()) continue;  // no milestone given (the usual case: no parse)
    const proto::IncidentPayload milestones = OtherFields(*state);
    const int64_t started = ClampInstant(state->periods.front().start.unix_micros);
    const auto since_start = [started](const proto::Timestamp& time) {
      return std::max<int64_t>(0, ClampInstant(time.unix_micros()) - started);
    };
    if (milestones.has_acknowledged_at()) mtta.Add(state->ticket, since_start(milestones.acknowledged_at()));
    if (milestones.has_mitigated_at()) mttm.Add(state->ticket, since_start(milestones.mitigated_at()));
  }
  report->closed_count = report->mttr_tickets.size();
  report->mttr_seconds = mttr.Seconds();
  report->mtta_seconds = mtta.Seconds();
  report->mttm_seconds = mttm.Seconds();
}

// ---- time zones ----

std::string FormatDate(const date::year_month_day& day) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(day.year()),
                static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
  return text;
}

// Strict "YYYY-MM-DD": exactly ten characters, a real calendar date.
std::optional<date::year_month_day> ParseDate(std::string_view text) {
  constexpr size_t kDateLength = 10;
  if (text.size() != kDateLength || text[4] != '-' || text[7] != '-') return std::nullopt;
  int fields[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (size_t f = 0; f < 3; ++f) {
    for (size_t i = starts[f]; i < starts[f] + lengths[f]; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      fields[f] = fields[f] * 10 + (text[i] - '0');
    }
  }
  const date::year_month_day day{date::year{fields[0]}, date::month{static_cast<unsigned>(fields[1])},
                                 date::day{static_cast<unsigned>(fields[2])}};
  if (!day.ok()) return std::nullopt;
  return day;
}

// The library reports an unknown zone (and an unreadable database) by
// throwing; this is the one place we call it, so the exceptions stop here.
Result<const date::time_zone*> FindZone(const std::string& name) {
  if (name.empty() || name.size() > kTimezoneNameBytesMax) {
    return InvalidArgument("timezone", "timezone must be an IANA time zone name of 1 to " +
                                           std::to_string(kTimezoneNameBytesMax) + " bytes");
  }
  Result<const date::time_zone*> zone = LocateTimeZone(name, "timezone");
  if (!zone && zone.error().code == ErrorCode::kNotFound) {
    return InvalidArgument("timezone", "timezone \"" + name + "\" is not a known IANA time zone");
  }
  return zone;
}

using Micros = std::chrono::duration<int64_t, std::micro>;

int64_t ToMicros(const date::sys_seconds& instant) {
  return std::chrono::duration_cast<Micros>(instant.time_since_epoch()).count();
}

// First instant of a local day. `choose::earliest` picks the first of two
// local midnights when clocks go back over it; where clocks skip midnight
// the library answers the instant of the change, the day's first instant.
// Both can throw only on a corrupt zone file, hence the catch.
Result<int64_t> DayStartMicros(const date::time_zone& zone, date::local_days day) {
  try {
    return ToMicros(zone.to_sys(date::local_seconds{day.time_since_epoch()}, date::choose::earliest));
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kIoError, std::string("time zone conversion failed: ") + error.what(), "timezone");
  }
}

Result<date::local_days> LastDay(const date::time_zone& zone, const DailyQuery& query) {
  if (query.end_date.empty()) {
    try {
      const date::sys_time<Micros> now{Micros{query.now_micros}};
      return date::floor<date::days>(zone.to_local(now));
    } catch (const std::exception& error) {
      return MakeError(ErrorCode::kIoError, std::string("time zone conversion failed: ") + error.what(),
                       "timezone");
    }
  }
  const std::optional<date::year_month_day> day = ParseDate(query.end_date);
  if (!day) return InvalidArgument("end_date", "end_date must be a date written YYYY-MM-DD");
  return date::local_days{*day};
}

Status CheckDailyQuery(const DailyQuery& query) {
  if (query.days < 1 || query.days > kDailyDaysMax) {
    return InvalidArgument("days", "days must be between 1 and " + std::to_string(kDailyDaysMax));
  }
  return CheckInstant(query.now_micros, "as_of");
}

// One local day: its date and its first and last-plus-one instants.
struct Day {
  date::local_days date;
  int64_t start_micros = 0;
  int64_t end_micros = 0;
};

Result<std::vector<Day>> DaysOf(const date::time_zone& zone, date::local_days first_day, date::local_days last_day) {
  std::vector<Day> days;
  Result<int64_t> start_micros = DayStartMicros(zone, first_day);
  if (!start_micros) return start_micros.error();
  for (date::local_days day = first_day; day <= last_day; day += date::days{1}) {
    Result<int64_t> end_micros = DayStartMicros(zone, day + date::days{1});
    if (!end_micros) return end_micros.error();
    if (!InRange(*start_micros) || !InRange(*end_micros)) {
      return InvalidArgument("end_date", "the days must lie between the years 0001 and 9999");
    }
    days.push_back(Day{day, *start_micros, *end_micros});
    start_micros = *end_micros;
  }
  return days;
}

// The figure of one day over the incidents and maintenance windows of one
// system (`incidents` in ticket order and `windows` in number order, already
// those naming it).
DayFigure FigureOf(const std::vector<const EffectivePeriods*>& incidents,
                   const std::vector<const MaintenanceWindow*>& windows, const Day& day, int64_t now_micros) {
  const Window window{day.start_micros, day.end_micros, now_micros};
  Coverage coverage;
  for (const EffectivePeriods* incident : incidents) {
    if (!incident->MayOverlap(window)) continue;
    const Share share = ShareOf(*incident, window);
    if (share.listed) coverage.Add(*incident->state, share);
  }
  for (const MaintenanceWindow* maintenance : windows) {
    if (const std::optional<Interval> part = RunPart(*maintenance, window)) coverage.AddRun(*maintenance, *part);
  }
  std::vector<std::string> tickets = std::move(coverage.tickets);
  std::vector<std::string> window_names = std::move(coverage.windows);
  const CoverageMicros micros = Measure(std::move(coverage));
  return DayFigure{.date = FormatDate(date::year_month_day{day.date}),
                   .start_micros = day.start_micros,
                   .end_micros = day.end_micros,
                   .downtime_seconds = FloorSeconds(micros.downtime),
                   .availability = Availability(micros.downtime, day.end_micros - day.start_micros),
                   .tickets = std::move(tickets),
                   .planned_seconds = FloorSeconds(micros.planned),
                   .degraded_seconds = FloorSeconds(micros.degraded),
                   .windows = std::move(window_names)};
}

bool NamesSystem(const SystemNames& names, const MaintenanceWindow& window, std::string_view system) {
  return names.CoversAny(system, window.systems);
}

}  // namespace

Result<DurationReport> ComputeDurations(const TicketStore& store, const DurationQuery& query, const StopToken& stop) {
  return ComputeDurations(store, NoMaintenance(), query, stop);
}

Result<DurationReport> ComputeDurations(const TicketStore& store, const MaintenanceStore& maintenance,
                                        const DurationQuery& query, const StopToken& stop) {
  if (Status checked = CheckInstant(query.from_micros, "from"); !checked) return checked.error();
  if (Status checked = CheckInstant(query.to_micros, "to"); !checked) return checked.error();
  if (Status checked = CheckInstant(query.now_micros, "as_of"); !checked) return checked.error();
  if (query.from_micros >= query.to_micros) return InvalidArgument("to", "to must be after from");

  const Window window{query.from_micros, query.to_micros, query.now_micros};
  DurationReport report;
  report.query = query;
  // By key (systems.h: one system whatever the case or alias it is named
  // by); shown under the catalog's name, sorted by that name.
  const SystemNames& names = store.names();
  struct Shown {
    std::string name;  // the catalog's, else the first spelling met
    Coverage coverage;
  };
  std::map<std::string, Shown> by_system;
  const auto system_of = [&](const std::string& spelling) -> Coverage& {
    Shown& shown = by_system[names.Key(spelling)];
    if (shown.name.empty()) shown.name = names.Display(spelling);
    return shown.coverage;
  };
  // Only tickets near the window can count (MTTR's closing instants lie in
  // [from, to), hence the microsecond before `from`).
  const std::vector<const TicketState*> candidates = store.Overlapping(query.from_micros - 1, query.to_micros);
  StopCheck check(stop);
  for (const TicketState* state : candidates) {
    if (check.Tick()) return stop.Reason();
    const Share share = ShareOf(*state, window);
    if (!share.listed) continue;
    report.incidents.push_back(IncidentDuration{
        .ticket = state->ticket, .seconds = FloorSeconds(UnionMicros(share.parts)), .ongoing = share.ongoing});
    for (const std::string& system : state->systems) system_of(system).Add(*state, share);
  }
  if (stop.ShouldStop()) return stop.Reason();
  // The maintenance runs near the window (the run index), in number order.
  for (const MaintenanceWindow* planned : maintenance.RunOverlapping(query.from_micros, query.to_micros)) {
    const std::optional<Interval> part = RunPart(*planned, window);
    if (!part) continue;
    for (const std::string& system : planned->systems) system_of(system).AddRun(*planned, *part);
  }
  const int64_t window_micros = query.to_micros - query.from_micros;
  for (auto& [key, shown] : by_system) {
    report.systems.push_back(ToSystemDowntime(shown.name, std::move(shown.coverage), window_micros));
  }
  std::sort(report.systems.begin(), report.systems.end(),
            [](const SystemDowntime& a, const SystemDowntime& b) { return a.system < b.system; });
  AddMeans(candidates, window, &report);
  return report;
}

Result<std::vector<SystemDays>> DailyAvailabilityOfSystems(const TicketStore& store, const DailyQuery& query,
                                                           const std::vector<std::string>& systems,
                                                           const StopToken& stop) {
  return DailyAvailabilityOfSystems(store, NoMaintenance(), query, systems, stop);
}

Result<std::vector<SystemDays>> DailyAvailabilityOfSystems(const TicketStore& store,
                                                           const MaintenanceStore& maintenance,
                                                           const DailyQuery& query,
                                                           const std::vector<std::string>& systems,
                                                           const StopToken& stop) {
  if (Status checked = CheckDailyQuery(query); !checked) return checked.error();
  Result<const date::time_zone*> zone = FindZone(query.timezone);
  if (!zone) return zone.error();
  Result<date::local_days> last_day = LastDay(**zone, query);
  if (!last_day) return last_day.error();
  Result<std::vector<Day>> days = DaysOf(**zone, *last_day - date::days{query.days - 1}, *last_day);
  if (!days) return days.error();

  // Every incident that can touch one of the days, once, with its periods
  // as they count now; then each system's days over its own share of them.
  std::vector<EffectivePeriods> incidents;
  for (const TicketState* state : store.Overlapping(days->front().start_micros, days->back().end_micros)) {
    incidents.push_back(EffectivePeriodsOf(*state, query.now_micros));
  }
  const std::vector<const MaintenanceWindow*> runs =
      maintenance.RunOverlapping(days->front().start_micros, days->back().end_micros);
  std::vector<SystemDays> answer;
  answer.reserve(systems.size());
  std::vector<const EffectivePeriods*> naming;
  std::vector<const MaintenanceWindow*> planned;
  for (const std::string& system : systems) {
    if (stop.ShouldStop()) return stop.Reason();
    naming.clear();
    for (const EffectivePeriods& incident : incidents) {
      if (system.empty() || NamesSystem(store.names(), *incident.state, system)) naming.push_back(&incident);
    }
    planned.clear();
    for (const MaintenanceWindow* window : runs) {
      if (system.empty() || NamesSystem(store.names(), *window, system)) planned.push_back(window);
    }
    SystemDays figures{.system = system, .days = {}};
    figures.days.reserve(days->size());
    for (const Day& day : *days) figures.days.push_back(FigureOf(naming, planned, day, query.now_micros));
    answer.push_back(std::move(figures));
  }
  return answer;
}

Result<std::vector<DayFigure>> DailyAvailability(const TicketStore& store, const DailyQuery& query,
                                                 const StopToken& stop) {
  return DailyAvailability(store, NoMaintenance(), query, stop);
}

Result<std::vector<DayFigure>> DailyAvailability(const TicketStore& store, const MaintenanceStore& maintenance,
                                                 const DailyQuery& query, const StopToken& stop) {
  Result<std::vector<SystemDays>> figures =
      DailyAvailabilityOfSystems(store, maintenance, query, {query.system}, stop);
  if (!figures) return figures.error();
  return std::move(figures->front().days);
}

}  // namespace ledger::projections
