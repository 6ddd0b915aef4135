#include "http/answer_cache.h"

namespace ledger::http {

void AnswerCache::MoveTo(uint64_t applied_seq) {
  if (applied_seq <= seq_) return;
  seq_ = applied_seq;
  answers_.clear();
  order_.clear();
  bytes_ = 0;
}

std::shared_ptr<const std::string> AnswerCache::Find(const std::string& key, uint64_t applied_seq) {
  std::lock_guard lock(mutex_);
  MoveTo(applied_seq);
  if (applied_seq == seq_) {
    if (const auto found = answers_.find(key); found != answers_.end()) {
      ++hits_;
      return found->second;
    }
  }
  ++misses_;
  return nullptr;
}

void AnswerCache::Store(const std::string& key, uint64_t applied_seq, std::shared_ptr<const std::string> body) {
  if (body == nullptr || body->size() > kAnswerCacheEntryBytesMax) return;
  std::lock_guard lock(mutex_);
  MoveTo(applied_seq);
  if (applied_seq != seq_ || answers_.contains(key)) return;
  while (!order_.empty() && (answers_.size() >= kAnswerCacheEntriesMax || bytes_ + body->size() > kAnswerCacheBytesMax)) {
    const auto oldest = answers_.find(order_.front());
    bytes_ -= oldest->second->size();
    answers_.erase(oldest);
    order_.pop_front();
  }
  bytes_ += body->size();
  order_.push_back(key);
  answers_.emplace(key, std::move(body));
}

uint64_t AnswerCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

uint64_t AnswerCache::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace ledger::http
