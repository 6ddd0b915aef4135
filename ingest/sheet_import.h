#pragma once
// Imports a form-responses sheet (a CSV export, see csv_reader.h): each row
// becomes one Command, built by BuildCommandFromFields (the same checks as
// the HTTP form) and submitted through the CommandProcessor (the same rules),
// so a sheet row and a form submission can never disagree.
//
// Row to command:
//   - Columns are found by their header (question title), matched after
//     trimming and case-insensitively, through a SheetMapping (defaults in
//     DefaultSheetMapping(); a JSON mapping file overrides them).
//   - `Action`: "Create new incident", "Update existing incident", "Close
//     incident", "Reopen incident" or the bare words, case-insensitive (plus
//     any words the mapping adds).
//   - `Timestamp`, `Outage Start`, `Outage End`: "M/D/YYYY H:MM[:SS]" in the
//     sheet's time zone, or RFC 3339 with an offset. `Timestamp` is required:
//     it is when the help desk submitted the row. It is the default outage
//     start of a create or reopen and the default end of a close (instead of
//     the import time, which may be minutes or months later).
//   - `Email Address` is the actor; blank cells count as not given.
//   - submission_id = "sheet-" + the first 32 hex digits of SHA-256 over the
//     row's content: "incident-ledger sheet row v1\n", then for each mapped
//     field in the fixed order timestamp, actor, action, ticket, then the
//     payload fields in table order (title, description, systems, engineer,
//     severity, started_at, ended_at, note, link, and any added after them)
//     whose cell is not blank: "<field>=<cell>\0", where <cell> is the
//     cell text with surrounding spaces trimmed. The row's position, the
//     header titles and unmapped columns are not part of it, so re-reading the
//     sheet, appending rows, re-ordering rows, renaming a question or adding
//     one changes no id; an edited cell makes a new submission. Two rows with
//     identical content are one submission.
//
// Order: rows are submitted in Timestamp order (file order among equal
// timestamps), one at a time, each after the previous one's outcome is known.
//
// Same-sheet ticket references. A row names its ticket by the ledger's number
// (INC-n, or n). Normally that number was handed out before the row was
// submitted (the help desk saw it on the dashboard or in an import report).
// A row submitted before its ticket's number was handed out (a backlog sheet
// imported at once, where a later row guessed the number an earlier create
// row would get) is accepted only when that guess is safe: the ticket was
// created by an earlier row of this sheet, and every create row of the sheet
// before that one went in, with a smaller number. Otherwise the row is
// rejected, naming the create row to fix: a failed create never silently
// shifts an update onto another incident.
//
// Thread safety: the free functions are pure and thread-safe; ImportSheet
// calls the target from the calling thread only.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "ingest/command.h"
#include "ingest/csv_reader.h"
#include "ingest/processor.h"
#include "ledger/ledger.h"

namespace date {
class time_zone;
}

namespace ledger::ingest {

// The sheet's columns, by the Command field they fill (plus the timestamp):
// the four below, then one per payload field in the order of kPayloadFields
// (fields.h), so a new payload field is a new sheet field too.
enum class SheetField : size_t {
  kTimestamp,
  kActor,
  kAction,
  kTicket,
};
constexpr size_t kSheetLeadingFieldCount = 4;
constexpr size_t kSheetFieldCount = kSheetLeadingFieldCount + kPayloadFieldCount;
// The sheet field of payload field `payload_index` (fields.h).
constexpr SheetField SheetFieldOfPayload(size_t payload_index) {
  return static_cast<SheetField>(kSheetLeadingFieldCount + payload_index);
}
// "timestamp", "actor", "action", "ticket", then the payload field names, as
// written in a mapping file.
const char* SheetFieldName(SheetField field);
std::optional<SheetField> SheetFieldByName(std::string_view name);

constexpr size_t kMappingFileBytesMax = 64 << 10;
constexpr size_t kHeaderTitleBytesMax = 1000;
constexpr size_t kActionWordsMax = 100;
constexpr size_t kSheetTimezoneBytesMax = 64;
constexpr std::string_view kSheetSubmissionIdPrefix = "sheet-";

struct SheetMapping {
  // Header title per field; empty: the sheet has no such column.
  std::array<std::string, kSheetFieldCount> titles;
  // Action cell text (lower-cased) -> action.
  std::map<std::string, Action> actions;
};

// Timestamp "Timestamp", actor "Email Address", action "Action", ticket
// "Ticket Number", and each payload field's `sheet_title` (fields.h: title
// "Title", description "Description", systems "Affected Systems", engineer
// "Engineer Responsible", severity "Severity", started_at "Outage Start",
// ended_at "Outage End", note "Update Notes", link "Link"); and the action
// words above.
SheetMapping DefaultSheetMapping();

// A mapping file: a JSON object
//   {"columns": {"<field>": "<header title>" or null, ...},
//    "actions": {"<cell text>": "create|update|close|reopen", ...}}
// Both members are optional. A field left out keeps its default title; null
// says the sheet has no such column. Action words are added to the defaults.
// Unknown fields and members are refused by name.
Result<SheetMapping> ParseSheetMapping(std::string_view json);

// An IANA time zone (date/tz over the system tzdata).
class SheetTimeZone {
 public:
  // kInvalidArgument for an unknown name, kIoError when tzdata is unreadable.
  static Result<SheetTimeZone> Find(std::string_view name);
  const std::string& name() const { return name_; }
  // The instant of a wall-clock time, with the zone's offset then. A time
  // that falls twice (clocks go back) is the earlier one; a time the clocks
  // skip is an error.
  Result<Instant> FromLocal(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                            unsigned second) const;

