// Unit tests for notifications: the recipient rules and the queue fold
// (projections/notifications.h), address and subscription parsing
// (ingest/subscriptions.h), the mail text (notify/message.h), failure
// classification and retry delays, and the delivery worker against a fake
// sender on a real ledger.

#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/histogram.h"
#include "ingest/notification_retry.h"
#include "ingest/subscriptions.h"
#include "notify/message.h"
#include "notify/smtp.h"
#include "notify/worker.h"
#include "projections/notifications.h"
#include "projections/ticket_name.h"
#include "test_util.h"

namespace ledger {
namespace {

using projections::JobKey;
using projections::JobState;
using projections::NotificationQueue;
using testing::TempDir;

// Builds events for a fold without a ledger; seqs count up from 1.
class EventLog {
 public:
  const StoredEvent& Subscribe(const std::string& email, std::vector<std::string> systems) {
    return Subscription(proto::SUBSCRIPTION_ADDED, email, std::move(systems));
  }
  const StoredEvent& Unsubscribe(const std::string& email, std::vector<std::string> systems) {
    return Subscription(proto::SUBSCRIPTION_REMOVED, email, std::move(systems));
  }
  const StoredEvent& Open(const std::string& ticket, std::vector<std::string> systems,
                          proto::Visibility visibility = proto::VISIBILITY_UNSPECIFIED) {
    proto::Event event = Base(proto::INCIDENT_OPENED);
    event.set_ticket(ticket);
    event.set_version(1);
    event.mutable_incident()->set_visibility(visibility);
    event.mutable_incident()->set_title("Mail delayed");
    for (const std::string& system : systems) event.mutable_incident()->mutable_systems()->add_names(system);
    event.mutable_incident()->set_engineer("Ana");
    return Add(std::move(event));
  }
  const StoredEvent& Update(const std::string& ticket, proto::EventType type, std::optional<std::vector<std::string>> systems,
                            const std::string& note = {}) {
    proto::Event event = Base(type);
    event.set_ticket(ticket);
    proto::IncidentPayload* payload = event.mutable_incident();
    if (systems) {
      payload->mutable_systems();
      for (const std::string& system : *systems) payload->mutable_systems()->add_names(system);
    }
    if (!note.empty()) payload->set_note(note);
    return Add(std::move(event));
  }
  const StoredEvent& SetVisibility(const std::string& ticket, proto::Visibility visibility) {
    proto::Event event = Base(proto::INCIDENT_UPDATED);
    event.set_ticket(ticket);
    event.mutable_incident()->set_visibility(visibility);
    return Add(std::move(event));
  }
  const StoredEvent& Receipt(proto::EventType type, uint64_t incident_seq, const std::string& recipient,
                             bool server_unavailable = false, bool gave_up = false) {
    proto::Event event = Base(type);
    proto::NotificationReceipt* receipt = event.mutable_notification();
    receipt->set_incident_seq(incident_seq);
    receipt->set_recipient(recipient);
    receipt->set_error(type == proto::NOTIFICATION_FAILED ? "451 try later" : "");
    receipt->set_server_unavailable(server_unavailable);
    receipt->set_gave_up(gave_up);
    return Add(std::move(event));
  }
  struct ReceiptSpec {
    bool delivered = false;
    uint64_t incident_seq = 0;
    std::string recipient;
    bool server_unavailable = false;
    bool gave_up = false;
  };
  // Several receipts as one NOTIFICATION_RECEIPTS event, in the order given
  // within their kind.
  const StoredEvent& Receipts(const std::vector<ReceiptSpec>& specs) {
    proto::Event event = Base(proto::NOTIFICATION_RECEIPTS);
    for (const ReceiptSpec& spec : specs) {
      proto::NotificationReceipt* receipt =
          spec.delivered ? event.mutable_receipts()->add_delivered() : event.mutable_receipts()->add_failed();
      receipt->set_incident_seq(spec.incident_seq);
      receipt->set_recipient(spec.recipient);
      receipt->set_error(spec.delivered ? "" : "451 try later");
      receipt->set_server_unavailable(spec.server_unavailable);
      receipt->set_gave_up(spec.gave_up);
    }
    return Add(std::move(event));
  }
  const StoredEvent& Retry(const std::vector<JobKey>& jobs) {
    proto::Event event = Base(proto::NOTIFICATION_RETRY_REQUESTED);
    for (const JobKey& key : jobs) {
      proto::RetriedJob* job = event.mutable_retry()->add_jobs();
      job->set_incident_seq(key.seq);
      job->set_recipient(key.recipient);
      job->set_ticket("INC-1");
    }
    return Add(std::move(event));
  }
  void FoldInto(NotificationQueue* queue) const {
    for (const StoredEvent& stored : events_) queue->Apply(stored);
  }
  const std::vector<StoredEvent>& events() const { return events_; }

