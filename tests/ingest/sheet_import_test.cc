// The form-responses sheet: row mapping (columns, actions, sheet times,
// submission ids, hostile cells), the mapping file, and whole imports into a
// real ledger (re-reads, appended, re-ordered and edited rows, bad rows, and
// the same-sheet ticket reference rule), and the poller.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "common/time.h"
#include "ingest/sheet_import.h"
#include "ingest/sheet_poller.h"
#include "ingest/sheet_refusals.h"
#include "test_util.h"

namespace ledger::ingest {
namespace {

using testing::TempDir;

const std::vector<std::string> kHeader = {"Timestamp",  "Email Address",        "Action",   "Ticket Number",
                                          "Title",      "Description",          "Affected Systems",
                                          "Engineer Responsible", "Severity", "Outage Start", "Outage End",
                                          "Update Notes"};

// A response row by column title; unnamed columns are blank.
using Row = std::map<std::string, std::string>;

std::string Quoted(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (const char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string Line(const std::vector<std::string>& cells, const std::string& eol = "\r\n") {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + Quoted(cells[i]);
  return line + eol;
}

std::string Sheet(const std::vector<Row>& rows, const std::vector<std::string>& header = kHeader,
                  const std::string& eol = "\r\n") {
  std::string text = Line(header, eol);
  for (const Row& row : rows) {
    std::vector<std::string> cells;
    for (const std::string& title : header) cells.push_back(row.contains(title) ? row.at(title) : "");
    text += Line(cells, eol);
  }
  return text;
}

Row Create(const std::string& when, const std::string& title, const std::string& systems = "Mail") {
  return {{"Timestamp", when},        {"Email Address", "desk@example.org"},
          {"Action", "Create new incident"}, {"Title", title},
          {"Affected Systems", systems}, {"Engineer Responsible", "Ana Ruiz"}};
}
Row Update(const std::string& when, const std::string& ticket, const std::string& note) {
  return {{"Timestamp", when},
          {"Email Address", "desk@example.org"},
          {"Action", "Update existing incident"},
          {"Ticket Number", ticket},
          {"Update Notes", note}};
}
Row Close(const std::string& when, const std::string& ticket) {
  return {{"Timestamp", when}, {"Email Address", "desk@example.org"}, {"Action", "Close incident"},
          {"Ticket Number", ticket}};
}

SheetTimeZone Zone(const std::string& name) {
  Result<SheetTimeZone> zone = SheetTimeZone::Find(name);
  LEDGER_ASSERT(zone.has_value());
  return *zone;
}

// The header and one data row, mapped.
struct OneRow {
  SheetMapping mapping = DefaultSheetMapping();
  SheetColumns columns;
  CsvRecord record;
};

OneRow Parse(const std::string& sheet) {
  OneRow one;
  Result<CsvTable> table = ReadCsv(sheet);
  LEDGER_ASSERT(table.has_value() && table->records.size() == 2);
  Result<SheetColumns> columns = ResolveSheetColumns(one.mapping, table->records[0].cells);
  LEDGER_ASSERT(columns.has_value());
  one.columns = *columns;
  one.record = table->records[1];
  return one;
}

Result<MappedRow> Map(const Row& row, const std::string& zone = "Europe/Berlin") {
  const OneRow one = Parse(Sheet({row}));
  const SheetTimeZone sheet_zone = Zone(zone);
  return MapSheetRow(one.columns, one.mapping, &sheet_zone, one.record);
}

void ExpectRowError(const Result<MappedRow>& mapped, const std::string& field, const std::string& part) {
  ASSERT_FALSE(mapped) << "expected an error about " << field;
  EXPECT_EQ(mapped.error().field, field) << mapped.error().message;
  EXPECT_NE(mapped.error().message.find(part), std::string::npos) << mapped.error().message;
}

// ---------------------------------------------------------------------------
// Row mapping

TEST(SheetRow, CreateRowBecomesTheFormsCommand) {
  Row row = Create("11/24/2025 8:40:00", "Mail delayed", "Mail, VPN,  Mail");
  row["Description"] = "Queue stuck,\nsecond line";
  row["Severity"] = "Major";
  row["Outage Start"] = "11/24/2025 8:30";
  const Result<MappedRow> mapped = Map(row);
  ASSERT_TRUE(mapped) << mapped.error().message;
  const Command& command = mapped->command;
  EXPECT_EQ(command.action, Action::kCreate);
  EXPECT_EQ(command.actor, "desk@example.org");
  EXPECT_EQ(command.payload.title(), "Mail delayed");
  EXPECT_EQ(command.payload.description(), "Queue stuck,\nsecond line");
  ASSERT_EQ(command.payload.systems().names_size(), 2);
  EXPECT_EQ(command.payload.systems().names(1), "VPN");
  EXPECT_EQ(command.payload.severity(), proto::MAJOR);
  EXPECT_EQ(FormatRfc3339(Instant{command.payload.started_at().unix_micros(), command.payload.started_at().offset_minutes()}),
            "2025-11-24T08:30:00+01:00");
  EXPECT_EQ(FormatRfc3339Utc(mapped->submitted_at_micros), "2025-11-24T07:40:00Z");
  EXPECT_TRUE(command.submission_id.starts_with("sheet-"));
  EXPECT_EQ(command.submission_id.size(), 6u + 32u);

  // The same fields through the HTTP form path give the same content.
  Result<Command> form = ParseFormSubmission(
      "action=create&title=Mail+delayed&description=Queue+stuck%2C%0Asecond+line&systems=Mail%2CVPN&engineer=Ana+Ruiz"
      "&severity=major&started_at=2025-11-24T08%3A30%3A00%2B01%3A00&actor=desk%40example.org&submission_id=" +
      command.submission_id);
  ASSERT_TRUE(form) << form.error().message;
  EXPECT_EQ(form->Digest(), command.Digest());
}

// "Impact" and "Phase" are optional columns: read when the sheet has them
// (any case of the words), no warning when it does not, and an unknown word
// is refused naming its column and the words it takes.
TEST(SheetRow, ImpactAndPhaseColumnsAreOptional) {
  std::vector<std::string> header = kHeader;
  header.push_back("Impact");
  header.push_back("Phase");
  Row row = Create("11/24/2025 8:40:00", "Slow logins");
  row["Impact"] = "Degraded";
  row["Phase"] = "identified";
  {
    const OneRow one = Parse(Sheet({row}, header));
    const SheetTimeZone zone = Zone("Europe/Berlin");
    const Result<MappedRow> mapped = MapSheetRow(one.columns, one.mapping, &zone, one.record);
    ASSERT_TRUE(mapped) << mapped.error().message;
    EXPECT_EQ(mapped->command.payload.impact(), proto::DEGRADED);
    EXPECT_EQ(mapped->command.payload.phase(), proto::IDENTIFIED);
  }
  row["Impact"] = "Somewhat";
  {
    const OneRow one = Parse(Sheet({row}, header));
    const SheetTimeZone zone = Zone("Europe/Berlin");
    ExpectRowError(MapSheetRow(one.columns, one.mapping, &zone, one.record), "impact", "full, partial, degraded");
  }
  // The default header has neither column, and no warning says so.
  std::vector<std::string> everything_else = kHeader;
  everything_else.push_back("Link");
  everything_else.push_back("Detected At");
  everything_else.push_back("Acknowledged At");
  everything_else.push_back("Mitigated At");
  Result<SheetColumns> columns = ResolveSheetColumns(DefaultSheetMapping(), everything_else);
  ASSERT_TRUE(columns) << columns.error().message;
  EXPECT_TRUE(columns->warnings.empty()) << columns->warnings.front();
}

TEST(SheetRow, TimestampIsTheDefaultStartAndEnd) {
  const Result<MappedRow> create = Map(Create("7/4/2025 9:05", "x"));
  ASSERT_TRUE(create) << create.error().message;
  EXPECT_EQ(create->command.payload.started_at().unix_micros(), create->submitted_at_micros);
  EXPECT_EQ(create->command.payload.started_at().offset_minutes(), 120);  // CEST
  const Result<MappedRow> close = Map(Close("7/4/2025 10:05:30", "INC-3"));
  ASSERT_TRUE(close) << close.error().message;
  EXPECT_EQ(close->command.ticket, "INC-3");
  EXPECT_EQ(FormatRfc3339Utc(close->command.payload.ended_at().unix_micros()), "2025-07-04T08:05:30Z");
  const Result<MappedRow> update = Map(Update("7/4/2025 10:05:30", "3", "note"));
  ASSERT_TRUE(update) << update.error().message;
  EXPECT_FALSE(update->command.payload.has_started_at());
  EXPECT_FALSE(update->command.payload.has_ended_at());
}

TEST(SheetRow, ActionWords) {
  for (const std::string word : {"Create new incident", "CREATE NEW INCIDENT", " create ", "Create  new   incident"}) {
    Row row = Create("1/2/2025 3:04:05", "t");
    row["Action"] = word;
    const Result<MappedRow> mapped = Map(row);
    ASSERT_TRUE(mapped) << word << ": " << mapped.error().message;
    EXPECT_EQ(mapped->command.action, Action::kCreate);
  }
  const std::vector<std::pair<std::string, Action>> others = {{"Update existing incident", Action::kUpdate},
                                                              {"update", Action::kUpdate},
                                                              {"Close incident", Action::kClose},
                                                              {"CLOSE", Action::kClose},
                                                              {"Reopen incident", Action::kReopen},
                                                              {"reopen", Action::kReopen}};
  for (const auto& [word, action] : others) {
    Row row = Update("1/2/2025 3:04:05", "INC-1", "n");
    row["Action"] = word;
    const Result<MappedRow> mapped = Map(row);
    ASSERT_TRUE(mapped) << word << ": " << mapped.error().message;
    EXPECT_EQ(mapped->command.action, action) << word;
  }
  Row unknown = Create("1/2/2025 3:04:05", "t");
  unknown["Action"] = "Escalate incident";
  ExpectRowError(Map(unknown), "action", "\"Escalate incident\" is not one of");
  unknown["Action"] = "";
  ExpectRowError(Map(unknown), "action", "is not one of");
}

TEST(SheetRow, SheetTimes) {
  const SheetTimeZone berlin = Zone("Europe/Berlin");
  const auto parsed = [&](const std::string& text) { return ParseSheetTime(text, &berlin, "Outage Start"); };
  EXPECT_EQ(FormatRfc3339(*parsed("1/2/2025 3:04:05")), "2025-01-02T03:04:05+01:00");
  EXPECT_EQ(FormatRfc3339(*parsed("01/02/2025 03:04")), "2025-01-02T03:04:00+01:00");
  EXPECT_EQ(FormatRfc3339(*parsed(" 12/31/2025 23:59:59 ")), "2025-12-31T23:59:59+01:00");
  EXPECT_EQ(FormatRfc3339(*parsed("2025-01-02T03:04:05-05:00")), "2025-01-02T03:04:05-05:00");
  // Clocks go back: 2:30 happens twice; the earlier one (still +02:00).
  EXPECT_EQ(FormatRfc3339(*parsed("10/26/2025 2:30")), "2025-10-26T02:30:00+02:00");
  for (const std::string bad : {"2/30/2025 1:00", "13/1/2025 1:00", "1/1/2025 24:00", "1/1/2025 1:60", "1/1/25 1:00",
                                 "1/1/2025", "1/1/2025 1", "1/1/2025 1:0", "1/1/2025 1:00:00:00", "x/1/2025 1:00",
                                 "2025-01-02T03:04:05", "", "1/1/2025 1:00 PM"}) {
    const Result<Instant> instant = parsed(bad);
    EXPECT_FALSE(instant) << bad;
    if (!instant) {
      EXPECT_NE(instant.error().message.find("Outage Start"), std::string::npos) << instant.error().message;
    }
  }
  // Clocks skip 2:00-3:00 on 30 March 2025 in Berlin.
  const Result<Instant> skipped = parsed("3/30/2025 2:30");
  ASSERT_FALSE(skipped);
  EXPECT_NE(skipped.error().message.find("does not exist in Europe/Berlin"), std::string::npos);
  // Without a zone a sheet time is refused, saying what to do; RFC 3339 is fine.
  const Result<Instant> no_zone = ParseSheetTime("1/2/2025 3:04", nullptr, "Timestamp");
  ASSERT_FALSE(no_zone);
  EXPECT_NE(no_zone.error().message.find("--sheet-timezone"), std::string::npos);
  EXPECT_TRUE(ParseSheetTime("2025-01-02T03:04:05Z", nullptr, "Timestamp"));
  EXPECT_FALSE(SheetTimeZone::Find("Mars/Olympus_Mons"));
  EXPECT_FALSE(SheetTimeZone::Find(""));
}

TEST(SheetRow, BadCellsNameTheirColumn) {
  Row row = Create("11/24/2025 8:40:00", "t");
  row["Outage Start"] = "13/45/2025 8:00";
  ExpectRowError(Map(row), "started_at", "Outage Start \"13/45/2025 8:00\" is not a calendar date");
  row = Create("yesterday", "t");
  ExpectRowError(Map(row), "timestamp", "Timestamp must be a sheet time");
  row = Create("", "t");
  ExpectRowError(Map(row), "timestamp", "Timestamp is required");
  row = Update("11/24/2025 8:40:00", "", "note");
  ExpectRowError(Map(row), "ticket", "ticket is required for action update");
  row = Update("11/24/2025 8:40:00", "INC-x", "note");
  ExpectRowError(Map(row), "ticket", "ticket number like INC-42");
  row = Update("11/24/2025 8:40:00", "INC-1", "");
  ExpectRowError(Map(row), "", "an update must change at least one");
  row = Create("11/24/2025 8:40:00", "t");
  row["Severity"] = "apocalyptic";
  ExpectRowError(Map(row), "severity", "minor, major, critical");
  row = Create("11/24/2025 8:40:00", "t");
  row["Outage End"] = "11/24/2025 9:00";
  ExpectRowError(Map(row), "ended_at", "does not apply to action create");
  row = Create("11/24/2025 8:40:00", "t");
  row["Ticket Number"] = "INC-4";
  ExpectRowError(Map(row), "ticket", "must not be given with action create");
  row = Create("11/24/2025 8:40:00", "");
  ExpectRowError(Map(row), "title", "title is required");
}

TEST(SheetRow, HostileCells) {
  // Invalid UTF-8 is refused by the form's own rules, naming the column.
  Row row = Create("11/24/2025 8:40:00", "bad \xC3\x28 title");
  ExpectRowError(Map(row), "title", "valid UTF-8");
  row = Create("11/24/2025 8:40:00", "t");
  row["Description"] = "ok \xFF\xFE";
  ExpectRowError(Map(row), "description", "valid UTF-8");
  // A control character in a one-line field.
  row = Create("11/24/2025 8:40:00", std::string("bell\a"));
  ExpectRowError(Map(row), "title", "control characters");
  // A huge description: the form's limit, not the reader's.
  row = Create("11/24/2025 8:40:00", "t");
  row["Description"] = std::string(kDescriptionBytesMax + 1, 'd');
  ExpectRowError(Map(row), "description", "at most 8000 bytes");
  // Formula-looking cells are text: stored as written, never evaluated.
  row = Create("11/24/2025 8:40:00", "=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0");
  row["Description"] = "@SUM(A1:A9)\n-2+3";
  row["Engineer Responsible"] = "=1+1";
  const Result<MappedRow> mapped = Map(row);
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_EQ(mapped->command.payload.title(), "=HYPERLINK(\"http://evil.example\",\"click\")");
  EXPECT_EQ(mapped->command.payload.systems().names(0), "+cmd|' /C calc'!A0");
  EXPECT_EQ(mapped->command.payload.description(), "@SUM(A1:A9)\n-2+3");
  EXPECT_EQ(mapped->command.payload.engineer(), "=1+1");
  // An unknown action's text is shown safely in the rule.
  row = Create("11/24/2025 8:40:00", "t");
  row["Action"] = "\xFF\x01" + std::string(500, 'a');
  const Result<MappedRow> weird = Map(row);
  ASSERT_FALSE(weird);
  EXPECT_TRUE(IsValidUtf8(weird.error().message));
  EXPECT_LT(weird.error().message.size(), 300u);
}

TEST(SheetRow, ShortRowIsRefused) {
  OneRow one = Parse(Sheet({Create("11/24/2025 8:40:00", "t")}));
  one.record.cells.pop_back();
  const SheetTimeZone zone = Zone("UTC");
  ExpectRowError(MapSheetRow(one.columns, one.mapping, &zone, one.record), "", "11 cells where the header has 12");
}

TEST(SheetRow, SubmissionIdFollowsContentOnly) {
  const Row row = Update("11/24/2025 8:40:00", "INC-1", "MX queue draining");
  const std::string id = Map(row)->command.submission_id;
  // Another time zone, another position, surrounding spaces, extra unmapped
  // columns, renamed and reordered columns: the same id.
  EXPECT_EQ(Map(row, "UTC")->command.submission_id, id);
  Row spaced = row;
  spaced["Update Notes"] = "  MX queue draining ";
  EXPECT_EQ(Map(spaced)->command.submission_id, id);
  std::vector<std::string> header = kHeader;
  std::reverse(header.begin(), header.end());
  header.push_back("Anything else?");
  Row extra = row;
  extra["Anything else?"] = "no";
  Result<CsvTable> table = ReadCsv(Sheet({Create("1/1/2025 1:00", "other"), extra}, header));
  ASSERT_TRUE(table);
  const SheetMapping mapping = DefaultSheetMapping();
  Result<SheetColumns> columns = ResolveSheetColumns(mapping, table->records[0].cells);
  ASSERT_TRUE(columns);
  EXPECT_EQ(SheetSubmissionId(*columns, table->records[2]), id);
  // Any edited cell: another id.
  Row edited = row;
  edited["Update Notes"] = "MX queue drained";
  EXPECT_NE(Map(edited)->command.submission_id, id);
  Row later = row;
  later["Timestamp"] = "11/24/2025 8:40:01";
  EXPECT_NE(Map(later)->command.submission_id, id);
  Row other_actor = row;
  other_actor["Email Address"] = "bo@example.org";
  EXPECT_NE(Map(other_actor)->command.submission_id, id);
  // Moving text from one column to another changes it too.
  Row moved = row;
  moved.erase("Update Notes");
  moved["Title"] = "MX queue draining";
  EXPECT_NE(Map(moved)->command.submission_id, id);
}

// ---------------------------------------------------------------------------
// Columns and the mapping file

TEST(SheetColumnsTest, HeaderMatchingAndProblems) {
  const SheetMapping mapping = DefaultSheetMapping();
  Result<SheetColumns> columns = ResolveSheetColumns(mapping, {" timestamp ", "ACTION", "email  address", "Title"});
  ASSERT_TRUE(columns) << columns.error().message;
  EXPECT_EQ(columns->index[static_cast<size_t>(SheetField::kActor)], 2u);
  EXPECT_FALSE(columns->warnings.empty());  // Description, Affected Systems, ... are missing
  const Result<SheetColumns> no_timestamp = ResolveSheetColumns(mapping, {"When", "Action"});
  ASSERT_FALSE(no_timestamp);
  EXPECT_NE(no_timestamp.error().message.find("no \"Timestamp\" column"), std::string::npos);
  EXPECT_FALSE(ResolveSheetColumns(mapping, {"Timestamp", "Title"}));
  const Result<SheetColumns> twice = ResolveSheetColumns(mapping, {"Timestamp", "Action", "Title", "title"});
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("twice (C and D)"), std::string::npos) << twice.error().message;
}

TEST(SheetMappingFile, OverridesAndRefusals) {
  Result<SheetMapping> mapping = ParseSheetMapping(R"({
    "columns": {"timestamp": "Zeitstempel", "actor": "E-Mail-Adresse", "action": "Aktion", "ticket": "Ticketnummer",
                "link": null},
    "actions": {"Neuen Vorfall melden": "create", "Vorfall schließen": "close"}})");
  ASSERT_TRUE(mapping) << mapping.error().message;
  EXPECT_EQ(mapping->titles[static_cast<size_t>(SheetField::kTimestamp)], "Zeitstempel");
  EXPECT_EQ(mapping->titles[static_cast<size_t>(*SheetFieldByName("title"))], "Title");  // default kept
  EXPECT_TRUE(mapping->titles[static_cast<size_t>(*SheetFieldByName("link"))].empty());
  EXPECT_EQ(mapping->actions.at("neuen vorfall melden"), Action::kCreate);
  EXPECT_EQ(mapping->actions.at("create new incident"), Action::kCreate);  // defaults stay

  const std::string sheet = Line({"Zeitstempel", "E-Mail-Adresse", "Aktion", "Ticketnummer", "Update Notes"}) +
                            Line({"2/3/2025 4:05", "x@example.org", "Vorfall schließen", "INC-2", "fixed"});
  Result<CsvTable> table = ReadCsv(sheet);
  ASSERT_TRUE(table);
  Result<SheetColumns> columns = ResolveSheetColumns(*mapping, table->records[0].cells);
  ASSERT_TRUE(columns) << columns.error().message;
  const SheetTimeZone zone = Zone("UTC");
  const Result<MappedRow> mapped = MapSheetRow(*columns, *mapping, &zone, table->records[1]);
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_EQ(mapped->command.action, Action::kClose);
  EXPECT_EQ(mapped->command.actor, "x@example.org");

  for (const std::string bad : {R"([])", R"({"columns": {"colour": "Farbe"}})", R"({"columns": {"title": 7}})",
                                 R"({"columns": {"title": "  "}})", R"({"columns": {"timestamp": null}})",
                                 R"({"actions": {"Weg damit": "delete"}})", R"({"extra": {}})", R"({"columns": [}")",
                                 R"({"columns": "Title"})"}) {
    EXPECT_FALSE(ParseSheetMapping(bad)) << bad;
  }
  EXPECT_TRUE(ParseSheetMapping("{}"));
  EXPECT_FALSE(ParseSheetMapping(std::string(kMappingFileBytesMax + 1, ' ')));
}

TEST(PollInterval, Parses) {
  EXPECT_EQ(*ParsePollInterval("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParsePollInterval("90s"), std::chrono::seconds(90));
  EXPECT_EQ(*ParsePollInterval("90"), std::chrono::seconds(90));
  EXPECT_EQ(*ParsePollInterval("1h"), std::chrono::hours(1));
  EXPECT_EQ(*ParsePollInterval("1500ms"), std::chrono::milliseconds(1500));
  for (const std::string bad : {"", "m", "2 m", "-1s", "0s", "999ms", "25h", "1d", "99999999999s", "2m30s"}) {
    EXPECT_FALSE(ParsePollInterval(bad)) << bad;
  }
}

// ---------------------------------------------------------------------------
// Whole imports into a real ledger

class SheetImportTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    target_.reset();
    processor_.reset();
    log_.reset();
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir_.path()});
    ASSERT_TRUE(opened) << opened.error().message;
    log_ = std::move(*opened);
    Result<std::unique_ptr<CommandProcessor>> created = CommandProcessor::Create(log_.get());
    ASSERT_TRUE(created) << created.error().message;
    processor_ = std::move(*created);
    target_ = std::make_unique<LedgerSheetTarget>(log_.get(), processor_.get());
  }

  SheetImportReport Import(const std::string& csv, const std::string& zone_name = "Europe/Berlin") {
    const SheetTimeZone zone = Zone(zone_name);
    return ImportSheet(csv, SheetImportOptions{.mapping = &mapping_, .zone = &zone}, *target_);
  }

  const SheetRowReport& RowReport(const SheetImportReport& report, size_t row) {
    for (const SheetRowReport& each : report.rows) {
      if (each.row == row) return each;
    }
    ADD_FAILURE() << "no report for row " << row;
    static const SheetRowReport kNone;
    return kNone;
  }

  uint64_t Head() const { return log_->head().seq; }

  TempDir dir_;
  SheetMapping mapping_ = DefaultSheetMapping();
  std::unique_ptr<Ledger> log_;
  std::unique_ptr<CommandProcessor> processor_;
  std::unique_ptr<LedgerSheetTarget> target_;
};

