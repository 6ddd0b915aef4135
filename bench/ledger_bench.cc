// ledger_bench: the in-process benchmarks and the data they need.
//
//   ledger_bench append   --data DIR --writers N --seconds S
//       Ledger::Append from N threads, sync writes (N=1: one sync per event;
//       more: the writer thread's group commit).
//   ledger_bench rocksdb  --data DIR --writers N --seconds S
//       The peer: a bare RocksDB WriteBatch (event, ticket index, head) with
//       sync=true from N threads; RocksDB groups concurrent writers itself.
//   ledger_bench generate --data DIR --incidents M [--seed K]
//       Writes a realistic ledger of 5*M events through CommandProcessor, with
//       sync_writes=false: M incidents spread over the last 10 years, each
//       opened, updated, closed (some reopened); the last few stay open.
//   ledger_bench rebuild  --data DIR --what tickets|all
//       Folds the log into a ticket store (`tickets`), or into every
//       projection as a start without a checkpoint and `incident-ledger
//       rebuild` do (`all`: tickets and notifications in one pass, each
//       event's hash checked), and reports events per second and the
//       resident memory the tickets take.
//   ledger_bench open     --data DIR
//       The phases of a start with checkpoints (ledger, checkpoint
//       database, read model, processors), each timed, then the first
//       one-week query, the first ticket, and the background fill.
//   ledger_bench rawscan  --data DIR
//       The peer: a bare RocksDB scan of the event keys with a protobuf parse
//       of each record (no hash check, no fold).
//   ledger_bench proofs   --data DIR [--samples N] [--seed K]
//       RFC 9162 proofs from the stored Merkle tree, one at a time: N
//       inclusion proofs of random events in the tree of every event, then N
//       consistency proofs from a random earlier size to it, each checked
//       (merkle.h) outside the timing; also the time Ledger::Open took.
//   ledger_bench export   --data DIR --out DIR2 [--windows N] [--seed K]
//       Writes incidents.csv and periods.csv (the current ticket states, for
//       PostgreSQL's COPY) and windows.txt (N one-week windows, "FROM TO").
//
// Every measurement prints one JSON line (see bench_common.h).

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "app/projection_commands.h"
#include "bench/bench_common.h"
#include "common/memory.h"
#include "common/encoding.h"
#include "common/time.h"
#include "ingest/processor.h"
#include "ingest/subscriptions.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "projections/notifications.h"
#include "projections/read_model.h"
#include "projections/ticket_name.h"

namespace ledger::bench {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr int64_t kMicrosPerHour = 60 * kMicrosPerMinute;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;
constexpr int64_t kHistoryMicros = 3652 * kMicrosPerDay;  // ten years
constexpr size_t kEventsPerIncident = 5;
constexpr size_t kOngoingIncidents = 20;
constexpr size_t kInFlightMax = 4096;
constexpr size_t kWritersMax = 256;

using Options = std::map<std::string, std::string>;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "ledger_bench: %s\n", message.c_str());
  std::exit(2);
}

std::string Need(const Options& options, const std::string& name) {
  const auto found = options.find(name);
  if (found == options.end()) Die("missing " + name);
  return found->second;
}

uint64_t NumberOr(const Options& options, const std::string& name, uint64_t fallback) {
  const auto found = options.find(name);
  return found == options.end() ? fallback : std::stoull(found->second);
}

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  uint64_t resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

proto::Timestamp Stamp(int64_t unix_micros, int32_t offset_minutes) {
  proto::Timestamp timestamp;
  timestamp.set_unix_micros(unix_micros);
  timestamp.set_offset_minutes(offset_minutes);
  return timestamp;
}

