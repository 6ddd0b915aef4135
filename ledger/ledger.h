#pragma once
// The ledger: an append-only, hash-chained event log in RocksDB.
//
// Writing. Callers do not hand the ledger finished events; they hand it a
// Decide function. A single writer thread drains every pending request into
// one batch (group commit): for each request it calls Decide with an
// AppendContext that knows the seq and the recorded time the event will get,
// can hand out the next ticket number and can look up submission ids (also
// those earlier in the same batch). Decide answers with an event to append,
// with "this repeats event N" (idempotent retry), or with an Error, which is
// passed back and appends nothing. The whole batch is written in one
// WriteBatch with a sync write, then the commit listener sees the new events,
// then every caller's callback runs. Because Decide runs on the writer
// thread, in seq order, a caller's rules see every earlier event, including
// those of the same batch, and nothing races.
//
// Thread safety: every public method may be called from any thread. Decide,
// the listeners and the callbacks run on the writer thread and must not block
// on the ledger (calling Append from them deadlocks); reads are fine.
//
// Tickets. The ledger hands out ticket numbers and stores each event's
// `ticket` as an opaque name; it never knows how tickets are named (that is
// projections/ticket_name.h).
//
// Failure: a failed write fails every request of its batch with kIoError and
// calls the batch-failed listener (whose caller must forget what its Decide
// calls assumed); nothing of the batch is visible afterwards. Reads check
// every record they return (record.h) and answer kCorruption on a mismatch.
// After a failed write the next batch first asks RocksDB to resume: a full
// disk heals by itself once space is free again; after any other I/O error
// RocksDB keeps refusing writes (it cannot vouch for its log) and appends fail
// with kIoError until the ledger is reopened (the service restarted).
// Open reads only the tables it needs (the head, the tree's edge): RocksDB
// opens each other table, with its filter and index, when a read first
// needs it (ledger.cc, kOpenTablesMax), so a table that cannot be opened
// fails that read (kIoError), and the background verify, rather than Open.
//
// The Merkle tree. Beside the chain the ledger keeps RFC 9162's Merkle tree
// over the event hashes (merkle.h; leaf index = seq - 1), so that one event
// can be proven part of the log, and one head an extension of an earlier
// one, with O(log n) hashes instead of the whole log. Its perfect subtrees
// are stored under keys of their own (keys.h) in the same WriteBatch as the
// events that complete them, with the tree size: a crash can therefore never
// fall between an event write and its tree write; after any crash the tree
// covers exactly the events that are durable. The writer keeps the tree's
// right edge (merkle::Frontier) in memory, so an append costs hashing and
// two small Puts on average, and the root of the head needs no read.
//
// Open checks the tree against the head in O(log n) reads: its size must be
// the head's seq, and its last leaf the hash of the head event. A ledger
// whose tree is behind (written before the tree existed, or by a tool that
// dropped it) has it built up to the head first, from the stored events, in
// batches that each write their nodes and the tree size together, so a crash
// there just resumes from the last batch at the next Open (opened read-only,
// the ledger cannot write it: proofs then fail with kUnavailable). A tree
// larger than the log, or a last leaf that is not the head's, fails Open with
// kCorruption. Verify compares every stored node with the tree rebuilt from
// the event hashes.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/result.h"
#include "common/stop.h"
#include "event.pb.h"
#include "ledger/record.h"

namespace rocksdb {
class Env;
}

