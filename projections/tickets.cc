#include "projections/tickets.h"

#include <algorithm>
#include <cctype>

namespace ledger::projections {
namespace {

Instant FromProto(const proto::Timestamp& timestamp) {
  return Instant{timestamp.unix_micros(), timestamp.offset_minutes()};
}

bool ContainsFolded(std::string_view haystack, std::string_view folded_needle) {
  if (folded_needle.empty()) return true;
  if (haystack.size() < folded_needle.size()) return false;
  for (size_t i = 0; i + folded_needle.size() <= haystack.size(); ++i) {
    size_t k = 0;
    while (k < folded_needle.size() && std::tolower(static_cast<unsigned char>(haystack[i + k])) ==
                                           std::tolower(static_cast<unsigned char>(folded_needle[k]))) {
      ++k;
    }
    if (k == folded_needle.size()) return true;
  }
  return false;
}

bool MatchesText(const TicketState& state, std::string_view folded) {
  if (ContainsFolded(state.ticket, folded) || ContainsFolded(state.title, folded) ||
      ContainsFolded(state.description, folded) || ContainsFolded(state.engineer, folded)) {
    return true;
  }
  return std::any_of(state.systems.begin(), state.systems.end(),
                     [folded](const std::string& system) { return ContainsFolded(system, folded); });
}

}  // namespace

std::optional<uint64_t> ParseTicketNumber(std::string_view ticket) {
  constexpr std::string_view kPrefix = "INC-";
  constexpr size_t kDigitsMax = 18;
  if (!ticket.starts_with(kPrefix)) return std::nullopt;
  const std::string_view digits = ticket.substr(kPrefix.size());
  if (digits.empty() || digits.size() > kDigitsMax || digits[0] == '0') return std::nullopt;
  uint64_t number = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<uint64_t>(c - '0');
  }
  return number;
}

const char* SeverityName(proto::Severity severity) {
  switch (severity) {
    case proto::MAJOR: return "major";
    case proto::CRITICAL: return "critical";
    default: return "minor";
  }
}

const char* StatusName(TicketStatus status) { return status == TicketStatus::kOpen ? "open" : "closed"; }

void ApplyIncidentEvent(TicketState* state, const proto::Event& event) {
  if (!event.has_incident()) return;
  const proto::IncidentPayload& payload = event.incident();
  const Instant recorded{event.recorded_at_micros(), 0};

  if (event.type() == proto::INCIDENT_OPENED) {
    state->ticket = event.ticket();
    state->ticket_number = ParseTicketNumber(event.ticket()).value_or(0);
    state->opened_seq = event.seq();
    state->opened_at_micros = event.recorded_at_micros();
    state->status = TicketStatus::kOpen;
    state->periods.clear();
    state->periods.push_back(Period{payload.has_started_at() ? FromProto(payload.started_at()) : recorded, {}});
  }
  if (payload.has_title()) state->title = payload.title();
  if (payload.has_description()) state->description = payload.description();
  if (payload.has_systems()) state->systems.assign(payload.systems().names().begin(), payload.systems().names().end());
  if (payload.has_engineer()) state->engineer = payload.engineer();
  if (payload.severity() != proto::SEVERITY_UNSPECIFIED) state->severity = payload.severity();
  if (payload.has_link()) state->link = payload.link();
  if (payload.has_note()) state->last_note = payload.note();

  switch (event.type()) {
    case proto::INCIDENT_OPENED:
      break;
    case proto::INCIDENT_CLOSED:
      state->status = TicketStatus::kClosed;
      if (!state->periods.empty()) {
        state->periods.back().end = payload.has_ended_at() ? FromProto(payload.ended_at()) : recorded;
        if (payload.has_started_at()) state->periods.back().start = FromProto(payload.started_at());
      }
      break;
    case proto::INCIDENT_REOPENED:
      state->status = TicketStatus::kOpen;
      state->periods.push_back(Period{payload.has_started_at() ? FromProto(payload.started_at()) : recorded, {}});
      break;
    case proto::INCIDENT_UPDATED:
      if (!state->periods.empty()) {
        if (payload.has_started_at()) state->periods.back().start = FromProto(payload.started_at());
        if (payload.has_ended_at() && state->periods.back().end) {
          state->periods.back().end = FromProto(payload.ended_at());
        }
      }
      break;
    default:
      return;
  }
  state->version = event.version();
  state->last_seq = event.seq();
  state->updated_at_micros = event.recorded_at_micros();
}

std::optional<uint64_t> TicketStore::Apply(const proto::Event& event) {
  if (!event.has_incident()) return std::nullopt;
  const std::optional<uint64_t> number = ParseTicketNumber(event.ticket());
  if (!number) return std::nullopt;
  if (event.type() != proto::INCIDENT_OPENED && !tickets_.contains(*number)) return std::nullopt;
  ApplyIncidentEvent(&tickets_[*number], event);
  return number;
}

const TicketState* TicketStore::Find(std::string_view ticket) const {
  const std::optional<uint64_t> number = ParseTicketNumber(ticket);
  if (!number) return nullptr;
  const auto found = tickets_.find(*number);
  return found == tickets_.end() ? nullptr : &found->second;
}

bool PeriodOverlaps(const Period& period, int64_t from_micros, int64_t to_micros) {
  const int64_t start = period.start.unix_micros;
  if (start >= to_micros) return false;
  if (!period.end) return true;
  const int64_t end = period.end->unix_micros;
  if (end == start) return start >= from_micros;
  return end > from_micros;
}

TimelinePage TicketStore::Query(const TimelineQuery& query) const {
  std::string folded;
  folded.reserve(query.text.size());
  for (const char c : query.text) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  TimelinePage page;
  auto iterator = query.before_ticket_number == 0 ? tickets_.end() : tickets_.lower_bound(query.before_ticket_number);
  while (iterator != tickets_.begin()) {
    --iterator;
    const TicketState& state = iterator->second;
    if (query.status && state.status != *query.status) continue;
    if (!query.system.empty() &&
        std::find(state.systems.begin(), state.systems.end(), query.system) == state.systems.end()) {
      continue;
    }
    if (!std::any_of(state.periods.begin(), state.periods.end(), [&query](const Period& period) {
          return PeriodOverlaps(period, query.from_micros, query.to_micros);
        })) {
      continue;
    }
    if (!MatchesText(state, folded)) continue;
    if (page.incidents.size() == query.limit) {
      page.next_before_ticket_number = page.incidents.back()->ticket_number;
      break;
    }
    page.incidents.push_back(&state);
  }
  return page;
}

}  // namespace ledger::projections
