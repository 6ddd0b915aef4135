#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

// The number of 1 to kDigitsMax decimal digits after the prefix, or nullopt.
std::optional<uint64_t> DigitsAfterPrefix(std::string_view text, std::string_view prefix = TicketName::kPrefix) {
  if (!text.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = text.substr(prefix.size());
  if (digits.empty() || digits.size() > TicketName::kDigitsMax) return std::nullopt;
  uint64_t number = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<uint64_t>(c - '0');
  }
  return number;
}

}  // namespace

std::optional<TicketName> TicketName::Parse(std::string_view text) {
  if (text.size() > kPrefix.size() && text[kPrefix.size()] == '0') return std::nullopt;
  const std::optional<uint64_t> number = DigitsAfterPrefix(text);
  if (!number) return std::nullopt;
  return TicketName{*number};
}

std::optional<uint64_t> TicketName::CounterNumber(std::string_view text) { return DigitsAfterPrefix(text); }

std::optional<WindowName> WindowName::Parse(std::string_view text) {
  if (text.size() > kPrefix.size() && text[kPrefix.size()] == '0') return std::nullopt;
  const std::optional<uint64_t> number = DigitsAfterPrefix(text, kPrefix);
  if (!number) return std::nullopt;
  return WindowName{*number};
}

std::optional<NumberedName> CounterOf(std::string_view ticket) {
  if (const std::optional<uint64_t> number = TicketName::CounterNumber(ticket)) {
    return NumberedName{.sequence = kIncidentNumbers, .number = *number};
  }
  if (const std::optional<uint64_t> number = DigitsAfterPrefix(ticket, WindowName::kPrefix)) {
    return NumberedName{.sequence = kWindowNumbers, .number = *number};
  }
  return std::nullopt;
}

}  // namespace ledger::projections