namespace ledger {

struct LedgerOptions {
  std::string path;         // folder of the RocksDB database; created (mode 0700) if missing
  bool sync_writes = true;  // false only in benchmarks that measure without fsync
  size_t batch_events_max = 1024;
  // Opens without taking RocksDB's lock, so that a running service's ledger
  // can be read (verify, export) by another process; appends then fail with
  // kUnavailable. Sees the log as it was when opened.
  bool read_only = false;
  // False for a short-lived command that reads the log whole while holding
  // its lock (`incident-ledger rebuild`): RocksDB then starts no compaction
  // in the background. One it started (a log left with many level-0 files
  // after heavy ingestion) would take a core from the command's fold and be
  // cancelled, its work thrown away, when the command closes the log; the
  // service compacts at its next start instead.
  bool background_compactions = true;
  // Once the writer has had nothing to write for `idle_flush_after`, it asks
  // RocksDB to flush the memtable to a table in the background when that
  // holds `idle_flush_bytes_min` or more (once per quiet spell). A memtable
  // fills up to RocksDB's write buffer (64 MiB) and stays resident until
  // then: after a burst of appends (a batch of delivery receipts, an import)
  // an idle service would otherwise keep it for as long as it stays idle,
  // and replay its write-ahead log at the next start. A flush that fails is
  // logged and changes nothing (the memtable is flushed once full, as ever).
  std::chrono::milliseconds idle_flush_after{30'000};
  uint64_t idle_flush_bytes_min = uint64_t{8} << 20;
  // The RocksDB environment; nullptr for the default. Tests pass one that
  // fails writes or syncs on demand.
  rocksdb::Env* env = nullptr;
};

class AppendContext {
 public:
  virtual ~AppendContext() = default;
  // The seq and recorded time (UTC microseconds) the decided event will get.
  virtual uint64_t next_seq() const = 0;
  virtual int64_t recorded_at_micros() const = 0;
  // The hash of event next_seq() - 1 (earlier in this batch or in the log):
  // the head the decided event will follow; 32 zero bytes before event 1.
  virtual const Sha256Digest& head_hash() const = 0;
  // Hands out the next number (1, 2, ...) of `sequence` (below
  // kNumberSequences, record.h); what a number is called is the caller's
  // business. Call at most once per Decide; the number is kept only if the
  // decided event is appended.
  virtual uint64_t AllocateNumber(NumberSequence sequence) = 0;
  // The next number of sequence 0, the one tickets have always used.
  uint64_t AllocateTicketNumber() { return AllocateNumber(0); }
  // The event that used this submission id, in the log or earlier in this
  // batch, or nullopt.
  virtual Result<std::optional<StoredEvent>> FindSubmission(std::string_view submission_id) const = 0;
};

struct Decision {
  // Exactly one of the two is set.
  std::optional<proto::Event> event;  // seq and recorded_at are filled in by the ledger
  std::optional<uint64_t> repeat_of_seq;
};

using DecideFn = std::function<Result<Decision>(AppendContext&)>;

struct Appended {
  StoredEvent stored;
  bool repeated = false;  // an idempotent repeat: nothing new was appended
};

using AppendCallback = std::function<void(Result<Appended>)>;
using CommitListener = std::function<void(const std::vector<StoredEvent>&)>;
using BatchFailedListener = std::function<void()>;

// The Merkle tree's head: its size (= the seq of its last event) and root.
struct TreeHead {
  uint64_t tree_size = 0;
  Sha256Digest root_hash{};  // merkle::EmptyRoot() for the empty tree
};

// The outcome of walking the whole chain (see Ledger::Verify).
struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;  // events that passed every check
  uint64_t head_seq = 0;
  Sha256Digest head_hash{};
  // The Merkle root of the events checked, computed from their hashes
  // (when ok: the root of the tree of size head_seq), and whether the
  // stored tree nodes were compared with it (false only when the stored
  // tree is behind the log in a ledger opened read-only).
  Sha256Digest tree_root{};
  bool tree_checked = false;
  uint64_t bad_seq = 0;  // when !ok: the first seq that fails
  std::string problem;   // when !ok: what is wrong with it
};

// One event of an export, as it is re-imported: the stored bytes and the two
// hashes, all checked before anything is written.
struct ImportedEvent {
  std::string record;
  Sha256Digest prev_hash{};
  Sha256Digest hash{};
};

// What a scan's visitor answers for each event: go on to the next one, or
// end the scan there (successfully). A failure ends it with that error.
enum class Flow { kContinue, kStop };

// Which number of which sequence an imported event's ticket stands for, if
// any: the import raises each sequence's counter to the highest. Supplied by
// the caller, since the ledger does not know how tickets are named.
using TicketNumberFn = std::function<std::optional<NumberedName>(std::string_view ticket)>;

struct ScanOptions {
  // Reads the records and checks their hashes and links on a second thread,
  // a few batches ahead of `visit` (which runs on the calling thread): for
  // folds of the whole log, where reading and hashing would otherwise add
  // to the fold's time. Every event `visit` sees has passed every check
  // first, as without it; an error found ahead stops the scan at the event
  // it names.
  bool read_ahead = false;
};

// One event of Ledger::Scan; everything it points to is valid only while
// the visitor runs, and the event is dropped afterwards: the visitor may
// move what it keeps out of it.
struct ScannedEvent {
  uint64_t seq = 0;
  const Sha256Digest* hash = nullptr;
  proto::Event* event = nullptr;
};

using StoredEventVisitor = std::function<Result<Flow>(const StoredEvent&)>;
using ScannedEventVisitor = std::function<Result<Flow>(const ScannedEvent&)>;

struct LedgerStats {
  uint64_t events_appended = 0;
  uint64_t batches_committed = 0;
  uint64_t batches_failed = 0;
  // Bytes of RocksDB's memtables (the one being written and any waiting
  // to be flushed): bounded by RocksDB's write buffer size, however long the
  // log grows; 0 when RocksDB cannot say.
  uint64_t memtable_bytes = 0;
};

class Ledger {
 public:
  // Opens (creating if needed) the ledger at options.path and checks its head
  // record. Fails with kCorruption when the head does not match the log, and
  // kIoError when RocksDB cannot open the folder.
  static Result<std::unique_ptr<Ledger>> Open(const LedgerOptions& options);

