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
// Internal incidents (visibility `internal`, IsInternal) are not mailed to
// subscribers: an incident event after which the incident is internal makes
// no job, nor does a published review of an internal incident. So an
// incident opened internal is never mailed; one made internal later is
// mailed up to the event before (the event that hides it is not mailed:
// subscribers are not told it was hidden); one made `everyone` again is
// mailed from that event on, its mail showing the whole current state.
// Action item owners are mailed whatever the incident's visibility (they
// are staff, named by the help desk, not subscribers).
//
// Job states: pending until a NOTIFICATION_DELIVERED receipt (sent) or a
// NOTIFICATION_FAILED receipt with gave_up (failed). Other FAILED receipts
// count an attempt and keep the job pending. A receipt for a job already sent
// is counted (duplicate_deliveries) but changes nothing. A
// NOTIFICATION_RETRY_REQUESTED event makes the failed jobs it names pending
// again, their retry limit counting from zero (attempts and the last error
// stay); it leaves jobs in other states, and jobs it does not know, alone.
// A NOTIFICATION_RECEIPTS event is folded receipt by receipt, its delivered
// ones first, each as the DELIVERED or FAILED event it stands for.
//
// Two ways to fold. Standalone, NotificationQueue::Apply keeps a ticket store
// of its own to know each ticket before and after an event. Shared, the
// ReadModel folds tickets and notifications in one pass over the log and
// hands ApplyFollowing the ticket's systems before the event and its state
// after it, so the service holds one ticket store, not two.
//
// Memory: what lives where. A queue keeps in memory the jobs that can still
// change (pending and failed) and the whole notice of every event that has
// one of them: the worker mails from these. A sent job never changes again
// (a later receipt for it only counts), so once a JobArchive holds its saved
// record (the read model's checkpoint database, notification_projection.h)
// the queue archives it (ArchiveSent): the job and, when it was its event's
// last job in memory, the event's whole notice (its ticket copy included)
// leave memory. What stays of an archived job is its recipient's number in
// a set per event (NumberSet: runs of numbers, so the usual event told to
// every subscriber keeps a few bytes whatever their count; addresses are
// kept once, numbered), so
// that a receipt arriving for it later is still told from a receipt for no
// job (duplicate_deliveries against orphan_receipts) and the incident page
// can still count who was told; and of its event, the event type and ticket
// (ArchivedNotice). Counts stay exact: a job is counted once, by its state,
// wherever it lives. Without an archive (a standalone queue, a read-only
// mirror that keeps no checkpoint) nothing is archived and every job stays
// in memory, as the fold made it.
//
// Reading the jobs: jobs() and Find see memory only (pending, failed, and
// sent jobs not archived yet). ForEachJob visits every job, archived ones
// read back from the archive, in (event seq, recipient) order: it is the
// only read here that does I/O, and it fails only when the archive cannot be
// read or a saved job does not decode.
//
// This module does no other I/O and never sends mail: notify/ does, reading
// this queue. Not thread-safe except NotificationModel, which guards a queue
// with a reader-writer lock like ReadModel (or is a view of the ReadModel's).
// A JobArchive is read under the same read lock; it must answer reads while
// saves are written (RocksDB does), since an archived job's record never
// changes again.

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/number_set.h"
#include "ledger/ledger.h"
#include "projections/followups.h"
#include "projections/maintenance.h"
#include "projections/notification_stats.h"
#include "projections/systems.h"
#include "projections/tickets.h"

namespace ledger::projections {

// The subscription entry that stands for every system.
constexpr std::string_view kAllSystems = "*";

class SubscriptionSet {
 public:
  // Applies SUBSCRIPTION_ADDED/REMOVED events; ignores every other event.
  void Apply(const proto::Event& event);
  // Puts back one address as a checkpoint saved it (see checkpoint.h):
  // its folded systems (maybe none) and the seq that last changed them.
  void Restore(const std::string& email, const std::set<std::string>& systems, uint64_t last_change_seq);
  bool empty() const { return by_system_.empty(); }

  // Recipients for an incident affecting `systems` (as the incident names
  // them): sorted, each once. An address is a recipient when one of its
  // entries covers one of the systems (SystemNames::Covers: "*", the same
  // system in any case or through an alias `names` follows, or the
  // system's group).
  std::vector<std::string> RecipientsFor(const std::vector<std::string>& systems,
                                         const SystemNames& names = SystemNames()) const;

