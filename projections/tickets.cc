#include "projections/tickets.h"

#include "projections/system_matcher.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <zstd.h>

#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

// zstd's level for packs of saved records (PackRecords): its fastest
// regular level; higher ones make a whole save slower for a few percent
// less memory.
constexpr int kPackLevel = 1;

Instant FromProto(const proto::Timestamp& timestamp) {
  return Instant{timestamp.unix_micros(), timestamp.offset_minutes()};
}

bool ContainsFolded(std::string_view haystack, std::string_view folded_needle) {
  if (folded_needle.empty()) return true;
  if (haystack.size() < folded_needle.size()) return false;
  for (size_t i = 0; i + folded_needle.size() <= haystack.size(); ++i) {
    size_t k = 0;
    while (k < folded_needle.size() && std::tolower(static_cast<unsigned char>(haystack[i + k])) ==
                                           std::tolower(static_cast<unsigned char>(folded_needle[k]))) {
      ++k;
    }
    if (k == folded_needle.size()) return true;
  }
  return false;
}

// The timeline index's bucket of a time: its day since the epoch, rounded
// down (also before 1970).
int64_t DayOf(int64_t unix_micros) {
  constexpr int64_t kMicrosPerDay = 86'400'000'000;
  const int64_t day = unix_micros / kMicrosPerDay;
  return unix_micros % kMicrosPerDay < 0 ? day - 1 : day;
}

bool MatchesText(const TicketState& state, std::string_view folded) {
  if (ContainsFolded(state.ticket, folded) || ContainsFolded(state.title, folded) ||
      ContainsFolded(state.description, folded) || ContainsFolded(state.engineer, folded)) {
    return true;
  }
  return std::any_of(state.systems.begin(), state.systems.end(),
                     [folded](const std::string& system) { return ContainsFolded(system, folded); });
}

// The payload fields the fold names (FoldIncident below). Every other field
// of proto::IncidentPayload is kept generically in TicketState::other_fields.
constexpr std::array kNamedFieldNumbers = {
    proto::IncidentPayload::kTitleFieldNumber,     proto::IncidentPayload::kDescriptionFieldNumber,
    proto::IncidentPayload::kSystemsFieldNumber,   proto::IncidentPayload::kEngineerFieldNumber,
    proto::IncidentPayload::kSeverityFieldNumber,  proto::IncidentPayload::kStartedAtFieldNumber,
    proto::IncidentPayload::kEndedAtFieldNumber,   proto::IncidentPayload::kNoteFieldNumber,
    proto::IncidentPayload::kLinkFieldNumber,      proto::IncidentPayload::kImpactFieldNumber,
    proto::IncidentPayload::kPhaseFieldNumber,
};

bool IsNamedField(int number) {
  return std::find(kNamedFieldNumbers.begin(), kNamedFieldNumbers.end(), number) != kNamedFieldNumbers.end();
}

using google::protobuf::FieldDescriptor;

// The fields kept in other_fields, in field-number order; empty while the
// fold names every field.
const std::vector<const FieldDescriptor*>& OtherFieldDescriptors() {
  static const std::vector<const FieldDescriptor*> fields = [] {
    std::vector<const FieldDescriptor*> list;
    const google::protobuf::Descriptor* message = proto::IncidentPayload::descriptor();
    for (int i = 0; i < message->field_count(); ++i) {
      if (!IsNamedField(message->field(i)->number())) list.push_back(message->field(i));
    }
    return list;
  }();
  return fields;
}

// The payload's reflection, looked up once (GetReflection() checks the
// descriptors are assigned on every call: a cost in a fold of every event).
const google::protobuf::Reflection& PayloadReflection() {
  static const google::protobuf::Reflection* const reflection = proto::IncidentPayload::GetReflection();
  return *reflection;
}

bool Carries(const proto::IncidentPayload& payload, const FieldDescriptor* field) {
  const google::protobuf::Reflection& reflection = PayloadReflection();
  return field->is_repeated() ? reflection.FieldSize(payload, field) > 0 : reflection.HasField(payload, field);
}

// Sets every other field `payload` carries in `state->other_fields`; a
// message-typed field (a time, a list) is replaced whole, an emptied text
// dropped.
void KeepOtherFields(TicketState* state, const proto::IncidentPayload& payload) {
  const std::vector<const FieldDescriptor*>& others = OtherFieldDescriptors();
  if (std::none_of(others.begin(), others.end(), [&](const FieldDescriptor* f) { return Carries(payload, f); })) return;

  proto::IncidentPayload kept = OtherFields(*state);
  proto::IncidentPayload given = payload;
  const google::protobuf::Reflection* reflection = &PayloadReflection();
  const google::protobuf::Descriptor* message = proto::IncidentPayload::descriptor();
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* field = message->field(i);
    if (IsNamedField(field->number())) {
      reflection->ClearField(&given, field);
    } else if (Carries(given, field)) {
      reflection->ClearField(&kept, field);
    }
  }
  kept.MergeFrom(given);
  for (const FieldDescriptor* field : others) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !field->is_repeated() &&
        reflection->HasField(kept, field) && reflection->GetString(kept, field).empty()) {
      reflection->ClearField(&kept, field);
    }
  }
  state->other_fields.clear();
  if (kept.ByteSizeLong() > 0) kept.SerializeToString(&state->other_fields);
}

}  // namespace