 private:
  proto::Event Base(proto::EventType type) {
    proto::Event event;
    event.set_type(type);
    return event;
  }
  const StoredEvent& Subscription(proto::EventType type, const std::string& email, std::vector<std::string> systems) {
    proto::Event event = Base(type);
    event.mutable_subscription()->set_email(email);
    for (const std::string& system : systems) event.mutable_subscription()->add_systems(system);
    return Add(std::move(event));
  }
  const StoredEvent& Add(proto::Event event) {
    StoredEvent stored;
    stored.seq = events_.size() + 1;
    event.set_seq(stored.seq);
    event.set_recorded_at_micros(1'800'000'000'000'000 + static_cast<int64_t>(stored.seq) * 1'000'000);
    if (event.has_incident() && event.type() != proto::INCIDENT_OPENED) event.set_version(versions_[event.ticket()] + 1);
    if (event.has_incident()) versions_[event.ticket()] = event.type() == proto::INCIDENT_OPENED ? 1 : event.version();
    stored.hash[0] = static_cast<uint8_t>(stored.seq);
    stored.event = std::move(event);
    events_.push_back(std::move(stored));
    return events_.back();
  }
  std::vector<StoredEvent> events_;
  std::map<std::string, uint32_t> versions_;
};

std::set<std::string> Recipients(const NotificationQueue& queue, uint64_t seq) {
  std::set<std::string> recipients;
  for (const auto& [key, job] : queue.jobs()) {
    if (key.seq == seq) recipients.insert(key.recipient);
  }
  return recipients;
}

// -- recipient rules ----------------------------------------------------------

TEST(Recipients, DecidedBySubscriptionsInForceAtTheEvent) {
  EventLog log;
  log.Subscribe("ana@example.org", {"mail"});
  const uint64_t opened = log.Open("INC-1", {"mail"}).seq;
  log.Subscribe("bob@example.org", {"mail"});
  const uint64_t updated = log.Update("INC-1", proto::INCIDENT_UPDATED, {}, "still down").seq;
  log.Unsubscribe("ana@example.org", {"mail"});
  const uint64_t closed = log.Update("INC-1", proto::INCIDENT_CLOSED, {}).seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(Recipients(queue, opened), (std::set<std::string>{"ana@example.org"}));  // bob came later
  EXPECT_EQ(Recipients(queue, updated), (std::set<std::string>{"ana@example.org", "bob@example.org"}));
  EXPECT_EQ(Recipients(queue, closed), (std::set<std::string>{"bob@example.org"}));  // ana left before
  EXPECT_EQ(queue.counts().pending, 4u);
}

TEST(Recipients, OneJobPerRecipientWhateverTheOverlap) {
  EventLog log;
  log.Subscribe("ana@example.org", {"mail", "vpn"});
  log.Subscribe("ana@example.org", {"*"});
  log.Subscribe("bob@example.org", {"VPN"});
  const uint64_t opened = log.Open("INC-1", {"Mail", "vpn", "dns"}).seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(Recipients(queue, opened), (std::set<std::string>{"ana@example.org", "bob@example.org"}));
  EXPECT_EQ(queue.jobs().size(), 2u);
}

TEST(Recipients, WildcardAndCaseInsensitiveSystems) {
  EventLog log;
  log.Subscribe("all@example.org", {"*"});
  log.Subscribe("dns@example.org", {"dns"});
  const uint64_t opened = log.Open("INC-1", {"DNS"}).seq;
  const uint64_t other = log.Open("INC-2", {"printing"}).seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(Recipients(queue, opened), (std::set<std::string>{"all@example.org", "dns@example.org"}));
  EXPECT_EQ(Recipients(queue, other), (std::set<std::string>{"all@example.org"}));
}

TEST(Recipients, SystemsDroppedByAnUpdateAreStillTold) {
  EventLog log;
  log.Subscribe("mail@example.org", {"mail"});
  log.Subscribe("vpn@example.org", {"vpn"});
  log.Open("INC-1", {"mail", "vpn"});
  const uint64_t narrowed = log.Update("INC-1", proto::INCIDENT_UPDATED, std::vector<std::string>{"mail"}).seq;
  const uint64_t next = log.Update("INC-1", proto::INCIDENT_UPDATED, {}, "note").seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(Recipients(queue, narrowed), (std::set<std::string>{"mail@example.org", "vpn@example.org"}));
  EXPECT_EQ(Recipients(queue, next), (std::set<std::string>{"mail@example.org"}));
}

TEST(Recipients, NoSubscribersNoJobsNoNotice) {
  EventLog log;
  const uint64_t opened = log.Open("INC-1", {"mail"}).seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_TRUE(queue.jobs().empty());
  EXPECT_EQ(queue.FindNotice(opened), nullptr);
}

// Internal incidents are not mailed to subscribers (notifications.h): not
// when opened internal, not from the update that hides one, again from the
// update that makes it public.
TEST(Recipients, InternalIncidentsMakeNoJobs) {
  EventLog log;
  log.Subscribe("ana@example.org", {"mail"});
  const uint64_t hidden = log.Open("INC-1", {"mail"}, proto::INTERNAL).seq;
  const uint64_t hidden_note = log.Update("INC-1", proto::INCIDENT_UPDATED, {}, "relay swapped").seq;
  const uint64_t shown = log.SetVisibility("INC-1", proto::EVERYONE).seq;
  const uint64_t shown_note = log.Update("INC-1", proto::INCIDENT_UPDATED, {}, "fixed").seq;
  const uint64_t public_open = log.Open("INC-2", {"mail"}).seq;
  const uint64_t hiding = log.SetVisibility("INC-2", proto::INTERNAL).seq;
  const uint64_t closed_hidden = log.Update("INC-2", proto::INCIDENT_CLOSED, {}).seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  const std::set<std::string> ana{"ana@example.org"};
  EXPECT_TRUE(Recipients(queue, hidden).empty());
  EXPECT_TRUE(Recipients(queue, hidden_note).empty());
  EXPECT_EQ(queue.FindNotice(hidden), nullptr);
  EXPECT_EQ(Recipients(queue, shown), ana);
  EXPECT_EQ(Recipients(queue, shown_note), ana);
  EXPECT_EQ(Recipients(queue, public_open), ana);
  EXPECT_TRUE(Recipients(queue, hiding).empty());
  EXPECT_TRUE(Recipients(queue, closed_hidden).empty());
  EXPECT_EQ(queue.jobs().size(), 3u);
}

TEST(Recipients, RemovingEverythingForgetsTheAddress) {
  EventLog log;
  log.Subscribe("ana@example.org", {"mail", "vpn"});
  log.Unsubscribe("ana@example.org", {"mail", "vpn"});
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(queue.subscriptions().Find("ana@example.org"), nullptr);
  EXPECT_TRUE(queue.subscriptions().by_email().empty());
}

// -- the queue fold -------------------------------------------------------------

TEST(QueueFold, ReceiptsMoveJobsThroughTheirStates) {
  EventLog log;
  log.Subscribe("a@example.org", {"mail"});
  log.Subscribe("b@example.org", {"mail"});
  log.Subscribe("c@example.org", {"mail"});
  const uint64_t opened = log.Open("INC-1", {"mail"}).seq;
  log.Receipt(proto::NOTIFICATION_DELIVERED, opened, "a@example.org");
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "b@example.org", /*server_unavailable=*/true);
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "b@example.org");
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "c@example.org");
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "c@example.org", false, /*gave_up=*/true);
  NotificationQueue queue;
  log.FoldInto(&queue);

  const projections::Job* a = queue.Find(JobKey{opened, "a@example.org"});
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->state, JobState::kSent);
  EXPECT_EQ(a->attempts, 1u);
  EXPECT_NE(a->sent_at_micros, 0);

  const projections::Job* b = queue.Find(JobKey{opened, "b@example.org"});
  EXPECT_EQ(b->state, JobState::kPending);
  EXPECT_EQ(b->attempts, 2u);
  EXPECT_EQ(b->job_failures, 1u);  // the unreachable server does not count
  EXPECT_EQ(b->last_error, "451 try later");

  const projections::Job* c = queue.Find(JobKey{opened, "c@example.org"});
  EXPECT_EQ(c->state, JobState::kFailed);
  EXPECT_EQ(c->attempts, 2u);

  EXPECT_EQ(queue.counts().pending, 1u);
  EXPECT_EQ(queue.counts().sent, 1u);
  EXPECT_EQ(queue.counts().failed, 1u);
  EXPECT_EQ(queue.pending(), (std::set<JobKey>{JobKey{opened, "b@example.org"}}));

  // The figures /metrics shows: the counts and the oldest pending job's event time.
  const projections::NotificationQueueStats stats = queue.stats();
  EXPECT_EQ(stats.jobs.pending, 1u);
  EXPECT_EQ(stats.jobs.sent, 1u);
  EXPECT_EQ(stats.jobs.failed, 1u);
  EXPECT_EQ(stats.oldest_pending_recorded_at_micros, log.events()[opened - 1].event.recorded_at_micros());
}

TEST(QueueFold, DuplicateAndOrphanReceiptsChangeNothing) {
  EventLog log;
  log.Subscribe("a@example.org", {"mail"});
  const uint64_t opened = log.Open("INC-1", {"mail"}).seq;
  log.Receipt(proto::NOTIFICATION_DELIVERED, opened, "a@example.org");
  log.Receipt(proto::NOTIFICATION_DELIVERED, opened, "a@example.org");
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "a@example.org", false, true);
  log.Receipt(proto::NOTIFICATION_DELIVERED, opened, "nobody@example.org");
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(queue.Find(JobKey{opened, "a@example.org"})->state, JobState::kSent);
  EXPECT_EQ(queue.Find(JobKey{opened, "a@example.org"})->attempts, 1u);
  EXPECT_EQ(queue.duplicate_deliveries(), 1u);
  EXPECT_EQ(queue.orphan_receipts(), 1u);
  EXPECT_EQ(queue.counts().sent, 1u);
  EXPECT_EQ(queue.counts().pending, 0u);
  const projections::NotificationQueueStats stats = queue.stats();
  EXPECT_EQ(stats.duplicate_deliveries, 1u);
  EXPECT_EQ(stats.orphan_receipts, 1u);
  EXPECT_EQ(stats.oldest_pending_recorded_at_micros, 0);  // nothing pending
}

