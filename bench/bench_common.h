#pragma once
// Shared by the benchmark programs: latency summaries printed as one JSON
// line each (bench/report.py turns the lines into the results table), and the
// realistic text a submission carries.
//
// Nothing here knows the ledger; the programs that use it do.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ledger::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsBetween(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// Operations done in a measured interval, with each one's latency.
struct LoadResult {
  uint64_t operations = 0;
  uint64_t errors = 0;
  double seconds = 0;
  std::vector<double> latencies_seconds;  // one per operation (may be empty)
};

// Value at quantile q (0..1) of `values`, which it sorts; 0 when empty.
double Quantile(std::vector<double>* values, double q);

// Prints {"bench":..,"label":..,"ops":..,"errors":..,"seconds":..,
// "ops_per_second":..,"p50_ms":..,"p99_ms":..,<extra>} on one line of stdout.
// `extra_json` is either empty or `"key":value,...` without braces.
void PrintResult(const std::string& bench, const std::string& label, LoadResult result,
                 const std::string& extra_json = {});

// Realistic field values for generated submissions, picked by `n`.
const std::string& SystemName(uint64_t n);
size_t SystemCount();
const std::string& EngineerName(uint64_t n);
std::string TitleFor(uint64_t n);
std::string DescriptionFor(uint64_t n);  // 100-300 bytes
std::string NoteFor(uint64_t n);

// A create submission as the form would send it (JSON), about 500 bytes.
// `unique` goes into the submission_id and the link.
std::string CreateSubmissionJson(const std::string& unique, uint64_t n);

// Small, fast, seedable PRNG (splitmix64), so runs are reproducible.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t bound) { return Next() % bound; }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace ledger::bench