proto::IncidentPayload OtherFields(const TicketState& state) {
  proto::IncidentPayload fields;
  // Written by KeepOtherFields or read back by the checkpoint codec, which
  // checks that it parses; a failure here is a programmer error.
  if (!state.other_fields.empty() && !fields.ParseFromString(state.other_fields)) {
    std::fprintf(stderr, "ticket %s: its other payload fields do not parse\n", state.ticket.c_str());
    std::abort();
  }
  return fields;
}

std::optional<uint64_t> ParseTicketNumber(std::string_view ticket) {
  const std::optional<TicketName> name = TicketName::Parse(ticket);
  if (!name) return std::nullopt;
  return name->number;
}

const char* SeverityName(proto::Severity severity) {
  switch (severity) {
    case proto::MAJOR: return "major";
    case proto::CRITICAL: return "critical";
    default: return "minor";
  }
}

const char* ImpactName(proto::Impact impact) {
  switch (impact) {
    case proto::PARTIAL: return "partial";
    case proto::DEGRADED: return "degraded";
    default: return "full";
  }
}

const char* PhaseName(const TicketState& state) {
  if (state.status == TicketStatus::kClosed) return "resolved";
  switch (state.phase) {
    case proto::IDENTIFIED: return "identified";
    case proto::MONITORING: return "monitoring";
    default: return "investigating";
  }
}

bool IsInternal(const TicketState& state) {
  if (state.other_fields.empty()) return false;  // the usual case: nothing to parse
  return OtherFields(state).visibility() == proto::INTERNAL;
}

const char* StatusName(TicketStatus status) { return status == TicketStatus::kOpen ? "open" : "closed"; }

namespace {

// The fold itself. With `takeable` (the same event, writable) the text is
// moved out of the event instead of copied.
void FoldIncident(TicketState* state, const proto::Event& event, proto::Event* takeable) {
  if (!event.has_incident()) return;
  const proto::IncidentPayload& payload = event.incident();
  proto::IncidentPayload* const take = takeable != nullptr ? takeable->mutable_incident() : nullptr;
  const Instant recorded{event.recorded_at_micros(), 0};

  if (event.type() == proto::INCIDENT_OPENED) {
    state->ticket = event.ticket();
    state->ticket_number = ParseTicketNumber(event.ticket()).value_or(0);
    state->opened_seq = event.seq();
    state->opened_at_micros = event.recorded_at_micros();
    state->status = TicketStatus::kOpen;
    state->periods.clear();
    state->periods.push_back(Period{payload.has_started_at() ? FromProto(payload.started_at()) : recorded, {}});
  }
  if (payload.has_title()) state->title = take ? std::move(*take->mutable_title()) : payload.title();
  if (payload.has_description()) {
    state->description = take ? std::move(*take->mutable_description()) : payload.description();
  }
  if (payload.has_systems()) {
    if (take) {
      state->systems.clear();
      for (std::string& name : *take->mutable_systems()->mutable_names()) state->systems.push_back(std::move(name));
    } else {
      state->systems.assign(payload.systems().names().begin(), payload.systems().names().end());
    }
  }
  if (payload.has_engineer()) state->engineer = take ? std::move(*take->mutable_engineer()) : payload.engineer();
  if (payload.severity() != proto::SEVERITY_UNSPECIFIED) state->severity = payload.severity();
  if (payload.impact() != proto::IMPACT_UNSPECIFIED) state->impact = payload.impact();
  // A reopened incident is investigated again unless the reopen says where
  // the response stands; a close resolves it (PhaseName), keeping the last
  // phase it had while open.
  if (event.type() == proto::INCIDENT_REOPENED) state->phase = proto::INVESTIGATING;
  if (payload.phase() != proto::PHASE_UNSPECIFIED) state->phase = payload.phase();
  if (payload.has_link()) state->link = take ? std::move(*take->mutable_link()) : payload.link();
  if (payload.has_note()) state->last_note = take ? std::move(*take->mutable_note()) : payload.note();
  KeepOtherFields(state, payload);

  switch (event.type()) {
    case proto::INCIDENT_OPENED:
      break;
    case proto::INCIDENT_CLOSED:
      state->status = TicketStatus::kClosed;
      if (!state->periods.empty()) {
        state->periods.back().end = payload.has_ended_at() ? FromProto(payload.ended_at()) : recorded;
        if (payload.has_started_at()) state->periods.back().start = FromProto(payload.started_at());
      }
      break;
    case proto::INCIDENT_REOPENED:
      state->status = TicketStatus::kOpen;
      state->periods.push_back(Period{payload.has_started_at() ? FromProto(payload.started_at()) : recorded, {}});
      break;
    case proto::INCIDENT_UPDATED:
      if (!state->periods.empty()) {
        if (payload.has_started_at()) state->periods.back().start = FromProto(payload.started_at());
        if (payload.has_ended_at() && state->periods.back().end) {
          state->periods.back().end = FromProto(payload.ended_at());
        }
      }
      break;
    default:
      return;
  }
  state->version = event.version();
  state->last_seq = event.seq();
  state->updated_at_micros = event.recorded_at_micros();
}

}  // namespace

