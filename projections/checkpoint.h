#pragma once
// Saved projection state, so that a start does not replay the whole log.
//
// Every projection of the read model (projection.h) is saved in one RocksDB
// database of its own (DIR/projections beside the ledger's files): it is
// disposable, and deleting the folder only costs a rebuild. Every save writes
// the changed records of all projections together with the seq they reflect
// in one WriteBatch, so the saved state always matches one prefix of the
// log. Saves are not synced (except the whole save after a rebuild): a save
// lost in a crash only means a longer catch-up at the next start.
//
// Key layout of DIR/projections: this file owns the seq; each projection
// owns its version key and the keys under its prefixes (CheckpointKeys),
// drawn in its own header (ticket_projection.h, notification_projection.h).
//   'm' "applied_seq"            -> seq (8 bytes, big-endian) | hash of that
//                                   event (32)
//   each projection's version key -> its version(), decimal
//
// Load refuses (and the read model rebuilds every projection from seq 1)
// when no version is saved, any version differs, the saved seq is beyond the
// ledger's head, the ledger's hash at that seq is not the saved one (another
// or a restored ledger), or a projection's Load finds its records unusable.
//
// Failures: a RocksDB error is kIoError, from Open, Load, Write and SaveAll
// alike. A failed incremental save leaves the previous one in place (the
// next start catches up from its seq); a failed SaveAll leaves either the
// old checkpoint or none (the old records are deleted before the new ones
// are ingested, the seq and versions written last), never a mix.
//
// Thread safety: one caller at a time (the read model's Open, Rebuild and
// Apply, which run on one thread at a time).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ledger/ledger.h"
#include "projections/projection.h"

namespace rocksdb {
class DB;
class WriteBatch;
}

namespace ledger::projections {

// Where a save's records go: a WriteBatch (SaveChanges) or a table file
// (SaveWhole). Put copies the key and value.
class CheckpointWriter {
 public:
  virtual ~CheckpointWriter() = default;
  virtual void Put(std::string_view key, std::string_view value) = 0;
};

// A whole save: the records go into table files that are ingested together.
class CheckpointTables {
 public:
  virtual ~CheckpointTables() = default;
  // A new table file. Its keys must be Put in strictly increasing (bytewise)
  // order, and no two tables' key ranges may overlap. NewTable itself is
  // called from the SaveWhole thread; the table may then be filled from
  // another thread, which must be done before SaveWhole returns.
  virtual CheckpointWriter* NewTable() = 0;
};

// What a projection's Load reads: the checkpoint database, and the ledger
// up to the checkpoint's seq.
class CheckpointReader {
 public:
  // The value saved under `key`, nullopt when none. Fails on a read error.
  Result<std::optional<std::string>> Get(std::string_view key) const;
  // Calls `visit` with every key starting with `prefix` and its value, in
  // key order, until it answers false. Fails on a read error.
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& visit) const;
  // The same, but the values handed to `visit` stay valid and unchanged
  // until the answer (a pin) is released, whatever later saves do: the scan
  // reads a read-only view of the checkpoint database, opened for it, whose
  // table files are mapped into memory rather than copied (a start keeps
  // 150 MB of saved tickets at 10M events without zeroing or copying them;
  // the pages are the page cache's). The pin holds that view (its files
  // stay readable when later saves delete them) and closes it when
  // released. RocksDB's block checksums are not checked on the way: for
  // values that carry a digest of their own, which `visit` checks. Fails on
  // a read error, or when the view cannot be opened.
  Result<std::shared_ptr<const void>> ScanPinned(
      std::string_view prefix, const std::function<bool(std::string_view key, std::string_view value)>& visit) const;
  const Ledger& ledger() const { return *ledger_; }
  // The seq the saved state reflects (the ledger's events up to it).
  uint64_t applied_seq() const { return applied_seq_; }

 private:
  friend class ProjectionCheckpoints;
  CheckpointReader(rocksdb::DB* db, const Ledger* ledger, uint64_t applied_seq)
      : db_(db), ledger_(ledger), applied_seq_(applied_seq) {}
  rocksdb::DB* db_;
  const Ledger* ledger_;
  uint64_t applied_seq_;
};

// The records of one incremental save, taken from the projections (under
// the read model's write lock) and written afterwards (without it), so that
// readers do not wait for the write.
class CheckpointSave {
 public:
  CheckpointSave();
  ~CheckpointSave();
  CheckpointSave(CheckpointSave&&) noexcept;
  CheckpointSave& operator=(CheckpointSave&&) noexcept;

 private:
  friend class ProjectionCheckpoints;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

// The seq (and its event's hash) a loaded checkpoint reflects.
struct LoadedCheckpoint {
  uint64_t applied_seq = 0;
  Sha256Digest applied_hash{};
};

class ProjectionCheckpoints {
 public:
  // Opens (creating) the checkpoint database at `path`.
  static Result<std::unique_ptr<ProjectionCheckpoints>> Open(const std::string& path);
  ~ProjectionCheckpoints();

  // Loads every projection of `projections` (Projection::Load), or answers
  // a sentence saying why the checkpoint cannot be used (some projections
  // may then hold part of it: the caller clears them all). Fails on a read
  // error or on a projection's failure.
  Result<std::variant<LoadedCheckpoint, std::string>> Load(const Ledger& ledger,
                                                           const std::vector<Projection*>& projections) const;

  // Takes what changed in each projection (SaveChanges), as of
  // `applied_seq`, into one WriteBatch; Write writes it. Saves must be
  // written in the order they were taken.
  CheckpointSave TakeChanges(const std::vector<Projection*>& projections, uint64_t applied_seq,
                             const Sha256Digest& applied_hash) const;
  Status Write(CheckpointSave save);
  // Both at once.
  Status SaveChanged(const std::vector<Projection*>& projections, uint64_t applied_seq,
                     const Sha256Digest& applied_hash);
  // Replaces everything saved with the whole of every projection (synced).
  Status SaveAll(const std::vector<const Projection*>& projections, uint64_t applied_seq,
                 const Sha256Digest& applied_hash);

  // Reads while serving, for a projection that keeps part of its state only
  // here (notification_projection.h). Thread-safe, also while a save is
  // written; the caller knows which records no later save rewrites.
  // The value under `key`, nullopt when none; fails on a read error.
  Result<std::optional<std::string>> Get(std::string_view key) const;
  // Visits the keys from `from` on that start with `prefix`, in key order,
  // until `visit` answers false; fails on a read error.
  Status ScanFrom(std::string_view from, std::string_view prefix,
                  const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

 private:
  explicit ProjectionCheckpoints(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace ledger::projections
