#pragma once
// The record codec: the one place that builds a stored event value and the
// one place that checks and decodes one read back. The value layouts
// (event: prev_hash | hash | record; head: seq | hash; counter and
// submission entries: 8-byte numbers) are drawn in keys.h. `record` is the
// serialized ledger.proto.Event, written with deterministic serialization;
// hash = SHA-256(prev_hash || record).
//
// Checks run on both sides of the disk: EncodeRecord refuses what may not be
// written; CheckStoredValue, ParseRecord and LinkChecker check what is read.
// Every read check fails with kCorruption and a message "event N: why";
// nothing here throws, does I/O or keeps state beyond its arguments, so every
// function may be called from any thread (a LinkChecker from one at a time).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"
#include "event.pb.h"

namespace ledger {

// A record larger than this is refused before it is written; requests are
// capped well below it at the HTTP edge.
constexpr size_t kRecordBytesMax = 1 << 20;

struct StoredEvent {
  uint64_t seq = 0;
  std::string record;  // the stored protobuf bytes, exactly as hashed
  Sha256Digest prev_hash{};
  Sha256Digest hash{};
  proto::Event event;  // `record`, decoded
};

// Ticket numbers come from number sequences, each counting 1, 2, ... on
// its own. The ledger knows a sequence by its index alone; what its numbers
// are called (INC-7, MNT-3) is the caller's business
// (projections/ticket_name.h). Sequence 0 is the one tickets have always
// used.
using NumberSequence = uint32_t;
constexpr size_t kNumberSequences = 4;

// A number of one sequence.
struct NumberedName {
  NumberSequence sequence = 0;
  uint64_t number = 0;
};

struct Head {
  uint64_t seq = 0;  // 0: the ledger is empty
  Sha256Digest hash{};
  // The last number handed out by each sequence (0: none yet).
  std::array<uint64_t, kNumberSequences> last_numbers{};
};

// Checks a stored event value (prev_hash | hash | record) read under `seq`'s
// key, and decodes it. Does not check the link to the predecessor.
Result<StoredEvent> DecodeStoredEvent(uint64_t seq, std::string_view value);

namespace record {

// kCorruption "event <seq>: <why>".
Error Corruption(uint64_t seq, std::string_view why);

// Serializes `event` deterministically (the same event always gives the same
// bytes) into `record`. Fails with kInvalidArgument when protobuf cannot
// encode it and kTooLarge beyond kRecordBytesMax.
Status EncodeRecord(const proto::Event& event, std::string* record);

// The stored value of an event: prev_hash | hash | record.
std::string EncodeStoredValue(const Sha256Digest& prev_hash, const Sha256Digest& hash, std::string_view record);

// The read check of a stored value: its size, and its hash against
// SHA-256(prev_hash || record). The link to the predecessor is LinkChecker's.
Status CheckStoredValue(uint64_t seq, std::string_view value);

// Decodes the record read under `seq`'s key into `event`, and checks what
// only the decoded record can tell: its seq, that every time in it is one
// RFC 3339 can name, and that every enum value in it (severity, impact,
// phase) is a known one.
Status ParseRecord(uint64_t seq, std::string_view record, proto::Event* event);

// The record part of a value that passed CheckStoredValue.
std::string_view RecordOf(std::string_view value);

// Fills `stored` (reusing its buffers) from a value that passed
// CheckStoredValue, and decodes its record (ParseRecord).
Status FillStoredEvent(uint64_t seq, std::string_view value, StoredEvent* stored);

// The head record (seq | hash); each sequence's counter is a key of its own.
std::string EncodeHead(const Head& head);
// Fills seq and hash of `head`; kCorruption when `value` is malformed.
Status DecodeHead(std::string_view value, Head* head);

// An 8-byte big-endian number: a submission index entry's seq, the ticket
// counter.
std::string EncodeNumber(uint64_t number);
// kCorruption naming `what` unless `value` is exactly 8 bytes.
Result<uint64_t> DecodeNumber(std::string_view value, std::string_view what);

// Checks the chain in seq order, one value at a time: that each value's
// prev_hash is the hash of the one before (event 1 chains from 32 zero
// bytes). Only for values that passed CheckStoredValue.
class LinkChecker {
 public:
  explicit LinkChecker(const Sha256Digest& previous_hash) : previous_hash_(previous_hash) {}
  // kCorruption when `value` does not link to the previous one; on success
  // `value` becomes the previous one.
  Status Link(uint64_t seq, std::string_view value);
  // The hash of the last value linked (or the starting hash).
  const Sha256Digest& last_hash() const { return previous_hash_; }

 private:
  Sha256Digest previous_hash_;
};

}  // namespace record
}  // namespace ledger
