#include <atomic>
#include <functional>
#include <future>
#include <set>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "test_util.h"

namespace ledger {
namespace {

using testing::TempDir;

std::unique_ptr<Ledger> OpenLedger(const std::string& path) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = path});
  EXPECT_TRUE(opened) << (opened ? "" : opened.error().message);
  return opened ? std::move(*opened) : nullptr;
}

// A Decide that opens a new stream (ticket) with the given submission id.
DecideFn NewTicket(std::string submission_id = {}, std::string digest = "d") {
  return [submission_id, digest](AppendContext& context) -> Result<Decision> {
    if (!submission_id.empty()) {
      Result<std::optional<StoredEvent>> found = context.FindSubmission(submission_id);
      if (!found) return found.error();
      if (found->has_value()) {
        if ((*found)->event.request_digest() != digest) return MakeError(ErrorCode::kConflict, "reused", "submission_id");
        return Decision{.event = {}, .repeat_of_seq = (*found)->seq};
      }
    }
    proto::Event event;
    event.set_ticket("INC-" + std::to_string(context.AllocateTicketNumber()));  // naming is the caller's
    event.set_type(proto::INCIDENT_OPENED);
    event.set_submission_id(submission_id);
    event.set_request_digest(digest);
    event.set_version(1);
    event.mutable_incident()->set_title("t");
    return Decision{.event = event, .repeat_of_seq = {}};
  };
}

DecideFn OnTicket(std::string ticket) {
  return [ticket](AppendContext&) -> Result<Decision> {
    proto::Event event;
    event.set_ticket(ticket);
    event.set_type(proto::INCIDENT_UPDATED);
    event.mutable_incident()->set_note("n");
    return Decision{.event = event, .repeat_of_seq = {}};
  };
}

TEST(Ledger, AppendsChainedEventsFromSeqOne) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->head().seq, 0u);

  Result<Appended> first = log->Append(NewTicket());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->stored.seq, 1u);
  EXPECT_EQ(first->stored.event.ticket(), "INC-1");
  EXPECT_EQ(first->stored.prev_hash, Sha256Digest{});
  EXPECT_EQ(first->stored.hash, Sha256(AsBytes(Sha256Digest{}), first->stored.record));
  EXPECT_GT(first->stored.event.recorded_at_micros(), 0);

  Result<Appended> second = log->Append(OnTicket("INC-1"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->stored.seq, 2u);
  EXPECT_EQ(second->stored.prev_hash, first->stored.hash);
  EXPECT_GE(second->stored.event.recorded_at_micros(), first->stored.event.recorded_at_micros());

  Result<std::vector<StoredEvent>> all = log->ReadAfter(0, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].record, second->stored.record);
  EXPECT_EQ(log->head().seq, 2u);
  EXPECT_EQ(log->head().hash, second->stored.hash);

  Result<std::vector<StoredEvent>> after_one = log->ReadAfter(1, 100);
  ASSERT_TRUE(after_one);
  ASSERT_EQ(after_one->size(), 1u);
  EXPECT_EQ((*after_one)[0].seq, 2u);
  Result<std::vector<StoredEvent>> limited = log->ReadAfter(0, 1);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->size(), 1u);
}

TEST(Ledger, ReadsOneTicketsEvents) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log->Append(NewTicket()));
  ASSERT_TRUE(log->Append(NewTicket()));
  ASSERT_TRUE(log->Append(OnTicket("INC-1")));
  ASSERT_TRUE(log->Append(OnTicket("INC-2")));
  ASSERT_TRUE(log->Append(OnTicket("INC-1")));
  Result<std::vector<StoredEvent>> events = log->ReadTicket("INC-1");
  ASSERT_TRUE(events);
  std::vector<uint64_t> seqs;
  for (const StoredEvent& stored : *events) seqs.push_back(stored.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3, 5}));
  Result<std::vector<StoredEvent>> none = log->ReadTicket("INC-99");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(Ledger, FailedDecisionAppendsNothingAndKeepsTheTicketNumber) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  Result<Appended> refused = log->Append([](AppendContext& context) -> Result<Decision> {
    (void)context.AllocateTicketNumber();
    return MakeError(ErrorCode::kInvalidArgument, "no", "title");
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "title");
  EXPECT_EQ(log->head().seq, 0u);
  Result<Appended> created = log->Append(NewTicket());
  ASSERT_TRUE(created);
  EXPECT_EQ(created->stored.event.ticket(), "INC-1");
}

