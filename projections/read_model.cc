#include "projections/read_model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

// A catch-up longer than this reads ahead on a second thread (see
// ScanOptions): a start with an old checkpoint, or none.
constexpr uint64_t kReadAheadEventsMin = 16384;
// The background fill builds tickets in batches of this many, taking the
// read lock once per batch.
constexpr size_t kFillBatchTickets = 256;

bool IsIncidentEvent(proto::EventType type) {
  return type == proto::INCIDENT_OPENED || type == proto::INCIDENT_UPDATED || type == proto::INCIDENT_CLOSED ||
         type == proto::INCIDENT_REOPENED;
}

// Builds the tickets of a resumed store from the checkpoint it was resumed
// from. A saved ticket that cannot be used is folded again from its own
// events in the ledger, up to the checkpoint's seq: a ticket that is still
// unbuilt has had no event applied since (applying one builds it first).
class CheckpointTicketSource : public TicketSource {
 public:
  CheckpointTicketSource(ProjectionCheckpoints* checkpoints, const Ledger* ledger, uint64_t checkpoint_seq)
      : checkpoints_(checkpoints), ledger_(ledger), checkpoint_seq_(checkpoint_seq) {}

  Result<TicketState> Load(uint64_t number, const std::vector<Period>& periods) const override {
    Result<TicketState> saved = checkpoints_->LoadTicket(number);
    if (saved && SamePeriods(saved->periods, periods) && saved->ticket == TicketName::Format(number)) return saved;
    const std::string why = saved ? std::string("does not match the saved outline") : saved.error().message;
    std::fprintf(stderr, "incident-ledger: the checkpoint's %s is unusable (%s); folding it again from its events\n",
                 TicketName::Format(number).c_str(), why.c_str());
    Result<std::vector<StoredEvent>> events = ledger_->ReadTicket(TicketName::Format(number));
    if (!events) return events.error();
    TicketStore scratch;
    for (const StoredEvent& stored : *events) {
      if (stored.seq <= checkpoint_seq_) (void)scratch.Apply(stored.event);  // the number is `number`
    }
    const TicketState* state = scratch.FindNumber(number);
    if (state == nullptr) {
      return MakeError(ErrorCode::kCorruption, "the checkpoint names " + TicketName::Format(number) + ", which the ledger never opened");
    }
    if (!SamePeriods(state->periods, periods)) {
      // The timeline index was built from the saved outline and cannot be
      // corrected under a reader's lock: the next start rebuilds it all.
      std::fprintf(stderr,
                   "incident-ledger: the checkpoint's periods of %s differ from its events; the checkpoint is marked "
                   "for a rebuild at the next start\n",
                   TicketName::Format(number).c_str());
      if (Status invalidated = checkpoints_->Invalidate(); !invalidated) {
        std::fprintf(stderr, "incident-ledger: %s\n", invalidated.error().message.c_str());
      }
    }
    return *state;
  }

  void Scan(const std::function<bool(uint64_t number)>& wanted,
            const std::function<void(uint64_t number, TicketState state)>& found) const override {
    Status scanned = checkpoints_->ForEachSavedTicket([&](uint64_t number, std::string_view record) {
      if (!wanted(number)) return true;
      TicketState state;
      if (DecodeTicket(record, &state)) found(number, std::move(state));
      return true;
    });
    // What the scan missed is loaded one by one, which reports it.
    (void)scanned;
  }

 private:
  ProjectionCheckpoints* checkpoints_;
  const Ledger* ledger_;
  uint64_t checkpoint_seq_;
};

}  // namespace