void ApplyIncidentEvent(TicketState* state, const proto::Event& event) { FoldIncident(state, event, nullptr); }

void TakeIncidentEvent(TicketState* state, proto::Event* event) { FoldIncident(state, *event, event); }

struct TicketStore::Chunk {
  // What the chunk's built tickets span: ChangedAfter skips a chunk whose
  // tickets all opened after a point, or all last changed by it. Only ever
  // widened (a ticket replaced leaves its old values in), so a bound may be
  // loose, never wrong.
  struct Bounds {
    uint64_t opened_seq_min = UINT64_MAX;
    int64_t opened_micros_min = INT64_MAX;
    uint64_t last_seq_max = 0;
    int64_t updated_micros_max = INT64_MIN;
  };

  Chunk() : slots(static_cast<Entry**>(std::calloc(kChunkSlots, sizeof(Entry*)))) {
    if (slots == nullptr) throw std::bad_alloc();
  }
  ~Chunk() { std::free(slots); }
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  // Slot i's built ticket (nullptr: none built), read and written
  // atomically: a build beside readers fills it (Build).
  std::atomic_ref<Entry*> entry(uint64_t slot) const { return std::atomic_ref<Entry*>(slots[slot]); }

  // Built tickets; owned. Allocated zeroed (calloc), and written only as
  // tickets are built: a lazily loaded store does not touch these pages
  // at start (32 KiB a chunk, 16 MiB at 2,000,000 tickets), the fill does
  // later.
  Entry** const slots;
  std::bitset<kChunkSlots> present;  // a ticket exists (built or not)
  Bounds bounds;
};

struct TicketStore::Lazy {
  SavedTickets saved;
  // Where the background fill (BuildSome) goes on: an index into
  // saved.numbers.
  mutable std::atomic<size_t> fill_cursor{0};
  // The pack Build decoded from last (under build_mutex_): neighbouring
  // tickets, which the fill and a window's query build one after another,
  // share a pack.
  mutable SavedTickets::Unpacked unpacked;
  // Per block of saved.blocks, how many unbuilt tickets still read from it
  // (under build_mutex_): a block is freed when the last of them is built,
  // so that the fill does not hold the saved bytes and the decoded tickets
  // longer than it must.
  std::vector<uint32_t> block_readers;

  void Built(size_t index) {
    const uint32_t block = saved.BlockOf(index);
    if (block == SavedTickets::kNoBlock) return;
    LEDGER_ASSERT(block_readers[block] > 0);
    if (--block_readers[block] == 0) SavedTickets::Block().swap(saved.blocks[block]);
  }
};

std::pair<uint32_t, uint32_t> SavedTickets::Store(std::string_view bytes) {
  if (blocks.empty() || blocks.back().capacity() - blocks.back().size() < bytes.size()) {
    blocks.emplace_back();
    blocks.back().reserve(std::max(kBlockBytes, bytes.size()));
  }
  Block& block = blocks.back();
  const auto offset = static_cast<uint32_t>(block.size());
  block.append(bytes);
  return {static_cast<uint32_t>(blocks.size() - 1), offset};
}

SavedTickets::Record SavedTickets::Keep(std::string_view record) {
  const auto [block, offset] = Store(record);
  LEDGER_ASSERT(block < kAlone);
  return Record{.place = kAlone | block, .offset = offset, .size = static_cast<uint32_t>(record.size())};
}

uint32_t SavedTickets::AddPack(std::string_view packed, uint32_t unpacked_size) {
  const auto [block, offset] = Store(packed);
  packs.push_back(Pack{.block = block,
                       .offset = offset,
                       .packed_size = static_cast<uint32_t>(packed.size()),
                       .unpacked_size = unpacked_size});
  LEDGER_ASSERT(packs.size() <= kAlone);
  return static_cast<uint32_t>(packs.size() - 1);
}

uint32_t SavedTickets::AddPinnedPack(std::string_view packed, uint32_t unpacked_size) {
  packs.push_back(Pack{.packed_size = static_cast<uint32_t>(packed.size()),
                       .unpacked_size = unpacked_size,
                       .pinned = packed.data()});
  LEDGER_ASSERT(packs.size() <= kAlone);
  return static_cast<uint32_t>(packs.size() - 1);
}

void SavedTickets::AddUnindexed(uint64_t number, Record where) {
  LEDGER_ASSERT(numbers.empty() || number > numbers.back());
  numbers.push_back(number);
  records.push_back(where);
}