TEST_F(SheetImportTest, ReReadingAppendingReorderingAndEditing) {
  std::vector<Row> rows = {Create("11/24/2025 8:40:00", "Mail delayed"), Update("11/24/2025 9:00:00", "INC-1", "draining"),
                           Create("11/24/2025 9:10:00", "VPN flaps", "VPN"), Close("11/24/2025 9:30:00", "INC-1")};
  SheetImportReport first = Import(Sheet(rows));
  ASSERT_FALSE(first.file_error);
  EXPECT_EQ(first.rows_read, 4u);
  EXPECT_EQ(first.appended, 4u) << first.ToJson();
  EXPECT_EQ(Head(), 4u);
  EXPECT_EQ(RowReport(first, 4).ticket, "INC-2");

  // The same sheet again, from another process: nothing new.
  Open();
  SheetImportReport again = Import(Sheet(rows));
  EXPECT_EQ(again.already_present, 4u);
  EXPECT_EQ(again.appended, 0u);
  EXPECT_EQ(RowReport(again, 2).seq, 1u);
  EXPECT_EQ(Head(), 4u);

  // Rows appended (LF this time, no BOM): only they go in.
  rows.push_back(Update("11/24/2025 10:00:00", "INC-2", "still flapping"));
  rows.push_back(Close("11/24/2025 10:30:00", "2"));
  SheetImportReport appended = Import("\xEF\xBB\xBF" + Sheet(rows, kHeader, "\n"));
  EXPECT_EQ(appended.appended, 2u) << appended.ToJson();
  EXPECT_EQ(appended.already_present, 4u);
  EXPECT_EQ(Head(), 6u);

  // Re-ordered (newest first, as a sorted sheet exports): nothing new, and
  // the rows are still applied in Timestamp order.
  std::vector<Row> reversed(rows.rbegin(), rows.rend());
  SheetImportReport reordered = Import(Sheet(reversed));
  EXPECT_EQ(reordered.already_present, 6u) << reordered.ToJson();
  EXPECT_EQ(reordered.rejected, 0u);
  EXPECT_EQ(Head(), 6u);
  EXPECT_EQ(reordered.rows.front().row, 2u);  // reported in row order

  // An edited row is a new submission.
  rows[1]["Update Notes"] = "draining (edited)";
  SheetImportReport edited = Import(Sheet(rows));
  EXPECT_EQ(edited.appended, 1u) << edited.ToJson();
  EXPECT_EQ(edited.already_present, 5u);
  EXPECT_EQ(RowReport(edited, 3).outcome, RowOutcome::kAppended);
  EXPECT_EQ(Head(), 7u);

  // Another --sheet-timezone reads the same rows differently: refused as a
  // reused submission id, never appended twice.
  SheetImportReport other_zone = Import(Sheet(rows), "America/New_York");
  EXPECT_EQ(other_zone.appended, 0u);
  EXPECT_GT(other_zone.rejected, 0u);
  EXPECT_EQ(RowReport(other_zone, 2).code, ErrorCode::kConflict);
  EXPECT_NE(RowReport(other_zone, 2).rule.find("--sheet-timezone"), std::string::npos);
  EXPECT_EQ(Head(), 7u);
}

