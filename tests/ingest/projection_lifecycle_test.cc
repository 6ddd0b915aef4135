// Projection lifecycle: applied event by event, rebuilt from scratch, and
// resumed from a checkpoint taken at a random seq all give the same state,
// tickets, maintenance windows and notifications alike (seeded; the seed is
// printed). Plus the
// checks that force a rebuild, the lazily built tickets of a resumed store
// and their fallback to the ledger, and the processors that share the read
// model's state.

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "ingest/command.h"
#include "ingest/maintenance.h"
#include "ingest/processor.h"
#include "ingest/notification_retry.h"
#include "ingest/subscriptions.h"
#include "projections/read_model.h"
#include "projections/ticket_codec.h"
#include "projections/ticket_projection.h"
#include "projections/ticket_name.h"
#include "test_util.h"

namespace ledger::projections {
namespace {

using testing::TempDir;

// The whole state, record by record, for comparing: every ticket in its
// saved form, every notification record, and the applied seq.
using Fingerprint = std::map<std::string, std::string>;

Fingerprint TicketsFingerprint(const TicketStore& store) {
  Fingerprint fingerprint;
  for (const auto& [number, state] : store.all()) {
    std::string bytes;
    EncodeTicket(state, &bytes);
    fingerprint["ticket " + std::to_string(number)] = bytes;
  }
  return fingerprint;
}

Fingerprint NotificationsFingerprint(const NotificationQueue& queue) {
  Fingerprint fingerprint;
  // The subscriptions and counters as saved; every job as a reader sees it,
  // whether in memory or archived once sent (projections/notifications.h);
  // the whole notice of every event a job in flight mails about.
  ForEachNotificationRecord(queue, [&](const std::string& key, const std::string& value) {
    if (key.front() == 'u' || key.front() == 'm') fingerprint[key] = value;
  });
  const Status listed = queue.ForEachJob(JobFilter{}, [&](const Job& job) {
    const std::optional<proto::EventType> type = queue.NoticeType(job.key.seq);
    fingerprint["job " + std::to_string(job.key.seq) + " " + job.key.recipient] =
        EncodeJob(job) + " type " + (type ? std::to_string(*type) : "?");
    return true;
  });
  EXPECT_TRUE(listed);
  for (const std::set<JobKey>* in_flight : {&queue.pending(), &queue.failed()}) {
    for (const JobKey& key : *in_flight) {
      const Notice* notice = queue.FindNotice(key.seq);
      fingerprint["notice " + std::to_string(key.seq)] = notice != nullptr ? EncodeNotice(*notice) : "(none)";
    }
  }
  const QueueCounts counts = queue.counts();
  fingerprint["counts"] = std::to_string(counts.pending) + "/" + std::to_string(counts.sent) + "/" + std::to_string(counts.failed);
  std::string pending;
  for (const JobKey& key : queue.pending()) pending += std::to_string(key.seq) + key.recipient + ";";
  fingerprint["pending"] = pending;
  std::string failed;
  for (const JobKey& key : queue.failed()) failed += std::to_string(key.seq) + key.recipient + ";";
  fingerprint["failed"] = failed;
  return fingerprint;
}

Fingerprint FingerprintOf(const ReadModel& model) {
  Fingerprint fingerprint;
  model.Read([&](const TicketStore& store, uint64_t applied_seq) {
    fingerprint = TicketsFingerprint(store);
    fingerprint["applied_seq"] = std::to_string(applied_seq);
  });
  model.ReadNotifications([&](const NotificationQueue& queue, uint64_t) { fingerprint.merge(NotificationsFingerprint(queue)); });
  model.ReadProjection<MaintenanceProjection>([&](const MaintenanceProjection& projection, uint64_t) {
    for (const auto& [number, window] : projection.store().all()) {
      fingerprint["window " + std::to_string(number)] = EncodeWindow(window);
    }
  });
  return fingerprint;
}

// A random but valid maintenance command for the windows of `model`.
std::string RandomMaintenance(std::mt19937_64& rng, const ReadModel& model, int step) {
  std::vector<std::pair<std::string, MaintenanceStatus>> windows;
  model.ReadProjection<MaintenanceProjection>([&](const MaintenanceProjection& projection, uint64_t) {
    for (const auto& [number, window] : projection.store().all()) windows.emplace_back(window.window, window.status);
  });
  const std::string day = std::to_string(10 + step % 18);
  if (windows.empty() || rng() % 3 == 0) {
    return R"({"action":"schedule","title":"window )" + std::to_string(step) + R"(","systems":["mail","db"],)"
           R"("starts_at":"2026-11-)" + day + R"(T01:00:00Z","ends_at":"2026-11-)" + day + R"(T03:00:00+01:00"})";
  }
  const auto& [window, status] = windows[rng() % windows.size()];
  switch (status) {
    case MaintenanceStatus::kScheduled:
      return R"({"action":")" + std::string(rng() % 3 == 0 ? "cancel" : "start") + R"(","window":")" + window + "\"}";
    case MaintenanceStatus::kInProgress:
      return R"({"action":"end","window":")" + window + "\"}";
    default:
      return R"({"action":"update","window":")" + window + R"(","title":"corrected )" + std::to_string(step) + "\"}";
  }
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
    static const char* kImpacts[] = {"full", "partial", "degraded"};
    return R"({"action":"update","ticket":")" + ticket + R"(","note":"step )" + std::to_string(step) +
           R"(","systems":[)" + system() + R"(],"impact":")" + kImpacts[rng() % 3] + "\"" +
           (open ? R"(,"phase":"monitoring"})" : "}");
  }
  return R"({"action":")" + std::string(open ? "close" : "reopen") + R"(","ticket":")" + ticket + "\"}";
}

