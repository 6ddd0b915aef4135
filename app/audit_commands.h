#pragma once
// The auditors' subcommands: verify, export, import, backup. Each returns the
// process exit code and prints what it found (stdout) or why it failed
// (stderr, exit code 1 for a failed check, 2 for a usage or I/O problem).

#include <string>

namespace ledger::app {

int Verify(const std::string& data);
int Export(const std::string& data);
int Import(const std::string& data);
int Backup(const std::string& data, const std::string& destination);

// A running service writes its URL here (removed on a clean stop) so that
// `backup` can ask it for a checkpoint while it holds the database lock.
std::string ServiceUrlFile(const std::string& data);
void WriteServiceUrl(const std::string& file, const std::string& url);

}  // namespace ledger::app
