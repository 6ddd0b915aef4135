#include "ingest/sheet_poller.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "common/time.h"

namespace ledger::ingest {
namespace {

constexpr size_t kIntervalTextBytesMax = 16;

std::string Now() { return FormatRfc3339Utc(NowMicros() / 1'000'000 * 1'000'000); }

}  // namespace

Result<std::chrono::milliseconds> ParsePollInterval(std::string_view text) {
  const std::string rule = "--poll-interval must be a duration like 2m, 90s, 1h or 1500ms, from " +
                           std::to_string(kSheetPollIntervalMin.count() / 1000) + "s to " +
                           std::to_string(kSheetPollIntervalMax.count() / 3'600'000) + "h";
  if (text.empty() || text.size() > kIntervalTextBytesMax) return InvalidArgument("--poll-interval", rule);
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return InvalidArgument("--poll-interval", rule);
  int64_t number = 0;
  for (size_t i = 0; i < digits; ++i) number = number * 10 + (text[i] - '0');
  const std::string_view unit = text.substr(digits);
  int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit.empty() || unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60 * 1000;
  } else if (unit == "h") {
    unit_ms = 3600 * 1000;
  } else {
    return InvalidArgument("--poll-interval", rule);
  }
  const std::chrono::milliseconds interval{number * unit_ms};
  if (interval < kSheetPollIntervalMin || interval > kSheetPollIntervalMax) {
    return InvalidArgument("--poll-interval", rule);
  }
  return interval;
}

std::unique_ptr<SheetPoller> SheetPoller::Start(SheetPollerOptions options, SheetTarget* target) {
  std::unique_ptr<SheetPoller> poller(new SheetPoller(std::move(options), target));
  poller->thread_ = std::thread([raw = poller.get()] { raw->Loop(); });
  return poller;
}

SheetPoller::SheetPoller(SheetPollerOptions options, SheetTarget* target)
    : options_(std::move(options)), target_(target) {}

SheetPoller::~SheetPoller() { Stop(); }

void SheetPoller::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SheetPoller::Loop() {
  const int64_t interval_ms = options_.interval.count();
  const std::string every = interval_ms % 1000 == 0 ? std::to_string(interval_ms / 1000) + "s"
                                                    : std::to_string(interval_ms) + "ms";
  Log("polling " + options_.path + " every " + every +
      (options_.zone ? " (sheet time zone " + options_.zone->name() + ")" : ""));
  while (!stopping_.load()) {
    const std::chrono::milliseconds wait = Look();
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, wait, [this] { return stopping_.load(); });
  }
}

std::optional<SheetPoller::FileSignature> SheetPoller::Signature(std::string* error) const {
  std::error_code code;
  const auto status = std::filesystem::status(options_.path, code);
  if (code || !std::filesystem::is_regular_file(status)) {
    *error = code ? code.message() : "not a regular file";
    return std::nullopt;
  }
  const auto size = std::filesystem::file_size(options_.path, code);
  if (code) {
    *error = code.message();
    return std::nullopt;
  }
  const auto modified = std::filesystem::last_write_time(options_.path, code);
  if (code) {
    *error = code.message();
    return std::nullopt;
  }
  return FileSignature{
      .size = static_cast<int64_t>(size),
      .modified_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(modified.time_since_epoch()).count()};
}

std::chrono::milliseconds SheetPoller::Look() {
  std::string problem;
  const std::optional<FileSignature> before = Signature(&problem);
  if (!before) {
    // Say it once per distinct problem, not at every look.
    if (problem != last_problem_) Log("cannot read " + options_.path + ": " + problem + "; still polling");
    last_problem_ = problem;
    last_seen_.reset();
    std::lock_guard lock(stats_mutex_);
    ++stats_.file_errors;
    return options_.interval;
  }
  last_problem_.clear();
  if (last_seen_ && *last_seen_ == *before) return options_.interval;

  // Let a writer finish: the file must look the same across kSheetSettle
  // and across the read.
  {
    std::unique_lock lock(wake_mutex_);
    if (wake_.wait_for(lock, kSheetSettle, [this] { return stopping_.load(); })) return options_.interval;
  }
  if (static_cast<uint64_t>(before->size) > kCsvFileBytesMax) {
    Log("not importing " + options_.path + ": it is " + std::to_string(before->size) + " bytes; at most " +
        std::to_string(kCsvFileBytesMax) + " are read");
    last_seen_ = before;
    std::lock_guard lock(stats_mutex_);
    ++stats_.file_errors;
    return options_.interval;
  }
  std::string content;
  {
    std::ifstream file(options_.path, std::ios::binary);
    std::ostringstream buffer;
    buffer << file.rdbuf();
    if (!file.good() && !file.eof()) {
      Log("cannot read " + options_.path + "; still polling");
      return options_.interval;
    }
    content = buffer.str();
  }
  const std::optional<FileSignature> after = Signature(&problem);
  if (!after || !(*after == *before) || content.size() != static_cast<size_t>(before->size)) {
    return kSheetSettle;  // still being written: look again soon
  }
  last_seen_ = after;
  const std::string digest = HexEncode(Sha256(content));
  if (digest == last_imported_digest_) return options_.interval;
  Import(content);
  if (!stopping_.load()) {
    if (last_import_retryable_) {
      last_seen_.reset();  // not the file's fault: read it again next time
    } else {
      last_imported_digest_ = digest;
    }
  }
  return options_.interval;
}