TEST_F(SheetImportTest, BadRowInTheMiddleIsReportedAndLaterRowsGoIn) {
  Row bad_date = Create("11/24/2025 8:50:00", "Printer");
  bad_date["Outage Start"] = "11/31/2025 8:00";
  Row unknown_action = Update("11/24/2025 8:55:00", "INC-1", "x");
  unknown_action["Action"] = "Escalate";
  const std::vector<Row> rows = {Create("11/24/2025 8:40:00", "Mail delayed"),
                                 Update("11/24/2025 8:45:00", "", "no ticket"),
                                 bad_date,
                                 unknown_action,
                                 Update("11/24/2025 9:00:00", "INC-1", "after the bad rows"),
                                 {},  // a blank row
                                 Close("11/24/2025 9:30:00", "INC-1")};
  const SheetImportReport report = Import(Sheet(rows));
  EXPECT_EQ(report.rows_read, 6u);
  EXPECT_EQ(report.blank_rows, 1u);
  EXPECT_EQ(report.appended, 3u) << report.ToJson();
  EXPECT_EQ(report.rejected, 3u);
  EXPECT_EQ(Head(), 3u);
  const SheetRowReport& no_ticket = RowReport(report, 3);
  EXPECT_EQ(no_ticket.outcome, RowOutcome::kRejected);
  EXPECT_EQ(no_ticket.column, "Ticket Number");
  EXPECT_EQ(no_ticket.column_letters, "D");
  const SheetRowReport& date = RowReport(report, 4);
  EXPECT_EQ(date.column, "Outage Start");
  EXPECT_EQ(date.column_letters, "J");
  EXPECT_NE(date.rule.find("11/31/2025 8:00"), std::string::npos) << date.rule;
  EXPECT_EQ(RowReport(report, 5).column, "Action");
  EXPECT_EQ(RowReport(report, 6).outcome, RowOutcome::kAppended);
  const std::vector<std::string> lines = report.RejectionLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("row 3 (line 3), column \"Ticket Number\" (D): ", 0), 0u) << lines[0];
  EXPECT_NE(report.Summary().find("rows read 6, appended 3, already present 0, rejected 3"), std::string::npos);
}