  // email -> its folded systems ("*" for all). Only addresses with at least
  // one subscription appear.
  const std::map<std::string, std::set<std::string>, std::less<>>& by_email() const { return by_email_; }
  // The systems of one address, or nullptr.
  const std::set<std::string>* Find(std::string_view email) const;
  // Seq of the latest event that changed `email`'s subscriptions (0: none).
  uint64_t LastChangeSeq(std::string_view email) const;
  // Every address any event named, with its last change (also those with no
  // subscriptions left).
  const std::map<std::string, uint64_t, std::less<>>& last_changes() const { return last_change_seq_; }

 private:
  std::map<std::string, std::set<std::string>, std::less<>> by_email_;
  std::map<std::string, std::set<std::string>, std::less<>> by_system_;  // folded system -> emails
  std::map<std::string, uint64_t, std::less<>> last_change_seq_;
};

// One incident event that has recipients: what the mail about it says.
//
// Follow-up notices (projections/followups.h): a REVIEW_PUBLISHED event
// notifies the subscribers of the incident's systems, as an incident event
// would; ACTION_ITEM_ADDED notifies the item's owner, ACTION_ITEM_UPDATED
// the new owner when it changes the owner, ACTION_ITEM_OVERDUE the owner.
// Their notice carries `follow_up`: the serialized ReviewPayload (reviews)
// or ActionItemPayload (the item whole, as it stood after the event).
struct Notice {
  uint64_t seq = 0;
  int64_t recorded_at_micros = 0;
  proto::EventType type = proto::EVENT_TYPE_UNSPECIFIED;
  std::string ticket;
  std::vector<std::string> changed;  // payload fields the event carried, e.g. {"note", "systems"}
  TicketState ticket_state;          // the ticket right after the event
  std::vector<std::string> affected_systems;
  Sha256Digest event_hash{};         // part of the deterministic Message-ID
  std::string follow_up;             // follow-up notices only, see above
};

// REVIEW_PUBLISHED and the ACTION_ITEM_* events.
bool IsFollowUpNoticeEvent(proto::EventType type);

// Maintenance notices: MAINTENANCE_SCHEDULED, _STARTED and _ENDED notify
// every address subscribed to one of the window's systems (as they stand
// after the event) or to "*", once per event, so each subscriber hears of a
// window when it is scheduled, when it starts and when it ends. Updates and
// cancellations mail nobody. Their notice carries the window ("MNT-3") as
// `ticket`, its systems as `affected_systems`, a default `ticket_state`, and
// in `follow_up` a serialized MaintenancePayload holding the whole window as
// it stood after the event (planned and actual times).
bool IsMaintenanceNoticeEvent(proto::EventType type);
// The window as a payload carrying every field (for the notice above).
proto::MaintenancePayload WholeWindowPayload(const MaintenanceWindow& window);
// The ticket a follow-up event concerns (from its item when the envelope
// names none).
std::string FollowUpTicketOf(const proto::Event& event);

// Refused sheet rows: a SHEET_ROW_REFUSED event (ingest/sheet_refusals.h)
// notifies its submitter, when it names one, whether or not anybody is
// subscribed to anything. Its notice carries no ticket, a default
// `ticket_state`, and in `follow_up` the event's serialized SheetRowRefusal;
// its job's ticket is empty.

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

// The saved records of sent jobs, for jobs that left memory (see the top of
// this file). Implemented over the checkpoint database
// (notification_projection.h). Reads only; thread-safe.
class JobArchive {
 public:
  virtual ~JobArchive() = default;
  // Visits the saved jobs of incident event `seq` whose recipient sorts
  // after `after_recipient` ("" for all), in recipient order, until `visit`
  // answers false. Fails on a read error or a record that does not decode
  // (kCorruption).
  virtual Status ScanJobs(uint64_t seq, std::string_view after_recipient,
                          const std::function<bool(Job job)>& visit) const = 0;
  // One saved job, nullopt when none is saved under that key.
  virtual Result<std::optional<Job>> FindJob(const JobKey& key) const = 0;
};

// What remains in memory of an event whose jobs are archived (some or all).
struct ArchivedNotice {
  proto::EventType type = proto::EVENT_TYPE_UNSPECIFIED;  // unspecified when its notice was never seen
  std::string ticket;
  // Recipients' numbers (NotificationQueue::AddressNumber): mostly one run
  // when everyone subscribed was told, so a few bytes an event.
  NumberSet sent;
};

// Which jobs ForEachJob visits: those matching every filter given, after
// `after` (a page's last job) when given.
struct JobFilter {
  std::optional<JobState> state;
  std::optional<std::string> ticket;
  std::optional<uint64_t> seq;
  std::optional<std::string> recipient;
  std::optional<JobKey> after;
};

// What changed in a NotificationQueue since the last TakeChanges, for a
// checkpoint save: the records to write again.
struct NotificationChanges {
  std::set<std::string> emails;  // subscription records
  std::set<uint64_t> notices;    // by incident event seq
  std::set<JobKey> jobs;
  bool counters = false;
  bool empty() const { return emails.empty() && notices.empty() && jobs.empty() && !counters; }
};

class NotificationQueue {
 public:
  // How systems resolve for the recipient rules (systems.h): the catalog
  // as it stood before the event being folded. Default: case only.
  void set_names(SystemNames names) { names_ = std::move(names); }
  const SystemNames& names() const { return names_; }