TEST(QueueFold, ARetryMakesTheFailedJobsItNamesPendingWithAFreshRetryLimit) {
  EventLog log;
  for (const char* email : {"a@example.org", "b@example.org", "c@example.org"}) log.Subscribe(email, {"mail"});
  const uint64_t opened = log.Open("INC-1", {"mail"}).seq;
  log.Receipt(proto::NOTIFICATION_DELIVERED, opened, "a@example.org");
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "b@example.org");
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "b@example.org", false, /*gave_up=*/true);
  log.Receipt(proto::NOTIFICATION_FAILED, opened, "c@example.org", false, /*gave_up=*/true);
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(queue.failed(), (std::set<JobKey>{JobKey{opened, "b@example.org"}, JobKey{opened, "c@example.org"}}));

  // b is retried; a (sent), an unknown job and c (not named) stay as they are.
  EventLog more = log;
  more.Retry({JobKey{opened, "a@example.org"}, JobKey{opened, "b@example.org"}, JobKey{opened + 99, "x@example.org"}});
  NotificationQueue retried;
  more.FoldInto(&retried);
  const projections::Job* b = retried.Find(JobKey{opened, "b@example.org"});
  EXPECT_EQ(b->state, JobState::kPending);
  EXPECT_EQ(b->job_failures, 0u);  // a fresh budget of attempts
  EXPECT_EQ(b->attempts, 2u);      // history stays
  EXPECT_EQ(b->last_error, "451 try later");
  EXPECT_EQ(retried.Find(JobKey{opened, "a@example.org"})->state, JobState::kSent);
  EXPECT_EQ(retried.Find(JobKey{opened, "c@example.org"})->state, JobState::kFailed);
  EXPECT_EQ(retried.pending(), (std::set<JobKey>{JobKey{opened, "b@example.org"}}));
  EXPECT_EQ(retried.failed(), (std::set<JobKey>{JobKey{opened, "c@example.org"}}));
  EXPECT_EQ(retried.counts().pending, 1u);
  EXPECT_EQ(retried.counts().sent, 1u);
  EXPECT_EQ(retried.counts().failed, 1u);
  EXPECT_EQ(retried.orphan_receipts(), 0u);

  // Then delivered: sent like any other job; a second retry of it changes nothing.
  more.Receipt(proto::NOTIFICATION_DELIVERED, opened, "b@example.org");
  more.Retry({JobKey{opened, "b@example.org"}});
  NotificationQueue delivered;
  more.FoldInto(&delivered);
  EXPECT_EQ(delivered.Find(JobKey{opened, "b@example.org"})->state, JobState::kSent);
  EXPECT_EQ(delivered.Find(JobKey{opened, "b@example.org"})->attempts, 3u);
  EXPECT_EQ(delivered.counts().sent, 2u);
  EXPECT_EQ(delivered.counts().failed, 1u);
}

TEST(Retry, ParsesFiltersAndRefusesWhatItCannotUse) {
  Result<ingest::RetryCommand> all = ingest::ParseRetryJson("{}");
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_FALSE(all->ticket || all->seq || all->recipient);
  EXPECT_EQ(all->actor, "anonymous");

  Result<ingest::RetryCommand> some =
      ingest::ParseRetryJson(R"({"ticket":"inc-7","seq":12,"recipient":" Ana@Example.ORG ","actor":"Bo"})");
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_EQ(some->ticket, "INC-7");
  EXPECT_EQ(some->seq, 12u);
  EXPECT_EQ(some->recipient, "ana@example.org");
  EXPECT_EQ(some->actor, "Bo");

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"[]", ""},
      {"not json", ""},
      {R"({"state":"failed"})", "state"},
      {R"({"seq":0})", "seq"},
      {R"({"seq":-3})", "seq"},
      {R"({"seq":"12"})", "seq"},
      {R"({"seq":1.5})", "seq"},
      {R"({"ticket":"mail"})", "ticket"},
      {R"({"recipient":"nobody"})", "recipient"},
      {R"({"ticket":"INC-1","ticket":"INC-2"})", "ticket"},
      {R"({"actor":"two\nlines"})", "actor"},
      {R"({"recipient":{"a":1}})", "recipient"},
  };
  for (const auto& [body, field] : refused) {
    Result<ingest::RetryCommand> parsed = ingest::ParseRetryJson(body);
    ASSERT_FALSE(parsed) << body;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << body;
    if (!field.empty()) {
      EXPECT_EQ(parsed.error().field, field) << body << ": " << parsed.error().message;
    }
  }
}

TEST(Retry, PlansTheFailedJobsEveryFilterMatches) {
  EventLog log;
  for (const char* email : {"a@example.org", "b@example.org"}) log.Subscribe(email, {"mail"});
  const uint64_t first = log.Open("INC-1", {"mail"}).seq;
  const uint64_t second = log.Open("INC-2", {"mail"}).seq;
  log.Receipt(proto::NOTIFICATION_FAILED, first, "a@example.org", false, true);
  log.Receipt(proto::NOTIFICATION_FAILED, first, "b@example.org", false, true);
  log.Receipt(proto::NOTIFICATION_FAILED, second, "a@example.org", false, true);
  log.Receipt(proto::NOTIFICATION_DELIVERED, second, "b@example.org");
  NotificationQueue queue;
  log.FoldInto(&queue);

  const auto planned = [&](ingest::RetryCommand command) {
    std::vector<std::string> jobs;
    const ingest::RetryPlan plan = ingest::PlanRetry(queue, command);
    EXPECT_EQ(plan.event.type(), proto::NOTIFICATION_RETRY_REQUESTED);
    EXPECT_EQ(plan.remaining, 0u);
    for (const proto::RetriedJob& job : plan.event.retry().jobs()) {
      jobs.push_back(std::to_string(job.incident_seq()) + " " + job.recipient() + " " + job.ticket());
    }
    return jobs;
  };
  const std::string s1 = std::to_string(first);
  const std::string s2 = std::to_string(second);
  EXPECT_EQ(planned({}), (std::vector<std::string>{s1 + " a@example.org INC-1", s1 + " b@example.org INC-1",
                                                    s2 + " a@example.org INC-2"}));
  EXPECT_EQ(planned({.ticket = "INC-2"}), (std::vector<std::string>{s2 + " a@example.org INC-2"}));
  EXPECT_EQ(planned({.seq = first, .recipient = "b@example.org"}), (std::vector<std::string>{s1 + " b@example.org INC-1"}));
  EXPECT_EQ(planned({.recipient = "a@example.org"}),
            (std::vector<std::string>{s1 + " a@example.org INC-1", s2 + " a@example.org INC-2"}));
  EXPECT_EQ(planned({.seq = second, .recipient = "b@example.org"}), std::vector<std::string>{});  // sent, not failed
  EXPECT_EQ(planned({.ticket = "INC-3"}), std::vector<std::string>{});
}

TEST(QueueFold, NoticeHoldsTheTicketAsItStoodAtTheEvent) {
  EventLog log;
  log.Subscribe("a@example.org", {"mail"});
  const uint64_t opened = log.Open("INC-1", {"mail"}).seq;
  const uint64_t noted = log.Update("INC-1", proto::INCIDENT_UPDATED, {}, "MX draining").seq;
  const uint64_t closed = log.Update("INC-1", proto::INCIDENT_CLOSED, {}).seq;
  NotificationQueue queue;
  log.FoldInto(&queue);
  EXPECT_EQ(queue.FindNotice(opened)->ticket_state.status, projections::TicketStatus::kOpen);
  EXPECT_EQ(queue.FindNotice(noted)->changed, (std::vector<std::string>{"note"}));
  EXPECT_EQ(queue.FindNotice(noted)->ticket_state.last_note, "MX draining");
  EXPECT_EQ(queue.FindNotice(closed)->ticket_state.status, projections::TicketStatus::kClosed);
  EXPECT_TRUE(queue.FindNotice(closed)->ticket_state.periods.back().end.has_value());
}

