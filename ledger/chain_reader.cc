#include "ledger/chain_reader.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "ledger/keys.h"
#include "ledger/record.h"

namespace ledger {
namespace {

// How far RocksDB reads ahead on disk during a whole-log pass.
constexpr size_t kWholeLogReadaheadBytes = 2 << 20;

}  // namespace

Error ChainBreakError(const ChainBreak& chain_break) {
  switch (chain_break.kind) {
    case ChainBreak::Kind::kMalformedKey: return record::Corruption(chain_break.seq, "malformed event key");
    case ChainBreak::Kind::kJump:
      return record::Corruption(chain_break.seq, "missing: the log jumps to " + std::to_string(chain_break.found_seq));
    case ChainBreak::Kind::kEndsEarly: return record::Corruption(chain_break.seq, "missing: the log ends early");
  }
  LEDGER_ASSERT(false);
}

ChainReader::ChainReader(const rocksdb::DB& db, const ChainReadOptions& options)
    : upper_(keys::Event(options.last_seq + 1)),
      upper_slice_(std::make_unique<rocksdb::Slice>(upper_)),
      last_seq_(options.last_seq),
      expected_seq_(options.after_seq + 1) {
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = upper_slice_.get();
  if (options.whole_log_pass) {
    read_options.fill_cache = false;  // one pass over the whole log would only churn the cache
    read_options.readahead_size = kWholeLogReadaheadBytes;
  }
  // NewIterator is not const in RocksDB's API, though reading changes nothing.
  iterator_.reset(const_cast<rocksdb::DB&>(db).NewIterator(read_options));
}

ChainReader::~ChainReader() = default;

bool ChainReader::Next() {
  if (over_) return false;
  if (!started_) {
    iterator_->Seek(keys::Event(expected_seq_));
    started_ = true;
  } else {
    ++expected_seq_;
    iterator_->Next();
  }
  if (iterator_->Valid()) {
    const std::string_view key(iterator_->key().data(), iterator_->key().size());
    if (!keys::IsEventKey(key)) {
      chain_break_ = ChainBreak{.kind = ChainBreak::Kind::kMalformedKey, .seq = expected_seq_, .found_seq = 0};
    } else if (const uint64_t seq = keys::EventSeq(key); seq != expected_seq_) {
      chain_break_ = ChainBreak{.kind = ChainBreak::Kind::kJump, .seq = expected_seq_, .found_seq = seq};
    } else {
      seq_ = seq;
      return true;
    }
    over_ = true;
    return false;
  }
  over_ = true;
  if (!iterator_->status().ok()) {
    io_status_ = MakeError(ErrorCode::kIoError, "reading the log: " + iterator_->status().ToString());
  } else if (expected_seq_ != last_seq_ + 1) {
    chain_break_ = ChainBreak{.kind = ChainBreak::Kind::kEndsEarly, .seq = expected_seq_, .found_seq = 0};
  }
  return false;
}

std::string_view ChainReader::value() const {
  return std::string_view(iterator_->value().data(), iterator_->value().size());
}

Status ChainReader::Finish() const {
  if (chain_break_) return ChainBreakError(*chain_break_);
  return io_status_;
}

}  // namespace ledger
