#include "ledger/ledger.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <google/protobuf/arena.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "common/time.h"
#include "ledger/keys.h"

namespace ledger {
namespace {

// A record larger than this is refused before it is written; requests are
// capped well below it at the HTTP edge.
constexpr size_t kRecordBytesMax = 1 << 20;
constexpr std::string_view kTicketNamePrefix = "INC-";
// After a failed write, how long the writer waits for RocksDB to be ready to
// resume before failing the next batch too.
constexpr int kResumeAttemptsMax = 5;
constexpr std::chrono::milliseconds kResumeRetryDelay{20};
// Bloom filters of the ledger's tables (bits per key; ~1% false positives)
// and the share of the memtable given to its own filter.
constexpr double kBloomBitsPerKey = 10;
constexpr double kMemtableBloomRatio = 0.02;

Error IoError(const rocksdb::Status& status, std::string_view what) {
  return MakeError(ErrorCode::kIoError, std::string(what) + ": " + status.ToString());
}

Error Corruption(uint64_t seq, std::string_view why) {
  return MakeError(ErrorCode::kCorruption, "event " + std::to_string(seq) + ": " + std::string(why));
}

// Every time a record holds must be one RFC 3339 text can name
// (IsRepresentable, common/time.h): the service writes no others, and the
// folds and renderings rely on it. A record whose hash checks may still hold
// others: an import takes any export whose hashes chain.
Status CheckTimes(uint64_t seq, const proto::Event& event) {
  if (!IsRepresentable(Instant{event.recorded_at_micros(), 0})) return Corruption(seq, "recorded_at is out of range");
  if (!event.has_incident()) return {};
  const proto::IncidentPayload& payload = event.incident();
  const auto representable = [](const proto::Timestamp& time) {
    return IsRepresentable(Instant{time.unix_micros(), time.offset_minutes()});
  };
  if (payload.has_started_at() && !representable(payload.started_at())) {
    return Corruption(seq, "started_at is out of range");
  }
  if (payload.has_ended_at() && !representable(payload.ended_at())) return Corruption(seq, "ended_at is out of range");
  return {};
}

// An incident's severity must be one this service knows: protobuf keeps
// whatever number an open enum is sent, the folds would carry it on, and a
// saved ticket holding it would not load again (ticket_codec.h). The service
// writes no others.
Status CheckSeverity(uint64_t seq, const proto::Event& event) {
  if (!event.has_incident() || proto::Severity_IsValid(event.incident().severity())) return {};
  return Corruption(seq, "severity " + std::to_string(event.incident().severity()) + " is not a known value");
}

std::string EncodeHead(const Head& head) {
  std::string value;
  AppendBigEndian64(&value, head.seq);
  value.append(AsBytes(head.hash));
  return value;
}

struct Request {
  DecideFn decide;
  AppendCallback done;
};

}  // namespace

namespace {

// The read check of a stored value (prev_hash | hash | record): its size and
// hash. The link to the predecessor is the caller's to check.
Status CheckStoredValue(uint64_t seq, std::string_view value) {
  if (value.size() < keys::kEventValueHeaderBytes) return Corruption(seq, "stored value too short");
  const std::string_view prev_hash = value.substr(0, keys::kHashBytes);
  const std::string_view hash = value.substr(keys::kHashBytes, keys::kHashBytes);
  if (AsBytes(Sha256(prev_hash, value.substr(keys::kEventValueHeaderBytes))) != hash) {
    return Corruption(seq, "hash does not match SHA-256(prev_hash || record)");
  }
  return {};
}

// Decodes the record read under `seq`'s key into `event`, and checks what
// only the decoded record can tell.
Status ParseRecord(uint64_t seq, std::string_view record, proto::Event* event) {
  if (!event->ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return Corruption(seq, "record is not a valid Event");
  }
  if (event->seq() != seq) return Corruption(seq, "record holds seq " + std::to_string(event->seq()));
  if (Status times = CheckTimes(seq, *event); !times) return times;
  return CheckSeverity(seq, *event);
}

// Fills `stored` (reusing its buffers) from a value that passed
// CheckStoredValue, and decodes its record.
Status FillStoredEvent(uint64_t seq, std::string_view value, StoredEvent* stored) {
  stored->seq = seq;
  std::copy_n(value.begin(), keys::kHashBytes, stored->prev_hash.begin());
  std::copy_n(value.begin() + keys::kHashBytes, keys::kHashBytes, stored->hash.begin());
  stored->record.assign(value.substr(keys::kEventValueHeaderBytes));
  return ParseRecord(seq, stored->record, &stored->event);
}

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
constexpr size_t kScanReadaheadBytes = 2 << 20;

}  // namespace

Result<StoredEvent> DecodeStoredEvent(uint64_t seq, std::string_view value) {
  if (Status checked = CheckStoredValue(seq, value); !checked) return checked.error();
  StoredEvent stored;
  if (Status filled = FillStoredEvent(seq, value, &stored); !filled) return filled.error();
  return stored;
}

class Ledger::Impl {
 public:
  explicit Impl(LedgerOptions options) : options_(std::move(options)) {}

