#include "http/metrics.h"

#include <algorithm>
#include <cstdio>

#include "common/time.h"

namespace ledger::http {
namespace {

// The "# HELP" and "# TYPE" lines that open a family.
void AppendFamily(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

// One sample line. `labels` is either empty or `key="value",...` without braces.
void AppendSample(std::string* out, std::string_view name, std::string_view labels, std::string_view value) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    *out += labels;
    *out += '}';
  }
  *out += ' ';
  *out += value;
  *out += '\n';
}

// The samples of one histogram: name_bucket{le="0.005"} 3 (cumulative), ...,
// name_bucket{le="+Inf"}, name_sum, name_count.
void AppendHistogram(std::string* out, std::string_view name, const HistogramSnapshot& histogram,
                     std::string_view labels = {}) {
  const std::string label_prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  const std::string bucket_name = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  char bound[32];
  for (size_t i = 0; i < histogram.bucket_counts.size(); ++i) {
    cumulative += histogram.bucket_counts[i];
    if (i < histogram.upper_bounds.size()) {
      std::snprintf(bound, sizeof bound, "%g", histogram.upper_bounds[i]);
    } else {
      std::snprintf(bound, sizeof bound, "+Inf");
    }
    AppendSample(out, bucket_name, label_prefix + "le=\"" + bound + "\"", std::to_string(cumulative));
  }
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", histogram.sum);
  AppendSample(out, std::string(name) + "_sum", labels, sum);
  AppendSample(out, std::string(name) + "_count", labels, std::to_string(histogram.count));
}

std::string Flag(bool on) { return on ? "1" : "0"; }

// The worker's families, present only while a worker runs.
void AppendDeliveryMetrics(std::string* out, const projections::DeliveryStats& stats) {
  AppendFamily(out, "ledger_notification_attempts_total", "counter", "SMTP attempts since start, by outcome.");
  const std::pair<const char*, uint64_t> attempts[] = {{"delivered", stats.attempts.delivered},
                                                       {"server_unavailable", stats.attempts.server_unavailable},
                                                       {"transient", stats.attempts.transient},
                                                       {"permanent", stats.attempts.permanent},
                                                       {"aborted", stats.attempts.aborted}};
  for (const auto& [outcome, count] : attempts) {
    AppendSample(out, "ledger_notification_attempts_total", "outcome=\"" + std::string(outcome) + "\"",
                 std::to_string(count));
  }
  AppendFamily(out, "ledger_notification_given_up_total", "counter", "Mails given up since start.");
  AppendSample(out, "ledger_notification_given_up_total", {}, std::to_string(stats.given_up));
  AppendFamily(out, "ledger_notification_receipt_append_failures_total", "counter",
               "Receipt appends that failed and were retried.");
  AppendSample(out, "ledger_notification_receipt_append_failures_total", {},
               std::to_string(stats.receipt_append_failures));
  AppendFamily(out, "ledger_notification_send_duration_seconds", "histogram", "Time of one SMTP transaction.");
  AppendHistogram(out, "ledger_notification_send_duration_seconds", stats.send_seconds);
  AppendFamily(out, "ledger_notification_in_flight", "gauge", "Mails being sent or whose receipt is being recorded.");
  AppendSample(out, "ledger_notification_in_flight", {}, std::to_string(stats.in_flight));
  AppendFamily(out, "ledger_notification_receipts_unrecorded", "gauge", "Receipts waiting to be appended again.");
  AppendSample(out, "ledger_notification_receipts_unrecorded", {}, std::to_string(stats.receipts_unrecorded));
  AppendFamily(out, "ledger_notification_smtp_available", "gauge",
               "1 unless the last attempt could not reach the SMTP server.");
  AppendSample(out, "ledger_notification_smtp_available", {}, Flag(stats.smtp_available));
}

}  // namespace

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
  {
    std::lock_guard lock(mutex_);
    AppendFamily(&out, "ledger_http_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (const auto& [key, count] : requests_) {
      AppendSample(&out, "ledger_http_requests_total",
                   "route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"", std::to_string(count));
    }
    AppendFamily(&out, "ledger_http_request_duration_seconds", "histogram",
                 "Time from request read to response ready, by route.");
    for (const auto& [route, histogram] : request_seconds_) {
      AppendHistogram(&out, "ledger_http_request_duration_seconds", histogram->Snapshot(), "route=\"" + route + "\"");
    }
  }
  AppendFamily(&out, "ledger_append_duration_seconds", "histogram", "Time from submission queued to durable.");
  AppendHistogram(&out, "ledger_append_duration_seconds", append_seconds_.Snapshot());
  AppendFamily(&out, "ledger_group_commit_batch_events", "histogram", "Events written per group commit.");
  AppendHistogram(&out, "ledger_group_commit_batch_events", batch_events_.Snapshot());
  AppendFamily(&out, "ledger_events_appended_total", "counter", "Events appended since start.");
  AppendSample(&out, "ledger_events_appended_total", {}, std::to_string(stats.events_appended));
  AppendFamily(&out, "ledger_append_batches_failed_total", "counter", "Group commits that failed to write.");
  AppendSample(&out, "ledger_append_batches_failed_total", {}, std::to_string(stats.batches_failed));
  AppendFamily(&out, "ledger_memtable_bytes", "gauge",
               "Bytes of the log's RocksDB memtables (bounded by the write buffer size).");
  AppendSample(&out, "ledger_memtable_bytes", {}, std::to_string(stats.memtable_bytes));
  AppendFamily(&out, "ledger_head_seq", "gauge", "Seq of the newest event in the log.");
  AppendSample(&out, "ledger_head_seq", {}, std::to_string(head_seq));
  AppendFamily(&out, "ledger_projection_applied_seq", "gauge", "Seq of the newest event the read model has applied.");
  AppendSample(&out, "ledger_projection_applied_seq", {}, std::to_string(projected_seq));
  AppendFamily(&out, "ledger_http_open_connections", "gauge", "Connections open now.");
  AppendSample(&out, "ledger_http_open_connections", {}, std::to_string(open_connections_.load()));
  if (sources_.notifications) out += RenderNotificationMetrics(sources_.notifications(), NowMicros());
  if (sources_.sheet_poller) out += RenderSheetPollerMetrics(sources_.sheet_poller());
  if (sources_.work_pool) out += RenderWorkPoolMetrics(sources_.work_pool());
  if (sources_.follower) out += RenderFollowerMetrics(sources_.follower());
  return out;
}

