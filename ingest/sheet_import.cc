#include "ingest/sheet_import.h"

#include "common/time_zone.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>

#include <date/date.h>
#include <date/tz.h>
#include <simdjson.h>

#include "common/encoding.h"
#include "common/json_writer.h"
#include "projections/ticket_name.h"

namespace ledger::ingest {
namespace {

constexpr std::string_view kSubmissionIdDomain = "incident-ledger sheet row v1\n";
constexpr std::string_view kContentIdDomain = "incident-ledger sheet row cells v1\n";
constexpr size_t kSubmissionIdHexDigits = 32;
constexpr size_t kShownCellBytesMax = 60;
constexpr size_t kMappingJsonDepthMax = 4;

constexpr std::array<SheetField, kSheetFieldCount> kAllFields = [] {
  std::array<SheetField, kSheetFieldCount> fields{};
  for (size_t i = 0; i < kSheetFieldCount; ++i) fields[i] = static_cast<SheetField>(i);
  return fields;
}();

size_t Index(SheetField field) { return static_cast<size_t>(field); }

// The payload field a sheet field fills, or nullptr for the leading four.
const PayloadField* PayloadFieldOf(SheetField field) {
  if (Index(field) < kSheetLeadingFieldCount) return nullptr;
  return &PayloadFieldTable()[Index(field) - kSheetLeadingFieldCount];
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view TrimView(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Trimmed, runs of whitespace as one space, ASCII lower case: how header
// titles and action words are compared.
std::string Folded(std::string_view text) {
  std::string folded;
  bool space = false;
  for (const char c : TrimView(text)) {
    if (IsSpace(c)) {
      space = true;
      continue;
    }
    if (space) folded += ' ';
    space = false;
    folded += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return folded;
}

// Cell text fit to quote in a message: at most kShownCellBytesMax bytes, and
// anything that is not printable, valid UTF-8 (or that one-line text
// refuses, such as U+202E) shown as '?'.
std::string Shown(std::string_view text) {
  std::string shown;
  size_t i = 0;
  while (i < text.size() && shown.size() < kShownCellBytesMax) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size() || !IsValidUtf8(text.substr(i, length))) {
      shown += '?';
      ++i;
      continue;
    }
    if (length == 1 && (byte < 0x20 || byte == 0x7f)) {
      shown += byte == '\n' ? ' ' : '?';
    } else if (FirstRefusedCodePoint(text.substr(i, length), TextShape::kOneLine)) {
      shown += '?';  // a C1 control, line separator or direction control: never quoted as it is
    } else {
      shown.append(text.substr(i, length));
    }
    i += length;
  }
  if (i < text.size()) shown += "...";
  return shown;
}

std::optional<Action> ActionByWord(std::string_view word) {
  if (word == "create") return Action::kCreate;
  if (word == "update") return Action::kUpdate;
  if (word == "close") return Action::kClose;
  if (word == "reopen") return Action::kReopen;
  return std::nullopt;
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

unsigned Number(std::string_view digits) {
  unsigned value = 0;
  for (const char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  return value;
}

// Splits "a<separator>b<separator>c" into exactly `count` parts, or nothing.
std::optional<std::vector<std::string_view>> SplitExactly(std::string_view text, char separator, size_t count_min,
                                                          size_t count_max) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (parts.size() > count_max) return std::nullopt;
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  if (parts.size() < count_min) return std::nullopt;
  return parts;
}

uint64_t TicketNumber(const std::string& ticket) {
  // Tickets here are normalized (NormalizeTicket, or the processor's).
  return projections::TicketName::CounterNumber(ticket).value_or(0);
}

}  // namespace

const char* SheetFieldName(SheetField field) {
  switch (field) {
    case SheetField::kTimestamp: return "timestamp";
    case SheetField::kActor: return "actor";
    case SheetField::kAction: return "action";
    case SheetField::kTicket: return "ticket";
  }
  const PayloadField* payload_field = PayloadFieldOf(field);
  LEDGER_ASSERT(payload_field != nullptr && Index(field) < kSheetFieldCount);
  return payload_field->name.data();  // a string literal in the table, so NUL-terminated
}

std::optional<SheetField> SheetFieldByName(std::string_view name) {
  for (const SheetField field : kAllFields) {
    if (name == SheetFieldName(field)) return field;
  }
  return std::nullopt;
}

const char* RowOutcomeName(RowOutcome outcome) {
  switch (outcome) {
    case RowOutcome::kAppended: return "appended";
    case RowOutcome::kAlreadyPresent: return "already_present";
    case RowOutcome::kRejected: return "rejected";
  }
  return "unknown";
}

SheetMapping DefaultSheetMapping() {
  SheetMapping mapping;
  const auto set = [&mapping](SheetField field, const char* title) { mapping.titles[Index(field)] = title; };
  set(SheetField::kTimestamp, "Timestamp");
  set(SheetField::kActor, "Email Address");
  set(SheetField::kAction, "Action");
  set(SheetField::kTicket, "Ticket Number");
  for (size_t i = 0; i < kPayloadFieldCount; ++i) {
    mapping.titles[Index(SheetFieldOfPayload(i))] = std::string(PayloadFieldTable()[i].sheet_title);
  }
  mapping.actions = {
      {"create new incident", Action::kCreate}, {"update existing incident", Action::kUpdate},
      {"close incident", Action::kClose},       {"reopen incident", Action::kReopen},
      {"create", Action::kCreate},              {"update", Action::kUpdate},
      {"close", Action::kClose},                {"reopen", Action::kReopen},
  };
  return mapping;
}

Result<SheetMapping> ParseSheetMapping(std::string_view json) {
  if (json.size() > kMappingFileBytesMax) {
    return MakeError(ErrorCode::kTooLarge,
                     "the mapping file is larger than " + std::to_string(kMappingFileBytesMax) + " bytes");
  }
  simdjson::dom::parser parser;
  if (parser.allocate(std::max<size_t>(json.size(), 64), kMappingJsonDepthMax) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kTooLarge, "the mapping file is too large to parse");
  }
  const simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (const auto error = parser.parse(padded).get(root); error) {
    return InvalidArgument("", std::string("the mapping file is not valid JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return InvalidArgument("", "the mapping file must hold a JSON object with \"columns\" and/or \"actions\"");
  }
  SheetMapping mapping = DefaultSheetMapping();
  for (const auto [key, value] : object) {
    if (key == "columns") {
      simdjson::dom::object columns;
      if (value.get_object().get(columns) != simdjson::SUCCESS) {
        return InvalidArgument("columns", "\"columns\" must be an object of field -> header title");
      }
      for (const auto [name, title] : columns) {
        const std::optional<SheetField> field = SheetFieldByName(name);
        if (!field) {
          std::string known;
          for (const SheetField each : kAllFields) known += std::string(known.empty() ? "" : ", ") + SheetFieldName(each);
          return InvalidArgument("columns", "unknown field \"" + Shown(name) + "\" in \"columns\"; the fields are " + known);
        }
        if (title.is_null()) {
          if (*field == SheetField::kTimestamp || *field == SheetField::kAction) {
            return InvalidArgument("columns", std::string("\"") + SheetFieldName(*field) +
                                                  "\" cannot be null: every sheet needs that column");
          }
          mapping.titles[Index(*field)].clear();
          continue;
        }
        std::string_view text;
        if (title.get_string().get(text) != simdjson::SUCCESS || TrimView(text).empty() ||
            text.size() > kHeaderTitleBytesMax) {
          return InvalidArgument("columns", std::string("\"") + SheetFieldName(*field) +
                                                "\" must be a header title (a non-empty string of at most " +
                                                std::to_string(kHeaderTitleBytesMax) + " bytes) or null");
        }
        mapping.titles[Index(*field)] = std::string(TrimView(text));
      }
    } else if (key == "actions") {
      simdjson::dom::object actions;
      if (value.get_object().get(actions) != simdjson::SUCCESS) {
        return InvalidArgument("actions", "\"actions\" must be an object of cell text -> create|update|close|reopen");
      }
      for (const auto [word, action] : actions) {
        std::string_view action_text;
        std::optional<Action> parsed;
        if (action.get_string().get(action_text) == simdjson::SUCCESS) parsed = ActionByWord(action_text);
        if (!parsed) {
          return InvalidArgument("actions", "action word \"" + Shown(word) +
                                                "\" must map to one of \"create\", \"update\", \"close\", \"reopen\"");
        }
        if (Folded(word).empty()) return InvalidArgument("actions", "an action word must not be blank");
        if (mapping.actions.size() == kActionWordsMax) {
          return InvalidArgument("actions", "at most " + std::to_string(kActionWordsMax) + " action words");
        }
        mapping.actions[Folded(word)] = *parsed;
      }
    } else {
      return InvalidArgument(std::string(key), "unknown member \"" + Shown(key) +
                                                   "\" in the mapping file; it takes \"columns\" and \"actions\"");
    }
  }
  return mapping;
}

Result<SheetTimeZone> SheetTimeZone::Find(std::string_view name) {
  if (name.empty() || name.size() > kSheetTimezoneBytesMax) {
    return InvalidArgument("sheet_timezone", "the sheet time zone must be an IANA name like Europe/Berlin");
  }
  Result<const date::time_zone*> zone = LocateTimeZone(name, "sheet_timezone");
  if (!zone) {
    if (zone.error().code != ErrorCode::kNotFound) return zone.error();
    return InvalidArgument("sheet_timezone", "\"" + Shown(name) + "\" is not a known IANA time zone (e.g. Europe/Berlin, UTC)");
  }
  return SheetTimeZone(std::string(name), *zone);
}

Result<Instant> SheetTimeZone::FromLocal(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                                         unsigned second) const {
  const date::year_month_day calendar{date::year{year}, date::month{month}, date::day{day}};
  if (!calendar.ok()) return InvalidArgument("", "is not a calendar date");
  if (hour > 23 || minute > 59 || second > 59) return InvalidArgument("", "is not a time of day");
  const date::local_seconds local =
      date::local_days{calendar} + std::chrono::hours{hour} + std::chrono::minutes{minute} + std::chrono::seconds{second};
  date::local_info info;
  try {
    info = zone_->get_info(local);
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kIoError, std::string("time zone conversion failed: ") + error.what());
  }
  if (info.result == date::local_info::nonexistent) {
    return InvalidArgument("", "does not exist in " + name_ + " (the clocks skip it)");
  }
  // Unique, or ambiguous (clocks go back): `first` is the earlier instant.
  const std::chrono::seconds offset = info.first.offset;
  const int64_t unix_seconds = (local - offset).time_since_epoch().count();
  return Instant{.unix_micros = unix_seconds * 1'000'000,
                 .offset_minutes = static_cast<int32_t>(offset.count() / 60)};
}

Result<Instant> ParseSheetTime(std::string_view text, const SheetTimeZone* zone, std::string_view what) {
  text = TrimView(text);
  const std::string rule = std::string(what) + " must be a sheet time M/D/YYYY H:MM:SS (seconds optional) or RFC 3339 "
                                              "with an offset; got \"" + Shown(text) + "\"";
  if (text.find('T') != std::string_view::npos || text.find('t') != std::string_view::npos ||
      text.find('-') != std::string_view::npos) {
    Result<Instant> instant = ParseRfc3339(text, what);
    if (!instant) return InvalidArgument("", rule);
    return instant;
  }
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return InvalidArgument("", rule);
  const std::optional<std::vector<std::string_view>> date_parts = SplitExactly(text.substr(0, space), '/', 3, 3);
  const std::optional<std::vector<std::string_view>> time_parts =
      SplitExactly(TrimView(text.substr(space + 1)), ':', 2, 3);
  if (!date_parts || !time_parts) return InvalidArgument("", rule);
  const auto& d = *date_parts;
  const auto& t = *time_parts;
  const bool shape_ok = AllDigits(d[0]) && d[0].size() <= 2 && AllDigits(d[1]) && d[1].size() <= 2 && AllDigits(d[2]) &&
                        d[2].size() == 4 && AllDigits(t[0]) && t[0].size() <= 2 && AllDigits(t[1]) &&
                        t[1].size() == 2 && (t.size() == 2 || (AllDigits(t[2]) && t[2].size() == 2));
  if (!shape_ok) return InvalidArgument("", rule);
  if (zone == nullptr) {
    return InvalidArgument("", std::string(what) + " \"" + Shown(text) +
                                   "\" is a sheet time without a zone: pass --sheet-timezone ZONE (the sheet's IANA "
                                   "time zone, e.g. Europe/Berlin) or write RFC 3339 with an offset");
  }
  Result<Instant> instant = zone->FromLocal(static_cast<int>(Number(d[2])), Number(d[0]), Number(d[1]), Number(t[0]),
                                            Number(t[1]), t.size() == 3 ? Number(t[2]) : 0);
  if (!instant) {
    return MakeError(instant.error().code, std::string(what) + " \"" + Shown(text) + "\" " + instant.error().message);
  }
  return instant;
}

Result<SheetColumns> ResolveSheetColumns(const SheetMapping& mapping, const std::vector<std::string>& header) {
  SheetColumns columns;
  columns.header = header;
  for (const SheetField field : kAllFields) {
    const std::string& title = mapping.titles[Index(field)];
    if (title.empty()) continue;
    const std::string wanted = Folded(title);
    for (size_t i = 0; i < header.size(); ++i) {
      if (Folded(header[i]) != wanted) continue;
      if (columns.index[Index(field)]) {
        return InvalidArgument(SheetFieldName(field), "the header has the column \"" + Shown(title) + "\" twice (" +
                                                          ColumnLetters(*columns.index[Index(field)] + 1) + " and " +
                                                          ColumnLetters(i + 1) + ")");
      }
      columns.index[Index(field)] = i;
    }
    if (columns.index[Index(field)]) continue;
    if (field == SheetField::kTimestamp || field == SheetField::kAction) {
      return InvalidArgument(SheetFieldName(field), "the header (row 1) has no \"" + Shown(title) +
                                                        "\" column; every row needs it (name another column in a "
                                                        "--mapping file)");
    }
    const PayloadField* payload_field = PayloadFieldOf(field);
    if (payload_field == nullptr || payload_field->sheet_column_expected) {
      columns.warnings.push_back("the header has no \"" + Shown(title) + "\" column; " + SheetFieldName(field) +
                                 " is never given");
    }
  }
  return columns;
}

std::string SheetSubmissionId(const SheetColumns& columns, const CsvRecord& record) {
  std::string content(kSubmissionIdDomain);
  for (const SheetField field : kAllFields) {
    const std::optional<size_t> index = columns.index[Index(field)];
    if (!index || *index >= record.cells.size()) continue;
    const std::string_view cell = TrimView(record.cells[*index]);
    if (cell.empty()) continue;
    content += SheetFieldName(field);
    content += '=';
    content += cell;
    content += '\0';
  }
  return std::string(kSheetSubmissionIdPrefix) + HexEncode(Sha256(content)).substr(0, kSubmissionIdHexDigits);
}

std::string SheetContentId(const SheetColumns& columns, const CsvRecord& record) {
  if (record.cells.size() == columns.header.size()) {
    return SheetSubmissionId(columns, record).substr(kSheetSubmissionIdPrefix.size());
  }
  std::string content(kContentIdDomain);
  for (const std::string& cell : record.cells) {
    content += TrimView(cell);
    content += '\0';
  }
  return HexEncode(Sha256(content)).substr(0, kSubmissionIdHexDigits);
}

Result<MappedRow> MapSheetRow(const SheetColumns& columns, const SheetMapping& mapping, const SheetTimeZone* zone,
                              const CsvRecord& record) {
  if (record.cells.size() != columns.header.size()) {
    return InvalidArgument("", "the row has " + std::to_string(record.cells.size()) + " cells where the header has " +
                                   std::to_string(columns.header.size()) + " (is the file cut short?)");
  }
  const auto cell = [&](SheetField field) -> std::string_view {
    const std::optional<size_t> index = columns.index[Index(field)];
    return index ? TrimView(record.cells[*index]) : std::string_view();
  };
  const auto title = [&](SheetField field) { return mapping.titles[Index(field)]; };

  const std::string_view timestamp_text = cell(SheetField::kTimestamp);
  if (timestamp_text.empty()) {
    return InvalidArgument("timestamp", title(SheetField::kTimestamp) + " is required: it is when the row was submitted");
  }
  Result<Instant> submitted_at = ParseSheetTime(timestamp_text, zone, title(SheetField::kTimestamp));
  if (!submitted_at) return MakeError(submitted_at.error().code, submitted_at.error().message, "timestamp");

  const std::string_view action_text = cell(SheetField::kAction);
  const auto action = mapping.actions.find(Folded(action_text));
  if (action_text.empty() || action == mapping.actions.end()) {
    return InvalidArgument("action", title(SheetField::kAction) + " \"" + Shown(action_text) +
                                         "\" is not one of: Create new incident, Update existing incident, Close "
                                         "incident, Reopen incident (or create, update, close, reopen)");
  }

  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("action", ActionName(action->second));
  std::vector<SheetField> untimed = {SheetField::kTicket, SheetField::kActor};
  std::vector<SheetField> timed;
  for (size_t i = 0; i < kPayloadFieldCount; ++i) {
    (PayloadFieldTable()[i].kind == FieldKind::kTime ? timed : untimed).push_back(SheetFieldOfPayload(i));
  }
  for (const SheetField field : untimed) {
    const std::optional<size_t> index = columns.index[Index(field)];
    // Multi-line text keeps its inner layout; only the ends are trimmed.
    if (index) fields.emplace_back(SheetFieldName(field), std::string(TrimView(record.cells[*index])));
  }
  // Times: sheet format to RFC 3339 (keeping the zone's offset), and the
  // Timestamp as the default start of a create or reopen and end of a close.
  const auto add_time = [&](SheetField field, bool default_to_timestamp) -> Status {
    const std::string_view text = cell(field);
    if (text.empty()) {
      if (default_to_timestamp) fields.emplace_back(SheetFieldName(field), FormatRfc3339(*submitted_at));
      return {};
    }
    Result<Instant> instant = ParseSheetTime(text, zone, title(field));
    if (!instant) return MakeError(instant.error().code, instant.error().message, SheetFieldName(field));
    fields.emplace_back(SheetFieldName(field), FormatRfc3339(*instant));
    return {};
  };
  const Action parsed_action = action->second;
  const bool opens = parsed_action == Action::kCreate || parsed_action == Action::kReopen;
  for (const SheetField field : timed) {
    const TimeDefault time_default = PayloadFieldOf(field)->time_default;
    const bool defaults = (time_default == TimeDefault::kOnOpen && opens) ||
                          (time_default == TimeDefault::kOnClose && parsed_action == Action::kClose);
    if (Status added = add_time(field, defaults); !added) return added.error();
  }
  fields.emplace_back("submission_id", SheetSubmissionId(columns, record));

  Result<Command> command = BuildCommandFromFields(fields);
  if (!command) return command.error();
  return MappedRow{.command = std::move(*command), .submitted_at_micros = submitted_at->unix_micros};
}

Result<SubmissionResult> LedgerSheetTarget::Submit(Command command) { return processor_->Submit(std::move(command)); }

Result<std::optional<int64_t>> LedgerSheetTarget::TicketOpenedAt(const std::string& ticket) {
  Result<std::vector<StoredEvent>> events = ledger_->ReadTicket(ticket);
  if (!events) return events.error();
  if (events->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(events->front().event.recorded_at_micros());
}

namespace {

// Runs one import: the rows in Timestamp order, and the same-sheet ticket
// reference rule (see sheet_import.h).
class Importer {
 public:
  Importer(const SheetImportOptions& options, SheetTarget& target, SheetImportReport& report)
      : options_(options), target_(target), report_(report) {}

  void Run(std::string_view csv) {
    Result<CsvTable> table = ReadCsv(csv);
    if (!table) {
      report_.file_error = table.error();
      return;
    }
    if (table->records.empty()) {
      report_.file_error = InvalidArgument("", "the file is empty: it needs a header row");
      return;
    }
    Result<SheetColumns> columns = ResolveSheetColumns(*options_.mapping, table->records.front().cells);
    if (!columns) {
      report_.file_error = columns.error();
      return;
    }
    columns_ = std::move(*columns);
    report_.warnings = columns_.warnings;
    MapRows(*table);
    SubmitInOrder();
    std::sort(report_.rows.begin(), report_.rows.end(),
              [](const SheetRowReport& a, const SheetRowReport& b) { return a.row < b.row; });
  }

 private:
  // Rows are ordered by (Timestamp, row); a row whose Timestamp cannot be
  // read sorts first, so that a failed create of unknown time is assumed
  // to come before everything.
  using OrderKey = std::pair<int64_t, size_t>;

  struct Pending {
    OrderKey key;
    size_t report_index;
    Command command;
  };

  // A create row's outcome, as the reference rule needs it.
  struct CreatedTicket {
    size_t row = 0;
    size_t position = 0;  // among the sheet's successful creates, in order
    uint64_t number = 0;
    std::string blocker;  // why counting creates up to this one does not give its number; empty when it does
  };

  void MapRows(const CsvTable& table) {
    for (size_t i = 1; i < table.records.size(); ++i) {
      const CsvRecord& record = table.records[i];
      if (std::all_of(record.cells.begin(), record.cells.end(),
                      [](const std::string& cell) { return TrimView(cell).empty(); })) {
        ++report_.blank_rows;
        continue;
      }
      ++report_.rows_read;
      SheetRowReport row;
      row.row = record.row;
      row.line = record.line;
      if (record.cells.size() == columns_.header.size()) row.submission_id = SheetSubmissionId(columns_, record);
      row.content_id = SheetContentId(columns_, record);
      if (const std::optional<size_t> actor = columns_.index[Index(SheetField::kActor)];
          actor && *actor < record.cells.size()) {
        row.author = std::string(TrimView(record.cells[*actor]));
      }
      for (size_t cell = 0; cell < record.cells.size(); ++cell) {
        const std::string_view text = TrimView(record.cells[cell]);
        if (text.empty()) continue;
        row.cells.emplace_back(cell < columns_.header.size() ? columns_.header[cell]
                                                             : "(column " + ColumnLetters(cell + 1) + ")",
                               std::string(text));
      }
      Result<MappedRow> mapped = MapSheetRow(columns_, *options_.mapping, options_.zone, record);
      const size_t report_index = report_.rows.size();
      if (mapped) {
        row.action = ActionName(mapped->command.action);
        report_.rows.push_back(std::move(row));
        pending_.push_back(Pending{.key = {mapped->submitted_at_micros, record.row},
                                   .report_index = report_index,
                                   .command = std::move(mapped->command)});
        continue;
      }
      report_.rows.push_back(std::move(row));
      Reject(report_index, mapped.error());
      NoteFailedCreateIfAny(record);
    }
  }

  // A rejected row whose Action cell reads as create: the ticket it would
  // have made is missing, and the numbers after it shift.
  void NoteFailedCreateIfAny(const CsvRecord& record) {
    const std::optional<size_t> action_index = columns_.index[Index(SheetField::kAction)];
    if (!action_index || *action_index >= record.cells.size()) return;
    const auto action = options_.mapping->actions.find(Folded(record.cells[*action_index]));
    if (action == options_.mapping->actions.end() || action->second != Action::kCreate) return;
    int64_t time = std::numeric_limits<int64_t>::min();
    const std::optional<size_t> timestamp_index = columns_.index[Index(SheetField::kTimestamp)];
    if (timestamp_index && *timestamp_index < record.cells.size()) {
      Result<Instant> instant = ParseSheetTime(record.cells[*timestamp_index], options_.zone, "Timestamp");
      if (instant) time = instant->unix_micros;
    }
    unsubmitted_failed_creates_.push_back({time, record.row});
  }

  void SubmitInOrder() {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& a, const Pending& b) { return a.key < b.key; });
    std::sort(unsubmitted_failed_creates_.begin(), unsubmitted_failed_creates_.end());
    size_t next_failed_create = 0;
    for (Pending& pending : pending_) {
      if (options_.stop != nullptr && options_.stop->load()) {
        report_.stopped = true;
        DropUnsubmitted();
        return;
      }
      while (next_failed_create < unsubmitted_failed_creates_.size() &&
             unsubmitted_failed_creates_[next_failed_create] < pending.key) {
        NoteFailedCreate(unsubmitted_failed_creates_[next_failed_create].second);
        ++next_failed_create;
      }
      SubmitOne(pending);
      pending.report_index = kDone;
    }
  }

  // Rows never submitted because of a stop are left out of the report.
  void DropUnsubmitted() {
    std::vector<bool> keep(report_.rows.size(), true);
    for (const Pending& pending : pending_) {
      if (pending.report_index != kDone) keep[pending.report_index] = false;
    }
    std::vector<SheetRowReport> kept;
    for (size_t i = 0; i < report_.rows.size(); ++i) {
      if (keep[i]) kept.push_back(std::move(report_.rows[i]));
    }
    report_.rows_read = kept.size();
    report_.rows = std::move(kept);
  }

  void NoteFailedCreate(size_t row) {
    if (first_failed_create_row_ == 0) first_failed_create_row_ = row;
  }

  void SubmitOne(Pending& pending) {
    SheetRowReport& row = report_.rows[pending.report_index];
    const Action action = pending.command.action;
    if (action != Action::kCreate) {
      if (std::optional<Error> unsafe = CheckReference(pending); unsafe) {
        Reject(pending.report_index, *unsafe);
        return;
      }
    }
    const std::string ticket = pending.command.ticket;
    Result<SubmissionResult> result = target_.Submit(std::move(pending.command));
    if (!result) {
      Error error = result.error();
      if (error.code == ErrorCode::kNotFound && first_failed_create_row_ != 0) {
        error.message += "; the create on row " + std::to_string(first_failed_create_row_) +
                         " of this sheet was rejected: if this row meant that incident, fix that row first";
      }
      if (error.code == ErrorCode::kConflict && error.field == "submission_id") {
        error.message += " (this row was imported before and now reads differently: were --sheet-timezone or "
                         "--mapping changed?)";
      }
      Reject(pending.report_index, error);
      if (action == Action::kCreate) NoteFailedCreate(row.row);
      return;
    }
    row.outcome = result->repeated ? RowOutcome::kAlreadyPresent : RowOutcome::kAppended;
    row.cells.clear();  // kept for rejected rows only
    row.ticket = result->ticket;
    row.seq = result->seq;
    ++(result->repeated ? report_.already_present : report_.appended);
    // A row repeated within the sheet (the same response twice) is one
    // submission: only its first copy counts as a create.
    if (action != Action::kCreate || !created_ids_.insert(row.submission_id).second) return;
    opened_at_[result->ticket] = result->stored.event.recorded_at_micros();
    const uint64_t number = TicketNumber(result->ticket);
    if (first_failed_create_row_ != 0) {
      NoteNumberingProblem("the create on row " + std::to_string(first_failed_create_row_) + " was rejected");
    } else if (created_count_ > 0 && number != next_expected_number_) {
      NoteNumberingProblem("row " + std::to_string(row.row) + " got " + result->ticket +
                           " where counting the sheet's creates gives INC-" + std::to_string(next_expected_number_));
    }
    next_expected_number_ = number + 1;
    const CreatedTicket created{
        .row = row.row, .position = created_count_, .number = number, .blocker = numbering_problem_};
    created_[result->ticket] = created;
    // Keep the suffix minima of the numbers: entries with rising positions
    // and rising numbers, so the lowest number after any position is one
    // binary search away.
    while (!lowest_after_.empty() && lowest_after_.back().second >= number) lowest_after_.pop_back();
    lowest_after_.emplace_back(created_count_, number);
    ++created_count_;
  }

  void NoteNumberingProblem(std::string problem) {
    if (numbering_problem_.empty()) numbering_problem_ = std::move(problem);
  }

  // The lowest ticket number of a sheet create after `position`, if any.
  std::optional<std::pair<size_t, uint64_t>> LowestCreatedAfter(size_t position) const {
    const auto found = std::upper_bound(lowest_after_.begin(), lowest_after_.end(), position,
                                        [](size_t value, const std::pair<size_t, uint64_t>& entry) {
                                          return value < entry.first;
                                        });
    if (found == lowest_after_.end()) return std::nullopt;
    return *found;
  }

  // A row that names a ticket handed out after the row was submitted guessed
  // its number; see "Same-sheet ticket references" in sheet_import.h.
  std::optional<Error> CheckReference(const Pending& pending) {
    const std::string& ticket = pending.command.ticket;
    auto known = opened_at_.find(ticket);
    if (known == opened_at_.end()) {
      Result<std::optional<int64_t>> opened = target_.TicketOpenedAt(ticket);
      if (!opened) return opened.error();
      if (!opened->has_value()) return std::nullopt;  // unknown ticket: the processor says so
      known = opened_at_.emplace(ticket, **opened).first;
    }
    const int64_t submitted_at = pending.key.first;
    if (known->second <= submitted_at) return std::nullopt;
    const std::string when = "; the row was submitted at " + FormatRfc3339Utc(submitted_at) + " and " + ticket +
                             " was handed out at " + FormatRfc3339Utc(known->second);
    const auto created = created_.find(ticket);
    if (created == created_.end()) {
      return InvalidArgument("ticket",
                       ticket + " did not exist yet when this row was submitted and was not created by an earlier "
                                "row of this sheet, so the row cannot have meant it" + when);
    }
    std::string problem = created->second.blocker;
    if (problem.empty()) {
      if (const auto lower = LowestCreatedAfter(created->second.position);
          lower && lower->second < created->second.number) {
        problem = "a later create row of this sheet got the lower number INC-" + std::to_string(lower->second);
      }
    }
    if (problem.empty()) return std::nullopt;
    return InvalidArgument("ticket", ticket + " was handed out after this row was submitted, to row " +
                                         std::to_string(created->second.row) +
                                         " of this sheet; counting the sheet's create rows may not give that number (" +
                                         problem + "), so this row may mean another incident. Fix the create row, "
                                         "or submit this change again as a new response naming the ticket the "
                                         "dashboard shows" + when);
  }

  void Reject(size_t report_index, const Error& error) {
    SheetRowReport& row = report_.rows[report_index];
    row.outcome = RowOutcome::kRejected;
    row.code = error.code;
    row.field = error.field;
    row.rule = error.message;
    if (const std::optional<SheetField> field = SheetFieldByName(error.field)) {
      if (const std::optional<size_t> index = columns_.index[Index(*field)]) {
        row.column = columns_.header[*index];
        row.column_letters = ColumnLetters(*index + 1);
      }
    }
    if (error.code == ErrorCode::kIoError || error.code == ErrorCode::kUnavailable ||
        error.code == ErrorCode::kCorruption) {
      report_.retryable = true;
    }
    ++report_.rejected;
  }

  static constexpr size_t kDone = std::numeric_limits<size_t>::max();

  const SheetImportOptions& options_;
  SheetTarget& target_;
  SheetImportReport& report_;
  SheetColumns columns_;
  std::vector<Pending> pending_;
  std::vector<OrderKey> unsubmitted_failed_creates_;
  size_t first_failed_create_row_ = 0;  // 0: none so far
  size_t created_count_ = 0;
  uint64_t next_expected_number_ = 0;
  std::string numbering_problem_;  // the first reason counting creates stops giving their numbers
  std::vector<std::pair<size_t, uint64_t>> lowest_after_;
  std::map<std::string, CreatedTicket> created_;
  std::set<std::string> created_ids_;  // submission ids of the create rows counted so far
  std::map<std::string, int64_t> opened_at_;
};

}  // namespace

SheetImportReport ImportSheet(std::string_view csv, const SheetImportOptions& options, SheetTarget& target) {
  LEDGER_ASSERT(options.mapping != nullptr);
  SheetImportReport report;
  Importer(options, target, report).Run(csv);
  return report;
}

std::string SheetImportReport::ToJson() const {
  JsonWriter json;
  json.BeginObject();
  json.Key("file_error");
  if (file_error) {
    json.BeginObject().Key("code").String(ErrorCodeName(file_error->code)).Key("message").String(file_error->message);
    json.Key("field").String(file_error->field).EndObject();
  } else {
    json.Null();
  }
  json.Key("rows_read").Uint(rows_read).Key("appended").Uint(appended).Key("already_present").Uint(already_present);
  json.Key("rejected").Uint(rejected).Key("blank_rows").Uint(blank_rows).Key("stopped").Bool(stopped);
  json.Key("warnings").BeginArray();
  for (const std::string& warning : warnings) json.String(warning);
  json.EndArray();
  json.Key("rows").BeginArray();
  for (const SheetRowReport& row : rows) {
    json.BeginObject().Key("row").Uint(row.row).Key("line").Uint(row.line);
    json.Key("outcome").String(RowOutcomeName(row.outcome));
    json.Key("action");
    row.action.empty() ? json.Null() : json.String(row.action);
    json.Key("ticket");
    row.ticket.empty() ? json.Null() : json.String(row.ticket);
    json.Key("seq");
    row.seq == 0 ? json.Null() : json.Uint(row.seq);
    json.Key("submission_id");
    row.submission_id.empty() ? json.Null() : json.String(row.submission_id);
    if (row.outcome == RowOutcome::kRejected) {
      json.Key("column");
      row.column.empty() ? json.Null() : json.String(row.column);
      json.Key("column_letters");
      row.column_letters.empty() ? json.Null() : json.String(row.column_letters);
      json.Key("field").String(row.field).Key("code").String(ErrorCodeName(row.code)).Key("rule").String(row.rule);
    }
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.Take();
}

std::string SheetImportReport::Summary() const {
  if (file_error) return "file not imported: " + file_error->message;
  std::string summary = "rows read " + std::to_string(rows_read) + ", appended " + std::to_string(appended) +
                        ", already present " + std::to_string(already_present) + ", rejected " +
                        std::to_string(rejected);
  if (blank_rows > 0) summary += ", blank rows skipped " + std::to_string(blank_rows);
  if (stopped) summary += " (stopped before the end)";
  return summary;
}

std::vector<std::string> SheetImportReport::RejectionLines() const {
  std::vector<std::string> lines;
  for (const SheetRowReport& row : rows) {
    if (row.outcome != RowOutcome::kRejected) continue;
    std::string line = "row " + std::to_string(row.row) + " (line " + std::to_string(row.line) + ")";
    if (!row.column.empty()) line += ", column \"" + Shown(row.column) + "\" (" + row.column_letters + ")";
    line += ": " + row.rule;
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace ledger::ingest
