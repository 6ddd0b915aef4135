#pragma once
// Maintenance windows (MNT-n), folded from the MAINTENANCE_* events, and
// their projection in the read model.
//
// A window is scheduled with a title, systems and planned times
// (starts_at < ends_at); it may be updated (any of its fields, and the
// actual times once it has them, as corrections), started and ended (each
// carrying the actual time), or cancelled before it started:
//
//   scheduled --start--> in_progress --end--> completed
//       \--cancel--> cancelled
//
// What counts as planned downtime is the window as actually run, from its
// started_at to its ended_at (to "now" while in progress); the planned times
// are what people were told, and count for nothing in the figures
// (durations.h). A cancelled window never ran.
//
// The store keeps a run index beside the windows, like the ticket store's
// timeline index: the start of every run, the windows in progress and the
// longest finished run, so a figure over a window of time looks only at the
// runs near it (RunOverlapping), not at every window ever scheduled.
//
// Key layout of the projection's saved form (checkpoint.h):
//   'w' | window number (8 bytes, big-endian) -> the window (EncodeWindow)
//   'm' "maintenance_version"                 -> kMaintenanceProjectionVersion, decimal
//
// Failures: a saved window that does not decode makes the checkpoint
// unusable (every projection is then rebuilt from seq 1); a read error fails
// Load. Reads never do I/O and never fail.
//
// Thread safety: MaintenanceStore is not thread-safe for writers; the
// projection follows projection.h (the read model's locks).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.h"
#include "event.pb.h"
#include "projections/projection.h"

namespace ledger::projections {

// Bump when the maintenance fold or its saved form changes meaning.
constexpr uint32_t kMaintenanceProjectionVersion = 1;

enum class MaintenanceStatus { kScheduled, kInProgress, kCompleted, kCancelled };

// "scheduled", "in_progress", "completed", "cancelled".
const char* MaintenanceStatusName(MaintenanceStatus status);
std::optional<MaintenanceStatus> ParseMaintenanceStatus(std::string_view text);

struct MaintenanceWindow {
  std::string window;  // "MNT-3"
  uint64_t number = 0;
  MaintenanceStatus status = MaintenanceStatus::kScheduled;
  std::string title;
  std::string description;
  std::string link;
  std::vector<std::string> systems;
  Instant starts_at;  // planned
  Instant ends_at;    // planned
  std::optional<Instant> started_at;  // as run
  std::optional<Instant> ended_at;    // as run
  uint32_t version = 0;
  uint64_t scheduled_seq = 0;
  uint64_t last_seq = 0;
  int64_t scheduled_at_micros = 0;  // recorded time of the SCHEDULED event
  int64_t updated_at_micros = 0;    // recorded time of the latest event
};

bool IsMaintenanceEvent(proto::EventType type);

// The fold: applies one maintenance event to `window` (a fresh one for
// MAINTENANCE_SCHEDULED). Events of other types leave it unchanged.
void ApplyMaintenanceEvent(MaintenanceWindow* window, const proto::Event& event);

// A window's run as an interval at `now_micros`: [started_at, ended_at), or
// [started_at, now) while in progress; nullopt when it never started, or is
// in progress but starts after now.
struct WindowRun {
  int64_t start_micros = 0;
  int64_t end_micros = 0;
  bool ongoing = false;
};
std::optional<WindowRun> RunOf(const MaintenanceWindow& window, int64_t now_micros);

class MaintenanceStore {
 public:
  // Applies one event of any type; maintenance events update their window.
  // Answers the number of the window it changed, if any.
  std::optional<uint64_t> Apply(const proto::Event& event);
  // Puts a saved window back, replacing one of the same number.
  void Put(MaintenanceWindow window);
  void Clear();

  const MaintenanceWindow* FindNumber(uint64_t number) const;
  // "MNT-3" (the service's spelling, see ticket_name.h) -> its window.
  const MaintenanceWindow* Find(std::string_view window) const;
  const std::map<uint64_t, MaintenanceWindow>& all() const { return windows_; }
  size_t size() const { return windows_.size(); }

  // Every window whose run may overlap [from, to) (a run in progress runs on
  // forever), in ascending number, through the run index: the cost grows
  // with the runs near the window of time.
  std::vector<const MaintenanceWindow*> RunOverlapping(int64_t from_micros, int64_t to_micros) const;

 private:
  void Index(const MaintenanceWindow& window);
  void Unindex(const MaintenanceWindow& window);

  std::map<uint64_t, MaintenanceWindow> windows_;
  std::set<std::pair<int64_t, uint64_t>> run_starts_;  // (started_at micros, number) of every started window
  std::set<uint64_t> running_;                         // started, not ended
  int64_t longest_run_micros_ = 0;                     // never shrinks: only widens the search
};

// The saved form of a window (ticket_codec.h's pieces):
//   string window | byte status | string title | string description |
//   string link | varint systems count, each a string | instant starts_at |
//   instant ends_at | byte has_started [instant started_at] |
//   byte has_ended [instant ended_at] | varint version |
//   varint scheduled_seq | varint last_seq | zigzag scheduled_at_micros |
//   zigzag updated_at_micros
// where an instant is zigzag micros | zigzag offset minutes. Decode fails on
// anything Encode would not have written (and on times RFC 3339 cannot name).
std::string EncodeWindow(const MaintenanceWindow& window);
[[nodiscard]] bool DecodeWindow(std::string_view bytes, MaintenanceWindow* window);

class MaintenanceProjection : public Projection {
 public:
  const MaintenanceStore& store() const { return store_; }

  std::string_view name() const override { return "maintenance"; }
  uint32_t version() const override { return kMaintenanceProjectionVersion; }
  CheckpointKeys checkpoint_keys() const override;

  void Apply(const proto::Event& event, const Sha256Digest& hash) override;
  void Clear() override;

  void TrackChanges(bool on) override;
  bool HasChanges() const override { return !changed_.empty(); }
  void SaveChanges(CheckpointWriter* batch) override;
  void SaveWhole(CheckpointTables* tables) const override;
  Result<LoadOutcome> Load(const CheckpointReader& reader) override;

 private:
  MaintenanceStore store_;
  bool tracking_ = false;
  std::set<uint64_t> changed_;  // window numbers changed since the last save
};

}  // namespace ledger::projections
