#include "ingest/csv_reader.h"

namespace ledger::ingest {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

class Reader {
 public:
  Reader(std::string_view text, const CsvLimits& limits) : text_(text), limits_(limits) {}

  Result<CsvTable> Run() {
    CsvTable table;
    if (text_.starts_with(kUtf8Bom)) {
      table.had_bom = true;
      position_ = kUtf8Bom.size();
    }
    while (position_ < text_.size()) {
      if (AtLineBreak()) {  // an empty line: no record
        SkipLineBreak();
        continue;
      }
      if (table.records.size() == limits_.rows_max) {
        return MakeError(ErrorCode::kTooLarge, "the file has more than " + std::to_string(limits_.rows_max) +
                                                   " rows (the limit); split the export");
      }
      Result<CsvRecord> record = ReadRecord(table.records.size() + 1);
      if (!record) return record.error();
      table.records.push_back(std::move(*record));
    }
    return table;
  }

 private:
  bool AtLineBreak() const { return text_[position_] == '\n' || text_[position_] == '\r'; }

  void SkipLineBreak() {
    if (text_[position_] == '\r' && position_ + 1 < text_.size() && text_[position_ + 1] == '\n') ++position_;
    ++position_;
    ++line_;
  }

  Error CellError(size_t row, size_t line, size_t column, const std::string& why) const {
    return InvalidArgument("row " + std::to_string(row) + " column " + std::to_string(column),
                           "CSV row " + std::to_string(row) + " (line " + std::to_string(line) + "), column " +
                               std::to_string(column) + " (" + ColumnLetters(column) + "): " + why);
  }

  // Reads one record starting at a non-empty line; leaves position_ after
  // its line break (or at the end).
  Result<CsvRecord> ReadRecord(size_t row) {
    CsvRecord record;
    record.row = row;
    record.line = line_;
    while (true) {
      const size_t column = record.cells.size() + 1;
      if (column > limits_.columns_max) {
        return CellError(row, record.line, column,
                         "more than " + std::to_string(limits_.columns_max) + " columns (the limit)");
      }
      Result<std::string> cell = ReadField(row, record.line, column);
      if (!cell) return cell.error();
      record.cells.push_back(std::move(*cell));
      if (position_ == text_.size()) return record;
      if (text_[position_] == ',') {
        ++position_;
        continue;
      }
      SkipLineBreak();  // ReadField stops only at ',', a line break or the end
      return record;
    }
  }

  Result<std::string> ReadField(size_t row, size_t record_line, size_t column) {
    if (position_ < text_.size() && text_[position_] == '"') return ReadQuotedField(row, record_line, column);
    const size_t start = position_;
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c == ',' || c == '\n' || c == '\r') break;
      if (c == '"') {
        return CellError(row, record_line, column,
                         "a quote inside an unquoted field; a field holding quotes must be quoted whole, with each "
                         "quote doubled (\"\")");
      }
      ++position_;
    }
    if (position_ - start > limits_.field_bytes_max) return TooLong(row, record_line, column);
    return std::string(text_.substr(start, position_ - start));
  }

  Result<std::string> ReadQuotedField(size_t row, size_t record_line, size_t column) {
    const size_t opened_line = line_;
    ++position_;  // the opening quote
    std::string cell;
    while (true) {
      // Copy the run up to the next quote or line break in one go.
      const size_t stop = text_.find_first_of("\"\r\n", position_);
      const size_t run_end = stop == std::string_view::npos ? text_.size() : stop;
      if (cell.size() + (run_end - position_) > limits_.field_bytes_max) return TooLong(row, record_line, column);
      cell.append(text_.substr(position_, run_end - position_));
      position_ = run_end;
      if (position_ == text_.size()) {
        return CellError(row, record_line, column,
                         "a quoted field opened on line " + std::to_string(opened_line) +
                             " is never closed (unterminated quote; is the file cut short?)");
      }
      const char c = text_[position_];
      if (c == '\r' || c == '\n') {
        SkipLineBreak();
        cell += '\n';
        if (cell.size() > limits_.field_bytes_max) return TooLong(row, record_line, column);
        continue;
      }
      // A quote: doubled is a literal quote, otherwise it closes the field.
      if (position_ + 1 < text_.size() && text_[position_ + 1] == '"') {
        cell += '"';
        position_ += 2;
        if (cell.size() > limits_.field_bytes_max) return TooLong(row, record_line, column);
        continue;
      }
      ++position_;
      if (position_ < text_.size() && text_[position_] != ',' && text_[position_] != '\n' &&
          text_[position_] != '\r') {
        return CellError(row, record_line, column,
                         "text after the closing quote of a quoted field (a quote inside a field must be doubled)");
      }
      return cell;
    }
  }

  Error TooLong(size_t row, size_t record_line, size_t column) const {
    return CellError(row, record_line, column,
                     "a field longer than " + std::to_string(limits_.field_bytes_max) + " bytes (the limit)");
  }

  std::string_view text_;
  const CsvLimits& limits_;
  size_t position_ = 0;
  size_t line_ = 1;
};

}  // namespace

Result<CsvTable> ReadCsv(std::string_view text, const CsvLimits& limits) {
  if (text.size() > limits.file_bytes_max) {
    return MakeError(ErrorCode::kTooLarge, "the file is " + std::to_string(text.size()) + " bytes; at most " +
                                               std::to_string(limits.file_bytes_max) + " are read");
  }
  return Reader(text, limits).Run();
}

std::string ColumnLetters(size_t column) {
  std::string letters;
  while (column > 0) {
    const size_t digit = (column - 1) % 26;
    letters.insert(letters.begin(), static_cast<char>('A' + digit));
    column = (column - 1) / 26;
  }
  return letters;
}

}  // namespace ledger::ingest