TEST(Ledger, SurvivesReopenAndContinuesTheSequence) {
  TempDir dir;
  Sha256Digest head_hash;
  {
    auto log = OpenLedger(dir.path());
    ASSERT_TRUE(log->Append(NewTicket()));
    ASSERT_TRUE(log->Append(NewTicket()));
    head_hash = log->head().hash;
  }
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->head().seq, 2u);
  EXPECT_EQ(log->head().hash, head_hash);
  EXPECT_EQ(log->head().last_numbers[0], 2u);
  Result<Appended> third = log->Append(NewTicket());
  ASSERT_TRUE(third);
  EXPECT_EQ(third->stored.seq, 3u);
  EXPECT_EQ(third->stored.event.ticket(), "INC-3");
  EXPECT_EQ(third->stored.prev_hash, head_hash);
}

// Each number sequence counts on its own, survives a reopen, and an import
// raises every sequence's counter to the highest number it finds of it.
TEST(Ledger, NumberSequencesCountApartAndSurviveReopenAndImport) {
  TempDir dir;
  const auto open_in = [](NumberSequence sequence) {
    return [sequence](AppendContext& context) -> Result<Decision> {
      proto::Event event;
      event.set_ticket(std::string(sequence == 0 ? "INC-" : "MNT-") + std::to_string(context.AllocateNumber(sequence)));
      event.set_type(proto::INCIDENT_OPENED);
      event.mutable_incident()->set_title("t");
      return Decision{.event = event, .repeat_of_seq = {}};
    };
  };
  std::vector<std::string> tickets;
  {
    auto log = OpenLedger(dir.path());
    for (const NumberSequence sequence : {0u, 1u, 1u, 0u, 1u}) {
      Result<Appended> appended = log->Append(open_in(sequence));
      ASSERT_TRUE(appended);
      tickets.push_back(appended->stored.event.ticket());
    }
    EXPECT_EQ(tickets, (std::vector<std::string>{"INC-1", "MNT-1", "MNT-2", "INC-2", "MNT-3"}));
    // A refused decision keeps its number in the sequence it drew from.
    ASSERT_FALSE(log->Append([](AppendContext& context) -> Result<Decision> {
      (void)context.AllocateNumber(1);
      return MakeError(ErrorCode::kInvalidArgument, "no", "title");
    }));
  }
  auto log = OpenLedger(dir.path());
  EXPECT_EQ(log->head().last_numbers[0], 2u);
  EXPECT_EQ(log->head().last_numbers[1], 3u);
  Result<Appended> next = log->Append(open_in(1));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->stored.event.ticket(), "MNT-4");

  Result<std::vector<StoredEvent>> events = log->ReadAfter(0, 100);
  ASSERT_TRUE(events);
  std::vector<ImportedEvent> exported;
  for (const StoredEvent& stored : *events) exported.push_back({stored.record, stored.prev_hash, stored.hash});
  TempDir other_dir;
  auto other = OpenLedger(other_dir.path());
  // An import reaches the commit listener as an append does (a follower's
  // read model folds what it copies).
  std::vector<uint64_t> heard;
  other->SetCommitListener([&heard](const std::vector<StoredEvent>& batch) {
    for (const StoredEvent& stored : batch) heard.push_back(stored.seq);
  });
  ASSERT_TRUE(other->ImportVerbatim(exported, [](std::string_view ticket) -> std::optional<NumberedName> {
    const NumberSequence sequence = ticket.starts_with("MNT-") ? 1 : 0;
    return NumberedName{.sequence = sequence, .number = std::stoull(std::string(ticket.substr(4)))};
  }));
  ASSERT_EQ(heard.size(), exported.size());
  for (size_t i = 0; i < heard.size(); ++i) EXPECT_EQ(heard[i], i + 1);
  EXPECT_EQ(other->head().last_numbers[0], 2u);
  EXPECT_EQ(other->head().last_numbers[1], 4u);
  other.reset();
  other = OpenLedger(other_dir.path());
  EXPECT_EQ(other->head().last_numbers[1], 4u);
}

