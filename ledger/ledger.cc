// The Ledger facade, Open and the head record, and every read: point reads,
// the one scan (ForEach, Scan and their read-ahead) and Verify. Each walk of
// the log goes through ChainReader (chain_reader.h) and checks values with
// the record codec (record.h). The writer is in writer.cc, the import in
// import.cc.

#include "ledger/ledger.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <google/protobuf/arena.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include "ledger/chain_reader.h"
#include "ledger/keys.h"
#include "ledger/ledger_impl.h"
#include "ledger/record.h"

namespace ledger {
namespace {

// Bloom filters of the ledger's tables (bits per key; ~1% false positives)
// and the share of the memtable given to its own filter.
constexpr double kBloomBitsPerKey = 10;
constexpr double kMemtableBloomRatio = 0.02;

// Level 1's size and the size of the tables compactions write (RocksDB's
// defaults: 256 MiB and 64 MiB). A flushed table holds the newest events
// and, after them in key order, the keys of the tree nodes, the submission
// index and the ticket index (keys.h): its key range covers every index
// table in level 1, so each compaction from level 0 rewrites all of them.
// With the defaults that rewrite grew with the ledger until level 1 filled
// (~2.8M submissions), in ever longer bursts that took a core from the
// service. A 64 MiB level 1 bounds it; the index moves on to level 2 one
// 16 MiB table at a time, and event tables, which overlap nothing below,
// move down without being rewritten (bench/analysis.md, "Sustained durable
// submissions").
constexpr uint64_t kLevel1Bytes = uint64_t{64} << 20;
constexpr uint64_t kTableBytes = uint64_t{16} << 20;

// How many table files RocksDB keeps open (RocksDB's default, -1, is all of
// them, each opened at start with its filter and index read in: ~190 tables
// and 130 MB of filters and indexes at 10M events, a quarter of a start).
// A finite number opens a table when it is first read; this one is never
// reached in practice (each open table holds a file descriptor, as with
// -1), so no table is closed again.
constexpr int kOpenTablesMax = 1 << 16;

// Read-ahead scans hand the folding thread batches of this many raw values,
// with at most this many batches read but not yet folded (enough to ride out
// the folding thread's stalls on fresh memory, ~8,000 events).
constexpr size_t kReadAheadBatchEvents = 512;
constexpr size_t kReadAheadBatches = 16;
// The reader decodes a batch itself when this many are already waiting for
// the folding thread (see ReadAhead).
constexpr size_t kDecodeAheadBacklog = 2;
// Each batch decodes into an arena starting with a block this big: enough
// for a batch of typical events, so that decoding rarely asks malloc for a
// block (each such large request makes glibc consolidate its free lists).
constexpr size_t kReadAheadArenaBytes = 2 << 20;

}  // namespace

Error IoError(const rocksdb::Status& status, std::string_view what) {
  return MakeError(ErrorCode::kIoError, std::string(what) + ": " + status.ToString());
}

Status Ledger::Impl::Open() {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.paranoid_checks = true;
  if (options_.env != nullptr) db_options.env = options_.env;
  // The writer resumes RocksDB itself after a failed write (see
  // ResumeAfterWriteFailure): RocksDB's own background retries would keep
  // Resume() busy for seconds after the storage is back.
  db_options.max_bgerror_resume_count = 0;
  db_options.disable_auto_compactions = !options_.background_compactions;
  // Every submission with a submission_id looks its key up, and nearly
  // always finds nothing: Bloom filters, in the tables and in the
  // memtable, answer "not here" without searching them.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  db_options.memtable_whole_key_filtering = true;
  db_options.memtable_prefix_bloom_size_ratio = kMemtableBloomRatio;
  db_options.max_open_files = kOpenTablesMax;
  db_options.max_bytes_for_level_base = kLevel1Bytes;
  db_options.target_file_size_base = kTableBytes;
  // A new ledger folder is private to the service's user (0700): the log
  // holds subscribers' addresses. RocksDB would make it with the umask's
  // mode. An existing folder keeps the mode its owner gave it.
  if (!options_.read_only && options_.env == nullptr) {
    std::error_code error;
    if (std::filesystem::create_directory(options_.path, error)) {
      std::filesystem::permissions(options_.path, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, error);
    }
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened;
  if (options_.read_only) {
    db_options.create_if_missing = false;
    opened = rocksdb::DB::OpenForReadOnly(db_options, options_.path, &raw);
  } else {
    opened = rocksdb::DB::Open(db_options, options_.path, &raw);
  }
  if (!opened.ok()) return IoError(opened, "cannot open ledger at " + options_.path);
  db_.reset(raw);
  if (Status loaded = LoadHead(); !loaded) return loaded;
  if (Status tree = LoadTree(); !tree) return tree;
  if (options_.read_only) {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;  // refuse appends
    return {};
  }
  writer_ = std::thread([this] { WriterLoop(); });
  return {};
}

Status Ledger::Impl::LoadHead() {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::kFormatKey, &value);
  if (status.ok() && value != keys::kFormatVersion) {
    return MakeError(ErrorCode::kCorruption,
                     "ledger format " + value + " is not the supported " + std::string(keys::kFormatVersion));
  }
  if (!status.ok() && !status.IsNotFound()) return IoError(status, "reading the format version");
  status = db_->Get(rocksdb::ReadOptions(), keys::kHeadKey, &value);
  if (status.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions()));
    iterator->Seek(std::string(1, keys::kEventPrefix));
    if (iterator->Valid() && iterator->key().starts_with(std::string(1, keys::kEventPrefix))) {
      return MakeError(ErrorCode::kCorruption, "the ledger holds events but no head record");
    }
    if (options_.read_only) return {};
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    status = db_->Put(write_options, keys::kFormatKey, keys::kFormatVersion);
    if (!status.ok()) return IoError(status, "writing the format version");
    return {};
  }
  if (!status.ok()) return IoError(status, "reading the head");
  Head loaded;
  if (Status decoded = record::DecodeHead(value, &loaded); !decoded) return decoded;
  if (loaded.seq > 0) {
    Result<StoredEvent> last = ReadEvent(loaded.seq);
    if (!last) return MakeError(ErrorCode::kCorruption, "head event: " + last.error().message);
    if (last->hash != loaded.hash) return record::Corruption(loaded.seq, "hash differs from the head record");
    last_recorded_at_micros_ = last->event.recorded_at_micros();
  }
  std::string beyond;
  status = db_->Get(rocksdb::ReadOptions(), keys::Event(loaded.seq + 1), &beyond);
  if (!status.IsNotFound()) return record::Corruption(loaded.seq + 1, "exists beyond the head record");
  for (NumberSequence sequence = 0; sequence < kNumberSequences; ++sequence) {
    const std::string what = sequence == 0 ? "ticket counter" : "number counter " + std::to_string(sequence);
    status = db_->Get(rocksdb::ReadOptions(), keys::NumberCounter(sequence), &value);
    if (status.ok()) {
      Result<uint64_t> counter = record::DecodeNumber(value, what);
      if (!counter) return counter.error();
      loaded.last_numbers[sequence] = *counter;
    } else if (!status.IsNotFound()) {
      return IoError(status, "reading the " + what);
    }
  }
  head_ = loaded;
  return {};
}