// A create event as the processor would decide it, for the raw append.
proto::Event CreateEvent(uint64_t n) {
  proto::Event event;
  event.set_type(proto::INCIDENT_OPENED);
  event.set_actor("bench");
  event.set_submission_id("append-" + std::to_string(n));
  event.set_version(1);
  event.set_request_digest(std::string(AsBytes(Sha256(std::to_string(n)))));
  proto::IncidentPayload* payload = event.mutable_incident();
  payload->set_title(TitleFor(n));
  payload->set_description(DescriptionFor(n));
  payload->mutable_systems()->add_names(SystemName(n));
  payload->mutable_systems()->add_names(SystemName(n + 11));
  payload->set_engineer(EngineerName(n));
  payload->set_severity(proto::MAJOR);
  *payload->mutable_started_at() = Stamp(NowMicros(), 60);
  payload->set_link("https://helpdesk.example.org/t/" + std::to_string(n));
  return event;
}

// Runs `operation` from `writers` threads for `seconds`, timing each call.
LoadResult RunWriters(size_t writers, double seconds, const std::function<bool(uint64_t)>& operation) {
  std::atomic<uint64_t> counter{0};
  std::atomic<bool> stop{false};
  std::mutex merge_mutex;
  LoadResult total;
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      LoadResult mine;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t n = counter.fetch_add(1);
        const Clock::time_point before = Clock::now();
        const bool ok = operation(n);
        mine.latencies_seconds.push_back(SecondsBetween(before, Clock::now()));
        if (ok) {
          mine.operations += 1;
        } else {
          mine.errors += 1;
        }
      }
      std::lock_guard lock(merge_mutex);
      total.operations += mine.operations;
      total.errors += mine.errors;
      total.latencies_seconds.insert(total.latencies_seconds.end(), mine.latencies_seconds.begin(),
                                     mine.latencies_seconds.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  total.seconds = SecondsBetween(start, Clock::now());
  return total;
}

int Append(const Options& options) {
  const size_t writers = std::clamp<size_t>(NumberOr(options, "--writers", 1), 1, kWritersMax);
  const double seconds = std::stod(Need(options, "--seconds"));
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = Need(options, "--data")});
  if (!opened) Die(opened.error().message);
  Ledger& log = **opened;
  LoadResult result = RunWriters(writers, seconds, [&log](uint64_t n) {
    proto::Event event = CreateEvent(n);
    Result<Appended> appended = log.Append([&event](AppendContext& context) -> Result<Decision> {
      event.set_ticket(projections::TicketName::Format(context.AllocateTicketNumber()));
      return Decision{.event = std::move(event), .repeat_of_seq = {}};
    });
    return appended.has_value();
  });
  const LedgerStats stats = log.stats();
  const double events_per_batch =
      stats.batches_committed > 0 ? static_cast<double>(stats.events_appended) / static_cast<double>(stats.batches_committed) : 0;
  PrintResult("append", "ledger w=" + std::to_string(writers), std::move(result),
              "\"writers\":" + std::to_string(writers) + ",\"events_per_batch\":" + std::to_string(events_per_batch));
  return 0;
}

