#pragma once
// Per-ticket state, folded from incident events.
//
// Outage periods: the opening event starts one at its started_at (default:
// its recorded time); a close ends the latest at ended_at (default: recorded
// time); a reopen starts a new one at started_at (default: recorded time); an
// update (or a close/reopen carrying them) may correct started_at/ended_at of
// the latest period, also after close. The state's started_at/ended_at are
// those of the latest period.
//
// Not thread-safe: callers serialize access (see read_model.h).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.h"
#include "event.pb.h"

namespace ledger::projections {

struct Period {
  Instant start;
  std::optional<Instant> end;  // nullopt while ongoing
};

enum class TicketStatus { kOpen, kClosed };

struct TicketState {
  std::string ticket;
  uint64_t ticket_number = 0;
  TicketStatus status = TicketStatus::kOpen;
  std::string title;
  std::string description;
  std::vector<std::string> systems;
  std::string engineer;
  proto::Severity severity = proto::MINOR;
  std::string link;
  std::string last_note;
  std::vector<Period> periods;  // never empty once opened
  uint32_t version = 0;
  uint64_t opened_seq = 0;
  uint64_t last_seq = 0;
  int64_t opened_at_micros = 0;   // recorded time of the opening event
  int64_t updated_at_micros = 0;  // recorded time of the latest event
};

// "INC-42" -> 42; nullopt for anything else.
std::optional<uint64_t> ParseTicketNumber(std::string_view ticket);

const char* SeverityName(proto::Severity severity);
const char* StatusName(TicketStatus status);

// The fold: applies one incident event to `state` (a fresh state for an
// opening event). Events of other types leave it unchanged.
void ApplyIncidentEvent(TicketState* state, const proto::Event& event);

struct TimelineQuery {
  int64_t from_micros = 0;  // the window [from, to)
  int64_t to_micros = 0;
  std::optional<TicketStatus> status;
  std::string system;  // exact match against current systems; empty: any
  std::string text;    // case-insensitive substring of ticket, title, description, systems, engineer
  uint64_t before_ticket_number = 0;  // pagination cursor; 0: from the newest
  size_t limit = 100;
};

struct TimelinePage {
  std::vector<const TicketState*> incidents;  // newest ticket first
  uint64_t next_before_ticket_number = 0;     // 0: no more pages
};

// All tickets, keyed by ticket number, with a timeline index: the start of
// every outage period, the tickets with an ongoing one, and the longest closed
// period seen. A window query then visits only the periods that start less
// than that longest length before the window (plus the ongoing ones), not
// every ticket.
class TicketStore {
 public:
  // Applies one event of any type; incident events update their ticket.
  // Answers the number of the ticket it changed, if any.
  std::optional<uint64_t> Apply(const proto::Event& event);
  void Clear();
  // Puts a saved ticket back (see checkpoint.h).
  void Put(TicketState state);
  const TicketState* FindNumber(uint64_t ticket_number) const {
    const auto found = tickets_.find(ticket_number);
    return found == tickets_.end() ? nullptr : &found->second;
  }

  const TicketState* Find(std::string_view ticket) const;
  size_t size() const { return tickets_.size(); }
  const std::map<uint64_t, TicketState>& all() const { return tickets_; }

  // Incidents with an outage period overlapping the window, filtered, one
  // page. Pointers stay valid until the next Apply or Clear.
  TimelinePage Query(const TimelineQuery& query) const;

 private:
  void Index(uint64_t ticket_number, const TicketState& state);
  void Unindex(uint64_t ticket_number, const TicketState& state);

  std::map<uint64_t, TicketState> tickets_;
  // (start micros, ticket number) of every period, bucketed by the day it
  // starts in: a window query reads a few short contiguous runs instead of
  // chasing one tree node per period.
  std::map<int64_t, std::vector<std::pair<int64_t, uint64_t>>> period_starts_;
  std::set<uint64_t> ongoing_;         // tickets whose latest period is open
  int64_t longest_closed_micros_ = 0;  // never shrinks: only widens the search
};

// True when a period overlaps [from, to). An ongoing period runs on forever;
// an instantaneous one (start == end) counts when its start is in the window.
bool PeriodOverlaps(const Period& period, int64_t from_micros, int64_t to_micros);

}  // namespace ledger::projections
