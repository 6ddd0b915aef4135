// The CSV reader: RFC 4180 quoting, line endings, BOM, row/line/column
// numbers in errors, and every limit.

#include <gtest/gtest.h>

#include "ingest/csv_reader.h"

namespace ledger::ingest {
namespace {

std::vector<std::vector<std::string>> Cells(const Result<CsvTable>& table) {
  std::vector<std::vector<std::string>> cells;
  if (!table) return cells;
  for (const CsvRecord& record : table->records) cells.push_back(record.cells);
  return cells;
}

void ExpectError(const Result<CsvTable>& table, const std::string& part) {
  ASSERT_FALSE(table) << "expected an error containing: " << part;
  EXPECT_NE(table.error().message.find(part), std::string::npos) << table.error().message;
}

using Rows = std::vector<std::vector<std::string>>;

TEST(CsvReader, PlainAndQuotedFields) {
  EXPECT_EQ(Cells(ReadCsv("a,b,c\n1,2,3\n")), (Rows{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(Cells(ReadCsv("\"a,b\",\"say \"\"hi\"\"\",\"\"\n")), (Rows{{"a,b", "say \"hi\"", ""}}));
  EXPECT_EQ(Cells(ReadCsv("a,,\n")), (Rows{{"a", "", ""}}));
  EXPECT_EQ(Cells(ReadCsv("a,b")), (Rows{{"a", "b"}}));  // no final line break
  EXPECT_EQ(Cells(ReadCsv("a,b,")), (Rows{{"a", "b", ""}}));
  EXPECT_EQ(Cells(ReadCsv(" a , b ")), (Rows{{" a ", " b "}}));  // the reader keeps spaces
  EXPECT_TRUE(ReadCsv("")->records.empty());
}

TEST(CsvReader, LineEndingsAndBom) {
  const Result<CsvTable> table = ReadCsv("\xEF\xBB\xBFh1,h2\r\n1,2\r\n3,4\r5,6\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_TRUE(table->had_bom);
  EXPECT_EQ(Cells(table), (Rows{{"h1", "h2"}, {"1", "2"}, {"3", "4"}, {"5", "6"}}));
  // A BOM anywhere but the start is content.
  EXPECT_EQ(Cells(ReadCsv("a\n\xEF\xBB\xBF" "b\n"))[1][0], "\xEF\xBB\xBF" "b");
}

TEST(CsvReader, NewlinesInsideQuotesAreNormalizedToLf) {
  const Rows crlf = Cells(ReadCsv("h\r\n\"one\r\ntwo\rthree\nfour\"\r\n"));
  ASSERT_EQ(crlf.size(), 2u);
  EXPECT_EQ(crlf[1][0], "one\ntwo\nthree\nfour");
  EXPECT_EQ(Cells(ReadCsv("h\n\"one\ntwo\nthree\nfour\"\n")), crlf);
}

TEST(CsvReader, RowsAndLinesCountLikeTheSheet) {
  const Result<CsvTable> table = ReadCsv("h1,h2\n\"multi\nline\",x\n\nlast,y\n");
  ASSERT_TRUE(table) << table.error().message;
  ASSERT_EQ(table->records.size(), 3u);  // the empty line is no record
  EXPECT_EQ(table->records[1].row, 2u);
  EXPECT_EQ(table->records[1].line, 2u);
  EXPECT_EQ(table->records[2].row, 3u);
  EXPECT_EQ(table->records[2].line, 5u);
}

TEST(CsvReader, MalformedInputNamesRowLineAndColumn) {
  ExpectError(ReadCsv("h1,h2\nok,\"never closed\nmore\n"), "CSV row 2 (line 2), column 2 (B)");
  ExpectError(ReadCsv("h1,h2\nok,\"never closed\nmore\n"), "unterminated");
  ExpectError(ReadCsv("h1,h2\n1,2\nab\"c,d\n"), "CSV row 3 (line 3), column 1 (A): a quote inside an unquoted field");
  ExpectError(ReadCsv("h1,h2\n\"ab\"c,d\n"), "text after the closing quote");
  const Result<CsvTable> table = ReadCsv("h\n\"x\n");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().field, "row 2 column 1");
}

TEST(CsvReader, Limits) {
  const CsvLimits small{.file_bytes_max = 100, .rows_max = 3, .field_bytes_max = 5, .columns_max = 3};
  EXPECT_TRUE(ReadCsv("12345,\"12345\"\n", small));
  ExpectError(ReadCsv("123456\n", small), "longer than 5 bytes");
  ExpectError(ReadCsv("\"123456\"\n", small), "longer than 5 bytes");
  EXPECT_TRUE(ReadCsv("\"1234\"\"\"\n", small));  // 5 bytes after unquoting
  ExpectError(ReadCsv("\"12345\"\"\"\n", small), "longer than 5 bytes");
  ExpectError(ReadCsv("\"12\n\n\n\n\"\n", small), "longer than 5 bytes");
  ExpectError(ReadCsv("a,b,c,d\n", small), "column 4 (D): more than 3 columns");
  const Result<CsvTable> rows = ReadCsv("a\nb\nc\nd\n", small);
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().code, ErrorCode::kTooLarge);
  const Result<CsvTable> big = ReadCsv(std::string(101, 'x'), small);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kTooLarge);
}

TEST(CsvReader, HugeFieldAtTheDefaultLimitFailsFast) {
  std::string text = "h\n\"" + std::string(kCsvFieldBytesMax + 1, 'x') + "\"\n";
  ExpectError(ReadCsv(text), "longer than " + std::to_string(kCsvFieldBytesMax));
  // An unterminated quote that would swallow the rest of a large file.
  std::string runaway = "h1,h2\n1,\"" + std::string(1 << 20, 'y');
  ExpectError(ReadCsv(runaway), "column 2 (B)");
}

TEST(CsvReader, BytesAreNotInterpreted) {
  // Invalid UTF-8, NUL and formula-looking text pass through as they are;
  // judging them is the row mapper's job.
  const std::string invalid = "\xC3\x28";
  const Rows rows = Cells(ReadCsv("=1+1,+cmd|' /C calc'!A0,@SUM(A1)," + invalid + "," + std::string(1, '\0') + "\n"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", invalid, std::string(1, '\0')}));
}

TEST(CsvReader, ColumnLetters) {
  EXPECT_EQ(ColumnLetters(1), "A");
  EXPECT_EQ(ColumnLetters(26), "Z");
  EXPECT_EQ(ColumnLetters(27), "AA");
  EXPECT_EQ(ColumnLetters(52), "AZ");
  EXPECT_EQ(ColumnLetters(703), "AAA");
}

}  // namespace
}  // namespace ledger::ingest
