#pragma once
// Saved projection state, so that a start does not replay the whole log.
//
// Every projection the service folds (tickets, and the notification side:
// subscriptions, notices, jobs) is saved in one RocksDB database of its own
// (DIR/projections beside the ledger's files): it is disposable, and deleting
// the folder only costs a rebuild. Every save writes the changed records of
// both together with the seq they reflect in one WriteBatch, so the saved
// state always matches one prefix of the log. Saves are not synced (except
// the whole save after a rebuild): a save lost in a crash only means a longer
// catch-up at the next start.
//
// Key layout of DIR/projections (integers 8 bytes big-endian unless noted;
// records in the compact form of ticket_codec.h):
//   'k' | ticket_number                 -> the ticket's whole state
//   'p' | ticket_number                 -> the ticket's periods alone: what a
//                                          start reads to index the timeline
//   'u' | email                         -> subscriptions of one address:
//                                          varint last_change_seq | varint
//                                          count | each folded system (string)
//   'n' | incident seq                  -> a notice (see EncodeNotice)
//   'j' | incident seq | recipient      -> a job (see EncodeJob)
//   'm' "version"                       -> kTicketProjectionVersion, decimal
//                                          ("invalidated" after Invalidate)
//   'm' "notifications_version"         -> kNotificationProjectionVersion, decimal
//   'm' "applied_seq"                   -> seq | hash of that event (32)
//   'm' "ticket_count"                  -> number of 'k' (and of 'p') entries
//   'm' "notification_counters"         -> varint orphan_receipts | varint
//                                          duplicate_deliveries
//
// Load refuses (and the caller rebuilds every projection from seq 1) when
// either version differs, the saved seq is beyond the ledger's head, the
// ledger's hash at that seq is not the saved one (another or a restored
// ledger), a record it reads does not decode, or the count of tickets is off.
// Load reads the 'p' and notification records only: tickets are read one at
// a time (LoadTicket) as the read model builds them (see read_model.h).
//
// Thread safety: saves come from one thread at a time (the ledger's writer
// thread); LoadTicket, ForEachSavedTicket and Invalidate may run on any
// thread meanwhile.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ledger/ledger.h"
#include "projections/notifications.h"
#include "projections/tickets.h"

namespace rocksdb {
class DB;
}

namespace ledger::projections {

// Bump when the ticket fold or its saved form changes meaning: every saved
// checkpoint is then rebuilt at the next start. 2: the compact record form
// and the separate period outlines.
constexpr uint32_t kTicketProjectionVersion = 2;
// The same for the notification side (first saved in version 1).
constexpr uint32_t kNotificationProjectionVersion = 1;

struct LoadedProjection {
  uint64_t applied_seq = 0;
  Sha256Digest applied_hash{};
  TicketOutlines outlines;         // every saved ticket's number and periods
  NotificationQueue notifications;  // whole
};

class ProjectionCheckpoints {
 public:
  // Opens (creating) the checkpoint database at `path`.
  static Result<std::unique_ptr<ProjectionCheckpoints>> Open(const std::string& path);
  ~ProjectionCheckpoints();

  // The saved state, or a sentence saying why it cannot be used.
  Result<std::variant<LoadedProjection, std::string>> Load(const Ledger& ledger) const;
  // One saved ticket: kNotFound when there is none, kCorruption when it does
  // not decode, kIoError when it cannot be read.
  Result<TicketState> LoadTicket(uint64_t ticket_number) const;
  // Calls `visit` with every saved ticket's number and record, in number
  // order, until it answers false.
  Status ForEachSavedTicket(const std::function<bool(uint64_t ticket_number, std::string_view record)>& visit) const;

  // Saves the given tickets (by number) of `tickets` and the changed
  // notification records of `queue`, as of `applied_seq`.
  Status SaveChanged(const TicketStore& tickets, const std::vector<uint64_t>& ticket_numbers, const NotificationQueue& queue,
                     const NotificationChanges& changes, uint64_t applied_seq, const Sha256Digest& applied_hash);
  // Replaces everything saved with the whole of `tickets` and `queue` (synced).
  Status SaveAll(const TicketStore& tickets, const NotificationQueue& queue, uint64_t applied_seq,
                 const Sha256Digest& applied_hash);
  // Marks what is saved as unusable, so that the next start rebuilds: for
  // an inconsistency found after the start. Later SaveChanged calls keep it
  // so; a SaveAll makes it sound again.
  Status Invalidate();

 private:
  explicit ProjectionCheckpoints(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
  // Whether saves may still vouch for what is saved: the check and the
  // write it decides happen under the mutex, so that an Invalidate is never
  // undone by a save that read the flag before it.
  std::mutex validity_mutex_;
  bool invalidated_ = false;
};

// The saved forms of the notification side's records (a subscriber's
// systems, a notice, a delivery job). A Decode fails on anything its Encode
// would not have written, never reading past the bytes or reserving more
// than they can hold: a checkpoint is a file, and a damaged one only means
// a rebuild. Exposed for the checkpoint_record_fuzz target.
std::string EncodeSubscriptions(const std::set<std::string>* systems, uint64_t last_change_seq);
[[nodiscard]] bool DecodeSubscriptions(std::string_view bytes, std::set<std::string>* systems,
                                       uint64_t* last_change_seq);
std::string EncodeNotice(const Notice& notice);
[[nodiscard]] bool DecodeNotice(uint64_t seq, std::string_view bytes, Notice* notice);
std::string EncodeJob(const Job& job);
[[nodiscard]] bool DecodeJob(std::string_view bytes, Job* job);

// The records of the notification side as they are saved (key, value), in
// key order: for SaveAll, and for tests comparing whole states.
void ForEachNotificationRecord(const NotificationQueue& queue,
                               const std::function<void(const std::string& key, const std::string& value)>& visit);

}  // namespace ledger::projections