Result<StoredEvent> Ledger::Impl::ReadEvent(uint64_t seq) const {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::Event(seq), &value);
  if (status.IsNotFound()) return MakeError(ErrorCode::kNotFound, "no event " + std::to_string(seq));
  if (!status.ok()) return IoError(status, "reading event " + std::to_string(seq));
  return DecodeStoredEvent(seq, value);
}

Result<Sha256Digest> Ledger::Impl::HashBefore(uint64_t after_seq) const {
  if (after_seq == 0) return Sha256Digest{};
  Result<StoredEvent> previous = ReadEvent(after_seq);
  if (!previous) return previous.error();
  return previous->hash;
}

Status Ledger::Impl::ForEach(uint64_t after_seq, size_t limit, const StoredEventVisitor& visit) const {
  const Head at_start = head();
  if (after_seq >= at_start.seq) return {};
  Result<Sha256Digest> before = HashBefore(after_seq);
  if (!before) return before.error();
  record::LinkChecker links(*before);
  const uint64_t last_seq = std::min<uint64_t>(at_start.seq, after_seq + std::min<uint64_t>(limit, at_start.seq));
  ChainReader reader(*db_, ChainReadOptions{.after_seq = after_seq, .last_seq = last_seq, .whole_log_pass = false});
  StoredEvent stored;  // refilled for every event
  while (reader.Next()) {
    const uint64_t seq = reader.seq();
    const std::string_view value = reader.value();
    if (Status checked = record::CheckStoredValue(seq, value); !checked) return checked;
    if (Status filled = record::FillStoredEvent(seq, value, &stored); !filled) return filled;
    if (Status linked = links.Link(seq, value); !linked) return linked;
    Result<Flow> flow = visit(stored);
    if (!flow) return flow.error();
    if (*flow == Flow::kStop) return {};
  }
  return reader.Finish();
}

