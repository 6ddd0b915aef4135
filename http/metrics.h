#pragma once
// All of the service's Prometheus exposition text (format 0.0.4): every
// metric name, HELP and TYPE line and label is spelled in metrics.cc and
// nowhere else. The other modules keep their figures as plain stats structs
// and know no exposition format: the ledger's (LedgerStats), the notification
// queue's and delivery worker's (projections/notification_stats.h), the
// sheet poller's (ingest/sheet_poller.h) and the work pool's (work_pool.h).
//
// Metrics itself keeps the HTTP figures: requests by route and status,
// request latency per route, append latency, group-commit batch sizes, open
// connections. Render adds the other parts' figures, read through the
// MetricsSources callbacks that app/ sets (notify/ and http/ never include
// each other, so the notification figures come in that way).
//
// Thread safety: CountRequest, ObserveAppend, ObserveBatchSize,
// SetOpenConnections and Render may be called from any thread at once.
// SetSources must be called before the server starts, never beside Render.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/histogram.h"
#include "http/work_pool.h"
#include "ingest/sheet_poller.h"
#include "ledger/ledger.h"
#include "projections/notification_stats.h"

namespace ledger::http {

// Where Render reads the figures Metrics does not keep itself. Each is called
// once per Render, on the thread answering /metrics, so it must be safe from
// any thread and quick. One left empty leaves its families out (the sheet
// poller's when serve runs without --poll-csv; all of them in unit tests).
// A follower's figures (serve --follow; app/follow.h fills them).
struct FollowerStats {
  uint64_t local_head_seq = 0;    // events this copy holds
  uint64_t primary_head_seq = 0;  // the primary's head as last seen
  // Seconds since this copy last held every event the primary had (measured
  // from the start of the poll that found it so); grows while it falls
  // behind, is unreachable or has stopped.
  double lag_seconds = 0;
  uint64_t events_imported = 0;   // since the start
  uint64_t fetch_failures = 0;    // requests to the primary that failed
  uint64_t tree_heads_checked = 0;  // signed heads and consistency proofs that held
  uint64_t diverged_seq = 0;      // the first bad seq once the primary diverged; 0 while it has not
};

struct MetricsSources {
  std::function<projections::NotificationStats()> notifications;
  std::function<ingest::SheetPollerStats()> sheet_poller;
  std::function<WorkPoolStats()> work_pool;
  std::function<FollowerStats()> follower;
};

class Metrics {
 public:
  Metrics();
  void CountRequest(std::string_view route, unsigned status, double seconds);
  void ObserveAppend(double seconds);
  void ObserveBatchSize(size_t events);
  void SetOpenConnections(int64_t count);
  void SetSources(MetricsSources sources) { sources_ = std::move(sources); }

  // The whole exposition: the HTTP and ledger families, then those of the
  // notifications, the sheet poller and the work pool, in that order.
  std::string Render(const LedgerStats& stats, uint64_t head_seq, uint64_t projected_seq) const;

 private:
  mutable std::mutex mutex_;  // guards requests_ and request_seconds_
  std::map<std::pair<std::string, unsigned>, uint64_t> requests_;
  std::map<std::string, std::unique_ptr<Histogram>> request_seconds_;
  Histogram append_seconds_;
  Histogram batch_events_;
  std::atomic<int64_t> open_connections_{0};
  MetricsSources sources_;
};

// The families of one part each, as Render writes them; pure.
//
// ledger_notification_*: the queue's jobs by state, the age of the oldest
// pending job's incident event at `now_micros`, orphan and duplicate
// receipts, whether a worker runs, and, when one does, its figures.
std::string RenderNotificationMetrics(const projections::NotificationStats& stats, int64_t now_micros);
// ledger_sheet_*.
std::string RenderSheetPollerMetrics(const ingest::SheetPollerStats& stats);
// ledger_work_*.
std::string RenderWorkPoolMetrics(const WorkPoolStats& stats);
// ledger_follow_*.
std::string RenderFollowerMetrics(const FollowerStats& stats);

}  // namespace ledger::http