std::string RenderNotificationMetrics(const projections::NotificationStats& stats, int64_t now_micros) {
  const projections::NotificationQueueStats& queue = stats.queue;
  std::string out;
  AppendFamily(&out, "ledger_notification_jobs", "gauge", "Notification jobs in the queue, by state.");
  AppendSample(&out, "ledger_notification_jobs", "state=\"pending\"", std::to_string(queue.jobs.pending));
  AppendSample(&out, "ledger_notification_jobs", "state=\"sent\"", std::to_string(queue.jobs.sent));
  AppendSample(&out, "ledger_notification_jobs", "state=\"failed\"", std::to_string(queue.jobs.failed));
  AppendFamily(&out, "ledger_notification_oldest_pending_seconds", "gauge",
               "Age of the oldest pending job's incident event.");
  const int64_t oldest = queue.oldest_pending_recorded_at_micros;
  const double age = oldest == 0 ? 0.0 : static_cast<double>(now_micros - oldest) / 1e6;
  char age_text[64];
  std::snprintf(age_text, sizeof age_text, "%.3f", std::max(0.0, age));
  AppendSample(&out, "ledger_notification_oldest_pending_seconds", {}, age_text);
  AppendFamily(&out, "ledger_notification_orphan_receipts", "gauge", "Receipts in the log naming no known job.");
  AppendSample(&out, "ledger_notification_orphan_receipts", {}, std::to_string(queue.orphan_receipts));
  AppendFamily(&out, "ledger_notification_duplicate_deliveries", "gauge", "DELIVERED receipts for jobs already sent.");
  AppendSample(&out, "ledger_notification_duplicate_deliveries", {}, std::to_string(queue.duplicate_deliveries));
  AppendFamily(&out, "ledger_notification_jobs_in_memory", "gauge",
               "Jobs held in memory: pending, failed, and sent ones not yet saved to disk.");
  AppendSample(&out, "ledger_notification_jobs_in_memory", {}, std::to_string(queue.jobs_in_memory));
  AppendFamily(&out, "ledger_notification_worker_running", "gauge", "1 when an SMTP server is configured.");
  AppendSample(&out, "ledger_notification_worker_running", {}, Flag(stats.delivery.has_value()));
  if (stats.delivery) AppendDeliveryMetrics(&out, *stats.delivery);
  return out;
}