  ~Impl() {
    StopWriter();
  }

  Status Open() {
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    db_options.paranoid_checks = true;
    if (options_.env != nullptr) db_options.env = options_.env;
    // The writer resumes RocksDB itself after a failed write (see
    // ResumeAfterWriteFailure): RocksDB's own background retries would keep
    // Resume() busy for seconds after the storage is back.
    db_options.max_bgerror_resume_count = 0;
    // Every submission with a submission_id looks its key up, and nearly
    // always finds nothing: Bloom filters, in the tables and in the
    // memtable, answer "not here" without searching them.
    rocksdb::BlockBasedTableOptions table_options;
    table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
    db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
    db_options.memtable_whole_key_filtering = true;
    db_options.memtable_prefix_bloom_size_ratio = kMemtableBloomRatio;
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
    if (options_.read_only) {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;  // refuse appends
      return {};
    }
    writer_ = std::thread([this] { WriterLoop(); });
    return {};
  }

  void StopWriter() {
    {
      std::lock_guard lock(queue_mutex_);
      if (stopping_ && !writer_.joinable()) return;
      stopping_ = true;
    }
    queue_changed_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  void Enqueue(DecideFn decide, AppendCallback done) {
    {
      std::lock_guard lock(queue_mutex_);
      if (!stopping_) {
        queue_.push_back(Request{std::move(decide), std::move(done)});
        queue_changed_.notify_one();
        return;
      }
    }
    done(MakeError(ErrorCode::kUnavailable, "the ledger is shutting down"));
  }

  Result<StoredEvent> ReadEvent(uint64_t seq) const {
    std::string value;
    const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::Event(seq), &value);
    if (status.IsNotFound()) return MakeError(ErrorCode::kNotFound, "no event " + std::to_string(seq));
    if (!status.ok()) return IoError(status, "reading event " + std::to_string(seq));
    return DecodeStoredEvent(seq, value);
  }

