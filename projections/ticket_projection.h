#pragma once
// The ticket store (tickets.h) as a projection of the read model: its fold,
// and its saved form in the checkpoint database (checkpoint.h).
//
// Key layout (integers 8 bytes big-endian; records in the compact form of
// ticket_codec.h):
//   'k' | ticket_number       -> the ticket's whole state
//   'p' | ticket_number       -> the ticket's periods alone: the outline the
//                                timeline index is built from
//   'm' "ticket_count"        -> number of 'k' (and of 'p') entries
//   'm' "version"             -> kTicketProjectionVersion, decimal
//
// Load reads all of it into memory: the outlines, and every ticket's record
// as bytes (SavedTickets), each checked on the way in (it decodes, names its
// ticket, holds its outline's periods) but not decoded into a TicketState:
// the store does that when a ticket is first read, and the read model's
// background fill (FillStep) for the rest, from memory. A start is thus a
// read of ~70 MB of records for 200,000 tickets, not a decode of them.
//
// Failures and recovery. A wrong version, a missing or wrong count, or an
// outline that does not decode makes the checkpoint unusable (the read model
// rebuilds from seq 1). A single ticket record that does not check out is
// folded again from its own events in the ledger, up to the checkpoint's
// seq, during Load (said on stderr), and saved again with the next save;
// one whose ticket the ledger never opened makes the checkpoint unusable. A
// ledger read error fails Load. Nothing is read from disk after Load.
//
// Thread safety: as projection.h says (the read model's locks).

#include <cstdint>
#include <vector>

#include "projections/projection.h"
#include "projections/tickets.h"

namespace ledger::projections {

// Bump when the ticket fold or its saved form changes meaning: every saved
// checkpoint is then rebuilt at the next start. 2: the compact record form
// and the separate period outlines. 3: the other payload fields
// (TicketState::other_fields) at the end of a ticket record.
constexpr uint32_t kTicketProjectionVersion = 3;

class TicketProjection : public Projection {
 public:
  // What readers see.
  const TicketStore& store() const { return store_; }
  // For the notification side's shared fold (notification_projection.h).
  const TicketState* Find(std::string_view ticket) const { return store_.Find(ticket); }

  std::string_view name() const override { return "ticket"; }
  uint32_t version() const override { return kTicketProjectionVersion; }
  CheckpointKeys checkpoint_keys() const override;

  void Apply(const proto::Event& event, const Sha256Digest& hash) override;
  void Take(proto::Event* event, const Sha256Digest& hash) override;
  void Clear() override;

  void TrackChanges(bool on) override;
  bool HasChanges() const override { return !changed_.empty(); }
  void SaveChanges(CheckpointWriter* batch) override;
  void SaveWhole(CheckpointTables* tables) const override;
  Result<LoadOutcome> Load(const CheckpointReader& reader) override;

  bool FillStep(const std::atomic<bool>& stop) const override;
  void FillDone() override { store_.ReleaseSavedIfBuilt(); }

 private:
  void Changed(std::optional<uint64_t> number);

  TicketStore store_;
  bool tracking_ = false;
  std::vector<uint64_t> changed_;  // ticket numbers changed since the last save, unsorted
};

}  // namespace ledger::projections
