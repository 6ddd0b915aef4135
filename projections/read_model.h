#pragma once
// The read side the HTTP layer and the processors query: the ticket store and
// the notification queue, folded together in one pass over the log, kept
// current by the ledger's commit listener, guarded by one reader-writer
// lock, and (when given checkpoints) saved as they change so that the next
// start resumes instead of replaying the log. The service holds exactly one
// copy of the ticket state: this one.
//
// Start-up. Open resumes from a checkpoint without building the tickets: it
// reads every ticket's number and periods (enough for size() and the
// timeline index) and the whole notification side, and a ticket is built
// from the checkpoint the first time anything reads it. A background thread
// builds the rest meanwhile (ReadModelOptions::background_fill). Answers are
// the same as from a fully built store from the first request on; only
// their timing differs. A saved ticket that turns out not to decode, or not
// to match its periods, is folded again from its own events in the ledger
// (and said so on stderr); see CheckpointTicketSource in read_model.cc.
//
// Thread safety: Open, Rebuild and Apply take the write lock and run on one
// thread at a time (start-up, then the ledger's writer thread, from the
// commit listener). Read and ReadNotifications hold the read lock while the
// visitor runs, which must not call back into this object. Only Apply (and
// Open/Rebuild) write the state; every other user reads it under the read
// lock, including the command processor on the writer thread.

#include <atomic>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/notifications.h"
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
  ReadModel() = default;
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
  void ReadNotifications(const std::function<void(const NotificationQueue&, uint64_t applied_seq)>& visit) const;

  uint64_t applied_seq() const;

  // Waits for the background fill, if any, to finish (tests, benchmarks).
  void FinishFill();

 private:
  // One event into both projections; the changed ticket's number, if any,
  // goes to `changed`. With `takeable` (the same event, writable, dropped
  // afterwards) the ticket fold moves its text instead of copying it.
  void Fold(const proto::Event& event, const Sha256Digest& hash, std::vector<uint64_t>* changed,
            proto::Event* takeable = nullptr);
  Status FoldFrom(const Ledger& ledger, uint64_t* replayed, std::vector<uint64_t>* changed);
  Status SaveAll();
  void StartFill();
  void StopFill();
  void FillLoop();

  mutable std::shared_mutex mutex_;
  TicketStore tickets_;
  NotificationQueue notifications_;
  uint64_t applied_seq_ = 0;
  Sha256Digest applied_hash_{};
  ProjectionCheckpoints* checkpoints_ = nullptr;
  std::thread fill_;
  std::atomic<bool> stop_fill_{false};
};

}  // namespace ledger::projections
