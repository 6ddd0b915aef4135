#pragma once
// Who may read an incident. An incident whose latest visibility is
// `internal` (proto::Visibility, projections::IsInternal) is hidden from
// principals below the help desk: viewers and anonymous readers get 404 for
// it and find it in no list, stream, feed, calendar, dashboard, action-item
// list, report row or bundle. Help desk, auditors and admins (and every
// request in open mode, which has every role) see it as any other.
// Figures (durations, availability, MTTR) still count an internal incident;
// they only leave out the rows and names that would show it.
//
// Every read of the HTTP edge that names a ticket asks this one predicate;
// nothing else decides visibility. Visibility is the incident's current
// state: an incident made internal is hidden from then on, also in `as_of`
// answers about earlier moments, and one made `everyone` again shows again.
//
// Thread safety: pure functions; MaySeeTicket reads the read model under its
// shared lock.

#include <functional>
#include <string_view>

#include "http/auth.h"
#include "projections/durations.h"
#include "projections/read_model.h"
#include "projections/review_report.h"
#include "projections/tickets.h"

namespace ledger::http {

// Whether `principal` sees internal incidents (help desk, auditor, admin).
bool SeesInternal(const Principal& principal);

// Whether `principal` may read the incident `state`.
bool MaySee(const Principal& principal, const projections::TicketState& state);

// The same for a ticket named "INC-n": false only when the ticket exists
// now, is internal, and `principal` does not see internal incidents (an
// unknown ticket is left to the caller's own 404).
bool MaySeeTicket(const Principal& principal, const projections::ReadModel& read_model, std::string_view ticket);

// Whether a ticket name may be shown to a reader: MaySeeTicket for
// `principal`, by the tickets' current state. Each call takes the read
// model's shared lock: never call it while holding one (read_model.h).
// `read_model` must outlive the function.
using TicketShown = std::function<bool(std::string_view ticket)>;
TicketShown TicketShownTo(const Principal& principal, const projections::ReadModel& read_model);

// The placeholder that stands for a hidden ticket in a list whose length is
// a figure (the review report's closed_tickets, ...).
inline constexpr std::string_view kHiddenTicketName = "internal";

// Leaves the hidden tickets out of a duration report: their per-incident
// rows and their names in the systems' and the means' ticket lists. The
// figures (downtime, availability, the means, closed_count) stay as
// computed, with them counted.
void LeaveOutHidden(projections::DurationReport* report, const TicketShown& shown);

// The same for the review report: rows of a hidden ticket (incidents,
// action items, recurrence) are left out; in the lists whose length is a
// figure (closed, reviewed, median, item and recurrence ticket lists) a
// hidden ticket's name, or an item of it, becomes kHiddenTicketName, so
// every count stays as computed.
void LeaveOutHidden(projections::ReviewReport* report, const TicketShown& shown);

// "INC-7-A1" -> "INC-7"; the text itself when it names no item.
std::string_view TicketOfItem(std::string_view item);

}  // namespace ledger::http
