// The writer thread: drains the queue into batches, runs each request's
// Decide in seq order, writes each batch in one synced WriteBatch (group
// commit), then tells the listeners and the callers. See ledger.h for the
// contract and ledger_impl.h for who touches what.

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <rocksdb/write_batch.h>

#include "common/log.h"
#include "common/time.h"
#include "ledger/keys.h"
#include "ledger/ledger_impl.h"
#include "ledger/record.h"

namespace ledger {
namespace {

// After a failed write, how long the writer waits for RocksDB to be ready to
// resume before failing the next batch too.
constexpr int kResumeAttemptsMax = 5;
constexpr std::chrono::milliseconds kResumeRetryDelay{20};

}  // namespace

void Ledger::Impl::StopWriter() {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  queue_changed_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void Ledger::Impl::Enqueue(DecideFn decide, AppendCallback done) {
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

void Ledger::Impl::WriterLoop() {
  // Whether a batch was written since the last quiet spell began.
  bool wrote = false;
  for (;;) {
    std::vector<Request> requests;
    {
      std::unique_lock lock(queue_mutex_);
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (wrote && !queue_changed_.wait_for(lock, options_.idle_flush_after, ready)) {
        lock.unlock();
        FlushIdleMemtable();
        wrote = false;
        continue;
      }
      queue_changed_.wait(lock, ready);
      if (queue_.empty()) return;  // stopping, and everything queued is done
      const size_t count = std::min(queue_.size(), options_.batch_events_max);
      requests.reserve(count);
      for (size_t i = 0; i < count; ++i) {
        requests.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ProcessBatch(requests);
    wrote = true;
  }
}

void Ledger::Impl::FlushIdleMemtable() {
  uint64_t memtable_bytes = 0;
  if (!db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtable_bytes) ||
      memtable_bytes < options_.idle_flush_bytes_min) {
    return;
  }
  rocksdb::FlushOptions flush;
  flush.wait = false;  // RocksDB's flush thread writes the table; a write meanwhile goes to a new memtable
  if (const rocksdb::Status flushed = db_->Flush(flush); !flushed.ok()) {
    LogPrintf("ledger", "flushing the idle memtable failed (it is flushed once full): %s", flushed.ToString().c_str());
  }
}

rocksdb::Status Ledger::Impl::ResumeAfterWriteFailure() {
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

class Ledger::Impl::BatchContext final : public AppendContext {
 public:
  BatchContext(const Impl& ledger, const Head& head, const merkle::Frontier& frontier, int64_t recorded_at_micros)
      : ledger_(ledger), head_(head), frontier_(frontier), recorded_at_micros_(recorded_at_micros) {}

  uint64_t next_seq() const override { return head_.seq + 1; }
  int64_t recorded_at_micros() const override { return recorded_at_micros_; }
  const Sha256Digest& head_hash() const override { return head_.hash; }

  uint64_t AllocateNumber(NumberSequence sequence) override {
    LEDGER_ASSERT(!allocated_ && sequence < kNumberSequences);
    allocated_ = sequence;
    return head_.last_numbers[sequence] + 1;
  }

  Result<std::optional<StoredEvent>> FindSubmission(std::string_view submission_id) const override {
    if (auto found = batch_submissions_.find(std::string(submission_id)); found != batch_submissions_.end()) {
      return std::optional<StoredEvent>(events_[found->second]);
    }
    return ledger_.FindSubmissionInLog(submission_id);
  }

  // Called around each Decide.
  void BeginDecision() { allocated_.reset(); }

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
    if (Status encoded = record::EncodeRecord(event, &stored.record); !encoded) return encoded.error();
    stored.prev_hash = head_.hash;
    stored.hash = Sha256(AsBytes(stored.prev_hash), stored.record);
    stored.event = std::move(event);

    batch->Put(keys::Event(stored.seq), record::EncodeStoredValue(stored.prev_hash, stored.hash, stored.record));
    if (!stored.event.ticket().empty()) batch->Put(keys::TicketEvent(stored.event.ticket(), stored.seq), "");
    if (!stored.event.submission_id().empty()) {
      batch->Put(keys::Submission(stored.event.submission_id()), record::EncodeNumber(stored.seq));
      batch_submissions_[stored.event.submission_id()] = events_.size();
    }
    // The tree nodes this event completes go in the same batch (ledger.h).
    frontier_.Append(merkle::LeafHash(stored.hash), [batch](const merkle::NodeId& id, const Sha256Digest& hash) {
      batch->Put(keys::TreeNode(id.level, id.index), AsBytes(hash));
    });
    head_.seq = stored.seq;
    head_.hash = stored.hash;
    if (allocated_) head_.last_numbers[*allocated_] += 1;
    events_.push_back(std::move(stored));
    return events_.size() - 1;
  }

  const Head& head() const { return head_; }
  const merkle::Frontier& frontier() const { return frontier_; }
  std::vector<StoredEvent>& events() { return events_; }

 private:
  const Impl& ledger_;
  Head head_;
  merkle::Frontier frontier_;
  int64_t recorded_at_micros_;
  std::optional<NumberSequence> allocated_;  // the sequence the current Decide drew from
  std::vector<StoredEvent> events_;
  std::map<std::string, size_t> batch_submissions_;
};

void Ledger::Impl::ProcessBatch(std::vector<Request>& requests) {
  const Head start = head();
  last_recorded_at_micros_ = std::max(NowMicros(), last_recorded_at_micros_);
  BatchContext context(*this, start, frontier_, last_recorded_at_micros_);
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
    batch.Put(keys::kHeadKey, record::EncodeHead(context.head()));
    // Sequence 0's counter is written with every batch (as it always was);
    // the others when the batch drew from them.
    for (NumberSequence sequence = 0; sequence < kNumberSequences; ++sequence) {
      const uint64_t last = context.head().last_numbers[sequence];
      if (sequence == 0 || last != start.last_numbers[sequence]) {
        batch.Put(keys::NumberCounter(sequence), record::EncodeNumber(last));
      }
    }
    batch.Put(keys::kTreeSizeKey, record::EncodeNumber(context.frontier().size()));
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
      frontier_ = context.frontier();
      const TreeHead tree_head{.tree_size = frontier_.size(), .root_hash = frontier_.Root()};
      {
        std::lock_guard lock(head_mutex_);
        head_ = context.head();
        tree_head_ = tree_head;
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

}  // namespace ledger
