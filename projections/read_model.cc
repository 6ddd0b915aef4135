#include "projections/read_model.h"

#include <chrono>
#include <cstdio>
#include <mutex>

#include "common/log.h"
#include "projections/followups.h"
#include "projections/sheet_refusals.h"

namespace ledger::projections {
namespace {

// A catch-up longer than this reads ahead on a second thread (see
// ScanOptions): a start with an old checkpoint, or none.
constexpr uint64_t kReadAheadEventsMin = 16384;
// The checkpoint's own key (checkpoint.h), which no projection may claim.
constexpr std::string_view kCheckpointAppliedKey = "mapplied_seq";

bool Prefixes(std::string_view a, std::string_view b) { return a.starts_with(b) || b.starts_with(a); }

}  // namespace

ReadModel::ReadModel() {
  // The projections, in fold order: each may read those before it
  // (Projection::Prepare). A new projection is one line here.
  // The catalog comes first: it reads the systems incident events name
  // before the ticket store takes their text.
  systems_ = Register(std::make_unique<SystemProjection>());
  tickets_ = Register(std::make_unique<TicketProjection>(systems_));
  const FollowUpProjection* follow_ups = Register(std::make_unique<FollowUpProjection>());
  maintenance_ = Register(std::make_unique<MaintenanceProjection>());
  Register(std::make_unique<SheetRefusalProjection>());
  notifications_ = Register(std::make_unique<NotificationProjection>(tickets_, follow_ups, maintenance_));
}

ReadModel::~ReadModel() { StopFill(); }

void ReadModel::CheckKeys(const Projection& added) const {
  // Two projections writing the same keys would corrupt each other's saved
  // form without any check noticing: refused when the list is built.
  const CheckpointKeys keys = added.checkpoint_keys();
  LEDGER_ASSERT(!keys.version_key.empty() && !keys.prefixes.empty());
  for (const std::string_view prefix : keys.prefixes) {
    LEDGER_ASSERT(!prefix.empty() && !Prefixes(prefix, kCheckpointAppliedKey) && !Prefixes(prefix, keys.version_key));
  }
  for (const std::unique_ptr<Projection>& other : projections_) {
    const CheckpointKeys taken = other->checkpoint_keys();
    LEDGER_ASSERT(taken.version_key != keys.version_key);
    for (const std::string_view prefix : keys.prefixes) {
      LEDGER_ASSERT(!Prefixes(prefix, taken.version_key));
      for (const std::string_view other_prefix : taken.prefixes) {
        LEDGER_ASSERT(!Prefixes(prefix, other_prefix) && !Prefixes(other_prefix, keys.version_key));
      }
    }
  }
}

std::vector<Projection*> ReadModel::list() const {
  std::vector<Projection*> listed;
  listed.reserve(projections_.size());
  for (const std::unique_ptr<Projection>& projection : projections_) listed.push_back(projection.get());
  return listed;
}

void ReadModel::ClearAll() {
  for (const std::unique_ptr<Projection>& projection : projections_) projection->Clear();
  applied_seq_ = 0;
  applied_hash_ = Sha256Digest{};
}

void ReadModel::TrackChanges(bool on) {
  for (const std::unique_ptr<Projection>& projection : projections_) projection->TrackChanges(on);
}

bool ReadModel::HasChanges() const {
  for (const std::unique_ptr<Projection>& projection : projections_) {
    if (projection->HasChanges()) return true;
  }
  return false;
}

Result<OpenReport> ReadModel::Open(const Ledger& ledger, ProjectionCheckpoints* checkpoints) {
  return Open(ledger, checkpoints, ReadModelOptions{});
}

Result<OpenReport> ReadModel::Open(const Ledger& ledger, ProjectionCheckpoints* checkpoints,
                                   const ReadModelOptions& options) {
  StopFill();
  checkpoints_ = checkpoints;
  OpenReport report;
  report.rebuilt = true;
  report.reason = "no checkpoints kept";
  std::unique_lock lock(mutex_);
  ClearAll();
  if (checkpoints_ != nullptr) {
    Result<std::variant<LoadedCheckpoint, std::string>> loaded = checkpoints_->Load(ledger, list());
    if (!loaded) {
      ClearAll();
      return loaded.error();
    }
    if (const auto* resumed = std::get_if<LoadedCheckpoint>(&*loaded)) {
      applied_seq_ = resumed->applied_seq;
      applied_hash_ = resumed->applied_hash;
      report.rebuilt = false;
      report.reason.clear();
      report.resumed_seq = applied_seq_;
    } else {
      report.reason = std::get<std::string>(*loaded);
    }
  }
  if (report.rebuilt) ClearAll();
  // A fold from seq 1 is saved once, whole, at its end: saving every change
  // on the way as well would write each ticket once per event.
  TrackChanges(checkpoints_ != nullptr && !report.rebuilt);
  lock.unlock();
  if (Status folded = FoldFrom(ledger, &report.replayed_events); !folded) return folded.error();
  if (report.rebuilt) {
    const auto save_start = std::chrono::steady_clock::now();
    if (Status saved = SaveAll(); !saved) return saved.error();
    report.save_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - save_start).count();
    lock.lock();
    TrackChanges(checkpoints_ != nullptr);
    lock.unlock();
  } else if (checkpoints_ != nullptr) {
    // The events caught up with, and whatever the load repaired.
    lock.lock();
    if (HasChanges()) {
      if (Status saved = checkpoints_->SaveChanged(list(), applied_seq_, applied_hash_); !saved) return saved.error();
    }
    lock.unlock();
  }
  {
    std::shared_lock shared(mutex_);
    report.tickets = tickets_->store().size();
  }
  if (options.background_fill && !report.rebuilt) StartFill();
  return report;
}