int BareRocksDb(const Options& options) {
  const size_t writers = std::clamp<size_t>(NumberOr(options, "--writers", 1), 1, kWritersMax);
  const double seconds = std::stod(Need(options, "--seconds"));
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.paranoid_checks = true;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(db_options, Need(options, "--data"), &raw);
  if (!opened.ok()) Die(opened.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  // The same bytes the ledger writes per event: hashes, record, ticket index
  // and head; computed once, so only RocksDB's cost is measured.
  std::string record;
  if (!CreateEvent(1).SerializeToString(&record)) Die("cannot encode the sample event");
  const std::string value = std::string(64, 'h') + record;
  LoadResult result = RunWriters(writers, seconds, [&db, &value](uint64_t n) {
    rocksdb::WriteBatch batch;
    batch.Put(keys::Event(n + 1), value);
    batch.Put(keys::TicketEvent("INC-" + std::to_string(n + 1), n + 1), "");
    batch.Put(keys::kHeadKey, value.substr(0, 40));
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    return db->Write(write_options, &batch).ok();
  });
  PrintResult("append", "rocksdb w=" + std::to_string(writers), std::move(result),
              "\"writers\":" + std::to_string(writers));
  return 0;
}

// One planned submission of the generated history.
struct Planned {
  int64_t at_micros;  // when it "happened" (the order of submission)
  uint32_t incident;
  uint8_t step;
};

// Fake times of one incident's events: [open, ..., close] (see Generate).
struct IncidentPlan {
  int64_t start;
  int64_t first_end;
  int64_t reopen_start;  // 0: no reopen
  int64_t final_end;
  bool ongoing;
};

IncidentPlan PlanIncident(uint32_t incident, uint32_t incidents, int64_t history_start, Random* random) {
  const int64_t spacing = kHistoryMicros / incidents;
  IncidentPlan plan{};
  plan.start = history_start + static_cast<int64_t>(incident) * spacing +
               static_cast<int64_t>(random->Below(static_cast<uint64_t>(std::max<int64_t>(spacing / 2, 1))));
  // Outage lengths: exponential, mean 3 h, between 5 minutes and 3 days.
  const auto length = [random] {
    const double hours = -3.0 * std::log(1.0 - random->Unit());
    return std::clamp<int64_t>(static_cast<int64_t>(hours * static_cast<double>(kMicrosPerHour)), 5 * kMicrosPerMinute,
                               3 * kMicrosPerDay);
  };
  plan.first_end = plan.start + length();
  plan.ongoing = incident + kOngoingIncidents >= incidents;
  if (incident % 10 == 7 && !plan.ongoing) {
    plan.reopen_start = plan.first_end + length() / 4 + kMicrosPerMinute;
    plan.final_end = plan.reopen_start + length();
  } else {
    plan.final_end = plan.first_end;
  }
  return plan;
}

// The command of step `step` (0..4) of an incident. Plain incidents: open,
// update, update, update, close. Every tenth: open, update, close, reopen,
// close. The last few: open and four updates (still ongoing).
ingest::Command StepCommand(uint32_t incident, uint8_t step, const IncidentPlan& plan) {
  const uint64_t n = incident;
  ingest::Command command;
  command.actor = EngineerName(n + step);
  command.submission_id = "gen-" + std::to_string(incident) + "-" + std::to_string(step);
  command.ticket = "INC-" + std::to_string(incident + 1);
  proto::IncidentPayload& payload = command.payload;
  const int32_t offset = static_cast<int32_t>((n % 3) * 60);  // UTC, +01:00, +02:00
  const bool reopens = plan.reopen_start != 0;
  if (step == 0) {
    command.action = ingest::Action::kCreate;
    command.ticket.clear();
    payload.set_title(TitleFor(n));
    payload.set_description(DescriptionFor(n));
    const size_t systems = 1 + n % 3;
    for (size_t i = 0; i < systems; ++i) payload.mutable_systems()->add_names(SystemName(n + i * 13));
    payload.set_engineer(EngineerName(n));
    payload.set_severity(n % 5 == 0 ? proto::CRITICAL : (n % 2 == 0 ? proto::MAJOR : proto::MINOR));
    *payload.mutable_started_at() = Stamp(plan.start, offset);
    payload.set_link("https://helpdesk.example.org/t/" + std::to_string(100000 + n));
    return command;
  }
  const bool close_step = !plan.ongoing && (step == 4 || (reopens && step == 2));
  if (close_step) {
    command.action = ingest::Action::kClose;
    *payload.mutable_ended_at() = Stamp(step == 4 ? plan.final_end : plan.first_end, offset);
    if (n % 4 == 0) payload.set_note("Resolved: " + NoteFor(n + step));
    return command;
  }
  if (reopens && step == 3) {
    command.action = ingest::Action::kReopen;
    *payload.mutable_started_at() = Stamp(plan.reopen_start, offset);
    payload.set_note("Recurred: " + NoteFor(n + step));
    return command;
  }
  command.action = ingest::Action::kUpdate;
  payload.set_note(NoteFor(n + step));
  if (step == 2 && n % 3 == 0) payload.set_severity(proto::CRITICAL);
  if (step == 3 && n % 4 == 1) {
    payload.mutable_systems()->add_names(SystemName(n));
    payload.mutable_systems()->add_names(SystemName(n + 5));
  }
  return command;
}

int64_t StepTime(uint8_t step, const IncidentPlan& plan) {
  if (plan.reopen_start != 0) {
    switch (step) {
      case 0: return plan.start;
      case 1: return plan.start + (plan.first_end - plan.start) / 2;
      case 2: return plan.first_end;
      case 3: return plan.reopen_start;
      default: return plan.final_end;
    }
  }
  return plan.start + (plan.first_end - plan.start) * step / 4;
}

int Generate(const Options& options) {
  const uint32_t incidents = static_cast<uint32_t>(std::stoul(Need(options, "--incidents")));
  Random random(NumberOr(options, "--seed", 42));
  // The history ends a day ago; the ongoing incidents started in it.
  const int64_t history_start = NowMicros() - kHistoryMicros - kMicrosPerDay;
  std::vector<IncidentPlan> plans(incidents);
  std::vector<Planned> planned;
  planned.reserve(static_cast<size_t>(incidents) * kEventsPerIncident);
  for (uint32_t i = 0; i < incidents; ++i) {
    plans[i] = PlanIncident(i, incidents, history_start, &random);
    if (plans[i].ongoing) {
      // Updates of ongoing incidents spread over the time since they opened.
      for (uint8_t step = 0; step < kEventsPerIncident; ++step) {
        planned.push_back(Planned{plans[i].start + step * kMicrosPerHour, i, step});
      }
      continue;
    }
    for (uint8_t step = 0; step < kEventsPerIncident; ++step) planned.push_back(Planned{StepTime(step, plans[i]), i, step});
  }
  std::stable_sort(planned.begin(), planned.end(), [](const Planned& a, const Planned& b) {
    return a.at_micros != b.at_micros ? a.at_micros < b.at_micros : a.incident < b.incident;
  });
  // Creates go out in incident order (starts increase with the index), so
  // incident i gets ticket INC-(i+1).
  Result<std::unique_ptr<Ledger>> opened =
      Ledger::Open(LedgerOptions{.path = Need(options, "--data"), .sync_writes = false});
  if (!opened) Die(opened.error().message);
  if ((*opened)->head().seq != 0) Die("--data must be an empty ledger");
  Result<std::unique_ptr<ingest::CommandProcessor>> processor = ingest::CommandProcessor::Create(opened->get());
  if (!processor) Die(processor.error().message);

  std::counting_semaphore<kInFlightMax> in_flight(kInFlightMax);
  std::atomic<uint64_t> errors{0};
  std::mutex error_mutex;
  std::string first_error;
  const Clock::time_point start = Clock::now();
  for (const Planned& item : planned) {
    in_flight.acquire();
    (*processor)->SubmitAsync(StepCommand(item.incident, item.step, plans[item.incident]),
                              [&](Result<ingest::SubmissionResult> result) {
                                if (!result) {
                                  if (errors.fetch_add(1) == 0) {
                                    std::lock_guard lock(error_mutex);
                                    first_error = result.error().message;
                                  }
                                }
                                in_flight.release();
                              });
  }
  for (size_t i = 0; i < kInFlightMax; ++i) in_flight.acquire();
  const double seconds = SecondsBetween(start, Clock::now());
  if (errors.load() > 0) {
    std::fprintf(stderr, "ledger_bench: %llu submissions refused; first: %s\n",
                 static_cast<unsigned long long>(errors.load()), first_error.c_str());
  }
  LoadResult result{.operations = (*opened)->head().seq, .errors = errors.load(), .seconds = seconds, .latencies_seconds = {}};
  PrintResult("generate", "ledger via CommandProcessor, no sync", std::move(result),
              "\"incidents\":" + std::to_string(incidents));
  return errors.load() == 0 ? 0 : 1;
}

int Rebuild(const Options& options) {
  const std::string what = options.contains("--what") ? options.at("--what") : "tickets";
  if (what != "tickets" && what != "all") Die("--what must be tickets or all");
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = Need(options, "--data"), .read_only = true});
  if (!opened) Die(opened.error().message);
  const double resident_before = ResidentBytes();
  // Both live until the end, so that freeing them is not timed.
  projections::ReadModel read_model;
  projections::TicketStore store;
  const Clock::time_point start = Clock::now();
  // As `incident-ledger rebuild` readies its heap (app/projection_commands.h).
  const HeapReservation reserved((*opened)->head().seq * app::kRebuildHeapBytesPerEvent);
  size_t tickets = 0;
  if (what == "all") {
    // What a start without a checkpoint and `incident-ledger rebuild` fold:
    // tickets and the notification side, in one pass, hashes checked.
    if (Status rebuilt = read_model.Rebuild(**opened); !rebuilt) Die(rebuilt.error().message);
    read_model.Read([&tickets](const projections::TicketStore& built, uint64_t) { tickets = built.size(); });
  } else {
    Status folded = (*opened)->Scan(0, [&store](const ScannedEvent& scanned) -> Result<Flow> {
      (void)store.Take(scanned.event);  // the changed ticket is not needed
      return Flow::kContinue;
    });
    if (!folded) Die(folded.error().message);
    tickets = store.size();
  }
  const double seconds = SecondsBetween(start, Clock::now());
  const double resident_after = ResidentBytes();
  const uint64_t events = (*opened)->head().seq;
  char extra[256];
  std::snprintf(extra, sizeof extra, "\"events\":%llu,\"tickets\":%zu,\"tickets_seconds\":%.4f,\"rss_bytes_per_100k\":%.0f",
                static_cast<unsigned long long>(events), tickets, seconds,
                tickets > 0 ? (resident_after - resident_before) / static_cast<double>(tickets) * 100000.0 : 0.0);
  PrintResult("rebuild", what == "all" ? "ledger all projections" : "ledger tickets",
              LoadResult{.operations = events, .errors = 0, .seconds = seconds, .latencies_seconds = {}}, extra);
  return 0;
}