std::string_view SavedTickets::RecordAt(size_t index, Unpacked* scratch) const {
  const Record& where = records[index];
  if ((where.place & kAlone) != 0) {
    return std::string_view(blocks[where.place & ~kAlone]).substr(where.offset, where.size);
  }
  if (scratch->pack != where.place) {
    const Pack& pack = packs[where.place];
    const std::string_view packed =
        pack.pinned != nullptr ? std::string_view(pack.pinned, pack.packed_size)
                               : std::string_view(blocks[pack.block]).substr(pack.offset, pack.packed_size);
    scratch->pack = UINT32_MAX;
    // The load checked the pack's bytes against their digest: they are what
    // the save wrote, so a failure here is a bug, not bad data.
    const bool unpacked = UnpackRecords(packed, pack.unpacked_size, &scratch->bytes);
    LEDGER_ASSERT(unpacked);
    scratch->pack = where.place;
  }
  LEDGER_ASSERT(size_t{where.offset} + where.size <= scratch->bytes.size());
  return std::string_view(scratch->bytes).substr(where.offset, where.size);
}

void PackRecords(std::string_view unpacked, std::string* packed) {
  packed->resize(ZSTD_compressBound(unpacked.size()));
  const size_t size = ZSTD_compress(packed->data(), packed->size(), unpacked.data(), unpacked.size(), kPackLevel);
  LEDGER_ASSERT(!ZSTD_isError(size));  // only a bound too small fails, and it is zstd's own
  packed->resize(size);
}

bool UnpackRecords(std::string_view packed, size_t unpacked_size, std::string* unpacked) {
  if (ZSTD_getFrameContentSize(packed.data(), packed.size()) != unpacked_size) return false;
  unpacked->resize(unpacked_size);
  const size_t size = ZSTD_decompress(unpacked->data(), unpacked->size(), packed.data(), packed.size());
  return !ZSTD_isError(size) && size == unpacked_size;
}

TicketStore::TicketStore() = default;

TicketStore::~TicketStore() { Clear(); }

TicketStore::TicketStore(const TicketStore& other) { CopyFrom(other); }

TicketStore& TicketStore::operator=(const TicketStore& other) {
  if (this != &other) {
    Clear();
    CopyFrom(other);
  }
  return *this;
}

TicketStore::TicketStore(TicketStore&& other) noexcept { *this = std::move(other); }

TicketStore& TicketStore::operator=(TicketStore&& other) noexcept {
  if (this == &other) return *this;
  Clear();
  chunks_ = std::move(other.chunks_);
  sparse_ = std::move(other.sparse_);
  size_ = other.size_;
  lazy_ = std::move(other.lazy_);
  unbuilt_.store(other.unbuilt_.load());
  index_ = std::move(other.index_);
  system_uses_ = std::move(other.system_uses_);
  names_ = std::move(other.names_);
  other.chunks_.clear();
  other.sparse_.clear();
  other.size_ = 0;
  other.unbuilt_.store(0);
  other.index_.Clear();
  other.system_uses_.clear();
  return *this;
}

void TicketStore::CopyFrom(const TicketStore& other) {
  other.BuildAll();
  for (const auto& [number, state] : other.all()) Widen(number, Insert(number, state)->second);
  index_ = other.index_;
  names_ = other.names_;
}

std::optional<uint64_t> TicketStore::Apply(const proto::Event& event) { return Fold(event, nullptr); }

std::optional<uint64_t> TicketStore::Take(proto::Event* event) { return Fold(*event, event); }

std::optional<uint64_t> TicketStore::Fold(const proto::Event& event, proto::Event* takeable) {
  if (!event.has_incident()) return std::nullopt;
  const std::optional<uint64_t> number = ParseTicketNumber(event.ticket());
  if (!number) return std::nullopt;
  Entry* found = MutableEntryFor(*number);
  if (found == nullptr) {
    if (event.type() != proto::INCIDENT_OPENED) return std::nullopt;
    found = Insert(*number, TicketState{});
  }
  // Only these can move an outage period; notes and other fields leave the
  // timeline index alone.
  const bool moves_periods = event.type() != proto::INCIDENT_UPDATED || event.incident().has_started_at() ||
                             event.incident().has_ended_at();
  const bool moves_systems = event.incident().has_systems();
  if (moves_periods) index_.Remove(*number, found->second.periods);
  if (moves_systems) CountSystems(found->second, -1);
  FoldIncident(&found->second, event, takeable);
  Widen(*number, found->second);
  if (moves_systems) CountSystems(found->second, +1);
  if (moves_periods) index_.Add(*number, found->second.periods);
  return number;
}

void TicketStore::Clear() {
  for (const std::unique_ptr<Chunk>& chunk : chunks_) {
    if (!chunk) continue;
    for (uint64_t slot = 0; slot < kChunkSlots; ++slot) delete chunk->entry(slot).exchange(nullptr);
  }
  chunks_.clear();
  sparse_.clear();
  size_ = 0;
  lazy_.reset();
  unbuilt_.store(0);
  index_.Clear();
  system_uses_.clear();
}