ingest::SubscriptionCommand RandomSubscription(std::mt19937_64& rng) {
  static const char* kEmails[] = {"ana@example.org", "bo@example.org", "cy@example.org"};
  static const char* kSystems[] = {"mail", "vpn", "dns", "*"};
  ingest::SubscriptionCommand command;
  command.action = rng() % 3 == 0 ? ingest::SubscriptionAction::kRemove : ingest::SubscriptionAction::kAdd;
  command.email = kEmails[rng() % 3];
  command.systems = {kSystems[rng() % 4]};
  command.actor = "test";
  return command;
}

// A delivery receipt for a random job of `model`'s queue (or for none).
proto::Event RandomReceipt(std::mt19937_64& rng, const ReadModel& model) {
  proto::Event event;
  event.set_type(rng() % 2 == 0 ? proto::NOTIFICATION_DELIVERED : proto::NOTIFICATION_FAILED);
  proto::NotificationReceipt* receipt = event.mutable_notification();
  receipt->set_incident_seq(1 + rng() % 50);
  receipt->set_recipient("ana@example.org");
  model.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
    if (queue.jobs().empty() || rng() % 5 == 0) return;  // an orphan now and then
    auto job = queue.jobs().begin();
    std::advance(job, static_cast<long>(rng() % queue.jobs().size()));
    receipt->set_incident_seq(job->first.seq);
    receipt->set_recipient(job->first.recipient);
    receipt->set_ticket(job->second.ticket);
  });
  receipt->set_attempt(1);
  receipt->set_message_id("<m@example.org>");
  receipt->set_error(event.type() == proto::NOTIFICATION_FAILED ? "451 later" : "");
  receipt->set_gave_up(rng() % 3 == 0);
  return event;
}