TEST(Ledger, SubmissionIdRepeatsAnswerTheOriginal) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  Result<Appended> first = log->Append(NewTicket("sub-1", "digest-a"));
  ASSERT_TRUE(first);
  Result<Appended> repeat = log->Append(NewTicket("sub-1", "digest-a"));
  ASSERT_TRUE(repeat);
  EXPECT_TRUE(repeat->repeated);
  EXPECT_EQ(repeat->stored.seq, first->stored.seq);
  Result<Appended> reuse = log->Append(NewTicket("sub-1", "digest-b"));
  ASSERT_FALSE(reuse);
  EXPECT_EQ(reuse.error().code, ErrorCode::kConflict);
  EXPECT_EQ(log->head().seq, 1u);
}

TEST(Ledger, ConcurrentAppendsShareSyncsAndStayContiguous) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        if (!log->Append(NewTicket(id, id))) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const uint64_t total = kThreads * kPerThread;
  EXPECT_EQ(log->head().seq, total);
  EXPECT_EQ(log->head().last_numbers[0], total);
  // Group commit: with 16 writers waiting on syncs, batches hold several events.
  EXPECT_LT(log->stats().batches_committed, total);
  std::set<std::string> ids;
  std::set<std::string> tickets;
  uint64_t expected = 1;
  Status walked = log->ForEach(0, [&](const StoredEvent& stored) -> Result<Flow> {
    EXPECT_EQ(stored.seq, expected++);
    ids.insert(stored.event.submission_id());
    tickets.insert(stored.event.ticket());
    return Flow::kContinue;
  });
  ASSERT_TRUE(walked) << walked.error().message;
  EXPECT_EQ(ids.size(), total);
  EXPECT_EQ(tickets.size(), total);
}

TEST(Ledger, DetectsATamperedRecord) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(NewTicket()));
  }
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), keys::Event(2), &value).ok());
    value.back() ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::Event(2), value).ok());
  }
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log);  // the head (event 3) is intact
  Result<std::vector<StoredEvent>> read = log->ReadAfter(0, 10);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kCorruption);
  EXPECT_NE(read.error().message.find("event 2"), std::string::npos) << read.error().message;
  Result<StoredEvent> one = log->ReadEvent(1);
  EXPECT_TRUE(one);
}

// Found by stored_event_fuzz: a record whose hashes check but whose times
// no RFC 3339 text can name (INT64_MIN here) overflowed the timeline index
// and the reports that fold it. An import takes any export whose hashes
// chain, so decoding refuses it, and so does the import.
TEST(Ledger, RefusesARecordHoldingATimeOutOfRange) {
  proto::Event event;
  event.set_seq(1);
  event.set_ticket("INC-1");
  event.set_type(proto::INCIDENT_OPENED);
  event.set_version(1);
  event.mutable_incident()->set_title("t");
  event.mutable_incident()->mutable_started_at()->set_unix_micros(INT64_MIN);
  const Sha256Digest prev_hash{};
  ImportedEvent imported{.record = event.SerializeAsString(), .prev_hash = prev_hash};
  imported.hash = Sha256(AsBytes(prev_hash), imported.record);
  const std::string value = std::string(AsBytes(imported.prev_hash)) + std::string(AsBytes(imported.hash)) + imported.record;

  Result<StoredEvent> decoded = DecodeStoredEvent(1, value);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(decoded.error().message, "event 1: started_at is out of range");

  event.mutable_incident()->mutable_started_at()->set_unix_micros(0);
  event.mutable_incident()->mutable_started_at()->set_offset_minutes(24 * 60);  // beyond +23:59
  const std::string record = event.SerializeAsString();
  const Sha256Digest hash = Sha256(AsBytes(prev_hash), record);
  EXPECT_FALSE(DecodeStoredEvent(1, std::string(AsBytes(prev_hash)) + std::string(AsBytes(hash)) + record));

  TempDir dir;
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log);
  Status refused = log->ImportVerbatim({imported}, [](std::string_view) { return std::optional<NumberedName>(); });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("out of range"), std::string::npos) << refused.error().message;
  EXPECT_EQ(log->head().seq, 0u);
}

