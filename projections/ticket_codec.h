#pragma once
// The compact binary form projection state is saved in (checkpoint.h): a
// ticket, its outage periods alone, and the varint/length-prefixed pieces
// the notification records are built from. Pure; no I/O.
//
// Why not protobuf: a start reads these back for every ticket, and decoding
// straight into TicketState (one allocation per long string, none for the
// message) is several times cheaper than parsing a message and copying it
// out. The layout (all integers LEB128 varints, signed ones zigzag-encoded,
// strings as varint length then bytes):
//
//   ticket:  string ticket | byte status (0 open, 1 closed) | string title |
//            string description | varint systems count, each a string |
//            string engineer | varint severity | string link |
//            string last_note | periods | varint version |
//            varint opened_seq | varint last_seq | zigzag opened_at_micros |
//            zigzag updated_at_micros | string other_fields (a serialized
//            proto::IncidentPayload, see TicketState; empty when none) |
//            varint impact | varint phase (proto enum numbers, never 0)
//   periods: varint count, each: zigzag start micros | zigzag start offset |
//            byte has_end, and if 1: zigzag end micros | zigzag end offset
//
// Decoders check every length against what is left and against the limits
// below, every time against what RFC 3339 can name (IsRepresentable, as the
// ledger checks its records), and answer false for anything malformed or
// with bytes left over.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "projections/tickets.h"

namespace ledger::projections {

// Limits a decoder enforces: far above anything the ingest rules let in.
constexpr size_t kCodecStringBytesMax = size_t{1} << 24;
constexpr size_t kCodecSystemsMax = 1 << 16;
constexpr size_t kCodecPeriodsMax = 1 << 20;

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void Varint(uint64_t value);
  void Signed(int64_t value);  // zigzag
  void Byte(uint8_t value) { out_->push_back(static_cast<char>(value)); }
  void String(std::string_view text);
  void Raw(std::string_view bytes) { out_->append(bytes); }

 private:
  std::string* out_;
};

// Reads what ByteWriter wrote. Each read answers false when the bytes left
// do not hold what it reads (a reader is dropped then: how far it got is
// not said). The small reads are here, inline: a start reads tens of
// millions of them.
class ByteReader {
 public:
  static constexpr size_t kVarintBytesMax = 10;

  explicit ByteReader(std::string_view bytes) : rest_(bytes) {}
  [[nodiscard]] bool Varint(uint64_t* value) {
    const size_t available = std::min(rest_.size(), kVarintBytesMax);
    uint64_t result = 0;
    for (size_t i = 0; i < available; ++i) {
      const auto byte = static_cast<uint8_t>(rest_[i]);
      if (i == kVarintBytesMax - 1 && byte > 1) return false;  // beyond 64 bits
      result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        *value = result;
        rest_.remove_prefix(i + 1);
        return true;
      }
    }
    return false;
  }
  [[nodiscard]] bool Varint32(uint32_t* value);
  [[nodiscard]] bool Signed(int64_t* value) {
    uint64_t raw = 0;
    if (!Varint(&raw)) return false;
    *value = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);  // zigzag
    return true;
  }
  [[nodiscard]] bool Signed32(int32_t* value) {
    int64_t wide = 0;
    if (!Signed(&wide) || wide < INT32_MIN || wide > INT32_MAX) return false;
    *value = static_cast<int32_t>(wide);
    return true;
  }
  [[nodiscard]] bool Byte(uint8_t* value) {
    if (rest_.empty()) return false;
    *value = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return true;
  }
  [[nodiscard]] bool String(std::string* text);
  [[nodiscard]] bool StringView(std::string_view* text);
  [[nodiscard]] bool Raw(size_t size, std::string_view* bytes);
  bool done() const { return rest_.empty(); }
  size_t remaining() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

void EncodeTicket(const TicketState& state, std::string* out);
// Decodes into `state` (overwriting it); the ticket number is not part of
// the encoding (it is the key's) and is left alone.
[[nodiscard]] bool DecodeTicket(std::string_view bytes, TicketState* state);

void EncodePeriods(const std::vector<Period>& periods, std::string* out);
[[nodiscard]] bool DecodePeriods(std::string_view bytes, std::vector<Period>* periods);
// The same pieces inside a longer record.
void WritePeriods(ByteWriter* writer, const std::vector<Period>& periods);
[[nodiscard]] bool ReadPeriods(ByteReader* reader, std::vector<Period>* periods);
void WriteTicket(ByteWriter* writer, const TicketState& state);
[[nodiscard]] bool ReadTicket(ByteReader* reader, TicketState* state);

// A zigzag time in microseconds, refused unless IsRepresentable.
[[nodiscard]] bool ReadMicros(ByteReader* reader, int64_t* unix_micros);
// An instant: zigzag micros | zigzag offset minutes; refused unless
// IsRepresentable.
void WriteInstant(ByteWriter* writer, const Instant& instant);
[[nodiscard]] bool ReadInstant(ByteReader* reader, Instant* instant);

bool SamePeriods(const std::vector<Period>& a, const std::vector<Period>& b);

}  // namespace ledger::projections