// A batch of raw stored values handed from the reader thread to the folding
// thread, maybe with their records decoded (`decoded`), into an arena that
// the next use of the batch recycles.
struct Ledger::Impl::ReadAheadBatch {
  ReadAheadBatch() {
    google::protobuf::ArenaOptions options;
    options.initial_block = arena_block.get();
    options.initial_block_size = kReadAheadArenaBytes;
    options.start_block_size = kReadAheadArenaBytes / 4;  // a batch that overflows grows in few, large steps
    options.max_block_size = kReadAheadArenaBytes;
    arena = std::make_unique<google::protobuf::Arena>(options);
  }
  uint64_t first_seq = 0;
  std::string bytes;
  std::vector<size_t> ends;              // end offset of each value in `bytes`
  bool decoded = false;                  // the reader decoded the records: `events`
  std::vector<proto::Event*> events;     // one per value, on `arena` (null: too short)
  std::optional<Error> error;            // the reader stopped here: after these values
  bool error_value_included = false;     // ...or at the last of them, once its hash is checked
  bool last = false;
  std::unique_ptr<char[]> arena_block = std::make_unique_for_overwrite<char[]>(kReadAheadArenaBytes);
  std::unique_ptr<google::protobuf::Arena> arena;
};

// The walk of ForEach, split in two: a reader thread walks the keys
// (ChainReader) and copies the values into batches; the calling thread hands
// each full batch to `consume` in order, which checks each value's hash and
// link (see ForEachValue) before using it. An error either side stops both
// at the first event that has it; so does `consume` answering Flow::kStop,
// successfully.
//
// With `may_decode`, the reader also decodes a batch's records whenever the
// folding thread is ahead of it, i.e. kDecodeAheadBacklog batches or more
// are waiting for it; `consume` decodes the others itself. Which side is the
// slower one depends on the fold and on what else runs on the machine, so
// the work goes to whichever thread has time.
Status Ledger::Impl::ReadAhead(uint64_t after_seq, bool may_decode,
                               const std::function<Result<Flow>(ReadAheadBatch&)>& consume) const {
  const Head at_start = head();
  if (after_seq >= at_start.seq) return {};
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::unique_ptr<ReadAheadBatch>> ready;
  std::vector<std::unique_ptr<ReadAheadBatch>> spare;
  bool stop = false;
  for (size_t i = 0; i < kReadAheadBatches; ++i) spare.push_back(std::make_unique<ReadAheadBatch>());

  std::thread reader_thread([&, after_seq] {
    const auto take_spare = [&]() -> std::unique_ptr<ReadAheadBatch> {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return stop || !spare.empty(); });
      if (stop) return nullptr;
      std::unique_ptr<ReadAheadBatch> batch = std::move(spare.back());
      spare.pop_back();
      const bool backlog = ready.size() >= kDecodeAheadBacklog;
      lock.unlock();
      // What this thread decoded is freed here, where it was allocated:
      // freed on the folding thread, each string went back to this
      // thread's malloc arena under its lock, and the heap of small free
      // chunks that left made malloc stop to consolidate.
      if (batch->decoded) batch->arena->Reset();
      batch->decoded = may_decode && backlog;
      return batch;
    };
    const auto hand_over = [&](std::unique_ptr<ReadAheadBatch> batch) {
      std::lock_guard lock(mutex);
      ready.push_back(std::move(batch));
      changed.notify_all();
    };
    ChainReader reader(*db_, ChainReadOptions{.after_seq = after_seq, .last_seq = at_start.seq, .whole_log_pass = true});
    uint64_t next_seq = after_seq + 1;
    std::unique_ptr<ReadAheadBatch> batch = take_spare();
    if (!batch) return;
    const auto start_batch = [&] {
      batch->first_seq = next_seq;
      batch->bytes.clear();
      batch->ends.clear();
      batch->events.clear();
      batch->error.reset();
      batch->error_value_included = false;
      batch->last = false;
    };
    start_batch();
    bool walked_to_end = true;
    while (reader.Next()) {
      const uint64_t seq = reader.seq();
      const std::string_view value = reader.value();
      if (batch->decoded) {
        // A value too short to hold its hashes, or whose record does not
        // decode, still goes to the folding thread, which checks its hash
        // first (and reports a mismatch before this).
        std::optional<Error> undecodable;
        proto::Event* event = nullptr;
        if (value.size() >= keys::kEventValueHeaderBytes) {
          auto* parsed = google::protobuf::Arena::CreateMessage<proto::Event>(batch->arena.get());
          if (Status decoded = record::ParseRecord(seq, record::RecordOf(value), parsed); !decoded) {
            undecodable = decoded.error();
          }
          event = parsed;
        }
        batch->bytes.append(value);
        batch->ends.push_back(batch->bytes.size());
        batch->events.push_back(event);
        if (undecodable) {
          batch->error = std::move(undecodable);
          batch->error_value_included = true;
          walked_to_end = false;
          break;
        }
      } else {
        batch->bytes.append(value);
        batch->ends.push_back(batch->bytes.size());
      }
      ++next_seq;
      if (batch->ends.size() == kReadAheadBatchEvents) {
        hand_over(std::move(batch));
        batch = take_spare();
        if (!batch) return;
        start_batch();
      }
    }
    if (walked_to_end) {
      if (Status finished = reader.Finish(); !finished) batch->error = finished.error();
    }
    batch->last = true;
    hand_over(std::move(batch));
  });

  Result<Flow> result = Flow::kContinue;
  for (bool done = false; !done;) {
    std::unique_ptr<ReadAheadBatch> batch;
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return !ready.empty(); });
      batch = std::move(ready.front());
      ready.pop_front();
    }
    result = consume(*batch);
    // What this thread decoded it frees; the reader frees its own.
    if (!batch->decoded) batch->arena->Reset();
    if (result && *result == Flow::kContinue && batch->error) result = *batch->error;
    done = !result || *result == Flow::kStop || batch->last;
    std::lock_guard lock(mutex);
    spare.push_back(std::move(batch));
    if (done) stop = true;
    changed.notify_all();
  }
  reader_thread.join();
  if (!result) return result.error();
  return {};
}