Status AppendEvent(Ledger& log, proto::Event event) {
  Result<Appended> appended =
      log.Append([&event](AppendContext&) -> Result<Decision> { return Decision{.event = event, .repeat_of_seq = {}}; });
  if (!appended) return appended.error();
  return {};
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
  // Wired as the service wires them: both decide against the read model.
  auto processor = std::move(*ingest::CommandProcessor::Create(log.get(), &incremental));
  auto subscriptions = std::move(*ingest::SubscriptionProcessor::Create(log.get(), &incremental));
  auto maintenance = ingest::MaintenanceProcessor::Create(log.get(), &incremental);

  const int steps = 200 + static_cast<int>(rng() % 100);
  const int resume_at = static_cast<int>(rng() % steps);
  std::unique_ptr<ProjectionCheckpoints> resumed_checkpoints;
  for (int step = 0; step < steps; ++step) {
    if (step == resume_at) {
      // A checkpoint taken here, then left behind while the log grows.
      resumed_checkpoints = OpenCheckpoints(dir.Sub("resumed"));
      ReadModel snapshot;
      ASSERT_TRUE(snapshot.Open(*log, resumed_checkpoints.get()));
    }
    const uint64_t kind = rng() % 10;
    if (kind < 2) {
      Result<ingest::SubscriptionResult> done = subscriptions->Submit(RandomSubscription(rng));
      ASSERT_TRUE(done || done.error().code == ErrorCode::kNotFound) << done.error().message;
      continue;
    }
    if (kind < 3) {
      Status appended = AppendEvent(*log, RandomReceipt(rng, incremental));
      ASSERT_TRUE(appended) << appended.error().message;
      continue;
    }
    if (kind == 4 && rng() % 2 == 0) {
      Result<ingest::MaintenanceCommand> command = ingest::ParseMaintenanceJson(RandomMaintenance(rng, incremental, step));
      ASSERT_TRUE(command) << command.error().message;
      Result<ingest::MaintenanceResult> done = maintenance->Submit(std::move(*command));
      ASSERT_TRUE(done) << done.error().message;
      continue;
    }
    if (kind == 3 && rng() % 2 == 0) {
      // A retry of every failed job, or of one address's, as the route plans it.
      ingest::RetryCommand retry{.actor = "test"};
      if (rng() % 2 == 0) retry.recipient = "ana@example.org";
      ingest::RetryPlan plan;
      incremental.ReadNotifications([&](const NotificationQueue& queue, uint64_t) { plan = ingest::PlanRetry(queue, retry); });
      if (plan.event.retry().jobs_size() > 0) {
        Status appended = AppendEvent(*log, plan.event);
        ASSERT_TRUE(appended) << appended.error().message;
      }
      continue;
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

  // Resumed without the background fill: tickets are built as they are read.
  ReadModel resumed;
  Result<OpenReport> resumed_report =
      resumed.Open(*log, resumed_checkpoints.get(), ReadModelOptions{.background_fill = false});
  ASSERT_TRUE(resumed_report);
  EXPECT_FALSE(resumed_report->rebuilt) << resumed_report->reason;
  EXPECT_EQ(resumed_report->replayed_events, log->head().seq - resumed_report->resumed_seq);

  // The incremental model's own checkpoint, reopened, needs no replay.
  ReadModel reopened;
  Result<OpenReport> reopened_report = reopened.Open(*log, incremental_checkpoints.get());
  ASSERT_TRUE(reopened_report);
  EXPECT_FALSE(reopened_report->rebuilt) << reopened_report->reason;
  EXPECT_EQ(reopened_report->replayed_events, 0u);
  reopened.FinishFill();

  const Fingerprint expected = FingerprintOf(incremental);
  EXPECT_GT(expected.size(), 30u);
  EXPECT_EQ(FingerprintOf(rebuilt), expected);
  EXPECT_EQ(FingerprintOf(resumed), expected);
  EXPECT_EQ(FingerprintOf(reopened), expected);

  // The notification side equals the standalone fold, which keeps a ticket
  // store of its own.
  NotificationModel standalone;
  ASSERT_TRUE(standalone.Rebuild(*log));
  Fingerprint standalone_notifications;
  standalone.Read([&](const NotificationQueue& queue, uint64_t) { standalone_notifications = NotificationsFingerprint(queue); });
  Fingerprint shared_notifications;
  incremental.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
    shared_notifications = NotificationsFingerprint(queue);
  });
  EXPECT_EQ(shared_notifications, standalone_notifications);
  log->Shutdown();
}

