#include "projections/ticket_projection.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include <zstd.h>

#include "common/encoding.h"
#include "common/log.h"
#include "projections/checkpoint.h"
#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

constexpr char kPackPrefix = 'g';
constexpr char kAlonePrefix = 'k';
constexpr std::string_view kVersionKey = "mversion";
constexpr std::string_view kCountKey = "mticket_count";
constexpr size_t kAloneKeyBytes = 9;
constexpr size_t kPackKeyBytes = 17;
// A whole save closes a pack once its records come to this many bytes
// (unpacked): big enough for zstd to find the repetition between
// neighbouring tickets, small enough that building one ticket of an
// unbuilt pack (unpacking it) takes tens of microseconds.
constexpr size_t kPackBytes = size_t{64} << 10;
// Far above any pack a save writes (one record beyond kPackBytes at most).
constexpr uint64_t kPackUnpackedBytesMax = uint64_t{1} << 30;
// Below this many tickets SaveWhole packs them on one thread; above, half
// of them are packed into a second table on a second thread (encoding and
// compressing the records is most of a save's work).
constexpr size_t kSaveSplitTicketsMin = 4096;
// The background fill decodes this many tickets per step (about a
// millisecond under the read lock).
constexpr size_t kFillStepTickets = 256;
// What a load reserves for the count the checkpoint states, at most (a
// damaged count must not reserve the machine's memory).
constexpr uint64_t kReserveTicketsMax = uint64_t{1} << 24;

std::string NumberKey(char prefix, uint64_t number) {
  std::string key(1, prefix);
  AppendBigEndian64(&key, number);
  return key;
}

std::string PackKey(uint64_t first, uint64_t last) {
  std::string key = NumberKey(kPackPrefix, first);
  AppendBigEndian64(&key, last);
  return key;
}

std::string EncodeCount(uint64_t count) {
  std::string value;
  AppendBigEndian64(&value, count);
  return value;
}

// Appends the digest of (key | value) to `value`.
void Seal(std::string_view key, std::string* value) { value->append(AsBytes(Sha256(key, *value))); }

// The value without its digest, or nullopt when the digest does not match.
std::optional<std::string_view> Unseal(std::string_view key, std::string_view value) {
  if (value.size() < kSha256Bytes) return std::nullopt;
  const std::string_view body = value.substr(0, value.size() - kSha256Bytes);
  if (AsBytes(Sha256(key, body)) != value.substr(body.size())) return std::nullopt;
  return body;
}

std::string EncodeAlone(std::string_view key, const TicketState& state) {
  std::string record;
  EncodeTicket(state, &record);
  std::string value;
  ByteWriter writer(&value);
  WritePeriods(&writer, state.periods);
  writer.Varint(record.size());
  writer.Raw(record);
  Seal(key, &value);
  return value;
}

// Writes the tickets entries[begin, end) as packs into `table`.
void PutPacks(CheckpointWriter* table, const std::vector<const TicketStore::Entry*>& entries, size_t begin,
              size_t end) {
  std::string records;  // the pack's records, unpacked
  std::string outlines;  // its count-less head: steps, periods, sizes
  std::string packed;
  std::string record;
  std::string value;
  size_t count = 0;
  uint64_t first = 0;
  uint64_t previous = 0;
  const auto flush = [&] {
    if (count == 0) return;
    const std::string key = PackKey(first, previous);
    value.clear();
    ByteWriter writer(&value);
    writer.Varint(count);
    writer.Raw(outlines);
    PackRecords(records, &packed);
    writer.Raw(packed);
    Seal(key, &value);
    table->Put(key, value);
    records.clear();
    outlines.clear();
    count = 0;
  };
  for (size_t i = begin; i < end; ++i) {
    const uint64_t number = entries[i]->first;
    if (count == 0) {
      first = number;
      previous = number;
    }
    record.clear();
    EncodeTicket(entries[i]->second, &record);
    ByteWriter writer(&outlines);
    writer.Varint(number - previous);
    WritePeriods(&writer, entries[i]->second.periods);
    writer.Varint(record.size());
    records.append(record);
    previous = number;
    ++count;
    if (records.size() >= kPackBytes || count == kPackTicketsMax) flush();
  }
  flush();
}

