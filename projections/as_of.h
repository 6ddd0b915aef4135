#pragma once
// "As known then": the tickets as they stood at an earlier point of the log,
// answered from the live read model instead of a fold from seq 1.
//
// A ticket's state at seq N is the fold of its own events up to N. Every
// ticket whose latest event is at or before N stands then as it stands now,
// so only the tickets that changed after N (few, for any point but the very
// recent past) are folded again, from their own events (the ledger's ticket
// index). Under the read lock: the window's tickets from the timeline index
// (TicketStore::Overlapping) and the tickets changed since the point from
// the store's chunk bounds (TicketStore::ChangedAfter), never a walk of
// every ticket in the common case; then a refold of the changed tickets:
// never a scan of the log.
//
// This is the one "as known then" fold: the HTTP API answers from the
// service's read model, the command line (`durations --as-of`,
// `availability --as-of`) from a store it folds itself; both through here.
//
// Failures: a ledger read error (the ticket's events), or `stop`. Reads of
// the read model itself never fail (read_model.h).
//
// Thread safety: the ReadModel form takes the read model's read lock while
// it looks at the current tickets and reads the ledger after releasing it;
// callable from any thread. The TicketStore form reads `now` without a
// lock: the caller keeps it from changing meanwhile.

#include <cstdint>
#include <optional>

#include "common/result.h"
#include "common/stop.h"
#include "ledger/ledger.h"
#include "projections/maintenance.h"
#include "projections/read_model.h"
#include "projections/tickets.h"

namespace ledger::projections {

// AsOfPoint (a point of the log) is declared in tickets.h.

// Every ticket that existed at `point` and whose periods as they stood then
// overlap [from, to) (PeriodOverlaps), as it stood then, in a store of its
// own (with its timeline index), whose names (TicketStore::names) follow
// only the aliases recorded by the point. Events committed but not yet applied to the
// read model are not seen. Fails with the ledger's error when a ticket's
// events cannot be read, and with `stop`'s reason when it says to stop.
Result<TicketStore> TicketsAsOf(const ReadModel& model, const Ledger& ledger, const AsOfPoint& point,
                                int64_t from_micros, int64_t to_micros, const StopToken& stop);
// The same from a current store the caller holds (folded from the same
// ledger, up to its head).
Result<TicketStore> TicketsAsOf(const TicketStore& now, const Ledger& ledger, const AsOfPoint& point,
                                int64_t from_micros, int64_t to_micros, const StopToken& stop);

// The maintenance windows as they stood at `point`: every window scheduled
// by then, as its events up to then made it. A window whose latest event is
// at or before the point is copied; one changed since is folded again from
// its own events. Windows are few (a handful a week), so every window is
// looked at. Fails like TicketsAsOf.
Result<MaintenanceStore> MaintenanceAsOf(const ReadModel& model, const Ledger& ledger, const AsOfPoint& point,
                                         const StopToken& stop);
Result<MaintenanceStore> MaintenanceAsOf(const MaintenanceStore& now, const Ledger& ledger, const AsOfPoint& point,
                                         const StopToken& stop);

}  // namespace ledger::projections
