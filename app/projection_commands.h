#pragma once
// Projection lifecycle for the binary: where checkpoints live, what a start
// reports, the `rebuild` subcommand, and the background chain check of
// `serve`.

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "ledger/ledger.h"
#include "projections/read_model.h"

namespace ledger::app {

// DIR/projections: the read model's checkpoint database.
std::string ProjectionFolder(const std::string& data);

// One line on stderr: resumed at seq N (+M events) or rebuilt, and why.
void ReportProjectionOpen(const projections::OpenReport& report);

// rebuild --data DIR: drops the saved projections and folds the log from
// seq 1 again, printing events per second. Where malloc is glibc's, the
// process's heap is readied for the fold first (HeapReservation, sized by
// kRebuildHeapBytesPerEvent); a build linked with jemalloc
// (LEDGER_JEMALLOC, app/CMakeLists.txt) skips it: the reservation grows
// glibc's heap, which jemalloc does not allocate from.
int Rebuild(const std::string& data);

// What a fold from seq 1 allocates per event, about: the generated ledger
// holds ~1 KiB of ticket state per incident of five events.
constexpr size_t kRebuildHeapBytesPerEvent = 256;

// Walks the whole chain on its own thread, at a lower CPU priority than the
// service's other threads; on a failure prints the bad seq and calls
// `on_failure` (which stops the server).
class ChainCheck {
 public:
  ChainCheck(const Ledger& ledger, std::function<void()> on_failure);
  ~ChainCheck() { Join(); }
  void Join();
  bool failed() const { return failed_.load(); }

 private:
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace ledger::app