// Found by stored_event_fuzz: protobuf keeps any number sent for an enum;
// an imported incident event with severity 6 was folded as it was, and the
// saved ticket holding it did not load again at the next start.
TEST(Ledger, RefusesARecordWithAnUnknownSeverity) {
  proto::Event event;
  event.set_seq(1);
  event.set_ticket("INC-1");
  event.set_type(proto::INCIDENT_OPENED);
  event.set_version(1);
  event.mutable_incident()->set_title("t");
  event.mutable_incident()->set_severity(static_cast<proto::Severity>(6));
  const Sha256Digest prev_hash{};
  const std::string record = event.SerializeAsString();
  const Sha256Digest hash = Sha256(AsBytes(prev_hash), record);
  Result<StoredEvent> decoded = DecodeStoredEvent(1, std::string(AsBytes(prev_hash)) + std::string(AsBytes(hash)) + record);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(decoded.error().message, "event 1: severity 6 is not a known value");

  event.mutable_incident()->set_severity(proto::CRITICAL);
  const std::string known = event.SerializeAsString();
  const Sha256Digest known_hash = Sha256(AsBytes(prev_hash), known);
  EXPECT_TRUE(DecodeStoredEvent(1, std::string(AsBytes(prev_hash)) + std::string(AsBytes(known_hash)) + known));
}

TEST(Ledger, DetectsAGapInTheLog) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(NewTicket()));
  }
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), keys::Event(2)).ok());
  }
  auto log = OpenLedger(dir.path());
  Result<std::vector<StoredEvent>> read = log->ReadAfter(0, 10);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kCorruption);
  EXPECT_NE(read.error().message.find("event 2"), std::string::npos) << read.error().message;
}

TEST(Ledger, RefusesToOpenWhenTheHeadDoesNotMatch) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(log->Append(NewTicket()));
  }
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), keys::Event(2), &value).ok());
    value[40] ^= 0x01;  // inside the stored hash
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::Event(2), value).ok());
  }
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir.path()});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kCorruption);
}

TEST(Ledger, ShutdownRefusesNewAppends) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log->Append(NewTicket()));
  log->Shutdown();
  Result<Appended> late = log->Append(NewTicket());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(log->head().seq, 1u);
}

// The writer flushes a memtable that holds enough once it has had nothing to
// write for a while, so that an idle service does not keep it resident.
TEST(Ledger, AnIdleWriterFlushesItsMemtable) {
  TempDir dir;
  constexpr int kEvents = 300;
  const auto appended_memtable = [](const std::string& path, uint64_t flush_bytes_min) {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = path,
                                                                        .sync_writes = false,
                                                                        .idle_flush_after = std::chrono::milliseconds(50),
                                                                        .idle_flush_bytes_min = flush_bytes_min});
    EXPECT_TRUE(opened);
    for (int i = 0; i < kEvents; ++i) EXPECT_TRUE((*opened)->Append(NewTicket()));
    return std::move(*opened);
  };
  // Above the threshold: flushed a moment after the last write.
  {
    auto log = appended_memtable(dir.path() + "/flushed", 1);
    const uint64_t written = log->stats().memtable_bytes;
    uint64_t now = written;
    for (int wait = 0; wait < 500 && now * 2 >= written; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      now = log->stats().memtable_bytes;
    }
    EXPECT_LT(now * 2, written) << "the memtable was not flushed";
    // The flushed events read back, and the writer goes on.
    EXPECT_EQ(log->head().seq, uint64_t{kEvents});
    ASSERT_TRUE(log->ReadEvent(1));
    ASSERT_TRUE(log->Append(NewTicket()));
  }
  // Below it: kept, however long the writer waits.
  {
    auto log = appended_memtable(dir.path() + "/kept", uint64_t{1} << 30);
    const uint64_t written = log->stats().memtable_bytes;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_GE(log->stats().memtable_bytes, written);
  }
}