// Folding the same events in one go or in random batches through the model
// gives the same queue (the model is what the commit listener feeds).
TEST(QueueFold, BatchedEqualsWholeWithRandomEvents) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  EventLog log;
  const std::vector<std::string> emails = {"a@example.org", "b@example.org", "c@example.org", "d@example.org"};
  const std::vector<std::string> systems = {"mail", "vpn", "dns", "*"};
  std::vector<uint64_t> incident_seqs;
  int tickets = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string& email = emails[random() % emails.size()];
    switch (random() % 5) {
      case 0: log.Subscribe(email, {systems[random() % systems.size()]}); break;
      case 1: log.Unsubscribe(email, {systems[random() % systems.size()]}); break;
      case 2: incident_seqs.push_back(log.Open("INC-" + std::to_string(++tickets), {systems[random() % 3]}).seq); break;
      case 3:
        if (tickets > 0) {
          incident_seqs.push_back(
              log.Update("INC-" + std::to_string(1 + random() % tickets), proto::INCIDENT_UPDATED, {}, "n").seq);
        }
        break;
      default:
        if (!incident_seqs.empty()) {
          const uint64_t seq = incident_seqs[random() % incident_seqs.size()];
          const proto::EventType type = random() % 2 ? proto::NOTIFICATION_DELIVERED : proto::NOTIFICATION_FAILED;
          log.Receipt(type, seq, email, random() % 2 == 0, random() % 4 == 0);
        }
    }
  }
  NotificationQueue whole;
  log.FoldInto(&whole);
  projections::NotificationModel model;
  size_t next = 0;
  while (next < log.events().size()) {
    const size_t batch = 1 + random() % 17;
    std::vector<StoredEvent> events(log.events().begin() + static_cast<long>(next),
                                    log.events().begin() + static_cast<long>(std::min(next + batch, log.events().size())));
    model.Apply(events);
    next += events.size();
  }
  model.Read([&](const NotificationQueue& batched, uint64_t applied_seq) {
    EXPECT_EQ(applied_seq, log.events().size());
    ASSERT_EQ(batched.jobs().size(), whole.jobs().size());
    for (const auto& [key, job] : whole.jobs()) {
      const projections::Job* other = batched.Find(key);
      ASSERT_NE(other, nullptr);
      EXPECT_EQ(other->state, job.state);
      EXPECT_EQ(other->attempts, job.attempts);
      EXPECT_EQ(other->job_failures, job.job_failures);
    }
    EXPECT_EQ(batched.pending(), whole.pending());
    EXPECT_EQ(batched.counts().sent, whole.counts().sent);
    EXPECT_EQ(batched.counts().failed, whole.counts().failed);
    uint64_t pending = 0;
    for (const auto& [key, job] : whole.jobs()) pending += job.state == JobState::kPending ? 1 : 0;
    EXPECT_EQ(whole.counts().pending, pending);
  });
}

// The same history twice: each receipt its own event, and runs of receipts
// (for distinct jobs) recorded together as NOTIFICATION_RECEIPTS events, the
// way the delivery worker batches them. Both folds agree on every job,
// count and counter; a batched job's last receipt is its batch.
TEST(QueueFold, ReceiptBatchesFoldAsTheirReceiptsOneByOne) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  EventLog single;
  EventLog batched;
  const std::vector<std::string> emails = {"a@example.org", "b@example.org", "c@example.org", "d@example.org",
                                           "nobody@example.org"};
  std::vector<std::pair<uint64_t, uint64_t>> incidents;  // seq in `single`, seq in `batched`
  std::vector<EventLog::ReceiptSpec> run;                // receipts not yet written to `batched`
  std::set<JobKey> run_jobs;
  uint64_t batches = 0;
  const auto flush = [&] {
    if (run.size() == 1) {
      const EventLog::ReceiptSpec& spec = run.front();
      batched.Receipt(spec.delivered ? proto::NOTIFICATION_DELIVERED : proto::NOTIFICATION_FAILED, spec.incident_seq,
                      spec.recipient, spec.server_unavailable, spec.gave_up);
    } else if (run.size() > 1) {
      batched.Receipts(run);
      batches += 1;
    }
    run.clear();
    run_jobs.clear();
  };
  int tickets = 0;
  for (int i = 0; i < 600; ++i) {
    const std::string& email = emails[random() % (emails.size() - 1)];
    const unsigned kind = random() % 8;
    if (kind >= 3 && !incidents.empty()) {
      const auto [seq_single, seq_batched] = incidents[random() % incidents.size()];
      EventLog::ReceiptSpec spec{.delivered = random() % 2 == 0,
                                 .incident_seq = seq_batched,
                                 .recipient = emails[random() % emails.size()],
                                 .server_unavailable = random() % 3 == 0,
                                 .gave_up = random() % 4 == 0};
      if (run_jobs.contains(JobKey{spec.incident_seq, spec.recipient}) || random() % 9 == 0) flush();
      single.Receipt(spec.delivered ? proto::NOTIFICATION_DELIVERED : proto::NOTIFICATION_FAILED, seq_single,
                     spec.recipient, spec.server_unavailable, spec.gave_up);
      run_jobs.insert(JobKey{spec.incident_seq, spec.recipient});
      run.push_back(std::move(spec));
      continue;
    }
    flush();
    switch (kind) {
      case 0: {
        const std::vector<std::string> systems = {random() % 2 ? "mail" : "*"};
        single.Subscribe(email, systems);
        batched.Subscribe(email, systems);
        break;
      }
      case 1:
        single.Unsubscribe(email, {"mail"});
        batched.Unsubscribe(email, {"mail"});
        break;
      default: {
        const std::string ticket = "INC-" + std::to_string(++tickets);
        incidents.emplace_back(single.Open(ticket, {"mail"}).seq, batched.Open(ticket, {"mail"}).seq);
      }
    }
  }
  flush();
  ASSERT_GT(batches, 10u);
  NotificationQueue one_by_one;
  single.FoldInto(&one_by_one);
  NotificationQueue together;
  batched.FoldInto(&together);
  ASSERT_EQ(one_by_one.jobs().size(), together.jobs().size());
  for (const auto& [seq_single, seq_batched] : incidents) {
    for (const std::string& email : emails) {
      const projections::Job* a = one_by_one.Find(JobKey{seq_single, email});
      const projections::Job* b = together.Find(JobKey{seq_batched, email});
      ASSERT_EQ(a == nullptr, b == nullptr) << email;
      if (a == nullptr) continue;
      EXPECT_EQ(a->state, b->state) << email;
      EXPECT_EQ(a->attempts, b->attempts) << email;
      EXPECT_EQ(a->job_failures, b->job_failures) << email;
      EXPECT_EQ(a->last_error, b->last_error) << email;
      EXPECT_EQ(a->last_failure_server_unavailable, b->last_failure_server_unavailable) << email;
      if (b->attempts == 0) continue;
      // Its last receipt is the event (single or batch) that holds it.
      const proto::Event& last = batched.events()[b->last_receipt_seq - 1].event;
      bool holds = false;
      if (last.has_notification()) holds = last.notification().recipient() == email;
      for (const auto& list : {last.receipts().delivered(), last.receipts().failed()}) {
        for (const proto::NotificationReceipt& receipt : list) {
          holds = holds || (receipt.recipient() == email && receipt.incident_seq() == seq_batched);
        }
      }
      EXPECT_TRUE(holds) << email << " last receipt " << b->last_receipt_seq;
      EXPECT_EQ(b->last_attempt_at_micros, last.recorded_at_micros()) << email;
    }
  }
  EXPECT_EQ(one_by_one.pending().size(), together.pending().size());
  EXPECT_EQ(one_by_one.counts().pending, together.counts().pending);
  EXPECT_EQ(one_by_one.counts().sent, together.counts().sent);
  EXPECT_EQ(one_by_one.counts().failed, together.counts().failed);
  EXPECT_EQ(one_by_one.duplicate_deliveries(), together.duplicate_deliveries());
  EXPECT_EQ(one_by_one.orphan_receipts(), together.orphan_receipts());
  EXPECT_GT(one_by_one.orphan_receipts(), 0u);
}

// -- addresses and subscription bodies ----------------------------------------

