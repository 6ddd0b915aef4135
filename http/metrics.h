#pragma once
// Prometheus metrics: requests by route and status, request latency per
// route, append latency, group-commit batch sizes. Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "http/work_pool.h"
#include "ledger/ledger.h"

namespace ledger::http {

class Metrics {
 public:
  Metrics();
  void CountRequest(std::string_view route, unsigned status, double seconds);
  void ObserveAppend(double seconds);
  void ObserveBatchSize(size_t events);
  void SetOpenConnections(int64_t count);

  // The whole exposition, text format 0.0.4.
  std::string Render(const LedgerStats& stats, uint64_t head_seq, uint64_t projected_seq) const;

  // Another part's metrics (complete HELP/TYPE/sample lines), appended to
  // every Render; e.g. the sheet poller's, the notification queue's. Add
  // before the server starts.
  void AddExtraSource(std::function<std::string()> source) { extra_sources_.push_back(std::move(source)); }

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, uint64_t> requests_;
  std::map<std::string, std::unique_ptr<Histogram>> request_seconds_;
  Histogram append_seconds_;
  Histogram batch_events_;
  std::atomic<int64_t> open_connections_{0};
  std::vector<std::function<std::string()>> extra_sources_;
};

// The work pool's figures (work_pool.h) as exposition text.
std::string RenderWorkPoolMetrics(const WorkPoolStats& stats);

}  // namespace ledger::http
