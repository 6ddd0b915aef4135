#include "http/calendar.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/encoding.h"
#include "common/text.h"
#include "projections/notifications.h"

namespace ledger::http {
namespace {

using projections::MaintenanceStatus;
using projections::MaintenanceWindow;
using projections::TicketState;

constexpr std::string_view kUidDomain = "@incident-ledger";
constexpr int64_t kMinimumEventMicros = 60 * 1'000'000;

// "20261128T210000Z"
std::string UtcStamp(int64_t unix_micros) {
  int64_t seconds = unix_micros / 1'000'000;
  if (unix_micros < 0 && unix_micros % 1'000'000 != 0) seconds -= 1;
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[80];
  std::snprintf(text, sizeof(text), "%04d%02d%02dT%02d%02d%02dZ", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

bool HasSystem(const projections::SystemNames& names, const std::vector<std::string>& systems,
               const std::optional<std::string>& wanted) {
  return !wanted || names.CoversAny(*wanted, systems);
}

bool Meets(int64_t start, int64_t end, const CalendarQuery& query) {
  return end > query.from_micros && (!query.to_micros || start < *query.to_micros);
}

struct VEvent {
  std::string uid;
  int64_t start = 0;
  int64_t end = 0;
  int64_t stamp = 0;
  uint32_t sequence = 0;
  std::string status;
  std::string category;
  std::string summary;
  std::string description;
};

void Write(std::string* out, const VEvent& event) {
  const int64_t end = std::max(event.end, event.start + kMinimumEventMicros);
  *out += CalendarLine("BEGIN:VEVENT");
  *out += CalendarLine("UID:" + CalendarEscape(event.uid));
  *out += CalendarLine("DTSTAMP:" + UtcStamp(event.stamp));
  *out += CalendarLine("LAST-MODIFIED:" + UtcStamp(event.stamp));
  *out += CalendarLine("DTSTART:" + UtcStamp(event.start));
  *out += CalendarLine("DTEND:" + UtcStamp(end));
  *out += CalendarLine("SEQUENCE:" + std::to_string(event.sequence));
  *out += CalendarLine("STATUS:" + event.status);
  *out += CalendarLine("CATEGORIES:" + event.category);
  *out += CalendarLine("SUMMARY:" + CalendarEscape(event.summary));
  *out += CalendarLine("DESCRIPTION:" + CalendarEscape(event.description));
  *out += CalendarLine("END:VEVENT");
}

std::optional<VEvent> WindowEvent(const projections::SystemNames& names, const MaintenanceWindow& window,
                                  const CalendarQuery& query) {
  if (!HasSystem(names, window.systems, query.system)) return std::nullopt;
  VEvent event;
  event.start = window.started_at ? window.started_at->unix_micros : window.starts_at.unix_micros;
  if (window.ended_at) {
    event.end = window.ended_at->unix_micros;
  } else if (window.status == MaintenanceStatus::kInProgress) {
    event.end = std::max(window.ends_at.unix_micros, query.now_micros);
  } else {
    event.end = window.ends_at.unix_micros;
  }
  if (!Meets(event.start, std::max(event.end, event.start + kMinimumEventMicros), query)) return std::nullopt;
  event.uid = window.window + std::string(kUidDomain);
  event.stamp = window.updated_at_micros;
  event.sequence = window.version;
  event.status = window.status == MaintenanceStatus::kCancelled ? "CANCELLED" : "CONFIRMED";
  event.category = "MAINTENANCE";
  event.summary = "Maintenance " + window.window + ": " + window.title;
  event.description = "Window: " + window.window + "\nStatus: " + projections::MaintenanceStatusName(window.status) +
                      "\nSystems: " + Join(window.systems, ", ");
  if (!window.link.empty()) event.description += "\nLink: " + window.link;
  if (!window.description.empty()) event.description += "\n\n" + window.description;
  return event;
}

void IncidentEvents(const projections::SystemNames& names, const TicketState& ticket, const CalendarQuery& query,
                    std::vector<VEvent>* events) {
  if (ticket.impact == proto::DEGRADED || !HasSystem(names, ticket.systems, query.system)) return;
  for (size_t i = 0; i < ticket.periods.size(); ++i) {
    const projections::Period& period = ticket.periods[i];
    VEvent event;
    event.start = period.start.unix_micros;
    event.end = period.end ? period.end->unix_micros : std::max(query.now_micros, event.start);
    if (!Meets(event.start, std::max(event.end, event.start + kMinimumEventMicros), query)) continue;
    event.uid = ticket.ticket + "-" + std::to_string(i + 1) + std::string(kUidDomain);
    event.stamp = ticket.updated_at_micros;
    event.sequence = ticket.version;
    event.status = "CONFIRMED";
    event.category = "OUTAGE";
    event.summary = ticket.ticket + " outage (" + projections::ImpactName(ticket.impact) + "): " + ticket.title;
    event.description = "Ticket: " + ticket.ticket + "\nImpact: " + projections::ImpactName(ticket.impact) +
                        "\nSeverity: " + projections::SeverityName(ticket.severity) +
                        "\nSystems: " + Join(ticket.systems, ", ") + (period.end ? "" : "\nOngoing");
    if (!ticket.link.empty()) event.description += "\nLink: " + ticket.link;
    events->push_back(std::move(event));
  }
}

}  // namespace

std::string CalendarEscape(std::string_view text) {
  const std::string valid = Utf8OrAscii(text);
  std::string out;
  out.reserve(valid.size() + 8);
  size_t i = 0;
  while (i < valid.size()) {
    const auto byte = static_cast<unsigned char>(valid[i]);
    const size_t length = byte < 0x80 ? 1 : std::max<size_t>(Utf8SequenceLength(valid, i), 1);
    const std::string_view piece = std::string_view(valid).substr(i, length);
    i += length;
    if (piece == "\r") continue;  // CRLF and CR alike: the LF says it
    if (piece == "\n") {
      out += "\\n";
    } else if (piece == "\\" || piece == ";" || piece == ",") {
      out += '\\';
      out += piece;
    } else if (FirstRefusedCodePoint(piece, TextShape::kOneLine)) {
      out += ' ';
    } else {
      out += piece;
    }
  }
  return out;
}

std::string CalendarLine(std::string_view line) {
  std::string out;
  out.reserve(line.size() + line.size() / 64 * 3 + 2);
  size_t octets = 0;  // on the current physical line
  size_t i = 0;
  while (i < line.size()) {
    const auto byte = static_cast<unsigned char>(line[i]);
    const size_t length = byte < 0x80 ? 1 : std::max<size_t>(Utf8SequenceLength(line, i), 1);
    if (octets + length > kCalendarLineOctetsMax) {
      out += "\r\n ";
      octets = 1;  // the leading space counts
    }
    out.append(line.substr(i, length));
    octets += length;
    i += length;
  }
  out += "\r\n";
  return out;
}

std::string CalendarText(const projections::TicketStore& tickets, const projections::MaintenanceStore& windows,
                         const CalendarQuery& query) {
  std::string out;
  out += CalendarLine("BEGIN:VCALENDAR");
  out += CalendarLine("VERSION:2.0");
  out += CalendarLine("PRODID:-//incident-ledger//maintenance and outages//EN");
  out += CalendarLine("CALSCALE:GREGORIAN");
  std::string name = "Maintenance and outages";
  if (query.system) name += " of " + *query.system;
  out += CalendarLine("X-WR-CALNAME:" + CalendarEscape(name));
  for (const auto& [number, window] : windows.all()) {
    if (std::optional<VEvent> event = WindowEvent(tickets.names(), window, query)) Write(&out, *event);
  }
  std::vector<VEvent> outages;
  for (const TicketState* ticket : tickets.Overlapping(query.from_micros, query.to_micros.value_or(INT64_MAX))) {
    if (query.visible && !query.visible(*ticket)) continue;
    IncidentEvents(tickets.names(), *ticket, query, &outages);
  }
  for (const VEvent& event : outages) Write(&out, event);
  out += CalendarLine("END:VCALENDAR");
  return out;
}

}  // namespace ledger::http
