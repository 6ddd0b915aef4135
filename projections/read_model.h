#pragma once
// The read side the HTTP layer queries: the ticket store, kept current by the
// ledger's commit listener, guarded by a reader-writer lock.
//
// Thread safety: Apply and Rebuild take the write lock; Read takes the read
// lock for the duration of the visitor, which must not call back into this
// object.

#include <functional>
#include <shared_mutex>
#include <vector>

#include "ledger/ledger.h"
#include "projections/tickets.h"

namespace ledger::projections {

class ReadModel {
 public:
  // Folds every event of the ledger from seq 1. Fails on a read error.
  Status Rebuild(const Ledger& ledger);

  // Applies newly committed events, in order.
  void Apply(const std::vector<StoredEvent>& events);

  void Read(const std::function<void(const TicketStore&, uint64_t applied_seq)>& visit) const;

  uint64_t applied_seq() const;

 private:
  mutable std::shared_mutex mutex_;
  TicketStore tickets_;
  uint64_t applied_seq_ = 0;
};

}  // namespace ledger::projections
