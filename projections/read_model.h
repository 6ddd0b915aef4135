#pragma once
// The read side the HTTP layer queries: the ticket store, kept current by the
// ledger's commit listener, guarded by a reader-writer lock, and (when given
// checkpoints) saved as it changes so that the next start resumes instead of
// replaying the log.
//
// Thread safety: Open, Rebuild and Apply take the write lock and run on one
// thread at a time (start-up, then the ledger's writer thread); Read takes the
// read lock for the duration of the visitor, which must not call back into
// this object.

#include <functional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/tickets.h"

namespace ledger::projections {

struct OpenReport {
  bool rebuilt = false;     // folded from seq 1
  std::string reason;       // why it was rebuilt (empty when resumed)
  uint64_t resumed_seq = 0;  // the checkpoint's seq when resumed
  uint64_t replayed_events = 0;  // events folded at open
};

class ReadModel {
 public:
  // Resumes from `checkpoints` (nullable: then always a full fold) and
  // catches up with the ledger; rebuilds from seq 1 when the checkpoint is
  // missing or fails its checks (see checkpoint.h). Fails on a read error or
  // a ledger record that fails its check.
  Result<OpenReport> Open(const Ledger& ledger, ProjectionCheckpoints* checkpoints);

  // Folds every event of the ledger from seq 1 (and saves it all).
  Status Rebuild(const Ledger& ledger);

  // Applies newly committed events, in order, and saves the tickets they
  // changed.
  void Apply(const std::vector<StoredEvent>& events);

  void Read(const std::function<void(const TicketStore&, uint64_t applied_seq)>& visit) const;
  TicketStore CopyTickets() const;

  uint64_t applied_seq() const;

 private:
  Status CatchUp(const Ledger& ledger, uint64_t* replayed);

  mutable std::shared_mutex mutex_;
  TicketStore tickets_;
  uint64_t applied_seq_ = 0;
  Sha256Digest applied_hash_{};
  ProjectionCheckpoints* checkpoints_ = nullptr;
};

}  // namespace ledger::projections
