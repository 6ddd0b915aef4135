#pragma once
// The ticket store (tickets.h) as a projection of the read model: its fold,
// and its saved form in the checkpoint database (checkpoint.h).
//
// Key layout (integers in keys 8 bytes big-endian; varints and periods as
// ticket_codec.h writes them; records in its compact ticket form):
//   'g' | first_number | last_number -> a pack: the tickets numbered
//            first..last, as a whole save (SaveWhole) wrote them:
//            varint count | count x (varint number step | periods |
//            varint record size) | zstd frame of the records, concatenated |
//            SHA-256 of (key | everything before it)
//            (the first step is number - first_number, then number -
//            previous number; the periods are the ticket's outline)
//   'k' | ticket_number -> a ticket saved alone (SaveChanges, repairs):
//            periods | varint record size | record |
//            SHA-256 of (key | everything before it)
//   'm' "ticket_count"  -> number of tickets saved (distinct numbers)
//   'm' "version"       -> kTicketProjectionVersion, decimal
// A ticket saved alone replaces its entry in a pack: a whole save deletes
// every saved record before it writes its packs, so what is saved alone is
// always the newer one.
//
// Load reads all of it, checked but not decoded: the outlines (numbers and
// periods, which the timeline index and size() need), the packs still
// compressed and the tickets saved alone (SavedTickets). Each value is
// checked against its digest, which covers the outlines and the records
// together; the records are neither unpacked nor decoded at start. The
// packs stay where the scan read them (CheckpointReader::ScanPinned: the
// checkpoint's table files, mapped, not copied), their digests checked on a
// second thread while the scan goes on; a digest that does not match there
// makes Load start over with each checked in line (below). Where the pinned
// view cannot be opened, the packs are copied into memory instead. The
// store decodes a ticket when it is first read, and the read model's
// background fill (FillStep) the rest. A start is thus a read of the
// compressed packs, kept compressed until the fill has built their tickets
// (the pinned view is closed then), not a decode of 2,000,000 records.
//
// Failures and recovery. A wrong version, or a missing or wrong count makes
// the checkpoint unusable (the read model rebuilds from seq 1), and so do
// packs whose ranges overlap or a pack wider than kPackTicketsMax. A value
// that does not check out (digest, framing) is repaired during Load: a
// ticket saved alone, or every ticket in a pack's range, is folded again
// from its own events in the ledger up to the checkpoint's seq (said on
// stderr) and saved again, alone, with the next save. A ticket saved alone
// whose ticket the ledger never opened makes the checkpoint unusable. A
// ledger read error fails Load. Nothing is read after Load but the pinned
// packs' mapped pages (from the page cache, or the disk if the kernel has
// dropped them), and a record that checked out is, byte for byte, what a
// save encoded from a folded state: decoding it later cannot fail on data.
//
// Thread safety: as projection.h says (the read model's locks).

#include <cstdint>
#include <vector>

#include "projections/projection.h"
#include "projections/systems.h"
#include "projections/tickets.h"

namespace ledger::projections {

// Bump when the ticket fold or its saved form changes meaning: every saved
// checkpoint is then rebuilt at the next start. 2: the compact record form
// and the separate period outlines. 3: the other payload fields at the end
// of a ticket record (TicketState::other_fields). 4: packs and digests.
// 5: impact and phase at the end of a ticket record.
constexpr uint32_t kTicketProjectionVersion = 5;
// The most tickets one pack holds: also how many a damaged pack can make a
// load fold again.
constexpr size_t kPackTicketsMax = 1024;

class TicketProjection : public Projection {
 public:
  // `systems` (nullable; registered before this one, and outliving it)
  // gives the store its names (TicketStore::names) as the catalog changes.
  explicit TicketProjection(const SystemProjection* systems = nullptr) : systems_(systems) {}

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
  // Load, with the packs' digests checked on another thread while the
  // scan goes on (`check_on_the_side`, pinned packs only), or in line. Sets
  // `redo` (having cleared everything) when a digest checked on the side
  // does not match: the load is then done again in line.
  Result<LoadOutcome> LoadOnce(const CheckpointReader& reader, bool check_on_the_side, bool* redo);
  void Changed(std::optional<uint64_t> number);
  void SyncNames();

  const SystemProjection* systems_ = nullptr;
  uint64_t names_generation_ = UINT64_MAX;
  TicketStore store_;
  bool tracking_ = false;
  std::vector<uint64_t> changed_;  // ticket numbers changed since the last save, unsorted
};

}  // namespace ledger::projections