void TicketStore::Put(TicketState state) {
  const uint64_t number = state.ticket_number;
  if (Entry* found = MutableEntryFor(number)) {
    index_.Remove(number, found->second.periods);
    CountSystems(found->second, -1);
    found->second = std::move(state);
    CountSystems(found->second, +1);
    Widen(number, found->second);
    index_.Add(number, found->second.periods);
    return;
  }
  Entry* made = Insert(number, std::move(state));
  Widen(number, made->second);
  index_.Add(number, made->second.periods);
}

TicketStore::Entry* TicketStore::Insert(uint64_t ticket_number, TicketState state) {
  if (ticket_number >= kDenseNumbersMax) {
    std::unique_ptr<Entry>& slot = sparse_[ticket_number];
    LEDGER_ASSERT(!slot);
    slot = std::make_unique<Entry>(ticket_number, std::move(state));
    CountSystems(slot->second, +1);
    ++size_;
    return slot.get();
  }
  const uint64_t chunk_index = ticket_number >> kChunkBits;
  if (chunk_index >= chunks_.size()) chunks_.resize(chunk_index + 1);
  if (!chunks_[chunk_index]) chunks_[chunk_index] = std::make_unique<Chunk>();
  Chunk& chunk = *chunks_[chunk_index];
  const uint64_t slot = ticket_number & (kChunkSlots - 1);
  LEDGER_ASSERT(!chunk.present[slot]);
  auto* made = new Entry(ticket_number, std::move(state));
  CountSystems(made->second, +1);
  chunk.entry(slot).store(made, std::memory_order_release);
  chunk.present[slot] = true;
  ++size_;
  return made;
}

const TicketStore::Entry* TicketStore::EntryFor(uint64_t ticket_number) const {
  if (ticket_number >= kDenseNumbersMax) {
    const auto found = sparse_.find(ticket_number);
    return found == sparse_.end() ? nullptr : found->second.get();
  }
  const uint64_t chunk_index = ticket_number >> kChunkBits;
  if (chunk_index >= chunks_.size() || !chunks_[chunk_index]) return nullptr;
  Chunk& chunk = *chunks_[chunk_index];
  const uint64_t slot = ticket_number & (kChunkSlots - 1);
  if (const Entry* built = chunk.entry(slot).load(std::memory_order_acquire)) return built;
  if (!chunk.present[slot]) return nullptr;
  return Build(ticket_number, chunk.entry(slot));
}

TicketStore::Entry* TicketStore::MutableEntryFor(uint64_t ticket_number) {
  // The store owns every entry; only the const lookups hand them out const.
  return const_cast<Entry*>(EntryFor(ticket_number));
}

const TicketStore::Entry* TicketStore::Build(uint64_t ticket_number, std::atomic_ref<Entry*> slot) const {
  std::lock_guard lock(build_mutex_);
  if (const Entry* built = slot.load(std::memory_order_relaxed)) return built;
  LEDGER_ASSERT(lazy_ != nullptr);
  const SavedTickets& saved = lazy_->saved;
  const auto position = std::lower_bound(saved.numbers.begin(), saved.numbers.end(), ticket_number);
  LEDGER_ASSERT(position != saved.numbers.end() && *position == ticket_number);
  auto* made = new Entry(ticket_number, TicketState{});
  // The load checked every record against its digest (SavedTickets): it is
  // what a save encoded, so a failure here is a bug, not bad data.
  const bool decoded = DecodeTicket(
      saved.RecordAt(static_cast<size_t>(position - saved.numbers.begin()), &lazy_->unpacked), &made->second);
  LEDGER_ASSERT(decoded);
  made->second.ticket_number = ticket_number;
  CountSystems(made->second, +1);
  Widen(ticket_number, made->second);
  slot.store(made, std::memory_order_release);
  lazy_->Built(static_cast<size_t>(position - saved.numbers.begin()));
  unbuilt_.fetch_sub(1, std::memory_order_acq_rel);
  return made;
}

bool TicketStore::BuildSome(size_t count) const {
  if (lazy_ == nullptr || unbuilt_.load(std::memory_order_acquire) == 0) return false;
  const LargeVector<uint64_t>& numbers = lazy_->saved.numbers;
  size_t index = lazy_->fill_cursor.load(std::memory_order_relaxed);
  for (size_t built = 0; index < numbers.size() && built < count; ++index) {
    if (!Unbuilt(numbers[index])) continue;
    (void)EntryFor(numbers[index]);  // builds it
    ++built;
  }
  lazy_->fill_cursor.store(index, std::memory_order_relaxed);
  return index < numbers.size() && unbuilt_.load(std::memory_order_acquire) > 0;
}

void TicketStore::ReleaseSavedIfBuilt() {
  if (unbuilt_.load(std::memory_order_acquire) == 0) lazy_.reset();
}

bool TicketStore::Unbuilt(uint64_t ticket_number) const {
  const uint64_t chunk_index = ticket_number >> kChunkBits;
  if (ticket_number >= kDenseNumbersMax || chunk_index >= chunks_.size() || !chunks_[chunk_index]) return false;
  const Chunk& chunk = *chunks_[chunk_index];
  const uint64_t slot = ticket_number & (kChunkSlots - 1);
  return chunk.present[slot] && chunk.entry(slot).load(std::memory_order_acquire) == nullptr;
}

