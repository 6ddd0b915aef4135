#pragma once
// GET /calendar.ics (viewer): maintenance windows and outage periods as an
// RFC 5545 calendar, for calendar programs to subscribe to. Pure text
// building from the read model; no I/O.
//
// What it holds, for `?system=` (one system, matched ignoring ASCII case;
// none: every system) and `?from&to` (RFC 3339; default from 90 days ago,
// no upper bound):
//
// - one VEVENT per maintenance window whose span (planned or as run) meets
//   [from, to): UID "MNT-3@incident-ledger", DTSTART/DTEND the actual times
//   once known (started_at, ended_at), the planned ones before (a window in
//   progress past its planned end ends "now"), STATUS CONFIRMED, or
//   CANCELLED for a cancelled window, which stays in the calendar so that
//   subscribers see it called off; SEQUENCE its version.
// - one VEVENT per period of an outage incident (impact full or partial;
//   degraded incidents are no outage and are left out) that meets [from,
//   to): UID "INC-7-1@incident-ledger" (ticket, period number from 1),
//   an ongoing period ends "now"; SEQUENCE the ticket's version.
//
// DTSTAMP and LAST-MODIFIED are the recorded time of the window's or
// ticket's latest event (RFC 5545 3.8.7.2: without METHOD, when the
// information was last revised), so the same ledger gives the same UID and
// DTSTAMP on every fetch. Times are UTC ("Z"). Text (titles, systems,
// descriptions, links: all untrusted) is escaped per RFC 5545 3.3.11
// (backslash, ';', ',' and newlines), with control characters, the code
// points one-line text refuses and invalid UTF-8 made spaces or '?', so no
// value can end its line and start a property; lines end in CRLF and are
// folded at 75 octets without splitting a UTF-8 sequence.
//
// Thread safety: a pure function of its arguments.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "projections/maintenance.h"
#include "projections/tickets.h"

namespace ledger::http {

constexpr int64_t kCalendarDefaultPastMicros = int64_t{90} * 86'400 * 1'000'000;
constexpr size_t kCalendarLineOctetsMax = 75;

struct CalendarQuery {
  std::optional<std::string> system;  // as given; a system in any case, an alias or a group (projections/systems.h)
  int64_t from_micros = 0;
  std::optional<int64_t> to_micros;
  int64_t now_micros = 0;
  // Set: only incidents it answers true for are listed (the reader's
  // visibility, visibility.h). Empty: every incident.
  std::function<bool(const projections::TicketState&)> visible;
};

std::string CalendarText(const projections::TicketStore& tickets, const projections::MaintenanceStore& windows,
                         const CalendarQuery& query);

// RFC 5545 TEXT escaping of untrusted text (see above); exposed for tests.
std::string CalendarEscape(std::string_view text);
// One content line, folded at 75 octets, ending in CRLF.
std::string CalendarLine(std::string_view line);

}  // namespace ledger::http
