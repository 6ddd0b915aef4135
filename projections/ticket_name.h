#pragma once
// What tickets are called: an incident "INC-" and its number, a maintenance
// window "MNT-" and its number; the one place that spells them. The ledger
// hands out bare numbers, each kind from a number sequence of its own
// (AppendContext::AllocateNumber), and stores the name as an opaque stream
// name; every module above it formats and parses names here. This is the
// lowest module above the ledger that deals in ticket names (projections
// index tickets by number), so ingest, http and app use it from here.
//
// A plain value: no I/O, no state, callable from any thread. Parsing never
// fails loudly: a text that is not a ticket name gives nullopt.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/record.h"

namespace ledger::projections {

// The ledger's number sequences, by what their numbers name.
inline constexpr NumberSequence kIncidentNumbers = 0;  // INC-n (the sequence tickets have always used)
inline constexpr NumberSequence kWindowNumbers = 1;    // MNT-n

struct TicketName {
  static constexpr std::string_view kPrefix = "INC-";
  // Numbers of more digits could overflow 64 bits; none is ever handed out.
  static constexpr size_t kDigitsMax = 18;

  uint64_t number = 0;

  // "INC-<number>".
  std::string Text() const { return std::string(kPrefix) + std::to_string(number); }
  static std::string Format(uint64_t number) { return TicketName{number}.Text(); }

  // The name as the service writes it: "INC-" and 1 to kDigitsMax digits,
  // without a leading zero. "INC-42" -> 42.
  static std::optional<TicketName> Parse(std::string_view text);

  // The number an imported event's ticket counts for when the import rebuilds
  // the ticket counter: "INC-" and 1 to kDigitsMax digits, leading zeros
  // allowed (the counter has always read exports this way).
  static std::optional<uint64_t> CounterNumber(std::string_view text);
};

// What a maintenance window is called: "MNT-" and its number.
struct WindowName {
  static constexpr std::string_view kPrefix = "MNT-";
  static constexpr size_t kDigitsMax = TicketName::kDigitsMax;

  uint64_t number = 0;

  std::string Text() const { return std::string(kPrefix) + std::to_string(number); }
  static std::string Format(uint64_t number) { return WindowName{number}.Text(); }
  // "MNT-" and 1 to kDigitsMax digits, without a leading zero.
  static std::optional<WindowName> Parse(std::string_view text);
};

// The sequence and number an imported event's ticket counts for when the
// import rebuilds the ledger's counters: INC-n (TicketName::CounterNumber's
// rule) or MNT-n (the same, leading zeros allowed); nullopt for anything
// else.
std::optional<NumberedName> CounterOf(std::string_view ticket);

}  // namespace ledger::projections
