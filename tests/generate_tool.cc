// ledger-generate DIR INCIDENTS: writes a history of INCIDENTS incidents into
// the empty ledger DIR through the command processor (every rule applies),
// without syncing each append: first every create (one a day apart, ending
// now, on one of 20 systems), then every close (each outage two hours
// long). Tickets are INC-1..INC-N in order, so seq N is the moment when
// every incident was open and none had closed yet. Used by the integration
// tests that need a ledger larger than HTTP submissions could build quickly.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <semaphore>
#include <string>

#include "common/time.h"
#include "ingest/processor.h"
#include "ledger/ledger.h"

namespace {

constexpr std::ptrdiff_t kInFlightMax = 256;
constexpr int64_t kMicrosPerHour = 3'600'000'000;

ledger::proto::Timestamp Stamp(int64_t micros) {
  ledger::proto::Timestamp stamp;
  stamp.set_unix_micros(micros);
  stamp.set_offset_minutes(0);
  return stamp;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ledger;
  if (argc != 3) {
    std::fprintf(stderr, "usage: ledger-generate DIR INCIDENTS\n");
    return 2;
  }
  const uint64_t incidents = std::stoull(argv[2]);
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = argv[1], .sync_writes = false});
  if (!opened) {
    std::fprintf(stderr, "ledger-generate: %s\n", opened.error().message.c_str());
    return 2;
  }
  if ((*opened)->head().seq != 0) {
    std::fprintf(stderr, "ledger-generate: %s is not an empty ledger\n", argv[1]);
    return 2;
  }
  Result<std::unique_ptr<ingest::CommandProcessor>> processor = ingest::CommandProcessor::Create(opened->get());
  if (!processor) {
    std::fprintf(stderr, "ledger-generate: %s\n", processor.error().message.c_str());
    return 2;
  }
  // Whole seconds: RFC 3339 as the API writes it keeps them exact.
  const int64_t now = NowMicros() / 1'000'000 * 1'000'000;
  const int64_t first_start = now - static_cast<int64_t>(incidents) * 24 * kMicrosPerHour;
  std::counting_semaphore<kInFlightMax> in_flight(kInFlightMax);
  std::atomic<uint64_t> refused{0};
  const auto submit = [&](ingest::Command command) {
    in_flight.acquire();
    (*processor)->SubmitAsync(std::move(command), [&](Result<ingest::SubmissionResult> result) {
      if (!result && refused.fetch_add(1) == 0) {
        std::fprintf(stderr, "ledger-generate: refused: %s\n", result.error().message.c_str());
      }
      in_flight.release();
    });
  };
  for (uint64_t i = 0; i < incidents; ++i) {
    ingest::Command command;
    command.action = ingest::Action::kCreate;
    command.actor = "generator";
    command.payload.set_title("Generated outage " + std::to_string(i + 1));
    command.payload.mutable_systems()->add_names("system-" + std::to_string(i % 20));
    command.payload.set_engineer("Engineer " + std::to_string(i % 7));
    *command.payload.mutable_started_at() = Stamp(first_start + static_cast<int64_t>(i) * 24 * kMicrosPerHour);
    submit(std::move(command));
  }
  for (uint64_t i = 0; i < incidents; ++i) {
    ingest::Command command;
    command.action = ingest::Action::kClose;
    command.actor = "generator";
    command.ticket = "INC-" + std::to_string(i + 1);
    *command.payload.mutable_ended_at() = Stamp(first_start + static_cast<int64_t>(i) * 24 * kMicrosPerHour + 2 * kMicrosPerHour);
    submit(std::move(command));
  }
  for (std::ptrdiff_t i = 0; i < kInFlightMax; ++i) in_flight.acquire();
  (*opened)->Shutdown();
  std::printf("%llu\n", static_cast<unsigned long long>((*opened)->head().seq));
  return refused.load() == 0 ? 0 : 1;
}
