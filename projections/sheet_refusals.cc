#include "projections/sheet_refusals.h"

#include "projections/checkpoint.h"
#include "projections/ticket_codec.h"

namespace ledger::projections {
namespace {

constexpr char kRefusalPrefix = 'f';
constexpr std::string_view kVersionKey = "msheet_refusals_version";
constexpr size_t kContentIdBytes = 32;

std::string RefusalKey(std::string_view content_id) { return std::string(1, kRefusalPrefix) + std::string(content_id); }

bool IsContentId(std::string_view text) {
  if (text.size() != kContentIdBytes) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string EncodeRecordedRefusal(const RecordedRefusal& recorded) {
  std::string value;
  ByteWriter writer(&value);
  writer.Varint(recorded.seq);
  writer.Signed(recorded.recorded_at_micros);
  std::string payload;
  // A message built from parsed or set fields always serializes.
  LEDGER_ASSERT(recorded.refusal.SerializeToString(&payload));
  writer.Raw(payload);
  return value;
}

bool DecodeRecordedRefusal(std::string_view bytes, RecordedRefusal* recorded) {
  ByteReader reader(bytes);
  std::string_view payload;
  if (!reader.Varint(&recorded->seq) || recorded->seq == 0 || !ReadMicros(&reader, &recorded->recorded_at_micros) ||
      !reader.Raw(reader.remaining(), &payload)) {
    return false;
  }
  try {
    if (!recorded->refusal.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return false;
  } catch (const std::exception&) {
    return false;  // protobuf may throw on allocation failure: a damaged record either way
  }
  return IsContentId(recorded->refusal.content_id());
}

const RecordedRefusal* SheetRefusalProjection::Find(std::string_view content_id) const {
  const auto found = by_content_id_.find(content_id);
  return found == by_content_id_.end() ? nullptr : &found->second;
}

std::vector<const RecordedRefusal*> SheetRefusalProjection::Newest(size_t limit) const {
  std::vector<const RecordedRefusal*> newest;
  for (auto it = by_seq_.rbegin(); it != by_seq_.rend() && newest.size() < limit; ++it) {
    newest.push_back(Find(it->second));
  }
  return newest;
}

CheckpointKeys SheetRefusalProjection::checkpoint_keys() const {
  return CheckpointKeys{.version_key = kVersionKey, .prefixes = {std::string_view(&kRefusalPrefix, 1)}};
}

void SheetRefusalProjection::Put(RecordedRefusal recorded) {
  std::string content_id = recorded.refusal.content_id();
  by_seq_[recorded.seq] = content_id;
  by_content_id_.emplace(std::move(content_id), std::move(recorded));
}

void SheetRefusalProjection::Apply(const proto::Event& event, const Sha256Digest& /*hash*/) {
  if (event.type() != proto::SHEET_ROW_REFUSED || !event.has_sheet_row_refused()) return;
  const proto::SheetRowRefusal& refusal = event.sheet_row_refused();
  if (!IsContentId(refusal.content_id()) || by_content_id_.contains(refusal.content_id())) return;
  if (tracking_) changed_.insert(refusal.content_id());
  Put(RecordedRefusal{.seq = event.seq(), .recorded_at_micros = event.recorded_at_micros(), .refusal = refusal});
}

void SheetRefusalProjection::Clear() {
  by_content_id_.clear();
  by_seq_.clear();
  changed_.clear();
}

void SheetRefusalProjection::TrackChanges(bool on) {
  tracking_ = on;
  if (!on) changed_.clear();
}

void SheetRefusalProjection::SaveChanges(CheckpointWriter* batch) {
  for (const std::string& content_id : changed_) {
    if (const RecordedRefusal* recorded = Find(content_id)) {
      batch->Put(RefusalKey(content_id), EncodeRecordedRefusal(*recorded));
    }
  }
  changed_.clear();
}

void SheetRefusalProjection::SaveWhole(CheckpointTables* tables) const {
  if (by_content_id_.empty()) return;
  CheckpointWriter* table = tables->NewTable();
  // The map's order is the keys' bytewise order (one prefix byte, then the id).
  for (const auto& [content_id, recorded] : by_content_id_) {
    table->Put(RefusalKey(content_id), EncodeRecordedRefusal(recorded));
  }
}

Result<LoadOutcome> SheetRefusalProjection::Load(const CheckpointReader& reader) {
  Clear();
  std::string problem;
  Status scanned = reader.Scan(std::string_view(&kRefusalPrefix, 1), [&](std::string_view key, std::string_view value) {
    RecordedRefusal recorded;
    if (!DecodeRecordedRefusal(value, &recorded) || RefusalKey(recorded.refusal.content_id()) != key ||
        recorded.seq > reader.applied_seq() || by_seq_.contains(recorded.seq)) {
      problem = "a saved refused sheet row does not decode";
      return false;
    }
    Put(std::move(recorded));
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