TEST_F(SheetImportTest, RowsGoInTimestampOrder) {
  // The update sits above its create in the file but was submitted later.
  const SheetImportReport report =
      Import(Sheet({Update("11/24/2025 9:00:00", "INC-1", "later"), Create("11/24/2025 8:40:00", "Mail delayed")}));
  EXPECT_EQ(report.appended, 2u) << report.ToJson();
  EXPECT_EQ(RowReport(report, 3).seq, 1u);
  EXPECT_EQ(RowReport(report, 2).seq, 2u);
}

TEST_F(SheetImportTest, AFailedCreateNeverShiftsALaterRowOntoAnotherIncident) {
  Row failed = Create("11/24/2025 8:40:00", "Mail delayed");
  failed["Severity"] = "apocalyptic";
  const std::vector<Row> rows = {
      failed,                                                // row 2: rejected; would have been INC-1
      Create("11/24/2025 8:50:00", "VPN flaps", "VPN"),      // row 3: becomes INC-1
      Update("11/24/2025 9:00:00", "INC-1", "meant mail"),  // row 4: guessed INC-1 for row 2's incident
      Update("11/24/2025 9:05:00", "INC-2", "meant vpn"),   // row 5: guessed INC-2 for row 3's incident
  };
  const SheetImportReport report = Import(Sheet(rows));
  EXPECT_EQ(report.appended, 1u) << report.ToJson();
  EXPECT_EQ(RowReport(report, 3).ticket, "INC-1");
  const SheetRowReport& shifted = RowReport(report, 4);
  EXPECT_EQ(shifted.outcome, RowOutcome::kRejected);
  EXPECT_EQ(shifted.column, "Ticket Number");
  EXPECT_NE(shifted.rule.find("the create on row 2 was rejected"), std::string::npos) << shifted.rule;
  const SheetRowReport& missing = RowReport(report, 5);
  EXPECT_EQ(missing.code, ErrorCode::kNotFound);
  EXPECT_NE(missing.rule.find("the create on row 2 of this sheet was rejected"), std::string::npos) << missing.rule;

  // Still refused on every later read; nothing is appended to INC-1.
  const SheetImportReport again = Import(Sheet(rows));
  EXPECT_EQ(RowReport(again, 4).outcome, RowOutcome::kRejected);
  EXPECT_EQ(Head(), 1u);

  // Fixing row 2 makes it INC-2, after row 3's INC-1: the numbers are out of
  // sheet order, so the guesses stay refused rather than land on the wrong
  // incident.
  std::vector<Row> fixed = rows;
  fixed[0]["Severity"] = "critical";
  const SheetImportReport after_fix = Import(Sheet(fixed));
  EXPECT_EQ(RowReport(after_fix, 2).ticket, "INC-2");
  EXPECT_EQ(RowReport(after_fix, 4).outcome, RowOutcome::kRejected) << after_fix.ToJson();
  EXPECT_NE(RowReport(after_fix, 4).rule.find("row 3 got INC-1 where counting the sheet's creates gives INC-3"),
            std::string::npos)
      << RowReport(after_fix, 4).rule;
  EXPECT_EQ(RowReport(after_fix, 5).outcome, RowOutcome::kRejected);
  EXPECT_NE(RowReport(after_fix, 5).rule.find("a later create row of this sheet got the lower number INC-1"),
            std::string::npos)
      << RowReport(after_fix, 5).rule;
  EXPECT_EQ(Head(), 2u);
}

