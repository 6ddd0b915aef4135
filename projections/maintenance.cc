#include "projections/maintenance.h"

#include <algorithm>

#include "common/encoding.h"
#include "projections/checkpoint.h"
#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

constexpr char kWindowPrefix = 'w';
constexpr std::string_view kVersionKey = "mmaintenance_version";
constexpr size_t kWindowKeyBytes = 9;

Instant FromProto(const proto::Timestamp& timestamp) {
  return Instant{timestamp.unix_micros(), timestamp.offset_minutes()};
}

std::string WindowKey(uint64_t number) {
  std::string key(1, kWindowPrefix);
  AppendBigEndian64(&key, number);
  return key;
}

void WriteOptionalInstant(ByteWriter* writer, const std::optional<Instant>& instant) {
  writer->Byte(instant ? 1 : 0);
  if (instant) WriteInstant(writer, *instant);
}

bool ReadOptionalInstant(ByteReader* reader, std::optional<Instant>* instant) {
  uint8_t given = 0;
  if (!reader->Byte(&given) || given > 1) return false;
  instant->reset();
  if (given == 0) return true;
  Instant read{};
  if (!ReadInstant(reader, &read)) return false;
  *instant = read;
  return true;
}

}  // namespace

const char* MaintenanceStatusName(MaintenanceStatus status) {
  switch (status) {
    case MaintenanceStatus::kScheduled: return "scheduled";
    case MaintenanceStatus::kInProgress: return "in_progress";
    case MaintenanceStatus::kCompleted: return "completed";
    case MaintenanceStatus::kCancelled: return "cancelled";
  }
  return "scheduled";
}

std::optional<MaintenanceStatus> ParseMaintenanceStatus(std::string_view text) {
  for (const MaintenanceStatus status : {MaintenanceStatus::kScheduled, MaintenanceStatus::kInProgress,
                                         MaintenanceStatus::kCompleted, MaintenanceStatus::kCancelled}) {
    if (text == MaintenanceStatusName(status)) return status;
  }
  return std::nullopt;
}

bool IsMaintenanceEvent(proto::EventType type) {
  return type == proto::MAINTENANCE_SCHEDULED || type == proto::MAINTENANCE_UPDATED ||
         type == proto::MAINTENANCE_STARTED || type == proto::MAINTENANCE_ENDED ||
         type == proto::MAINTENANCE_CANCELLED;
}

void ApplyMaintenanceEvent(MaintenanceWindow* window, const proto::Event& event) {
  if (!IsMaintenanceEvent(event.type()) || !event.has_maintenance()) return;
  const proto::MaintenancePayload& payload = event.maintenance();
  if (event.type() == proto::MAINTENANCE_SCHEDULED) {
    *window = MaintenanceWindow{};
    window->window = event.ticket();
    window->number = WindowName::Parse(event.ticket()).value_or(WindowName{}).number;
    window->scheduled_seq = event.seq();
    window->scheduled_at_micros = event.recorded_at_micros();
  }
  if (payload.has_title()) window->title = payload.title();
  if (payload.has_description()) window->description = payload.description();
  if (payload.has_link()) window->link = payload.link();
  if (payload.has_systems()) window->systems.assign(payload.systems().names().begin(), payload.systems().names().end());
  if (payload.has_starts_at()) window->starts_at = FromProto(payload.starts_at());
  if (payload.has_ends_at()) window->ends_at = FromProto(payload.ends_at());
  // The actual times: carried by STARTED and ENDED, corrected by UPDATED
  // (the processor allows a correction only of a time the window has).
  if (payload.has_started_at()) window->started_at = FromProto(payload.started_at());
  if (payload.has_ended_at()) window->ended_at = FromProto(payload.ended_at());
  switch (event.type()) {
    case proto::MAINTENANCE_STARTED: window->status = MaintenanceStatus::kInProgress; break;
    case proto::MAINTENANCE_ENDED: window->status = MaintenanceStatus::kCompleted; break;
    case proto::MAINTENANCE_CANCELLED: window->status = MaintenanceStatus::kCancelled; break;
    default: break;
  }
  window->version = event.version();
  window->last_seq = event.seq();
  window->updated_at_micros = event.recorded_at_micros();
}

