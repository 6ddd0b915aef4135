// ImportVerbatim: an export's events appended as they were stored (same
// bytes, same hashes), checked by the record codec before anything is
// written. See ledger.h for the contract.

#include <algorithm>
#include <map>
#include <vector>

#include <rocksdb/write_batch.h>

#include "ledger/keys.h"
#include "ledger/ledger_impl.h"
#include "ledger/record.h"

namespace ledger {

Status Ledger::Impl::ImportVerbatim(const std::vector<ImportedEvent>& events, const TicketNumberFn& ticket_number) {
  Head next = head();
  merkle::Frontier frontier = frontier_;
  rocksdb::WriteBatch batch;
  std::map<std::string, uint64_t> batch_submissions;
  std::vector<StoredEvent> appended;
  appended.reserve(events.size());
  for (const ImportedEvent& imported : events) {
    const uint64_t seq = next.seq + 1;
    const auto refuse = [seq](std::string why) {
      return MakeError(ErrorCode::kInvalidArgument, "event " + std::to_string(seq) + ": " + why);
    };
    if (imported.prev_hash != next.hash) return refuse("prev_hash does not continue the chain");
    std::string value = record::EncodeStoredValue(imported.prev_hash, imported.hash, imported.record);
    Result<StoredEvent> stored = DecodeStoredEvent(seq, value);
    if (!stored) return refuse(stored.error().message);
    const proto::Event& event = stored->event;
    if (event.ticket().size() > keys::kTicketBytesMax) return refuse("ticket name too long");
    batch.Put(keys::Event(seq), value);
    if (!event.ticket().empty()) batch.Put(keys::TicketEvent(event.ticket(), seq), "");
    if (!event.submission_id().empty()) {
      Result<std::optional<StoredEvent>> existing = FindSubmissionInLog(event.submission_id());
      if (!existing) return existing.error();
      if (existing->has_value() || batch_submissions.contains(event.submission_id())) {
        return refuse("submission_id is used twice");
      }
      batch_submissions[event.submission_id()] = seq;
      batch.Put(keys::Submission(event.submission_id()), record::EncodeNumber(seq));
    }
    if (const std::optional<NumberedName> number = ticket_number(event.ticket())) {
      if (number->sequence >= kNumberSequences) return refuse("ticket names an unknown number sequence");
      uint64_t& last = next.last_numbers[number->sequence];
      last = std::max<uint64_t>(last, number->number);
    }
    frontier.Append(merkle::LeafHash(imported.hash), [&batch](const merkle::NodeId& id, const Sha256Digest& hash) {
      batch.Put(keys::TreeNode(id.level, id.index), AsBytes(hash));
    });
    next.seq = seq;
    next.hash = imported.hash;
    appended.push_back(std::move(*stored));
  }
  if (events.empty()) return {};
  batch.Put(keys::kHeadKey, record::EncodeHead(next));
  for (NumberSequence sequence = 0; sequence < kNumberSequences; ++sequence) {
    if (sequence == 0 || next.last_numbers[sequence] != head().last_numbers[sequence]) {
      batch.Put(keys::NumberCounter(sequence), record::EncodeNumber(next.last_numbers[sequence]));
    }
  }
  batch.Put(keys::kTreeSizeKey, record::EncodeNumber(frontier.size()));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const rocksdb::Status written = db_->Write(write_options, &batch);
  if (!written.ok()) return IoError(written, "the import could not be written");
  frontier_ = frontier;
  {
    std::lock_guard lock(head_mutex_);
    head_ = next;
    tree_head_ = TreeHead{.tree_size = frontier_.size(), .root_hash = frontier_.Root()};
  }
  // The read models and streams learn of imported events as of appended
  // ones (a follower's mirror serves them while it follows).
  if (commit_listener_) commit_listener_(appended);
  return {};
}

}  // namespace ledger