void SheetPoller::Import(const std::string& content) {
  const SheetImportOptions import_options{
      .mapping = &options_.mapping, .zone = options_.zone ? &*options_.zone : nullptr, .stop = &stopping_};
  SheetImportReport report = ImportSheet(content, import_options, *target_);
  Log(options_.path + ": " + report.Summary());
  for (const std::string& warning : report.warnings) Log(options_.path + ": warning: " + warning);
  const std::vector<std::string> rejections = report.RejectionLines();
  for (size_t i = 0; i < rejections.size() && i < kSheetRejectionLinesLogged; ++i) {
    Log(options_.path + ": " + rejections[i]);
  }
  if (rejections.size() > kSheetRejectionLinesLogged) {
    Log(options_.path + ": ... and " + std::to_string(rejections.size() - kSheetRejectionLinesLogged) +
        " more rejected rows");
  }
  last_import_retryable_ = report.retryable;
  KeepRun(report);
  std::lock_guard lock(stats_mutex_);
  ++stats_.imports;
  if (report.file_error) ++stats_.file_errors;
  stats_.rows_appended += report.appended;
  stats_.rows_already_present += report.already_present;
  stats_.rows_rejected += report.rejected;
  stats_.last_import_rows_read = report.rows_read;
  stats_.last_import_rows_appended = report.appended;
  stats_.last_import_rows_already_present = report.already_present;
  stats_.last_import_rows_rejected = report.rejected;
  stats_.last_import_file_ok = !report.file_error;
  stats_.last_import_unix_seconds = NowMicros() / 1'000'000;
}

void SheetPoller::KeepRun(const SheetImportReport& report) {
  SheetImportRun run;
  run.file = options_.path;
  if (report.file_error) run.file_error = report.file_error->message;
  run.rows_read = report.rows_read;
  run.appended = report.appended;
  run.already_present = report.already_present;
  run.rejected = report.rejected;
  const std::string file_name = std::filesystem::path(options_.path).filename().string();
  size_t recorded = 0;
  for (const SheetRowReport& row : report.rows) {
    if (row.outcome != RowOutcome::kRejected) continue;
    SheetRefusedRow refused{.row = row.row,
                            .content_id = row.content_id,
                            .column = row.column,
                            .column_letters = row.column_letters,
                            .field = row.field,
                            .rule = row.rule,
                            .author = row.author};
    if (!IsRecordedRefusal(row)) {
      refused.not_recorded = "not the row's fault: the import is tried again";
    } else if (options_.refusals == nullptr) {
      refused.not_recorded = "refused rows are not recorded here";
    } else if (Result<RefusalRecorded> done = options_.refusals->Record(RefusalFromRow(row, file_name)); !done) {
      refused.not_recorded = done.error().message;
      Log(options_.path + ": cannot record the refusal of row " + std::to_string(row.row) + ": " +
          done.error().message);
    } else {
      refused.seq = done->seq;
      if (!done->repeated) ++recorded;
    }
    if (run.refused.size() < kSheetRunRefusedKept) run.refused.push_back(std::move(refused));
  }
  if (recorded > 0) Log(options_.path + ": recorded " + std::to_string(recorded) + " newly refused rows");
  run.at_micros = NowMicros();
  std::lock_guard lock(stats_mutex_);
  runs_.push_front(std::move(run));
  if (runs_.size() > kSheetRunsKept) runs_.pop_back();
}

std::vector<SheetImportRun> SheetPoller::runs() const {
  std::lock_guard lock(stats_mutex_);
  return {runs_.begin(), runs_.end()};
}

void SheetPoller::Log(const std::string& line) {
  std::fprintf(options_.log, "incident-ledger: %s sheet poller: %s\n", Now().c_str(), line.c_str());
  std::fflush(options_.log);
}

SheetPollerStats SheetPoller::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

}  // namespace ledger::ingest