  // The standalone fold (keeps its own ticket store). Takes the stored event
  // because the Message-ID uses its hash.
  void Apply(const StoredEvent& stored);
  // The shared fold, for a caller that folds the tickets itself and calls
  // this right after applying `event` (whose hash is `hash`) to them:
  // `systems_before` is the
  // ticket's systems before the event (nullptr when it did not exist),
  // `after` its state after it (nullptr when the event changed no ticket).
  // Both are read only for incident events and only while someone is
  // subscribed (see wants_ticket_history). Do not mix with Apply on one queue.
  void ApplyFollowing(const proto::Event& event, const Sha256Digest& hash,
                      const std::vector<std::string>* systems_before, const TicketState* after);
  // The follow-up fold: `event` is a REVIEW_* or ACTION_ITEM_* event that
  // `follow_ups` has applied already; `ticket` is its ticket's state
  // (nullptr: none, and the event notifies nobody). Do not mix with Apply.
  void ApplyFollowUp(const proto::Event& event, const Sha256Digest& hash, const TicketState* ticket,
                     const FollowUpState& follow_ups);
  // The maintenance fold: `event` is any maintenance event that
  // `maintenance` has applied already (nullptr: its window is unknown).
  // Do not mix with Apply.
  void ApplyMaintenance(const proto::Event& event, const Sha256Digest& hash, const MaintenanceWindow* window);
  // False while nobody is subscribed to anything: incident events then
  // notify nobody, and a shared fold need not look up the ticket first.
  bool wants_ticket_history() const { return !subscriptions_.empty(); }

  // Records what each Apply changes, for TakeChanges (off by default).
  void TrackChanges(bool on) { tracking_ = on; }
  // Also every sent job not archived yet (so that a save that failed is
  // written again by the next, before ArchiveSent trusts it).
  NotificationChanges TakeChanges();
  bool has_changes() const { return !changes_.empty() || !unarchived_sent_.empty(); }

  // Where sent jobs go once saved (nullptr: nowhere, they stay in memory).
  // Set before any event is applied or loaded; the archive must outlive the
  // queue.
  void SetArchive(const JobArchive* archive) { archive_ = archive; }
  bool has_archive() const { return archive_ != nullptr; }
  // Called once everything TakeChanges handed out (or a whole save of the
  // queue) is written to the archive: the sent jobs leave memory, and the
  // notices left without a job in memory. No effect without an archive.
  // Answers how many jobs left memory.
  size_t ArchiveSent();

  // Loading a checkpoint (checkpoint.h): puts back saved records; the
  // pending set and the counts follow from the jobs.
  SubscriptionSet& mutable_subscriptions() { return subscriptions_; }
  void RestoreNotice(Notice notice);
  // A sent job goes straight to the archive's side when the queue has an
  // archive (its record is the archive's); call RestoreNotice after the
  // jobs, so that the notices of archived events leave only their summary.
  void RestoreJob(Job job);
  void RestoreCounters(uint64_t orphan_receipts, uint64_t duplicate_deliveries);

