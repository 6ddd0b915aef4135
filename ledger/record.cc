#include "ledger/record.h"

#include <algorithm>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "common/time.h"
#include "ledger/keys.h"

namespace ledger {
namespace record {
namespace {

// head value: seq | hash
constexpr size_t kHeadValueBytes = keys::kSeqBytes + keys::kHashBytes;

// Every time a record holds must be one RFC 3339 text can name
// (IsRepresentable, common/time.h): the service writes no others, and the
// folds and renderings rely on it. A record whose hash checks may still hold
// others: an import takes any export whose hashes chain.
//
// Every enum value of a payload must be one this service knows: protobuf
// keeps whatever number an open enum is sent, the folds would carry it on,
// and a saved ticket holding it would not load again (ticket_codec.h). The
// service writes no others.
//
// The fields are named one by one (not walked by reflection): this runs for
// every event of every scan, rebuilds included.
class PayloadCheck {
 public:
  explicit PayloadCheck(uint64_t seq) : seq_(seq) {}

  // A time field, when given.
  PayloadCheck& Time(bool given, const proto::Timestamp& time, std::string_view name) {
    if (status_ && given && !IsRepresentable(Instant{time.unix_micros(), time.offset_minutes()})) {
      status_ = Corruption(seq_, std::string(name) + " is out of range");
    }
    return *this;
  }
  // An enum field (0, "not given", is a known value).
  PayloadCheck& Known(bool known, int value, std::string_view name) {
    if (status_ && !known) status_ = Corruption(seq_, std::string(name) + " " + std::to_string(value) + " is not a known value");
    return *this;
  }
  Status status() const { return status_; }

 private:
  uint64_t seq_;
  Status status_;
};

Status CheckPayload(uint64_t seq, const proto::Event& event) {
  if (!IsRepresentable(Instant{event.recorded_at_micros(), 0})) return Corruption(seq, "recorded_at is out of range");
  PayloadCheck check(seq);
  if (event.has_incident()) {
    const proto::IncidentPayload& payload = event.incident();
    check.Time(payload.has_started_at(), payload.started_at(), "started_at")
        .Time(payload.has_ended_at(), payload.ended_at(), "ended_at")
        .Time(payload.has_detected_at(), payload.detected_at(), "detected_at")
        .Time(payload.has_acknowledged_at(), payload.acknowledged_at(), "acknowledged_at")
        .Time(payload.has_mitigated_at(), payload.mitigated_at(), "mitigated_at")
        .Known(proto::Severity_IsValid(payload.severity()), payload.severity(), "severity")
        .Known(proto::Impact_IsValid(payload.impact()), payload.impact(), "impact")
        .Known(proto::Phase_IsValid(payload.phase()), payload.phase(), "phase");
  }
  if (event.has_maintenance()) {
    const proto::MaintenancePayload& payload = event.maintenance();
    check.Time(payload.has_starts_at(), payload.starts_at(), "starts_at")
        .Time(payload.has_ends_at(), payload.ends_at(), "ends_at")
        .Time(payload.has_started_at(), payload.started_at(), "started_at")
        .Time(payload.has_ended_at(), payload.ended_at(), "ended_at");
  }
  return check.status();
}

}  // namespace

Error Corruption(uint64_t seq, std::string_view why) {
  return MakeError(ErrorCode::kCorruption, "event " + std::to_string(seq) + ": " + std::string(why));
}

Status EncodeRecord(const proto::Event& event, std::string* record) {
  record->clear();
  {
    google::protobuf::io::StringOutputStream stream(record);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!event.SerializeToCodedStream(&coded)) return MakeError(ErrorCode::kInvalidArgument, "event cannot be encoded");
  }
  if (record->size() > kRecordBytesMax) return MakeError(ErrorCode::kTooLarge, "event record too large");
  return {};
}

std::string EncodeStoredValue(const Sha256Digest& prev_hash, const Sha256Digest& hash, std::string_view record) {
  std::string value;
  value.reserve(keys::kEventValueHeaderBytes + record.size());
  value.append(AsBytes(prev_hash));
  value.append(AsBytes(hash));
  value.append(record);
  return value;
}

Status CheckStoredValue(uint64_t seq, std::string_view value) {
  if (value.size() < keys::kEventValueHeaderBytes) return Corruption(seq, "stored value too short");
  const std::string_view prev_hash = value.substr(0, keys::kHashBytes);
  const std::string_view hash = value.substr(keys::kHashBytes, keys::kHashBytes);
  if (AsBytes(Sha256(prev_hash, RecordOf(value))) != hash) {
    return Corruption(seq, "hash does not match SHA-256(prev_hash || record)");
  }
  return {};
}

Status ParseRecord(uint64_t seq, std::string_view record, proto::Event* event) {
  if (!event->ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return Corruption(seq, "record is not a valid Event");
  }
  if (event->seq() != seq) return Corruption(seq, "record holds seq " + std::to_string(event->seq()));
  return CheckPayload(seq, *event);
}

std::string_view RecordOf(std::string_view value) { return value.substr(keys::kEventValueHeaderBytes); }

Status FillStoredEvent(uint64_t seq, std::string_view value, StoredEvent* stored) {
  stored->seq = seq;
  std::copy_n(value.begin(), keys::kHashBytes, stored->prev_hash.begin());
  std::copy_n(value.begin() + keys::kHashBytes, keys::kHashBytes, stored->hash.begin());
  stored->record.assign(RecordOf(value));
  return ParseRecord(seq, stored->record, &stored->event);
}

std::string EncodeHead(const Head& head) {
  std::string value;
  AppendBigEndian64(&value, head.seq);
  value.append(AsBytes(head.hash));
  return value;
}

Status DecodeHead(std::string_view value, Head* head) {
  if (value.size() != kHeadValueBytes) return MakeError(ErrorCode::kCorruption, "malformed head record");
  head->seq = ReadBigEndian64(value);
  std::copy_n(value.begin() + keys::kSeqBytes, keys::kHashBytes, head->hash.begin());
  return {};
}

std::string EncodeNumber(uint64_t number) {
  std::string value;
  AppendBigEndian64(&value, number);
  return value;
}

Result<uint64_t> DecodeNumber(std::string_view value, std::string_view what) {
  if (value.size() != keys::kSeqBytes) return MakeError(ErrorCode::kCorruption, "malformed " + std::string(what));
  return ReadBigEndian64(value);
}

Status LinkChecker::Link(uint64_t seq, std::string_view value) {
  if (value.substr(0, keys::kHashBytes) != AsBytes(previous_hash_)) {
    return Corruption(seq, "prev_hash does not match the previous event's hash");
  }
  std::copy_n(value.begin() + keys::kHashBytes, keys::kHashBytes, previous_hash_.begin());
  return {};
}

}  // namespace record

Result<StoredEvent> DecodeStoredEvent(uint64_t seq, std::string_view value) {
  if (Status checked = record::CheckStoredValue(seq, value); !checked) return checked.error();
  StoredEvent stored;
  if (Status filled = record::FillStoredEvent(seq, value, &stored); !filled) return filled.error();
  return stored;
}

}  // namespace ledger