TEST_F(SheetImportTest, KnownTicketsAndTicketsFromElsewhere) {
  // A ticket opened through the form, then a row submitted after that names
  // it: the usual case.
  Result<Command> form = ParseJsonSubmission(R"({"action":"create","title":"Form","systems":["db"],"engineer":"e"})");
  ASSERT_TRUE(form);
  ASSERT_TRUE(processor_->Submit(*form));
  const std::string now = FormatRfc3339(Instant{NowMicros() / 1'000'000 * 1'000'000 + 1'000'000, 0});
  SheetImportReport report = Import(Sheet({Update(now, "INC-1", "from the sheet")}));
  EXPECT_EQ(report.appended, 1u) << report.ToJson();

  // A row written before INC-2 existed, when INC-2 came from the form and not
  // from this sheet: it cannot have meant it.
  Result<Command> second = ParseJsonSubmission(R"({"action":"create","title":"Form 2","systems":["db"],"engineer":"e"})");
  ASSERT_TRUE(processor_->Submit(*second));
  report = Import(Sheet({Update("1/1/2025 0:00", "INC-2", "guess")}));
  EXPECT_EQ(report.rejected, 1u);
  EXPECT_NE(report.rows[0].rule.find("was not created by an earlier row of this sheet"), std::string::npos)
      << report.rows[0].rule;
  // An unknown ticket: the processor's 404, naming the column.
  report = Import(Sheet({Update("1/1/2025 0:00", "INC-99", "nope")}));
  EXPECT_EQ(report.rows[0].code, ErrorCode::kNotFound);
  EXPECT_EQ(report.rows[0].column, "Ticket Number");
}

