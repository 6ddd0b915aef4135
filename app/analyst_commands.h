#pragma once
// The analysts' subcommands: outage durations and per-day availability,
// computed offline from the log (the ledger is opened read-only, so they also
// work while the service runs). Return the process exit code.

#include <map>
#include <string>

namespace ledger::app {

// durations --data DIR [--from T] [--to T] [--by incident|system] [--as-of T] [--format json|csv]
int Durations(const std::map<std::string, std::string>& options);
// review-report --data DIR [--from T] [--to T] [--days N] [--as-of T] [--timezone ZONE]
//   [--format json|csv --by incident|item|recurrence]: GET /api/v1/review-report offline
int ReviewReport(const std::map<std::string, std::string>& options);
// availability --data DIR [--system S] [--days N] [--end-date YYYY-MM-DD] [--timezone ZONE] [--as-of T]
int Availability(const std::map<std::string, std::string>& options);

}  // namespace ledger::app