// The phases of a start with checkpoints, as `serve` goes through them
// (without the socket), each timed; then the first answers a dashboard and
// a ticket page would need, and the background fill.
int OpenPhases(const Options& options) {
  const std::string data = Need(options, "--data");
  const Clock::time_point start = Clock::now();
  std::vector<std::pair<std::string, double>> phases;
  Clock::time_point mark = start;
  const auto lap = [&](const std::string& name) {
    const Clock::time_point now = Clock::now();
    phases.emplace_back(name, SecondsBetween(mark, now));
    mark = now;
  };
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data});
  if (!opened) Die(opened.error().message);
  lap("ledger_open");
  Result<std::unique_ptr<projections::ProjectionCheckpoints>> checkpoints =
      projections::ProjectionCheckpoints::Open((std::filesystem::path(data) / "projections").string());
  if (!checkpoints) Die(checkpoints.error().message);
  lap("checkpoints_open");
  projections::ReadModel read_model;
  Result<projections::OpenReport> report = read_model.Open(**opened, checkpoints->get());
  if (!report) Die(report.error().message);
  if (report->rebuilt) Die("no usable checkpoint: " + report->reason);
  lap("read_model_open");
  Result<std::unique_ptr<ingest::CommandProcessor>> processor = ingest::CommandProcessor::Create(opened->get(), &read_model);
  if (!processor) Die(processor.error().message);
  Result<std::unique_ptr<ingest::SubscriptionProcessor>> subscriptions =
      ingest::SubscriptionProcessor::Create(opened->get(), &read_model);
  if (!subscriptions) Die(subscriptions.error().message);
  lap("processors");
  const double to_serving = SecondsBetween(start, Clock::now());
  // The dashboard's default question: the last week.
  size_t listed = 0;
  read_model.Read([&](const projections::TicketStore& store, uint64_t) {
    projections::TimelineQuery query;
    query.to_micros = NowMicros();
    query.from_micros = query.to_micros - 7 * kMicrosPerDay;
    listed = store.Query(query).incidents.size();
  });
  lap("first_week_query");
  read_model.Read([&](const projections::TicketStore& store, uint64_t) {
    if (store.FindNumber(store.size() / 2) == nullptr) Die("a ticket is missing");
  });
  lap("first_ticket");
  read_model.FinishFill();
  lap("background_fill_done");
  std::string extra = "\"to_serving_seconds\":" + std::to_string(to_serving) + ",\"tickets\":" +
                      std::to_string(report->tickets) + ",\"week_listed\":" + std::to_string(listed);
  for (const auto& [name, seconds] : phases) extra += ",\"" + name + "_seconds\":" + std::to_string(seconds);
  PrintResult("open", "ledger open phases, checkpoints",
              LoadResult{.operations = 1, .errors = 0, .seconds = to_serving, .latencies_seconds = {}}, extra);
  return 0;
}