namespace {

// Visits the values of one read-ahead batch in order, each checked (hash,
// then link) first; the last value of a batch that stopped on it is checked
// but not visited.
template <class Batch>
Result<Flow> ForEachValue(const Batch& batch, record::LinkChecker* links,
                          const std::function<Result<Flow>(size_t index, std::string_view value)>& visit) {
  size_t begin = 0;
  for (size_t i = 0; i < batch.ends.size(); ++i) {
    const std::string_view value(batch.bytes.data() + begin, batch.ends[i] - begin);
    begin = batch.ends[i];
    const uint64_t seq = batch.first_seq + i;
    if (Status checked = record::CheckStoredValue(seq, value); !checked) return checked.error();
    if (Status linked = links->Link(seq, value); !linked) return linked.error();
    if (batch.error_value_included && i + 1 == batch.ends.size()) break;
    Result<Flow> flow = visit(i, value);
    if (!flow || *flow == Flow::kStop) return flow;
  }
  return Flow::kContinue;
}

}  // namespace

Status Ledger::Impl::ForEachReadAhead(uint64_t after_seq, const StoredEventVisitor& visit) const {
  Result<Sha256Digest> before = HashBefore(after_seq);
  if (!before) return before.error();
  record::LinkChecker links(*before);
  StoredEvent stored;  // refilled for every event
  return ReadAhead(after_seq, false, [&](ReadAheadBatch& batch) -> Result<Flow> {
    return ForEachValue(batch, &links, [&](size_t index, std::string_view value) -> Result<Flow> {
      if (Status filled = record::FillStoredEvent(batch.first_seq + index, value, &stored); !filled) {
        return filled.error();
      }
      return visit(stored);
    });
  });
}

Status Ledger::Impl::Scan(uint64_t after_seq, const ScannedEventVisitor& visit) const {
  Result<Sha256Digest> before = HashBefore(after_seq);
  if (!before) return before.error();
  record::LinkChecker links(*before);
  return ReadAhead(after_seq, true, [&](ReadAheadBatch& batch) -> Result<Flow> {
    return ForEachValue(batch, &links, [&](size_t index, std::string_view value) -> Result<Flow> {
      const uint64_t seq = batch.first_seq + index;
      proto::Event* event = batch.decoded ? batch.events[index] : nullptr;
      if (!batch.decoded) {
        auto* parsed = google::protobuf::Arena::CreateMessage<proto::Event>(batch.arena.get());
        if (Status decoded = record::ParseRecord(seq, record::RecordOf(value), parsed); !decoded) {
          return decoded.error();
        }
        event = parsed;
      }
      return visit(ScannedEvent{.seq = seq, .hash = &links.last_hash(), .event = event});
    });
  });
}

