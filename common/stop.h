#pragma once
// When long work should give up: a time budget, and a flag raised by whoever
// waits for the answer when it no longer wants it (the HTTP server raises it
// when the client's connection closes). Work that can take long (figures
// over long windows, folds of history, verification) asks ShouldStop() now
// and then, at points where giving up leaves nothing half-done, and answers
// Reason() when it stops.
//
// A default-constructed token never stops (the CLI, tests).
//
// Thread safety: a token is a value; copies share the flag. ShouldStop may
// be called from any thread while the flag is raised from another.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace ledger {

class StopToken {
 public:
  using Clock = std::chrono::steady_clock;

  StopToken() = default;
  // `abandoned`: raised when nobody waits for the answer any more;
  // `stopping`: raised when the whole service stops. Either may be null.
  StopToken(std::shared_ptr<const std::atomic<bool>> abandoned, std::shared_ptr<const std::atomic<bool>> stopping,
            Clock::time_point deadline, std::chrono::milliseconds budget)
      : abandoned_(std::move(abandoned)),
        stopping_(std::move(stopping)),
        deadline_(deadline),
        budget_(budget),
        has_deadline_(true) {}

  bool abandoned() const { return Raised(abandoned_) || Raised(stopping_); }
  bool expired() const { return has_deadline_ && Clock::now() >= deadline_; }
  // Reads two flags and the clock (tens of nanoseconds): call it every few
  // hundred items of a loop, not for each.
  bool ShouldStop() const { return abandoned() || expired(); }

  // kUnavailable (HTTP 503), naming why.
  Error Reason() const {
    if (Raised(stopping_)) return MakeError(ErrorCode::kUnavailable, "the service is stopping");
    if (Raised(abandoned_)) return MakeError(ErrorCode::kUnavailable, "the request was abandoned by its client");
    return MakeError(ErrorCode::kUnavailable,
                     "the request ran past its time budget of " + std::to_string(budget_.count()) +
                         " ms; ask for a shorter window or try again when the service is less busy");
  }

 private:
  static bool Raised(const std::shared_ptr<const std::atomic<bool>>& flag) {
    return flag != nullptr && flag->load(std::memory_order_relaxed);
  }

  std::shared_ptr<const std::atomic<bool>> abandoned_;
  std::shared_ptr<const std::atomic<bool>> stopping_;
  Clock::time_point deadline_{};
  std::chrono::milliseconds budget_{0};
  bool has_deadline_ = false;
};

// Counts loop items and asks the token every kStride of them.
class StopCheck {
 public:
  static constexpr uint32_t kStride = 256;
  explicit StopCheck(const StopToken& token) : token_(token) {}
  // True when the work should stop (asked on every kStride-th call).
  bool Tick() {
    if (++count_ % kStride != 0) return false;
    return token_.ShouldStop();
  }

 private:
  const StopToken& token_;
  uint32_t count_ = 0;
};

}  // namespace ledger
