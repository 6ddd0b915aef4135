#include "projections/ticket_codec.h"

namespace ledger::projections {
namespace {

// A period's smallest encoding: a one-byte start time, a one-byte offset and
// the byte that says whether an end follows.
constexpr size_t kPeriodBytesMin = 3;

uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}

}  // namespace

void WriteInstant(ByteWriter* writer, const Instant& instant) {
  writer->Signed(instant.unix_micros);
  writer->Signed(instant.offset_minutes);
}

// A saved time must be one RFC 3339 text can name (IsRepresentable), as a
// ledger record's must: nothing the fold makes holds another, and the store
// and the reports rely on it.
bool ReadInstant(ByteReader* reader, Instant* instant) {
  return reader->Signed(&instant->unix_micros) && reader->Signed32(&instant->offset_minutes) &&
         IsRepresentable(*instant);
}

bool ReadMicros(ByteReader* reader, int64_t* unix_micros) {
  return reader->Signed(unix_micros) && IsRepresentable(Instant{*unix_micros, 0});
}

void ByteWriter::Varint(uint64_t value) {
  while (value >= 0x80) {
    out_->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_->push_back(static_cast<char>(value));
}

void ByteWriter::Signed(int64_t value) { Varint(ZigZag(value)); }

void ByteWriter::String(std::string_view text) {
  Varint(text.size());
  out_->append(text);
}

bool ByteReader::Varint32(uint32_t* value) {
  uint64_t wide = 0;
  if (!Varint(&wide) || wide > UINT32_MAX) return false;
  *value = static_cast<uint32_t>(wide);
  return true;
}

bool ByteReader::StringView(std::string_view* text) {
  uint64_t size = 0;
  if (!Varint(&size) || size > kCodecStringBytesMax || size > rest_.size()) return false;
  *text = rest_.substr(0, size);
  rest_.remove_prefix(size);
  return true;
}

bool ByteReader::String(std::string* text) {
  std::string_view view;
  if (!StringView(&view)) return false;
  text->assign(view);
  return true;
}

bool ByteReader::Raw(size_t size, std::string_view* bytes) {
  if (size > rest_.size()) return false;
  *bytes = rest_.substr(0, size);
  rest_.remove_prefix(size);
  return true;
}

void WritePeriods(ByteWriter* writer, const std::vector<Period>& periods) {
  writer->Varint(periods.size());
  for (const Period& period : periods) {
    WriteInstant(writer, period.start);
    writer->Byte(period.end ? 1 : 0);
    if (period.end) WriteInstant(writer, *period.end);
  }
}

bool ReadPeriods(ByteReader* reader, std::vector<Period>* periods) {
  uint64_t count = 0;
  // Each period takes at least kPeriodBytesMin bytes: a count the rest of
  // the record cannot hold is refused before anything is reserved for it.
  if (!reader->Varint(&count) || count > kCodecPeriodsMax || count > reader->remaining() / kPeriodBytesMin) {
    return false;
  }
  periods->clear();
  periods->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    Period period{};
    uint8_t has_end = 0;
    if (!ReadInstant(reader, &period.start) || !reader->Byte(&has_end) || has_end > 1) return false;
    if (has_end == 1) {
      Instant end{};
      if (!ReadInstant(reader, &end)) return false;
      period.end = end;
    }
    periods->push_back(period);
  }
  return true;
}

void WriteTicket(ByteWriter* writer, const TicketState& state) {
  writer->String(state.ticket);
  writer->Byte(state.status == TicketStatus::kClosed ? 1 : 0);
  writer->String(state.title);
  writer->String(state.description);
  writer->Varint(state.systems.size());
  for (const std::string& system : state.systems) writer->String(system);
  writer->String(state.engineer);
  writer->Varint(static_cast<uint64_t>(state.severity));
  writer->String(state.link);
  writer->String(state.last_note);
  WritePeriods(writer, state.periods);
  writer->Varint(state.version);
  writer->Varint(state.opened_seq);
  writer->Varint(state.last_seq);
  writer->Signed(state.opened_at_micros);
  writer->Signed(state.updated_at_micros);
  writer->String(state.other_fields);
  writer->Varint(static_cast<uint64_t>(state.impact));
  writer->Varint(static_cast<uint64_t>(state.phase));
}

bool ReadTicket(ByteReader* reader, TicketState* state) {
  uint8_t closed = 0;
  uint64_t systems = 0;
  uint64_t severity = 0;
  if (!reader->String(&state->ticket) || !reader->Byte(&closed) || closed > 1 || !reader->String(&state->title) ||
      !reader->String(&state->description) || !reader->Varint(&systems) || systems > kCodecSystemsMax) {
    return false;
  }
  state->status = closed == 1 ? TicketStatus::kClosed : TicketStatus::kOpen;
  state->systems.resize(systems);
  for (std::string& system : state->systems) {
    if (!reader->String(&system)) return false;
  }
  if (!reader->String(&state->engineer) || !reader->Varint(&severity) ||
      severity > static_cast<uint64_t>(proto::Severity_MAX) || !reader->String(&state->link) ||
      !reader->String(&state->last_note) || !ReadPeriods(reader, &state->periods) || !reader->Varint32(&state->version) ||
      !reader->Varint(&state->opened_seq) || !reader->Varint(&state->last_seq) ||
      !ReadMicros(reader, &state->opened_at_micros) || !ReadMicros(reader, &state->updated_at_micros) ||
      !reader->String(&state->other_fields)) {
    return false;
  }
  uint64_t impact = 0;
  uint64_t phase = 0;
  // Only values a fold can leave: a known one, never "not given".
  if (!reader->Varint(&impact) || impact == 0 || impact > static_cast<uint64_t>(proto::Impact_MAX) ||
      !proto::Impact_IsValid(static_cast<int>(impact)) || !reader->Varint(&phase) || phase == 0 ||
      phase > static_cast<uint64_t>(proto::Phase_MAX) || !proto::Phase_IsValid(static_cast<int>(phase))) {
    return false;
  }
  state->impact = static_cast<proto::Impact>(impact);
  state->phase = static_cast<proto::Phase>(phase);
  // Checked here so that reading the fields later (OtherFields) cannot fail.
  if (!state->other_fields.empty() && !proto::IncidentPayload().ParseFromString(state->other_fields)) return false;
  state->severity = static_cast<proto::Severity>(severity);
  return true;
}

void EncodeTicket(const TicketState& state, std::string* out) {
  ByteWriter writer(out);
  WriteTicket(&writer, state);
}

bool DecodeTicket(std::string_view bytes, TicketState* state) {
  ByteReader reader(bytes);
  return ReadTicket(&reader, state) && reader.done();
}

void EncodePeriods(const std::vector<Period>& periods, std::string* out) {
  ByteWriter writer(out);
  WritePeriods(&writer, periods);
}

bool DecodePeriods(std::string_view bytes, std::vector<Period>* periods) {
  ByteReader reader(bytes);
  return ReadPeriods(&reader, periods) && reader.done();
}

bool SamePeriods(const std::vector<Period>& a, const std::vector<Period>& b) {
  if (a.size() != b.size()) return false;
  const auto same = [](const Instant& x, const Instant& y) {
    return x.unix_micros == y.unix_micros && x.offset_minutes == y.offset_minutes;
  };
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i].start, b[i].start) || a[i].end.has_value() != b[i].end.has_value()) return false;
    if (a[i].end && !same(*a[i].end, *b[i].end)) return false;
  }
  return true;
}

}  // namespace ledger::projections
