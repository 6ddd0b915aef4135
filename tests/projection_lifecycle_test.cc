// Projection lifecycle: applied event by event, rebuilt from scratch, and
// resumed from a checkpoint taken at a random seq all give the same state
// (seeded; the seed is printed). Plus the checks that force a rebuild.

#include <random>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "ingest/command.h"
#include "ingest/processor.h"
#include "projections/read_model.h"
#include "test_util.h"

namespace ledger::projections {
namespace {

using testing::TempDir;

// Every ticket's saved form, for comparing whole states.
std::map<uint64_t, std::string> Fingerprint(const ReadModel& model) {
  std::map<uint64_t, std::string> fingerprint;
  model.Read([&](const TicketStore& store, uint64_t applied_seq) {
    fingerprint[0] = std::to_string(applied_seq);
    for (const auto& [number, state] : store.all()) {
      std::string bytes;
      LEDGER_ASSERT(ToSnapshot(state).SerializeToString(&bytes));
      fingerprint[number] = bytes;
    }
  });
  return fingerprint;
}

std::unique_ptr<ProjectionCheckpoints> OpenCheckpoints(const std::string& path) {
  Result<std::unique_ptr<ProjectionCheckpoints>> opened = ProjectionCheckpoints::Open(path);
  EXPECT_TRUE(opened);
  return std::move(*opened);
}

// A random but valid submission for the current state of `model`.
std::string RandomSubmission(std::mt19937_64& rng, const ReadModel& model, int step) {
  std::vector<std::pair<std::string, bool>> tickets;  // ticket, open
  model.Read([&](const TicketStore& store, uint64_t) {
    for (const auto& [number, state] : store.all()) tickets.emplace_back(state.ticket, state.status == TicketStatus::kOpen);
  });
  static const char* kSystems[] = {"mail", "vpn", "dns", "db", "wifi"};
  const auto system = [&] { return std::string("\"") + kSystems[rng() % 5] + "\""; };
  const uint64_t choice = rng() % 10;
  if (tickets.empty() || choice < 3) {
    return R"({"action":"create","title":"incident )" + std::to_string(step) + R"(","systems":[)" + system() + "," +
           system() + R"(],"engineer":"Ana","severity":"major"})";
  }
  const auto& [ticket, open] = tickets[rng() % tickets.size()];
  if (choice < 6) {
    return R"({"action":"update","ticket":")" + ticket + R"(","note":"step )" + std::to_string(step) +
           R"(","systems":[)" + system() + "]}";
  }
  return R"({"action":")" + std::string(open ? "close" : "reopen") + R"(","ticket":")" + ticket + "\"}";
}