TEST_F(SheetImportTest, FileProblemsSubmitNothing) {
  EXPECT_TRUE(Import("").file_error);
  EXPECT_TRUE(Import("Title,Action\nx,create\n").file_error);
  const SheetImportReport broken = Import(Sheet({Create("11/24/2025 8:40:00", "ok")}) + "\"unterminated,\n");
  ASSERT_TRUE(broken.file_error);
  EXPECT_NE(broken.file_error->message.find("CSV row 3"), std::string::npos) << broken.file_error->message;
  EXPECT_EQ(Head(), 0u);
  EXPECT_NE(broken.ToJson().find("\"file_error\":{"), std::string::npos);
}

TEST_F(SheetImportTest, StopsBetweenRows) {
  std::atomic<bool> stop{true};
  const SheetTimeZone zone = Zone("UTC");
  const SheetImportReport report = ImportSheet(Sheet({Create("11/24/2025 8:40:00", "a"), Create("11/24/2025 8:41:00", "b")}),
                                               SheetImportOptions{.mapping = &mapping_, .zone = &zone, .stop = &stop},
                                               *target_);
  EXPECT_TRUE(report.stopped);
  EXPECT_EQ(Head(), 0u);
}

// ---------------------------------------------------------------------------
// The poller

void WriteFile(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << content;
  }
  std::filesystem::rename(temporary, path);
}

