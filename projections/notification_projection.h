#pragma once
// The notification side (notifications.h: subscriptions, notices, delivery
// jobs) as a projection of the read model, folded in the same pass as the
// tickets: it reads the ticket projection (registered before it) for a
// ticket's systems before an incident event and its state after it, so the
// service holds one ticket store, not two.
//
// Key layout (integers 8 bytes big-endian unless noted; the records are
// drawn at their Encode functions below):
//   'u' | email                   -> subscriptions of one address
//   'n' | incident seq            -> a notice
//   'j' | incident seq | recipient -> a job
//   'm' "notification_counters"   -> varint orphan_receipts | varint
//                                    duplicate_deliveries
//   'm' "notifications_version"   -> kNotificationProjectionVersion, decimal
//
// What lives where (see also the top of notifications.h). Every job has its
// 'j' record here, rewritten whenever the job changes. In memory: the
// subscriptions, the pending and failed jobs with their whole notices, and
// sent jobs only until the save that wrote their final record is written
// (Saved); then they are archived: the queue keeps its recipient's number
// under its event (in runs: a few bytes for an event told to every
// subscriber) and the 'j' record here is the job.
// The whole notice of an event whose jobs are all archived leaves memory
// too (its 'n' record stays). So memory grows with what is in flight and
// with the number of events and addresses, not with the mail sent.
//
// Threads. Saves are taken under the read model's write lock and written
// without it; Saved runs under the write lock after the write, so a reader
// (under the read lock) finds each sent job either in memory or, archived,
// here, never in neither. A reader of archived jobs reads this database
// (CheckpointJobArchive) under the read lock while later saves may be
// written: harmless, since an archived job's record is never written again
// (a later receipt for a sent job changes no record). A whole save
// (SaveWhole) follows only a fold from seq 1, before anything is archived.
//
// Failures and recovery. Load reads the subscriptions, the live jobs and
// notices into memory and only the keys of sent jobs (archived at once); a
// record that does not decode, or missing counters, make the checkpoint
// unusable (the read model rebuilds from seq 1); a read error fails Load.
// A fold from seq 1 (no usable checkpoint) saves once, whole, at its
// end: until then every job it made is in memory, and the sent ones leave
// right after that save. A save that fails archives nothing: its sent jobs stay in memory and are
// written again by the next save (TakeChanges), and archived only after a
// save that worked. A record of an archived job that later cannot be read
// fails the read that wanted it (ForEachJob), not the service; deleting the
// checkpoint folder rebuilds everything from the log. A crash loses at most
// the unsynced saves, whose events the next start folds again: the saved
// jobs always match the saved seq.
//
// Thread safety: as projection.h says (the read model's locks).

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "projections/checkpoint.h"
#include "projections/followups.h"
#include "projections/maintenance.h"
#include "projections/notifications.h"
#include "projections/projection.h"
#include "projections/ticket_projection.h"

namespace ledger::projections {

// Bump when the notification fold or its saved form changes meaning (first
// saved in version 1). 2: the notices of reviews and action items, and
// their `follow_up` text; a notice's ticket carries impact and phase
// (ticket_codec.h). 3: both of those together. 4: the notices of
// maintenance windows (scheduled, started, ended).
constexpr uint32_t kNotificationProjectionVersion = 4;

class NotificationProjection : public Projection {
 public:
  // `tickets` must be registered before this projection and outlive it.
  // `follow_ups` too; the read model registers it before this projection,
  // so that it has applied an event when this one reads it.
  // `maintenance` likewise: registered before, so that it has applied a
  // maintenance event when this one reads the window.
  NotificationProjection(const TicketProjection* tickets, const FollowUpProjection* follow_ups,
                         const MaintenanceProjection* maintenance)
      : tickets_(tickets), follow_ups_(follow_ups), maintenance_(maintenance) {}

  const NotificationQueue& queue() const { return queue_; }

  // Archives sent jobs in `checkpoints` (nullptr: keeps them in memory).
  // Called by the read model before Load or any Apply; `checkpoints` must
  // outlive this projection.
  void AttachArchive(const ProjectionCheckpoints* checkpoints);

  std::string_view name() const override { return "notification"; }
  uint32_t version() const override { return kNotificationProjectionVersion; }
  CheckpointKeys checkpoint_keys() const override;

  void Prepare(const proto::Event& event) override;
  void Apply(const proto::Event& event, const Sha256Digest& hash) override;
  void Clear() override;

  void TrackChanges(bool on) override;
  bool HasChanges() const override { return queue_.has_changes(); }
  void SaveChanges(CheckpointWriter* batch) override;
  void SaveWhole(CheckpointTables* tables) const override;
  Result<LoadOutcome> Load(const CheckpointReader& reader) override;
  void Saved() override;

 private:
  // The 'j' records of the checkpoint database, read back.
  class CheckpointJobArchive : public JobArchive {
   public:
    const ProjectionCheckpoints* checkpoints = nullptr;
    Status ScanJobs(uint64_t seq, std::string_view after_recipient,
                    const std::function<bool(Job job)>& visit) const override;
    Result<std::optional<Job>> FindJob(const JobKey& key) const override;
  };

  const TicketProjection* tickets_;
  const FollowUpProjection* follow_ups_;
  const MaintenanceProjection* maintenance_;
  CheckpointJobArchive archive_;
  NotificationQueue queue_;
  bool tracking_ = false;
  // Set by Prepare for an incident event while someone is subscribed: the
  // ticket's systems before the event, when it existed.
  bool history_wanted_ = false;
  bool existed_before_ = false;
  std::vector<std::string> systems_before_;
};

// The saved forms of the notification side's records (a subscriber's
// systems, a notice, a delivery job). A Decode fails on anything its Encode
// would not have written, never reading past the bytes or reserving more
// than they can hold: a checkpoint is a file, and a damaged one only means
// a rebuild. Exposed for the checkpoint_record_fuzz target.
std::string EncodeSubscriptions(const std::set<std::string>* systems, uint64_t last_change_seq);
[[nodiscard]] bool DecodeSubscriptions(std::string_view bytes, std::set<std::string>* systems,
                                       uint64_t* last_change_seq);
std::string EncodeNotice(const Notice& notice);
[[nodiscard]] bool DecodeNotice(uint64_t seq, std::string_view bytes, Notice* notice);
std::string EncodeJob(const Job& job);
[[nodiscard]] bool DecodeJob(std::string_view bytes, Job* job);

// The records of the notification side as they are saved (key, value), in
// key order: for SaveWhole, and for tests comparing whole states.
void ForEachNotificationRecord(const NotificationQueue& queue,
                               const std::function<void(const std::string& key, const std::string& value)>& visit);

}  // namespace ledger::projections