ReadModel::~ReadModel() { StopFill(); }

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
  if (checkpoints_ != nullptr) {
    Result<std::variant<LoadedProjection, std::string>> loaded = checkpoints_->Load(ledger);
    if (!loaded) return loaded.error();
    if (auto* projection = std::get_if<LoadedProjection>(&*loaded)) {
      std::unique_lock lock(mutex_);
      auto source = std::make_shared<CheckpointTicketSource>(checkpoints_, &ledger, projection->applied_seq);
      if (Status attached = tickets_.AttachSource(std::move(source), std::move(projection->outlines)); !attached) {
        report.reason = attached.error().message;
      } else {
        notifications_ = std::move(projection->notifications);
        applied_seq_ = projection->applied_seq;
        applied_hash_ = projection->applied_hash;
        report.rebuilt = false;
        report.reason.clear();
        report.resumed_seq = applied_seq_;
      }
    } else {
      report.reason = std::get<std::string>(*loaded);
    }
  }
  if (report.rebuilt) {
    std::unique_lock lock(mutex_);
    tickets_.Clear();
    notifications_ = NotificationQueue();
    applied_seq_ = 0;
    applied_hash_ = Sha256Digest{};
  }
  notifications_.TrackChanges(checkpoints_ != nullptr && !report.rebuilt);
  std::vector<uint64_t> changed;
  if (Status folded = FoldFrom(ledger, &report.replayed_events, &changed); !folded) return folded.error();
  if (report.rebuilt) {
    // A fold from seq 1 is saved once, whole: saving every change on the
    // way as well would write each ticket once per event.
    const auto save_start = std::chrono::steady_clock::now();
    if (Status saved = SaveAll(); !saved) return saved.error();
    report.save_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - save_start).count();
    notifications_.TrackChanges(checkpoints_ != nullptr);
  } else if (checkpoints_ != nullptr && report.replayed_events > 0) {
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    std::shared_lock lock(mutex_);
    const NotificationChanges notification_changes = notifications_.TakeChanges();
    if (Status saved = checkpoints_->SaveChanged(tickets_, changed, notifications_, notification_changes, applied_seq_,
                                                 applied_hash_);
        !saved) {
      return saved.error();
    }
  }
  {
    std::shared_lock lock(mutex_);
    report.tickets = tickets_.size();
  }
  if (options.background_fill && tickets_.unbuilt() > 0) StartFill();
  return report;
}

void ReadModel::Fold(const proto::Event& event, const Sha256Digest& hash, std::vector<uint64_t>* changed,
                     proto::Event* takeable) {
  const auto apply = [&]() { return takeable != nullptr ? tickets_.Take(takeable) : tickets_.Apply(event); };
  if (IsIncidentEvent(event.type()) && notifications_.wants_ticket_history()) {
    // The notification side needs the ticket's systems from before the event.
    const TicketState* before = tickets_.Find(event.ticket());
    std::vector<std::string> systems_before;
    if (before != nullptr) systems_before = before->systems;
    const std::optional<uint64_t> number = apply();
    notifications_.ApplyFollowing(event, hash, before != nullptr ? &systems_before : nullptr,
                                  number ? tickets_.FindNumber(*number) : nullptr);
    if (number && changed != nullptr) changed->push_back(*number);
    return;
  }
  const std::optional<uint64_t> number = apply();
  if (number && changed != nullptr) changed->push_back(*number);
  notifications_.ApplyFollowing(event, hash, nullptr, nullptr);  // incident events notify nobody now
}

Status ReadModel::FoldFrom(const Ledger& ledger, uint64_t* replayed, std::vector<uint64_t>* changed) {
  std::unique_lock lock(mutex_);
  // Changed ticket numbers are only needed for an incremental save.
  std::vector<uint64_t>* noted = applied_seq_ == 0 ? nullptr : changed;
  if (ledger.head().seq > applied_seq_ + kReadAheadEventsMin) {
    return ledger.Scan(applied_seq_, [&](const ScannedEvent& scanned) -> Result<Flow> {
      Fold(*scanned.event, *scanned.hash, noted, scanned.event);
      applied_seq_ = scanned.seq;
      applied_hash_ = *scanned.hash;
      *replayed += 1;
      return Flow::kContinue;
    });
  }
  return ledger.ForEach(applied_seq_, [&](const StoredEvent& stored) -> Result<Flow> {
    Fold(stored.event, stored.hash, noted);
    applied_seq_ = stored.seq;
    applied_hash_ = stored.hash;
    *replayed += 1;
    return Flow::kContinue;
  });
}