// A saved ticket that does not check out, folded again from its own events
// up to the checkpoint's seq. nullopt when the ledger had not opened it by
// then.
Result<std::optional<TicketState>> Refold(const CheckpointReader& reader, uint64_t number) {
  Result<std::vector<StoredEvent>> events = reader.ledger().ReadTicket(TicketName::Format(number));
  if (!events) return events.error();
  TicketStore scratch;
  for (const StoredEvent& stored : *events) {
    if (stored.seq <= reader.applied_seq()) (void)scratch.Apply(stored.event);  // the number is `number`
  }
  const TicketState* state = scratch.FindNumber(number);
  if (state == nullptr) return std::optional<TicketState>();
  return std::optional<TicketState>(*state);
}

// One ticket of a pack, as its head describes it.
struct PackEntry {
  uint64_t number = 0;
  uint32_t periods_begin = 0;  // into ParsedPack::periods
  uint32_t periods_end = 0;
  uint32_t offset = 0;  // of its record in the unpacked pack
  uint32_t size = 0;
};

struct ParsedPack {
  std::vector<PackEntry> entries;
  std::vector<Period> periods;
  std::string_view packed;  // the zstd frame
  uint32_t unpacked_size = 0;
};

// Reads a pack's value (its digest checked already) into `pack`; false when
// its framing does not add up.
bool ParsePack(std::string_view body, uint64_t first, uint64_t last, ParsedPack* pack, std::vector<Period>* scratch) {
  pack->entries.clear();
  pack->periods.clear();
  ByteReader reader(body);
  uint64_t count = 0;
  if (!reader.Varint(&count) || count == 0 || count > kPackTicketsMax) return false;
  uint64_t number = first;
  uint64_t unpacked = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t step = 0;
    uint64_t size = 0;
    // The first step is 0 (the key's first number), every later one above 0.
    if (!reader.Varint(&step) || (i == 0) != (step == 0) || step > last - number) return false;
    number += step;
    if (!ReadPeriods(&reader, scratch) || scratch->empty() || !reader.Varint(&size)) return false;
    if (size == 0 || size > kPackUnpackedBytesMax - unpacked) return false;
    const auto periods_begin = static_cast<uint32_t>(pack->periods.size());
    pack->periods.insert(pack->periods.end(), scratch->begin(), scratch->end());
    pack->entries.push_back(PackEntry{.number = number,
                                      .periods_begin = periods_begin,
                                      .periods_end = static_cast<uint32_t>(pack->periods.size()),
                                      .offset = static_cast<uint32_t>(unpacked),
                                      .size = static_cast<uint32_t>(size)});
    unpacked += size;
  }
  if (number != last) return false;
  std::string_view packed;
  if (!reader.Raw(reader.remaining(), &packed)) return false;
  // Only the frame's head is read here; the records stay packed until built.
  if (ZSTD_getFrameContentSize(packed.data(), packed.size()) != unpacked) return false;
  pack->packed = packed;
  pack->unpacked_size = static_cast<uint32_t>(unpacked);
  return true;
}

// A ticket saved alone ('k'), checked: its periods and record.
struct Alone {
  uint64_t number = 0;
  bool sound = false;
  std::string why;  // when not sound
  uint32_t periods_begin = 0;  // into the loader's alone_periods
  uint32_t periods_end = 0;
  SavedTickets::Record record;
};

// Work a load hands to a thread of its own, done in the order given while
// the load reads on (at 10M events each is a fifth of a start's scan):
// checking the digests of pinned packs (values that stay where they are;
// SHA-256 over 150 MB), and the timeline index of the saved tickets
// (TimelineIndex::Preload, 2.2M periods), which the store takes over whole
// (SavedTickets::timeline). Batches the thread has not reached yet stay in
// memory: at most every period's, 32 bytes each, if it never caught up.
class SideWork {
 public:
  // `periods`: how many periods the load expects to index (reserved).
  explicit SideWork(size_t periods) : reserve_periods_(periods), thread_([this] { Run(); }) {}
  ~SideWork() { (void)Finish(nullptr); }
  SideWork(const SideWork&) = delete;
  SideWork& operator=(const SideWork&) = delete;

