#pragma once
// Rendered answers of read routes, kept until the read model moves on.
//
// An answer of GET /api/v1/incidents is a pure function of its (resolved)
// parameters and the read model's applied seq: it does not depend on the
// clock. So the bytes rendered once are served again to every request with
// the same key while the applied seq is the same; the first lookup under a
// newer seq drops everything. Bounded by kAnswerCacheEntriesMax and
// kAnswerCacheBytesMax (beyond them, the oldest entries go first).
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ledger::http {

constexpr size_t kAnswerCacheEntriesMax = 512;
constexpr size_t kAnswerCacheBytesMax = 64 * 1024 * 1024;
constexpr size_t kAnswerCacheEntryBytesMax = 4 * 1024 * 1024;

class AnswerCache {
 public:
  // The answer stored under `key` for `applied_seq`; nullptr when none.
  std::shared_ptr<const std::string> Find(const std::string& key, uint64_t applied_seq);
  // Keeps `body` under `key` for `applied_seq` (ignored when the cache has
  // already moved to a newer seq, or the body is over kAnswerCacheEntryBytesMax).
  void Store(const std::string& key, uint64_t applied_seq, std::shared_ptr<const std::string> body);

  uint64_t hits() const;
  uint64_t misses() const;

 private:
  void MoveTo(uint64_t applied_seq);  // with mutex_ held

  mutable std::mutex mutex_;
  uint64_t seq_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> answers_;
  std::deque<std::string> order_;  // keys, oldest first
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace ledger::http
