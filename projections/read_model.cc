#include "projections/read_model.h"

#include <mutex>

namespace ledger::projections {

Status ReadModel::Rebuild(const Ledger& ledger) {
  TicketStore rebuilt;
  uint64_t last_seq = 0;
  Status folded = ledger.ForEach(0, [&](const StoredEvent& stored) -> Status {
    rebuilt.Apply(stored.event);
    last_seq = stored.seq;
    return {};
  });
  if (!folded) return folded;
  std::unique_lock lock(mutex_);
  tickets_ = std::move(rebuilt);
  applied_seq_ = last_seq;
  return {};
}

void ReadModel::Apply(const std::vector<StoredEvent>& events) {
  std::unique_lock lock(mutex_);
  for (const StoredEvent& stored : events) {
    LEDGER_ASSERT(stored.seq == applied_seq_ + 1);
    tickets_.Apply(stored.event);
    applied_seq_ = stored.seq;
  }
}

void ReadModel::Read(const std::function<void(const TicketStore&, uint64_t)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(tickets_, applied_seq_);
}

uint64_t ReadModel::applied_seq() const {
  std::shared_lock lock(mutex_);
  return applied_seq_;
}

}  // namespace ledger::projections
