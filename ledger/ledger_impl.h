#pragma once
// Ledger's private state, shared by the files that implement it (not part of
// the module's API; include only from ledger/*.cc):
//
//   ledger.cc  the facade, Open and the head record, every read: point reads,
//              the one scan (ForEach, Scan, read-ahead) and Verify, all
//              walking the log through ChainReader (chain_reader.h)
//   writer.cc  the writer thread: the queue, group commit, resume after a
//              failed write
//   import.cc  ImportVerbatim
//
// Stored values are built and checked only by the record codec (record.h).
//
// Thread safety: as Ledger (ledger.h). queue_mutex_ guards the queue and
// stopping_; head_mutex_ guards head_ and stats_; the fields marked "writer
// thread only" are touched by the writer thread alone once Open returned.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <rocksdb/db.h>

#include "ledger/ledger.h"

namespace ledger {

// kIoError "<what>: <RocksDB's status>".
Error IoError(const rocksdb::Status& status, std::string_view what);

class Ledger::Impl {
 public:
  explicit Impl(LedgerOptions options) : options_(std::move(options)) {}
  ~Impl() { StopWriter(); }

  Status Open();

  // writer.cc
  void StopWriter();
  void Enqueue(DecideFn decide, AppendCallback done);

  // ledger.cc: reads
  Result<StoredEvent> ReadEvent(uint64_t seq) const;
  Status ForEach(uint64_t after_seq, size_t limit, const StoredEventVisitor& visit) const;
  Status ForEachReadAhead(uint64_t after_seq, const StoredEventVisitor& visit) const;
  Status Scan(uint64_t after_seq, const ScannedEventVisitor& visit) const;
  Result<std::vector<StoredEvent>> ReadTicket(std::string_view ticket) const;
  Result<std::optional<StoredEvent>> FindSubmissionInLog(std::string_view submission_id) const;
  Result<VerifyReport> Verify(const StopToken& stop) const;
  Status Checkpoint(const std::string& destination) const;

  // import.cc
  Status ImportVerbatim(const std::vector<ImportedEvent>& events, const TicketNumberFn& ticket_number);

  Head head() const {
    std::lock_guard lock(head_mutex_);
    return head_;
  }
  LedgerStats stats() const {
    std::lock_guard lock(head_mutex_);
    return stats_;
  }

  CommitListener commit_listener_;
  BatchFailedListener batch_failed_listener_;
  std::function<void(size_t)> batch_size_observer_;

 private:
  struct Request {
    DecideFn decide;
    AppendCallback done;
  };
  struct ReadAheadBatch;
  class BatchContext;

  Status LoadHead();
  Result<Sha256Digest> HashBefore(uint64_t after_seq) const;
  Status ReadAhead(uint64_t after_seq, bool may_decode,
                   const std::function<Result<Flow>(ReadAheadBatch&)>& consume) const;

  // writer.cc
  void WriterLoop();
  void ProcessBatch(std::vector<Request>& requests);
  rocksdb::Status ResumeAfterWriteFailure();

  LedgerOptions options_;
  std::unique_ptr<rocksdb::DB> db_;

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::thread writer_;

  mutable std::mutex head_mutex_;
  Head head_;
  LedgerStats stats_;
  int64_t last_recorded_at_micros_ = 0;  // writer thread only (after Open)
  bool write_failed_ = false;            // writer thread only
};

}  // namespace ledger
