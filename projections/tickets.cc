#include "projections/tickets.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>

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

// The timeline index's bucket of a time: its day since the epoch, rounded
// down (also before 1970).
int64_t DayOf(int64_t unix_micros) {
  constexpr int64_t kMicrosPerDay = 86'400'000'000;
  const int64_t day = unix_micros / kMicrosPerDay;
  return unix_micros % kMicrosPerDay < 0 ? day - 1 : day;
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
  auto found = tickets_.find(*number);
  if (found == tickets_.end()) {
    if (event.type() != proto::INCIDENT_OPENED) return std::nullopt;
    found = tickets_.emplace(*number, TicketState{}).first;
  }
  // Only these can move an outage period; notes and other fields leave the
  // timeline index alone.
  const bool moves_periods = event.type() != proto::INCIDENT_UPDATED || event.incident().has_started_at() ||
                             event.incident().has_ended_at();
  if (moves_periods) Unindex(*number, found->second);
  ApplyIncidentEvent(&found->second, event);
  if (moves_periods) Index(*number, found->second);
  return number;
}

void TicketStore::Clear() {
  tickets_.clear();
  period_starts_.clear();
  ongoing_.clear();
  longest_closed_micros_ = 0;
}

void TicketStore::Put(TicketState state) {
  const uint64_t number = state.ticket_number;
  auto [found, inserted] = tickets_.try_emplace(number);
  if (!inserted) Unindex(number, found->second);
  found->second = std::move(state);
  Index(number, found->second);
}

// Both take the ticket's key in tickets_, which is what Query looks up.
void TicketStore::Index(uint64_t ticket_number, const TicketState& state) {
  for (const Period& period : state.periods) {
    period_starts_[DayOf(period.start.unix_micros)].emplace_back(period.start.unix_micros, ticket_number);
    if (!period.end) {
      ongoing_.insert(ticket_number);
    } else {
      longest_closed_micros_ = std::max(longest_closed_micros_, period.end->unix_micros - period.start.unix_micros);
    }
  }
}

void TicketStore::Unindex(uint64_t ticket_number, const TicketState& state) {
  for (const Period& period : state.periods) {
    const auto bucket = period_starts_.find(DayOf(period.start.unix_micros));
    if (bucket == period_starts_.end()) continue;
    std::vector<std::pair<int64_t, uint64_t>>& entries = bucket->second;
    const auto found = std::find(entries.begin(), entries.end(), std::make_pair(period.start.unix_micros, ticket_number));
    if (found == entries.end()) continue;
    *found = entries.back();
    entries.pop_back();
    if (entries.empty()) period_starts_.erase(bucket);
  }
  ongoing_.erase(ticket_number);
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
  // Past this many candidate tickets (and a quarter of all), walking every
  // ticket in order is cheaper than sorting the candidates.
  constexpr size_t kCandidatesMax = 4096;
  std::string folded;
  folded.reserve(query.text.size());
  for (const char c : query.text) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  const auto matches = [&](const TicketState& state) {
    if (query.status && state.status != *query.status) return false;
    if (!query.system.empty() &&
        std::find(state.systems.begin(), state.systems.end(), query.system) == state.systems.end()) {
      return false;
    }
    if (!std::any_of(state.periods.begin(), state.periods.end(), [&query](const Period& period) {
          return PeriodOverlaps(period, query.from_micros, query.to_micros);
        })) {
      return false;
    }
    return MatchesText(state, folded);
  };
  TimelinePage page;
  // Adds a match; false once the page is full (and the cursor set).
  const auto add = [&page, &query](const TicketState& state) {
    if (page.incidents.size() == query.limit) {
      page.next_before_ticket_number = page.incidents.back()->ticket_number;
      return false;
    }
    page.incidents.push_back(&state);
    return true;
  };

  // A closed period overlapping [from, to) starts before `to` and at most
  // longest_closed_micros_ before `from`; an open one is in ongoing_.
  const int64_t earliest_start = query.from_micros < INT64_MIN + longest_closed_micros_
                                     ? INT64_MIN
                                     : query.from_micros - longest_closed_micros_;
  std::vector<uint64_t> candidates(ongoing_.begin(), ongoing_.end());
  bool use_index = true;
  const int64_t last_day = DayOf(query.to_micros - 1);
  for (auto bucket = period_starts_.lower_bound(DayOf(earliest_start));
       use_index && bucket != period_starts_.end() && bucket->first <= last_day; ++bucket) {
    for (const auto& [start, number] : bucket->second) {
      if (start < earliest_start || start >= query.to_micros) continue;
      candidates.push_back(number);
    }
    if (candidates.size() > kCandidatesMax && candidates.size() > tickets_.size() / 4) use_index = false;
  }
  if (use_index) {
    std::sort(candidates.begin(), candidates.end(), std::greater<>());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    for (const uint64_t number : candidates) {
      if (query.before_ticket_number != 0 && number >= query.before_ticket_number) continue;
      const auto found = tickets_.find(number);
      if (found == tickets_.end() || !matches(found->second)) continue;
      if (!add(found->second)) break;
    }
    return page;
  }

  auto iterator = query.before_ticket_number == 0 ? tickets_.end() : tickets_.lower_bound(query.before_ticket_number);
  while (iterator != tickets_.begin()) {
    --iterator;
    if (!matches(iterator->second)) continue;
    if (!add(iterator->second)) break;
  }
  return page;
}

}  // namespace ledger::projections