int RawScan(const Options& options) {
  rocksdb::Options db_options;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::OpenForReadOnly(db_options, Need(options, "--data"), &raw);
  if (!opened.ok()) Die(opened.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  const Clock::time_point start = Clock::now();
  const std::string lower = keys::Event(1);
  const std::string upper(1, keys::kEventPrefix + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> iterator(db->NewIterator(read_options));
  uint64_t events = 0;
  uint64_t errors = 0;
  uint64_t checksum = 0;
  proto::Event event;
  for (iterator->Seek(lower); iterator->Valid(); iterator->Next()) {
    const rocksdb::Slice value = iterator->value();
    if (value.size() < keys::kEventValueHeaderBytes ||
        !event.ParseFromArray(value.data() + keys::kEventValueHeaderBytes,
                              static_cast<int>(value.size() - keys::kEventValueHeaderBytes))) {
      ++errors;
      continue;
    }
    checksum += event.seq();  // keeps the parse from being optimised away
    ++events;
  }
  const double seconds = SecondsBetween(start, Clock::now());
  PrintResult("rebuild", "raw RocksDB scan + parse",
              LoadResult{.operations = events, .errors = errors, .seconds = seconds, .latencies_seconds = {}},
              "\"events\":" + std::to_string(events) + ",\"checksum\":" + std::to_string(checksum));
  return 0;
}

std::string CsvField(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

int Export(const Options& options) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = Need(options, "--data"), .read_only = true});
  if (!opened) Die(opened.error().message);
  projections::ReadModel read_model;
  if (Status rebuilt = read_model.Rebuild(**opened); !rebuilt) Die(rebuilt.error().message);
  const std::filesystem::path out = Need(options, "--out");
  std::filesystem::create_directories(out);
  std::ofstream incidents(out / "incidents.csv");
  std::ofstream periods(out / "periods.csv");
  int64_t earliest = INT64_MAX;
  int64_t latest = INT64_MIN;
  read_model.Read([&](const projections::TicketStore& store, uint64_t) {
    for (const auto& [number, state] : store.all()) {
      std::string systems = "{";
      for (size_t i = 0; i < state.systems.size(); ++i) systems += (i ? "," : "") + state.systems[i];
      systems += "}";
      incidents << number << ',' << CsvField(state.ticket) << ',' << projections::StatusName(state.status) << ','
                << CsvField(state.title) << ',' << CsvField(state.description) << ',' << CsvField(systems) << ','
                << CsvField(state.engineer) << ',' << projections::SeverityName(state.severity) << ','
                << CsvField(state.link) << ',' << state.version << '\n';
      for (const projections::Period& period : state.periods) {
        earliest = std::min(earliest, period.start.unix_micros);
        latest = std::max(latest, period.start.unix_micros);
        // PostgreSQL range: [start, end), an open end for an ongoing outage.
        periods << number << ",\"[" << FormatRfc3339Utc(period.start.unix_micros) << ','
                << (period.end ? FormatRfc3339Utc(period.end->unix_micros) : std::string()) << ")\"\n";
      }
    }
  });
  // One-week windows at random over the history (the same list drives both
  // the service and PostgreSQL).
  Random random(NumberOr(options, "--seed", 7));
  std::ofstream windows(out / "windows.txt");
  const uint64_t count = NumberOr(options, "--windows", 64);
  const int64_t week = 7 * kMicrosPerDay;
  for (uint64_t i = 0; i < count; ++i) {
    const int64_t from = earliest + static_cast<int64_t>(random.Below(static_cast<uint64_t>(latest - earliest - week)));
    windows << FormatRfc3339Utc(from - from % kMicrosPerSecond) << ' '
            << FormatRfc3339Utc(from - from % kMicrosPerSecond + week) << '\n';
  }
  return 0;
}

double ThreadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

int Proofs(const Options& options) {
  const Clock::time_point opening = Clock::now();
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = Need(options, "--data"), .read_only = true});
  if (!opened) Die(opened.error().message);
  const double open_seconds = SecondsBetween(opening, Clock::now());
  const Ledger& log = **opened;
  const TreeHead head = log.tree_head();
  if (head.tree_size < 2) Die("the ledger needs at least two events");
  const uint64_t samples = NumberOr(options, "--samples", 20'000);
  Random random(NumberOr(options, "--seed", 11));
  for (const bool consistency : {false, true}) {
    LoadResult result;
    uint64_t path_steps = 0;
    // The thread's own CPU time per proof beside the wall time: on a shared
    // VM the difference is time the thread waited for a core (or for I/O).
    std::vector<double> cpu_seconds;
    for (uint64_t i = 0; i < samples; ++i) {
      const uint64_t seq = 1 + random.Below(head.tree_size);
      const double cpu_before = ThreadCpuSeconds();
      const Clock::time_point before = Clock::now();
      Result<std::vector<Sha256Digest>> path =
          consistency ? log.ConsistencyProof(seq, head.tree_size) : log.InclusionProof(seq, head.tree_size);
      result.latencies_seconds.push_back(SecondsBetween(before, Clock::now()));
      cpu_seconds.push_back(ThreadCpuSeconds() - cpu_before);
      bool valid = path.has_value();
      if (valid && !consistency) {
        Result<StoredEvent> event = log.ReadEvent(seq);
        valid = event && merkle::VerifyInclusion(merkle::LeafHash(event->hash), seq - 1, head.tree_size, *path,
                                                 head.root_hash);
      } else if (valid) {
        Result<Sha256Digest> first_root = log.TreeRoot(seq);
        valid = first_root && merkle::VerifyConsistency(seq, head.tree_size, *first_root, head.root_hash, *path);
      }
      if (!valid) ++result.errors;
      if (path) path_steps += path->size();
      ++result.operations;
    }
    // The checks above are inside the loop but outside each proof's timing;
    // the throughput counts only the proofs.
    double proof_seconds = 0;
    for (const double seconds : result.latencies_seconds) proof_seconds += seconds;
    result.seconds = proof_seconds;
    std::vector<double> wall = result.latencies_seconds;
    const std::string tail = ",\"p999_ms\":" + std::to_string(Quantile(&wall, 0.999) * 1000) +
                             ",\"cpu_p50_ms\":" + std::to_string(Quantile(&cpu_seconds, 0.5) * 1000) +
                             ",\"cpu_p99_ms\":" + std::to_string(Quantile(&cpu_seconds, 0.99) * 1000);
    PrintResult("proofs", consistency ? "consistency proof" : "inclusion proof", std::move(result),
                "\"tree_size\":" + std::to_string(head.tree_size) + tail + ",\"path_hashes_mean\":" +
                    std::to_string(static_cast<double>(path_steps) / static_cast<double>(samples)) +
                    ",\"open_ms\":" + std::to_string(open_seconds * 1000));
  }
  return 0;
}

}  // namespace
}  // namespace ledger::bench

int main(int argc, char** argv) {
  using namespace ledger::bench;
  if (argc < 2) Die("usage: ledger_bench append|rocksdb|generate|rebuild|rawscan|open|proofs|export --data DIR ...");
  const std::string command = argv[1];
  Options options;
  for (int i = 2; i + 1 < argc; i += 2) options[argv[i]] = argv[i + 1];
  if (command == "append") return Append(options);
  if (command == "rocksdb") return BareRocksDb(options);
  if (command == "generate") return Generate(options);
  if (command == "rebuild") return Rebuild(options);
  if (command == "rawscan") return RawScan(options);
  if (command == "open") return OpenPhases(options);
  if (command == "export") return Export(options);
  if (command == "proofs") return Proofs(options);
  Die("unknown command " + command);
}
