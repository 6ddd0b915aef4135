#include "common/memory.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

#include <sys/mman.h>

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

namespace ledger {
namespace {

// A transparent huge page.
constexpr size_t kHugePageBytes = size_t{2} << 20;

size_t MappedBytes(size_t bytes) { return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1); }

#if defined(__GLIBC__)
// glibc's defaults, restored afterwards (mallopt cannot read them back).
constexpr int kDefaultTopPadBytes = 128 * 1024;
constexpr int kDefaultTrimThresholdBytes = 128 * 1024;
// Below this a reservation is not worth the system calls; above it, not
// sensible for one heap growth.
constexpr size_t kReservationBytesMin = size_t{16} << 20;
constexpr size_t kReservationBytesMax = size_t{1} << 30;
// Blocks taken to make the heap grow: small enough to come from the heap
// (not mmap), large enough to get there quickly.
constexpr size_t kGrowthProbeBytes = 64 * 1024;
constexpr size_t kGrowthProbesMax = 64;
#endif

}  // namespace

void* MapLargeBuffer(size_t bytes) {
  const size_t mapped = MappedBytes(bytes);
  // Mapped with one alignment's slack, then trimmed to an aligned start, so
  // that every 2 MiB of the buffer can be one huge page.
  const size_t slack = kHugePageBytes;
  void* const region = mmap(nullptr, mapped + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<uintptr_t>(region);
  const uintptr_t aligned = (begin + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (aligned > begin) (void)munmap(region, aligned - begin);
  const uintptr_t end = begin + mapped + slack;
  if (end > aligned + mapped) (void)munmap(reinterpret_cast<void*>(aligned + mapped), end - aligned - mapped);
  (void)madvise(reinterpret_cast<void*>(aligned), mapped, MADV_HUGEPAGE);  // a hint: refused, it changes nothing
  return reinterpret_cast<void*>(aligned);
}

void UnmapLargeBuffer(void* buffer, size_t bytes) { (void)munmap(buffer, MappedBytes(bytes)); }

HeapReservation::HeapReservation(size_t bytes) {
#if defined(__GLIBC__)
  if (bytes < kReservationBytesMin) return;
  if (bytes > kReservationBytesMax) bytes = kReservationBytesMax;
  // Keep freed memory at the top instead of trimming it, and make the next
  // growth of the heap `bytes` larger than asked.
  if (mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * kReservationBytesMax)) != 1) return;
  trimming_changed_ = true;
  if (mallopt(M_TOP_PAD, static_cast<int>(bytes)) != 1) return;
  auto* const before = static_cast<char*>(sbrk(0));
  std::vector<void*> probes;
  while (static_cast<char*>(sbrk(0)) == before && probes.size() < kGrowthProbesMax) {
    probes.push_back(std::malloc(kGrowthProbeBytes));
  }
  auto* const after = static_cast<char*>(sbrk(0));
  for (void* probe : probes) std::free(probe);
  mallopt(M_TOP_PAD, kDefaultTopPadBytes);
  if (after <= before) return;
  // Whole huge pages inside the new part of the heap.
  const auto start = (reinterpret_cast<uintptr_t>(before) + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const auto end = reinterpret_cast<uintptr_t>(after) & ~(kHugePageBytes - 1);
  if (end <= start) return;
  // A hint: a kernel without THP leaves the pages to be faulted in one by
  // one, as before. Filling them in up front (MADV_POPULATE_WRITE) was
  // tried and lost: it zeroes the whole reservation, used or not, on the
  // core the build's reader thread needs.
  (void)madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
  reserved_bytes_ = static_cast<size_t>(after - before);
#else
  (void)bytes;
#endif
}

HeapReservation::~HeapReservation() {
#if defined(__GLIBC__)
  if (!trimming_changed_) return;
  mallopt(M_TRIM_THRESHOLD, kDefaultTrimThresholdBytes);
  // Hands back what the build left unused at the top of the heap.
  malloc_trim(0);
#endif
}

}  // namespace ledger
