#pragma once
// The notification side of the log, as pure folds: who is subscribed to what
// (SubscriptionSet), and the notification queue (NotificationQueue): one job
// per (incident event, recipient), with its state folded from the delivery
// receipts the worker appends.
//
// Recipient rules. An incident event at seq N notifies every address whose
// subscriptions, as they stood right before N (all subscription events have
// lower seqs), name one of the incident's affected systems or "*". The
// affected systems are the incident's systems after the event, plus, for an
// event that changes them, the systems it had before (so people whose system
// is dropped from an incident hear about it). Systems match ignoring ASCII
// case. An address gets one job per event however many of its systems are
// affected.
//
// Job states: pending until a NOTIFICATION_DELIVERED receipt (sent) or a
// NOTIFICATION_FAILED receipt with gave_up (failed). Other FAILED receipts
// count an attempt and keep the job pending. A receipt for a job already sent
// is counted (duplicate_deliveries) but changes nothing.
//
// This module does no I/O and never sends mail: notify/ does, reading this
// queue. Not thread-safe except NotificationModel, which guards a queue with
// a reader-writer lock like ReadModel.

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/ledger.h"
#include "projections/tickets.h"

namespace ledger::projections {

// The subscription entry that stands for every system.
constexpr std::string_view kAllSystems = "*";

// ASCII lower case: how systems are compared and stored in subscriptions.
std::string FoldSystem(std::string_view system);

class SubscriptionSet {
 public:
  // Applies SUBSCRIPTION_ADDED/REMOVED events; ignores every other event.
  void Apply(const proto::Event& event);

  // Recipients for an incident affecting `systems` (as the incident names
  // them): sorted, each once.
  std::vector<std::string> RecipientsFor(const std::vector<std::string>& systems) const;

  // email -> its folded systems ("*" for all). Only addresses with at least
  // one subscription appear.
  const std::map<std::string, std::set<std::string>, std::less<>>& by_email() const { return by_email_; }
  // The systems of one address, or nullptr.
  const std::set<std::string>* Find(std::string_view email) const;
  // Seq of the latest event that changed `email`'s subscriptions (0: none).
  uint64_t LastChangeSeq(std::string_view email) const;

 private:
  std::map<std::string, std::set<std::string>, std::less<>> by_email_;
  std::map<std::string, std::set<std::string>, std::less<>> by_system_;  // folded system -> emails
  std::map<std::string, uint64_t, std::less<>> last_change_seq_;
};

// One incident event that has recipients: what the mail about it says.
struct Notice {
  uint64_t seq = 0;
  int64_t recorded_at_micros = 0;
  proto::EventType type = proto::EVENT_TYPE_UNSPECIFIED;
  std::string ticket;
  std::vector<std::string> changed;  // payload fields the event carried, e.g. {"note", "systems"}
  TicketState ticket_state;          // the ticket right after the event
  std::vector<std::string> affected_systems;
  Sha256Digest event_hash{};         // part of the deterministic Message-ID
};

struct JobKey {
  uint64_t seq = 0;       // the incident event
  std::string recipient;  // normalised address
  auto operator<=>(const JobKey&) const = default;
};

enum class JobState { kPending, kSent, kFailed };
const char* JobStateName(JobState state);

struct Job {
  JobKey key;
  std::string ticket;
  JobState state = JobState::kPending;
  uint32_t attempts = 0;       // receipts recorded for this job
  uint32_t job_failures = 0;   // failed attempts that count against the retry limit
  std::string last_error;
  uint32_t last_smtp_code = 0;
  bool last_failure_server_unavailable = false;
  int64_t last_attempt_at_micros = 0;  // recorded time of the latest receipt; 0: none
  int64_t sent_at_micros = 0;          // recorded time of the DELIVERED receipt
  uint64_t last_receipt_seq = 0;
  std::string message_id;
};

struct QueueCounts {
  uint64_t pending = 0;
  uint64_t sent = 0;
  uint64_t failed = 0;
};

class NotificationQueue {
 public:
  // The fold. Takes the stored event because the Message-ID uses its hash.
  void Apply(const StoredEvent& stored);

  const Job* Find(const JobKey& key) const;
  const Notice* FindNotice(uint64_t seq) const;
  const std::map<JobKey, Job>& jobs() const { return jobs_; }
  const std::set<JobKey>& pending() const { return pending_; }
  QueueCounts counts() const { return counts_; }
  const SubscriptionSet& subscriptions() const { return subscriptions_; }
  // Receipts naming no known job, and DELIVERED receipts for jobs already sent.
  uint64_t orphan_receipts() const { return orphan_receipts_; }
  uint64_t duplicate_deliveries() const { return duplicate_deliveries_; }

 private:
  void ApplyIncident(const StoredEvent& stored);
  void ApplyReceipt(const proto::Event& event);
  void SetState(Job* job, JobState state);

  TicketStore tickets_;
  SubscriptionSet subscriptions_;
  std::map<uint64_t, Notice> notices_;
  std::map<JobKey, Job> jobs_;
  std::set<JobKey> pending_;
  QueueCounts counts_;
  uint64_t orphan_receipts_ = 0;
  uint64_t duplicate_deliveries_ = 0;
};

// A NotificationQueue kept current by the ledger's commit listener.
// Thread safety: Apply and Rebuild take the write lock; Read holds the read
// lock while `visit` runs, which must not call back into this object.
class NotificationModel {
 public:
  // Folds every event from seq 1. Fails on a read error.
  Status Rebuild(const Ledger& ledger);
  // Applies newly committed events, in order.
  void Apply(const std::vector<StoredEvent>& events);
  void Read(const std::function<void(const NotificationQueue&, uint64_t applied_seq)>& visit) const;

 private:
  mutable std::shared_mutex mutex_;
  NotificationQueue queue_;
  uint64_t applied_seq_ = 0;
};

}  // namespace ledger::projections
