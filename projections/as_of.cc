#include "projections/as_of.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

namespace ledger::projections {
namespace {

bool AnyPeriodOverlaps(const TicketState& state, int64_t from_micros, int64_t to_micros) {
  return std::any_of(state.periods.begin(), state.periods.end(),
                     [&](const Period& period) { return PeriodOverlaps(period, from_micros, to_micros); });
}

// The fold itself; `read_now` hands `look` the current tickets (under
// whatever lock guards them).
Result<TicketStore> FoldAsOf(const std::function<void(const std::function<void(const TicketStore&)>& look)>& read_now,
                             const Ledger& ledger, const AsOfPoint& point, int64_t from_micros, int64_t to_micros,
                             const StopToken& stop) {
  TicketStore then;
  std::vector<std::string> changed_since;  // tickets with events after the point
  Status walked;
  read_now([&](const TicketStore& now) {
    // As known then: the aliases recorded by the point, and no later.
    then.set_names(now.names().Limited(SystemsLimit{.seq = point.seq, .micros = point.micros}));
    // A ticket unchanged since the point stands as it stood then: those in
    // the window now are those in it then (the timeline index finds them).
    for (const TicketState* state : now.Overlapping(from_micros, to_micros)) {
      if (point.Includes(state->opened_seq, state->opened_at_micros) &&
          point.Includes(state->last_seq, state->updated_at_micros)) {
        then.Put(*state);
      }
    }
    // The others are folded again below, whatever their periods now.
    Result<std::vector<const TicketState*>> changed = now.ChangedAfter(point, stop);
    if (!changed) {
      walked = changed.error();
      return;
    }
    changed_since.reserve(changed->size());
    for (const TicketState* state : *changed) changed_since.push_back(state->ticket);
  });
  if (!walked) return walked.error();
  for (const std::string& ticket : changed_since) {
    if (stop.ShouldStop()) return stop.Reason();
    Result<std::vector<StoredEvent>> events = ledger.ReadTicket(ticket);
    if (!events) return events.error();
    TicketStore one;
    for (const StoredEvent& stored : *events) {
      if (point.Includes(stored.event.seq(), stored.event.recorded_at_micros())) one.Apply(stored.event);
    }
    for (const auto& [number, state] : one.all()) {
      if (AnyPeriodOverlaps(state, from_micros, to_micros)) then.Put(state);
    }
  }
  return then;
}

Result<MaintenanceStore> FoldWindowsAsOf(
    const std::function<void(const std::function<void(const MaintenanceStore&)>& look)>& read_now, const Ledger& ledger,
    const AsOfPoint& point, const StopToken& stop) {
  MaintenanceStore then;
  std::vector<std::string> changed_since;
  read_now([&](const MaintenanceStore& now) {
    for (const auto& [number, window] : now.all()) {
      if (!point.Includes(window.scheduled_seq, window.scheduled_at_micros)) continue;  // scheduled later
      if (!point.Includes(window.last_seq, window.updated_at_micros)) {
        changed_since.push_back(window.window);
        continue;
      }
      then.Put(window);
    }
  });
  for (const std::string& name : changed_since) {
    if (stop.ShouldStop()) return stop.Reason();
    Result<std::vector<StoredEvent>> events = ledger.ReadTicket(name);
    if (!events) return events.error();
    for (const StoredEvent& stored : *events) {
      if (point.Includes(stored.event.seq(), stored.event.recorded_at_micros())) (void)then.Apply(stored.event);
    }
  }
  return then;
}

}  // namespace

Result<MaintenanceStore> MaintenanceAsOf(const ReadModel& model, const Ledger& ledger, const AsOfPoint& point,
                                         const StopToken& stop) {
  return FoldWindowsAsOf([&](const std::function<void(const MaintenanceStore&)>& look) {
    model.ReadFigures([&](const TicketStore&, const MaintenanceStore& now, uint64_t) { look(now); });
  }, ledger, point, stop);
}

Result<MaintenanceStore> MaintenanceAsOf(const MaintenanceStore& now, const Ledger& ledger, const AsOfPoint& point,
                                         const StopToken& stop) {
  return FoldWindowsAsOf([&](const std::function<void(const MaintenanceStore&)>& look) { look(now); }, ledger, point,
                         stop);
}

Result<TicketStore> TicketsAsOf(const ReadModel& model, const Ledger& ledger, const AsOfPoint& point,
                                int64_t from_micros, int64_t to_micros, const StopToken& stop) {
  return FoldAsOf([&](const std::function<void(const TicketStore&)>& look) {
    model.Read([&](const TicketStore& now, uint64_t) { look(now); });
  }, ledger, point, from_micros, to_micros, stop);
}

Result<TicketStore> TicketsAsOf(const TicketStore& now, const Ledger& ledger, const AsOfPoint& point,
                                int64_t from_micros, int64_t to_micros, const StopToken& stop) {
  return FoldAsOf([&](const std::function<void(const TicketStore&)>& look) { look(now); }, ledger, point, from_micros,
                  to_micros, stop);
}

}  // namespace ledger::projections