// -- walks that read ahead on a second thread ----------------------------------

// Enough events for several read-ahead batches.
constexpr uint64_t kWalkEvents = 1500;

std::unique_ptr<Ledger> LedgerWithEvents(const std::string& path, uint64_t count) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = path, .sync_writes = false});
  EXPECT_TRUE(opened);
  std::vector<std::future<Result<Appended>>> pending;
  for (uint64_t i = 0; i < count; ++i) {
    auto promise = std::make_shared<std::promise<Result<Appended>>>();
    pending.push_back(promise->get_future());
    (*opened)->AppendAsync(NewTicket(), [promise](Result<Appended> appended) { promise->set_value(std::move(appended)); });
  }
  for (auto& future : pending) EXPECT_TRUE(future.get());
  return std::move(*opened);
}

// (seq, hash, record) of everything each walk hands out after `after_seq`.
struct Walked {
  std::vector<std::tuple<uint64_t, Sha256Digest, std::string>> events;
  Status status;
};

Walked WalkForEach(const Ledger& log, uint64_t after_seq, const ScanOptions& options) {
  Walked walked;
  walked.status = log.ForEach(after_seq, options, [&](const StoredEvent& stored) -> Result<Flow> {
    walked.events.emplace_back(stored.seq, stored.hash, stored.event.SerializeAsString());
    return Flow::kContinue;
  });
  return walked;
}

Walked WalkScan(const Ledger& log, uint64_t after_seq) {
  Walked walked;
  walked.status = log.Scan(after_seq, [&](const ScannedEvent& scanned) -> Result<Flow> {
    walked.events.emplace_back(scanned.seq, *scanned.hash, scanned.event->SerializeAsString());
    return Flow::kContinue;
  });
  return walked;
}

TEST(LedgerWalks, ReadAheadAndScanHandOutWhatForEachDoes) {
  TempDir dir;
  auto log = LedgerWithEvents(dir.path(), kWalkEvents);
  for (const uint64_t after : {uint64_t{0}, uint64_t{700}, kWalkEvents - 1, kWalkEvents}) {
    SCOPED_TRACE("after " + std::to_string(after));
    const Walked plain = WalkForEach(*log, after, ScanOptions{});
    ASSERT_TRUE(plain.status);
    EXPECT_EQ(plain.events.size(), kWalkEvents - after);
    const Walked ahead = WalkForEach(*log, after, ScanOptions{.read_ahead = true});
    ASSERT_TRUE(ahead.status) << ahead.status.error().message;
    EXPECT_EQ(ahead.events, plain.events);
    const Walked scanned = WalkScan(*log, after);
    ASSERT_TRUE(scanned.status) << scanned.status.error().message;
    EXPECT_EQ(scanned.events, plain.events);
  }
}

TEST(LedgerWalks, VisitorStopEndsEveryWalkThereSuccessfully) {
  TempDir dir;
  auto log = LedgerWithEvents(dir.path(), kWalkEvents);
  // 700 lies in the second read-ahead batch; the last event ends the log.
  for (const uint64_t stop_at : {uint64_t{1}, uint64_t{700}, kWalkEvents}) {
    SCOPED_TRACE("stop at " + std::to_string(stop_at));
    for (const bool read_ahead : {false, true}) {
      uint64_t last_seen = 0;
      Status walked = log->ForEach(0, ScanOptions{.read_ahead = read_ahead}, [&](const StoredEvent& stored) -> Result<Flow> {
        last_seen = stored.seq;
        return stored.seq == stop_at ? Flow::kStop : Flow::kContinue;
      });
      ASSERT_TRUE(walked) << walked.error().message;
      EXPECT_EQ(last_seen, stop_at);
    }
    uint64_t last_scanned = 0;
    Status scanned = log->Scan(0, [&](const ScannedEvent& event) -> Result<Flow> {
      last_scanned = event.seq;
      return event.seq == stop_at ? Flow::kStop : Flow::kContinue;
    });
    ASSERT_TRUE(scanned) << scanned.error().message;
    EXPECT_EQ(last_scanned, stop_at);
  }
  // A visitor's error still ends the walk with that error.
  Status failed = log->ForEach(0, [](const StoredEvent&) -> Result<Flow> {
    return MakeError(ErrorCode::kIoError, "visitor failed");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "visitor failed");
}

// Replaces event `seq`'s stored value (the ledger must be closed).
void RewriteEvent(const std::string& path, uint64_t seq, const std::function<void(std::string*)>& change) {
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), keys::Event(seq), &value).ok());
  change(&value);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::Event(seq), value).ok());
}