void ReadModel::Fold(const proto::Event& event, const Sha256Digest& hash, proto::Event* takeable) {
  for (const std::unique_ptr<Projection>& projection : projections_) projection->Prepare(event);
  for (const std::unique_ptr<Projection>& projection : projections_) {
    if (takeable != nullptr) {
      projection->Take(takeable, hash);
    } else {
      projection->Apply(event, hash);
    }
  }
}

Status ReadModel::FoldFrom(const Ledger& ledger, uint64_t* replayed) {
  std::unique_lock lock(mutex_);
  if (ledger.head().seq > applied_seq_ + kReadAheadEventsMin) {
    return ledger.Scan(applied_seq_, [&](const ScannedEvent& scanned) -> Result<Flow> {
      Fold(*scanned.event, *scanned.hash, scanned.event);
      applied_seq_ = scanned.seq;
      applied_hash_ = *scanned.hash;
      *replayed += 1;
      return Flow::kContinue;
    });
  }
  return ledger.ForEach(applied_seq_, [&](const StoredEvent& stored) -> Result<Flow> {
    Fold(stored.event, stored.hash);
    applied_seq_ = stored.seq;
    applied_hash_ = stored.hash;
    *replayed += 1;
    return Flow::kContinue;
  });
}

Status ReadModel::SaveAll() {
  if (checkpoints_ == nullptr) return {};
  std::shared_lock lock(mutex_);
  std::vector<const Projection*> listed;
  for (const std::unique_ptr<Projection>& projection : projections_) listed.push_back(projection.get());
  return checkpoints_->SaveAll(listed, applied_seq_, applied_hash_);
}

Status ReadModel::Rebuild(const Ledger& ledger) {
  StopFill();
  {
    std::unique_lock lock(mutex_);
    TrackChanges(false);
    ClearAll();
  }
  uint64_t replayed = 0;
  if (Status folded = FoldFrom(ledger, &replayed); !folded) return folded;
  if (Status saved = SaveAll(); !saved) return saved;
  std::unique_lock lock(mutex_);
  TrackChanges(checkpoints_ != nullptr);
  return {};
}

void ReadModel::Apply(const std::vector<StoredEvent>& events) {
  std::unique_lock lock(mutex_);
  for (const StoredEvent& stored : events) {
    LEDGER_ASSERT(stored.seq == applied_seq_ + 1);
    Fold(stored.event, stored.hash);
    applied_seq_ = stored.seq;
    applied_hash_ = stored.hash;
  }
  if (checkpoints_ == nullptr || !HasChanges()) return;
  // What changed is taken under the write lock and written without it;
  // Apply runs on one thread at a time, so saves keep their order.
  CheckpointSave save = checkpoints_->TakeChanges(list(), applied_seq_, applied_hash_);
  lock.unlock();
  if (Status saved = checkpoints_->Write(std::move(save)); !saved) {
    // The checkpoint only saves replay time; the next start catches up from
    // the last save that worked.
    Log("projections", "projection checkpoint not saved: " + saved.error().message);
  }
}

void ReadModel::Read(const std::function<void(const TicketStore&, uint64_t)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(tickets_->store(), applied_seq_);
}

void ReadModel::ReadFigures(
    const std::function<void(const TicketStore&, const MaintenanceStore&, uint64_t applied_seq)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(tickets_->store(), maintenance_->store(), applied_seq_);
}

void ReadModel::ReadFiguresAt(
    const std::function<void(const TicketStore&, const MaintenanceStore&, const Head&)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(tickets_->store(), maintenance_->store(), Head{.seq = applied_seq_, .hash = applied_hash_, .last_numbers = {}});
}

void ReadModel::ReadNotifications(const std::function<void(const NotificationQueue&, uint64_t)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(notifications_->queue(), applied_seq_);
}

uint64_t ReadModel::applied_seq() const {
  std::shared_lock lock(mutex_);
  return applied_seq_;
}

void ReadModel::StartFill() {
  stop_fill_.store(false);
  fill_ = std::thread([this] { FillLoop(); });
}

void ReadModel::StopFill() {
  stop_fill_.store(true);
  FinishFill();
}

void ReadModel::FinishFill() {
  if (fill_.joinable()) fill_.join();
}

void ReadModel::FillLoop() {
  for (const std::unique_ptr<Projection>& projection : projections_) {
    while (!stop_fill_.load(std::memory_order_relaxed)) {
      std::shared_lock lock(mutex_);
      if (!projection->FillStep(stop_fill_)) break;
    }
  }
  if (stop_fill_.load()) return;
  std::unique_lock lock(mutex_);
  for (const std::unique_ptr<Projection>& projection : projections_) projection->FillDone();
}

}  // namespace ledger::projections
