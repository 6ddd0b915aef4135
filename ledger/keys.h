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
// tree node:   'n' | level (1 byte) | index           -> hash (32)
// tree size:   'm' "tree_size"                        -> events the tree nodes cover (8 bytes)
//
// `record` is the serialized ledger.proto.Event; hash = SHA-256(prev_hash ||
// record), and event 1's prev_hash is 32 zero bytes. The hashes sit beside the
// record, never inside it, so the record's bytes can be hashed as stored.
//
// Tree nodes are the perfect subtrees of the RFC 9162 Merkle tree over the
// event hashes (ledger/merkle.h): node (level L, index i) covers events
// i * 2^L + 1 to (i + 1) * 2^L. They are written in the same WriteBatch as
// the event that completes them, and the tree size beside the head, so the
// tree never lags the log, except in a ledger written before the tree
// existed (or by a tool that dropped it), which Open catches up (see
// "The Merkle tree" in ledger.h). Level first, so that one level's nodes
// are one run of keys in index order.

#include <cstdint>
#include <string>
#include <string_view>

namespace ledger::keys {

constexpr char kEventPrefix = 'e';
constexpr char kTicketPrefix = 't';
constexpr char kSubmissionPrefix = 's';
constexpr char kTreeNodePrefix = 'n';
constexpr std::string_view kHeadKey = "mhead";
constexpr std::string_view kTicketCounterKey = "mticket_counter";
constexpr std::string_view kNumberCounterKeyPrefix = "mnumber_counter_";
constexpr std::string_view kFormatKey = "mformat";
constexpr std::string_view kTreeSizeKey = "mtree_size";
constexpr std::string_view kFormatVersion = "1";

constexpr size_t kTicketBytesMax = 64;
constexpr size_t kSeqBytes = 8;  // every seq and number in a key or value
constexpr size_t kEventKeyBytes = 1 + kSeqBytes;
constexpr size_t kHashBytes = 32;
constexpr size_t kEventValueHeaderBytes = 2 * kHashBytes;
constexpr size_t kTreeNodeKeyBytes = 1 + 1 + kSeqBytes;

std::string Event(uint64_t seq);
std::string TicketPrefix(std::string_view ticket);  // ticket.size() <= kTicketBytesMax
std::string TicketEvent(std::string_view ticket, uint64_t seq);
std::string Submission(std::string_view submission_id);
std::string TreeNode(uint8_t level, uint64_t index);
// The first key of a level's nodes (index 0).
inline std::string TreeLevel(uint8_t level) { return TreeNode(level, 0); }
// The counter key of a number sequence: kTicketCounterKey for sequence 0.
std::string NumberCounter(uint32_t sequence);

// True when `key` is shaped like an event key: kEventPrefix and a seq.
bool IsEventKey(std::string_view key);
// Seq of an event key; the key must pass IsEventKey.
uint64_t EventSeq(std::string_view key);

}  // namespace ledger::keys
