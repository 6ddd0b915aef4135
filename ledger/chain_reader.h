#pragma once
// The one walk over the log's event keys, shared by every scan (ForEach,
// Scan), their read-ahead thread and Verify. It checks what the keys alone
// can tell: each key's shape, that seqs follow on without a gap from
// `after_seq + 1`, and that the walk reaches `last_seq`. The values it hands
// out are raw: their hash, link and record are the caller's to check with
// the record codec (record.h), in the order that caller reports them.
//
// Thread safety: a ChainReader is used by one thread at a time; several may
// walk the same database at once (RocksDB iterators are independent).
//
// Failure: Next() answers false at the end of the walk and when a key breaks
// the chain; then chain_break() says which break (none at a clean end) and
// io_status() whether RocksDB failed to read (kIoError). Nothing is written,
// so there is nothing to recover: a caller reports the break and stops.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rocksdb {
class DB;
class Iterator;
class Slice;
}  // namespace rocksdb

namespace ledger {

struct ChainReadOptions {
  uint64_t after_seq = 0;  // the walk starts at after_seq + 1
  uint64_t last_seq = 0;   // and must reach this seq (inclusive), and no further
  // A pass over much of the log (folds, verify): leaves the block cache
  // alone and reads ahead on disk.
  bool whole_log_pass = false;
};

// Why a walk ended before last_seq.
struct ChainBreak {
  enum class Kind {
    kMalformedKey,  // a key under the event prefix that is not an event key
    kJump,          // the next key holds found_seq, not seq
    kEndsEarly,     // no key for seq and beyond
  };
  Kind kind = Kind::kEndsEarly;
  uint64_t seq = 0;  // the seq the walk expected
  uint64_t found_seq = 0;
};

// The message a scan stops with at a break: kCorruption "event N: ...".
Error ChainBreakError(const ChainBreak& chain_break);

class ChainReader {
 public:
  ChainReader(const rocksdb::DB& db, const ChainReadOptions& options);
  ~ChainReader();
  ChainReader(const ChainReader&) = delete;
  ChainReader& operator=(const ChainReader&) = delete;

  // Moves to the next event: true when seq() and value() hold it (valid
  // until the next call); false when the walk is over (see the header).
  bool Next();
  uint64_t seq() const { return seq_; }
  std::string_view value() const;

  // After Next() answered false.
  const std::optional<ChainBreak>& chain_break() const { return chain_break_; }
  const Status& io_status() const { return io_status_; }
  // The break as a scan reports it (ChainBreakError), else the I/O error,
  // else success.
  Status Finish() const;

 private:
  std::string upper_;
  std::unique_ptr<rocksdb::Slice> upper_slice_;
  std::unique_ptr<rocksdb::Iterator> iterator_;
  uint64_t last_seq_ = 0;
  uint64_t expected_seq_ = 0;
  uint64_t seq_ = 0;
  bool started_ = false;
  bool over_ = false;
  std::optional<ChainBreak> chain_break_;
  Status io_status_;
};

}  // namespace ledger
