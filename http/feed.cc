#include "http/feed.h"

#include <algorithm>
#include <utility>

#include "common/encoding.h"
#include "common/text.h"
#include "common/time.h"
#include "http/html.h"
#include "ingest/fields.h"

namespace ledger::http {
namespace {

using projections::MaintenanceWindow;
using projections::TicketState;

// The tagging entity and date of every id (RFC 4151).
constexpr std::string_view kTagPrefix = "tag:incident-ledger,2026:";
constexpr size_t kIdHashHexDigits = 16;

bool Names(const projections::SystemNames& names, const std::vector<std::string>& systems,
           const std::optional<std::string>& wanted) {
  return !wanted || names.CoversAny(*wanted, systems);
}

std::string_view Verb(proto::EventType type) {
  switch (type) {
    case proto::INCIDENT_OPENED: return "opened";
    case proto::INCIDENT_UPDATED: return "updated";
    case proto::INCIDENT_CLOSED: return "closed";
    case proto::INCIDENT_REOPENED: return "reopened";
    case proto::REVIEW_PUBLISHED: return "review published";
    case proto::MAINTENANCE_SCHEDULED: return "scheduled";
    case proto::MAINTENANCE_UPDATED: return "updated";
    case proto::MAINTENANCE_STARTED: return "started";
    case proto::MAINTENANCE_ENDED: return "ended";
    case proto::MAINTENANCE_CANCELLED: return "cancelled";
    default: return "";
  }
}

bool IsMaintenance(const proto::Event& event) { return projections::IsMaintenanceEvent(event.type()); }

// The dashboard over a window's span (planned or as run), an hour either side.
std::string WindowLink(const MaintenanceWindow& window) {
  constexpr int64_t kHourMicros = int64_t{3600} * 1'000'000;
  const int64_t start = window.started_at ? window.started_at->unix_micros : window.starts_at.unix_micros;
  const int64_t end = std::max(window.ended_at ? window.ended_at->unix_micros : window.ends_at.unix_micros, start);
  return "/?from=" + UrlEncodeComponent(FormatRfc3339Utc(start - kHourMicros)) +
         "&to=" + UrlEncodeComponent(FormatRfc3339Utc(end + kHourMicros));
}

std::string IncidentSummary(const FeedEntry& entry) {
  std::string text;
  if (entry.event.has_incident()) {
    ingest::ForEachGivenValue(entry.event.incident(), [&](const ingest::GivenValue& given) {
      text += std::string(given.field->mail_label) + ": " + ingest::DisplayText(given) + "\n";
    });
  }
  if (entry.event.has_review()) {
    const proto::ReviewPayload& review = entry.event.review();
    text += "summary: " + review.summary() + "\n";
    if (!review.impact_summary().empty()) text += "impact: " + review.impact_summary() + "\n";
    text += "root cause: " + review.root_cause() + "\n";
    for (const std::string& factor : review.contributing_factors()) text += "contributing factor: " + factor + "\n";
    if (!review.lessons().empty()) text += "lessons: " + review.lessons() + "\n";
  }
  if (entry.ticket) {
    const TicketState& ticket = *entry.ticket;
    text += "\nNow: " + std::string(projections::StatusName(ticket.status)) + ", " +
            projections::SeverityName(ticket.severity) + ", impact " + projections::ImpactName(ticket.impact) +
            ", phase " + projections::PhaseName(ticket) + "\nSystems: " + Join(ticket.systems, ", ") +
            "\nEngineer: " + ticket.engineer + "\n";
  }
  return text;
}

std::string WindowSummary(const MaintenanceWindow& window) {
  std::string text = "Status: " + std::string(projections::MaintenanceStatusName(window.status)) +
                     "\nSystems: " + Join(window.systems, ", ") + "\nPlanned: " + FormatRfc3339(window.starts_at) +
                     " to " + FormatRfc3339(window.ends_at) + "\n";
  if (window.started_at) {
    text += "Ran: " + FormatRfc3339(*window.started_at) + " to " +
            (window.ended_at ? FormatRfc3339(*window.ended_at) : std::string("now")) + "\n";
  }
  if (!window.link.empty()) text += "Link: " + window.link + "\n";
  if (!window.description.empty()) text += "\n" + window.description + "\n";
  return text;
}

void AppendElement(std::string* out, std::string_view indent, std::string_view name, std::string_view text,
                   std::string_view attributes = {}) {
  *out += indent;
  *out += "<";
  *out += name;
  *out += attributes;
  *out += ">";
  *out += XmlEscape(text);
  *out += "</";
  *out += name;
  *out += ">\n";
}

void AppendEntry(std::string* out, const FeedEntry& entry) {
  const proto::Event& event = entry.event;
  const bool maintenance = IsMaintenance(event);
  const std::string& title = maintenance ? (entry.window ? entry.window->title : std::string())
                                         : (entry.ticket ? entry.ticket->title : std::string());
  const std::vector<std::string> no_systems;
  const std::vector<std::string>& systems = maintenance ? (entry.window ? entry.window->systems : no_systems)
                                                        : (entry.ticket ? entry.ticket->systems : no_systems);
  const std::string when = FormatRfc3339Utc(event.recorded_at_micros());
  *out += "  <entry>\n";
  AppendElement(out, "    ", "id",
                std::string(kTagPrefix) + "event-" + std::to_string(entry.seq) + "-" +
                    HexEncode(entry.hash).substr(0, kIdHashHexDigits));
  AppendElement(out, "    ", "title", event.ticket() + " " + std::string(Verb(event.type())) + ": " + title,
                " type=\"text\"");
  AppendElement(out, "    ", "updated", when);
  AppendElement(out, "    ", "published", when);
  *out += "    <author>\n";
  AppendElement(out, "      ", "name", event.actor().empty() ? std::string("incident-ledger") : event.actor());
  *out += "    </author>\n";
  const std::string link = maintenance ? (entry.window ? WindowLink(*entry.window) : std::string("/"))
                                       : "/incidents/" + UrlEncodeComponent(event.ticket());
  *out += "    <link rel=\"alternate\" type=\"text/html\" href=\"" + XmlEscape(link) + "\"/>\n";
  for (const std::string& system : systems) *out += "    <category term=\"" + XmlEscape(system) + "\"/>\n";
  AppendElement(out, "    ", "summary",
                maintenance ? (entry.window ? WindowSummary(*entry.window) : std::string()) : IncidentSummary(entry),
                " type=\"text\"");
  *out += "  </entry>\n";
}

}  // namespace

bool IsFeedEvent(const proto::Event& event) {
  switch (event.type()) {
    case proto::INCIDENT_OPENED:
    case proto::INCIDENT_UPDATED:
    case proto::INCIDENT_CLOSED:
    case proto::INCIDENT_REOPENED:
    case proto::REVIEW_PUBLISHED:
      return !event.ticket().empty();
    default:
      return IsMaintenance(event) && !event.ticket().empty();
  }
}

Result<std::vector<FeedEntry>> ReadFeed(const Ledger& ledger, const projections::ReadModel& read_model,
                                        const FeedQuery& query) {
  std::vector<FeedEntry> entries;
  // From what the read model has applied: an event beyond it may name a
  // ticket the model does not know yet.
  uint64_t end = 0;  // events (after, end] are read next
  read_model.Read([&](const projections::TicketStore&, uint64_t applied_seq) { end = applied_seq; });
  uint64_t scanned = 0;
  while (end > 0 && scanned < kFeedEventsScannedMax && entries.size() < kFeedEntriesMax) {
    const uint64_t count = std::min<uint64_t>({kFeedChunkEvents, end, kFeedEventsScannedMax - scanned});
    const uint64_t after = end - count;
    Result<std::vector<StoredEvent>> chunk = ledger.ReadAfter(after, count);
    if (!chunk) return chunk.error();
    std::vector<FeedEntry> found;
    read_model.ReadFigures([&](const projections::TicketStore& tickets, const projections::MaintenanceStore& windows,
                               uint64_t) {
      for (auto it = chunk->rbegin(); it != chunk->rend() && entries.size() + found.size() < kFeedEntriesMax; ++it) {
        if (!IsFeedEvent(it->event)) continue;
        FeedEntry entry;
        if (IsMaintenance(it->event)) {
          const MaintenanceWindow* window = windows.Find(it->event.ticket());
          if (!window || !Names(tickets.names(), window->systems, query.system)) continue;
          entry.window = *window;
        } else {
          const TicketState* ticket = tickets.Find(it->event.ticket());
          if (!ticket || !Names(tickets.names(), ticket->systems, query.system)) continue;
          if (query.visible && !query.visible(*ticket)) continue;
          entry.ticket = *ticket;
        }
        entry.seq = it->seq;
        entry.hash = it->hash;
        entry.event = std::move(it->event);
        found.push_back(std::move(entry));
      }
    });
    for (FeedEntry& entry : found) entries.push_back(std::move(entry));
    scanned += count;
    end = after;
  }
  return entries;
}

std::string FeedText(const std::vector<FeedEntry>& entries, const FeedQuery& query, int64_t head_micros) {
  std::string self = "/feed.atom";
  std::string title = "Incident ledger: incidents and maintenance";
  std::string id = std::string(kTagPrefix) + "feed";
  if (query.system) {
    self += "?system=" + UrlEncodeComponent(*query.system);
    title += " on " + *query.system;
    id += "/system/" + UrlEncodeComponent(*query.system);
  }
  const int64_t updated = entries.empty() ? head_micros : entries.front().event.recorded_at_micros();
  std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n";
  AppendElement(&out, "  ", "title", title, " type=\"text\"");
  AppendElement(&out, "  ", "id", id);
  AppendElement(&out, "  ", "updated", FormatRfc3339Utc(updated));
  out += "  <link rel=\"self\" type=\"application/atom+xml\" href=\"" + XmlEscape(self) + "\"/>\n";
  out += "  <link rel=\"alternate\" type=\"text/html\" href=\"/\"/>\n";
  AppendElement(&out, "  ", "generator", "incident-ledger");
  for (const FeedEntry& entry : entries) AppendEntry(&out, entry);
  out += "</feed>\n";
  return out;
}

std::string XmlEscape(std::string_view text) {
  const std::string valid = Utf8OrAscii(text);
  std::string out;
  out.reserve(valid.size() + 16);
  for (size_t i = 0; i < valid.size(); ++i) {
    const char c = valid[i];
    const auto byte = static_cast<unsigned char>(c);
    // U+FFFE and U+FFFF (EF BF BE, EF BF BF): not characters of XML 1.0.
    if (byte == 0xEF && i + 2 < valid.size() && static_cast<unsigned char>(valid[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(valid[i + 2]) == 0xBE || static_cast<unsigned char>(valid[i + 2]) == 0xBF)) {
      out += ' ';
      i += 2;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (byte < 0x20 && c != '\t' && c != '\n' && c != '\r') out += ' ';
        else out += c;
    }
  }
  return out;
}

}  // namespace ledger::http