 private:
  SheetTimeZone(std::string name, const date::time_zone* zone) : name_(std::move(name)), zone_(zone) {}
  std::string name_;
  const date::time_zone* zone_;
};

// Parses a sheet time: "M/D/YYYY H:MM" or "M/D/YYYY H:MM:SS" in `zone`
// (nullptr: no zone known, and such a time is refused, saying to pass
// --sheet-timezone), or RFC 3339 with an offset. `what` names the column.
Result<Instant> ParseSheetTime(std::string_view text, const SheetTimeZone* zone, std::string_view what);

// Where each mapped field sits in a header.
struct SheetColumns {
  std::array<std::optional<size_t>, kSheetFieldCount> index;  // 0-based
  std::vector<std::string> header;
  std::vector<std::string> warnings;  // mapped columns the header lacks
};

// Fails when the header lacks the Timestamp or Action column, or names a
// mapped column twice.
Result<SheetColumns> ResolveSheetColumns(const SheetMapping& mapping, const std::vector<std::string>& header);

struct MappedRow {
  Command command;
  int64_t submitted_at_micros = 0;  // the Timestamp cell
};

// One data row to a command. Errors are kInvalidArgument whose `field` is a
// SheetFieldName ("" when no single column is to blame).
Result<MappedRow> MapSheetRow(const SheetColumns& columns, const SheetMapping& mapping, const SheetTimeZone* zone,
                              const CsvRecord& record);

// The row's content-derived submission_id (see the top of this file).
std::string SheetSubmissionId(const SheetColumns& columns, const CsvRecord& record);

// The row's content id: 32 hex digits. For a row with as many cells as the
// header, the hash part of its submission_id (so the same mapped cells give
// the same id, whatever the row's position or the unmapped columns); for a
// row cut short or too long, which has no submission_id, the first 32 hex
// digits of SHA-256 over "incident-ledger sheet row cells v1\n" and each
// cell, trimmed, followed by a NUL byte.
std::string SheetContentId(const SheetColumns& columns, const CsvRecord& record);

// Where ImportSheet sends rows; an interface so tests can watch the calls.
class SheetTarget {
 public:
  virtual ~SheetTarget() = default;
  virtual Result<SubmissionResult> Submit(Command command) = 0;
  // When the ticket's opening event was recorded (UTC micros); nullopt when
  // there is no such ticket.
  virtual Result<std::optional<int64_t>> TicketOpenedAt(const std::string& ticket) = 0;
};

// A SheetTarget over the service's own processor and ledger.
class LedgerSheetTarget : public SheetTarget {
 public:
  LedgerSheetTarget(Ledger* ledger, CommandProcessor* processor) : ledger_(ledger), processor_(processor) {}
  Result<SubmissionResult> Submit(Command command) override;
  Result<std::optional<int64_t>> TicketOpenedAt(const std::string& ticket) override;

 private:
  Ledger* ledger_;
  CommandProcessor* processor_;
};

enum class RowOutcome { kAppended, kAlreadyPresent, kRejected };
const char* RowOutcomeName(RowOutcome outcome);

struct SheetRowReport {
  size_t row = 0;   // as in the sheet: the header is row 1
  size_t line = 0;  // the file line the row starts on
  RowOutcome outcome = RowOutcome::kRejected;
  std::string action;         // create/update/close/reopen, when known
  std::string ticket;         // the ticket it made or changed, when known
  uint64_t seq = 0;           // the event, when appended or already present
  std::string submission_id;  // when the row has one
  // When rejected: the column to blame (header title and letters, empty when
  // no single column is), the field, the error code and the rule broken.
  std::string column;
  std::string column_letters;
  std::string field;
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string rule;
  // Who submitted the row and what it said, for telling them about a
  // rejection (ingest/sheet_refusals.h): the content id (SheetContentId),
  // the e-mail column's cell as typed (trimmed), and, for a rejected row,
  // its non-blank cells as (header title, cell text).
  std::string content_id;
  std::string author;
  std::vector<std::pair<std::string, std::string>> cells;
};

struct SheetImportReport {
  std::optional<Error> file_error;  // the file could not be read at all; nothing was submitted
  size_t rows_read = 0;             // data rows (header and blank rows not counted)
  size_t appended = 0;
  size_t already_present = 0;
  size_t rejected = 0;
  size_t blank_rows = 0;
  bool stopped = false;   // the stop flag was raised before every row was done
  bool retryable = false; // some row failed for a reason other than its content (I/O, shutdown)
  std::vector<std::string> warnings;
  std::vector<SheetRowReport> rows;  // in row order

  std::string ToJson() const;
  // "rows read 12, appended 3, already present 8, rejected 1" and one line
  // per rejected row.
  std::string Summary() const;
  std::vector<std::string> RejectionLines() const;
};

struct SheetImportOptions {
  const SheetMapping* mapping = nullptr;       // required
  const SheetTimeZone* zone = nullptr;         // optional
  const std::atomic<bool>* stop = nullptr;     // optional; checked between rows
};

SheetImportReport ImportSheet(std::string_view csv, const SheetImportOptions& options, SheetTarget& target);

}  // namespace ledger::ingest
