#pragma once
// Per-ticket state, folded from incident events.
//
// Outage periods: the opening event starts one at its started_at (default:
// its recorded time); a close ends the latest at ended_at (default: recorded
// time); a reopen starts a new one at started_at (default: recorded time); an
// update (or a close/reopen carrying them) may correct started_at/ended_at of
// the latest period, also after close. The state's started_at/ended_at are
// those of the latest period.
//
// Thread safety: see TicketStore.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/memory.h"
#include "common/result.h"
#include "common/stop.h"
#include "common/time.h"
#include "event.pb.h"
#include "projections/systems.h"

namespace ledger::projections {

struct Period {
  Instant start;
  std::optional<Instant> end;  // nullopt while ongoing
};

enum class TicketStatus { kOpen, kClosed };

struct TicketState {
  std::string ticket;
  uint64_t ticket_number = 0;
  TicketStatus status = TicketStatus::kOpen;
  std::string title;
  std::string description;
  std::vector<std::string> systems;
  std::string engineer;
  proto::Severity severity = proto::MINOR;
  // The latest impact given (FULL when none was): how the incident counts in
  // availability (durations.h).
  proto::Impact impact = proto::FULL;
  // The latest phase given while open; a reopen without one starts again at
  // INVESTIGATING. A closed incident is resolved whatever this holds
  // (PhaseName).
  proto::Phase phase = proto::INVESTIGATING;
  std::string link;
  std::string last_note;
  // Every payload field the fold does not name above (a field added to
  // proto::IncidentPayload and to the field table, ingest/fields.h), kept
  // without code of its own: a serialized proto::IncidentPayload holding
  // only such fields, each at the value an event last gave it. A text field
  // given empty is left out, as if never given. Empty when there are none
  // (today's fields are all named above). Read it with OtherFields().
  std::string other_fields;
  std::vector<Period> periods;  // never empty once opened
  uint32_t version = 0;
  uint64_t opened_seq = 0;
  uint64_t last_seq = 0;
  int64_t opened_at_micros = 0;   // recorded time of the opening event
  int64_t updated_at_micros = 0;  // recorded time of the latest event
};

// "INC-42" -> 42; nullopt for anything else.
std::optional<uint64_t> ParseTicketNumber(std::string_view ticket);

const char* SeverityName(proto::Severity severity);
// "full", "partial", "degraded" (an unknown value reads as "full").
const char* ImpactName(proto::Impact impact);
// "investigating", "identified", "monitoring", or "resolved" once closed.
const char* PhaseName(const TicketState& state);

// The payload fields kept in `state.other_fields` (see there), parsed; an
// empty message when there are none.
proto::IncidentPayload OtherFields(const TicketState& state);
// Whether the latest visibility given is INTERNAL (an incident that never
// names one is for everyone). Cheap when no other field was ever given.
bool IsInternal(const TicketState& state);
const char* StatusName(TicketStatus status);

// The fold: applies one incident event to `state` (a fresh state for an
// opening event). Events of other types leave it unchanged.
void ApplyIncidentEvent(TicketState* state, const proto::Event& event);
// The same fold, moving the event's text into `state` instead of copying it,
// for a caller that drops the event right after (a rebuild). The event's
// text fields are left empty; which fields it carried (has_*) still reads
// as before.
void TakeIncidentEvent(TicketState* state, proto::Event* event);

// A point of the log ("as known then", as_of.h): ?as_of_seq=N (the events up to seq N) or ?as_of=TIME
// (those recorded up to then), or both (both must hold).
struct AsOfPoint {
  std::optional<uint64_t> seq;
  std::optional<int64_t> micros;

