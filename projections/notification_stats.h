#pragma once
// The notification side's figures, as plain data: the queue's (filled by
// NotificationQueue::stats from the fold) and the delivery worker's (filled
// by notify::DeliveryWorker::stats). http/metrics.h renders them for
// /metrics; nothing here knows an exposition format or a metric name.
//
// Why here: notify/ fills the delivery figures and http/ renders them, and
// those two never include each other (docs/ARCHITECTURE.md). This is the
// lowest module that knows notifications, below both; app/ hands the one's
// snapshot to the other.
//
// Thread safety: plain values; a snapshot is a copy, read it anywhere.

#include <cstdint>
#include <optional>

#include "common/histogram.h"

namespace ledger::projections {

// Jobs in the queue, by state.
struct QueueCounts {
  uint64_t pending = 0;
  uint64_t sent = 0;
  uint64_t failed = 0;
};

struct NotificationQueueStats {
  QueueCounts jobs;
  // Recorded time of the incident event of the oldest pending job (the one
  // with the lowest seq); 0 when nothing is pending.
  int64_t oldest_pending_recorded_at_micros = 0;
  uint64_t orphan_receipts = 0;       // receipts naming no known job
  uint64_t duplicate_deliveries = 0;  // DELIVERED receipts for jobs already sent
  // Jobs held in memory: pending, failed, and sent ones not yet saved to
  // disk (projections/notifications.h). Stays near pending + failed.
  uint64_t jobs_in_memory = 0;
};

// SMTP attempts since the worker started, by how each ended (the cases of
// notify::SendOutcome).
struct DeliveryAttempts {
  uint64_t delivered = 0;
  uint64_t server_unavailable = 0;
  uint64_t transient = 0;
  uint64_t permanent = 0;
  uint64_t aborted = 0;
};

// The delivery worker's figures since it started (counters) and now (gauges).
struct DeliveryStats {
  DeliveryAttempts attempts;
  uint64_t given_up = 0;                 // jobs whose failure receipt gave them up
  uint64_t receipt_append_failures = 0;  // receipt appends that failed and were retried
  HistogramSnapshot send_seconds;        // one SMTP transaction, in seconds
  uint64_t in_flight = 0;                // mails being sent or whose receipt is being recorded
  uint64_t receipts_unrecorded = 0;      // receipts waiting to be appended again
  bool smtp_available = true;            // false while the last attempt could not reach the server
};

// What /metrics shows of notifications.
struct NotificationStats {
  NotificationQueueStats queue;
  std::optional<DeliveryStats> delivery;  // empty when no worker runs (serve without --smtp-url)
};

}  // namespace ledger::projections
