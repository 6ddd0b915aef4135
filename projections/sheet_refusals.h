#pragma once
// The refused rows of the polled form-responses sheet, as a projection of
// the SHEET_ROW_REFUSED events (ingest/sheet_refusals.h): which row contents
// were recorded, by their content id, with what the event said (row, column,
// rule, submitter, the cells as typed). GET /api/v1/imports and the /imports
// page read it to show every refused row, also those of imports before the
// last start; whether the submitter was told is the notification side's job
// for the event (notifications.h).
//
// The first event for a content id is kept; a later one for the same id
// (never appended by this service, which looks the id up first, but
// possible in a log imported from elsewhere) changes nothing.
//
// Key layout (the checkpoint database, checkpoint.h):
//   'f' | content id (32 hex digits) -> varint seq | zigzag recorded_at_micros |
//                                       serialized SheetRowRefusal
//   'm' "sheet_refusals_version"     -> kSheetRefusalProjectionVersion, decimal
//
// Failures: Load makes the checkpoint unusable (a rebuild) when a record does
// not decode or its key is not its content id; a read error fails Load.
// Reads never do I/O.
//
// Thread safety: as projection.h says (the read model's locks).

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.h"

namespace ledger::projections {

// 1: first saved.
constexpr uint32_t kSheetRefusalProjectionVersion = 1;

struct RecordedRefusal {
  uint64_t seq = 0;  // the SHEET_ROW_REFUSED event
  int64_t recorded_at_micros = 0;
  proto::SheetRowRefusal refusal;
};

// The saved form of one record (see the key layout above); Decode fails on
// anything Encode would not have written.
std::string EncodeRecordedRefusal(const RecordedRefusal& recorded);
[[nodiscard]] bool DecodeRecordedRefusal(std::string_view bytes, RecordedRefusal* recorded);

class SheetRefusalProjection : public Projection {
 public:
  // The refusal recorded for a row content, or nullptr.
  const RecordedRefusal* Find(std::string_view content_id) const;
  // Every recorded refusal, by content id.
  const std::map<std::string, RecordedRefusal, std::less<>>& all() const { return by_content_id_; }
  // Up to `limit` refusals, newest (highest seq) first.
  std::vector<const RecordedRefusal*> Newest(size_t limit) const;

  std::string_view name() const override { return "sheet_refusal"; }
  uint32_t version() const override { return kSheetRefusalProjectionVersion; }
  CheckpointKeys checkpoint_keys() const override;

  void Apply(const proto::Event& event, const Sha256Digest& hash) override;
  void Clear() override;

  void TrackChanges(bool on) override;
  bool HasChanges() const override { return !changed_.empty(); }
  void SaveChanges(CheckpointWriter* batch) override;
  void SaveWhole(CheckpointTables* tables) const override;
  Result<LoadOutcome> Load(const CheckpointReader& reader) override;

 private:
  void Put(RecordedRefusal recorded);

  std::map<std::string, RecordedRefusal, std::less<>> by_content_id_;
  std::map<uint64_t, std::string> by_seq_;  // seq -> content id
  bool tracking_ = false;
  std::set<std::string> changed_;  // content ids added since the last save
};

}  // namespace ledger::projections