TEST(Email, ValidatedAndNormalised) {
  EXPECT_EQ(*ingest::NormalizeEmail("  Ana.Ruiz+ops@Example.ORG "), "ana.ruiz+ops@example.org");
  EXPECT_EQ(*ingest::NormalizeEmail("o'brien@mail.example.co.uk"), "o'brien@mail.example.co.uk");
  for (const char* bad : {"", "ana", "ana@", "@example.org", "ana@@example.org", "a@b@example.org", "ana@localhost",
                          "ana@example.123", "ana@-example.org", "ana@exa_mple.org", ".ana@example.org",
                          "ana..r@example.org", "ana r@example.org", "ana@example..org", "\"ana\"@example.org",
                          "ana@[127.0.0.1]", "ana@example.org\r\nBcc: x@example.org", "ana\n@example.org",
                          "Ana <ana@example.org>", "ännä@example.org"}) {
    Result<std::string> result = ingest::NormalizeEmail(bad);
    EXPECT_FALSE(result) << "accepted " << bad;
    if (!result) {
      EXPECT_EQ(result.error().field, "email");
    }
  }
  EXPECT_FALSE(ingest::NormalizeEmail(std::string(65, 'a') + "@example.org"));
  EXPECT_FALSE(ingest::NormalizeEmail("a@" + std::string(250, 'b') + ".org"));
}

TEST(SubscriptionBody, ParsesAndRefusesByField) {
  Result<ingest::SubscriptionCommand> added = ingest::ParseSubscriptionJson(
      R"({"email":"Ana@Example.org","systems":[" Mail ","mail","VPN"],"actor":"desk"})", ingest::SubscriptionAction::kAdd);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->email, "ana@example.org");
  EXPECT_EQ(added->systems, (std::vector<std::string>{"mail", "vpn"}));
  EXPECT_EQ(added->actor, "desk");

  Result<ingest::SubscriptionCommand> all =
      ingest::ParseSubscriptionJson(R"({"email":"a@example.org","systems":["mail","*"]})", ingest::SubscriptionAction::kRemove);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->systems.empty());  // "*" in a removal: everything

  const auto field_of = [](std::string_view body, ingest::SubscriptionAction action) {
    Result<ingest::SubscriptionCommand> parsed = ingest::ParseSubscriptionJson(body, action);
    return parsed ? std::string("<accepted>") : parsed.error().field;
  };
  using enum ingest::SubscriptionAction;
  EXPECT_EQ(field_of(R"({"systems":["mail"]})", kAdd), "email");
  EXPECT_EQ(field_of(R"({"email":"a@example.org"})", kAdd), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":[]})", kAdd), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":"mail"})", kAdd), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":["ma\nil"]})", kAdd), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":["mail"],"cc":"x"})", kAdd), "cc");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","email":"b@example.org","systems":["mail"]})", kAdd), "email");
  EXPECT_EQ(field_of(R"({"email":"nope","systems":["mail"]})", kAdd), "email");
  EXPECT_EQ(field_of(R"([1])", kAdd), "");
  EXPECT_EQ(field_of(R"({"email":"a@example.org"})", kRemove), "<accepted>");
}

// -- the processor on a real ledger --------------------------------------------

TEST(SubscriptionProcessor, AppendsOnlyChanges) {
  TempDir dir;
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir.Sub("db")});
  ASSERT_TRUE(opened);
  Result<std::unique_ptr<ingest::SubscriptionProcessor>> processor = ingest::SubscriptionProcessor::Create(opened->get());
  ASSERT_TRUE(processor);
  const auto command = [](ingest::SubscriptionAction action, std::vector<std::string> systems) {
    return ingest::SubscriptionCommand{.action = action, .email = "a@example.org", .systems = std::move(systems), .actor = "t"};
  };
  using enum ingest::SubscriptionAction;
  Result<ingest::SubscriptionResult> first = (*processor)->Submit(command(kAdd, {"mail", "vpn"}));
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->repeated);
  EXPECT_EQ(first->seq, 1u);
  Result<ingest::SubscriptionResult> again = (*processor)->Submit(command(kAdd, {"vpn"}));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(again->seq, 1u);
  EXPECT_EQ(again->systems_now, (std::vector<std::string>{"mail", "vpn"}));
  Result<ingest::SubscriptionResult> more = (*processor)->Submit(command(kAdd, {"vpn", "dns"}));
  ASSERT_TRUE(more);
  EXPECT_EQ(more->stored.event.subscription().systems_size(), 1);  // only dns is new
  Result<ingest::SubscriptionResult> removed = (*processor)->Submit(command(kRemove, {"mail", "printing"}));
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->systems_now, (std::vector<std::string>{"dns", "vpn"}));
  Result<ingest::SubscriptionResult> nothing = (*processor)->Submit(command(kRemove, {"mail"}));
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, ErrorCode::kNotFound);
  Result<ingest::SubscriptionResult> everything = (*processor)->Submit(command(kRemove, {}));
  ASSERT_TRUE(everything);
  EXPECT_TRUE(everything->systems_now.empty());
  EXPECT_EQ((*opened)->head().seq, 4u);

  // A fresh processor folds the same state from the log.
  Result<std::unique_ptr<ingest::SubscriptionProcessor>> reloaded = ingest::SubscriptionProcessor::Create(opened->get());
  ASSERT_TRUE(reloaded);
  EXPECT_FALSE((*reloaded)->Submit(command(kRemove, {})));
}

// -- the mail -------------------------------------------------------------------

projections::Notice SampleNotice(const std::string& title, const std::string& note) {
  EventLog log;
  log.Subscribe("a@example.org", {"mail"});
  const uint64_t opened = log.Open("INC-7", {"mail"}).seq;
  proto::Event& event = const_cast<proto::Event&>(log.events().back().event);
  event.mutable_incident()->set_title(title);
  event.mutable_incident()->set_note(note);
  event.mutable_incident()->set_link("https://tickets.example/7");
  NotificationQueue queue;
  log.FoldInto(&queue);
  return *queue.FindNotice(opened);
}

std::string HeaderBlock(const std::string& text) { return text.substr(0, text.find("\r\n\r\n") + 2); }

