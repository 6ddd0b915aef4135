#include "projections/checkpoint.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/encoding.h"
#include "projection.pb.h"

namespace ledger::projections {
namespace {

constexpr char kTicketPrefix = 'k';
constexpr std::string_view kVersionKey = "mversion";
constexpr std::string_view kAppliedKey = "mapplied_seq";
constexpr std::string_view kCountKey = "mticket_count";

std::string TicketKey(uint64_t ticket_number) {
  std::string key(1, kTicketPrefix);
  AppendBigEndian64(&key, ticket_number);
  return key;
}

Error IoError(const rocksdb::Status& status, const std::string& what) {
  return MakeError(ErrorCode::kIoError, what + ": " + status.ToString());
}

proto::Timestamp ToTimestamp(const Instant& instant) {
  proto::Timestamp timestamp;
  timestamp.set_unix_micros(instant.unix_micros);
  timestamp.set_offset_minutes(instant.offset_minutes);
  return timestamp;
}

Instant FromTimestamp(const proto::Timestamp& timestamp) {
  return Instant{timestamp.unix_micros(), timestamp.offset_minutes()};
}

std::string EncodeApplied(uint64_t applied_seq, const Sha256Digest& applied_hash) {
  std::string value;
  AppendBigEndian64(&value, applied_seq);
  value.append(AsBytes(applied_hash));
  return value;
}

std::string EncodeCount(uint64_t count) {
  std::string value;
  AppendBigEndian64(&value, count);
  return value;
}

// A saved ticket's times must be ones RFC 3339 text can name, as a ledger
// record's must (ledger.cc): this projection saves no others, and the store
// and the reports rely on it.
bool TimesRepresentable(const proto::TicketSnapshot& snapshot) {
  const auto representable = [](const proto::Timestamp& time) {
    return IsRepresentable(Instant{time.unix_micros(), time.offset_minutes()});
  };
  for (const proto::PeriodSnapshot& period : snapshot.periods()) {
    if (!representable(period.start()) || (period.has_end() && !representable(period.end()))) return false;
  }
  return IsRepresentable(Instant{snapshot.opened_at_micros(), 0}) && IsRepresentable(Instant{snapshot.updated_at_micros(), 0});
}

}  // namespace

proto::TicketSnapshot ToSnapshot(const TicketState& state) {
  proto::TicketSnapshot snapshot;
  snapshot.set_ticket(state.ticket);
  snapshot.set_ticket_number(state.ticket_number);
  snapshot.set_closed(state.status == TicketStatus::kClosed);
  snapshot.set_title(state.title);
  snapshot.set_description(state.description);
  for (const std::string& system : state.systems) snapshot.add_systems(system);
  snapshot.set_engineer(state.engineer);
  snapshot.set_severity(state.severity);
  snapshot.set_link(state.link);
  snapshot.set_last_note(state.last_note);
  for (const Period& period : state.periods) {
    proto::PeriodSnapshot* saved = snapshot.add_periods();
    *saved->mutable_start() = ToTimestamp(period.start);
    if (period.end) *saved->mutable_end() = ToTimestamp(*period.end);
  }
  snapshot.set_version(state.version);
  snapshot.set_opened_seq(state.opened_seq);
  snapshot.set_last_seq(state.last_seq);
  snapshot.set_opened_at_micros(state.opened_at_micros);
  snapshot.set_updated_at_micros(state.updated_at_micros);
  return snapshot;
}

TicketState FromSnapshot(const proto::TicketSnapshot& snapshot) {
  TicketState state;
  state.ticket = snapshot.ticket();
  state.ticket_number = snapshot.ticket_number();
  state.status = snapshot.closed() ? TicketStatus::kClosed : TicketStatus::kOpen;
  state.title = snapshot.title();
  state.description = snapshot.description();
  state.systems.assign(snapshot.systems().begin(), snapshot.systems().end());
  state.engineer = snapshot.engineer();
  state.severity = snapshot.severity();
  state.link = snapshot.link();
  state.last_note = snapshot.last_note();
  for (const proto::PeriodSnapshot& saved : snapshot.periods()) {
    Period period{FromTimestamp(saved.start()), std::nullopt};
    if (saved.has_end()) period.end = FromTimestamp(saved.end());
    state.periods.push_back(period);
  }
  state.version = snapshot.version();
  state.opened_seq = snapshot.opened_seq();
  state.last_seq = snapshot.last_seq();
  state.opened_at_micros = snapshot.opened_at_micros();
  state.updated_at_micros = snapshot.updated_at_micros();
  return state;
}

ProjectionCheckpoints::ProjectionCheckpoints(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
ProjectionCheckpoints::~ProjectionCheckpoints() = default;

Result<std::unique_ptr<ProjectionCheckpoints>> ProjectionCheckpoints::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(options, path, &raw);
  if (!opened.ok()) return IoError(opened, "cannot open the projection checkpoints at " + path);
  return std::unique_ptr<ProjectionCheckpoints>(new ProjectionCheckpoints(std::unique_ptr<rocksdb::DB>(raw)));
}

Result<std::variant<LoadedProjection, std::string>> ProjectionCheckpoints::Load(const Ledger& ledger) const {
  using Answer = std::variant<LoadedProjection, std::string>;
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), kVersionKey, &value);
  if (status.IsNotFound()) return Answer(std::string("no checkpoint saved yet"));
  if (!status.ok()) return IoError(status, "reading the projection version");
  if (value != std::to_string(kTicketProjectionVersion)) {
    return Answer("the checkpoint is of projection version " + value + ", this build folds version " +
                  std::to_string(kTicketProjectionVersion));
  }
  status = db_->Get(rocksdb::ReadOptions(), kAppliedKey, &value);
  if (!status.ok() || value.size() != 8 + kSha256Bytes) return Answer(std::string("the checkpoint has no valid applied seq"));
  LoadedProjection loaded;
  loaded.applied_seq = ReadBigEndian64(value);
  Sha256Digest saved_hash{};
  std::copy(value.begin() + 8, value.end(), saved_hash.begin());
  if (loaded.applied_seq > ledger.head().seq) {
    return Answer("the checkpoint is at seq " + std::to_string(loaded.applied_seq) + ", beyond the ledger's head " +
                  std::to_string(ledger.head().seq));
  }
  if (loaded.applied_seq > 0) {
    Result<StoredEvent> event = ledger.ReadEvent(loaded.applied_seq);
    if (!event) return Answer("the ledger's event " + std::to_string(loaded.applied_seq) + " cannot be read: " + event.error().message);
    if (event->hash != saved_hash) return Answer(std::string("the checkpoint was made from a different ledger history"));
  }
  status = db_->Get(rocksdb::ReadOptions(), kCountKey, &value);
  if (!status.ok() || value.size() != 8) return Answer(std::string("the checkpoint has no ticket count"));
  const uint64_t expected_count = ReadBigEndian64(value);

  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string prefix(1, kTicketPrefix);
  uint64_t count = 0;
  proto::TicketSnapshot snapshot;
  for (iterator->Seek(prefix); iterator->Valid() && iterator->key().starts_with(prefix); iterator->Next()) {
    if (!snapshot.ParseFromArray(iterator->value().data(), static_cast<int>(iterator->value().size())) ||
        iterator->key().size() != 9 ||
        ReadBigEndian64(std::string_view(iterator->key().data() + 1, 8)) != snapshot.ticket_number() ||
        snapshot.periods().empty() || !TimesRepresentable(snapshot)) {
      return Answer(std::string("a saved ticket does not decode"));
    }
    loaded.tickets.Put(FromSnapshot(snapshot));
    ++count;
  }
  if (!iterator->status().ok()) return IoError(iterator->status(), "reading the projection checkpoint");
  if (count != expected_count) {
    return Answer("the checkpoint holds " + std::to_string(count) + " tickets, not the " + std::to_string(expected_count) +
                  " it says");
  }
  return Answer(std::move(loaded));
}

