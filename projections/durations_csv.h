#pragma once
// CSV text for the two lists of a DurationReport, for `?format=csv` and the
// CLI's `--format csv`. Pure formatting: no I/O.
//
// The output follows RFC 4180 (a header row, CRLF line ends) and OWASP's
// advice against CSV injection, because these files are opened in
// spreadsheets and system names are user text:
//   - every cell, header and numbers included, is in double quotes, inner
//     quotes doubled, so a reader that honours quotes never starts a field
//     inside a cell, whether it splits on ',' or (as many European locales
//     do) on ';';
//   - a text cell is defused with a leading single quote (') when a
//     spreadsheet could take it, or a piece of it, for a formula: when it
//     starts with '=', '+', '-', '@', a tab or CR, or when any of its pieces
//     after a ',', ';', CR or LF does ("x;=cmd()" is written "'x;=cmd()").
//     "-db" is written "'-db".
// Numbers (seconds, availability) and true/false are written by the program,
// never taken from user text, so they are quoted but never prefixed: a
// negative number would stay a number. Availability is written with 17
// significant digits ("%.17g"), as the JSON writer does, so both formats
// carry the same value.

#include <string>
#include <string_view>

#include "projections/durations.h"

namespace ledger::projections {

// "ticket,seconds,ongoing" then one row per incident; ongoing is true/false.
std::string IncidentDurationsCsv(const DurationReport& report);

// "system,downtime_seconds,availability,tickets,planned_seconds,
// degraded_seconds,windows" (the JSON's members, in its order) then one row
// per system; tickets and windows are separated by single spaces (their
// names hold none).
std::string SystemDowntimeCsv(const DurationReport& report);

// One text cell (user text), defused and quoted as described above.
std::string CsvTextField(std::string_view text);

}  // namespace ledger::projections