void TicketStore::BuildAll() const {
  if (unbuilt_.load(std::memory_order_acquire) == 0) return;
  for (const uint64_t number : lazy_->saved.numbers) {
    if (Unbuilt(number)) (void)EntryFor(number);  // builds it
  }
}

Status TicketStore::AttachSaved(SavedTickets saved) {
  Clear();
  const size_t count = saved.numbers.size();
  if (saved.records.size() != count) return MakeError(ErrorCode::kCorruption, "ticket outlines do not add up");
  for (size_t i = 1; i < count; ++i) {
    if (saved.numbers[i] <= saved.numbers[i - 1]) {
      return MakeError(ErrorCode::kCorruption, "ticket outlines are out of order");
    }
  }
  lazy_ = std::make_unique<Lazy>();
  lazy_->saved = std::move(saved);
  index_ = std::move(lazy_->saved.timeline);
  lazy_->saved.timeline.Clear();
  const LargeVector<uint64_t>& numbers = lazy_->saved.numbers;
  size_t unbuilt = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t number = numbers[i];
    if (number >= kDenseNumbersMax) {
      // The few outliers beyond the dense range are decoded now: their map
      // has no slot to build into later.
      auto made = std::make_unique<Entry>(number, TicketState{});
      const bool decoded = DecodeTicket(lazy_->saved.RecordAt(i, &lazy_->unpacked), &made->second);
      LEDGER_ASSERT(decoded);  // checked against its digest by the load (SavedTickets)
      made->second.ticket_number = number;
      CountSystems(made->second, +1);
      sparse_[number] = std::move(made);
      ++size_;
      continue;
    }
    const uint64_t chunk_index = number >> kChunkBits;
    if (chunk_index >= chunks_.size()) chunks_.resize(chunk_index + 1);
    if (!chunks_[chunk_index]) chunks_[chunk_index] = std::make_unique<Chunk>();
    chunks_[chunk_index]->present[number & (kChunkSlots - 1)] = true;
    ++size_;
    ++unbuilt;
  }
  lazy_->block_readers.assign(lazy_->saved.blocks.size(), 0);
  for (size_t i = 0; i < count; ++i) {
    if (numbers[i] >= kDenseNumbersMax) continue;
    if (const uint32_t block = lazy_->saved.BlockOf(i); block != SavedTickets::kNoBlock) {
      ++lazy_->block_readers[block];
    }
  }
  unbuilt_.store(unbuilt);
  if (unbuilt == 0) lazy_.reset();
  return {};
}

const TicketStore::Entry* TicketStore::EntryAtOrAfter(uint64_t from) const {
  for (uint64_t chunk_index = from >> kChunkBits; from < kDenseNumbersMax && chunk_index < chunks_.size();
       ++chunk_index, from = chunk_index << kChunkBits) {
    if (!chunks_[chunk_index]) continue;
    const Chunk& chunk = *chunks_[chunk_index];
    for (uint64_t slot = from & (kChunkSlots - 1); slot < kChunkSlots; ++slot) {
      if (chunk.present[slot]) return EntryFor((chunk_index << kChunkBits) | slot);
    }
  }
  const auto found = sparse_.lower_bound(std::max(from, kDenseNumbersMax));
  return found == sparse_.end() ? nullptr : found->second.get();
}

const TicketStore::Entry* TicketStore::EntryBefore(uint64_t below) const {
  if (below > kDenseNumbersMax) {
    const auto found = sparse_.lower_bound(below);
    if (found != sparse_.begin()) return std::prev(found)->second.get();
    below = kDenseNumbersMax;
  }
  if (below == 0 || chunks_.empty()) return nullptr;
  const uint64_t last = std::min<uint64_t>(below - 1, (uint64_t{chunks_.size()} << kChunkBits) - 1);
  for (uint64_t chunk_index = last >> kChunkBits;; --chunk_index) {
    if (chunks_[chunk_index]) {
      const Chunk& chunk = *chunks_[chunk_index];
      const uint64_t top = chunk_index == (last >> kChunkBits) ? (last & (kChunkSlots - 1)) : kChunkSlots - 1;
      for (uint64_t slot = top + 1; slot-- > 0;) {
        if (chunk.present[slot]) return EntryFor((chunk_index << kChunkBits) | slot);
      }
    }
    if (chunk_index == 0) return nullptr;
  }
}

const TicketStore::Entry* TicketStore::LastEntry() const {
  if (!sparse_.empty()) return sparse_.rbegin()->second.get();
  return EntryBefore(kDenseNumbersMax);
}

TicketStore::Range TicketStore::all() const {
  BuildAll();
  return Range(this);
}

void TimelineIndex::Note(uint64_t number, const Period& period) {
  if (!period.end) {
    ongoing_.insert(number);
  } else {
    longest_closed_micros_ = std::max(longest_closed_micros_, period.end->unix_micros - period.start.unix_micros);
  }
}

