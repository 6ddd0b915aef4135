#pragma once
// Getting the malloc heap ready for a bulk build: a process about to make
// hundreds of megabytes of small allocations (a fold of the whole log into
// ticket state) otherwise takes one page fault per 4 KiB page it touches,
// and on a virtual machine each fault costs tens of microseconds: for 200,000
// tickets that was a third of a rebuild's time.

#include <cstddef>
#include <cstdint>
#include <new>

namespace ledger {

// Memory for a large buffer that is filled once and read for long (a
// checkpoint's saved tickets held at start, projections/tickets.h): from
// kLargeBufferBytes on, mapped on its own, aligned to 2 MiB and marked for
// transparent huge pages, so that filling it takes one page fault per 2 MiB
// instead of one per 4 KiB. On a virtual machine those faults were a quarter
// of a start's time at 2,000,000 tickets, whichever malloc serves the rest.
// Smaller buffers come from operator new. The hint costs nothing where the
// kernel has no THP (the pages fault in one by one, as before), and is not
// taken for the whole heap: a huge page under a half-used small allocation
// would hold memory nothing uses.
constexpr size_t kLargeBufferBytes = size_t{2} << 20;
// `bytes` (at least kLargeBufferBytes), or nullptr when the system has no
// memory to map.
void* MapLargeBuffer(size_t bytes);
// Gives back what MapLargeBuffer(bytes) answered.
void UnmapLargeBuffer(void* buffer, size_t bytes);

// A standard allocator over MapLargeBuffer, for std::vector and
// std::basic_string: what it hands out from kLargeBufferBytes on is mapped
// on its own and given back whole when freed.
template <class T>
class LargeBufferAllocator {
 public:
  using value_type = T;
  LargeBufferAllocator() = default;
  template <class U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) {}  // NOLINT: conversion, as std::allocator's

  T* allocate(size_t count) {
    if (count > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = count * sizeof(T);
    if (bytes < kLargeBufferBytes) return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    void* mapped = MapLargeBuffer(bytes);
    if (mapped == nullptr) throw std::bad_alloc();
    return static_cast<T*>(mapped);
  }
  void deallocate(T* buffer, size_t count) noexcept {
    const size_t bytes = count * sizeof(T);
    if (bytes < kLargeBufferBytes) {
      ::operator delete(buffer, std::align_val_t{alignof(T)});
      return;
    }
    UnmapLargeBuffer(buffer, bytes);
  }
  template <class U>
  bool operator==(const LargeBufferAllocator<U>&) const {
    return true;
  }
};

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
