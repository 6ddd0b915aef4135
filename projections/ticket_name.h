#pragma once
// What an incident ticket is called: "INC-" and its number, the one place
// that spells it. The ledger hands out bare numbers (AppendContext::
// AllocateTicketNumber) and stores the name as an opaque stream name; every
// module above it formats and parses names here. This is the lowest module
// above the ledger that deals in ticket names (projections index tickets by
// number), so ingest, http and app use it from here.
//
// A plain value: no I/O, no state, callable from any thread. Parsing never
// fails loudly: a text that is not a ticket name gives nullopt.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ledger::projections {

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

}  // namespace ledger::projections
