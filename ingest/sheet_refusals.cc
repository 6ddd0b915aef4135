#include "ingest/sheet_refusals.h"

#include <algorithm>

#include "common/encoding.h"
#include "ingest/followups.h"
#include "ingest/subscriptions.h"

namespace ledger::ingest {
namespace {

constexpr size_t kContentIdHexDigits = 32;

// `text` as valid UTF-8 (stored strings must be), cut to at most
// `bytes_max` bytes without splitting a character.
std::string Kept(std::string_view text, size_t bytes_max) {
  std::string valid = Utf8OrAscii(text);
  if (valid.size() <= bytes_max) return valid;
  size_t end = bytes_max;
  // Back up over continuation bytes to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(valid[end]) & 0xC0) == 0x80) --end;
  valid.resize(end);
  return valid;
}

bool IsContentId(std::string_view text) {
  return text.size() == kContentIdHexDigits && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

bool IsRecordedRefusal(const SheetRowReport& row) {
  if (row.outcome != RowOutcome::kRejected || row.content_id.empty()) return false;
  return row.code != ErrorCode::kIoError && row.code != ErrorCode::kUnavailable && row.code != ErrorCode::kCorruption;
}

proto::SheetRowRefusal RefusalFromRow(const SheetRowReport& row, std::string_view file_name) {
  proto::SheetRowRefusal refusal;
  refusal.set_content_id(row.content_id);
  refusal.set_row(row.row);
  refusal.set_column(Kept(row.column, kRefusedTitleBytesMax));
  refusal.set_column_letters(Kept(row.column_letters, kRefusedTitleBytesMax));
  refusal.set_field(Kept(row.field, kRefusedTitleBytesMax));
  refusal.set_rule(Kept(row.rule, kRefusedRuleBytesMax));
  // Only an address that would be accepted as a subscriber's is mailed.
  if (Result<std::string> address = NormalizeEmail(row.author, "email"); address) refusal.set_submitter(*address);
  refusal.set_file(Kept(file_name, kRefusedFileBytesMax));
  for (size_t i = 0; i < row.cells.size() && i < kRefusedCellsMax; ++i) {
    proto::SheetCell* cell = refusal.add_cells();
    cell->set_column(Kept(row.cells[i].first, kRefusedTitleBytesMax));
    cell->set_text(Kept(row.cells[i].second, kRefusedCellBytesMax));
  }
  return refusal;
}

Result<RefusalRecorded> LedgerRefusalRecorder::Record(const proto::SheetRowRefusal& refusal) {
  if (!IsContentId(refusal.content_id())) {
    return InvalidArgument("content_id", "a refused row's content id must be 32 lower-case hex digits");
  }
  const std::string submission_id = std::string(kRefusalSubmissionIdPrefix) + refusal.content_id();
  std::string payload;
  if (!refusal.SerializeToString(&payload)) {
    return MakeError(ErrorCode::kInvalidArgument, "the refused row cannot be serialized", "content_id");
  }
  const Sha256Digest digest = Sha256(payload);
  Result<Appended> appended = ledger_->Append([&](AppendContext& context) -> Result<Decision> {
    Result<std::optional<StoredEvent>> previous = context.FindSubmission(submission_id);
    if (!previous) return previous.error();
    // The same content was recorded already (maybe under another rule, or
    // by an older read of the sheet): its submitter was told once.
    if (previous->has_value()) return Decision{.event = {}, .repeat_of_seq = (*previous)->seq};
    proto::Event event;
    event.set_type(proto::SHEET_ROW_REFUSED);
    event.set_actor(std::string(kServiceActor));
    event.set_submission_id(submission_id);
    event.set_request_digest(std::string(AsBytes(digest)));
    *event.mutable_sheet_row_refused() = refusal;
    return Decision{.event = std::move(event), .repeat_of_seq = {}};
  });
  if (!appended) return appended.error();
  return RefusalRecorded{.seq = appended->stored.seq, .repeated = appended->repeated};
}

}  // namespace ledger::ingest