  // Checks a pack's digest: `value` must stay valid until Finish; the key
  // is copied.
  void CheckSeal(std::string_view key, std::string_view value) {
    Hand(Task{.key = std::string(key), .value = value});
  }
  // Indexes ticket `number`'s periods (copied, in batches).
  void Index(uint64_t number, std::span<const Period> periods) {
    for (const Period& period : periods) batch_.push_back(Indexed{.number = number, .period = period});
    if (batch_.size() >= kBatchPeriods) HandBatch();
  }
  // Waits for the work handed so far; answers whether every digest checked
  // matched.
  [[nodiscard]] bool Wait() {
    HandBatch();
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return completed_ == handed_; });
    return !failed_;
  }
  // Waits for the work handed so far and stops the thread; moves the index
  // built into `*index` (unless null). Answers as Wait.
  [[nodiscard]] bool Finish(TimelineIndex* index) {
    if (thread_.joinable()) {
      HandBatch();
      {
        std::lock_guard lock(mutex_);
        done_ = true;
      }
      ready_.notify_one();
      thread_.join();
    }
    if (index != nullptr) *index = std::move(index_);
    return !failed_;
  }

 private:
  // Periods per batch handed to the thread: one lock per batch, a few
  // batches' memory reused throughout.
  static constexpr size_t kBatchPeriods = 8192;

  struct Indexed {
    uint64_t number = 0;
    Period period;
  };
  // A digest to check (a key given), or a batch of periods to index.
  struct Task {
    std::string key;
    std::string_view value;
    std::vector<Indexed> batch;
  };

  void Hand(Task task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
      ++handed_;
    }
    ready_.notify_one();
  }

  void HandBatch() {
    if (batch_.empty()) return;
    std::vector<Indexed> next;
    {
      std::lock_guard lock(mutex_);
      if (!spare_.empty()) {
        next = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    next.reserve(kBatchPeriods);
    Hand(Task{.batch = std::exchange(batch_, std::move(next))});
  }

  void Run() {
    index_.ReservePreload(reserve_periods_);
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [&] { return done_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // done, and all handed work done
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      if (!task.key.empty()) {
        if (!failed_ && !Unseal(task.key, task.value)) failed_ = true;
      } else {
        for (const Indexed& indexed : task.batch) {
          index_.Preload(indexed.number, std::span<const Period>(&indexed.period, 1));
        }
        task.batch.clear();
      }
      lock.lock();
      if (task.key.empty()) spare_.push_back(std::move(task.batch));
      if (++completed_ == handed_) idle_.notify_all();
    }
  }

  std::vector<Indexed> batch_;  // the caller's, filling
  std::mutex mutex_;
  std::condition_variable ready_;  // tasks_ or done_ changed
  std::condition_variable idle_;   // completed_ reached handed_
  std::deque<Task> tasks_;
  std::vector<std::vector<Indexed>> spare_;  // batches indexed, to fill again
  size_t handed_ = 0;
  size_t completed_ = 0;
  bool done_ = false;
  std::atomic<bool> failed_{false};
  const size_t reserve_periods_;
  TimelineIndex index_;  // the thread's until Finish
  std::thread thread_;   // last: started once the rest is made
};

// Load's merge of the packs with the tickets saved alone, in number order,
// into one SavedTickets, repairing from the ledger what does not check out.
class Loader {
 public:
  // Indexes the tickets' periods through `side`.
  Loader(const CheckpointReader& reader, std::vector<uint64_t>* changed, SideWork* side)
      : reader_(reader), changed_(changed), side_(side) {}

  SavedTickets saved;
  std::vector<Alone> alone;
  std::vector<Period> alone_periods;
  std::string problem;  // a sentence, when the checkpoint is unusable
  std::optional<Error> failure;

  bool ok() const { return problem.empty() && !failure; }

  // Adds every ticket saved alone numbered below `number`; answers whether
  // the next one is `number` itself (added too: it replaces a pack's).
  bool AloneUpTo(uint64_t number) {
    for (; ok() && next_alone_ < alone.size() && alone[next_alone_].number <= number; ++next_alone_) {
      const Alone& entry = alone[next_alone_];
      if (!Ordered(entry.number)) return false;
      if (entry.sound) {
        Add(entry.number,
            std::span<const Period>(alone_periods).subspan(entry.periods_begin, entry.periods_end - entry.periods_begin),
            entry.record);
      } else {
        Log("projections", "the checkpoint's " + TicketName::Format(entry.number) + " is unusable (" + entry.why +
                               "); folding it again from its events");
        Repair(entry.number, /*must_exist=*/true);
      }
      if (entry.number == number) {
        ++next_alone_;
        return true;
      }
    }
    return false;
  }

  void AddPacked(uint64_t number, std::span<const Period> periods, SavedTickets::Record where) {
    if (AloneUpTo(number) || !ok() || !Ordered(number)) return;
    Add(number, periods, where);
  }

  // Every ticket in [first, last], folded again (those saved alone aside).
  void RepairRange(uint64_t first, uint64_t last, const std::string& why) {
    // Tickets repaired at an earlier start are saved alone: a damaged pack
    // they all replace has nothing left to repair (a whole save drops it).
    size_t covered = 0;
    for (size_t i = next_alone_; i < alone.size() && alone[i].number <= last; ++i) {
      if (alone[i].number >= first && alone[i].sound) ++covered;
    }
    if (covered == last - first + 1) {
      (void)AloneUpTo(last);
      return;
    }
    Log("projections", "the checkpoint's pack of " + TicketName::Format(first) + " to " + TicketName::Format(last) +
                           " is unusable (" + why + "); folding its tickets again from their events");
    for (uint64_t number = first; ok(); ++number) {
      if (!AloneUpTo(number) && ok() && Ordered(number)) Repair(number, /*must_exist=*/false);
      if (number == last) break;
    }
  }

  void Finish() { (void)AloneUpTo(UINT64_MAX); }

 private:
  void Add(uint64_t number, std::span<const Period> periods, SavedTickets::Record where) {
    saved.AddUnindexed(number, where);
    side_->Index(number, periods);
  }

  bool Ordered(uint64_t number) {
    if (added_any_ && number <= last_added_) {
      problem = "the checkpoint's saved tickets overlap at " + TicketName::Format(number);
      return false;
    }
    added_any_ = true;
    last_added_ = number;
    return true;
  }

  void Repair(uint64_t number, bool must_exist) {
    Result<std::optional<TicketState>> refolded = Refold(reader_, number);
    if (!refolded) {
      failure = refolded.error();
      return;
    }
    if (!*refolded) {
      if (must_exist) {
        problem = "the checkpoint names " + TicketName::Format(number) + ", which the ledger never opened";
      }
      return;
    }
    record_.clear();
    EncodeTicket(**refolded, &record_);
    Add(number, (*refolded)->periods, saved.Keep(record_));
    changed_->push_back(number);  // saved again, alone, with the next save
  }

  const CheckpointReader& reader_;
  std::vector<uint64_t>* changed_;
  SideWork* side_;
  size_t next_alone_ = 0;
  bool added_any_ = false;
  uint64_t last_added_ = 0;
  std::string record_;
};

}  // namespace

