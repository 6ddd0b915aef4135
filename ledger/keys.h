#pragma once
// On-disk key layout of the ledger's RocksDB database. All integers are
// 8 bytes big-endian so that RocksDB's bytewise order is numeric order.
//
// event:       'e' | seq                              -> prev_hash (32) | hash (32) | record
// ticket idx:  't' | len(ticket) (1 byte) | ticket | seq -> "" (empty)
// submission:  's' | submission_id                    -> seq
// head:        'm' "head"                             -> seq | hash (32)
// counter:     'm' "ticket_counter"                   -> last number handed out by sequence 0
//              'm' "number_counter_" | sequence (decimal) -> the same for sequence 1, 2, ...
// format:      'm' "format"                           -> kFormatVersion as decimal text
//
// `record` is the serialized ledger.proto.Event; hash = SHA-256(prev_hash ||
// record), and event 1's prev_hash is 32 zero bytes. The hashes sit beside the
// record, never inside it, so the record's bytes can be hashed as stored.

#include <cstdint>
#include <string>
#include <string_view>

namespace ledger::keys {

constexpr char kEventPrefix = 'e';
constexpr char kTicketPrefix = 't';
constexpr char kSubmissionPrefix = 's';
constexpr std::string_view kHeadKey = "mhead";
constexpr std::string_view kTicketCounterKey = "mticket_counter";
constexpr std::string_view kNumberCounterKeyPrefix = "mnumber_counter_";
constexpr std::string_view kFormatKey = "mformat";
constexpr std::string_view kFormatVersion = "1";

constexpr size_t kTicketBytesMax = 64;
constexpr size_t kSeqBytes = 8;  // every seq and number in a key or value
constexpr size_t kEventKeyBytes = 1 + kSeqBytes;
constexpr size_t kHashBytes = 32;
constexpr size_t kEventValueHeaderBytes = 2 * kHashBytes;

std::string Event(uint64_t seq);
std::string TicketPrefix(std::string_view ticket);  // ticket.size() <= kTicketBytesMax
std::string TicketEvent(std::string_view ticket, uint64_t seq);
std::string Submission(std::string_view submission_id);
// The counter key of a number sequence: kTicketCounterKey for sequence 0.
std::string NumberCounter(uint32_t sequence);

// True when `key` is shaped like an event key: kEventPrefix and a seq.
bool IsEventKey(std::string_view key);
// Seq of an event key; the key must pass IsEventKey.
uint64_t EventSeq(std::string_view key);

}  // namespace ledger::keys