std::string RenderSheetPollerMetrics(const ingest::SheetPollerStats& stats) {
  std::string out;
  AppendFamily(&out, "ledger_sheet_imports_total", "counter", "Imports of the polled CSV sheet (one per changed file).");
  AppendSample(&out, "ledger_sheet_imports_total", {}, std::to_string(stats.imports));
  AppendFamily(&out, "ledger_sheet_file_errors_total", "counter",
               "Looks at the polled CSV sheet that found it unreadable or malformed.");
  AppendSample(&out, "ledger_sheet_file_errors_total", {}, std::to_string(stats.file_errors));
  AppendFamily(&out, "ledger_sheet_rows_total", "counter", "Rows of the polled CSV sheet, by outcome, over all imports.");
  AppendSample(&out, "ledger_sheet_rows_total", "outcome=\"appended\"", std::to_string(stats.rows_appended));
  AppendSample(&out, "ledger_sheet_rows_total", "outcome=\"already_present\"",
               std::to_string(stats.rows_already_present));
  AppendSample(&out, "ledger_sheet_rows_total", "outcome=\"rejected\"", std::to_string(stats.rows_rejected));
  AppendFamily(&out, "ledger_sheet_last_import_rows", "gauge",
               "Rows of the latest import of the polled CSV sheet, by outcome.");
  AppendSample(&out, "ledger_sheet_last_import_rows", "outcome=\"read\"", std::to_string(stats.last_import_rows_read));
  AppendSample(&out, "ledger_sheet_last_import_rows", "outcome=\"appended\"",
               std::to_string(stats.last_import_rows_appended));
  AppendSample(&out, "ledger_sheet_last_import_rows", "outcome=\"already_present\"",
               std::to_string(stats.last_import_rows_already_present));
  AppendSample(&out, "ledger_sheet_last_import_rows", "outcome=\"rejected\"",
               std::to_string(stats.last_import_rows_rejected));
  AppendFamily(&out, "ledger_sheet_last_import_file_ok", "gauge",
               "1 when the latest import could read the file, 0 when not.");
  AppendSample(&out, "ledger_sheet_last_import_file_ok", {}, Flag(stats.last_import_file_ok));
  AppendFamily(&out, "ledger_sheet_last_import_timestamp_seconds", "gauge",
               "Unix time of the latest import of the polled CSV sheet.");
  AppendSample(&out, "ledger_sheet_last_import_timestamp_seconds", {}, std::to_string(stats.last_import_unix_seconds));
  return out;
}

std::string RenderWorkPoolMetrics(const WorkPoolStats& stats) {
  std::string out;
  AppendFamily(&out, "ledger_work_queued", "gauge", "Long requests waiting for a work thread.");
  AppendSample(&out, "ledger_work_queued", {}, std::to_string(stats.queued));
  AppendFamily(&out, "ledger_work_running", "gauge", "Long requests running on a work thread.");
  AppendSample(&out, "ledger_work_running", {}, std::to_string(stats.running));
  AppendFamily(&out, "ledger_work_total", "counter",
               "Long requests by how they ended: completed, rejected (queue full), "
               "abandoned (the client went away), expired (past the time budget).");
  AppendSample(&out, "ledger_work_total", "outcome=\"completed\"", std::to_string(stats.completed));
  AppendSample(&out, "ledger_work_total", "outcome=\"rejected\"", std::to_string(stats.rejected));
  AppendSample(&out, "ledger_work_total", "outcome=\"abandoned\"", std::to_string(stats.abandoned));
  AppendSample(&out, "ledger_work_total", "outcome=\"expired\"", std::to_string(stats.expired));
  return out;
}

std::string RenderFollowerMetrics(const FollowerStats& stats) {
  std::string out;
  AppendFamily(&out, "ledger_follow_lag_seconds", "gauge",
               "Seconds since this copy last held every event the primary had.");
  char lag_text[64];
  std::snprintf(lag_text, sizeof lag_text, "%.3f", std::max(0.0, stats.lag_seconds));
  AppendSample(&out, "ledger_follow_lag_seconds", {}, lag_text);
  AppendFamily(&out, "ledger_follow_lag_events", "gauge", "Events the primary held at its last look that this copy does not.");
  const uint64_t behind = stats.primary_head_seq > stats.local_head_seq ? stats.primary_head_seq - stats.local_head_seq : 0;
  AppendSample(&out, "ledger_follow_lag_events", {}, std::to_string(behind));
  AppendFamily(&out, "ledger_follow_primary_head_seq", "gauge", "The primary's head seq as last seen.");
  AppendSample(&out, "ledger_follow_primary_head_seq", {}, std::to_string(stats.primary_head_seq));
  AppendFamily(&out, "ledger_follow_events_imported_total", "counter", "Events copied from the primary since start.");
  AppendSample(&out, "ledger_follow_events_imported_total", {}, std::to_string(stats.events_imported));
  AppendFamily(&out, "ledger_follow_fetch_failures_total", "counter", "Requests to the primary that failed.");
  AppendSample(&out, "ledger_follow_fetch_failures_total", {}, std::to_string(stats.fetch_failures));
  AppendFamily(&out, "ledger_follow_tree_heads_checked_total", "counter",
               "Signed tree heads of the primary found consistent with this copy.");
  AppendSample(&out, "ledger_follow_tree_heads_checked_total", {}, std::to_string(stats.tree_heads_checked));
  AppendFamily(&out, "ledger_follow_diverged_seq", "gauge",
               "The first seq where the primary's history differs from this copy (following stopped); 0 when none.");
  AppendSample(&out, "ledger_follow_diverged_seq", {}, std::to_string(stats.diverged_seq));
  return out;
}

}  // namespace ledger::http