CheckpointKeys TicketProjection::checkpoint_keys() const {
  return CheckpointKeys{.version_key = kVersionKey,
                        .prefixes = {std::string_view(&kPackPrefix, 1), std::string_view(&kAlonePrefix, 1),
                                     kCountKey}};
}

void TicketProjection::Changed(std::optional<uint64_t> number) {
  if (number && tracking_) changed_.push_back(*number);
}

void TicketProjection::SyncNames() {
  if (systems_ == nullptr || systems_->generation() == names_generation_) return;
  store_.set_names(systems_->names());
  names_generation_ = systems_->generation();
}

void TicketProjection::Apply(const proto::Event& event, const Sha256Digest&) {
  SyncNames();
  Changed(store_.Apply(event));
}

void TicketProjection::Take(proto::Event* event, const Sha256Digest&) {
  SyncNames();
  Changed(store_.Take(event));
}

void TicketProjection::Clear() {
  store_.Clear();
  changed_.clear();
  SyncNames();
}

void TicketProjection::TrackChanges(bool on) {
  tracking_ = on;
  if (!on) changed_.clear();
}

void TicketProjection::SaveChanges(CheckpointWriter* batch) {
  std::sort(changed_.begin(), changed_.end());
  changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
  for (const uint64_t number : changed_) {
    const TicketState* state = store_.FindNumber(number);
    if (state == nullptr) continue;
    const std::string key = NumberKey(kAlonePrefix, number);
    batch->Put(key, EncodeAlone(key, *state));
  }
  changed_.clear();
  batch->Put(kCountKey, EncodeCount(store_.size()));
}

