#pragma once
// Getting the malloc heap ready for a bulk build: a process about to make
// hundreds of megabytes of small allocations (a fold of the whole log into
// ticket state) otherwise takes one page fault per 4 KiB page it touches,
// and on a virtual machine each fault costs tens of microseconds: for 200,000
// tickets that was a third of a rebuild's time.

#include <cstddef>

namespace ledger {

// While alive, the main malloc arena (the calling thread's, when that is the
// main thread) has `bytes` more heap than it needs, marked for transparent
// huge pages (THP "madvise" mode, as Debian ships it); malloc hands that
// memory out with one fault per 2 MiB instead of per 4 KiB.
// Destruction restores glibc's default trimming and trims, so what the build
// did not use goes back to the system: for processes that leave malloc's
// settings at their defaults (the `rebuild` command, the benchmarks), not
// for one that tunes them itself (`serve`, app/main.cc).
//
// Best effort: does nothing (and costs nothing) where the heap cannot grow
// in place, off glibc, or on older kernels; it readies glibc's heap only,
// so a process whose malloc is another allocator (serve and the CLI link
// jemalloc, app/CMakeLists.txt) gains nothing from it. Not thread-safe: create it while
// no other thread allocates heavily from the main arena (the folds that use
// it run on the thread that starts the process's work).
class HeapReservation {
 public:
  explicit HeapReservation(size_t bytes);
  ~HeapReservation();
  HeapReservation(const HeapReservation&) = delete;
  HeapReservation& operator=(const HeapReservation&) = delete;

  size_t reserved_bytes() const { return reserved_bytes_; }

 private:
  size_t reserved_bytes_ = 0;
  bool trimming_changed_ = false;
};

}  // namespace ledger
