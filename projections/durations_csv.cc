#include "projections/durations_csv.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <initializer_list>

#include "common/text.h"

namespace ledger::projections {
namespace {

constexpr std::string_view kLineEnd = "\r\n";  // RFC 4180 ends records with CRLF

// Characters that make a spreadsheet evaluate a field that starts with them.
bool IsFormulaLead(char c) {
  switch (c) {
    case '=': case '+': case '-': case '@': case '\t': case '\r': return true;
    default: return false;
  }
}

// The fullwidth forms of those four signs (U+FF1D, U+FF0B, U+FF0D, U+FF20)
// and of the two separators (U+FF0C, U+FF1B), in UTF-8: some spreadsheets
// in East Asian locales take a fullwidth sign for its ASCII twin.
constexpr std::string_view kFullwidthLeads[] = {"\xef\xbc\x9d", "\xef\xbc\x8b", "\xef\xbc\x8d", "\xef\xbc\xa0"};
constexpr std::string_view kFullwidthSeparators[] = {"\xef\xbc\x8c", "\xef\xbc\x9b"};

template <size_t N>
bool StartsWithAny(std::string_view text, const std::string_view (&prefixes)[N]) {
  return std::any_of(std::begin(prefixes), std::end(prefixes),
                     [&](std::string_view prefix) { return text.starts_with(prefix); });
}

// Whether a field a reader starts at text[i] would be a formula: its first
// character after any spaces (for readers that trim) and double quotes (a
// reader that unquotes a field may still evaluate what it holds) is a lead.
bool FormulaStartsAt(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '"')) ++i;
  if (i >= text.size()) return false;
  return IsFormulaLead(text[i]) || StartsWithAny(text.substr(i), kFullwidthLeads);
}

// The length of the separator at text[i] after which a reader may start a
// field: ',' or ';' (the two common separators, or their fullwidth forms) or
// a line break (a reader that mishandles quoted line breaks starts a row
// there); 0 when none is there.
size_t SeparatorLengthAt(std::string_view text, size_t i) {
  const char c = text[i];
  if (c == ',' || c == ';' || c == '\r' || c == '\n') return 1;
  if (StartsWithAny(text.substr(i), kFullwidthSeparators)) return kFullwidthSeparators[0].size();
  return 0;
}

// RFC 4180 quoting: the cell in double quotes, inner quotes doubled.
std::string Quoted(std::string_view cell) {
  std::string quoted = "\"";
  for (const char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

// A cell the program wrote (a number, true/false, a header name): quoted,
// never prefixed.
std::string ProgramField(std::string_view text) { return Quoted(text); }

std::string Header(std::initializer_list<std::string_view> names) {
  std::string row;
  for (const std::string_view name : names) {
    if (!row.empty()) row += ',';
    row += ProgramField(name);
  }
  return row;
}

std::string FormatDouble(double value) {
  char buffer[32];
  const int length = std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return std::string(buffer, static_cast<size_t>(length));
}

}  // namespace

std::string CsvTextField(std::string_view text) {
  // A single quote before every place a field could start as a formula: the
  // cell's start, and right after each separator inside it, because a reader
  // that splits on ';' breaks a quoted cell there unless the cell is the
  // first of its row.
  std::string defused;
  defused.reserve(text.size() + 1);
  if (FormulaStartsAt(text, 0)) defused += '\'';
  size_t i = 0;
  while (i < text.size()) {
    const size_t separator = SeparatorLengthAt(text, i);
    if (separator == 0) {
      defused += text[i];
      ++i;
      continue;
    }
    defused.append(text.substr(i, separator));
    i += separator;
    if (FormulaStartsAt(text, i)) defused += '\'';
  }
  return Quoted(defused);
}

std::string IncidentDurationsCsv(const DurationReport& report) {
  std::string csv = Header({"ticket", "seconds", "ongoing"});
  csv += kLineEnd;
  for (const IncidentDuration& incident : report.incidents) {
    csv += CsvTextField(incident.ticket) + ',' + ProgramField(std::to_string(incident.seconds)) + ',' +
           ProgramField(incident.ongoing ? "true" : "false");
    csv += kLineEnd;
  }
  return csv;
}

std::string SystemDowntimeCsv(const DurationReport& report) {
  std::string csv =
      Header({"system", "downtime_seconds", "availability", "tickets", "planned_seconds", "degraded_seconds", "windows"});
  csv += kLineEnd;
  for (const SystemDowntime& system : report.systems) {
    csv += CsvTextField(system.system) + ',' + ProgramField(std::to_string(system.downtime_seconds)) + ',' +
           ProgramField(FormatDouble(system.availability)) + ',' + CsvTextField(Join(system.tickets, " ")) + ',' +
           ProgramField(std::to_string(system.planned_seconds)) + ',' +
           ProgramField(std::to_string(system.degraded_seconds)) + ',' + CsvTextField(Join(system.windows, " "));
    csv += kLineEnd;
  }
  return csv;
}

}  // namespace ledger::projections
