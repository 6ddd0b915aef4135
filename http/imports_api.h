#pragma once
// The sheet imports, for the help desk:
//
//   GET /api/v1/imports  (helpdesk) -> {"runs":[run]}, newest first, where
//       run is {"at","file","file_error","rows_read","appended",
//       "already_present","rejected","refused":[refused]} and refused is
//       {"row","column","column_letters","field","rule","author","told",
//       "mail","content_id","seq"}
//
// Runs are the poller's imports since the service started (the latest
// ingest::kSheetRunsKept, ingest/sheet_poller.h); none when no sheet is
// polled. A refused row that was recorded (a SHEET_ROW_REFUSED event, seq
// set) reads as the event says (projections/sheet_refusals.h), so it is
// the same after a restart; one that was not (a reason that was not the
// row's fault, or an append error) reads as the import saw it, with seq
// null. `told` is true when the mail to its author was delivered (the
// notification job's DELIVERED receipt); `mail` is that job's state
// (pending, sent, failed), null when there is no job (no valid address, or
// not recorded). `column` and `column_letters` are null when no single
// column is to blame.
//
// The /imports page (web.h) shows the same through CollectImports.
//
// Thread safety: as Api::Handle.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "ingest/sheet_poller.h"
#include "projections/notifications.h"
#include "projections/read_model.h"

namespace ledger::http {

struct Route;

struct ImportRoutes {
  // The poller's runs, newest first; empty (no function): no sheet is polled.
  std::function<std::vector<ingest::SheetImportRun>()> runs;
  const projections::ReadModel* read_model = nullptr;
};

struct RefusedRowView {
  uint64_t row = 0;
  std::string column;
  std::string column_letters;
  std::string field;
  std::string rule;
  std::string author;
  std::string content_id;
  uint64_t seq = 0;                            // 0: not recorded
  std::optional<projections::JobState> mail;   // the job mailing its author, when there is one
  std::vector<std::pair<std::string, std::string>> cells;  // as recorded (header title, text)
  bool told() const { return mail == projections::JobState::kSent; }
};

struct ImportRunView {
  int64_t at_micros = 0;
  std::string file;
  std::string file_error;
  size_t rows_read = 0;
  size_t appended = 0;
  size_t already_present = 0;
  size_t rejected = 0;
  std::vector<RefusedRowView> refused;
};

// The runs with each refused row resolved against the log (see the top).
std::vector<ImportRunView> CollectImports(const ImportRoutes& routes);
std::string ImportsJson(const std::vector<ImportRunView>& runs);

// The JSON row above (router.h); `routes` must outlive it.
std::vector<Route> ImportRouteRows(const ImportRoutes& routes);

}  // namespace ledger::http
