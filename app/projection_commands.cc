#include "app/projection_commands.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common/log.h"
#include "common/memory.h"

namespace ledger::app {
namespace {

// The background chain check's niceness (0 is normal, 19 the lowest).
constexpr int kChainCheckNice = 10;

}  // namespace

std::string ProjectionFolder(const std::string& data) { return (std::filesystem::path(data) / "projections").string(); }

void ReportProjectionOpen(const projections::OpenReport& report) {
  if (report.rebuilt) {
    ledger::LogPrintf("incident-ledger", "projections rebuilt from seq 1 (%llu events): %s",
                 static_cast<unsigned long long>(report.replayed_events), report.reason.c_str());
  } else {
    ledger::LogPrintf("incident-ledger",
                 "projections resumed at seq %llu, caught up %llu events; %llu tickets, each built "
                 "from the checkpoint when first read, the rest in the background",
                 static_cast<unsigned long long>(report.resumed_seq),
                 static_cast<unsigned long long>(report.replayed_events),
                 static_cast<unsigned long long>(report.tickets));
  }
}

int Rebuild(const std::string& data) {
  // Read-write for the lock (no service may run meanwhile), without
  // compactions: the fold needs the CPU (LedgerOptions).
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data, .background_compactions = false});
  if (!opened) {
    ledger::LogPrintf("incident-ledger", "%s (stop the service first)", opened.error().message.c_str());
    return 2;
  }
  std::error_code error;
  std::filesystem::remove_all(ProjectionFolder(data), error);
  if (error) {
    ledger::LogPrintf("incident-ledger", "cannot drop %s: %s", ProjectionFolder(data).c_str(), error.message().c_str());
    return 2;
  }
  Result<std::unique_ptr<projections::ProjectionCheckpoints>> checkpoints =
      projections::ProjectionCheckpoints::Open(ProjectionFolder(data));
  if (!checkpoints) {
    ledger::LogPrintf("incident-ledger", "%s", checkpoints.error().message.c_str());
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
#if !defined(LEDGER_JEMALLOC)
  const HeapReservation reserved((*opened)->head().seq * kRebuildHeapBytesPerEvent);
#endif
  projections::ReadModel read_model;
  Result<projections::OpenReport> report = read_model.Open(**opened, checkpoints->get());
  if (!report) {
    ledger::LogPrintf("incident-ledger", "rebuild failed: %s", report.error().message.c_str());
    return report.error().code == ErrorCode::kCorruption ? 1 : 2;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"rebuilt_events\":%llu,\"seconds\":%.3f,\"save_seconds\":%.3f,\"events_per_second\":%.0f}\n",
              static_cast<unsigned long long>(report->replayed_events), seconds, report->save_seconds,
              seconds > 0 ? static_cast<double>(report->replayed_events) / seconds : 0.0);
  return 0;
}

ChainCheck::ChainCheck(const Ledger& ledger, std::function<void()> on_failure)
    : thread_([this, &ledger, on_failure = std::move(on_failure)] {
        // Nothing waits for the check, while the first requests and the
        // read model's background fill do wait for the CPU it would take on
        // a small machine: it yields to them. (Best effort: an error only
        // leaves it at the normal priority.)
        (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kChainCheckNice);
        Result<VerifyReport> report = ledger.Verify();
        if (report && report->ok) return;
        failed_.store(true);
        if (report) {
          ledger::LogPrintf("incident-ledger",
                       "the ledger fails verification at event %llu: %s; refusing to serve it: "
                       "stopping. Restore from a backup or an export.",
                       static_cast<unsigned long long>(report->bad_seq), report->problem.c_str());
        } else {
          ledger::LogPrintf("incident-ledger", "cannot verify the ledger: %s; stopping", report.error().message.c_str());
        }
        on_failure();
      }) {}

void ChainCheck::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace ledger::app
