#pragma once
// An RFC 4180 CSV reader for spreadsheet exports (the form-responses sheet).
//
// Accepts what spreadsheet tools write: fields separated by commas, records
// by CRLF, LF or a lone CR; a field may be quoted with '"', and then holds
// commas, line breaks and doubled quotes ("" for one "). A UTF-8 byte order
// mark at the start is dropped. Line breaks inside a quoted field are
// normalized to LF, so the same sheet exported with CRLF or LF reads as the
// same cells. Empty lines are skipped. The reader works on bytes: it never
// interprets cell contents (no formulas, no UTF-8 checks; those are the row
// mapper's job, see sheet_import.h).
//
// Fails, with one error naming the row (1 is the header, as in the sheet),
// the line the row starts on and the column (1-based), on: an unterminated
// quoted field, a quote inside an unquoted field, text after a closing
// quote, and any limit below. A malformed file is refused whole: past a
// quoting error no later record boundary can be trusted.
//
// Pure function; thread-safe.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ledger::ingest {

// Limits, so that no file can make the reader use unbounded memory or time.
constexpr size_t kCsvFileBytesMax = 64 << 20;   // 64 MiB
constexpr size_t kCsvRowsMax = 100'000;         // records, header included
constexpr size_t kCsvFieldBytesMax = 64 << 10;  // one cell, after unquoting
constexpr size_t kCsvColumnsMax = 512;          // cells in one record

struct CsvLimits {
  size_t file_bytes_max = kCsvFileBytesMax;
  size_t rows_max = kCsvRowsMax;
  size_t field_bytes_max = kCsvFieldBytesMax;
  size_t columns_max = kCsvColumnsMax;
};

struct CsvRecord {
  size_t row = 0;   // 1-based record number: the header is row 1, as in the sheet
  size_t line = 0;  // 1-based line of the file the record starts on
  std::vector<std::string> cells;
};

struct CsvTable {
  std::vector<CsvRecord> records;  // records[0] is the header when there is one
  bool had_bom = false;
};

// Reads the whole text. Errors are kInvalidArgument (kTooLarge for the file
// and row-count limits); `field` is "row R column C" when a cell is to blame.
Result<CsvTable> ReadCsv(std::string_view text, const CsvLimits& limits = {});

// The spreadsheet's name of a 1-based column: 1 -> "A", 27 -> "AA".
std::string ColumnLetters(size_t column);

}  // namespace ledger::ingest