TEST(Message, CarriesTheIncidentAndIsDeterministic) {
  const projections::Notice notice = SampleNotice("Mail delayed", "MX queue draining");
  projections::Job job;
  job.key = JobKey{notice.seq, "a@example.org"};
  job.ticket = "INC-7";
  Result<notify::Mail> mail = notify::ComposeMail(notice, job, "noc@example.org");
  ASSERT_TRUE(mail) << mail.error().message;
  EXPECT_EQ(mail->envelope_to, "a@example.org");
  EXPECT_EQ(mail->subject, "[INC-7] Opened: Mail delayed");
  const std::string& text = mail->text;
  for (const char* part : {"Subject: [INC-7] Opened: Mail delayed\r\n", "To: <a@example.org>\r\n",
                           "Ticket:    INC-7", "Status:    open", "Impact:    full", "Phase:     investigating",
                           "Systems:   mail", "Engineer:  Ana",
                           "End:       ongoing", "MX queue draining", "https://tickets.example/7"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " missing in\n" << text;
  }
  EXPECT_NE(text.find("Message-ID: " + mail->message_id + "\r\n"), std::string::npos);
  EXPECT_TRUE(mail->message_id.starts_with("<inc-7." + std::to_string(notice.seq) + "."));
  EXPECT_TRUE(mail->message_id.ends_with("@example.org>"));
  Result<notify::Mail> again = notify::ComposeMail(notice, job, "noc@example.org");
  EXPECT_EQ(again->text, mail->text);
  job.key.recipient = "b@example.org";
  EXPECT_NE(notify::ComposeMail(notice, job, "noc@example.org")->message_id, mail->message_id);
}

TEST(Message, CarriesTheTreeHeadFoldedOneFieldPerLine) {
  const projections::Notice notice = SampleNotice("Mail delayed", "MX queue draining");
  projections::Job job;
  job.key = JobKey{notice.seq, "a@example.org"};
  job.ticket = "INC-7";
  const std::string value = "size=7; root=" + std::string(64, 'a') + "; time=2026-11-24T07:40:00Z; sig=" +
                            std::string(86, 'B') + "==";
  Result<notify::Mail> mail = notify::ComposeMail(notice, job, "noc@example.org", value);
  ASSERT_TRUE(mail) << mail.error().message;
  const std::string headers = HeaderBlock(mail->text);
  const std::string expected = "X-Ledger-Tree-Head: size=7;\r\n root=" + std::string(64, 'a') +
                               ";\r\n time=2026-11-24T07:40:00Z;\r\n sig=" + std::string(86, 'B') + "==\r\n";
  EXPECT_NE(headers.find(expected), std::string::npos) << headers;
  EXPECT_EQ(notify::ComposeMail(notice, job, "noc@example.org", value)->text, mail->text);
  // Without a head, no header; a value that could break the header block is refused.
  EXPECT_EQ(notify::ComposeMail(notice, job, "noc@example.org")->text.find("X-Ledger-Tree-Head"), std::string::npos);
  EXPECT_FALSE(notify::ComposeMail(notice, job, "noc@example.org", "size=1\r\nBcc: x@example.org"));
}

TEST(Message, SubscriberMailsCarryOneClickUnsubscribeAndTheIncidentPage) {
  const projections::Notice notice = SampleNotice("Mail delayed", "MX queue draining");
  projections::Job job;
  job.key = JobKey{notice.seq, "a@example.org"};
  job.ticket = "INC-7";
  const notify::MailLinks links{.unsubscribe_url = "https://status.example.org/unsubscribe?token=abc.def",
                                .page_url = "https://status.example.org/incidents/INC-7"};
  Result<notify::Mail> mail = notify::ComposeMail(notice, job, "noc@example.org", {}, links);
  ASSERT_TRUE(mail) << mail.error().message;
  const std::string headers = HeaderBlock(mail->text);
  EXPECT_NE(headers.find("List-Unsubscribe:\r\n <https://status.example.org/unsubscribe?token=abc.def>\r\n"),
            std::string::npos)
      << headers;
  EXPECT_NE(headers.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), std::string::npos) << headers;
  const std::string body = mail->text.substr(headers.size());
  EXPECT_NE(body.find("https://status.example.org/incidents/INC-7"), std::string::npos) << body;
  EXPECT_NE(body.find("To stop these mails, open"), std::string::npos) << body;
  EXPECT_EQ(notify::ComposeMail(notice, job, "noc@example.org", {}, links)->text, mail->text);
  // No links: no headers.
  EXPECT_EQ(notify::ComposeMail(notice, job, "noc@example.org")->text.find("List-Unsubscribe"), std::string::npos);
  // A link that could break the header is refused.
  for (const char* bad : {"https://x.example.org/u?t=1\r\nBcc: v@example.org", "javascript:alert(1)",
                          "https://x.example.org/<u>", "https://x.example.org/a b"}) {
    EXPECT_FALSE(notify::ComposeMail(notice, job, "noc@example.org", {}, notify::MailLinks{.unsubscribe_url = bad}))
        << bad;
    EXPECT_FALSE(notify::ComposeMail(notice, job, "noc@example.org", {}, notify::MailLinks{.page_url = bad})) << bad;
  }
}

