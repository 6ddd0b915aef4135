#include "app/sheet_commands.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/file.h"
#include "common/log.h"
#include "ingest/csv_reader.h"
#include "ingest/sheet_import.h"

namespace ledger::app {
namespace {

int Problem(const std::string& message) {
  ledger::LogPrintf("incident-ledger", "%s", message.c_str());
  return 2;
}

struct SheetSettings {
  ingest::SheetMapping mapping = ingest::DefaultSheetMapping();
  std::optional<ingest::SheetTimeZone> zone;
};

Result<SheetSettings> LoadSheetSettings(const std::map<std::string, std::string>& options) {
  SheetSettings settings;
  if (const auto mapping = options.find("--mapping"); mapping != options.end()) {
    Result<std::string> text = ReadWholeFile(mapping->second, ingest::kMappingFileBytesMax, "mapping file");
    if (!text) return text.error();
    Result<ingest::SheetMapping> parsed = ingest::ParseSheetMapping(*text);
    if (!parsed) return InvalidArgument("--mapping", "mapping file " + mapping->second + ": " + parsed.error().message);
    settings.mapping = std::move(*parsed);
  }
  if (const auto zone = options.find("--sheet-timezone"); zone != options.end()) {
    Result<ingest::SheetTimeZone> found = ingest::SheetTimeZone::Find(zone->second);
    if (!found) return MakeError(found.error().code, "--sheet-timezone: " + found.error().message, "--sheet-timezone");
    settings.zone = std::move(*found);
  }
  return settings;
}

void PrintReport(const std::string& file, const ingest::SheetImportReport& report) {
  std::printf("%s\n", report.ToJson().c_str());
  std::fflush(stdout);
  for (const std::string& warning : report.warnings) {
    ledger::LogPrintf("incident-ledger", "%s: warning: %s", file.c_str(), warning.c_str());
  }
  for (const std::string& line : report.RejectionLines()) {
    ledger::LogPrintf("incident-ledger", "%s: %s", file.c_str(), line.c_str());
  }
  ledger::LogPrintf("incident-ledger", "%s: %s", file.c_str(), report.Summary().c_str());
}

}  // namespace

int ImportCsv(const std::map<std::string, std::string>& options, const std::string& file) {
  Result<SheetSettings> settings = LoadSheetSettings(options);
  if (!settings) return Problem(settings.error().message);
  Result<std::string> content = ReadWholeFile(file, ingest::kCsvFileBytesMax, "CSV file");
  if (!content) return Problem(content.error().message);

  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = options.at("--data")});
  if (!opened) {
    return Problem(opened.error().message + " (is the service running on " + options.at("--data") +
                   "? stop it, or let it poll the file with serve --poll-csv)");
  }
  Result<std::unique_ptr<ingest::CommandProcessor>> processor = ingest::CommandProcessor::Create(opened->get());
  if (!processor) return Problem("cannot load ticket state: " + processor.error().message);
  ingest::LedgerSheetTarget target(opened->get(), processor->get());
  const ingest::SheetImportReport report = ingest::ImportSheet(
      *content,
      ingest::SheetImportOptions{.mapping = &settings->mapping, .zone = settings->zone ? &*settings->zone : nullptr},
      target);
  (*opened)->Shutdown();
  PrintReport(file, report);
  if (report.file_error || report.retryable) return 2;
  return report.rejected > 0 ? 1 : 0;
}

Result<std::unique_ptr<SheetPolling>> StartSheetPolling(const std::map<std::string, std::string>& options,
                                                        Ledger* ledger, ingest::CommandProcessor* processor) {
  const auto path = options.find("--poll-csv");
  if (path == options.end()) {
    for (const char* name : kSheetServeOptions) {
      if (options.contains(name)) return InvalidArgument(name, std::string(name) + " needs --poll-csv PATH");
    }
    return std::unique_ptr<SheetPolling>();
  }
  if (path->second.empty()) return InvalidArgument("--poll-csv", "--poll-csv needs a file path");
  Result<SheetSettings> settings = LoadSheetSettings(options);
  if (!settings) return settings.error();
  ingest::SheetPollerOptions poller_options;
  poller_options.path = path->second;
  if (const auto interval = options.find("--poll-interval"); interval != options.end()) {
    Result<std::chrono::milliseconds> parsed = ingest::ParsePollInterval(interval->second);
    if (!parsed) return parsed.error();
    poller_options.interval = *parsed;
  }
  poller_options.mapping = std::move(settings->mapping);
  poller_options.zone = std::move(settings->zone);
  auto target = std::make_unique<ingest::LedgerSheetTarget>(ledger, processor);
  auto refusals = std::make_unique<ingest::LedgerRefusalRecorder>(ledger);
  poller_options.refusals = refusals.get();
  std::unique_ptr<ingest::SheetPoller> poller = ingest::SheetPoller::Start(std::move(poller_options), target.get());
  return std::make_unique<SheetPolling>(std::move(target), std::move(refusals), std::move(poller));
}

}  // namespace ledger::app
