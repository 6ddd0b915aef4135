#pragma once
// Saved projection state, so that a start does not replay the whole log.
//
// The ticket projection is saved in its own RocksDB database (DIR/projections
// beside the ledger's files): it is disposable, and deleting the folder only
// costs a rebuild. Every save writes the changed tickets together with the
// seq they reflect in one WriteBatch, so the saved state always matches a
// prefix of the log. Saves are not synced: a save lost in a crash only means
// a longer catch-up at the next start.
//
// Key layout of DIR/projections:
//   'k' | ticket_number (8 bytes, big-endian) -> proto.TicketSnapshot
//   'm' "version"       -> kTicketProjectionVersion, decimal text
//   'm' "applied_seq"   -> seq (8 bytes, big-endian) | hash of that event (32)
//   'm' "ticket_count"  -> number of 'k' entries (8 bytes, big-endian)
//
// Load refuses (and the caller rebuilds from seq 1) when the version differs,
// the saved seq is beyond the ledger's head, the ledger's hash at that seq is
// not the saved one (another or a restored ledger), a snapshot does not decode,
// or the count of tickets is off.
//
// Thread safety: one writer at a time (the ledger's writer thread); Load
// before any save.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "ledger/ledger.h"
#include "projection.pb.h"
#include "projections/tickets.h"

namespace rocksdb {
class DB;
}

namespace ledger::projections {

// Bump when the fold or the snapshot format changes meaning: every saved
// checkpoint is then rebuilt at the next start.
constexpr uint32_t kTicketProjectionVersion = 1;

struct LoadedProjection {
  TicketStore tickets;
  uint64_t applied_seq = 0;
};

class ProjectionCheckpoints {
 public:
  // Opens (creating) the checkpoint database at `path`.
  static Result<std::unique_ptr<ProjectionCheckpoints>> Open(const std::string& path);
  ~ProjectionCheckpoints();

  // The saved state, or a sentence saying why it cannot be used.
  Result<std::variant<LoadedProjection, std::string>> Load(const Ledger& ledger) const;

  // Saves the given tickets (by number) of `tickets` as of `applied_seq`.
  Status SaveChanged(const TicketStore& tickets, const std::vector<uint64_t>& ticket_numbers, uint64_t applied_seq,
                     const Sha256Digest& applied_hash);
  // Replaces everything saved with the whole of `tickets`.
  Status SaveAll(const TicketStore& tickets, uint64_t applied_seq, const Sha256Digest& applied_hash);

 private:
  explicit ProjectionCheckpoints(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

// The projection's state <-> its saved form. Pure.
proto::TicketSnapshot ToSnapshot(const TicketState& state);
TicketState FromSnapshot(const proto::TicketSnapshot& snapshot);

}  // namespace ledger::projections