Status ProjectionCheckpoints::SaveChanged(const TicketStore& tickets, const std::vector<uint64_t>& ticket_numbers,
                                          uint64_t applied_seq, const Sha256Digest& applied_hash) {
  rocksdb::WriteBatch batch;
  const uint64_t count = tickets.size();
  std::string value;
  for (const uint64_t number : ticket_numbers) {
    const TicketState* state = tickets.FindNumber(number);
    if (state == nullptr) continue;
    value.clear();
    LEDGER_ASSERT(ToSnapshot(*state).SerializeToString(&value));
    batch.Put(TicketKey(number), value);
  }
  batch.Put(kAppliedKey, EncodeApplied(applied_seq, applied_hash));
  batch.Put(kCountKey, EncodeCount(count));
  batch.Put(kVersionKey, std::to_string(kTicketProjectionVersion));
  const rocksdb::Status written = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!written.ok()) return IoError(written, "saving the projection checkpoint");
  return {};
}

Status ProjectionCheckpoints::SaveAll(const TicketStore& tickets, uint64_t applied_seq, const Sha256Digest& applied_hash) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(std::string(1, kTicketPrefix), std::string(1, kTicketPrefix + 1));
  std::string value;
  for (const auto& [number, state] : tickets.all()) {
    value.clear();
    LEDGER_ASSERT(ToSnapshot(state).SerializeToString(&value));
    batch.Put(TicketKey(number), value);
  }
  batch.Put(kAppliedKey, EncodeApplied(applied_seq, applied_hash));
  batch.Put(kCountKey, EncodeCount(tickets.size()));
  batch.Put(kVersionKey, std::to_string(kTicketProjectionVersion));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const rocksdb::Status written = db_->Write(write_options, &batch);
  if (!written.ok()) return IoError(written, "saving the projection checkpoint");
  return {};
}

}  // namespace ledger::projections
