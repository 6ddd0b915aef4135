#include "app/audit_commands.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <simdjson.h>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "http/json_views.h"
#include "ledger/ledger.h"
#include "projections/ticket_name.h"

namespace ledger::app {
namespace {

constexpr size_t kImportChunkEvents = 1000;
constexpr size_t kImportLineBytesMax = 4 << 20;
constexpr long kServiceTimeoutSeconds = 600;

int Problem(const std::string& message) {
  ledger::LogPrintf("incident-ledger", "%s", message.c_str());
  return 2;
}

void PrintReport(const VerifyReport& report) {
  std::printf("%s\n", http::VerifyReportJson(report).c_str());
  if (!report.ok) {
    ledger::LogPrintf("incident-ledger", "verification FAILED at seq %llu: %s",
                 static_cast<unsigned long long>(report.bad_seq), report.problem.c_str());
  }
}

Result<ImportedEvent> ParseExportLine(simdjson::dom::parser& parser, const std::string& line, uint64_t expected_seq) {
  simdjson::padded_string padded(line);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return InvalidArgument("", "not a JSON object");
  return ImportedEventFromJson(root, expected_seq);
}

size_t CollectBody(char* data, size_t size, size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

// The "message" of an error answer {"error":{"message":...}}, or "".
std::string ErrorMessageOf(const std::string& answer) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(answer);
  simdjson::dom::element root;
  std::string_view message;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return {};
  if (root["error"]["message"].get_string().get(message) != simdjson::SUCCESS) return {};
  return std::string(message);
}

// Asks the service that holds the database lock to make the checkpoint.
int BackupThroughService(const std::string& data, const std::string& destination) {
  std::ifstream file(ServiceUrlFile(data));
  std::string url;
  if (!file || !std::getline(file, url) || url.empty()) {
    return Problem("the ledger at " + data + " is in use by another process, and no running service URL was found in " +
                   ServiceUrlFile(data));
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Problem("cannot start libcurl");
  std::string body = "{\"to\":";
  AppendJsonEscaped(&body, destination);
  body += "}";
  std::string answer;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  // A service with an auth file wants an admin token (never on the command
  // line, where other users could read it in the process list).
  const char* token = std::getenv(std::string(kBackupTokenVariable).c_str());
  const std::string authorization = token != nullptr ? std::string("Authorization: Bearer ") + token : std::string();
  if (!authorization.empty()) headers = curl_slist_append(headers, authorization.c_str());
  const std::string endpoint = url + "/api/v1/backup";
  curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, kServiceTimeoutSeconds);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  const CURLcode result = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (result != CURLE_OK) {
    return Problem("the ledger is in use, and its service at " + url + " did not answer: " + curl_easy_strerror(result));
  }
  std::printf("%s\n", answer.c_str());
  if (status == 201) return 0;
  const std::string why = ErrorMessageOf(answer);
  if (status == 401 || (status == 403 && why.find("role") != std::string::npos)) {
    return Problem("the service refused the backup (HTTP " + std::to_string(status) +
                   "): set LEDGER_TOKEN to a token with the admin role");
  }
  return Problem("the service refused the backup (HTTP " + std::to_string(status) + ")" + (why.empty() ? "" : ": " + why));
}

}  // namespace

Result<ImportedEvent> ImportedEventFromJson(simdjson::dom::element root, uint64_t expected_seq) {
  if (!root.is_object()) return InvalidArgument("", "not a JSON object");
  uint64_t seq = 0;
  std::string_view prev_hex, hash_hex, record_base64;
  if (root["seq"].get_uint64().get(seq) != simdjson::SUCCESS) return InvalidArgument("seq", "seq missing");
  if (root["prev_hash"].get_string().get(prev_hex) != simdjson::SUCCESS) return InvalidArgument("prev_hash", "prev_hash missing");
  if (root["hash"].get_string().get(hash_hex) != simdjson::SUCCESS) return InvalidArgument("hash", "hash missing");
  if (root["record"].get_string().get(record_base64) != simdjson::SUCCESS) return InvalidArgument("record", "record missing");
  if (seq != expected_seq) {
    return InvalidArgument("seq", "seq " + std::to_string(seq) + " where " + std::to_string(expected_seq) + " was expected");
  }
  const std::optional<std::string> prev = HexDecode(prev_hex);
  const std::optional<std::string> hash = HexDecode(hash_hex);
  std::optional<std::string> record = Base64Decode(record_base64);
  if (!prev || prev->size() != kSha256Bytes) return InvalidArgument("prev_hash", "prev_hash is not 64 hex digits");
  if (!hash || hash->size() != kSha256Bytes) return InvalidArgument("hash", "hash is not 64 hex digits");
  if (!record) return InvalidArgument("record", "record is not base64");
  ImportedEvent imported;
  std::copy(prev->begin(), prev->end(), imported.prev_hash.begin());
  std::copy(hash->begin(), hash->end(), imported.hash.begin());
  imported.record = std::move(*record);
  if (Sha256(AsBytes(imported.prev_hash), imported.record) != imported.hash) {
    return InvalidArgument("hash", "hash is not SHA-256(prev_hash || record)");
  }
  return imported;
}

std::string ServiceUrlFile(const std::string& data) { return (std::filesystem::path(data) / "serve.url").string(); }

void WriteServiceUrl(const std::string& file, const std::string& url) {
  std::ofstream out(file, std::ios::trunc);
  out << url << "\n";
  if (!out) ledger::LogPrintf("incident-ledger", "cannot write %s (backup while serving will not find the service)", file.c_str());
}

int Verify(const std::string& data) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data, .read_only = true});
  if (!opened) {
    if (opened.error().code == ErrorCode::kCorruption) {
      ledger::LogPrintf("incident-ledger", "verification FAILED: %s", opened.error().message.c_str());
      return 1;
    }
    return Problem(opened.error().message);
  }
  Result<VerifyReport> report = (*opened)->Verify();
  if (!report) return Problem(report.error().message);
  PrintReport(*report);
  return report->ok ? 0 : 1;
}