  // In memory only (see the top of this file).
  const Job* Find(const JobKey& key) const;
  const Notice* FindNotice(uint64_t seq) const;
  const std::map<JobKey, Job>& jobs() const { return jobs_; }
  const std::map<uint64_t, Notice>& notices() const { return notices_; }
  const std::map<uint64_t, ArchivedNotice>& archived() const { return archived_; }
  // The state of any job, archived or not (nullopt: no such job). No I/O.
  std::optional<JobState> StateOf(const JobKey& key) const;
  // The type of the event a job is about, archived or not (nullopt: no notice known).
  std::optional<proto::EventType> NoticeType(uint64_t seq) const;
  // Every job of event `seq`, archived or not, with its state, in no set
  // order. No I/O.
  void ForEachJobState(uint64_t seq, const std::function<void(std::string_view recipient, JobState state)>& visit) const;
  // Every job matching `filter`, in (event seq, recipient) order, until
  // `visit` answers false; archived jobs are read from the archive (see the
  // top of this file). Cost: the matching jobs in memory, plus, for each
  // event with archived jobs that the filter does not rule out by its seq or
  // ticket, one read of the archive.
  Status ForEachJob(const JobFilter& filter, const std::function<bool(const Job&)>& visit) const;
  const std::set<JobKey>& pending() const { return pending_; }
  const std::set<JobKey>& failed() const { return failed_; }
  QueueCounts counts() const { return counts_; }
  const SubscriptionSet& subscriptions() const { return subscriptions_; }
  // Receipts naming no known job, and DELIVERED receipts for jobs already sent.
  uint64_t orphan_receipts() const { return orphan_receipts_; }
  uint64_t duplicate_deliveries() const { return duplicate_deliveries_; }
  // The counts, the counters above and the oldest pending job's event time.
  NotificationQueueStats stats() const;

 private:
  void ApplyIncident(const proto::Event& event, const Sha256Digest& hash,
                     const std::vector<std::string>* systems_before, const TicketState* after);
  // One receipt: of `event` itself, or one of a NOTIFICATION_RECEIPTS
  // batch (then `event` gives its seq and recorded time).
  void ApplyReceipt(const proto::Event& event, const proto::NotificationReceipt& receipt, bool delivered);
  void ApplyRetry(const proto::Event& event);
  void ApplySheetRowRefused(const proto::Event& event, const Sha256Digest& hash);
  void SetState(Job* job, JobState state);

  void AddJob(uint64_t seq, const std::string& recipient, const std::string& ticket);
  uint32_t AddressNumber(const std::string& address);
  bool IsArchivedSent(const JobKey& key) const;
  void ArchiveJob(const JobKey& key, proto::EventType type, const std::string& ticket);
  Status VisitEvent(uint64_t seq, const JobFilter& filter, const std::function<bool(const Job&)>& visit,
                    bool* stop) const;

  TicketStore tickets_;  // the standalone fold's own; empty in a shared fold
  FollowUpState follow_ups_;  // likewise
  MaintenanceStore maintenance_;  // likewise
  SubscriptionSet subscriptions_;
  std::map<uint64_t, Notice> notices_;
  std::map<JobKey, Job> jobs_;
  std::set<JobKey> pending_;
  std::set<JobKey> failed_;
  QueueCounts counts_;
  uint64_t orphan_receipts_ = 0;
  uint64_t duplicate_deliveries_ = 0;
  bool tracking_ = false;
  NotificationChanges changes_;
  SystemNames names_;
  const JobArchive* archive_ = nullptr;
  std::set<JobKey> unarchived_sent_;  // sent jobs still in jobs_ (only with an archive)
  std::map<uint64_t, ArchivedNotice> archived_;
  // Every address an archived job names, numbered in order of first use.
  std::map<std::string, uint32_t, std::less<>> address_numbers_;
  std::vector<const std::string*> addresses_;  // by number, into address_numbers_' keys
};

class ReadModel;

// A NotificationQueue kept current by the ledger's commit listener: either
// its own (default-constructed; Rebuild, then Apply from the listener), or a
// view of the queue a ReadModel folds together with the tickets (constructed
// from it; Rebuild and Apply must not be called then: the ReadModel is fed).
//
// Thread safety: Apply and Rebuild take the write lock; Read holds the read
// lock (the ReadModel's, for a view) while `visit` runs, which must not call
// back into this object.
class NotificationModel {
 public:
  NotificationModel() = default;
  explicit NotificationModel(const ReadModel* shared) : shared_(shared) {}

  // Folds every event from seq 1. Fails on a read error.
  Status Rebuild(const Ledger& ledger);
  // Applies newly committed events, in order.
  void Apply(const std::vector<StoredEvent>& events);
  void Read(const std::function<void(const NotificationQueue&, uint64_t applied_seq)>& visit) const;

 private:
  const ReadModel* shared_ = nullptr;
  mutable std::shared_mutex mutex_;
  NotificationQueue queue_;
  uint64_t applied_seq_ = 0;
};

}  // namespace ledger::projections