void TimelineIndex::Add(uint64_t number, std::span<const Period> periods) {
  for (const Period& period : periods) {
    added_[DayOf(period.start.unix_micros)].push_back(Start{.micros = period.start.unix_micros, .number = number});
    Note(number, period);
  }
}

void TimelineIndex::Preload(uint64_t number, std::span<const Period> periods) {
  LEDGER_ASSERT(loaded_.empty() || number >= loaded_.back().number);
  for (const Period& period : periods) {
    const int64_t micros = period.start.unix_micros;
    if (loaded_.size() % kBlockStarts == 0) spans_.emplace_back();
    spans_.back().earliest = std::min(spans_.back().earliest, micros);
    spans_.back().latest = std::max(spans_.back().latest, micros);
    loaded_.push_back(Start{.micros = micros, .number = number});
    Note(number, period);
  }
}

void TimelineIndex::ReservePreload(size_t periods) { loaded_.reserve(periods); }

void TimelineIndex::Remove(uint64_t number, std::span<const Period> periods) {
  for (const Period& period : periods) {
    const int64_t micros = period.start.unix_micros;
    const auto is_it = [number, micros](const Start& start) { return start.micros == micros && start.number == number; };
    if (const auto bucket = added_.find(DayOf(micros)); bucket != added_.end()) {
      std::vector<Start>& starts = bucket->second;
      if (const auto found = std::find_if(starts.begin(), starts.end(), is_it); found != starts.end()) {
        *found = starts.back();
        starts.pop_back();
        if (starts.empty()) added_.erase(bucket);
        continue;
      }
    }
    for (auto found = std::lower_bound(loaded_.begin(), loaded_.end(), number,
                                       [](const Start& start, uint64_t value) { return start.number < value; });
         found != loaded_.end() && found->number == number; ++found) {
      if (is_it(*found)) {
        found->micros = kRemoved;
        break;
      }
    }
  }
  ongoing_.erase(number);
}

void TimelineIndex::Clear() {
  LargeVector<Start>().swap(loaded_);
  spans_.clear();
  added_.clear();
  ongoing_.clear();
  longest_closed_micros_ = 0;
}

const TicketState* TicketStore::Find(std::string_view ticket) const {
  const std::optional<uint64_t> number = ParseTicketNumber(ticket);
  if (!number) return nullptr;
  return FindNumber(*number);
}

bool PeriodOverlaps(const Period& period, int64_t from_micros, int64_t to_micros) {
  const int64_t start = period.start.unix_micros;
  if (start >= to_micros) return false;
  if (!period.end) return true;
  const int64_t end = period.end->unix_micros;
  if (end == start) return start >= from_micros;
  return end > from_micros;
}

std::optional<std::vector<uint64_t>> TimelineIndex::Candidates(int64_t from_micros, int64_t to_micros,
                                                              size_t walk_above) const {
  // Past this many candidate tickets (and `walk_above`), walking every
  // ticket in order is cheaper than sorting the candidates.
  constexpr size_t kCandidatesMax = 4096;
  // A closed period overlapping [from, to) starts before `to` and at most
  // longest_closed_micros_ before `from`; an open one is in ongoing_.
  const int64_t earliest_start =
      from_micros < INT64_MIN + longest_closed_micros_ ? INT64_MIN : from_micros - longest_closed_micros_;
  std::vector<uint64_t> candidates(ongoing_.begin(), ongoing_.end());
  const auto too_many = [&] { return candidates.size() > kCandidatesMax && candidates.size() > walk_above; };
  for (size_t block = 0; block < spans_.size(); ++block) {
    if (spans_[block].latest < earliest_start || spans_[block].earliest >= to_micros) continue;
    const size_t end = std::min(loaded_.size(), (block + 1) * kBlockStarts);
    for (size_t i = block * kBlockStarts; i < end; ++i) {
      if (loaded_[i].micros < earliest_start || loaded_[i].micros >= to_micros) continue;  // or removed
      candidates.push_back(loaded_[i].number);
    }
    if (too_many()) return std::nullopt;
  }
  const int64_t last_day = DayOf(to_micros - 1);
  for (auto bucket = added_.lower_bound(DayOf(earliest_start)); bucket != added_.end() && bucket->first <= last_day;
       ++bucket) {
    for (const Start& start : bucket->second) {
      if (start.micros < earliest_start || start.micros >= to_micros) continue;
      candidates.push_back(start.number);
    }
    if (too_many()) return std::nullopt;
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  return candidates;
}

std::vector<const TicketState*> TicketStore::Overlapping(int64_t from_micros, int64_t to_micros) const {
  const auto overlaps = [from_micros, to_micros](const TicketState& state) {
    return std::any_of(state.periods.begin(), state.periods.end(), [&](const Period& period) {
      return PeriodOverlaps(period, from_micros, to_micros);
    });
  };
  std::vector<const TicketState*> found;
  if (std::optional<std::vector<uint64_t>> candidates = index_.Candidates(from_micros, to_micros, size_ / 4)) {
    found.reserve(candidates->size());
    for (const uint64_t number : *candidates) {
      const TicketState* state = FindNumber(number);
      if (state != nullptr && overlaps(*state)) found.push_back(state);
    }
    return found;
  }
  for (const auto& [number, state] : all()) {
    if (overlaps(state)) found.push_back(&state);
  }
  return found;
}

void TicketStore::Widen(uint64_t number, const TicketState& state) const {
  const uint64_t chunk_index = number >> kChunkBits;
  if (number >= kDenseNumbersMax || chunk_index >= chunks_.size() || !chunks_[chunk_index]) return;
  Chunk::Bounds& bounds = chunks_[chunk_index]->bounds;
  bounds.opened_seq_min = std::min(bounds.opened_seq_min, state.opened_seq);
  bounds.opened_micros_min = std::min(bounds.opened_micros_min, state.opened_at_micros);
  bounds.last_seq_max = std::max(bounds.last_seq_max, state.last_seq);
  bounds.updated_micros_max = std::max(bounds.updated_micros_max, state.updated_at_micros);
}

Result<std::vector<const TicketState*>> TicketStore::ChangedAfter(const AsOfPoint& point, const StopToken& stop) const {
  BuildAll();  // every ticket's bounds are in its chunk's from here on
  std::vector<const TicketState*> changed;
  StopCheck check(stop);
  const auto look = [&](const TicketState& state) {
    if (point.Includes(state.opened_seq, state.opened_at_micros) && !point.Includes(state.last_seq, state.updated_at_micros)) {
      changed.push_back(&state);
    }
  };
  for (const std::unique_ptr<Chunk>& chunk : chunks_) {
    if (!chunk) continue;
    const Chunk::Bounds& bounds = chunk->bounds;
    if (!point.Includes(bounds.opened_seq_min, bounds.opened_micros_min)) continue;  // all opened later
    if (point.Includes(bounds.last_seq_max, bounds.updated_micros_max)) continue;     // none changed since
    for (uint64_t slot = 0; slot < kChunkSlots; ++slot) {
      if (check.Tick()) return stop.Reason();
      if (const Entry* entry = chunk->entry(slot).load(std::memory_order_acquire)) look(entry->second);
    }
  }
  for (const auto& [number, entry] : sparse_) {
    if (check.Tick()) return stop.Reason();
    look(entry->second);
  }
  return changed;
}

bool TicketStore::SystemsInUse(std::vector<std::string>* systems) const {
  if (unbuilt_.load(std::memory_order_acquire) != 0) return false;
  systems->clear();
  systems->reserve(system_uses_.size());
  for (const auto& [system, uses] : system_uses_) systems->push_back(system);
  return true;
}

void TicketStore::CountSystems(const TicketState& state, int delta) const {
  for (const std::string& system : state.systems) {
    if (delta > 0) {
      ++system_uses_[system];
      continue;
    }
    const auto found = system_uses_.find(system);
    if (found == system_uses_.end()) continue;
    if (--found->second == 0) system_uses_.erase(found);
  }
}

TimelinePage TicketStore::Query(const TimelineQuery& query) const {
  std::string folded;
  folded.reserve(query.text.size());
  for (const char c : query.text) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  const std::optional<SystemMatcher> system =
      query.system.empty() ? std::nullopt : std::optional<SystemMatcher>(std::in_place, names_, query.system);
  const auto matches = [&](const TicketState& state) {
    if (query.status && state.status != *query.status) return false;
    if (query.visible && !query.visible(state)) return false;
    if (system && !system->MatchesAny(state.systems)) return false;
    if (!std::any_of(state.periods.begin(), state.periods.end(), [&query](const Period& period) {
          return PeriodOverlaps(period, query.from_micros, query.to_micros);
        })) {
      return false;
    }
    return MatchesText(state, folded);
  };
  TimelinePage page;
  // Adds a match; false once the page is full (and the cursor set).
  const auto add = [&page, &query](const TicketState& state) {
    if (page.incidents.size() == query.limit) {
      page.next_before_ticket_number = page.incidents.back()->ticket_number;
      return false;
    }
    page.incidents.push_back(&state);
    return true;
  };

  if (std::optional<std::vector<uint64_t>> candidates = index_.Candidates(query.from_micros, query.to_micros, size_ / 4)) {
    for (auto number = candidates->rbegin(); number != candidates->rend(); ++number) {
      if (query.before_ticket_number != 0 && *number >= query.before_ticket_number) continue;
      const TicketState* found = FindNumber(*number);
      if (found == nullptr || !matches(*found)) continue;
      if (!add(*found)) break;
    }
    return page;
  }

  for (const Entry* entry = query.before_ticket_number == 0 ? LastEntry() : EntryBefore(query.before_ticket_number);
       entry != nullptr; entry = EntryBefore(entry->first)) {
    if (!matches(entry->second)) continue;
    if (!add(entry->second)) break;
  }
  return page;
}

}  // namespace ledger::projections