int Export(const std::string& data) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data, .read_only = true});
  if (!opened) return Problem(opened.error().message);
  Status walked = (*opened)->ForEach(0, [](const StoredEvent& stored) -> Result<Flow> {
    const std::string line = http::EventJson(stored) + "\n";
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
      return MakeError(ErrorCode::kIoError, "cannot write to stdout");
    }
    return Flow::kContinue;
  });
  if (std::fflush(stdout) != 0) return Problem("cannot write to stdout");
  if (!walked) return Problem("export stopped: " + walked.error().message);
  return 0;
}

int Import(const std::string& data) {
  std::error_code error;
  const bool existed = std::filesystem::exists(data, error);
  if (existed && !std::filesystem::is_empty(data, error)) {
    return Problem("import needs a new, empty --data folder; " + data + " is not empty");
  }
  const auto discard = [&data, existed] {
    std::error_code ignored;
    if (existed) {
      for (const auto& entry : std::filesystem::directory_iterator(data, ignored)) std::filesystem::remove_all(entry, ignored);
    } else {
      std::filesystem::remove_all(data, ignored);
    }
  };
  int exit_code = 0;
  {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data});
    if (!opened) return Problem(opened.error().message);
    Ledger& log = **opened;
    simdjson::dom::parser parser;
    std::vector<ImportedEvent> chunk;
    std::string line;
    uint64_t line_number = 0;
    Sha256Digest previous_hash{};
    const auto flush = [&]() -> Status {
      Status written = log.ImportVerbatim(chunk, projections::CounterOf);
      chunk.clear();
      return written;
    };
    while (std::getline(std::cin, line)) {
      ++line_number;
      if (line.size() > kImportLineBytesMax) {
        exit_code = Problem("line " + std::to_string(line_number) + ": longer than " + std::to_string(kImportLineBytesMax) + " bytes");
        break;
      }
      if (line.empty()) continue;
      const uint64_t expected_seq = log.head().seq + chunk.size() + 1;
      Result<ImportedEvent> imported = ParseExportLine(parser, line, expected_seq);
      if (imported && imported->prev_hash != previous_hash) {
        imported = InvalidArgument("prev_hash", "prev_hash is not the previous line's hash: the chain is broken");
      }
      if (!imported) {
        exit_code = Problem("line " + std::to_string(line_number) + " (seq " + std::to_string(expected_seq) +
                            "): " + imported.error().message + "; nothing imported");
        break;
      }
      previous_hash = imported->hash;
      chunk.push_back(std::move(*imported));
      if (chunk.size() == kImportChunkEvents) {
        if (Status written = flush(); !written) {
          exit_code = Problem("line " + std::to_string(line_number) + ": " + written.error().message + "; nothing imported");
          break;
        }
      }
    }
    if (exit_code == 0 && std::cin.bad()) exit_code = Problem("cannot read stdin");
    if (exit_code == 0) {
      if (Status written = flush(); !written) exit_code = Problem(written.error().message + "; nothing imported");
    }
    if (exit_code == 0) {
      const Head head = log.head();
      std::printf("{\"imported\":%llu,\"head_seq\":%llu,\"head_hash\":\"%s\"}\n", static_cast<unsigned long long>(head.seq),
                  static_cast<unsigned long long>(head.seq), HexEncode(head.hash).c_str());
    }
  }
  if (exit_code != 0) discard();
  return exit_code;
}

int Backup(const std::string& data, const std::string& destination) {
  // The same rules as the service's (common/file.h), but for a path typed
  // here, relative to the current folder, ".." allowed; a running service
  // also wants it below its --backup-dir.
  std::error_code error;
  if (destination.empty()) return Problem("--to DEST must name the new backup folder");
  const std::string typed = std::filesystem::absolute(destination, error).lexically_normal().string();
  Result<std::string> checked =
      CheckBackupDestination(typed, BackupDestinationRules{.field = "--to", .data_folder = data});
  if (!checked) return Problem(checked.error().message);
  const std::string& absolute = *checked;
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data});
  if (!opened) {
    // A running service holds RocksDB's lock: let it make the checkpoint.
    if (opened.error().code == ErrorCode::kIoError && opened.error().message.find("lock") != std::string::npos) {
      return BackupThroughService(data, absolute);
    }
    return Problem(opened.error().message);
  }
  if (Status made = (*opened)->Checkpoint(absolute); !made) return Problem(made.error().message);
  opened->reset();
  Result<std::unique_ptr<Ledger>> copy = Ledger::Open(LedgerOptions{.path = absolute, .read_only = true});
  if (!copy) return Problem("the backup does not open: " + copy.error().message);
  Result<VerifyReport> report = (*copy)->Verify();
  if (!report) return Problem(report.error().message);
  std::printf("{\"path\":");
  std::string path_json;
  AppendJsonEscaped(&path_json, absolute);
  std::printf("%s,\"verify\":%s}\n", path_json.c_str(), http::VerifyReportJson(*report).c_str());
  return report->ok ? 0 : 1;
}

}  // namespace ledger::app