// The queries a dashboard asks first are answered by a resumed store that
// has built only what they read, with the same answers as a full one.
TEST(ProjectionLifecycle, ResumedStoreAnswersBeforeBuildingEverything) {
  TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger"), .sync_writes = false}));
  auto processor = std::move(*ingest::CommandProcessor::Create(log.get()));
  for (int i = 0; i < 60; ++i) {
    const std::string day = "2020-01-" + std::string(i / 2 + 1 < 10 ? "0" : "") + std::to_string(i / 2 + 1);
    ASSERT_TRUE(processor->Submit(*ingest::ParseJsonSubmission(
        R"({"action":"create","title":"t","systems":["a"],"engineer":"e","started_at":")" + day + "T08:00:00Z\"}")));
    ASSERT_TRUE(processor->Submit(*ingest::ParseJsonSubmission(R"({"action":"close","ticket":"INC-)" +
                                                                std::to_string(i + 1) + R"(","ended_at":")" + day +
                                                                "T09:00:00Z\"}")));
  }
  auto checkpoints = OpenCheckpoints(dir.Sub("projections"));
  {
    ReadModel saved;
    ASSERT_TRUE(saved.Open(*log, checkpoints.get()));
  }
  ReadModel full;
  ASSERT_TRUE(full.Open(*log, nullptr));
  ReadModel lazy;
  Result<OpenReport> report = lazy.Open(*log, checkpoints.get(), ReadModelOptions{.background_fill = false});
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->rebuilt) << report->reason;
  EXPECT_EQ(report->tickets, 60u);

  TimelineQuery week;
  week.from_micros = ParseRfc3339("2020-01-10T00:00:00Z", "from")->unix_micros;
  week.to_micros = ParseRfc3339("2020-01-17T00:00:00Z", "to")->unix_micros;
  std::vector<std::string> expected;
  full.Read([&](const TicketStore& store, uint64_t) {
    for (const TicketState* state : store.Query(week).incidents) expected.push_back(state->ticket);
  });
  lazy.Read([&](const TicketStore& store, uint64_t) {
    EXPECT_EQ(store.size(), 60u);
    std::vector<std::string> answered;
    for (const TicketState* state : store.Query(week).incidents) answered.push_back(state->ticket);
    EXPECT_EQ(answered, expected);
    ASSERT_NE(store.Find("INC-2"), nullptr);
    EXPECT_EQ(store.Find("INC-2")->title, "t");
    EXPECT_EQ(store.Find("INC-61"), nullptr);
    EXPECT_GT(store.unbuilt(), 30u);  // most tickets were never read
  });
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(FingerprintOf(lazy), FingerprintOf(full));  // reads every ticket
  lazy.Read([&](const TicketStore& store, uint64_t) { EXPECT_EQ(store.unbuilt(), 0u); });
}

// A log long enough that a fold from seq 1 takes the rebuild's path (read
// ahead on a second thread, text moved out of each decoded event) gives the
// state that applying it event by event gives.
TEST(ProjectionLifecycle, LongRebuildEqualsIncremental) {
  TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger"), .sync_writes = false}));
  ReadModel incremental;
  ASSERT_TRUE(incremental.Open(*log, nullptr));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { incremental.Apply(events); });
  constexpr uint64_t kEvents = 20000;  // above read_model.cc's kReadAheadEventsMin
  std::mt19937_64 rng(20000);
  std::vector<std::future<Result<Appended>>> pending;
  std::atomic<uint64_t> opened{0};
  for (uint64_t i = 0; i < kEvents; ++i) {
    const uint64_t kind = rng() % 4;
    const uint64_t pick = rng();
    auto promise = std::make_shared<std::promise<Result<Appended>>>();
    pending.push_back(promise->get_future());
    log->AppendAsync(
        [&opened, kind, pick](AppendContext& context) -> Result<Decision> {
          proto::Event event;
          proto::IncidentPayload* payload = event.mutable_incident();
          if (kind == 0 || opened.load() == 0) {
            event.set_type(proto::INCIDENT_OPENED);
            event.set_ticket(projections::TicketName::Format(context.AllocateTicketNumber()));
            opened.fetch_add(1);
            payload->set_title("Mail delayed for the whole " + std::to_string(pick % 97) + "th floor");
            payload->set_description(std::string(120, 'd'));
            payload->mutable_systems()->add_names(pick % 2 ? "mail" : "a system with a long name");
            payload->set_engineer("Ana Ruiz");
          } else {
            event.set_type(kind == 1 ? proto::INCIDENT_UPDATED : kind == 2 ? proto::INCIDENT_CLOSED : proto::INCIDENT_REOPENED);
            event.set_ticket("INC-" + std::to_string(1 + pick % opened.load()));
            payload->set_note("Status " + std::to_string(pick) + ": still investigating the queue on the relay");
          }
          return Decision{.event = event, .repeat_of_seq = {}};
        },
        [promise](Result<Appended> appended) { promise->set_value(std::move(appended)); });
  }
  for (auto& future : pending) ASSERT_TRUE(future.get());
  ASSERT_EQ(log->head().seq, kEvents);
  ReadModel rebuilt;
  Result<OpenReport> report = rebuilt.Open(*log, nullptr);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->replayed_events, kEvents);
  EXPECT_EQ(FingerprintOf(rebuilt), FingerprintOf(incremental));
  log->Shutdown();
}

