#include "projections/durations_csv.h"

#include <cstdio>
#include <initializer_list>

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

// Where a reader may start a field: the cell's start and the byte after
// every ',' or ';' (the two common separators) and every line break (a
// reader that mishandles quoted line breaks starts a row there). Spaces
// before the field's first character are skipped, for readers that trim.
bool LooksLikeFormula(std::string_view text) {
  bool field_start = true;
  for (const char c : text) {
    if (field_start && c == ' ') continue;
    if (field_start && IsFormulaLead(c)) return true;
    field_start = c == ',' || c == ';' || c == '\r' || c == '\n';
  }
  return false;
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

std::string JoinTickets(const std::vector<std::string>& tickets) {
  std::string joined;
  for (const std::string& ticket : tickets) {
    if (!joined.empty()) joined += ' ';
    joined += ticket;
  }
  return joined;
}

}  // namespace

std::string CsvTextField(std::string_view text) {
  if (!LooksLikeFormula(text)) return Quoted(text);
  std::string defused = "'";
  defused += text;
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
           ProgramField(FormatDouble(system.availability)) + ',' + CsvTextField(JoinTickets(system.tickets)) + ',' +
           ProgramField(std::to_string(system.planned_seconds)) + ',' +
           ProgramField(std::to_string(system.degraded_seconds)) + ',' + CsvTextField(JoinTickets(system.windows));
    csv += kLineEnd;
  }
  return csv;
}

}  // namespace ledger::projections
