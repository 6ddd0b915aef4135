#pragma once
// Where work that can take long runs: figures over long windows, folds as of
// an earlier point, verification, backups. Never on the threads that read
// and write sockets, so that a heavy request cannot hold up /healthz or
// anyone else's answer.
//
// A fixed number of threads take tasks from one queue in arrival order. The
// queue holds at most `queue_max` waiting tasks: Submit refuses beyond that
// (the caller answers 503 with Retry-After) rather than letting a burst of
// heavy requests pile up without bound. Each task gets a StopToken that says
// stop when its time budget (`budget`, counted from Submit) runs out or its
// client has gone away (the flag the server raises); a task still queued
// when that happens is answered without running.
//
// Thread safety: Submit may be called from any thread. Stop (and the
// destructor) stops taking tasks, tells the running ones to stop, hands
// those still queued a token that says stop (so that each answers), and
// joins the threads.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/stop.h"

namespace ledger::http {

constexpr size_t kWorkThreadsDefault = 2;
constexpr size_t kWorkQueueMaxDefault = 64;
constexpr std::chrono::milliseconds kWorkBudgetDefault{30'000};

struct WorkPoolOptions {
  size_t threads = kWorkThreadsDefault;
  size_t queue_max = kWorkQueueMaxDefault;
  std::chrono::milliseconds budget = kWorkBudgetDefault;
};

struct WorkPoolStats {
  uint64_t queued = 0;     // waiting now
  uint64_t running = 0;    // running now
  uint64_t completed = 0;  // ran to the end (whatever they answered)
  uint64_t rejected = 0;   // refused by Submit: the queue was full
  uint64_t abandoned = 0;  // stopped or skipped because the client went away
  uint64_t expired = 0;    // stopped or skipped because the budget ran out
};

class WorkPool {
 public:
  // A task runs once, on a pool thread, with the token it must heed, and
  // answers its client whatever happens. It returns false when it stopped
  // early because the token said so (it then answered the token's Reason()).
  using Task = std::function<bool(const StopToken& stop)>;

  explicit WorkPool(const WorkPoolOptions& options);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `task`; `abandoned` (nullable) is the flag raised when nobody
  // waits for its answer any more. False when the queue is full: the task
  // is dropped unrun.
  [[nodiscard]] bool Submit(Task task, std::shared_ptr<const std::atomic<bool>> abandoned);

  void Stop();

  WorkPoolStats stats() const;
  std::chrono::milliseconds budget() const { return options_.budget; }

 private:
  struct Queued {
    Task task;
    StopToken stop;
  };
  void Loop();
  void Count(bool finished, const StopToken& stop);

  const WorkPoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::shared_ptr<std::atomic<bool>> stop_flag_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> running_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> abandoned_{0};
  std::atomic<uint64_t> expired_{0};
};

}  // namespace ledger::http