Status ReadModel::SaveAll() {
  if (checkpoints_ == nullptr) return {};
  std::shared_lock lock(mutex_);
  return checkpoints_->SaveAll(tickets_, notifications_, applied_seq_, applied_hash_);
}

Status ReadModel::Rebuild(const Ledger& ledger) {
  StopFill();
  {
    std::unique_lock lock(mutex_);
    tickets_.Clear();
    notifications_ = NotificationQueue();
    applied_seq_ = 0;
    applied_hash_ = Sha256Digest{};
  }
  uint64_t replayed = 0;
  if (Status folded = FoldFrom(ledger, &replayed, nullptr); !folded) return folded;
  if (Status saved = SaveAll(); !saved) return saved;
  notifications_.TrackChanges(checkpoints_ != nullptr);
  return {};
}

void ReadModel::Apply(const std::vector<StoredEvent>& events) {
  std::vector<uint64_t> changed;
  NotificationChanges notification_changes;
  {
    std::unique_lock lock(mutex_);
    for (const StoredEvent& stored : events) {
      LEDGER_ASSERT(stored.seq == applied_seq_ + 1);
      Fold(stored.event, stored.hash, &changed);
      applied_seq_ = stored.seq;
      applied_hash_ = stored.hash;
    }
    if (checkpoints_ != nullptr) notification_changes = notifications_.TakeChanges();
  }
  if (checkpoints_ == nullptr || (changed.empty() && notification_changes.empty())) return;
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  std::shared_lock lock(mutex_);
  if (Status saved = checkpoints_->SaveChanged(tickets_, changed, notifications_, notification_changes, applied_seq_,
                                               applied_hash_);
      !saved) {
    // The checkpoint only saves replay time; the next start catches up from
    // the last save that worked.
    std::fprintf(stderr, "incident-ledger: projection checkpoint not saved: %s\n", saved.error().message.c_str());
  }
}

void ReadModel::Read(const std::function<void(const TicketStore&, uint64_t)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(tickets_, applied_seq_);
}

void ReadModel::ReadNotifications(const std::function<void(const NotificationQueue&, uint64_t)>& visit) const {
  std::shared_lock lock(mutex_);
  visit(notifications_, applied_seq_);
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
  std::vector<std::pair<uint64_t, TicketState>> batch;
  batch.reserve(kFillBatchTickets);
  const auto install = [&] {
    std::shared_lock lock(mutex_);
    for (auto& [number, state] : batch) tickets_.Install(number, std::move(state));
    batch.clear();
  };
  // Decoding happens outside the lock; Install skips a ticket built (or
  // changed) meanwhile, and one whose periods differ from its outline.
  Status scanned = checkpoints_->ForEachSavedTicket([&](uint64_t number, std::string_view record) {
    if (stop_fill_.load(std::memory_order_relaxed)) return false;
    TicketState state;
    if (!DecodeTicket(record, &state)) return true;  // built (and reported) the careful way below
    batch.emplace_back(number, std::move(state));
    if (batch.size() == kFillBatchTickets) install();
    return true;
  });
  if (!scanned) std::fprintf(stderr, "incident-ledger: background load of tickets: %s\n", scanned.error().message.c_str());
  install();
  if (stop_fill_.load()) return;
  {
    // Whatever the scan could not install goes through the source, which
    // falls back to the ledger.
    std::shared_lock lock(mutex_);
    (void)tickets_.all();
  }
  std::unique_lock lock(mutex_);
  tickets_.ReleaseSourceIfBuilt();
}

}  // namespace ledger::projections
