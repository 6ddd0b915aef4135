#pragma once
// CSV text for the two lists of a DurationReport, for `?format=csv` and the
// CLI's `--format csv`. Pure formatting: no I/O.
//
// The output follows RFC 4180: a header row, CRLF line ends, and a field in
// double quotes (inner quotes doubled) when it holds a comma, a quote, CR or
// LF. Because these files are opened in spreadsheets and system names are
// user text, a text cell that starts with '=', '+', '-', '@', a tab or CR
// (which a spreadsheet would read as a formula) gets a single quote (')
// prefixed, as OWASP advises against CSV injection: "-db" is written '-db.
// Numbers are ours and never get the prefix. Availability is written with 17
// significant digits ("%.17g"), as the JSON writer does, so both formats
// carry the same value.

#include <string>
#include <string_view>

#include "projections/durations.h"

namespace ledger::projections {

// "ticket,seconds,ongoing" then one row per incident; ongoing is true/false.
std::string IncidentDurationsCsv(const DurationReport& report);

// "system,downtime_seconds,availability,tickets" then one row per system;
// the tickets are separated by single spaces (ticket names hold none).
std::string SystemDowntimeCsv(const DurationReport& report);

// One text cell, defused and quoted as described above.
std::string CsvTextField(std::string_view text);

}  // namespace ledger::projections
