#pragma once
// A fixed-bucket histogram (latencies, batch sizes) and its figures as plain
// data. It knows no exposition format: http/metrics.h renders snapshots.
//
// Thread safety: Observe() is lock-free and safe from any thread; Snapshot()
// may run beside it and sees a near-consistent picture (each figure is read
// once, but an Observe() running meanwhile may show in some and not others).

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace ledger {

// A histogram's figures at one moment.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;     // ascending; the +Inf bucket is implicit
  std::vector<uint64_t> bucket_counts;  // upper_bounds.size() + 1 entries, per bucket (not cumulative); last is +Inf
  uint64_t count = 0;                   // observations
  double sum = 0;                       // of the observations, to 1e-6
};

class Histogram {
 public:
  // `upper_bounds` ascending, at most kBucketsMax; a final +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  HistogramSnapshot Snapshot() const;

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
