#pragma once
// Refused sheet rows as events: a row of the polled form-responses sheet
// that broke a rule becomes one SHEET_ROW_REFUSED event (proto/event.proto,
// SheetRowRefusal), once per distinct row content, and the notification side
// (projections/notifications.h) mails its submitter from that event.
//
// Once per content. The event's submission_id is "sheet-refused-" + the
// row's content id (SheetContentId, sheet_import.h). The decision, on the
// ledger's writer thread, looks that id up in the ledger's submission index:
// when an event holds it, nothing is appended (whatever rule the row breaks
// this time), so re-reading the sheet, polling it again or restarting the
// service never records, and never mails, the same row content twice. The
// log is the memory; the read side's copy of it is
// projections/sheet_refusals.h.
//
// Which rows. Every rejected row except those rejected for a reason that is
// not the row's content (kIoError, kUnavailable, kCorruption: the import is
// tried again, see sheet_poller.h). A row whose e-mail cell holds no valid
// address is recorded with an empty submitter: nobody can be told.
//
// What is kept of the row: its non-blank cells (at most kRefusedCellsMax,
// each cut to kRefusedCellBytesMax bytes at a UTF-8 boundary), the rule (cut
// to kRefusedRuleBytesMax) and the column to blame, so the mail can quote
// what was typed without reading the sheet again.
//
// Thread safety: RefusalFromRow is pure; LedgerRefusalRecorder::Record may be
// called from any thread (it blocks until the ledger has decided).

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "ingest/sheet_import.h"
#include "ledger/ledger.h"

namespace ledger::ingest {

constexpr std::string_view kRefusalSubmissionIdPrefix = "sheet-refused-";
constexpr size_t kRefusedCellsMax = 64;
constexpr size_t kRefusedCellBytesMax = 2000;
constexpr size_t kRefusedRuleBytesMax = 2000;
constexpr size_t kRefusedTitleBytesMax = 200;  // a header title, as kept
constexpr size_t kRefusedFileBytesMax = 255;

// Whether a rejected row is recorded (see "Which rows" above).
bool IsRecordedRefusal(const SheetRowReport& row);

// The event payload for rejected `row` of the sheet file `file_name` (its
// name without the folder).
proto::SheetRowRefusal RefusalFromRow(const SheetRowReport& row, std::string_view file_name);

// What Record did.
struct RefusalRecorded {
  uint64_t seq = 0;       // the SHEET_ROW_REFUSED event (new or earlier)
  bool repeated = false;  // an event for this content was there already
};

// Where the poller records refusals; an interface so tests can watch it.
class SheetRefusalRecorder {
 public:
  virtual ~SheetRefusalRecorder() = default;
  virtual Result<RefusalRecorded> Record(const proto::SheetRowRefusal& refusal) = 0;
};

// Appends to the service's ledger (see the top). Fails with the ledger's
// error (kIoError, kUnavailable after shutdown) or kInvalidArgument for a
// payload without a 32-hex-digit content id.
class LedgerRefusalRecorder : public SheetRefusalRecorder {
 public:
  explicit LedgerRefusalRecorder(Ledger* ledger) : ledger_(ledger) {}
  Result<RefusalRecorded> Record(const proto::SheetRowRefusal& refusal) override;

 private:
  Ledger* ledger_;
};

}  // namespace ledger::ingest