TEST(Message, ConfirmationMailCarriesItsLinks) {
  Result<notify::Mail> mail = notify::ComposeConfirmationMail(
      "noc@example.org", "ana@example.org", {"mail", "<b>vpn</b>"}, "https://s.example.org/subscribe/confirm?token=x.y",
      "https://s.example.org/unsubscribe?token=u.v", 1'700'000'000'000'000);
  ASSERT_TRUE(mail) << mail.error().message;
  EXPECT_EQ(mail->envelope_to, "ana@example.org");
  const std::string headers = HeaderBlock(mail->text);
  EXPECT_NE(headers.find("List-Unsubscribe:\r\n <https://s.example.org/unsubscribe?token=u.v>\r\n"),
            std::string::npos);
  EXPECT_NE(mail->text.find("https://s.example.org/subscribe/confirm?token=3Dx.y"), std::string::npos)
      << mail->text;  // quoted-printable: "=" is "=3D"
  EXPECT_NE(mail->text.find("<b>vpn</b>"), std::string::npos);  // plain text, kept as typed
  EXPECT_FALSE(notify::ComposeConfirmationMail("noc@example.org", "ana@example.org\r\nBcc: v@example.org", {"mail"},
                                               "https://s.example.org/c", "", 0));
}

TEST(Message, UserTextCannotInjectHeaders) {
  // Ingest refuses control characters in a title; the mail must hold even if one got through.
  const projections::Notice notice =
      SampleNotice("Down\r\nBcc: victim@example.org\r\n\r\nfake body", "line\r\n.\r\nMAIL FROM:<x@example.org>");
  projections::Job job;
  job.key = JobKey{notice.seq, "a@example.org"};
  job.ticket = "INC-7";
  Result<notify::Mail> mail = notify::ComposeMail(notice, job, "noc@example.org");
  ASSERT_TRUE(mail);
  const std::string headers = HeaderBlock(mail->text);
  EXPECT_EQ(headers.find("\r\nBcc:"), std::string::npos) << headers;
  EXPECT_EQ(mail->subject.find('\n'), std::string::npos);
  EXPECT_EQ(mail->subject.find('\r'), std::string::npos);
  // Every header line is a known header or a folded continuation.
  size_t start = 0;
  while (start < headers.size()) {
    const size_t end = headers.find("\r\n", start);
    const std::string line = headers.substr(start, end - start);
    EXPECT_TRUE(line.empty() || line[0] == ' ' || line.find(':') != std::string::npos) << line;
    start = end + 2;
  }
  // The body is quoted-printable: no bare "." line, no line over 76 bytes,
  // CR and LF only as CRLF.
  const std::string body = mail->text.substr(headers.size() + 2);
  EXPECT_EQ(body.find("\r\n.\r\n"), std::string::npos);
  size_t line_start = 0;
  while (line_start < body.size()) {
    size_t end = body.find("\r\n", line_start);
    if (end == std::string::npos) end = body.size();
    EXPECT_LE(end - line_start, notify::kQuotedPrintableLineBytesMax);
    const std::string line = body.substr(line_start, end - line_start);
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    line_start = end + 2;
  }
}

TEST(Message, RefusesAnUnsafeRecipient) {
  const projections::Notice notice = SampleNotice("t", "n");
  projections::Job job;
  job.key = JobKey{notice.seq, "a@example.org>\r\nRCPT TO:<b@example.org"};
  EXPECT_FALSE(notify::ComposeMail(notice, job, "noc@example.org"));
}

TEST(Message, EncodedWordsAndQuotedPrintable) {
  const std::string subject = notify::EncodeHeaderText("Störung: Mail — " + std::string(100, 'x'), 7);
  EXPECT_TRUE(subject.starts_with("=?UTF-8?B?"));
  size_t start = 0;
  while (start < subject.size()) {
    size_t end = subject.find("\r\n", start);
    if (end == std::string::npos) end = subject.size();
    EXPECT_LE(end - start, 76u);
    start = end + 2;
  }
  EXPECT_EQ(notify::EncodeHeaderText("plain words", 7), "plain words");
  EXPECT_EQ(notify::QuotedPrintable("a=b \nc\t"), "a=3Db=20\r\nc=09");  // trailing blanks encoded
  EXPECT_EQ(notify::QuotedPrintable(".dot"), "=2Edot");
  EXPECT_EQ(notify::HeaderSafe("a\r\n\tb  c\x7f"), "a b c");
  EXPECT_EQ(notify::Rfc5322Date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
}

// -- failure classes and delays ---------------------------------------------------

TEST(Delivery, ClassifiesFailures) {
  using notify::SendOutcome;
  EXPECT_EQ(notify::ClassifySmtpFailure(7 /*CURLE_COULDNT_CONNECT*/, 0, "Failed to connect"), SendOutcome::kServerUnavailable);
  EXPECT_EQ(notify::ClassifySmtpFailure(55, 451, "RCPT failed: 451"), SendOutcome::kTransient);
  EXPECT_EQ(notify::ClassifySmtpFailure(55, 550, "RCPT failed: 550"), SendOutcome::kPermanent);
  EXPECT_EQ(notify::ClassifySmtpFailure(55, 550, "MAIL failed: 550"), SendOutcome::kServerUnavailable);
  EXPECT_EQ(notify::ClassifySmtpFailure(8, 421, "weird"), SendOutcome::kServerUnavailable);
  EXPECT_EQ(notify::ClassifySmtpFailure(67 /*CURLE_LOGIN_DENIED*/, 535, "login denied"), SendOutcome::kServerUnavailable);
  EXPECT_EQ(notify::ClassifySmtpFailure(42 /*CURLE_ABORTED_BY_CALLBACK*/, 0, ""), SendOutcome::kAborted);
}

TEST(Delivery, RetryDelayDoublesUpToTheCap) {
  notify::DeliveryOptions options;
  options.retry_delay_initial_ms = 100;
  options.retry_delay_max_ms = 1000;
  EXPECT_EQ(notify::RetryDelayMs(options, 1), 100);
  EXPECT_EQ(notify::RetryDelayMs(options, 2), 200);
  EXPECT_EQ(notify::RetryDelayMs(options, 4), 800);
  EXPECT_EQ(notify::RetryDelayMs(options, 5), 1000);
  EXPECT_EQ(notify::RetryDelayMs(options, 1000), 1000);
}

// -- the worker against a fake sender on a real ledger ----------------------------

class FakeSmtp {
 public:
  enum class Mode { kAccept, kDown, kTempFail, kReject };
  void set_mode(Mode mode) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
  }
  void set_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    delay_ = delay;
  }
  notify::SendResult Send(const notify::Mail& mail) {
    std::chrono::milliseconds delay{0};
    {
      std::lock_guard lock(mutex_);
      delay = delay_;
    }
    std::this_thread::sleep_for(delay);
    std::lock_guard lock(mutex_);
    attempts_ += 1;
    switch (mode_) {
      case Mode::kDown: return {notify::SendOutcome::kServerUnavailable, 0, "Failed to connect"};
      case Mode::kTempFail: return {notify::SendOutcome::kTransient, 451, "RCPT failed: 451"};
      case Mode::kReject: return {notify::SendOutcome::kPermanent, 550, "RCPT failed: 550"};
      case Mode::kAccept: break;
    }
    accepted_[mail.envelope_to] += 1;
    return {};
  }
  std::map<std::string, int> accepted() {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  int attempts() {
    std::lock_guard lock(mutex_);
    return attempts_;
  }

 private:
  std::mutex mutex_;
  Mode mode_ = Mode::kAccept;
  std::chrono::milliseconds delay_{0};
  std::map<std::string, int> accepted_;
  int attempts_ = 0;
};

class SenderToFake final : public notify::MailSender {
 public:
  explicit SenderToFake(FakeSmtp* smtp) : smtp_(smtp) {}
  notify::SendResult Send(const notify::Mail& mail) override { return smtp_->Send(mail); }

 private:
  FakeSmtp* smtp_;
};

struct WorkerRig {
  TempDir dir;
  std::unique_ptr<Ledger> ledger;
  projections::NotificationModel model;
  std::unique_ptr<ingest::SubscriptionProcessor> subscriptions;
  std::unique_ptr<notify::DeliveryWorker> worker;
  FakeSmtp smtp;

  void Open() {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir.Sub("db")});
    ASSERT_TRUE(opened);
    ledger = std::move(*opened);
    ASSERT_TRUE(model.Rebuild(*ledger));
    ledger->SetCommitListener([this](const std::vector<StoredEvent>& events) {
      model.Apply(events);
      if (worker) worker->Wake();
    });
    Result<std::unique_ptr<ingest::SubscriptionProcessor>> processor = ingest::SubscriptionProcessor::Create(ledger.get());
    ASSERT_TRUE(processor);
    subscriptions = std::move(*processor);
  }
  // A restart: stops the worker and the ledger and hands the ledger's folder
  // to `next`, a rig not yet opened.
  void RestartInto(WorkerRig* next) {
    worker->Stop();
    ledger->Shutdown();
    worker.reset();
    ledger.reset();
    std::filesystem::rename(dir.Sub("db"), next->dir.Sub("db"));
  }
  void StartWorker(uint32_t attempts_max = 3, size_t receipts_per_event_max = notify::kReceiptsPerEventMax,
                   int64_t receipt_linger_ms = 200) {
    notify::DeliveryOptions options;
    options.receipts_per_event_max = receipts_per_event_max;
    options.receipt_linger_ms = receipt_linger_ms;
    options.smtp.from = "noc@example.org";
    options.concurrency = 3;
    options.retry_delay_initial_ms = 20;
    options.retry_delay_max_ms = 80;
    options.attempts_max = attempts_max;
    Result<std::unique_ptr<notify::DeliveryWorker>> started = notify::DeliveryWorker::Start(
        options, ledger.get(), &model,
        [this](const std::atomic<bool>*) { return std::make_unique<SenderToFake>(&smtp); });
    ASSERT_TRUE(started);
    worker = std::move(*started);
  }
  void Subscribe(const std::string& email) {
    ASSERT_TRUE(subscriptions->Submit(ingest::SubscriptionCommand{
        .action = ingest::SubscriptionAction::kAdd, .email = email, .systems = {"mail"}, .actor = "t"}));
  }
  void OpenIncident() {
    Result<Appended> appended = ledger->Append([](AppendContext& context) -> Result<Decision> {
      proto::Event event;
      event.set_type(proto::INCIDENT_OPENED);
      event.set_ticket(projections::TicketName::Format(context.AllocateTicketNumber()));
      event.set_version(1);
      event.mutable_incident()->set_title("Mail delayed");
      event.mutable_incident()->mutable_systems()->add_names("mail");
      return Decision{.event = std::move(event), .repeat_of_seq = {}};
    });
    ASSERT_TRUE(appended);
  }
  // Every receipt in the log, batches opened up: how many times each job
  // has one, and how many events hold them.
  struct LoggedReceipts {
    std::map<JobKey, int> per_job;
    size_t events = 0;
    size_t batches = 0;
    size_t largest_batch = 0;
  };
  LoggedReceipts Logged() {
    LoggedReceipts logged;
    Status read = ledger->ForEach(0, [&](const StoredEvent& stored) -> Result<Flow> {
      const proto::Event& event = stored.event;
      if (event.has_notification()) {
        logged.events += 1;
        logged.per_job[JobKey{event.notification().incident_seq(), event.notification().recipient()}] += 1;
      }
      if (event.has_receipts()) {
        EXPECT_EQ(event.type(), proto::NOTIFICATION_RECEIPTS);
        logged.events += 1;
        logged.batches += 1;
        const size_t size = event.receipts().delivered_size() + event.receipts().failed_size();
        EXPECT_GE(size, 2u);  // one receipt alone is its own event
        logged.largest_batch = std::max(logged.largest_batch, size);
        for (const auto& list : {event.receipts().delivered(), event.receipts().failed()}) {
          for (const proto::NotificationReceipt& receipt : list) {
            logged.per_job[JobKey{receipt.incident_seq(), receipt.recipient()}] += 1;
          }
        }
      }
      return Flow::kContinue;
    });
    EXPECT_TRUE(read) << read.error().message;
    return logged;
  }
  projections::QueueCounts Counts() {
    projections::QueueCounts counts;
    model.Read([&](const NotificationQueue& queue, uint64_t) { counts = queue.counts(); });
    return counts;
  }
  bool WaitFor(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }
  ~WorkerRig() {
    if (worker) worker->Stop();
    if (ledger) ledger->Shutdown();
    worker.reset();
  }
};

