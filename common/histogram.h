#pragma once
// A fixed-bucket histogram for Prometheus exposition. Observe() is lock-free
// and safe from any thread; readers see a near-consistent snapshot.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ledger {

class Histogram {
 public:
  // `upper_bounds` ascending; a final +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  // Appends the Prometheus text lines for this histogram, e.g.
  // name_bucket{le="0.005"} 3 ... name_sum, name_count. `labels` is either
  // empty or `key="value",...` without braces.
  void AppendPrometheus(std::string* out, std::string_view name, std::string_view labels = {}) const;

 private:
  static constexpr size_t kBucketsMax = 32;
  std::vector<double> upper_bounds_;
  std::array<std::atomic<uint64_t>, kBucketsMax + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_units_{0};  // sum * 1e6, to stay lock-free
};

// Latency buckets in seconds, from 100 us to 10 s.
std::vector<double> LatencyBucketsSeconds();

}  // namespace ledger