class CheckpointChecks : public ::testing::Test {
 protected:
  // Three tickets, a subscriber told about them, and a delivery receipt:
  // records of every kind in the checkpoint.
  void SetUp() override {
    log_ = std::move(*Ledger::Open(LedgerOptions{.path = dir_.Sub("ledger")}));
    auto subscriptions = std::move(*ingest::SubscriptionProcessor::Create(log_.get()));
    ASSERT_TRUE(subscriptions->Submit(ingest::SubscriptionCommand{
        .action = ingest::SubscriptionAction::kAdd, .email = "ana@example.org", .systems = {"a"}, .actor = "t"}));
    auto processor = std::move(*ingest::CommandProcessor::Create(log_.get()));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(processor->Submit(
          *ingest::ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"],"engineer":"e"})")));
    }
    proto::Event receipt;
    receipt.set_type(proto::NOTIFICATION_DELIVERED);
    receipt.mutable_notification()->set_incident_seq(2);
    receipt.mutable_notification()->set_recipient("ana@example.org");
    ASSERT_TRUE(AppendEvent(*log_, receipt));
    auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
    ReadModel model;
    ASSERT_TRUE(model.Open(*log_, checkpoints.get()));
    expected_ = FingerprintOf(model);
    EXPECT_EQ(expected_.count("u" + std::string("ana@example.org")), 1u);
  }

  void Poke(const std::string& key, const std::string& value) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Sub("projections"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }

  std::string Peek(const std::string& key) {
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Sub("projections"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), key, &value).ok()) << "no value at the key";
    return value;
  }

  static std::string PackKey(uint64_t first, uint64_t last) {
    std::string key = NumberKey('g', first);
    AppendBigEndian64(&key, last);
    return key;
  }

  static std::string NumberKey(char prefix, uint64_t number) {
    std::string key(1, prefix);
    AppendBigEndian64(&key, number);
    return key;
  }

  // Opens the read model again: whatever it did, its state must be the one
  // the log folds to.
  OpenReport Reopen() {
    auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
    ReadModel model;
    Result<OpenReport> report = model.Open(*log_, checkpoints.get());
    EXPECT_TRUE(report);
    EXPECT_EQ(FingerprintOf(model), expected_);
    return *report;
  }

  void ExpectRebuiltBecause(const std::string& words) {
    const OpenReport report = Reopen();
    EXPECT_TRUE(report.rebuilt);
    EXPECT_NE(report.reason.find(words), std::string::npos) << report.reason;
    EXPECT_FALSE(Reopen().rebuilt);  // and the rebuild was saved
  }

  TempDir dir_;
  std::unique_ptr<Ledger> log_;
  Fingerprint expected_;
};

TEST_F(CheckpointChecks, ResumesWhenSound) {
  const OpenReport report = Reopen();
  EXPECT_FALSE(report.rebuilt) << report.reason;
  EXPECT_EQ(report.resumed_seq, 5u);
  EXPECT_EQ(report.tickets, 3u);
}

TEST_F(CheckpointChecks, TicketVersionChangeRebuilds) {
  Poke("mversion", "1");
  ExpectRebuiltBecause("ticket projection version 1");
}

TEST_F(CheckpointChecks, NotificationVersionChangeRebuilds) {
  Poke("mnotifications_version", "0");
  ExpectRebuiltBecause("notification projection version 0");
}