TEST(Worker, DeliversEachJobOnceAndRecordsIt) {
  WorkerRig rig;
  rig.Open();
  for (int i = 0; i < 20; ++i) rig.Subscribe("user" + std::to_string(i) + "@example.org");
  rig.StartWorker();
  rig.OpenIncident();
  rig.OpenIncident();
  ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().sent == 40; })) << rig.Counts().pending;
  std::map<std::string, int> accepted = rig.smtp.accepted();
  EXPECT_EQ(accepted.size(), 20u);
  for (const auto& [to, count] : accepted) EXPECT_EQ(count, 2) << to;
  // Each job's receipt is in the log once; they came in together, so fewer
  // events hold them than there are receipts.
  const WorkerRig::LoggedReceipts logged = rig.Logged();
  EXPECT_EQ(logged.per_job.size(), 40u);
  for (const auto& [key, count] : logged.per_job) EXPECT_EQ(count, 1) << key.seq << " " << key.recipient;
  EXPECT_LT(logged.events, 40u);
  EXPECT_EQ(rig.ledger->head().seq, 20u + 2u + logged.events);  // subscriptions, incidents, receipt events
}

TEST(Worker, AFanOutIsRecordedInBatchesOfAtMostTheLimit) {
  WorkerRig rig;
  rig.Open();
  for (int i = 0; i < 300; ++i) rig.Subscribe("user" + std::to_string(i) + "@example.org");
  rig.StartWorker(3, /*receipts_per_event_max=*/40, /*receipt_linger_ms=*/1000);
  rig.OpenIncident();
  ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().sent == 300; })) << rig.Counts().pending;
  const WorkerRig::LoggedReceipts logged = rig.Logged();
  EXPECT_EQ(logged.per_job.size(), 300u);
  for (const auto& [key, count] : logged.per_job) EXPECT_EQ(count, 1) << key.recipient;
  EXPECT_LE(logged.largest_batch, 40u);
  EXPECT_GE(logged.events, 300u / 40u);
  EXPECT_LE(logged.events, 300u / 10u) << "receipts were not gathered";
  EXPECT_EQ(rig.smtp.attempts(), 300);
}

TEST(Worker, ALoneReceiptIsRecordedAtOnceAsItsOwnEvent) {
  WorkerRig rig;
  rig.Open();
  rig.Subscribe("a@example.org");
  // A long linger: a receipt with no other send running must not wait for it.
  rig.StartWorker(3, notify::kReceiptsPerEventMax, /*receipt_linger_ms=*/notify::kReceiptLingerMsMax);
  const auto start = std::chrono::steady_clock::now();
  rig.OpenIncident();
  ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().sent == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(notify::kReceiptLingerMsMax / 2));
  const WorkerRig::LoggedReceipts logged = rig.Logged();
  EXPECT_EQ(logged.events, 1u);
  EXPECT_EQ(logged.batches, 0u);
}

TEST(Worker, ReceiptsGatheredAtStopAreRecorded) {
  WorkerRig again;
  {
    WorkerRig rig;
    rig.Open();
    for (int i = 0; i < 50; ++i) rig.Subscribe("user" + std::to_string(i) + "@example.org");
    rig.smtp.set_delay(std::chrono::milliseconds(20));  // sends are still running at the stop
    rig.StartWorker(3, notify::kReceiptsPerEventMax, /*receipt_linger_ms=*/notify::kReceiptLingerMsMax);
    rig.OpenIncident();
    ASSERT_TRUE(rig.WaitFor([&] { return rig.smtp.attempts() >= 20; }));
    EXPECT_LT(rig.Counts().sent, 20u);  // their receipts are gathering, none recorded yet
    rig.worker->Stop();  // the receipts gathered go to the log now
    const int sent = rig.smtp.attempts();
    EXPECT_LT(sent, 50);
    EXPECT_EQ(rig.worker->stats().receipts_unrecorded, 0u);
    EXPECT_EQ(rig.Logged().per_job.size(), static_cast<size_t>(sent));
    rig.RestartInto(&again);
  }
  again.Open();
  const uint64_t recorded = again.Counts().sent;
  again.StartWorker();
  ASSERT_TRUE(again.WaitFor([&] { return again.Counts().sent == 50; }));
  EXPECT_EQ(again.smtp.attempts(), static_cast<int>(50 - recorded));  // nothing recorded is sent twice
}

TEST(Worker, ServerDownThenUpLosesNothingAndSpamsNoReceipts) {
  WorkerRig rig;
  rig.Open();
  for (int i = 0; i < 10; ++i) rig.Subscribe("user" + std::to_string(i) + "@example.org");
  rig.smtp.set_mode(FakeSmtp::Mode::kDown);
  rig.StartWorker(/*attempts_max=*/1);
  rig.OpenIncident();
  ASSERT_TRUE(rig.WaitFor([&] { return rig.smtp.attempts() >= 6; }));
  EXPECT_EQ(rig.Counts().failed, 0u);  // an outage never gives a job up
  EXPECT_FALSE(rig.worker->stats().smtp_available);
  const uint64_t head_while_down = rig.ledger->head().seq;
  EXPECT_LT(head_while_down, 11u + 10u + 3u * 10u);  // probes, not every job every time
  rig.smtp.set_mode(FakeSmtp::Mode::kAccept);
  ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().sent == 10; }));
  for (const auto& [to, count] : rig.smtp.accepted()) EXPECT_EQ(count, 1) << to;
  EXPECT_EQ(rig.smtp.accepted().size(), 10u);
  const projections::DeliveryStats stats = rig.worker->stats();
  EXPECT_TRUE(stats.smtp_available);
  EXPECT_EQ(stats.attempts.delivered, 10u);
  EXPECT_GE(stats.attempts.server_unavailable, 5u);
  EXPECT_EQ(stats.given_up, 0u);
}

TEST(Worker, TransientFailuresRetryThenGiveUp) {
  WorkerRig rig;
  rig.Open();
  rig.Subscribe("a@example.org");
  rig.smtp.set_mode(FakeSmtp::Mode::kTempFail);
  rig.StartWorker(/*attempts_max=*/3);
  rig.OpenIncident();
  ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().failed == 1; }));
  EXPECT_EQ(rig.smtp.attempts(), 3);
  rig.model.Read([](const NotificationQueue& queue, uint64_t) {
    const projections::Job& job = queue.jobs().begin()->second;
    EXPECT_EQ(job.attempts, 3u);
    EXPECT_EQ(job.last_smtp_code, 451u);
    EXPECT_EQ(job.last_error, "RCPT failed: 451");
  });
  const projections::DeliveryStats stats = rig.worker->stats();
  EXPECT_EQ(stats.attempts.transient, 3u);
  EXPECT_EQ(stats.attempts.delivered, 0u);
  EXPECT_EQ(stats.given_up, 1u);
  EXPECT_EQ(stats.send_seconds.count, 3u);
  EXPECT_EQ(stats.send_seconds.bucket_counts.size(), LatencyBucketsSeconds().size() + 1);
  EXPECT_TRUE(stats.smtp_available);
}

TEST(Worker, PermanentRejectGivesUpAtOnce) {
  WorkerRig rig;
  rig.Open();
  rig.Subscribe("a@example.org");
  rig.smtp.set_mode(FakeSmtp::Mode::kReject);
  rig.StartWorker();
  rig.OpenIncident();
  ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().failed == 1; }));
  EXPECT_EQ(rig.smtp.attempts(), 1);
}

TEST(Worker, RestartDoesNotResendRecordedDeliveries) {
  WorkerRig again;
  {
    WorkerRig rig;
    rig.Open();
    rig.Subscribe("a@example.org");
    rig.Subscribe("b@example.org");
    rig.StartWorker();
    rig.OpenIncident();
    ASSERT_TRUE(rig.WaitFor([&] { return rig.Counts().sent == 2; }));
    rig.RestartInto(&again);
  }
  again.Open();
  EXPECT_EQ(again.Counts().sent, 2u);
  again.StartWorker();
  again.OpenIncident();
  ASSERT_TRUE(again.WaitFor([&] { return again.Counts().sent == 4; }));
  EXPECT_EQ(again.smtp.attempts(), 2);  // only the new incident's two
}

}  // namespace
}  // namespace ledger
