#pragma once
// The read side the HTTP layer and the processors query: a list of
// projections (projection.h), folded together in one pass over the log, kept
// current by the ledger's commit listener, guarded by one reader-writer
// lock, and (when given checkpoints) saved as they change so that the next
// start resumes instead of replaying the log. The service holds exactly one
// copy of each projection: this one. Today the list is the catalog of
// systems (systems.h), the ticket store (ticket_projection.h, resolving
// systems through that catalog), the follow-ups (followups.h), the maintenance
// windows (maintenance.h), the refused sheet rows (sheet_refusals.h) and
// the notification side (notification_projection.h); a new projection is one
// file and one line in the constructor (read_model.cc).
//
// Start-up. Open loads every projection from the checkpoint (all disk reads
// happen there, and their failures come back from Open) and catches up with
// the ledger. The ticket store keeps its tickets as checked records in
// memory and decodes each when first read; a background thread decodes the
// rest meanwhile (ReadModelOptions::background_fill). Answers are the same
// as from a fully built store from the first request on; only their timing
// differs. When any projection cannot use what was saved (a version bump, a
// record that does not check out, another ledger's checkpoint), every
// projection is rebuilt from seq 1 and saved whole; the reason is in the
// OpenReport.
//
// Reads never do I/O and never fail: Read, ReadNotifications and
// ReadProjection hand the visitor in-memory state.
//
// Failures. Open and Rebuild fail on a ledger read error, a ledger record
// that fails its check (kCorruption) or a checkpoint that cannot be read or
// written. A save after Apply that fails is said on stderr and costs only
// catch-up time at the next start (the checkpoint keeps its older seq).
//
// Thread safety: Open, Rebuild and Apply take the write lock and run on one
// thread at a time (start-up, then the ledger's writer thread, from the
// commit listener). Read, ReadNotifications and ReadProjection hold the read
// lock while the visitor runs, which must not call back into this object.
// Only Apply (and Open/Rebuild) write the state; every other user reads it
// under the read lock, including the command processor on the writer thread.

#include <atomic>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/maintenance.h"
#include "projections/notification_projection.h"
#include "projections/notifications.h"
#include "projections/projection.h"
#include "projections/systems.h"
#include "projections/ticket_projection.h"
#include "projections/tickets.h"

namespace ledger::projections {

struct ReadModelOptions {
  // After resuming from a checkpoint, build the tickets nobody has read yet
  // on a background thread (off: only on demand, for tests).
  bool background_fill = true;
};

struct OpenReport {
  bool rebuilt = false;          // folded from seq 1
  std::string reason;            // why it was rebuilt (empty when resumed)
  uint64_t resumed_seq = 0;      // the checkpoint's seq when resumed
  uint64_t replayed_events = 0;  // events folded at open
  uint64_t tickets = 0;          // tickets in the store after open
  double save_seconds = 0;       // of those the whole save took, after a rebuild
};

class ReadModel {
 public:
  // Registers the projections (read_model.cc).
  ReadModel();
  ~ReadModel();
  ReadModel(const ReadModel&) = delete;
  ReadModel& operator=(const ReadModel&) = delete;

  // Resumes from `checkpoints` (nullable: then always a full fold) and
  // catches up with the ledger; rebuilds every projection from seq 1 when
  // the checkpoint is missing or fails its checks (see checkpoint.h). Fails
  // on a read error or a ledger record that fails its check. `ledger` and
  // `checkpoints` must outlive this object.
  Result<OpenReport> Open(const Ledger& ledger, ProjectionCheckpoints* checkpoints);
  Result<OpenReport> Open(const Ledger& ledger, ProjectionCheckpoints* checkpoints, const ReadModelOptions& options);

  // Folds every event of the ledger from seq 1 (and saves it all).
  Status Rebuild(const Ledger& ledger);

  // Applies newly committed events, in order, and saves what they changed.
  void Apply(const std::vector<StoredEvent>& events);

  void Read(const std::function<void(const TicketStore&, uint64_t applied_seq)>& visit) const;
  // The tickets and the maintenance windows together, under one read lock
  // (the figures need both as of the same seq).
  void ReadFigures(
      const std::function<void(const TicketStore&, const MaintenanceStore&, uint64_t applied_seq)>& visit) const;
  // The same, with the seq and hash of the last event applied (`applied`;
  // its last_numbers are not filled): the head a figures answer names
  // (head_seq, head_hash), so a published number can be traced and
  // recomputed.
  void ReadFiguresAt(
      const std::function<void(const TicketStore&, const MaintenanceStore&, const Head& applied)>& visit) const;
  void ReadNotifications(const std::function<void(const NotificationQueue&, uint64_t applied_seq)>& visit) const;
  // Any registered projection, by its type (a programmer error when none
  // is of that type).
  template <class P>
  void ReadProjection(const std::function<void(const P&, uint64_t applied_seq)>& visit) const {
    std::shared_lock lock(mutex_);
    for (const std::unique_ptr<Projection>& projection : projections_) {
      if (const auto* found = dynamic_cast<const P*>(projection.get())) {
        visit(*found, applied_seq_);
        return;
      }
    }
    LEDGER_ASSERT(false && "no projection of that type is registered");
  }

  uint64_t applied_seq() const;

  // Waits for the background fill, if any, to finish (tests, benchmarks).
  void FinishFill();

 private:
  // Adds a projection to the end of the list (fold order).
  template <class P>
  P* Register(std::unique_ptr<P> projection) {
    P* registered = projection.get();
    CheckKeys(*registered);
    projections_.push_back(std::move(projection));
    return registered;
  }
  void CheckKeys(const Projection& added) const;
  std::vector<Projection*> list() const;
  // One event into every projection; with `takeable` (the same event,
  // writable, dropped afterwards) a projection may move its text instead
  // of copying it (Projection::Take).
  void Fold(const proto::Event& event, const Sha256Digest& hash, proto::Event* takeable = nullptr);
  Status FoldFrom(const Ledger& ledger, uint64_t* replayed);
  void ClearAll();
  void TrackChanges(bool on);
  bool HasChanges() const;
  Status SaveAll();
  void StartFill();
  void StopFill();
  void FillLoop();

  mutable std::shared_mutex mutex_;
  std::vector<std::unique_ptr<Projection>> projections_;
  SystemProjection* systems_ = nullptr;
  TicketProjection* tickets_ = nullptr;
  MaintenanceProjection* maintenance_ = nullptr;
  NotificationProjection* notifications_ = nullptr;
  uint64_t applied_seq_ = 0;
  Sha256Digest applied_hash_{};
  ProjectionCheckpoints* checkpoints_ = nullptr;
  std::thread fill_;
  std::atomic<bool> stop_fill_{false};
};

}  // namespace ledger::projections