// The whole save after the rebuild in SetUp packed the three tickets into
// one pack. Rewritten with a byte changed (a sound RocksDB block, bytes the
// save never wrote), it fails its digest: its tickets are folded again from
// their events at load, served right, and saved again (alone), so the next
// start finds nothing to say.
TEST_F(CheckpointChecks, DamagedPackIsRepairedAtLoad) {
  const std::string key = PackKey(1, 3);
  std::string value = Peek(key);
  ASSERT_GT(value.size(), 40u);
  value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x20);
  Poke(key, value);
  ::testing::internal::CaptureStderr();
  {
    auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
    ReadModel model;
    Result<OpenReport> report = model.Open(*log_, checkpoints.get(), ReadModelOptions{.background_fill = false});
    ASSERT_TRUE(report);
    EXPECT_FALSE(report->rebuilt) << report->reason;
    model.Read([](const TicketStore& store, uint64_t) {
      for (uint64_t number = 1; number <= 3; ++number) {
        ASSERT_NE(store.FindNumber(number), nullptr);
        EXPECT_EQ(store.FindNumber(number)->ticket, TicketName::Format(number));
        EXPECT_EQ(store.FindNumber(number)->title, "t");
      }
    });
    EXPECT_EQ(FingerprintOf(model), expected_);
  }
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(logged.find("pack of INC-1 to INC-3 is unusable (its digest does not match)"), std::string::npos)
      << logged;
  // Said once: the digest is checked on a second thread during the scan,
  // and the load done again with it checked in line, which says it.
  EXPECT_EQ(logged.find("is unusable"), logged.rfind("is unusable")) << logged;
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(Reopen().rebuilt);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// A start keeps the packs where it read them (a read-only view of the
// checkpoint's table files, mapped). Until the fill has built their
// tickets, those bytes must stay what the load checked, even when another
// whole save replaces every pack and a compaction deletes the files they
// were read from.
TEST_F(CheckpointChecks, PinnedPacksOutliveTheFilesTheyWereReadFrom) {
  const auto table_files = [&] {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("projections"))) {
      if (entry.path().extension() == ".sst") names.insert(entry.path().filename().string());
    }
    return names;
  };
  const std::set<std::string> before = table_files();
  ASSERT_FALSE(before.empty());
  auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
  ReadModel unbuilt;
  Result<OpenReport> report = unbuilt.Open(*log_, checkpoints.get(), ReadModelOptions{.background_fill = false});
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->rebuilt) << report->reason;
  {
    // Another model saves everything again over the same checkpoint...
    ReadModel other;
    ASSERT_TRUE(other.Open(*log_, checkpoints.get(), ReadModelOptions{.background_fill = false}));
    ASSERT_TRUE(other.Rebuild(*log_));
  }
  checkpoints.reset();
  {
    // ...and a compaction drops the tables the first model's packs came from.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Sub("projections"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    ASSERT_TRUE(db->CompactRange(compact, nullptr, nullptr).ok());
  }
  for (const std::string& name : before) EXPECT_EQ(table_files().count(name), 0u) << name << " is still there";
  // The first model's tickets, built only now, from the pinned packs (only
  // its tickets are read: its checkpoint database is closed by now).
  ReadModel folded;
  ASSERT_TRUE(folded.Open(*log_, nullptr));
  Fingerprint want;
  folded.Read([&](const TicketStore& store, uint64_t) { want = TicketsFingerprint(store); });
  Fingerprint got;
  unbuilt.Read([&](const TicketStore& store, uint64_t) { got = TicketsFingerprint(store); });
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
}

// A pack whose bytes are gone (an empty value) is repaired the same way.
TEST_F(CheckpointChecks, EmptiedPackIsRepairedAtLoad) {
  Poke(PackKey(1, 3), "");
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(Reopen().rebuilt);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("folding its tickets again"), std::string::npos);
}

// A pack claiming more tickets than any save writes is not read: rebuilt.
TEST_F(CheckpointChecks, PackOutOfRangeRebuilds) {
  Poke(PackKey(1, 1 + kPackTicketsMax), "x");
  ExpectRebuiltBecause("a saved pack spans INC-1 to");
}

TEST_F(CheckpointChecks, UndecodableSubscriptionRebuilds) {
  Poke("uana@example.org", "\xff\xff");
  ExpectRebuiltBecause("subscription does not decode");
}

TEST_F(CheckpointChecks, UndecodableNoticeRebuilds) {
  Poke(NumberKey('n', 2), "\x01");
  ExpectRebuiltBecause("notice does not decode");
}