TEST_F(SheetImportTest, PollerImportsEachChangeOnceAndSurvivesBadFiles) {
  const std::string path = dir_.Sub("responses.csv");
  const std::string log_path = dir_.Sub("poller.log");
  std::FILE* log = std::fopen(log_path.c_str(), "w");
  ASSERT_NE(log, nullptr);
  std::vector<Row> rows = {Create("11/24/2025 8:40:00", "Mail delayed")};
  WriteFile(path, Sheet(rows));
  SheetPollerOptions options;
  options.path = path;
  options.interval = std::chrono::milliseconds(1000);
  options.zone = Zone("Europe/Berlin");
  options.log = log;
  std::unique_ptr<SheetPoller> poller = SheetPoller::Start(options, target_.get());
  const auto wait_for_head = [this](uint64_t seq) {
    for (int i = 0; i < 200 && Head() < seq; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return Head();
  };
  EXPECT_EQ(wait_for_head(1), 1u);

  // A malformed file: reported, nothing appended, still polling.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new modification time
  WriteFile(path, Sheet(rows) + "\"never closed\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  EXPECT_EQ(Head(), 1u);

  rows.push_back(Update("11/24/2025 9:00:00", "INC-1", "draining"));
  rows.push_back(Close("11/24/2025 9:30:00", "INC-1"));
  WriteFile(path, Sheet(rows));
  EXPECT_EQ(wait_for_head(3), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Head(), 3u);  // each row exactly once
  const SheetPollerStats stats = poller->stats();
  poller->Stop();
  std::fclose(log);
  EXPECT_EQ(stats.imports, 3u);      // the first file, the malformed one, the third
  EXPECT_EQ(stats.file_errors, 1u);  // the malformed one
  EXPECT_EQ(stats.rows_appended, 3u);
  EXPECT_EQ(stats.rows_already_present, 1u);
  EXPECT_EQ(stats.last_import_rows_read, 3u);
  EXPECT_EQ(stats.last_import_rows_already_present, 1u);
  EXPECT_TRUE(stats.last_import_file_ok);
  EXPECT_GT(stats.last_import_unix_seconds, 0);
  std::ifstream log_file(log_path);
  const std::string logged((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(logged.find("unterminated"), std::string::npos) << logged;
  EXPECT_NE(logged.find("rows read 3, appended 2, already present 1, rejected 0"), std::string::npos) << logged;
}

// ---------------------------------------------------------------------------
// Refused rows (sheet_refusals.h)

// Three bad rows of three authors: a mistyped ticket (with a hostile note),
// a time the clocks skip, an update with nothing in it; and one good row.
std::vector<Row> BadRows() {
  Row mistyped = Update("3/28/2026 9:00:00", "INC-999", "<b>x</b>\r\nBcc: evil@example.org");
  mistyped["Email Address"] = "Ana@Example.org";
  Row skipped = Create("3/28/2026 9:10:00", "DST", "Mail");
  skipped["Outage Start"] = "3/29/2026 2:30:00";
  skipped["Email Address"] = "bo@example.org";
  Row empty = {{"Timestamp", "3/28/2026 9:20:00"}, {"Email Address", "not an address"},
               {"Action", "Update existing incident"}, {"Ticket Number", "INC-1"}};
  return {Create("3/28/2026 8:00:00", "Mail delayed"), mistyped, skipped, empty};
}

TEST_F(SheetImportTest, RejectedRowsCarryTheirContentAuthorAndCells) {
  const SheetImportReport report = Import(Sheet(BadRows()));
  ASSERT_EQ(report.rejected, 3u);
  const SheetRowReport& mistyped = RowReport(report, 3);
  EXPECT_EQ(mistyped.outcome, RowOutcome::kRejected);
  EXPECT_EQ(mistyped.column, "Ticket Number");
  EXPECT_EQ(mistyped.author, "Ana@Example.org");
  EXPECT_EQ(mistyped.content_id, mistyped.submission_id.substr(kSheetSubmissionIdPrefix.size()));
  EXPECT_EQ(mistyped.content_id.size(), 32u);
  const auto note = std::find_if(mistyped.cells.begin(), mistyped.cells.end(),
                                 [](const auto& cell) { return cell.first == "Update Notes"; });
  ASSERT_NE(note, mistyped.cells.end());
  EXPECT_EQ(note->second, "<b>x</b>\nBcc: evil@example.org");  // the CSV reader reads CRLF in a cell as LF
  EXPECT_EQ(RowReport(report, 4).column, "Outage Start");
  EXPECT_NE(RowReport(report, 4).rule.find("clocks skip"), std::string::npos) << RowReport(report, 4).rule;
  EXPECT_EQ(RowReport(report, 5).column, "");
  EXPECT_NE(RowReport(report, 5).rule.find("must change at least one"), std::string::npos);
  EXPECT_TRUE(RowReport(report, 2).cells.empty());  // appended rows keep no cells
  for (size_t row = 3; row <= 5; ++row) EXPECT_TRUE(IsRecordedRefusal(RowReport(report, row))) << row;
  EXPECT_FALSE(IsRecordedRefusal(RowReport(report, 2)));
  SheetRowReport io = RowReport(report, 3);
  io.code = ErrorCode::kIoError;
  EXPECT_FALSE(IsRecordedRefusal(io));  // not the row's fault: tried again, not recorded

  const proto::SheetRowRefusal refusal = RefusalFromRow(mistyped, "responses.csv");
  EXPECT_EQ(refusal.submitter(), "ana@example.org");  // normalised
  EXPECT_EQ(refusal.row(), 3u);
  EXPECT_EQ(refusal.column_letters(), "D");
  EXPECT_EQ(refusal.field(), "ticket");
  EXPECT_EQ(refusal.file(), "responses.csv");
  EXPECT_EQ(RefusalFromRow(RowReport(report, 5), "responses.csv").submitter(), "");  // no valid address

  // A row cut short has no submission id but a content id of its cells.
  const SheetImportReport short_row = Import(Line(kHeader) + "3/28/2026 9:30:00,x@example.org,Close incident\r\n");
  ASSERT_EQ(short_row.rows.size(), 1u);
  EXPECT_TRUE(short_row.rows[0].submission_id.empty());
  EXPECT_EQ(short_row.rows[0].content_id.size(), 32u);
  EXPECT_EQ(short_row.rows[0].author, "x@example.org");
}

TEST(SheetRefusal, KeepsValidTextWithinItsLimits) {
  SheetRowReport row;
  row.outcome = RowOutcome::kRejected;
  row.content_id = std::string(32, 'a');
  row.rule = std::string(kRefusedRuleBytesMax + 10, 'r');
  row.author = "desk@example.org";
  // Two-byte characters across the cut, and bytes that are no UTF-8.
  std::string long_cell;
  while (long_cell.size() < kRefusedCellBytesMax + 10) long_cell += "\xc3\xa9";
  for (size_t i = 0; i < kRefusedCellsMax + 5; ++i) row.cells.emplace_back("C" + std::to_string(i), long_cell);
  row.cells[1].second = "bad \xff\xfe bytes";
  const proto::SheetRowRefusal refusal = RefusalFromRow(row, "f.csv");
  EXPECT_EQ(refusal.rule().size(), kRefusedRuleBytesMax);
  ASSERT_EQ(static_cast<size_t>(refusal.cells_size()), kRefusedCellsMax);
  EXPECT_LE(refusal.cells(0).text().size(), kRefusedCellBytesMax);
  EXPECT_GE(refusal.cells(0).text().size(), kRefusedCellBytesMax - 1);
  EXPECT_TRUE(IsValidUtf8(refusal.cells(0).text()));
  EXPECT_TRUE(IsValidUtf8(refusal.cells(1).text()));
  EXPECT_EQ(refusal.cells(1).text(), "bad ?? bytes");
  std::string serialized;
  EXPECT_TRUE(refusal.SerializeToString(&serialized));
}

size_t RefusalEvents(const Ledger& log) {
  size_t count = 0;
  EXPECT_TRUE(log.ForEach(0, [&count](const StoredEvent& stored) -> Result<Flow> {
    if (stored.event.type() == proto::SHEET_ROW_REFUSED) ++count;
    return Flow::kContinue;
  }));
  return count;
}

TEST_F(SheetImportTest, EachRefusedContentIsRecordedOnceAlsoAfterAReopen) {
  const SheetImportReport report = Import(Sheet(BadRows()));
  const SheetRowReport& mistyped = RowReport(report, 3);
  const uint64_t before = Head();
  {
    LedgerRefusalRecorder recorder(log_.get());
    Result<RefusalRecorded> first = recorder.Record(RefusalFromRow(mistyped, "a.csv"));
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_FALSE(first->repeated);
    EXPECT_EQ(first->seq, before + 1);
    // The same content, another file name and rule: still the first event.
    proto::SheetRowRefusal again = RefusalFromRow(mistyped, "b.csv");
    again.set_rule("another rule");
    Result<RefusalRecorded> second = recorder.Record(again);
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->repeated);
    EXPECT_EQ(second->seq, first->seq);
    proto::SheetRowRefusal bad = RefusalFromRow(mistyped, "a.csv");
    bad.set_content_id("../../etc");
    Result<RefusalRecorded> refused = recorder.Record(bad);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(Head(), before + 1);
  }
  Open();  // the ledger closed and opened again: the log remembers
  LedgerRefusalRecorder recorder(log_.get());
  Result<RefusalRecorded> after = recorder.Record(RefusalFromRow(mistyped, "a.csv"));
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->repeated);
  EXPECT_EQ(after->seq, before + 1);
  EXPECT_TRUE(recorder.Record(RefusalFromRow(RowReport(report, 4), "a.csv")));
  EXPECT_EQ(RefusalEvents(*log_), 2u);
  Result<std::vector<StoredEvent>> events = log_->ReadAfter(before, 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  const proto::Event& event = events->front().event;
  EXPECT_EQ(event.submission_id(), std::string(kRefusalSubmissionIdPrefix) + mistyped.content_id);
  EXPECT_EQ(event.ticket(), "");
  EXPECT_EQ(event.actor(), "incident-ledger");
  EXPECT_EQ(event.sheet_row_refused().cells_size(), 5);
}

TEST_F(SheetImportTest, PollerRecordsRefusedRowsOnceAndKeepsItsRuns) {
  const std::string path = dir_.Sub("responses.csv");
  std::FILE* log = std::fopen(dir_.Sub("poller.log").c_str(), "w");
  ASSERT_NE(log, nullptr);
  std::vector<Row> rows = BadRows();
  WriteFile(path, Sheet(rows));
  LedgerRefusalRecorder recorder(log_.get());
  SheetPollerOptions options;
  options.path = path;
  options.interval = std::chrono::milliseconds(1000);
  options.zone = Zone("Europe/Berlin");
  options.log = log;
  options.refusals = &recorder;
  std::unique_ptr<SheetPoller> poller = SheetPoller::Start(options, target_.get());
  const auto wait_for_runs = [&poller](size_t count) {
    for (int i = 0; i < 200 && poller->runs().size() < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return poller->runs();
  };
  std::vector<SheetImportRun> runs = wait_for_runs(1);
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_EQ(runs[0].refused.size(), 3u);
  for (const SheetRefusedRow& refused : runs[0].refused) {
    EXPECT_GT(refused.seq, 0u) << refused.not_recorded;
  }
  EXPECT_EQ(runs[0].refused[0].row, 3u);
  EXPECT_EQ(runs[0].refused[0].author, "Ana@Example.org");
  EXPECT_EQ(RefusalEvents(*log_), 3u);

  // Read again with one more good row: the same three, the same events.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  rows.push_back(Close("3/28/2026 10:00:00", "INC-1"));
  WriteFile(path, Sheet(rows));
  runs = wait_for_runs(2);
  poller->Stop();
  std::fclose(log);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].appended, 1u);  // newest first
  EXPECT_EQ(runs[0].rejected, 3u);
  ASSERT_EQ(runs[0].refused.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[0].refused[i].seq, runs[1].refused[i].seq);
    EXPECT_EQ(runs[0].refused[i].content_id, runs[1].refused[i].content_id);
  }
  EXPECT_EQ(RefusalEvents(*log_), 3u);
  EXPECT_GE(runs[0].at_micros, runs[1].at_micros);
}

}  // namespace
}  // namespace ledger::ingest