TEST(ProjectionLifecycle, IncrementalRebuiltAndResumedAgree) {
  const uint64_t seed = std::random_device{}();
  std::printf("projection lifecycle seed: %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger")}));
  auto incremental_checkpoints = OpenCheckpoints(dir.Sub("incremental"));
  ReadModel incremental;
  ASSERT_TRUE(incremental.Open(*log, incremental_checkpoints.get()));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { incremental.Apply(events); });
  auto processor = std::move(*ingest::CommandProcessor::Create(log.get()));

  const int steps = 150 + static_cast<int>(rng() % 100);
  const int resume_at = static_cast<int>(rng() % steps);
  std::unique_ptr<ProjectionCheckpoints> resumed_checkpoints;
  for (int step = 0; step < steps; ++step) {
    if (step == resume_at) {
      // A checkpoint taken here, then left behind while the log grows.
      resumed_checkpoints = OpenCheckpoints(dir.Sub("resumed"));
      ReadModel snapshot;
      ASSERT_TRUE(snapshot.Open(*log, resumed_checkpoints.get()));
    }
    Result<ingest::Command> command = ingest::ParseJsonSubmission(RandomSubmission(rng, incremental, step));
    ASSERT_TRUE(command) << command.error().message;
    Result<ingest::SubmissionResult> submitted = processor->Submit(std::move(*command));
    ASSERT_TRUE(submitted) << submitted.error().message;
  }

  ReadModel rebuilt;
  Result<OpenReport> rebuilt_report = rebuilt.Open(*log, nullptr);
  ASSERT_TRUE(rebuilt_report);
  EXPECT_TRUE(rebuilt_report->rebuilt);

  ReadModel resumed;
  Result<OpenReport> resumed_report = resumed.Open(*log, resumed_checkpoints.get());
  ASSERT_TRUE(resumed_report);
  EXPECT_FALSE(resumed_report->rebuilt) << resumed_report->reason;
  EXPECT_EQ(resumed_report->replayed_events, log->head().seq - resumed_report->resumed_seq);

  // The incremental model's own checkpoint, reopened, needs no replay.
  ReadModel reopened;
  Result<OpenReport> reopened_report = reopened.Open(*log, incremental_checkpoints.get());
  ASSERT_TRUE(reopened_report);
  EXPECT_FALSE(reopened_report->rebuilt) << reopened_report->reason;
  EXPECT_EQ(reopened_report->replayed_events, 0u);

  const auto expected = Fingerprint(incremental);
  EXPECT_GT(expected.size(), 10u);
  EXPECT_EQ(Fingerprint(rebuilt), expected);
  EXPECT_EQ(Fingerprint(resumed), expected);
  EXPECT_EQ(Fingerprint(reopened), expected);
}

class CheckpointChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(*Ledger::Open(LedgerOptions{.path = dir_.Sub("ledger")}));
    auto processor = std::move(*ingest::CommandProcessor::Create(log_.get()));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(processor->Submit(
          *ingest::ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"],"engineer":"e"})")));
    }
    auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
    ReadModel model;
    ASSERT_TRUE(model.Open(*log_, checkpoints.get()));
  }

  void Poke(const std::string& key, const std::string& value) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Sub("projections"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }

  OpenReport Reopen() {
    auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
    ReadModel model;
    Result<OpenReport> report = model.Open(*log_, checkpoints.get());
    EXPECT_TRUE(report);
    size_t tickets = 0;
    model.Read([&](const TicketStore& store, uint64_t) { tickets = store.size(); });
    EXPECT_EQ(tickets, 3u);
    return *report;
  }

  TempDir dir_;
  std::unique_ptr<Ledger> log_;
};

TEST_F(CheckpointChecks, ResumesWhenSound) {
  const OpenReport report = Reopen();
  EXPECT_FALSE(report.rebuilt) << report.reason;
  EXPECT_EQ(report.resumed_seq, 3u);
}

TEST_F(CheckpointChecks, VersionChangeRebuilds) {
  Poke("mversion", "0");
  const OpenReport report = Reopen();
  EXPECT_TRUE(report.rebuilt);
  EXPECT_NE(report.reason.find("version"), std::string::npos) << report.reason;
  EXPECT_FALSE(Reopen().rebuilt);  // and the rebuild was saved
}

TEST_F(CheckpointChecks, UndecodableTicketRebuilds) {
  std::string key = "k";
  AppendBigEndian64(&key, 2);
  Poke(key, "\xff\xff not a snapshot");
  const OpenReport report = Reopen();
  EXPECT_TRUE(report.rebuilt);
  EXPECT_NE(report.reason.find("decode"), std::string::npos) << report.reason;
}

TEST_F(CheckpointChecks, CheckpointOfAnotherHistoryRebuilds) {
  std::string applied;
  AppendBigEndian64(&applied, 3);
  applied.append(32, '\x07');
  Poke("mapplied_seq", applied);
  const OpenReport report = Reopen();
  EXPECT_TRUE(report.rebuilt);
  EXPECT_NE(report.reason.find("different ledger"), std::string::npos) << report.reason;
}

}  // namespace
}  // namespace ledger::projections
