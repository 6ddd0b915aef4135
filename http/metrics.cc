#include "http/metrics.h"

namespace ledger::http {

Metrics::Metrics()
    : append_seconds_(LatencyBucketsSeconds()),
      batch_events_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

void Metrics::CountRequest(std::string_view route, unsigned status, double seconds) {
  std::lock_guard lock(mutex_);
  requests_[{std::string(route), status}] += 1;
  auto& histogram = request_seconds_[std::string(route)];
  if (!histogram) histogram = std::make_unique<Histogram>(LatencyBucketsSeconds());
  histogram->Observe(seconds);
}

void Metrics::ObserveAppend(double seconds) { append_seconds_.Observe(seconds); }
void Metrics::ObserveBatchSize(size_t events) { batch_events_.Observe(static_cast<double>(events)); }
void Metrics::SetOpenConnections(int64_t count) { open_connections_.store(count); }

std::string Metrics::Render(const LedgerStats& stats, uint64_t head_seq, uint64_t projected_seq) const {
  std::string out;
  out += "# HELP ledger_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE ledger_http_requests_total counter\n";
  std::lock_guard lock(mutex_);
  for (const auto& [key, count] : requests_) {
    out += "ledger_http_requests_total{route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(count) + "\n";
  }
  out += "# HELP ledger_http_request_duration_seconds Time from request read to response ready, by route.\n";
  out += "# TYPE ledger_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : request_seconds_) {
    histogram->AppendPrometheus(&out, "ledger_http_request_duration_seconds", "route=\"" + route + "\"");
  }
  out += "# HELP ledger_append_duration_seconds Time from submission queued to durable.\n";
  out += "# TYPE ledger_append_duration_seconds histogram\n";
  append_seconds_.AppendPrometheus(&out, "ledger_append_duration_seconds");
  out += "# HELP ledger_group_commit_batch_events Events written per group commit.\n";
  out += "# TYPE ledger_group_commit_batch_events histogram\n";
  batch_events_.AppendPrometheus(&out, "ledger_group_commit_batch_events");
  out += "# HELP ledger_events_appended_total Events appended since start.\n";
  out += "# TYPE ledger_events_appended_total counter\n";
  out += "ledger_events_appended_total " + std::to_string(stats.events_appended) + "\n";
  out += "# HELP ledger_append_batches_failed_total Group commits that failed to write.\n";
  out += "# TYPE ledger_append_batches_failed_total counter\n";
  out += "ledger_append_batches_failed_total " + std::to_string(stats.batches_failed) + "\n";
  out += "# HELP ledger_head_seq Seq of the newest event in the log.\n";
  out += "# TYPE ledger_head_seq gauge\n";
  out += "ledger_head_seq " + std::to_string(head_seq) + "\n";
  out += "# HELP ledger_projection_applied_seq Seq of the newest event the read model has applied.\n";
  out += "# TYPE ledger_projection_applied_seq gauge\n";
  out += "ledger_projection_applied_seq " + std::to_string(projected_seq) + "\n";
  out += "# HELP ledger_http_open_connections Connections open now.\n";
  out += "# TYPE ledger_http_open_connections gauge\n";
  out += "ledger_http_open_connections " + std::to_string(open_connections_.load()) + "\n";
  for (const auto& source : extra_sources_) out += source();
  return out;
}

std::string RenderWorkPoolMetrics(const WorkPoolStats& stats) {
  std::string out;
  out += "# HELP ledger_work_queued Long requests waiting for a work thread.\n";
  out += "# TYPE ledger_work_queued gauge\n";
  out += "ledger_work_queued " + std::to_string(stats.queued) + "\n";
  out += "# HELP ledger_work_running Long requests running on a work thread.\n";
  out += "# TYPE ledger_work_running gauge\n";
  out += "ledger_work_running " + std::to_string(stats.running) + "\n";
  out += "# HELP ledger_work_total Long requests by how they ended: completed, rejected (queue full), "
         "abandoned (the client went away), expired (past the time budget).\n";
  out += "# TYPE ledger_work_total counter\n";
  out += "ledger_work_total{outcome=\"completed\"} " + std::to_string(stats.completed) + "\n";
  out += "ledger_work_total{outcome=\"rejected\"} " + std::to_string(stats.rejected) + "\n";
  out += "ledger_work_total{outcome=\"abandoned\"} " + std::to_string(stats.abandoned) + "\n";
  out += "ledger_work_total{outcome=\"expired\"} " + std::to_string(stats.expired) + "\n";
  return out;
}

}  // namespace ledger::http