// Every walk stops at the first bad event with the same error, having
// handed out exactly the events before it.
void ExpectEveryWalkStopsAt(const Ledger& log, uint64_t bad_seq, const std::string& problem) {
  for (const bool scan : {false, true}) {
    for (const bool read_ahead : {false, true}) {
      if (scan && !read_ahead) continue;
      SCOPED_TRACE(scan ? "Scan" : read_ahead ? "ForEach, read ahead" : "ForEach");
      const Walked walked = scan ? WalkScan(log, 0) : WalkForEach(log, 0, ScanOptions{.read_ahead = read_ahead});
      ASSERT_FALSE(walked.status);
      EXPECT_EQ(walked.status.error().code, ErrorCode::kCorruption);
      EXPECT_EQ(walked.status.error().message, "event " + std::to_string(bad_seq) + ": " + problem);
      EXPECT_EQ(walked.events.size(), bad_seq - 1);
    }
  }
}

TEST(LedgerWalks, StopAtATamperedRecord) {
  TempDir dir;
  LedgerWithEvents(dir.path(), kWalkEvents).reset();
  RewriteEvent(dir.path(), 1100, [](std::string* value) { value->back() ^= 0x01; });
  auto log = OpenLedger(dir.path());
  ExpectEveryWalkStopsAt(*log, 1100, "hash does not match SHA-256(prev_hash || record)");
}

TEST(LedgerWalks, StopAtABrokenLink) {
  TempDir dir;
  LedgerWithEvents(dir.path(), kWalkEvents).reset();
  // A record that hashes right but does not chain from its predecessor.
  RewriteEvent(dir.path(), 1030, [](std::string* value) {
    (*value)[0] ^= 0x01;
    const Sha256Digest hash = Sha256(value->substr(0, 32), value->substr(64));
    value->replace(32, 32, AsBytes(hash));
  });
  auto log = OpenLedger(dir.path());
  ExpectEveryWalkStopsAt(*log, 1030, "prev_hash does not match the previous event's hash");
}

TEST(LedgerWalks, StopAtARecordThatDoesNotDecode) {
  TempDir dir;
  LedgerWithEvents(dir.path(), kWalkEvents).reset();
  // Hashes right, but the record is not an Event: reported as such.
  RewriteEvent(dir.path(), 513, [](std::string* value) {
    const std::string record = "\xff\xff\xff not protobuf";
    *value = value->substr(0, 32) + std::string(AsBytes(Sha256(value->substr(0, 32), record))) + record;
  });
  auto log = OpenLedger(dir.path());
  ExpectEveryWalkStopsAt(*log, 513, "record is not a valid Event");
}

TEST(LedgerWalks, StopAtAGap) {
  TempDir dir;
  LedgerWithEvents(dir.path(), kWalkEvents).reset();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), keys::Event(1024)).ok());
  }
  auto log = OpenLedger(dir.path());
  ExpectEveryWalkStopsAt(*log, 1024, "missing: the log jumps to 1025");
}

}  // namespace
}  // namespace ledger

