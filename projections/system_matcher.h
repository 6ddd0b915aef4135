#pragma once
// SystemNames::Covers (systems.h) for one entry against the systems of many
// tickets: a filter over a window's incidents resolves each distinct
// spelling once instead of once per ticket. No I/O, no failure.
//
// Thread safety: for one call's use on one thread; `names` must outlive it.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "projections/systems.h"

namespace ledger::projections {

// Answers Covers(entry, system), remembering each spelling's answer.
class SystemMatcher {
 public:
  SystemMatcher(const SystemNames& names, std::string_view entry);
  bool Matches(const std::string& system) const;
  bool MatchesAny(const std::vector<std::string>& systems) const;

 private:
  const SystemNames* names_;
  std::string entry_;
  mutable std::unordered_map<std::string, bool> seen_;
};

}  // namespace ledger::projections
