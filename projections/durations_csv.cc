#include "projections/durations_csv.h"

#include <cstdio>

namespace ledger::projections {
namespace {

constexpr std::string_view kLineEnd = "\r\n";  // RFC 4180 ends records with CRLF

// Leading characters that make a spreadsheet evaluate a cell as a formula.
bool StartsLikeFormula(std::string_view text) {
  if (text.empty()) return false;
  switch (text.front()) {
    case '=': case '+': case '-': case '@': case '\t': case '\r': return true;
    default: return false;
  }
}

bool NeedsQuotes(std::string_view text) { return text.find_first_of(",\"\r\n") != std::string_view::npos; }

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
  std::string cell;
  if (StartsLikeFormula(text)) cell += '\'';
  cell += text;
  if (!NeedsQuotes(cell)) return cell;
  std::string quoted = "\"";
  for (const char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string IncidentDurationsCsv(const DurationReport& report) {
  std::string csv = "ticket,seconds,ongoing";
  csv += kLineEnd;
  for (const IncidentDuration& incident : report.incidents) {
    csv += CsvTextField(incident.ticket) + ',' + std::to_string(incident.seconds) + ',' +
           (incident.ongoing ? "true" : "false");
    csv += kLineEnd;
  }
  return csv;
}

std::string SystemDowntimeCsv(const DurationReport& report) {
  std::string csv = "system,downtime_seconds,availability,tickets";
  csv += kLineEnd;
  for (const SystemDowntime& system : report.systems) {
    csv += CsvTextField(system.system) + ',' + std::to_string(system.downtime_seconds) + ',' +
           FormatDouble(system.availability) + ',' + CsvTextField(JoinTickets(system.tickets));
    csv += kLineEnd;
  }
  return csv;
}

}  // namespace ledger::projections
