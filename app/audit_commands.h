#pragma once
// The auditors' subcommands: verify, export, import, backup. Each returns the
// process exit code and prints what it found (stdout) or why it failed
// (stderr, exit code 1 for a failed check, 2 for a usage or I/O problem).

#include <string>

namespace ledger::app {

int Verify(const std::string& data);
int Export(const std::string& data);
int Import(const std::string& data);
// Writes a verified RocksDB checkpoint to `destination` (a new folder, mode
// 0700; relative paths are taken from the current folder). Refuses a place
// that exists or lies inside `data` (CheckBackupDestination). While a
// service holds the ledger it asks the service (LEDGER_TOKEN for an admin
// token), which writes only below its --backup-dir.
int Backup(const std::string& data, const std::string& destination);

// A running service writes its URL here (removed on a clean stop) so that
// `backup` can ask it for a checkpoint while it holds the database lock.
std::string ServiceUrlFile(const std::string& data);
void WriteServiceUrl(const std::string& file, const std::string& url);

}  // namespace ledger::app
