#pragma once
// CSV text for the two lists of a DurationReport, for `?format=csv` and the
// CLI's `--format csv`. Pure formatting: no I/O.
//
// The output follows RFC 4180 (a header row, CRLF line ends) and OWASP's
// advice against CSV injection, because these files are opened in
// spreadsheets and system names are user text:
//   - every cell, header and numbers included, is in double quotes, inner
//     quotes doubled, so a reader that splits on ',' and honours quotes
//     never starts a field inside a cell;
//   - a reader splitting on ';' (many European locales) starts one after
//     each ';' of a cell not in its first column, so each piece of a text
//     cell that a spreadsheet could take for a formula gets a single quote
//     ('): the cell's start and each piece after ',' ';' CR LF (or U+FF0C,
//     U+FF1B), when it starts (after spaces) with = + - @ TAB CR or U+FF1D,
//     U+FF0B, U+FF0D, U+FF20: "-db" is "'-db", "x;=cmd()" is "x;'=cmd()".
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
