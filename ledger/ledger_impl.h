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
//   tree.cc    the Merkle tree: loading and catching it up at Open, its
//              stored nodes as a merkle::NodeSource, the proofs, and the
//              check of every stored node that Verify runs
//
// Stored values are built and checked only by the record codec (record.h).
//
// Thread safety: as Ledger (ledger.h). queue_mutex_ guards the queue and
// stopping_; head_mutex_ guards head_, tree_head_ and stats_; the fields marked "writer
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
#include "ledger/merkle.h"

namespace ledger {

// kIoError "<what>: <RocksDB's status>".
Error IoError(const rocksdb::Status& status, std::string_view what);

// The stored Merkle tree nodes of `db` (keys.h), as merkle.h reads them.
// A node that is missing or not 32 bytes is kCorruption.
class StoredTreeNodes final : public merkle::NodeSource {
 public:
  explicit StoredTreeNodes(rocksdb::DB& db) : db_(db) {}
  Result<Sha256Digest> Node(const merkle::NodeId& id) const override;

 private:
  rocksdb::DB& db_;
};

// Rebuilds the tree from event hashes handed to it in seq order and compares
// every node each one completes with the stored node (when `compare`), one
// RocksDB iterator per level walking that level's keys in order: constant
// memory, sequential reads. Used by Verify.
class StoredTreeCheck {
 public:
  StoredTreeCheck(const rocksdb::DB& db, bool compare);
  ~StoredTreeCheck();
  StoredTreeCheck(const StoredTreeCheck&) = delete;
  StoredTreeCheck& operator=(const StoredTreeCheck&) = delete;

  // Adds event `seq`'s leaf. Answers what is wrong with the first stored
  // node it completes that differs from the rebuilt one (or is missing),
  // else nullopt; kIoError when RocksDB fails to read.
  Result<std::optional<std::string>> Append(uint64_t seq, const Sha256Digest& event_hash);
  Sha256Digest Root() const { return frontier_.Root(); }

 private:
  const rocksdb::DB& db_;
  bool compare_;
  merkle::Frontier frontier_;
  std::vector<std::unique_ptr<rocksdb::Iterator>> levels_;  // created as the tree grows
};

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

  // tree.cc
  Status LoadTree();
  Result<Sha256Digest> TreeRoot(uint64_t tree_size) const;
  Result<std::vector<Sha256Digest>> InclusionProof(uint64_t seq, uint64_t tree_size) const;
  Result<std::vector<Sha256Digest>> ConsistencyProof(uint64_t first, uint64_t second) const;

  Head head() const {
    std::lock_guard lock(head_mutex_);
    return head_;
  }
  TreeHead tree_head() const {
    std::lock_guard lock(head_mutex_);
    return tree_head_;
  }
  LedgerStats stats() const {
    LedgerStats stats;
    {
      std::lock_guard lock(head_mutex_);
      stats = stats_;
    }
    uint64_t memtable_bytes = 0;
    if (db_ != nullptr && db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtable_bytes)) {
      stats.memtable_bytes = memtable_bytes;
    }
    return stats;
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

  // tree.cc
  Status CatchUpTree(uint64_t tree_size, uint64_t head_seq);
  // kUnavailable while the tree is behind; kInvalidArgument "tree_size"
  // beyond the tree.
  Status CheckTreeSize(uint64_t tree_size, std::string_view field) const;

  // writer.cc
  void WriterLoop();
  // LedgerOptions::idle_flush_after: flushes the memtable once the writer has
  // been idle that long, if it holds idle_flush_bytes_min or more.
  void FlushIdleMemtable();
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
  TreeHead tree_head_;  // always the tree of head_'s events (unless tree_behind_)
  LedgerStats stats_;
  // The right edge of the tree of every durable event: writer thread only
  // (after Open); a batch works on a copy and keeps it only once written.
  merkle::Frontier frontier_;
  // Opened read-only with a stored tree behind the log (set by Open only):
  // proofs answer kUnavailable, Verify compares no stored nodes.
  bool tree_behind_ = false;
  int64_t last_recorded_at_micros_ = 0;  // writer thread only (after Open)
  bool write_failed_ = false;            // writer thread only
};

}  // namespace ledger