Result<std::vector<StoredEvent>> Ledger::Impl::ReadTicket(std::string_view ticket) const {
  std::vector<StoredEvent> events;
  if (ticket.empty() || ticket.size() > keys::kTicketBytesMax) return events;
  const std::string prefix = keys::TicketPrefix(ticket);
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions()));
  for (iterator->Seek(prefix); iterator->Valid() && iterator->key().starts_with(prefix); iterator->Next()) {
    const rocksdb::Slice key = iterator->key();
    if (key.size() != prefix.size() + keys::kSeqBytes) {
      return MakeError(ErrorCode::kCorruption, "malformed ticket index key");
    }
    const uint64_t seq = ReadBigEndian64(std::string_view(key.data() + prefix.size(), keys::kSeqBytes));
    Result<StoredEvent> stored = ReadEvent(seq);
    if (!stored) return stored.error();
    if (stored->event.ticket() != ticket) {
      return record::Corruption(seq, "ticket index points at another ticket's event");
    }
    events.push_back(std::move(*stored));
  }
  if (!iterator->status().ok()) return IoError(iterator->status(), "reading the ticket index");
  return events;
}

Result<std::optional<StoredEvent>> Ledger::Impl::FindSubmissionInLog(std::string_view submission_id) const {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::Submission(submission_id), &value);
  if (status.IsNotFound()) return std::optional<StoredEvent>();
  if (!status.ok()) return IoError(status, "reading the submission index");
  Result<uint64_t> seq = record::DecodeNumber(value, "submission index entry");
  if (!seq) return seq.error();
  Result<StoredEvent> stored = ReadEvent(*seq);
  if (!stored) return stored.error();
  return std::optional<StoredEvent>(std::move(*stored));
}

Result<VerifyReport> Ledger::Impl::Verify(const StopToken& stop) const {
  VerifyReport report;
  const Head at_start = head();
  report.head_seq = at_start.seq;
  report.head_hash = at_start.hash;
  // The stored tree nodes, against the tree of the hashes checked.
  report.tree_checked = !tree_behind_;
  StoredTreeCheck tree(*db_, report.tree_checked);
  const auto fail = [&report, &tree](uint64_t seq, std::string problem) {
    report.tree_root = tree.Root();
    report.ok = false;
    report.bad_seq = seq;
    report.problem = std::move(problem);
    return report;
  };
  // The report names the seq apart from the problem: drop the codec's
  // "event N: " prefix.
  const auto fail_with = [&fail](uint64_t seq, const Error& error) {
    std::string problem = error.message;
    const std::string prefix = "event " + std::to_string(seq) + ": ";
    if (problem.starts_with(prefix)) problem = problem.substr(prefix.size());
    return fail(seq, std::move(problem));
  };
  // Bounded by the head seen at the start, so appends made meanwhile by a
  // running service are not mistaken for events beyond the head.
  ChainReader reader(*db_, ChainReadOptions{.after_seq = 0, .last_seq = at_start.seq, .whole_log_pass = true});
  record::LinkChecker links(Sha256Digest{});
  StoredEvent stored;  // refilled for every event
  StopCheck check(stop);
  while (reader.Next()) {
    if (check.Tick()) return stop.Reason();
    const uint64_t seq = reader.seq();
    const std::string_view value = reader.value();
    Status decoded = record::CheckStoredValue(seq, value);
    if (decoded) decoded = record::FillStoredEvent(seq, value, &stored);
    if (decoded) decoded = links.Link(seq, value);
    if (!decoded) return fail_with(seq, decoded.error());
    Result<std::optional<std::string>> tree_problem = tree.Append(seq, stored.hash);
    if (!tree_problem) return tree_problem.error();
    if (*tree_problem) return fail(seq, **tree_problem);
    report.events_checked += 1;
  }
  if (const std::optional<ChainBreak>& broken = reader.chain_break()) {
    switch (broken->kind) {
      case ChainBreak::Kind::kMalformedKey: return fail(broken->seq, "malformed event key");
      case ChainBreak::Kind::kJump:
        return fail(broken->seq, "missing: the log jumps to seq " + std::to_string(broken->found_seq));
      case ChainBreak::Kind::kEndsEarly:
        return fail(broken->seq,
                    "missing: the log ends before the head record's seq " + std::to_string(at_start.seq));
    }
  }
  if (!reader.io_status()) return reader.io_status().error();
  if (at_start.seq > 0 && links.last_hash() != at_start.hash) {
    return fail(at_start.seq, "hash differs from the head record");
  }
  report.tree_root = tree.Root();
  return report;
}

