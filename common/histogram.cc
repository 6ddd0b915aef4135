#include "common/histogram.h"

#include <cmath>
#include <cstdio>

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

void Histogram::AppendPrometheus(std::string* out, std::string_view name, std::string_view labels) const {
  const std::string label_prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  uint64_t cumulative = 0;
  char bound[32];
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    if (i < upper_bounds_.size()) {
      std::snprintf(bound, sizeof bound, "%g", upper_bounds_[i]);
    } else {
      std::snprintf(bound, sizeof bound, "+Inf");
    }
    *out += std::string(name) + "_bucket{" + label_prefix + "le=\"" + bound + "\"} " +
            std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(sum_micro_units_.load()) / 1e6);
  *out += std::string(name) + "_sum" + braces + " " + sum + "\n";
  *out += std::string(name) + "_count" + braces + " " + std::to_string(count_.load()) + "\n";
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace ledger
