#pragma once
// One projection: a pure fold of the ledger's events into a read model, with
// a saved form so that a start resumes instead of replaying the log.
//
// The read model (read_model.h) holds a list of these, in the order
// ReadModel registers them, and does everything else: it feeds every
// projection every event in seq order, keeps the seq they all reflect,
// saves them through checkpoint.h with that seq, loads them at a start and
// rebuilds all of them from seq 1 when any one cannot use what was saved.
// Adding a projection is one new file (a class implementing this
// interface) and one Register line in the ReadModel constructor
// (read_model.cc).
//
// Contract of every implementation:
// - Fold: Apply reads nothing but the projection's own state, the event and
//   the projections registered before it (see Prepare); no I/O, no clock, no
//   failure. Applying the log event by event and loading a checkpoint taken
//   anywhere, then applying the rest, give the same state.
// - Reads: whatever a projection offers its readers (const methods) works
//   from memory alone: never I/O, never an abort on data. Anything that has
//   to come from disk is read in Load, which reports failures as values.
// - Saves write only keys under the projection's own prefixes
//   (CheckpointKeys), laid out in its header.
//
// Thread safety: the read model calls every non-const method with its
// write lock held (or before it shares the object), and the const ones
// under its read lock; FillStep is the exception, see there.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ledger/ledger.h"

namespace ledger::projections {

class CheckpointWriter;
class CheckpointTables;
class CheckpointReader;

// Where a projection's saved form lives in the checkpoint database.
struct CheckpointKeys {
  // The key its version is saved under (decimal text); a saved version
  // other than version() makes the checkpoint unusable.
  std::string_view version_key;
  // Every key it saves starts with one of these; no two projections share
  // a prefix, and none is a prefix of another's key or of the version keys.
  std::vector<std::string_view> prefixes;
};

// What Load made of a checkpoint.
struct LoadOutcome {
  bool usable = true;
  std::string reason;  // why not, a sentence for the log, when !usable

  static LoadOutcome Unusable(std::string why) { return LoadOutcome{.usable = false, .reason = std::move(why)}; }
};

class Projection {
 public:
  virtual ~Projection() = default;

  // For messages: "ticket" in "the checkpoint is of ticket projection
  // version 1".
  virtual std::string_view name() const = 0;
  // Bump when the fold or the saved form changes meaning: every saved
  // checkpoint is then rebuilt from seq 1 at the next start, never misread.
  virtual uint32_t version() const = 0;
  virtual CheckpointKeys checkpoint_keys() const = 0;

  // -- the fold --------------------------------------------------------------

  // Called with every event on every projection, in list order, before any
  // projection applies it: for a projection that needs to see what an
  // earlier one holds before the event (the notification side reads a
  // ticket's systems). Default: nothing.
  virtual void Prepare(const proto::Event& /*event*/) {}
  // Folds one event (`hash` is the ledger's hash of it). Events of types
  // the projection does not know leave it unchanged.
  virtual void Apply(const proto::Event& event, const Sha256Digest& hash) = 0;
  // The same fold, during a catch-up that drops each event right after it:
  // may move the strings of the event's payload out instead of copying them
  // (which fields it carried still reads as before). Projections later in
  // the list then see the event without that text, so a projection that
  // reads payload text must come before any that takes it. Default: Apply.
  virtual void Take(proto::Event* event, const Sha256Digest& hash) { Apply(*event, hash); }
  // Back to the state before any event (for a rebuild).
  virtual void Clear() = 0;

  // -- the saved form --------------------------------------------------------

  // Whether to remember what each Apply changes for SaveChanges (off: a
  // rebuild that saves everything once at its end).
  virtual void TrackChanges(bool on) = 0;
  // Whether anything changed since the last SaveChanges.
  virtual bool HasChanges() const = 0;
  // Writes the records changed since the last SaveChanges (or since
  // TrackChanges was turned on) and forgets them; the read model writes
  // every projection's changes and the seq in one WriteBatch.
  virtual void SaveChanges(CheckpointWriter* batch) = 0;
  // Writes every record of the state, for a checkpoint replaced whole.
  virtual void SaveWhole(CheckpointTables* tables) const = 0;
  // Called under the write lock once what the last SaveChanges or SaveWhole
  // handed out is written (never after a save that failed): a projection
  // may then drop from memory what it can read back from the checkpoint
  // (the notification side's sent jobs). Default: nothing.
  virtual void Saved() {}
  // Replaces the state with the saved one. `reader` reads the checkpoint
  // (and the ledger, up to the checkpoint's seq, for what the projection
  // can repair from it). Fails on a read error; answers Unusable, with
  // the state left cleared, for a saved form that does not check out.
  virtual Result<LoadOutcome> Load(const CheckpointReader& reader) = 0;

  // -- after a load ----------------------------------------------------------

  // Work left after a load that readers do not wait for (the ticket store
  // decoding the tickets nobody has read yet). The read model calls it on a
  // background thread, over and over, until it answers false or `stop` is
  // set; each call runs under the read lock and should be short (about a
  // millisecond). Default: nothing left.
  virtual bool FillStep(const std::atomic<bool>& /*stop*/) const { return false; }
  // Called under the write lock once FillStep has answered false.
  virtual void FillDone() {}
};

}  // namespace ledger::projections