std::optional<WindowRun> RunOf(const MaintenanceWindow& window, int64_t now_micros) {
  if (!window.started_at) return std::nullopt;
  const int64_t start = window.started_at->unix_micros;
  if (!window.ended_at) {
    if (start > now_micros) return std::nullopt;
    return WindowRun{.start_micros = start, .end_micros = now_micros, .ongoing = true};
  }
  // An end before the start (which the processor refuses) reads as a run of
  // no length rather than a negative one.
  return WindowRun{.start_micros = start, .end_micros = std::max(start, window.ended_at->unix_micros), .ongoing = false};
}

// ---------------------------------------------------------------- the store

std::optional<uint64_t> MaintenanceStore::Apply(const proto::Event& event) {
  if (!IsMaintenanceEvent(event.type()) || !event.has_maintenance()) return std::nullopt;
  const std::optional<WindowName> name = WindowName::Parse(event.ticket());
  if (!name) return std::nullopt;
  auto found = windows_.find(name->number);
  if (found == windows_.end()) {
    if (event.type() != proto::MAINTENANCE_SCHEDULED) return std::nullopt;
    found = windows_.emplace(name->number, MaintenanceWindow{}).first;
  } else {
    Unindex(found->second);
  }
  ApplyMaintenanceEvent(&found->second, event);
  Index(found->second);
  return name->number;
}

void MaintenanceStore::Put(MaintenanceWindow window) {
  const uint64_t number = window.number;
  if (const auto found = windows_.find(number); found != windows_.end()) Unindex(found->second);
  MaintenanceWindow& kept = windows_[number];
  kept = std::move(window);
  Index(kept);
}

void MaintenanceStore::Clear() {
  windows_.clear();
  run_starts_.clear();
  running_.clear();
  longest_run_micros_ = 0;
}

const MaintenanceWindow* MaintenanceStore::FindNumber(uint64_t number) const {
  const auto found = windows_.find(number);
  return found == windows_.end() ? nullptr : &found->second;
}

const MaintenanceWindow* MaintenanceStore::Find(std::string_view window) const {
  const std::optional<WindowName> name = WindowName::Parse(window);
  return name ? FindNumber(name->number) : nullptr;
}

void MaintenanceStore::Index(const MaintenanceWindow& window) {
  if (!window.started_at) return;
  const int64_t start = window.started_at->unix_micros;
  run_starts_.emplace(start, window.number);
  if (!window.ended_at) {
    running_.insert(window.number);
  } else {
    longest_run_micros_ = std::max(longest_run_micros_, window.ended_at->unix_micros - start);
  }
}

void MaintenanceStore::Unindex(const MaintenanceWindow& window) {
  if (!window.started_at) return;
  run_starts_.erase({window.started_at->unix_micros, window.number});
  running_.erase(window.number);
}

std::vector<const MaintenanceWindow*> MaintenanceStore::RunOverlapping(int64_t from_micros, int64_t to_micros) const {
  // A finished run overlapping [from, to) starts before `to` and at most the
  // longest run before `from`; a run in progress is in running_.
  const int64_t earliest =
      from_micros < INT64_MIN + longest_run_micros_ ? INT64_MIN : from_micros - longest_run_micros_;
  std::vector<uint64_t> numbers(running_.begin(), running_.end());
  for (auto it = run_starts_.lower_bound({earliest, 0}); it != run_starts_.end() && it->first < to_micros; ++it) {
    numbers.push_back(it->second);
  }
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  std::vector<const MaintenanceWindow*> found;
  found.reserve(numbers.size());
  for (const uint64_t number : numbers) {
    const MaintenanceWindow* window = FindNumber(number);
    if (window == nullptr || !window->started_at || window->started_at->unix_micros >= to_micros) continue;
    if (window->ended_at && window->ended_at->unix_micros < from_micros) continue;
    found.push_back(window);
  }
  return found;
}

// ---------------------------------------------------------------- the saved form