Status Ledger::Impl::Checkpoint(const std::string& destination) const {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status status = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!status.ok()) return IoError(status, "cannot start a checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  status = checkpoint->CreateCheckpoint(destination);
  if (!status.ok()) return IoError(status, "cannot write a checkpoint to " + destination);
  // A backup holds what the ledger holds (subscribers' addresses among it):
  // its folder is its owner's alone, whatever the umask.
  std::error_code error;
  std::filesystem::permissions(destination, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace,
                               error);
  if (error) return MakeError(ErrorCode::kIoError, "cannot make " + destination + " private (0700): " + error.message());
  return {};
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() { impl_->StopWriter(); }

Result<std::unique_ptr<Ledger>> Ledger::Open(const LedgerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  if (Status opened = impl->Open(); !opened) return opened.error();
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

void Ledger::SetCommitListener(CommitListener listener) { impl_->commit_listener_ = std::move(listener); }
void Ledger::SetBatchFailedListener(BatchFailedListener listener) {
  impl_->batch_failed_listener_ = std::move(listener);
}
void Ledger::SetBatchSizeObserver(std::function<void(size_t)> observer) {
  impl_->batch_size_observer_ = std::move(observer);
}

void Ledger::AppendAsync(DecideFn decide, AppendCallback done) { impl_->Enqueue(std::move(decide), std::move(done)); }

Result<Appended> Ledger::Append(DecideFn decide) {
  std::promise<Result<Appended>> promise;
  std::future<Result<Appended>> future = promise.get_future();
  impl_->Enqueue(std::move(decide), [&promise](Result<Appended> result) { promise.set_value(std::move(result)); });
  return future.get();
}

void Ledger::Shutdown() { impl_->StopWriter(); }

Result<std::vector<StoredEvent>> Ledger::ReadAfter(uint64_t after_seq, size_t limit) const {
  std::vector<StoredEvent> events;
  Status status = impl_->ForEach(after_seq, limit, [&events](const StoredEvent& stored) -> Result<Flow> {
    events.push_back(stored);
    return Flow::kContinue;
  });
  if (!status) return status.error();
  return events;
}

Status Ledger::ForEach(uint64_t after_seq, const StoredEventVisitor& visit) const {
  return impl_->ForEach(after_seq, SIZE_MAX, visit);
}

Status Ledger::ForEach(uint64_t after_seq, const ScanOptions& options, const StoredEventVisitor& visit) const {
  if (options.read_ahead) return impl_->ForEachReadAhead(after_seq, visit);
  return impl_->ForEach(after_seq, SIZE_MAX, visit);
}

Status Ledger::Scan(uint64_t after_seq, const ScannedEventVisitor& visit) const {
  return impl_->Scan(after_seq, visit);
}

Result<std::vector<StoredEvent>> Ledger::ReadTicket(std::string_view ticket) const { return impl_->ReadTicket(ticket); }
Result<StoredEvent> Ledger::ReadEvent(uint64_t seq) const { return impl_->ReadEvent(seq); }
Head Ledger::head() const { return impl_->head(); }
TreeHead Ledger::tree_head() const { return impl_->tree_head(); }
Result<Sha256Digest> Ledger::TreeRoot(uint64_t tree_size) const { return impl_->TreeRoot(tree_size); }
Result<std::vector<Sha256Digest>> Ledger::InclusionProof(uint64_t seq, uint64_t tree_size) const {
  return impl_->InclusionProof(seq, tree_size);
}
Result<std::vector<Sha256Digest>> Ledger::ConsistencyProof(uint64_t first, uint64_t second) const {
  return impl_->ConsistencyProof(first, second);
}
Result<VerifyReport> Ledger::Verify(const StopToken& stop) const { return impl_->Verify(stop); }
Status Ledger::Checkpoint(const std::string& destination) const { return impl_->Checkpoint(destination); }
Status Ledger::ImportVerbatim(const std::vector<ImportedEvent>& events, const TicketNumberFn& ticket_number) {
  return impl_->ImportVerbatim(events, ticket_number);
}
LedgerStats Ledger::stats() const { return impl_->stats(); }

}  // namespace ledger
