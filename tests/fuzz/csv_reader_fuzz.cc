// Fuzz target for the CSV reader (ingest/csv_reader.h) and the sheet row
// mapper behind it. Built two ways (tests/CMakeLists.txt): with clang and
// -DLEDGER_LIBFUZZER=ON as a libFuzzer binary, and otherwise linked with
// random_driver.cc, which ctest runs with a printed seed.
//
// Properties checked on every input:
//   - the reader never crashes, and fails only with an error naming a row;
//   - what it reads, written back with every cell quoted, reads back the
//     same (cells never contain CR: line breaks in quotes become LF);
//   - no record exceeds the limits;
//   - mapping every record as a sheet row never crashes, and every error
//     message is valid UTF-8 (it ends up in JSON reports and logs).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "ingest/csv_reader.h"
#include "ingest/sheet_import.h"

namespace {

using ledger::ingest::CsvLimits;
using ledger::ingest::CsvTable;

void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "csv_reader_fuzz: property failed: %s\n", what);
  std::abort();
}

std::string QuoteAll(const CsvTable& table) {
  std::string text;
  for (const auto& record : table.records) {
    for (size_t i = 0; i < record.cells.size(); ++i) {
      if (i > 0) text += ',';
      text += '"';
      for (const char c : record.cells[i]) {
        if (c == '"') text += '"';
        text += c;
      }
      text += '"';
    }
    text += "\r\n";
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Small limits, so that the fuzzer reaches them.
  const CsvLimits limits{.file_bytes_max = 1 << 16, .rows_max = 64, .field_bytes_max = 256, .columns_max = 16};
  const ledger::Result<CsvTable> table = ledger::ingest::ReadCsv(input, limits);
  if (!table) {
    Check(!table.error().message.empty(), "an error has a message");
    return 0;
  }
  Check(table->records.size() <= limits.rows_max, "row limit");
  for (const auto& record : table->records) {
    Check(record.cells.size() <= limits.columns_max, "column limit");
    for (const auto& cell : record.cells) {
      Check(cell.size() <= limits.field_bytes_max, "field limit");
      Check(cell.find('\r') == std::string::npos, "no CR in a cell");
    }
  }
  const std::string again_text = QuoteAll(*table);
  const ledger::Result<CsvTable> again = ledger::ingest::ReadCsv(again_text, limits);
  Check(again.has_value(), "quoted write-back reads");
  Check(again->records.size() == table->records.size(), "write-back keeps the record count");
  for (size_t i = 0; i < table->records.size(); ++i) {
    Check(again->records[i].cells == table->records[i].cells, "write-back keeps every cell");
  }

  // The rows as a sheet: the first record as the header, when it has the
  // two required columns; otherwise with a header that maps them to the
  // first two columns.
  if (table->records.size() < 2) return 0;
  const ledger::ingest::SheetMapping mapping = ledger::ingest::DefaultSheetMapping();
  ledger::Result<ledger::ingest::SheetColumns> columns =
      ledger::ingest::ResolveSheetColumns(mapping, table->records[0].cells);
  if (!columns) {
    Check(ledger::IsValidUtf8(columns.error().message), "header errors are valid UTF-8");
    return 0;
  }
  static const ledger::Result<ledger::ingest::SheetTimeZone> zone = ledger::ingest::SheetTimeZone::Find("Europe/Berlin");
  for (size_t i = 1; i < table->records.size(); ++i) {
    const auto mapped = ledger::ingest::MapSheetRow(*columns, mapping, zone ? &*zone : nullptr, table->records[i]);
    if (!mapped) Check(ledger::IsValidUtf8(mapped.error().message), "row errors are valid UTF-8");
  }
  return 0;
}
