#include "http/work_pool.h"

#include <algorithm>

namespace ledger::http {

WorkPool::WorkPool(const WorkPoolOptions& options) : options_(options) {
  const size_t threads = std::max<size_t>(1, options_.threads);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkPool::~WorkPool() { Stop(); }

void WorkPool::Stop() {
  std::deque<Queued> left;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    left.swap(queue_);
  }
  stop_flag_->store(true);
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  // Tasks never run still answer their clients, with a token that says stop.
  for (Queued& queued : left) (void)queued.task(queued.stop);
}

bool WorkPool::Submit(Task task, std::shared_ptr<const std::atomic<bool>> abandoned) {
  StopToken stop(std::move(abandoned), stop_flag_, StopToken::Clock::now() + options_.budget, options_.budget);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.queue_max) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(Queued{std::move(task), std::move(stop)});
  }
  wake_.notify_one();
  return true;
}

void WorkPool::Loop() {
  for (;;) {
    Queued queued;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      queued = std::move(queue_.front());
      queue_.pop_front();
      running_.fetch_add(1, std::memory_order_relaxed);
    }
    // A task whose client left or whose time ran out while it waited still
    // runs, but only to answer the token's reason at its first check; the
    // tasks check before any real work.
    const bool finished = queued.task(queued.stop);
    Count(finished, queued.stop);
    running_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void WorkPool::Count(bool finished, const StopToken& stop) {
  if (finished) {
    completed_.fetch_add(1, std::memory_order_relaxed);
  } else if (stop.abandoned()) {
    abandoned_.fetch_add(1, std::memory_order_relaxed);
  } else {
    expired_.fetch_add(1, std::memory_order_relaxed);
  }
}

WorkPoolStats WorkPool::stats() const {
  WorkPoolStats stats;
  {
    std::lock_guard lock(mutex_);
    stats.queued = queue_.size();
  }
  stats.running = running_.load(std::memory_order_relaxed);
  stats.completed = completed_.load(std::memory_order_relaxed);
  stats.rejected = rejected_.load(std::memory_order_relaxed);
  stats.abandoned = abandoned_.load(std::memory_order_relaxed);
  stats.expired = expired_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace ledger::http