  Status ForEach(uint64_t after_seq, size_t limit,
                 const std::function<Status(const StoredEvent&)>& visit) const {
    const Head at_start = head();
    if (after_seq >= at_start.seq) return {};
    Sha256Digest previous_hash{};
    if (after_seq > 0) {
      Result<StoredEvent> previous = ReadEvent(after_seq);
      if (!previous) return previous.error();
      previous_hash = previous->hash;
    }
    const uint64_t last_seq = std::min<uint64_t>(at_start.seq, after_seq + std::min<uint64_t>(limit, at_start.seq));
    const std::string upper = keys::Event(last_seq + 1);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options));
    uint64_t expected_seq = after_seq + 1;
    StoredEvent stored;  // refilled for every event
    for (iterator->Seek(keys::Event(expected_seq)); iterator->Valid(); iterator->Next()) {
      const rocksdb::Slice key = iterator->key();
      if (key.size() != 9 || key[0] != keys::kEventPrefix) return Corruption(expected_seq, "malformed event key");
      const uint64_t seq = keys::EventSeq(std::string_view(key.data(), key.size()));
      if (seq != expected_seq) return Corruption(expected_seq, "missing: the log jumps to " + std::to_string(seq));
      const std::string_view value(iterator->value().data(), iterator->value().size());
      if (Status checked = CheckStoredValue(seq, value); !checked) return checked;
      if (Status filled = FillStoredEvent(seq, value, &stored); !filled) return filled;
      if (stored.prev_hash != previous_hash) return Corruption(seq, "prev_hash does not match the previous event's hash");
      previous_hash = stored.hash;
      if (Status visited = visit(stored); !visited) return visited;
      ++expected_seq;
    }
    if (!iterator->status().ok()) return IoError(iterator->status(), "reading the log");
    if (expected_seq != last_seq + 1) return Corruption(expected_seq, "missing: the log ends early");
    return {};
  }

  // A batch of raw stored values handed from the reader thread to the
  // folding thread, maybe with their records decoded (`decoded`), into an
  // arena that the next use of the batch recycles.
  struct ReadAheadBatch {
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

  // The walk of ForEach, split in two: a reader thread walks the keys and
  // checks them, copies the values into batches; the calling thread hands
  // each full batch to `consume` in order, which checks each value's hash
  // and link (see HashChecker) before using it. An error either side stops
  // both at the first event that has it.
  //
  // With `may_decode`, the reader also decodes a batch's records whenever
  // the folding thread is ahead of it, i.e. kDecodeAheadBacklog batches or
  // more are waiting for it; `consume` decodes the others itself. Which
  // side is the slower one depends on the fold and on what else runs on
  // the machine, so the work goes to whichever thread has time.
  Status ReadAhead(uint64_t after_seq, bool may_decode,
                   const std::function<Status(ReadAheadBatch&)>& consume) const {
    const Head at_start = head();
    if (after_seq >= at_start.seq) return {};
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::unique_ptr<ReadAheadBatch>> ready;
    std::vector<std::unique_ptr<ReadAheadBatch>> spare;
    bool stop = false;
    for (size_t i = 0; i < kReadAheadBatches; ++i) spare.push_back(std::make_unique<ReadAheadBatch>());

    std::thread reader([&, after_seq] {
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
      const std::string upper = keys::Event(at_start.seq + 1);
      rocksdb::Slice upper_slice(upper);
      rocksdb::ReadOptions read_options;
      read_options.iterate_upper_bound = &upper_slice;
      read_options.fill_cache = false;  // one pass over the whole log would only churn the cache
      read_options.readahead_size = kScanReadaheadBytes;
      std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options));
      uint64_t expected_seq = after_seq + 1;
      std::unique_ptr<ReadAheadBatch> batch = take_spare();
      if (!batch) return;
      const auto start_batch = [&] {
        batch->first_seq = expected_seq;
        batch->bytes.clear();
        batch->ends.clear();
        batch->events.clear();
        batch->error.reset();
        batch->error_value_included = false;
        batch->last = false;
      };
      start_batch();
      for (iterator->Seek(keys::Event(expected_seq)); iterator->Valid(); iterator->Next()) {
        const rocksdb::Slice key = iterator->key();
        if (key.size() != 9 || key[0] != keys::kEventPrefix) {
          batch->error = Corruption(expected_seq, "malformed event key");
          break;
        }
        const uint64_t seq = keys::EventSeq(std::string_view(key.data(), key.size()));
        if (seq != expected_seq) {
          batch->error = Corruption(expected_seq, "missing: the log jumps to " + std::to_string(seq));
          break;
        }
        const std::string_view value(iterator->value().data(), iterator->value().size());
        if (batch->decoded) {
          // A value too short to hold its hashes, or whose record does not
          // decode, still goes to the folding thread, which checks its hash
          // first (and reports a mismatch before this).
          std::optional<Error> undecodable;
          proto::Event* event = nullptr;
          if (value.size() >= keys::kEventValueHeaderBytes) {
            auto* parsed = google::protobuf::Arena::CreateMessage<proto::Event>(batch->arena.get());
            if (Status decoded = ParseRecord(seq, value.substr(keys::kEventValueHeaderBytes), parsed); !decoded) {
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
            break;
          }
        } else {
          batch->bytes.append(value);
          batch->ends.push_back(batch->bytes.size());
        }
        ++expected_seq;
        if (batch->ends.size() == kReadAheadBatchEvents) {
          hand_over(std::move(batch));
          batch = take_spare();
          if (!batch) return;
          start_batch();
        }
      }
      if (!batch->error && !iterator->status().ok()) batch->error = IoError(iterator->status(), "reading the log");
      if (!batch->error && expected_seq != at_start.seq + 1) {
        batch->error = Corruption(expected_seq, "missing: the log ends early");
      }
      batch->last = true;
      hand_over(std::move(batch));
    });

    Status result;
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
      if (result && batch->error) result = *batch->error;
      done = !result || batch->last;
      std::lock_guard lock(mutex);
      spare.push_back(std::move(batch));
      if (done) stop = true;
      changed.notify_all();
    }
    reader.join();
    return result;
  }

  // Checks values in seq order on the folding side of a ReadAhead: each
  // one's hash, and its link to the one before.
  class HashChecker {
   public:
    explicit HashChecker(const Sha256Digest& previous_hash) : previous_hash_(previous_hash) {}
    Status Check(uint64_t seq, std::string_view value) {
      if (Status checked = CheckStoredValue(seq, value); !checked) return checked;
      if (value.substr(0, keys::kHashBytes) != AsBytes(previous_hash_)) {
        return Corruption(seq, "prev_hash does not match the previous event's hash");
      }
      std::copy_n(value.begin() + keys::kHashBytes, keys::kHashBytes, previous_hash_.begin());
      return {};
    }
    const Sha256Digest& last_hash() const { return previous_hash_; }

   private:
    Sha256Digest previous_hash_;
  };

  Result<Sha256Digest> HashBefore(uint64_t after_seq) const {
    if (after_seq == 0) return Sha256Digest{};
    Result<StoredEvent> previous = ReadEvent(after_seq);
    if (!previous) return previous.error();
    return previous->hash;
  }

  // Visits the values of one batch in order, hash-checked; the last value
  // of a batch that stopped on it is checked but not visited.
  static Status ForEachValue(const ReadAheadBatch& batch, HashChecker* checker,
                             const std::function<Status(size_t index, std::string_view value)>& visit) {
    size_t begin = 0;
    for (size_t i = 0; i < batch.ends.size(); ++i) {
      const std::string_view value(batch.bytes.data() + begin, batch.ends[i] - begin);
      begin = batch.ends[i];
      if (Status checked = checker->Check(batch.first_seq + i, value); !checked) return checked;
      if (batch.error_value_included && i + 1 == batch.ends.size()) break;
      if (Status visited = visit(i, value); !visited) return visited;
    }
    return {};
  }

  Status ForEachReadAhead(uint64_t after_seq, const std::function<Status(const StoredEvent&)>& visit) const {
    Result<Sha256Digest> before = HashBefore(after_seq);
    if (!before) return before.error();
    HashChecker checker(*before);
    StoredEvent stored;  // refilled for every event
    return ReadAhead(after_seq, false, [&](ReadAheadBatch& batch) -> Status {
      return ForEachValue(batch, &checker, [&](size_t index, std::string_view value) -> Status {
        if (Status filled = FillStoredEvent(batch.first_seq + index, value, &stored); !filled) return filled;
        return visit(stored);
      });
    });
  }

  Status Scan(uint64_t after_seq, const std::function<Status(const ScannedEvent&)>& visit) const {
    Result<Sha256Digest> before = HashBefore(after_seq);
    if (!before) return before.error();
    HashChecker checker(*before);
    return ReadAhead(after_seq, true, [&](ReadAheadBatch& batch) -> Status {
      return ForEachValue(batch, &checker, [&](size_t index, std::string_view value) -> Status {
        proto::Event* event = batch.decoded ? batch.events[index] : nullptr;
        if (!batch.decoded) {
          auto* parsed = google::protobuf::Arena::CreateMessage<proto::Event>(batch.arena.get());
          const uint64_t seq = batch.first_seq + index;
          if (Status decoded = ParseRecord(seq, value.substr(keys::kEventValueHeaderBytes), parsed); !decoded) {
            return decoded;
          }
          event = parsed;
        }
        return visit(ScannedEvent{.seq = batch.first_seq + index, .hash = &checker.last_hash(), .event = event});
      });
    });
  }

  Result<std::vector<StoredEvent>> ReadTicket(std::string_view ticket) const {
    std::vector<StoredEvent> events;
    if (ticket.empty() || ticket.size() > keys::kTicketBytesMax) return events;
    const std::string prefix = keys::TicketPrefix(ticket);
    std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions()));
    for (iterator->Seek(prefix); iterator->Valid() && iterator->key().starts_with(prefix); iterator->Next()) {
      const rocksdb::Slice key = iterator->key();
      if (key.size() != prefix.size() + 8) return MakeError(ErrorCode::kCorruption, "malformed ticket index key");
      const uint64_t seq = ReadBigEndian64(std::string_view(key.data() + prefix.size(), 8));
      Result<StoredEvent> stored = ReadEvent(seq);
      if (!stored) return stored.error();
      if (stored->event.ticket() != ticket) return Corruption(seq, "ticket index points at another ticket's event");
      events.push_back(std::move(*stored));
    }
    if (!iterator->status().ok()) return IoError(iterator->status(), "reading the ticket index");
    return events;
  }

  Result<std::optional<StoredEvent>> FindSubmissionInLog(std::string_view submission_id) const {
    std::string value;
    const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::Submission(submission_id), &value);
    if (status.IsNotFound()) return std::optional<StoredEvent>();
    if (!status.ok()) return IoError(status, "reading the submission index");
    if (value.size() != 8) return MakeError(ErrorCode::kCorruption, "malformed submission index entry");
    Result<StoredEvent> stored = ReadEvent(ReadBigEndian64(value));
    if (!stored) return stored.error();
    return std::optional<StoredEvent>(std::move(*stored));
  }

  Head head() const {
    std::lock_guard lock(head_mutex_);
    return head_;
  }

  Result<VerifyReport> Verify(const StopToken& stop) const {
    VerifyReport report;
    const Head at_start = head();
    report.head_seq = at_start.seq;
    report.head_hash = at_start.hash;
    const auto fail = [&report](uint64_t seq, std::string problem) {
      report.ok = false;
      report.bad_seq = seq;
      report.problem = std::move(problem);
      return report;
    };
    // Bounded by the head seen at the start, so appends made meanwhile by a
    // running service are not mistaken for events beyond the head.
    const std::string upper = keys::Event(at_start.seq + 1);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_slice;
    read_options.fill_cache = false;
    read_options.readahead_size = kScanReadaheadBytes;
    std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options));
    Sha256Digest previous_hash{};
    uint64_t expected_seq = 1;
    StoredEvent stored;  // refilled for every event
    StopCheck check(stop);
    for (iterator->Seek(keys::Event(1)); iterator->Valid(); iterator->Next()) {
      if (check.Tick()) return stop.Reason();
      const rocksdb::Slice key = iterator->key();
      if (key.size() != 9 || key[0] != keys::kEventPrefix) return fail(expected_seq, "malformed event key");
      const uint64_t seq = keys::EventSeq(std::string_view(key.data(), key.size()));
      if (seq != expected_seq) return fail(expected_seq, "missing: the log jumps to seq " + std::to_string(seq));
      const std::string_view value(iterator->value().data(), iterator->value().size());
      Status decoded = CheckStoredValue(seq, value);
      if (decoded) decoded = FillStoredEvent(seq, value, &stored);
      if (!decoded) {
        std::string problem = decoded.error().message;
        const std::string prefix = "event " + std::to_string(seq) + ": ";
        if (problem.starts_with(prefix)) problem = problem.substr(prefix.size());
        return fail(seq, problem);
      }
      if (stored.prev_hash != previous_hash) return fail(seq, "prev_hash does not match the previous event's hash");
      previous_hash = stored.hash;
      report.events_checked += 1;
      ++expected_seq;
    }
    if (!iterator->status().ok()) return IoError(iterator->status(), "reading the log");
    if (expected_seq != at_start.seq + 1) {
      return fail(expected_seq, "missing: the log ends before the head record's seq " + std::to_string(at_start.seq));
    }
    if (at_start.seq > 0 && previous_hash != at_start.hash) {
      return fail(at_start.seq, "hash differs from the head record");
    }
    return report;
  }

  Status Checkpoint(const std::string& destination) const {
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status status = rocksdb::Checkpoint::Create(db_.get(), &raw);
    if (!status.ok()) return IoError(status, "cannot start a checkpoint");
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    status = checkpoint->CreateCheckpoint(destination);
    if (!status.ok()) return IoError(status, "cannot write a checkpoint to " + destination);
    return {};
  }

  Status ImportVerbatim(const std::vector<ImportedEvent>& events) {
    Head next = head();
    rocksdb::WriteBatch batch;
    std::map<std::string, uint64_t> batch_submissions;
    for (size_t i = 0; i < events.size(); ++i) {
      const ImportedEvent& imported = events[i];
      const uint64_t seq = next.seq + 1;
      const auto refuse = [seq](std::string why) {
        return MakeError(ErrorCode::kInvalidArgument, "event " + std::to_string(seq) + ": " + why);
      };
      if (imported.prev_hash != next.hash) return refuse("prev_hash does not continue the chain");
      std::string value;
      value.append(AsBytes(imported.prev_hash));
      value.append(AsBytes(imported.hash));
      value.append(imported.record);
      Result<StoredEvent> stored = DecodeStoredEvent(seq, value);
      if (!stored) return refuse(stored.error().message);
      const proto::Event& event = stored->event;
      if (event.ticket().size() > keys::kTicketBytesMax) return refuse("ticket name too long");
      batch.Put(keys::Event(seq), value);
      if (!event.ticket().empty()) batch.Put(keys::TicketEvent(event.ticket(), seq), "");
      if (!event.submission_id().empty()) {
        Result<std::optional<StoredEvent>> existing = FindSubmissionInLog(event.submission_id());
        if (!existing) return existing.error();
        if (existing->has_value() || batch_submissions.contains(event.submission_id())) {
          return refuse("submission_id is used twice");
        }
        batch_submissions[event.submission_id()] = seq;
        std::string seq_bytes;
        AppendBigEndian64(&seq_bytes, seq);
        batch.Put(keys::Submission(event.submission_id()), seq_bytes);
      }
      if (event.ticket().starts_with(kTicketNamePrefix)) {
        const std::string digits = event.ticket().substr(kTicketNamePrefix.size());
        if (!digits.empty() && digits.size() <= 18 &&
            std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          next.last_ticket_number = std::max<uint64_t>(next.last_ticket_number, std::stoull(digits));
        }
      }
      next.seq = seq;
      next.hash = imported.hash;
    }
    if (events.empty()) return {};
    batch.Put(keys::kHeadKey, EncodeHead(next));
    std::string counter;
    AppendBigEndian64(&counter, next.last_ticket_number);
    batch.Put(keys::kTicketCounterKey, counter);
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    const rocksdb::Status written = db_->Write(write_options, &batch);
    if (!written.ok()) return IoError(written, "the import could not be written");
    std::lock_guard lock(head_mutex_);
    head_ = next;
    return {};
  }

  LedgerStats stats() const {
    std::lock_guard lock(head_mutex_);
    return stats_;
  }

  CommitListener commit_listener_;
  BatchFailedListener batch_failed_listener_;
  std::function<void(size_t)> batch_size_observer_;

 private:
  class BatchContext;

  Status LoadHead() {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::kFormatKey, &value);
    if (status.ok() && value != keys::kFormatVersion) {
      return MakeError(ErrorCode::kCorruption, "ledger format " + value + " is not the supported " +
                                                   std::string(keys::kFormatVersion));
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
    if (value.size() != 8 + keys::kHashBytes) return MakeError(ErrorCode::kCorruption, "malformed head record");
    Head loaded;
    loaded.seq = ReadBigEndian64(value);
    std::copy_n(value.begin() + 8, keys::kHashBytes, loaded.hash.begin());
    if (loaded.seq > 0) {
      Result<StoredEvent> last = ReadEvent(loaded.seq);
      if (!last) return MakeError(ErrorCode::kCorruption, "head event: " + last.error().message);
      if (last->hash != loaded.hash) return Corruption(loaded.seq, "hash differs from the head record");
      last_recorded_at_micros_ = last->event.recorded_at_micros();
    }
    std::string beyond;
    status = db_->Get(rocksdb::ReadOptions(), keys::Event(loaded.seq + 1), &beyond);
    if (!status.IsNotFound()) return Corruption(loaded.seq + 1, "exists beyond the head record");
    status = db_->Get(rocksdb::ReadOptions(), keys::kTicketCounterKey, &value);
    if (status.ok()) {
      if (value.size() != 8) return MakeError(ErrorCode::kCorruption, "malformed ticket counter");
      loaded.last_ticket_number = ReadBigEndian64(value);
    } else if (!status.IsNotFound()) {
      return IoError(status, "reading the ticket counter");
    }
    head_ = loaded;
    return {};
  }

  void WriterLoop() {
    for (;;) {
      std::vector<Request> requests;
      {
        std::unique_lock lock(queue_mutex_);
        queue_changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued is done
        const size_t count = std::min(queue_.size(), options_.batch_events_max);
        requests.reserve(count);
        for (size_t i = 0; i < count; ++i) {
          requests.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      ProcessBatch(requests);
    }
  }

  void ProcessBatch(std::vector<Request>& requests);

  rocksdb::Status ResumeAfterWriteFailure() {
    rocksdb::Status status;
    for (int attempt = 0; attempt < kResumeAttemptsMax; ++attempt) {
      status = db_->Resume();
      if (!status.IsBusy()) return status;
      // Busy: RocksDB's own recovery runs (a full disk is watched until space
      // returns); once it succeeds, writes work again without a resume.
      std::this_thread::sleep_for(kResumeRetryDelay);
    }
    return rocksdb::Status::OK();  // let the write itself say whether it works
  }

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

class Ledger::Impl::BatchContext final : public AppendContext {
 public:
  BatchContext(const Impl& ledger, const Head& head, int64_t recorded_at_micros)
      : ledger_(ledger), head_(head), recorded_at_micros_(recorded_at_micros) {}

  uint64_t next_seq() const override { return head_.seq + 1; }
  int64_t recorded_at_micros() const override { return recorded_at_micros_; }

  std::string AllocateTicket() override {
    LEDGER_ASSERT(!allocated_);
    allocated_ = true;
    return std::string(kTicketNamePrefix) + std::to_string(head_.last_ticket_number + 1);
  }

  Result<std::optional<StoredEvent>> FindSubmission(std::string_view submission_id) const override {
    if (auto found = batch_submissions_.find(std::string(submission_id)); found != batch_submissions_.end()) {
      return std::optional<StoredEvent>(events_[found->second]);
    }
    return ledger_.FindSubmissionInLog(submission_id);
  }

  // Called around each Decide.
  void BeginDecision() { allocated_ = false; }
  bool allocated() const { return allocated_; }

  const StoredEvent* FindInBatch(uint64_t seq) const {
    if (events_.empty() || seq < events_.front().seq || seq > events_.back().seq) return nullptr;
    return &events_[seq - events_.front().seq];
  }

  // Turns a decided event into a stored one and adds it to `batch`.
  Result<size_t> Add(proto::Event event, rocksdb::WriteBatch* batch) {
    event.set_seq(next_seq());
    event.set_recorded_at_micros(recorded_at_micros_);
    if (event.ticket().size() > keys::kTicketBytesMax) {
      return InvalidArgument("ticket", "ticket names are at most " + std::to_string(keys::kTicketBytesMax) + " bytes");
    }
    if (!event.submission_id().empty() && batch_submissions_.contains(event.submission_id())) {
      return MakeError(ErrorCode::kConflict, "submission_id is already used in this batch", "submission_id");
    }
    StoredEvent stored;
    stored.seq = event.seq();
    // Deterministic serialization: the same event always gives the same bytes.
    {
      google::protobuf::io::StringOutputStream stream(&stored.record);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      if (!event.SerializeToCodedStream(&coded)) return MakeError(ErrorCode::kInvalidArgument, "event cannot be encoded");
    }
    if (stored.record.size() > kRecordBytesMax) return MakeError(ErrorCode::kTooLarge, "event record too large");
    stored.prev_hash = head_.hash;
    stored.hash = Sha256(AsBytes(stored.prev_hash), stored.record);
    stored.event = std::move(event);

    std::string value;
    value.reserve(keys::kEventValueHeaderBytes + stored.record.size());
    value.append(AsBytes(stored.prev_hash));
    value.append(AsBytes(stored.hash));
    value.append(stored.record);
    batch->Put(keys::Event(stored.seq), value);
    if (!stored.event.ticket().empty()) batch->Put(keys::TicketEvent(stored.event.ticket(), stored.seq), "");
    if (!stored.event.submission_id().empty()) {
      std::string seq_bytes;
      AppendBigEndian64(&seq_bytes, stored.seq);
      batch->Put(keys::Submission(stored.event.submission_id()), seq_bytes);
      batch_submissions_[stored.event.submission_id()] = events_.size();
    }
    head_.seq = stored.seq;
    head_.hash = stored.hash;
    if (allocated_) head_.last_ticket_number += 1;
    events_.push_back(std::move(stored));
    return events_.size() - 1;
  }

  const Head& head() const { return head_; }
  std::vector<StoredEvent>& events() { return events_; }

 private:
  const Impl& ledger_;
  Head head_;
  int64_t recorded_at_micros_;
  bool allocated_ = false;
  std::vector<StoredEvent> events_;
  std::map<std::string, size_t> batch_submissions_;
};

void Ledger::Impl::ProcessBatch(std::vector<Request>& requests) {
  const Head start = head();
  last_recorded_at_micros_ = std::max(NowMicros(), last_recorded_at_micros_);
  BatchContext context(*this, start, last_recorded_at_micros_);
  rocksdb::WriteBatch batch;

  // Per request: the index of its new event, the seq it repeats, or an error.
  struct Outcome {
    std::optional<size_t> new_event;
    std::optional<uint64_t> repeat_of_seq;
    std::optional<Error> error;
  };
  std::vector<Outcome> outcomes(requests.size());
  // Decide may have folded an event into its caller's state that Add then
  // refused; the batch-failed listener tells the caller to start over.
  bool decided_but_dropped = false;
  for (size_t i = 0; i < requests.size(); ++i) {
    context.BeginDecision();
    Result<Decision> decision = MakeError(ErrorCode::kInvalidArgument, "no decision");
    try {
      decision = requests[i].decide(context);
    } catch (const std::exception& exception) {
      decision = MakeError(ErrorCode::kInvalidArgument, std::string("rejected: ") + exception.what());
    }
    if (!decision) {
      outcomes[i].error = decision.error();
    } else if (decision->repeat_of_seq) {
      outcomes[i].repeat_of_seq = decision->repeat_of_seq;
    } else {
      LEDGER_ASSERT(decision->event.has_value());
      Result<size_t> added = context.Add(std::move(*decision->event), &batch);
      if (added) {
        outcomes[i].new_event = *added;
      } else {
        outcomes[i].error = added.error();
        decided_but_dropped = true;
      }
    }
  }

  std::optional<Error> write_error;
  if (!context.events().empty()) {
    batch.Put(keys::kHeadKey, EncodeHead(context.head()));
    std::string counter;
    AppendBigEndian64(&counter, context.head().last_ticket_number);
    batch.Put(keys::kTicketCounterKey, counter);
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_writes;
    rocksdb::Status written;
    if (write_failed_) {
      // A failed write leaves RocksDB refusing writes until it is told to
      // resume (or its own recovery finishes); try that first, so the ledger
      // heals once the storage does.
      written = ResumeAfterWriteFailure();
    }
    if (written.ok()) written = db_->Write(write_options, &batch);
    write_failed_ = !written.ok();
    if (!written.ok()) {
      write_error = IoError(written, "the append could not be made durable");
      {
        std::lock_guard lock(head_mutex_);
        stats_.batches_failed += 1;
      }
      if (batch_failed_listener_) batch_failed_listener_();
    } else {
      {
        std::lock_guard lock(head_mutex_);
        head_ = context.head();
        stats_.events_appended += context.events().size();
        stats_.batches_committed += 1;
      }
      if (batch_size_observer_) batch_size_observer_(context.events().size());
      if (commit_listener_) commit_listener_(context.events());
    }
  }
  if (decided_but_dropped && !write_error && batch_failed_listener_) batch_failed_listener_();

  for (size_t i = 0; i < requests.size(); ++i) {
    Outcome& outcome = outcomes[i];
    if (outcome.error) {
      requests[i].done(*outcome.error);
    } else if (outcome.new_event) {
      if (write_error) {
        requests[i].done(*write_error);
      } else {
        requests[i].done(Appended{context.events()[*outcome.new_event], false});
      }
    } else {
      const uint64_t seq = *outcome.repeat_of_seq;
      if (const StoredEvent* in_batch = context.FindInBatch(seq)) {
        if (write_error) {
          requests[i].done(*write_error);
        } else {
          requests[i].done(Appended{*in_batch, true});
        }
      } else {
        Result<StoredEvent> original = ReadEvent(seq);
        if (original) {
          requests[i].done(Appended{std::move(*original), true});
        } else {
          requests[i].done(original.error());
        }
      }
    }
  }
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
  Status status = impl_->ForEach(after_seq, limit, [&events](const StoredEvent& stored) -> Status {
    events.push_back(stored);
    return {};
  });
  if (!status) return status.error();
  return events;
}

Status Ledger::ForEach(uint64_t after_seq, const std::function<Status(const StoredEvent&)>& visit) const {
  return impl_->ForEach(after_seq, SIZE_MAX, visit);
}

Status Ledger::ForEach(uint64_t after_seq, size_t limit,
                       const std::function<Status(const StoredEvent&)>& visit) const {
  return impl_->ForEach(after_seq, limit, visit);
}

Status Ledger::Scan(uint64_t after_seq, const std::function<Status(const ScannedEvent&)>& visit) const {
  return impl_->Scan(after_seq, visit);
}

Status Ledger::ForEach(uint64_t after_seq, const ScanOptions& options,
                       const std::function<Status(const StoredEvent&)>& visit) const {
  if (options.read_ahead) return impl_->ForEachReadAhead(after_seq, visit);
  return impl_->ForEach(after_seq, SIZE_MAX, visit);
}

Result<std::vector<StoredEvent>> Ledger::ReadTicket(std::string_view ticket) const { return impl_->ReadTicket(ticket); }
Result<StoredEvent> Ledger::ReadEvent(uint64_t seq) const { return impl_->ReadEvent(seq); }
Head Ledger::head() const { return impl_->head(); }
Result<VerifyReport> Ledger::Verify(const StopToken& stop) const { return impl_->Verify(stop); }
Status Ledger::Checkpoint(const std::string& destination) const { return impl_->Checkpoint(destination); }
Status Ledger::ImportVerbatim(const std::vector<ImportedEvent>& events) { return impl_->ImportVerbatim(events); }
LedgerStats Ledger::stats() const { return impl_->stats(); }

}  // namespace ledger
