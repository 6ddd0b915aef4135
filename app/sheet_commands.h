#pragma once
// The form-responses sheet on the command line:
//
//   incident-ledger import-csv --data DIR FILE [--mapping FILE] [--sheet-timezone ZONE]
//     imports FILE once (the service must be stopped: it holds the ledger).
//     Prints the report as JSON on stdout and a summary plus one line per
//     rejected row on stderr. Exit code 0 when every row went in (appended or
//     already present), 1 when some row was rejected, 2 when the file could
//     not be imported at all (unreadable, malformed CSV, missing columns) or
//     the arguments are wrong.
//
//   incident-ledger serve ... --poll-csv PATH [--poll-interval 2m]
//                             [--mapping FILE] [--sheet-timezone ZONE]
//     polls PATH while serving (see ingest/sheet_poller.h); a refused row
//     is recorded as a SHEET_ROW_REFUSED event and its author mailed, once
//     per row content (ingest/sheet_refusals.h). import-csv only reports
//     refused rows.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "ingest/processor.h"
#include "ingest/sheet_poller.h"
#include "ingest/sheet_refusals.h"
#include "ledger/ledger.h"

namespace ledger::app {

// `options` ("--data", "--mapping", "--sheet-timezone"; --data given) as
// app/command_line.h reads them; `file` the CSV file.
int ImportCsv(const std::map<std::string, std::string>& options, const std::string& file);

// The serve options that concern the sheet, for the serve command's list.
inline constexpr const char* kSheetServeOptions[] = {"--poll-csv", "--poll-interval", "--mapping",
                                                     "--sheet-timezone"};

// The poller, the target it submits to and the recorder of its refused
// rows (ingest/sheet_refusals.h), stopped together.
class SheetPolling {
 public:
  SheetPolling(std::unique_ptr<ingest::LedgerSheetTarget> target,
               std::unique_ptr<ingest::LedgerRefusalRecorder> refusals, std::unique_ptr<ingest::SheetPoller> poller)
      : target_(std::move(target)), refusals_(std::move(refusals)), poller_(std::move(poller)) {}
  ~SheetPolling() { Stop(); }
  void Stop() { poller_->Stop(); }
  ingest::SheetPollerStats stats() const { return poller_->stats(); }
  std::vector<ingest::SheetImportRun> runs() const { return poller_->runs(); }

 private:
  std::unique_ptr<ingest::LedgerSheetTarget> target_;
  std::unique_ptr<ingest::LedgerRefusalRecorder> refusals_;
  std::unique_ptr<ingest::SheetPoller> poller_;
};

// Starts polling when `options` (serve's "--name" -> value) has --poll-csv;
// answers nullptr when it has not. Fails on a bad --poll-interval, mapping
// file or time zone, or a sheet option given without --poll-csv. Stop it
// before the ledger shuts down.
Result<std::unique_ptr<SheetPolling>> StartSheetPolling(const std::map<std::string, std::string>& options,
                                                        Ledger* ledger, ingest::CommandProcessor* processor);

}  // namespace ledger::app
