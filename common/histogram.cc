#include "common/histogram.h"

#include <algorithm>
#include <cmath>

#include "common/result.h"

namespace ledger {

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  LEDGER_ASSERT(upper_bounds_.size() <= kBucketsMax);
}

void Histogram::Observe(double value) {
  size_t bucket = 0;
  while (bucket < upper_bounds_.size() && value > upper_bounds_[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  const double scaled = std::max(0.0, value) * 1e6;
  sum_micro_units_.fetch_add(static_cast<uint64_t>(std::llround(scaled)), std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot snapshot{.upper_bounds = upper_bounds_, .bucket_counts = {}, .count = 0, .sum = 0};
  snapshot.bucket_counts.reserve(upper_bounds_.size() + 1);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    snapshot.bucket_counts.push_back(counts_[i].load(std::memory_order_relaxed));
  }
  snapshot.count = count_.load();
  snapshot.sum = static_cast<double>(sum_micro_units_.load()) / 1e6;
  return snapshot;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace ledger
