// Sent notification jobs leave memory once saved (projections/notifications.h,
// notification_projection.h): over a real ledger and a real checkpoint
// database, a read model's answers about jobs (every filter, every page, the
// counts and counters, the states the pages read) equal those of the
// standalone fold that keeps every job in memory, while its memory holds
// only the jobs still in flight; a resumed model, one rebuilt into a new
// checkpoint and one without checkpoints answer the same.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/notification_projection.h"
#include "projections/read_model.h"
#include "test_util.h"

namespace ledger::projections {
namespace {

Status Append(Ledger& log, proto::Event event) {
  Result<Appended> appended =
      log.Append([&event](AppendContext&) -> Result<Decision> { return Decision{.event = event, .repeat_of_seq = {}}; });
  if (!appended) return appended.error();
  return {};
}

proto::Event Subscribe(const std::string& email, const std::string& system) {
  proto::Event event;
  event.set_type(proto::SUBSCRIPTION_ADDED);
  event.set_actor("test");
  event.mutable_subscription()->set_email(email);
  event.mutable_subscription()->add_systems(system);
  return event;
}

proto::Event Incident(proto::EventType type, int number, uint32_t version, const std::string& note) {
  proto::Event event;
  event.set_type(type);
  event.set_actor("test");
  event.set_ticket("INC-" + std::to_string(number));
  event.set_version(version);
  proto::IncidentPayload* payload = event.mutable_incident();
  if (type == proto::INCIDENT_OPENED) {
    payload->set_title("outage " + std::to_string(number));
    payload->mutable_systems()->add_names(number % 2 == 0 ? "mail" : "vpn");
    payload->set_engineer("Ana");
  } else {
    payload->set_note(note);
  }
  return event;
}

proto::Event Receipt(proto::EventType type, const JobKey& key, const std::string& ticket, bool gave_up = false) {
  proto::Event event;
  event.set_type(type);
  event.set_actor("notifier");
  event.set_ticket(ticket);
  proto::NotificationReceipt* receipt = event.mutable_notification();
  receipt->set_incident_seq(key.seq);
  receipt->set_recipient(key.recipient);
  receipt->set_ticket(ticket);
  receipt->set_attempt(1);
  receipt->set_message_id("<" + std::to_string(key.seq) + "." + key.recipient + ">");
  if (type == proto::NOTIFICATION_DELIVERED) {
    receipt->set_smtp_code(250);
  } else {
    receipt->set_smtp_code(451);
    receipt->set_error("451 try later");
    receipt->set_gave_up(gave_up);
  }
  return event;
}

// Everything a reader can learn about jobs, through the calls the service
// answers with (GET /api/v1/notifications, the incident and imports pages).
struct Answers {
  std::vector<std::string> pages;  // every job of each filter, page by page
  std::string counts;
  std::map<std::pair<uint64_t, std::string>, std::string> states;
  bool operator==(const Answers&) const = default;
};

std::string Describe(const Job& job, const NotificationQueue& queue) {
  const std::optional<proto::EventType> type = queue.NoticeType(job.key.seq);
  return std::to_string(job.key.seq) + " " + job.key.recipient + " " + (type ? std::to_string(*type) : "?") + " " +
         job.ticket + " " + EncodeJob(job);
}

Answers AnswersOf(const NotificationQueue& queue, const std::vector<uint64_t>& seqs) {
  Answers answers;
  std::vector<JobFilter> filters = {JobFilter{}, JobFilter{.state = JobState::kSent},
                                    JobFilter{.state = JobState::kPending}, JobFilter{.state = JobState::kFailed},
                                    JobFilter{.ticket = "INC-2"}, JobFilter{.state = JobState::kSent, .ticket = "INC-1"},
                                    JobFilter{.recipient = "p3@example.org"},
                                    JobFilter{.state = JobState::kSent, .recipient = "p0@example.org"}};
  for (const uint64_t seq : seqs) filters.push_back(JobFilter{.state = JobState::kSent, .seq = seq});
  for (JobFilter filter : filters) {
    // Pages of 7, each resuming after the last job of the one before.
    std::string all;
    for (;;) {
      size_t count = 0;
      std::optional<JobKey> last;
      Status listed = queue.ForEachJob(filter, [&](const Job& job) {
        if (count == 7) return false;
        all += Describe(job, queue) + "\n";
        last = job.key;
        count += 1;
        return true;
      });
      EXPECT_TRUE(listed) << listed.error().message;
      if (count < 7 || !last) break;
      filter.after = last;
    }
    answers.pages.push_back(all);
  }
  const QueueCounts counts = queue.counts();
  answers.counts = std::to_string(counts.pending) + "/" + std::to_string(counts.sent) + "/" +
                   std::to_string(counts.failed) + " orphans " + std::to_string(queue.orphan_receipts()) +
                   " duplicates " + std::to_string(queue.duplicate_deliveries());
  for (const uint64_t seq : seqs) {
    queue.ForEachJobState(seq, [&](std::string_view recipient, JobState state) {
      answers.states[{seq, std::string(recipient)}] = JobStateName(state);
      EXPECT_EQ(queue.StateOf(JobKey{seq, std::string(recipient)}), state);
    });
  }
  return answers;
}

Answers AnswersOf(const ReadModel& model, const std::vector<uint64_t>& seqs) {
  Answers answers;
  model.ReadNotifications([&](const NotificationQueue& queue, uint64_t) { answers = AnswersOf(queue, seqs); });
  return answers;
}

Answers AnswersOf(const NotificationModel& model, const std::vector<uint64_t>& seqs) {
  Answers answers;
  model.Read([&](const NotificationQueue& queue, uint64_t) { answers = AnswersOf(queue, seqs); });
  return answers;
}

TEST(NotificationArchive, SentJobsLeaveMemoryAndEveryAnswerStaysTheSame) {
  const unsigned seed = std::random_device{}();
  std::printf("notification archive seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  testing::TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger"), .sync_writes = false}));
  std::unique_ptr<ProjectionCheckpoints> checkpoints = std::move(*ProjectionCheckpoints::Open(dir.Sub("projections")));
  ReadModel incremental;
  ASSERT_TRUE(incremental.Open(*log, checkpoints.get()));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { incremental.Apply(events); });

  constexpr int kPeople = 12;
  for (int i = 0; i < kPeople; ++i) {
    const std::string system = i % 3 == 0 ? "*" : (i % 3 == 1 ? "mail" : "vpn");
    ASSERT_TRUE(Append(*log, Subscribe("p" + std::to_string(i) + "@example.org", system)));
  }
  std::vector<uint64_t> seqs;  // the incident events, each with jobs
  std::map<int, uint32_t> versions;
  for (int step = 0; step < 10; ++step) {
    const int number = 1 + step % 4;
    const bool opened = versions.contains(number);
    ASSERT_TRUE(Append(*log, Incident(opened ? proto::INCIDENT_UPDATED : proto::INCIDENT_OPENED, number,
                                      ++versions[number], "step " + std::to_string(step))));
    seqs.push_back(log->head().seq);
  }

  // Receipts: most jobs delivered (some after a failed attempt), some given
  // up, some left pending; then receipts for jobs already sent (counted as
  // duplicates), failures for sent jobs, and receipts for no job (orphans).
  std::vector<std::pair<JobKey, std::string>> jobs;
  incremental.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
    for (const auto& [key, job] : queue.jobs()) jobs.emplace_back(key, job.ticket);
  });
  ASSERT_GT(jobs.size(), 60u);
  std::vector<std::pair<JobKey, std::string>> sent;
  for (const auto& [key, ticket] : jobs) {
    const auto roll = rng() % 10;
    if (roll == 0) continue;  // stays pending
    if (roll == 1) {
      ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_FAILED, key, ticket, /*gave_up=*/true)));
      continue;
    }
    if (roll == 2) {
      ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_FAILED, key, ticket)));
    }
    ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_DELIVERED, key, ticket)));
    sent.emplace_back(key, ticket);
  }
  ASSERT_FALSE(sent.empty());
  for (int i = 0; i < 3; ++i) {
    const auto& [key, ticket] = sent[rng() % sent.size()];
    ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_DELIVERED, key, ticket)));
    ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_FAILED, key, ticket)));
  }
  ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_DELIVERED, JobKey{seqs[0], "nobody@example.org"}, "INC-1")));
  ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_DELIVERED, JobKey{log->head().seq + 5, "p1@example.org"}, "")));

  // The reference: the standalone fold, which keeps every job in memory.
  NotificationModel standalone;
  ASSERT_TRUE(standalone.Rebuild(*log));
  const Answers expected = AnswersOf(standalone, seqs);
  EXPECT_NE(expected.counts.find(" duplicates 3"), std::string::npos) << expected.counts;
  EXPECT_NE(expected.counts.find("orphans 2 "), std::string::npos) << expected.counts;
  EXPECT_EQ(AnswersOf(incremental, seqs), expected);

  // Memory holds only what is in flight: no sent job, and no whole notice
  // of an event whose jobs are all sent.
  incremental.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
    EXPECT_EQ(queue.jobs().size(), queue.pending().size() + queue.failed().size());
    EXPECT_EQ(queue.counts().sent, sent.size());
    for (const auto& [seq, notice] : queue.notices()) {
      bool live = false;
      for (const auto& [key, job] : queue.jobs()) live = live || key.seq == seq;
      EXPECT_TRUE(live) << "the notice of event " << seq << " stayed without a job in memory";
    }
    size_t archived = 0;
    for (const auto& [seq, notice] : queue.archived()) archived += notice.sent.size();
    EXPECT_EQ(archived, sent.size());
  });

  // A start from the checkpoint, one from none (rebuilt into a new
  // checkpoint) and one keeping no checkpoint answer the same.
  {
    ReadModel resumed;
    Result<OpenReport> report = resumed.Open(*log, checkpoints.get(), ReadModelOptions{.background_fill = false});
    ASSERT_TRUE(report);
    EXPECT_FALSE(report->rebuilt) << report->reason;
    EXPECT_EQ(AnswersOf(resumed, seqs), expected);
    resumed.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
      EXPECT_EQ(queue.jobs().size(), queue.pending().size() + queue.failed().size());
    });
  }
  {
    std::unique_ptr<ProjectionCheckpoints> fresh = std::move(*ProjectionCheckpoints::Open(dir.Sub("fresh")));
    ReadModel rebuilt;
    Result<OpenReport> report = rebuilt.Open(*log, fresh.get(), ReadModelOptions{.background_fill = false});
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->rebuilt);
    EXPECT_EQ(AnswersOf(rebuilt, seqs), expected);
    rebuilt.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
      EXPECT_EQ(queue.jobs().size(), queue.pending().size() + queue.failed().size());
    });
  }
  {
    ReadModel in_memory;
    ASSERT_TRUE(in_memory.Open(*log, nullptr));
    EXPECT_EQ(AnswersOf(in_memory, seqs), expected);
    in_memory.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
      EXPECT_EQ(queue.jobs().size(), jobs.size());  // without an archive, every job stays
    });
  }

  // Later receipts for archived jobs still count as before, and a retry
  // (of failed jobs, never archived) works on the archived model.
  const auto& [key, ticket] = sent.front();
  ASSERT_TRUE(Append(*log, Receipt(proto::NOTIFICATION_DELIVERED, key, ticket)));
  NotificationModel standalone_after;
  ASSERT_TRUE(standalone_after.Rebuild(*log));
  EXPECT_EQ(AnswersOf(incremental, seqs), AnswersOf(standalone_after, seqs));
  log->Shutdown();
}

}  // namespace
}  // namespace ledger::projections