void TicketProjection::SaveWhole(CheckpointTables* tables) const {
  std::vector<const TicketStore::Entry*> entries;
  entries.reserve(store_.size());
  for (const TicketStore::Entry& entry : store_.all()) entries.push_back(&entry);
  const size_t split = entries.size() < kSaveSplitTicketsMin ? 0 : entries.size() / 2;
  // Packs of the tickets below the split, packs from the split on, and the
  // count: three tables whose key ranges do not overlap.
  CheckpointWriter* first = tables->NewTable();
  CheckpointWriter* second = tables->NewTable();
  CheckpointWriter* count = tables->NewTable();
  std::thread writer([&] { PutPacks(second, entries, split, entries.size()); });
  PutPacks(first, entries, 0, split);
  count->Put(kCountKey, EncodeCount(store_.size()));
  writer.join();
}

Result<LoadOutcome> TicketProjection::Load(const CheckpointReader& reader) {
  // The digests are checked on the side, and a load that finds one wrong
  // (damage, rare) is done again with each checked in line, which repairs
  // what does not check out.
  bool redo = false;
  Result<LoadOutcome> loaded = LoadOnce(reader, /*check_on_the_side=*/true, &redo);
  if (!redo) return loaded;
  return LoadOnce(reader, /*check_on_the_side=*/false, &redo);
}