  bool given() const { return seq || micros; }
  // The event was recorded at or before the point.
  bool Includes(uint64_t event_seq, int64_t recorded_at_micros) const {
    if (seq && event_seq > *seq) return false;
    if (micros && recorded_at_micros > *micros) return false;
    return true;
  }
};

struct TimelineQuery {
  int64_t from_micros = 0;  // the window [from, to)
  int64_t to_micros = 0;
  std::optional<TicketStatus> status;
  // Current systems include one covered by this (SystemNames::Covers: the
  // same system ignoring case and through the store's aliases, or its
  // group); empty: any.
  std::string system;
  std::string text;    // case-insensitive substring of ticket, title, description, systems, engineer
  uint64_t before_ticket_number = 0;  // pagination cursor; 0: from the newest
  size_t limit = 100;
  // Set: only tickets it answers true for are listed (and counted toward the
  // page), e.g. the reader's visibility (http/visibility.h). Empty: all.
  std::function<bool(const TicketState&)> visible;
};

struct TimelinePage {
  std::vector<const TicketState*> incidents;  // newest ticket first
  uint64_t next_before_ticket_number = 0;     // 0: no more pages
};

// The arrays a start fills with one entry per saved ticket (2,000,000 and
// more): mapped on their own, in huge pages where the kernel has them
// (common/memory.h).
template <class T>
using LargeVector = std::vector<T, LargeBufferAllocator<T>>;

// A ticket store's timeline index: the start of every outage period, the
// tickets with an ongoing period, and the longest closed period seen. A
// window query then visits only the periods that start less than that
// longest length before the window (plus the ongoing ones), not every
// ticket.
//
// The starts a load indexed (Preload) lie in one array in ticket order, in
// huge pages, cut into blocks that each know their earliest and latest
// start: tickets are numbered as they open, so a block spans a short time
// and a window reads the few blocks it meets. Those added since (Add) are
// bucketed by the day they start in, each bucket a short contiguous run. A
// loaded start that is removed is marked, not moved.
//
// Not thread-safe: its owner serialises writers with readers (TicketStore's
// writer methods; a load builds one on a thread of its own and hands it over
// whole, SavedTickets).
class TimelineIndex {
 public:
  // Indexes ticket `number`'s periods.
  void Add(uint64_t number, std::span<const Period> periods);
  // Drops the periods Add or Preload was given for ticket `number` (the
  // ones it still has, before they change); the ticket is no longer
  // ongoing.
  void Remove(uint64_t number, std::span<const Period> periods);
  // For a load, in place of Add: appends to the loaded array (no lookup,
  // no bucket to grow), in ascending ticket number, before any Add or
  // Remove. ReservePreload makes room for that many periods first
  // (reserved, not touched: it costs address space only).
  void Preload(uint64_t number, std::span<const Period> periods);
  void ReservePreload(size_t periods);
  void Clear();
  // Sorted, distinct numbers of the tickets that may overlap [from, to);
  // nullopt when they are more than a few thousand and more than
  // `walk_above`: walking every ticket is then cheaper than sorting them.
  std::optional<std::vector<uint64_t>> Candidates(int64_t from_micros, int64_t to_micros, size_t walk_above) const;

 private:
  struct Start {
    int64_t micros = 0;  // kRemoved: removed (loaded_ only)
    uint64_t number = 0;
  };
  struct Span {
    int64_t earliest = INT64_MAX;
    int64_t latest = INT64_MIN;
  };
  static constexpr size_t kBlockStarts = 1024;
  static constexpr int64_t kRemoved = INT64_MAX;  // after every window's end

  void Note(uint64_t number, const Period& period);

  LargeVector<Start> loaded_;   // by ticket number
  std::vector<Span> spans_;     // block i: loaded_[i * kBlockStarts, (i + 1) * kBlockStarts)
  std::map<int64_t, std::vector<Start>> added_;  // day -> the starts Add gave in it
  std::set<uint64_t> ongoing_;         // tickets whose latest period is open
  int64_t longest_closed_micros_ = 0;  // never shrinks: only widens the search
};

// Tickets as a checkpoint saved them, read by a load (ticket_projection.h)
// that has checked every record's bytes against the digest saved with them
// (so each decodes, ticket_codec.h, and names its ticket). The store
// decodes each from here when first read: no I/O beyond reading mapped
// pages, no failure.
//
// A record lies either alone in `blocks` (a ticket saved by itself), or in a
// pack: the records of neighbouring tickets concatenated and compressed
// together (zstd), kept compressed until the ticket is built: copied into
// `blocks`, or left where the load read them (`pinned`: the checkpoint's
// table files, mapped; `pin` keeps them so until the SavedTickets go, which
// the store lets happen once it has built every ticket).
// Packs are what keep the saved tickets small in memory (a few bytes per
// record instead of a few hundred); a pack is unpacked into a scratch buffer
// when one of its tickets is built, and the next ticket of the same pack is
// decoded from that buffer.
struct SavedTickets {
  // Where ticket i's record lies: `place` is the index of its pack in
  // `packs` (offset and size then count in the unpacked pack), or kAlone
  // plus the index of its block (offset and size count in the block).
  struct Record {
    uint32_t place = 0;
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  static constexpr uint32_t kAlone = uint32_t{1} << 31;
  // A pack's compressed bytes, in `blocks` or (`pinned` set) in memory
  // `pin` keeps, and its size unpacked.
  struct Pack {
    uint32_t block = 0;
    uint32_t offset = 0;
    uint32_t packed_size = 0;
    uint32_t unpacked_size = 0;
    const char* pinned = nullptr;
  };
  // BlockOf for a record in a pinned pack: in no block.
  static constexpr uint32_t kNoBlock = UINT32_MAX;
  // Records and packs are stored into blocks of this many bytes (one bigger
  // block for a bigger one), each mapped on its own (Block) and given back
  // whole when the store drops it.
  static constexpr size_t kBlockBytes = size_t{16} << 20;
  // A pack unpacked: the scratch buffer Build decodes from.
  struct Unpacked {
    uint32_t pack = UINT32_MAX;  // which one `bytes` holds; none yet
    std::string bytes;
  };

  // A block of kBlockBytes or more, in huge pages where the kernel has them.
  using Block = std::basic_string<char, std::char_traits<char>, LargeBufferAllocator<char>>;

  LargeVector<uint64_t> numbers;  // strictly increasing
  LargeVector<Record> records;    // one per numbers entry
  // The saved tickets' periods, indexed (what the store's timeline index
  // starts from): by Add, or by whoever calls AddUnindexed.
  TimelineIndex timeline;
  std::vector<Pack> packs;
  std::vector<Block> blocks;
  // Keeps the bytes of pinned packs valid (CheckpointReader::ScanPinned).
  std::shared_ptr<const void> pin;

  // Appends ticket `number` (above every number so far) with its periods
  // (indexed) and its record, stored alone.
  void Add(uint64_t number, std::span<const Period> periods, std::string_view record) {
    Add(number, periods, Keep(record));
  }
  // The same with a record kept already (Keep), or one in a pack:
  // Record{.place = pack index, .offset, .size} in the unpacked pack.
  void Add(uint64_t number, std::span<const Period> periods, Record where) {
    AddUnindexed(number, where);
    timeline.Add(number, periods);
  }
  // The same, leaving the ticket's periods out of `index`: the caller puts
  // them there (before the store attaches these, TicketStore::AttachSaved),
  // as a load does on a thread of its own.
  void AddUnindexed(uint64_t number, Record where);
  // Stores a record alone, for an Add later.
  Record Keep(std::string_view record);
  // Stores a pack's compressed bytes; answers its index (a Record's place).
  uint32_t AddPack(std::string_view packed, uint32_t unpacked_size);
  // The same, leaving the bytes where they are: `pin` must keep them.
  uint32_t AddPinnedPack(std::string_view packed, uint32_t unpacked_size);
  // Ticket i's record bytes: from its block, or from its pack unpacked into
  // `scratch` (when `scratch` does not hold that pack already). The load
  // checked the bytes: a pack that does not unpack is a bug (assertion).
  std::string_view RecordAt(size_t index, Unpacked* scratch) const;
  // The block ticket i's record (or its pack) lies in; kNoBlock for a
  // pinned pack.
  uint32_t BlockOf(size_t index) const {
    const uint32_t place = records[index].place;
    if ((place & kAlone) != 0) return place & ~kAlone;
    return packs[place].pinned != nullptr ? kNoBlock : packs[place].block;
  }

 private:
  // Copies `bytes` into the blocks; answers (block, offset).
  std::pair<uint32_t, uint32_t> Store(std::string_view bytes);
};

// Compresses `unpacked` (a pack's records) into `packed` (replacing it), and
// the other way: false when `packed` does not unpack to exactly
// `unpacked_size` bytes.
void PackRecords(std::string_view unpacked, std::string* packed);
[[nodiscard]] bool UnpackRecords(std::string_view packed, size_t unpacked_size, std::string* unpacked);

// All tickets, keyed by ticket number, with a timeline index
// (TimelineIndex) of their outage periods.
//
// Storage. Ticket numbers are handed out densely from 1, so tickets live in
// fixed slots of chunks indexed by number (a lookup is two array reads, no
// tree walk); numbers from kDenseNumbersMax up (never handed out in practice)
// go to a map. Each ticket is one heap block that never moves until the
// ticket is replaced or the store cleared.
//
// Lazy building. AttachSaved gives the store every ticket's number, its
// periods indexed, and its saved record (from a checkpoint, in memory) without decoding the
// tickets; a ticket is decoded the first time anything reads it (Find,
// FindNumber, Query's candidates, all(), Apply), or by BuildSome from a
// background fill. Readers only see built tickets, so laziness is invisible
// except in timing; building reads only memory and cannot fail.
//
// Thread safety: not thread-safe for writers. Apply, Take, Clear, Put,
// AttachSaved, ReleaseSavedIfBuilt and assignment need exclusive access;
// the const methods (BuildSome among them) may run concurrently with each other
// (building a ticket takes an internal mutex), as under ReadModel's shared
// lock. Pointers and references handed out stay valid until the next Apply,
// Take, Put, Clear or assignment.
class TicketStore {
 public:
  using Entry = std::pair<const uint64_t, TicketState>;
  static constexpr uint64_t kChunkBits = 12;
  static constexpr uint64_t kChunkSlots = uint64_t{1} << kChunkBits;
  static constexpr uint64_t kDenseNumbersMax = uint64_t{1} << 28;

  // Every ticket in ascending number, as (number, state) pairs; builds every
  // ticket not built yet first.
  class Range;

  TicketStore();
  ~TicketStore();
  // A copy has every ticket built (the saved records are not copied).
  TicketStore(const TicketStore& other);
  TicketStore& operator=(const TicketStore& other);
  TicketStore(TicketStore&& other) noexcept;
  TicketStore& operator=(TicketStore&& other) noexcept;

  // Applies one event of any type; incident events update their ticket.
  // Answers the number of the ticket it changed, if any.
  std::optional<uint64_t> Apply(const proto::Event& event);
  // The same, moving the event's text instead of copying it (see
  // TakeIncidentEvent).
  std::optional<uint64_t> Take(proto::Event* event);
  void Clear();
  // Puts a saved ticket back, replacing one of the same number.
  void Put(TicketState state);
  // Replaces the contents with the tickets of `saved`, each decoded on
  // first use, and takes `saved.timeline` as the timeline index (it must index
  // exactly those tickets' periods). Tickets numbered kDenseNumbersMax or
  // more are decoded at once. Fails (leaving the store empty) when `saved`
  // is not well-formed: numbers out of order, counts that disagree.
  Status AttachSaved(SavedTickets saved);
  // For a background fill: decodes up to `count` tickets not built yet, in
  // number order. Answers false once none is left. Safe beside the const
  // methods (one caller at a time).
  bool BuildSome(size_t count) const;
  // Drops the saved records once every ticket is built (needs exclusive
  // access, like Apply).
  void ReleaseSavedIfBuilt();
  // How the tickets' systems resolve (systems.h): the read model's catalog
  // with every alias, or, in a store folded as known then, with the aliases
  // recorded by then. Copied and moved with the store; Clear keeps it.
  const SystemNames& names() const { return names_; }
  void set_names(SystemNames names) { names_ = std::move(names); }

  // Lazily loaded tickets not built yet (0 once every ticket is built).
  size_t unbuilt() const { return unbuilt_.load(std::memory_order_acquire); }

  const TicketState* FindNumber(uint64_t ticket_number) const {
    const Entry* entry = EntryFor(ticket_number);
    return entry == nullptr ? nullptr : &entry->second;
  }
  const TicketState* Find(std::string_view ticket) const;
  size_t size() const { return size_; }
  Range all() const;

  // Incidents with an outage period overlapping the window, filtered, one
  // page. Pointers stay valid until the next Apply or Clear.
  TimelinePage Query(const TimelineQuery& query) const;

  // Every ticket with a period that overlaps [from, to) (PeriodOverlaps: an
  // open period runs on forever), in ascending ticket number, found through
  // the timeline index: the cost grows with the periods near the window,
  // not with the whole history (it walks every ticket only when the
  // candidates are a large share of them anyway).
  std::vector<const TicketState*> Overlapping(int64_t from_micros, int64_t to_micros) const;

  // Every ticket opened by `point` whose latest event is after it (so that
  // it stood otherwise then), in ascending ticket number. Builds every
  // ticket not built yet first (like all()), then walks only the chunks
  // whose bounds (the earliest opening, the latest change of their
  // tickets) leave room for one: tickets are numbered as they open and
  // mostly change while young, so that is a chunk or two around the point,
  // not the whole history. Fails with `stop`'s reason when it says to stop
  // (asked every few hundred tickets walked).
  Result<std::vector<const TicketState*>> ChangedAfter(const AsOfPoint& point, const StopToken& stop) const;

  // Every system some ticket names now, by name (bytewise). False (and
  // `systems` untouched) while tickets are still to be decoded: the caller
  // then reads all() instead.
  bool SystemsInUse(std::vector<std::string>* systems) const;

 private:
  struct Chunk;
  struct Lazy;
  friend class Range;

  std::optional<uint64_t> Fold(const proto::Event& event, proto::Event* takeable);
  const Entry* EntryFor(uint64_t ticket_number) const;
  Entry* MutableEntryFor(uint64_t ticket_number);
  bool Unbuilt(uint64_t ticket_number) const;
  const Entry* Build(uint64_t ticket_number, std::atomic_ref<Entry*> slot) const;
  Entry* Insert(uint64_t ticket_number, TicketState state);
  // The first ticket numbered `from` or above (built), or nullptr.
  const Entry* EntryAtOrAfter(uint64_t from) const;
  // The last ticket numbered below `below` (built), or nullptr.
  const Entry* EntryBefore(uint64_t below) const;
  const Entry* LastEntry() const;
  void BuildAll() const;
  void CopyFrom(const TicketStore& other);
  // Adds (+1) or removes (-1) the systems `state` names to system_uses_.
  void CountSystems(const TicketState& state, int delta) const;
  // Widens the bounds of the chunk holding ticket `number` to cover `state`
  // (Chunk::Bounds). Written by the writer methods and by Build under
  // build_mutex_, read by ChangedAfter once every ticket is built.
  void Widen(uint64_t number, const TicketState& state) const;

  std::vector<std::unique_ptr<Chunk>> chunks_;  // chunk i: numbers [i * kChunkSlots, (i + 1) * kChunkSlots)
  std::map<uint64_t, std::unique_ptr<Entry>> sparse_;  // numbers >= kDenseNumbersMax
  size_t size_ = 0;
  // Set while some tickets are still to be decoded from saved records.
  std::unique_ptr<Lazy> lazy_;
  mutable std::atomic<size_t> unbuilt_{0};
  mutable std::mutex build_mutex_;
  TimelineIndex index_;
  // How many tickets name each system. Written by the writer methods, and by
  // Build under build_mutex_ (which is why it is mutable); read only
  // once unbuilt_ is 0, when no build can write it any more.
  mutable std::map<std::string, uint32_t, std::less<>> system_uses_;
  SystemNames names_;
};

class TicketStore::Range {
 public:
  class Iterator {
   public:
    using value_type = Entry;
    using reference = const Entry&;
    using pointer = const Entry*;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::bidirectional_iterator_tag;

    Iterator() = default;
    reference operator*() const { return *current_; }
    pointer operator->() const { return current_; }
    Iterator& operator++() {
      current_ = current_->first == UINT64_MAX ? nullptr : store_->EntryAtOrAfter(current_->first + 1);
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    Iterator& operator--() {
      current_ = current_ == nullptr ? store_->LastEntry() : store_->EntryBefore(current_->first);
      return *this;
    }
    Iterator operator--(int) {
      Iterator before = *this;
      --*this;
      return before;
    }
    bool operator==(const Iterator& other) const { return current_ == other.current_; }

   private:
    friend class Range;
    Iterator(const TicketStore* store, const Entry* current) : store_(store), current_(current) {}
    const TicketStore* store_ = nullptr;
    const Entry* current_ = nullptr;
  };

  Iterator begin() const { return Iterator(store_, store_->EntryAtOrAfter(0)); }
  Iterator end() const { return Iterator(store_, nullptr); }
  std::reverse_iterator<Iterator> rbegin() const { return std::reverse_iterator<Iterator>(end()); }
  std::reverse_iterator<Iterator> rend() const { return std::reverse_iterator<Iterator>(begin()); }
  size_t size() const { return store_->size(); }
  bool empty() const { return store_->size() == 0; }

 private:
  friend class TicketStore;
  explicit Range(const TicketStore* store) : store_(store) {}
  const TicketStore* store_;
};

// True when a period overlaps [from, to). An ongoing period runs on forever;
// an instantaneous one (start == end) counts when its start is in the window.
bool PeriodOverlaps(const Period& period, int64_t from_micros, int64_t to_micros);

}  // namespace ledger::projections