// Storage that fails every write or sync while `failing` is set, as a full or
// broken disk would.
namespace ledger {
namespace {

class FaultyFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* failing, bool no_space)
      : FSWritableFileOwnerWrapper(std::move(file)), failing_(failing), no_space_(no_space) {}
  rocksdb::IOStatus Injected() const {
    return no_space_ ? rocksdb::IOStatus::NoSpace("injected: no space left") : rocksdb::IOStatus::IOError("injected: write failed");
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
    if (failing_->load()) return Injected();
    return FSWritableFileOwnerWrapper::Append(data, options, debug);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* debug) override {
    if (failing_->load()) return Injected();
    return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* debug) override {
    if (failing_->load()) return rocksdb::IOStatus::IOError("injected: sync failed");
    return FSWritableFileOwnerWrapper::Sync(options, debug);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* debug) override {
    if (failing_->load()) return rocksdb::IOStatus::IOError("injected: fsync failed");
    return FSWritableFileOwnerWrapper::Fsync(options, debug);
  }

 private:
  const std::atomic<bool>* failing_;
  bool no_space_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultyFileSystem(bool no_space) : FileSystemWrapper(rocksdb::FileSystem::Default()), no_space_(no_space) {}
  const char* Name() const override { return "FaultyFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, result, debug);
    if (status.ok()) *result = std::make_unique<FaultyFile>(std::move(*result), &failing, no_space_);
    return status;
  }
  std::atomic<bool> failing{false};

 private:
  bool no_space_;
};

class StorageFaults : public ::testing::TestWithParam<bool> {
 protected:
  void ReopenAndAppend(const std::string& path, rocksdb::Env* env) {
    Result<std::unique_ptr<Ledger>> reopened = Ledger::Open(LedgerOptions{.path = path, .env = env});
    ASSERT_TRUE(reopened) << reopened.error().message;
    Result<Appended> appended = (*reopened)->Append(NewTicket("second"));
    ASSERT_TRUE(appended) << appended.error().message;
    EXPECT_EQ(appended->stored.seq, 2u);
    Result<VerifyReport> report = (*reopened)->Verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok) << report->problem;
  }
};

// A broken disk (I/O errors) and a full one (no space): refused appends leave
// nothing behind, and the ledger takes appends again once the storage works.
TEST_P(StorageFaults, AFailedWriteAppendsNothingAndTheLedgerHealsWhenStorageDoes) {
  TempDir dir;
  auto file_system = std::make_shared<FaultyFileSystem>(GetParam());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir.path(), .env = env.get()});
    ASSERT_TRUE(opened) << opened.error().message;
    Ledger& log = **opened;
    int failed_batches = 0;
    log.SetBatchFailedListener([&failed_batches] { ++failed_batches; });
    ASSERT_TRUE(log.Append(NewTicket("first")));

    file_system->failing = true;
    Result<Appended> refused = log.Append(NewTicket("second"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kIoError);
    EXPECT_EQ(failed_batches, 1);
    EXPECT_EQ(log.head().seq, 1u);
    Result<Appended> still_refused = log.Append(NewTicket("third"));
    ASSERT_FALSE(still_refused);
    EXPECT_EQ(log.head().seq, 1u);

    file_system->failing = false;
    if (!GetParam()) {
      // After an I/O error RocksDB refuses writes until reopened.
      Result<Appended> after_error = log.Append(NewTicket("second"));
      ASSERT_FALSE(after_error);
      EXPECT_EQ(after_error.error().code, ErrorCode::kIoError);
      EXPECT_EQ(log.head().seq, 1u);
      opened->reset();  // the service restarts
      return ReopenAndAppend(dir.path(), env.get());
    }
    // A full disk: RocksDB may need a moment to see the space come back.
    Result<Appended> healed = log.Append(NewTicket("second"));
    for (int attempt = 0; !healed && attempt < 300; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      healed = log.Append(NewTicket("second"));
    }
    ASSERT_TRUE(healed) << healed.error().message;
    EXPECT_EQ(healed->stored.seq, 2u);
    EXPECT_EQ(healed->stored.event.ticket(), "INC-2");  // the refused creates kept no number
    Result<std::vector<StoredEvent>> all = log.ReadAfter(0, 10);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 2u);
  }
  // Nothing half-written survives a restart either.
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->head().seq, 2u);
  Result<VerifyReport> report = log->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 2u);
}

INSTANTIATE_TEST_SUITE_P(Ledger, StorageFaults, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) { return param_info.param ? "DiskFull" : "IoError"; });

}  // namespace
}  // namespace ledger