Result<LoadOutcome> TicketProjection::LoadOnce(const CheckpointReader& reader, bool check_on_the_side, bool* redo) {
  Clear();
  Result<std::optional<std::string>> count = reader.Get(kCountKey);
  if (!count) return count.error();
  if (!*count || (*count)->size() != 8) return LoadOutcome::Unusable("the checkpoint has no ticket count");
  const uint64_t expected_count = ReadBigEndian64(**count);
  const size_t reserve = static_cast<size_t>(std::min(expected_count, kReserveTicketsMax));

  // Room for one reopened period in eight tickets; more grows the array.
  SideWork side(reserve + reserve / 8);
  Loader loader(reader, &changed_, &side);
  SavedTickets& saved = loader.saved;
  saved.numbers.reserve(reserve);
  saved.records.reserve(reserve);

  // The tickets saved alone first (usually few: those changed since the
  // last whole save), checked and kept; merged with the packs below.
  std::vector<Period> periods;
  Status scanned =
      reader.Scan(std::string_view(&kAlonePrefix, 1), [&](std::string_view key, std::string_view value) {
        if (key.size() != kAloneKeyBytes) return true;  // not a ticket's key
        Alone entry;
        entry.number = ReadBigEndian64(key.substr(1));
        const std::optional<std::string_view> body = Unseal(key, value);
        ByteReader fields(body.value_or(std::string_view()));
        uint64_t size = 0;
        std::string_view record;
        if (!body) {
          entry.why = "its digest does not match";
        } else if (!ReadPeriods(&fields, &periods) || periods.empty() || !fields.Varint(&size) ||
                   size != fields.remaining() || !fields.Raw(size, &record)) {
          entry.why = "it does not decode";
        } else {
          entry.sound = true;
          entry.periods_begin = static_cast<uint32_t>(loader.alone_periods.size());
          loader.alone_periods.insert(loader.alone_periods.end(), periods.begin(), periods.end());
          entry.periods_end = static_cast<uint32_t>(loader.alone_periods.size());
          entry.record = saved.Keep(record);
        }
        loader.alone.push_back(std::move(entry));
        return true;
      });
  if (!scanned) return scanned.error();

  // The packs, each checked against its digest, and kept packed where the
  // scan read them (pinned: mapped table files, not copied), or copied when
  // the pinned view cannot be opened.
  ParsedPack pack;
  bool pinned = true;
  bool visited = false;
  bool side_trouble = false;
  const auto visit_pack = [&](std::string_view key, std::string_view value) {
    visited = true;
    if (key.size() != kPackKeyBytes) return true;  // not a pack's key
    const uint64_t first = ReadBigEndian64(key.substr(1));
    const uint64_t last = ReadBigEndian64(key.substr(9));
    if (last < first || last - first >= kPackTicketsMax) {
      loader.problem = "a saved pack spans " + TicketName::Format(first) + " to " + TicketName::Format(last);
      return false;
    }
    if (check_on_the_side && pinned) {
      // Checked on the side: a pack that does not even parse is not
      // repaired from here (its digest is not known yet); the load is done
      // again with the check in line, which says why and repairs it.
      if (value.size() < kSha256Bytes ||
          !ParsePack(value.substr(0, value.size() - kSha256Bytes), first, last, &pack, &periods)) {
        side_trouble = true;
        return false;
      }
      side.CheckSeal(key, value);
    } else if (const std::optional<std::string_view> body = Unseal(key, value); !body) {
      loader.RepairRange(first, last, "its digest does not match");
      return loader.ok();
    } else if (!ParsePack(*body, first, last, &pack, &periods)) {
      loader.RepairRange(first, last, "it does not decode");
      return loader.ok();
    }
    const uint32_t index = pinned ? saved.AddPinnedPack(pack.packed, pack.unpacked_size)
                                  : saved.AddPack(pack.packed, pack.unpacked_size);
    for (const PackEntry& entry : pack.entries) {
      loader.AddPacked(
          entry.number,
          std::span<const Period>(pack.periods).subspan(entry.periods_begin, entry.periods_end - entry.periods_begin),
          SavedTickets::Record{.place = index, .offset = entry.offset, .size = entry.size});
      if (!loader.ok()) break;
    }
    return loader.ok();
  };
  Result<std::shared_ptr<const void>> pin = reader.ScanPinned(std::string_view(&kPackPrefix, 1), visit_pack);
  if (!pin && !visited) {
    pinned = false;
    scanned = reader.Scan(std::string_view(&kPackPrefix, 1), visit_pack);
  } else if (!pin) {
    scanned = pin.error();
  } else {
    saved.pin = std::move(*pin);
  }
  if (check_on_the_side && (!side.Wait() || side_trouble)) {
    Clear();
    *redo = true;
    return LoadOutcome{};
  }
  if (!scanned) return scanned.error();
  if (loader.ok()) loader.Finish();
  (void)side.Finish(&saved.timeline);
  if (loader.failure) {
    Clear();
    return *loader.failure;
  }
  if (loader.problem.empty() && saved.numbers.size() != expected_count) {
    loader.problem = "the checkpoint holds " + std::to_string(saved.numbers.size()) + " tickets, not the " +
                     std::to_string(expected_count) + " it says";
  }
  if (!loader.problem.empty()) {
    Clear();
    return LoadOutcome::Unusable(loader.problem);
  }
  if (Status attached = store_.AttachSaved(std::move(saved)); !attached) {
    Clear();
    return LoadOutcome::Unusable(attached.error().message);
  }
  return LoadOutcome{};
}

bool TicketProjection::FillStep(const std::atomic<bool>& stop) const {
  if (stop.load(std::memory_order_relaxed)) return false;
  return store_.BuildSome(kFillStepTickets);
}

}  // namespace ledger::projections