  // Finishes every pending request, then stops the writer and closes.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Set before the first append; they run on the writer thread.
  void SetCommitListener(CommitListener listener);
  void SetBatchFailedListener(BatchFailedListener listener);
  // Called with every committed batch's size (events), for metrics.
  void SetBatchSizeObserver(std::function<void(size_t)> observer);

  // Queues a request; `done` runs on the writer thread once it is durable (or
  // failed). After Shutdown() it fails at once with kUnavailable.
  void AppendAsync(DecideFn decide, AppendCallback done);
  // Blocking form of AppendAsync.
  Result<Appended> Append(DecideFn decide);

  // Stops taking new requests and waits until every queued one is done.
  void Shutdown();

  // Events with seq > after_seq, in order, at most `limit`. Checks each
  // record's seq, hash and link to its predecessor.
  Result<std::vector<StoredEvent>> ReadAfter(uint64_t after_seq, size_t limit) const;
  // Calls `visit` for every event after `after_seq` up to the head at the
  // time of the call, in order, with the same checks; stops after the event
  // it answers Flow::kStop for (successfully), and at the first error (its
  // own or the visitor's). `visit` is handed one StoredEvent object,
  // refilled for each event (so that a long scan allocates next to
  // nothing): it must copy what it keeps.
  Status ForEach(uint64_t after_seq, const StoredEventVisitor& visit) const;
  // The same, with options (see ScanOptions).
  Status ForEach(uint64_t after_seq, const ScanOptions& options, const StoredEventVisitor& visit) const;
  // The cheapest walk for a fold of the whole log: like ForEach with
  // read_ahead (every check, in order, on a second thread ahead of `visit`),
  // but the records are decoded there too, into memory recycled batch by
  // batch, and `visit` sees only the seq, the hash and the decoded event.
  Status Scan(uint64_t after_seq, const ScannedEventVisitor& visit) const;
  // One ticket's events in order (empty when the ticket is unknown).
  Result<std::vector<StoredEvent>> ReadTicket(std::string_view ticket) const;
  Result<StoredEvent> ReadEvent(uint64_t seq) const;

  Head head() const;
  LedgerStats stats() const;

  // The Merkle tree (see the top of this file). tree_head() is the tree of
  // every event up to the head, read from memory. The others read O(log n)
  // stored nodes and answer for any tree size up to tree_head().tree_size;
  // they fail with kUnavailable while the stored tree is behind (read-only
  // open of a ledger that has not been opened read-write since it got
  // events without their tree), kCorruption or kIoError when a node cannot
  // be read, and otherwise only on their arguments, naming them:
  //   kInvalidArgument "tree_size" beyond the tree (or 0 for a proof)
  //   kNotFound "seq": no such event (0, or beyond the tree)
  //   kInvalidArgument "tree_size" below seq
  //   kInvalidArgument "first" of 0 or above "second"
  TreeHead tree_head() const;
  Result<Sha256Digest> TreeRoot(uint64_t tree_size) const;
  // RFC 9162 inclusion path of event `seq` (leaf seq - 1) in the tree of
  // `tree_size` events, the sibling nearest the leaf first.
  Result<std::vector<Sha256Digest>> InclusionProof(uint64_t seq, uint64_t tree_size) const;
  // RFC 9162 consistency path from the tree of `first` events to that of
  // `second` (empty when equal).
  Result<std::vector<Sha256Digest>> ConsistencyProof(uint64_t first, uint64_t second) const;

  // Walks every event from seq 1 in constant memory: seq continuity, each
  // record's hash and link, the head record, nothing beyond the head, and
  // every stored Merkle tree node against the tree of the event hashes.
  // Corruption is reported in the VerifyReport; only an I/O failure is an
  // Error, and `stop`'s reason when it says to stop (checked every few
  // hundred events).
  Result<VerifyReport> Verify(const StopToken& stop = StopToken()) const;

  // Writes a consistent RocksDB checkpoint (hard links where possible) to
  // `destination`, which must not exist yet, and makes that folder 0700.
  // Where a backup may go is the caller's to check
  // (CheckBackupDestination in common/file.h).
  Status Checkpoint(const std::string& destination) const;

  // Appends exported events verbatim (same bytes, same hashes), checking
  // that they continue the chain from the current head, that seqs follow on,
  // and that every record decodes; rebuilds the ticket and submission
  // indexes, the Merkle tree and the number counters (each raised to the highest number
  // `ticket_number` finds of it in the batch's tickets). Writes nothing of a batch
  // that fails a check. Must not run while appends are queued. Once written,
  // the batch goes to the commit listener (on the calling thread), as an
  // appended batch does: a follower's read model folds it the same way.
  Status ImportVerbatim(const std::vector<ImportedEvent>& events, const TicketNumberFn& ticket_number);

 private:
  class Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger
