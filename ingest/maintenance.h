#pragma once
// Maintenance window commands: parsing and validation of
//   POST /api/v1/maintenance {action, window, title, systems, description,
//                             link, starts_at, ends_at, at, started_at,
//                             ended_at, submission_id, expected_version, actor}
// (JSON, or a form body with systems comma-separated), and the rules that
// turn them into MAINTENANCE_* events (projections/maintenance.h).
//
// Actions and what each takes (anything else given is refused by name):
//   schedule  title, systems (at least one), starts_at and ends_at (planned,
//             starts_at before ends_at); description and link optional. A
//             new window number (MNT-n) is handed out.
//   update    any of title, systems, description, link, starts_at, ends_at,
//             and, as corrections of the actual times, started_at (once the
//             window has started) and ended_at (once it has ended). At least
//             one. The planned times must stay in order, and so must the
//             actual ones.
//   start     at (the actual start; default: the recorded time). Only a
//             scheduled window starts (409 otherwise).
//   end       at (the actual end; default: the recorded time), not before
//             the start. Only a window in progress ends (409 otherwise).
//   cancel    nothing. Only a scheduled window is cancelled (409 otherwise:
//             one in progress is ended, not cancelled).
// Every action but schedule names the window ("MNT-3", "mnt-3" or "3").
// Limits are the incident fields' (ingest/fields.h). `expected_version` and
// `submission_id` work as for incidents: a stale version is 409, a repeat of
// a submission_id with the same content answers the original event and
// appends nothing, with other content 409.
//
// Errors: 400 kInvalidArgument naming the field and the rule, 404 for an
// unknown window, 409 for an illegal transition or a stale version. No
// failed command appends anything.
//
// Thread safety: SubmitAsync may be called from any thread; decisions run on
// the ledger's writer thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "event.pb.h"
#include "ledger/ledger.h"
#include "projections/maintenance.h"
#include "projections/read_model.h"

namespace ledger::ingest {

enum class MaintenanceAction { kSchedule, kUpdate, kStart, kEnd, kCancel };
const char* MaintenanceActionName(MaintenanceAction action);

struct MaintenanceCommand {
  MaintenanceAction action = MaintenanceAction::kSchedule;
  std::string window;  // normalized "MNT-<n>"; empty for schedule
  std::string submission_id;
  std::optional<uint32_t> expected_version;
  std::string actor;  // "anonymous" when not given
  // The fields given; for start and end the actual time (from `at`) is in
  // started_at / ended_at when given, else the processor fills in the
  // recorded time.
  proto::MaintenancePayload payload;

  // SHA-256 over the command's canonical content.
  std::string Digest() const;
};

Result<MaintenanceCommand> ParseMaintenanceJson(std::string_view body);
Result<MaintenanceCommand> ParseMaintenanceForm(std::string_view body);

// "MNT-7", "mnt-7", "7" -> "MNT-7"; the error names `field`.
Result<std::string> NormalizeWindow(std::string_view text, std::string_view field = "window");

struct MaintenanceResult {
  std::string window;
  uint64_t seq = 0;
  uint32_t version = 0;
  bool repeated = false;
  StoredEvent stored;
};

using MaintenanceCallback = std::function<void(Result<MaintenanceResult>)>;

class MaintenanceProcessor {
 public:
  // Decides against the read model's maintenance windows (plus the windows
  // earlier decisions of the same group commit changed). The ledger's
  // commit listener must apply every committed batch to `committed`, which,
  // like `ledger`, must outlive this.
  static std::unique_ptr<MaintenanceProcessor> Create(Ledger* ledger, const projections::ReadModel* committed);

  // `serve --systems strict`: the systems a window names must be in the
  // catalog and not retired (ingest/systems.h). Call before the first
  // submission.
  void RequireCataloguedSystems() { strict_systems_ = true; }

  // Queues the command; `done` runs on the ledger's writer thread.
  void SubmitAsync(MaintenanceCommand command, MaintenanceCallback done);
  Result<MaintenanceResult> Submit(MaintenanceCommand command);

 private:
  MaintenanceProcessor(Ledger* ledger, const projections::ReadModel* committed)
      : ledger_(ledger), committed_(committed) {}
  Result<Decision> Decide(const MaintenanceCommand& command, const std::string& digest, AppendContext& context);

  Ledger* ledger_;
  const projections::ReadModel* committed_;
  // Ledger writer thread only: windows changed by decided events the read
  // model has not applied yet, and the highest seq among those events.
  std::map<uint64_t, projections::MaintenanceWindow> pending_;
  uint64_t pending_through_seq_ = 0;
  bool strict_systems_ = false;
};

}  // namespace ledger::ingest
