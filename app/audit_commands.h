#pragma once
// The auditors' subcommands: verify, export, import, backup. Each returns the
// process exit code and prints what it found (stdout) or why it failed
// (stderr, exit code 1 for a failed check, 2 for a usage or I/O problem).

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "common/result.h"
#include "ledger/ledger.h"

namespace ledger::app {

// One event of GET /api/v1/events (a line of `export`, an element of the
// JSON page's "events") as the import takes it: its seq must be
// `expected_seq`, prev_hash and hash 64 hex digits, record base64, and hash
// SHA-256(prev_hash || record). The link to the event before and whether
// the record decodes are Ledger::ImportVerbatim's to check. `import` and
// `follow` both read events through this, so one set of rules holds.
Result<ImportedEvent> ImportedEventFromJson(simdjson::dom::element event, uint64_t expected_seq);

int Verify(const std::string& data);
int Export(const std::string& data);
int Import(const std::string& data);
// Writes a verified RocksDB checkpoint to `destination` (a new folder, mode
// 0700; relative paths are taken from the current folder). Refuses a place
// that exists or lies inside `data` (CheckBackupDestination). While a
// service holds the ledger it asks the service (LEDGER_TOKEN for an admin
// token), which writes only below its --backup-dir.
int Backup(const std::string& data, const std::string& destination);
// The variable that holds that token: not an option (a command line is
// readable by every user of the machine), so no --token, no config key.
inline constexpr std::string_view kBackupTokenVariable = "LEDGER_TOKEN";

// A running service writes its URL here (removed on a clean stop) so that
// `backup` can ask it for a checkpoint while it holds the database lock.
std::string ServiceUrlFile(const std::string& data);
void WriteServiceUrl(const std::string& file, const std::string& url);

}  // namespace ledger::app