std::string EncodeWindow(const MaintenanceWindow& window) {
  std::string value;
  ByteWriter writer(&value);
  writer.String(window.window);
  writer.Byte(static_cast<uint8_t>(window.status));
  writer.String(window.title);
  writer.String(window.description);
  writer.String(window.link);
  writer.Varint(window.systems.size());
  for (const std::string& system : window.systems) writer.String(system);
  WriteInstant(&writer, window.starts_at);
  WriteInstant(&writer, window.ends_at);
  WriteOptionalInstant(&writer, window.started_at);
  WriteOptionalInstant(&writer, window.ended_at);
  writer.Varint(window.version);
  writer.Varint(window.scheduled_seq);
  writer.Varint(window.last_seq);
  writer.Signed(window.scheduled_at_micros);
  writer.Signed(window.updated_at_micros);
  return value;
}

bool DecodeWindow(std::string_view bytes, MaintenanceWindow* window) {
  ByteReader reader(bytes);
  uint8_t status = 0;
  uint64_t systems = 0;
  if (!reader.String(&window->window) || !reader.Byte(&status) ||
      status > static_cast<uint8_t>(MaintenanceStatus::kCancelled) || !reader.String(&window->title) ||
      !reader.String(&window->description) || !reader.String(&window->link) || !reader.Varint(&systems) ||
      systems > kCodecSystemsMax || systems > reader.remaining()) {
    return false;
  }
  window->status = static_cast<MaintenanceStatus>(status);
  window->systems.resize(systems);
  for (std::string& system : window->systems) {
    if (!reader.String(&system)) return false;
  }
  const std::optional<WindowName> name = WindowName::Parse(window->window);
  if (!name || !ReadInstant(&reader, &window->starts_at) || !ReadInstant(&reader, &window->ends_at) ||
      !ReadOptionalInstant(&reader, &window->started_at) || !ReadOptionalInstant(&reader, &window->ended_at) ||
      !reader.Varint32(&window->version) || !reader.Varint(&window->scheduled_seq) ||
      !reader.Varint(&window->last_seq) || !ReadMicros(&reader, &window->scheduled_at_micros) ||
      !ReadMicros(&reader, &window->updated_at_micros)) {
    return false;
  }
  window->number = name->number;
  return reader.done();
}

// ---------------------------------------------------------------- the projection

CheckpointKeys MaintenanceProjection::checkpoint_keys() const {
  static constexpr char kPrefix[] = {kWindowPrefix};
  return CheckpointKeys{.version_key = kVersionKey, .prefixes = {std::string_view(kPrefix, 1)}};
}

void MaintenanceProjection::Apply(const proto::Event& event, const Sha256Digest& /*hash*/) {
  const std::optional<uint64_t> changed = store_.Apply(event);
  if (changed && tracking_) changed_.insert(*changed);
}

void MaintenanceProjection::Clear() {
  store_.Clear();
  changed_.clear();
}

void MaintenanceProjection::TrackChanges(bool on) {
  tracking_ = on;
  if (!on) changed_.clear();
}

void MaintenanceProjection::SaveChanges(CheckpointWriter* batch) {
  for (const uint64_t number : changed_) {
    if (const MaintenanceWindow* window = store_.FindNumber(number)) batch->Put(WindowKey(number), EncodeWindow(*window));
  }
  changed_.clear();
}

void MaintenanceProjection::SaveWhole(CheckpointTables* tables) const {
  if (store_.size() == 0) return;
  CheckpointWriter* table = tables->NewTable();
  for (const auto& [number, window] : store_.all()) table->Put(WindowKey(number), EncodeWindow(window));
}

Result<LoadOutcome> MaintenanceProjection::Load(const CheckpointReader& reader) {
  Clear();
  std::string problem;
  Status scanned = reader.Scan(std::string_view(&kWindowPrefix, 1), [&](std::string_view key, std::string_view value) {
    MaintenanceWindow window;
    if (key.size() != kWindowKeyBytes || !DecodeWindow(value, &window) || WindowKey(window.number) != key) {
      problem = "a saved maintenance window does not decode";
      return false;
    }
    store_.Put(std::move(window));
    return true;
  });
  if (!scanned) return scanned.error();
  if (!problem.empty()) {
    Clear();
    return LoadOutcome::Unusable(problem);
  }
  return LoadOutcome{};
}

}  // namespace ledger::projections
