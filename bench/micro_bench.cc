// Micro-benchmarks (Google Benchmark) for the costs behind bench/run's
// figures: what one submission costs before it reaches the disk, what one
// event costs in a rebuild, and what one dashboard query costs.

#include <benchmark/benchmark.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "bench/bench_common.h"
#include "common/encoding.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "http/json_views.h"
#include "ingest/command.h"
#include "ledger/ledger.h"
#include "projections/tickets.h"

namespace ledger::bench {
namespace {

constexpr int64_t kMicrosPerHour = 3600LL * 1'000'000;
constexpr uint64_t kStoreTickets = 200'000;

proto::Event SampleEvent(uint64_t n) {
  Result<ingest::Command> command = ingest::ParseJsonSubmission(CreateSubmissionJson(std::to_string(n), n));
  if (!command) std::abort();
  proto::Event event;
  event.set_seq(n + 1);
  event.set_recorded_at_micros(NowMicros());
  event.set_submission_id(command->submission_id);
  event.set_actor(command->actor);
  event.set_ticket("INC-" + std::to_string(n + 1));
  event.set_type(proto::INCIDENT_OPENED);
  event.set_version(1);
  event.set_request_digest(command->Digest());
  *event.mutable_incident() = command->payload;
  return event;
}

std::string Encode(const proto::Event& event) {
  std::string record;
  google::protobuf::io::StringOutputStream stream(&record);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  event.SerializeToCodedStream(&coded);
  return record;
}

void BM_ParseValidateSubmission(benchmark::State& state) {
  const std::string body = CreateSubmissionJson("micro-1", 1);
  for (auto _ : state) {
    Result<ingest::Command> command = ingest::ParseJsonSubmission(body);
    benchmark::DoNotOptimize(command);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseValidateSubmission);

void BM_CommandDigest(benchmark::State& state) {
  Result<ingest::Command> command = ingest::ParseJsonSubmission(CreateSubmissionJson("micro-1", 1));
  for (auto _ : state) benchmark::DoNotOptimize(command->Digest());
}
BENCHMARK(BM_CommandDigest);

void BM_EventEncodeHash(benchmark::State& state) {
  const proto::Event event = SampleEvent(1);
  const Sha256Digest previous{};
  for (auto _ : state) {
    const std::string record = Encode(event);
    benchmark::DoNotOptimize(Sha256(AsBytes(previous), record));
  }
}
BENCHMARK(BM_EventEncodeHash);

// The ledger's per-event read check (hash + parse), which a rebuild pays on
// top of a raw scan's parse.
void BM_DecodeStoredEvent(benchmark::State& state) {
  const proto::Event event = SampleEvent(1);
  const std::string record = Encode(event);
  const Sha256Digest previous{};
  const Sha256Digest hash = Sha256(AsBytes(previous), record);
  const std::string value = std::string(AsBytes(previous)) + std::string(AsBytes(hash)) + record;
  for (auto _ : state) benchmark::DoNotOptimize(DecodeStoredEvent(event.seq(), value));
}
BENCHMARK(BM_DecodeStoredEvent);

void BM_ParseRecordOnly(benchmark::State& state) {
  const std::string record = Encode(SampleEvent(1));
  proto::Event event;
  for (auto _ : state) benchmark::DoNotOptimize(event.ParseFromString(record));
}
BENCHMARK(BM_ParseRecordOnly);

// A store like the generated ledger's: tickets spread over ten years, in
// time order, about 26 minutes apart.
projections::TicketStore MakeStore(uint64_t tickets, int64_t first_start) {
  projections::TicketStore store;
  for (uint64_t n = 0; n < tickets; ++n) {
    proto::Event event = SampleEvent(n);
    proto::Timestamp* started = event.mutable_incident()->mutable_started_at();
    started->set_unix_micros(first_start + static_cast<int64_t>(n) * 26 * 60'000'000LL);
    store.Apply(event);
    proto::Event close;
    close.set_seq(n + 1);
    close.set_ticket(event.ticket());
    close.set_type(proto::INCIDENT_CLOSED);
    close.set_version(2);
    close.mutable_incident()->mutable_ended_at()->set_unix_micros(started->unix_micros() + 3 * kMicrosPerHour);
    store.Apply(close);
  }
  return store;
}

void BM_ProjectionApplyUpdate(benchmark::State& state) {
  projections::TicketStore store = MakeStore(static_cast<uint64_t>(state.range(0)), 0);
  proto::Event update;
  update.set_type(proto::INCIDENT_UPDATED);
  update.mutable_incident()->set_note(NoteFor(3));
  uint64_t n = 0;
  for (auto _ : state) {
    update.set_ticket("INC-" + std::to_string(n++ % static_cast<uint64_t>(state.range(0)) + 1));
    benchmark::DoNotOptimize(store.Apply(update));
  }
}
BENCHMARK(BM_ProjectionApplyUpdate)->Arg(kStoreTickets);

// GET /api/v1/incidents for one week, without the HTTP: the timeline query
// over the store (arg: weeks back from the newest ticket) and the JSON of
// its page.
void BM_TimelineQueryWeek(benchmark::State& state) {
  static const projections::TicketStore store = MakeStore(kStoreTickets, 0);
  const int64_t newest = static_cast<int64_t>(kStoreTickets) * 26 * 60'000'000LL;
  const int64_t week = 7 * 24 * kMicrosPerHour;
  projections::TimelineQuery query;
  query.to_micros = newest - state.range(0) * week;
  query.from_micros = query.to_micros - week;
  size_t found = 0;
  for (auto _ : state) {
    const projections::TimelinePage page = store.Query(query);
    found = page.incidents.size();
    benchmark::DoNotOptimize(page);
  }
  state.counters["incidents"] = static_cast<double>(found);
}
BENCHMARK(BM_TimelineQueryWeek)->Arg(0)->Arg(260)->Arg(500);

void BM_RenderIncidentPage(benchmark::State& state) {
  static const projections::TicketStore store = MakeStore(1000, 0);
  std::vector<const projections::TicketState*> page;
  for (const auto& [number, ticket] : store.all()) {
    if (page.size() == 100) break;
    page.push_back(&ticket);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    JsonWriter json;
    json.BeginObject().Key("incidents").BeginArray();
    for (const projections::TicketState* ticket : page) http::WriteTicket(&json, *ticket);
    json.EndArray().EndObject();
    const std::string text = json.Take();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderIncidentPage);

}  // namespace
}  // namespace ledger::bench

BENCHMARK_MAIN();