TEST_F(CheckpointChecks, UndecodableJobRebuilds) {
  Poke(NumberKey('j', 2) + "ana@example.org", "");
  ExpectRebuiltBecause("job does not decode");
}

TEST_F(CheckpointChecks, MissingTicketCountRebuilds) {
  Poke("mticket_count", "x");
  ExpectRebuiltBecause("no ticket count");
}

TEST_F(CheckpointChecks, CheckpointOfAnotherHistoryRebuilds) {
  std::string applied;
  AppendBigEndian64(&applied, 5);
  applied.append(32, '\x07');
  Poke("mapplied_seq", applied);
  ExpectRebuiltBecause("different ledger");
}

// A saved ticket that does not decode is folded again from its own events
// while the checkpoint loads (and said so), the checkpoint stays usable, and
// the repaired ticket is saved again: the next start finds nothing to say.
TEST_F(CheckpointChecks, UndecodableTicketIsFoldedFromItsEvents) {
  Poke(NumberKey('k', 2), "\xff\xff not a ticket");
  ::testing::internal::CaptureStderr();
  const OpenReport report = Reopen();
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(report.rebuilt) << report.reason;
  EXPECT_NE(logged.find("INC-2 is unusable"), std::string::npos) << logged;
  EXPECT_NE(logged.find("folding it again from its events"), std::string::npos) << logged;
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(Reopen().rebuilt);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// A ticket saved alone whose periods were changed (its record left as it
// was) fails its digest: it is folded from the ledger at load too, and the
// timeline index is built from what the ledger says: reads after the load
// never go back to the disk.
TEST_F(CheckpointChecks, AloneTicketWithChangedPeriodsIsRepairedAtLoad) {
  std::string value;
  {
    ByteWriter writer(&value);
    WritePeriods(&writer, {Period{Instant{1'000'000, 0}, Instant{2'000'000, 0}}});
    writer.Varint(1);
    writer.Raw("x");
  }
  value.append(kSha256Bytes, '\0');
  Poke(NumberKey('k', 3), value);
  ::testing::internal::CaptureStderr();
  {
    auto checkpoints = OpenCheckpoints(dir_.Sub("projections"));
    ReadModel model;
    Result<OpenReport> report = model.Open(*log_, checkpoints.get(), ReadModelOptions{.background_fill = false});
    ASSERT_TRUE(report);
    EXPECT_FALSE(report->rebuilt);
    model.Read([](const TicketStore& store, uint64_t) {
      ASSERT_NE(store.FindNumber(3), nullptr);
      EXPECT_EQ(store.FindNumber(3)->title, "t");
      // The bogus periods' window finds nothing: the index holds the
      // ledger's periods.
      EXPECT_TRUE(store.Overlapping(1'000'000, 2'000'000).empty());
    });
    EXPECT_EQ(FingerprintOf(model), expected_);
  }
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(logged.find("INC-3 is unusable (its digest does not match)"), std::string::npos) << logged;
  EXPECT_FALSE(Reopen().rebuilt);
}

// A saved record naming a ticket the ledger never opened cannot be repaired:
// the checkpoint is rebuilt.
TEST_F(CheckpointChecks, TicketTheLedgerNeverOpenedRebuilds) {
  Poke(NumberKey('k', 9), "\xff\xff not a ticket");
  std::string count;
  AppendBigEndian64(&count, 4);
  Poke("mticket_count", count);
  ::testing::internal::CaptureStderr();
  ExpectRebuiltBecause("INC-9, which the ledger never opened");
  (void)::testing::internal::GetCapturedStderr();
}

// -- the processors decide against the shared read model ------------------------

// Storage whose writes fail while `failing` is set, as a full disk would.
class FullDiskFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskFile(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* failing)
      : FSWritableFileOwnerWrapper(std::move(file)), failing_(failing) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
    if (failing_->load()) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return FSWritableFileOwnerWrapper::Append(data, options, debug);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* debug) override {
    if (failing_->load()) return rocksdb::IOStatus::NoSpace("injected: no space left");
    return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
  }

 private:
  const std::atomic<bool>* failing_;
};

class FullDiskFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FullDiskFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, result, debug);
    if (status.ok()) *result = std::make_unique<FullDiskFile>(std::move(*result), &failing);
    return status;
  }
  std::atomic<bool> failing{false};
};

// A close decided in a batch that never reached the disk is forgotten: the
// next close of the same ticket is not refused as a repeat.
TEST(SharedProcessor, FailedBatchLeavesNothingAssumed) {
  TempDir dir;
  auto file_system = std::make_shared<FullDiskFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger"), .env = env.get()}));
  ReadModel model;
  ASSERT_TRUE(model.Open(*log, nullptr));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { model.Apply(events); });
  auto processor = std::move(*ingest::CommandProcessor::Create(log.get(), &model));
  const auto submit = [&](const std::string& json) { return processor->Submit(*ingest::ParseJsonSubmission(json)); };
  ASSERT_TRUE(submit(R"({"action":"create","title":"t","systems":["a"],"engineer":"e"})"));

  file_system->failing = true;
  Result<ingest::SubmissionResult> refused = submit(R"({"action":"close","ticket":"INC-1"})");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kIoError);
  file_system->failing = false;
  Result<ingest::SubmissionResult> closed = submit(R"({"action":"close","ticket":"INC-1"})");
  for (int attempt = 0; !closed && closed.error().code == ErrorCode::kIoError && attempt < 300; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // RocksDB may take a moment to resume
    closed = submit(R"({"action":"close","ticket":"INC-1"})");
  }
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_EQ(closed->version, 2u);
  model.Read([](const TicketStore& store, uint64_t applied_seq) {
    EXPECT_EQ(applied_seq, 2u);
    EXPECT_EQ(store.Find("INC-1")->status, TicketStatus::kClosed);
  });
  log->Shutdown();
}

// Decisions of one group commit see each other before the read model has
// applied any of them: a create, its update and its close queued together
// all go in, a second close in the same batch is refused.
TEST(SharedProcessor, DecisionsOfOneBatchSeeEachOther) {
  TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger")}));
  ReadModel model;
  ASSERT_TRUE(model.Open(*log, nullptr));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { model.Apply(events); });
  auto processor = std::move(*ingest::CommandProcessor::Create(log.get(), &model));
  // Holds the writer in a decision of its own until the four below are
  // queued, so that they make up the next batch together.
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  log->AppendAsync(
      [&entered, released](AppendContext&) -> Result<Decision> {
        entered.set_value();
        released.wait();
        return MakeError(ErrorCode::kInvalidArgument, "only holds the writer");
      },
      [](Result<Appended>) {});
  entered.get_future().wait();
  std::mutex mutex;
  std::condition_variable done_changed;
  std::map<size_t, Result<ingest::SubmissionResult>> results;
  const std::vector<std::string> bodies = {
      R"({"action":"create","title":"t","systems":["a"],"engineer":"e"})",
      R"({"action":"update","ticket":"INC-1","note":"n","expected_version":1})",
      R"({"action":"close","ticket":"INC-1","expected_version":2})",
      R"({"action":"close","ticket":"INC-1"})",
  };
  for (size_t i = 0; i < bodies.size(); ++i) {
    processor->SubmitAsync(*ingest::ParseJsonSubmission(bodies[i]), [&, i](Result<ingest::SubmissionResult> result) {
      std::lock_guard lock(mutex);
      results.emplace(i, std::move(result));
      done_changed.notify_all();
    });
  }
  release.set_value();
  {
    std::unique_lock lock(mutex);
    done_changed.wait(lock, [&] { return results.size() == bodies.size(); });
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(results.at(i)) << i << ": " << results.at(i).error().message;
    ASSERT_FALSE(results.at(3));
    EXPECT_EQ(results.at(3).error().code, ErrorCode::kConflict);
  }
  EXPECT_EQ(log->stats().batches_committed, 1u);  // the three events went in together
  model.Read([](const TicketStore& store, uint64_t applied_seq) {
    EXPECT_EQ(applied_seq, 3u);
    EXPECT_EQ(store.Find("INC-1")->version, 3u);
    EXPECT_EQ(store.Find("INC-1")->status, TicketStatus::kClosed);
  });
  log->Shutdown();
}

}  // namespace
}  // namespace ledger::projections
