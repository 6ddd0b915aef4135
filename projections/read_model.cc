#include "projections/read_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

namespace ledger::projections {

Result<OpenReport> ReadModel::Open(const Ledger& ledger, ProjectionCheckpoints* checkpoints) {
  checkpoints_ = checkpoints;
  OpenReport report;
  if (checkpoints_ != nullptr) {
    Result<std::variant<LoadedProjection, std::string>> loaded = checkpoints_->Load(ledger);
    if (!loaded) return loaded.error();
    if (auto* projection = std::get_if<LoadedProjection>(&*loaded)) {
      std::unique_lock lock(mutex_);
      tickets_ = std::move(projection->tickets);
      applied_seq_ = projection->applied_seq;
      report.resumed_seq = applied_seq_;
      if (applied_seq_ > 0) {
        Result<StoredEvent> last = ledger.ReadEvent(applied_seq_);
        if (!last) return last.error();
        applied_hash_ = last->hash;
      }
    } else {
      report.rebuilt = true;
      report.reason = std::get<std::string>(*loaded);
    }
  } else {
    report.rebuilt = true;
    report.reason = "no checkpoints kept";
  }
  if (report.rebuilt) {
    std::unique_lock lock(mutex_);
    tickets_.Clear();
    applied_seq_ = 0;
    applied_hash_ = Sha256Digest{};
  }
  // A fold from seq 1 is saved once, whole, below; saving every change on
  // the way as well would write each ticket once per event.
  if (report.rebuilt) checkpoints_ = nullptr;
  Status caught_up = CatchUp(ledger, &report.replayed_events);
  checkpoints_ = checkpoints;
  if (!caught_up) return caught_up.error();
  if (report.rebuilt && checkpoints_ != nullptr) {
    std::shared_lock lock(mutex_);
    if (Status saved = checkpoints_->SaveAll(tickets_, applied_seq_, applied_hash_); !saved) return saved.error();
  }
  return report;
}

Status ReadModel::CatchUp(const Ledger& ledger, uint64_t* replayed) {
  std::unique_lock lock(mutex_);
  std::vector<uint64_t> changed;
  Status folded = ledger.ForEach(applied_seq_, [&](const StoredEvent& stored) -> Status {
    if (std::optional<uint64_t> number = tickets_.Apply(stored.event)) changed.push_back(*number);
    applied_seq_ = stored.seq;
    applied_hash_ = stored.hash;
    *replayed += 1;
    return {};
  });
  if (!folded) return folded;
  if (checkpoints_ != nullptr && !changed.empty()) {
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    return checkpoints_->SaveChanged(tickets_, changed, applied_seq_, applied_hash_);
  }
  return {};
}

Status ReadModel::Rebuild(const Ledger& ledger) {
  {
    std::unique_lock lock(mutex_);
    tickets_.Clear();
    applied_seq_ = 0;
    applied_hash_ = Sha256Digest{};
  }
  uint64_t replayed = 0;
  ProjectionCheckpoints* checkpoints = checkpoints_;
  checkpoints_ = nullptr;  // one SaveAll at the end, not a save per event
  Status caught_up = CatchUp(ledger, &replayed);
  checkpoints_ = checkpoints;
  if (!caught_up) return caught_up;
  if (checkpoints_ == nullptr) return {};
  std::shared_lock lock(mutex_);
  return checkpoints_->SaveAll(tickets_, applied_seq_, applied_hash_);
}

void ReadModel::Apply(const std::vector<StoredEvent>& events) {
  std::vector<uint64_t> changed;
  {
    std::unique_lock lock(mutex_);
    for (const StoredEvent& stored : events) {
      LEDGER_ASSERT(stored.seq == applied_seq_ + 1);
      if (std::optional<uint64_t> number = tickets_.Apply(stored.event)) changed.push_back(*number);
      applied_seq_ = stored.seq;
      applied_hash_ = stored.hash;
    }
  }
  if (checkpoints_ == nullptr || changed.empty()) return;
  std::shared_lock lock(mutex_);
  if (Status saved = checkpoints_->SaveChanged(tickets_, changed, applied_seq_, applied_hash_); !saved) {
    // The checkpoint only saves replay time; the next start catches up from
    // the last save that worked.
    std::fprintf(stderr, "incident-ledger: projection checkpoint not saved: %s\n", saved.error().message.c_str());
  }
}

void ReadModel::Read(const std::function<void(const TicketStore&, uint64_t)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(tickets_, applied_seq_);
}

TicketStore ReadModel::CopyTickets() const {
  std::shared_lock lock(mutex_);
  return tickets_;
}

uint64_t ReadModel::applied_seq() const {
  std::shared_lock lock(mutex_);
  return applied_seq_;
}

}  // namespace ledger::projections
