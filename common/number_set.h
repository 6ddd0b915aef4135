#pragma once
// A set of 32-bit numbers kept as sorted, disjoint, non-adjacent runs
// [first, last]. Meant for sets that are mostly runs: the recipients told of
// one event, numbered as they subscribed, are usually 1..N with a few gaps,
// so a set of N numbers costs a few runs (8 bytes each) instead of 4 bytes a
// number. A set of scattered numbers costs 8 bytes a number, twice a sorted
// vector's.
//
// Insert and Contains are O(log runs) to find the place; Insert may move the
// runs after it (O(runs)), as a sorted vector would move its numbers.
//
// Thread safety: a plain value; const methods may run concurrently.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ledger {

class NumberSet {
 public:
  struct Run {
    uint32_t first = 0;
    uint32_t last = 0;  // inclusive
    bool operator==(const Run&) const = default;
  };

  bool empty() const { return runs_.empty(); }
  // How many numbers the set holds.
  uint64_t size() const {
    uint64_t count = 0;
    for (const Run& run : runs_) count += uint64_t{run.last} - run.first + 1;
    return count;
  }
  const std::vector<Run>& runs() const { return runs_; }

  // Calls `visit(number)` for every number, in ascending order.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    for (const Run& run : runs_) {
      for (uint64_t number = run.first; number <= run.last; ++number) visit(static_cast<uint32_t>(number));
    }
  }

  bool Contains(uint32_t number) const {
    const auto after = RunAfter(runs_, number);
    return after != runs_.begin() && std::prev(after)->last >= number;
  }

  // Adds `number`; answers false when it was there already.
  bool Insert(uint32_t number) {
    auto after = RunAfter(runs_, number);  // the first run starting above `number`
    if (after != runs_.begin()) {
      Run& before = *std::prev(after);
      if (before.last >= number) return false;
      if (before.last + 1 == number) {  // extends the run before
        before.last = number;
        if (after != runs_.end() && after->first == number + 1) {  // and joins the one after
          before.last = after->last;
          runs_.erase(after);
        }
        return true;
      }
    }
    if (after != runs_.end() && after->first == number + 1) {  // extends the run after downwards
      after->first = number;
      return true;
    }
    runs_.insert(after, Run{number, number});
    return true;
  }

 private:
  // The first run starting above `number`, in `runs` (runs_, const or not).
  template <typename Runs>
  static auto RunAfter(Runs& runs, uint32_t number) -> decltype(runs.begin()) {
    return std::upper_bound(runs.begin(), runs.end(), number,
                            [](uint32_t value, const Run& run) { return value < run.first; });
  }

  std::vector<Run> runs_;
};

}  // namespace ledger
