#include "projections/ticket_projection.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "common/encoding.h"
#include "projections/checkpoint.h"
#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

constexpr char kTicketPrefix = 'k';
constexpr char kOutlinePrefix = 'p';
constexpr std::string_view kVersionKey = "mversion";
constexpr std::string_view kCountKey = "mticket_count";
// Below this many tickets SaveWhole writes one table of records on one
// thread; above, a quarter of them go to a second table written on a second
// thread (encoding and compressing the records is most of a save's work).
constexpr size_t kSaveSplitTicketsMin = 4096;
// The background fill decodes this many tickets per step (about a
// millisecond under the read lock).
constexpr size_t kFillStepTickets = 256;

std::string NumberKey(char prefix, uint64_t number) {
  std::string key(1, prefix);
  AppendBigEndian64(&key, number);
  return key;
}

std::string EncodeCount(uint64_t count) {
  std::string value;
  AppendBigEndian64(&value, count);
  return value;
}

void PutTickets(CheckpointWriter* table, const std::vector<const TicketStore::Entry*>& entries, size_t begin,
                size_t end) {
  std::string value;
  for (size_t i = begin; i < end; ++i) {
    value.clear();
    EncodeTicket(entries[i]->second, &value);
    table->Put(NumberKey(kTicketPrefix, entries[i]->first), value);
  }
}

// A saved ticket that does not check out, folded again from its own events
// up to the checkpoint's seq. Unusable when the ledger never opened it.
Result<std::optional<TicketState>> Refold(const CheckpointReader& reader, uint64_t number, const std::string& why) {
  std::fprintf(stderr, "incident-ledger: the checkpoint's %s is unusable (%s); folding it again from its events\n",
               TicketName::Format(number).c_str(), why.c_str());
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

}  // namespace

CheckpointKeys TicketProjection::checkpoint_keys() const {
  return CheckpointKeys{.version_key = kVersionKey,
                        .prefixes = {std::string_view(&kTicketPrefix, 1), std::string_view(&kOutlinePrefix, 1),
                                     kCountKey}};
}

void TicketProjection::Changed(std::optional<uint64_t> number) {
  if (number && tracking_) changed_.push_back(*number);
}

void TicketProjection::Apply(const proto::Event& event, const Sha256Digest&) { Changed(store_.Apply(event)); }

void TicketProjection::Take(proto::Event* event, const Sha256Digest&) { Changed(store_.Take(event)); }

void TicketProjection::Clear() {
  store_.Clear();
  changed_.clear();
}

void TicketProjection::TrackChanges(bool on) {
  tracking_ = on;
  if (!on) changed_.clear();
}

void TicketProjection::SaveChanges(CheckpointWriter* batch) {
  std::sort(changed_.begin(), changed_.end());
  changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
  std::string value;
  for (const uint64_t number : changed_) {
    const TicketState* state = store_.FindNumber(number);
    if (state == nullptr) continue;
    value.clear();
    EncodeTicket(*state, &value);
    batch->Put(NumberKey(kTicketPrefix, number), value);
    value.clear();
    EncodePeriods(state->periods, &value);
    batch->Put(NumberKey(kOutlinePrefix, number), value);
  }
  changed_.clear();
  batch->Put(kCountKey, EncodeCount(store_.size()));
}

void TicketProjection::SaveWhole(CheckpointTables* tables) const {
  std::vector<const TicketStore::Entry*> entries;
  entries.reserve(store_.size());
  for (const TicketStore::Entry& entry : store_.all()) entries.push_back(&entry);
  const size_t split = entries.size() < kSaveSplitTicketsMin ? 0 : entries.size() * 3 / 4;
  // 'k' records below the split, 'k' from the split on, the 'p' outlines
  // and the count: four tables whose key ranges do not overlap.
  CheckpointWriter* first = tables->NewTable();
  CheckpointWriter* second = tables->NewTable();
  CheckpointWriter* outlines = tables->NewTable();
  CheckpointWriter* count = tables->NewTable();
  std::thread writer([&] { PutTickets(second, entries, split, entries.size()); });
  PutTickets(first, entries, 0, split);
  std::string value;
  for (const TicketStore::Entry* entry : entries) {
    value.clear();
    EncodePeriods(entry->second.periods, &value);
    outlines->Put(NumberKey(kOutlinePrefix, entry->first), value);
  }
  count->Put(kCountKey, EncodeCount(store_.size()));
  writer.join();
}

Result<LoadOutcome> TicketProjection::Load(const CheckpointReader& reader) {
  Clear();
  Result<std::optional<std::string>> count = reader.Get(kCountKey);
  if (!count) return count.error();
  if (!*count || (*count)->size() != 8) return LoadOutcome::Unusable("the checkpoint has no ticket count");
  const uint64_t expected_count = ReadBigEndian64(**count);

  // The outlines: numbers and periods, in number order.
  std::vector<uint64_t> numbers;
  std::vector<uint32_t> offsets{0};
  std::vector<Period> all_periods;
  numbers.reserve(expected_count);
  offsets.reserve(expected_count + 1);
  std::vector<Period> periods;
  std::string problem;
  Status scanned = reader.Scan(std::string_view(&kOutlinePrefix, 1), [&](std::string_view key, std::string_view record) {
    if (key.size() != 9 || !DecodePeriods(record, &periods) || periods.empty()) {
      problem = "a saved ticket outline does not decode";
      return false;
    }
    numbers.push_back(ReadBigEndian64(key.substr(1)));
    all_periods.insert(all_periods.end(), periods.begin(), periods.end());
    offsets.push_back(static_cast<uint32_t>(all_periods.size()));
    return true;
  });
  if (!scanned) return scanned.error();
  if (!problem.empty()) return LoadOutcome::Unusable(problem);
  if (numbers.size() != expected_count) {
    return LoadOutcome::Unusable("the checkpoint holds " + std::to_string(numbers.size()) + " tickets, not the " +
                                 std::to_string(expected_count) + " it says");
  }
  const auto outline = [&](size_t index) {
    return std::vector<Period>(all_periods.begin() + offsets[index], all_periods.begin() + offsets[index + 1]);
  };

  // The records, each checked against its outline; one that does not check
  // out (or is missing) is folded again from the ledger.
  SavedTickets saved;
  saved.outlines.numbers.reserve(numbers.size());
  saved.outlines.period_offsets.reserve(numbers.size() + 1);
  saved.outlines.periods.reserve(all_periods.size());
  saved.records.reserve(numbers.size());
  size_t next = 0;  // the next outline to place
  Error failure{};
  bool failed = false;
  std::vector<Period> outline_periods;
  // Places outline `index` from the ledger; false when it cannot.
  const auto repair = [&](size_t index, const std::string& why) {
    Result<std::optional<TicketState>> refolded = Refold(reader, numbers[index], why);
    if (!refolded) {
      failure = refolded.error();
      failed = true;
      return false;
    }
    if (!*refolded) {
      problem = "the checkpoint names " + TicketName::Format(numbers[index]) + ", which the ledger never opened";
      return false;
    }
    std::string record;
    EncodeTicket(**refolded, &record);
    saved.Add(numbers[index], (*refolded)->periods, record);
    changed_.push_back(numbers[index]);  // saved again with the next save
    return true;
  };
  TicketState scratch;  // reused: checking a record allocates next to nothing
  scanned = reader.Scan(std::string_view(&kTicketPrefix, 1), [&](std::string_view key, std::string_view record) {
    if (key.size() != 9) return true;  // not a ticket's key
    const uint64_t number = ReadBigEndian64(key.substr(1));
    for (; next < numbers.size() && numbers[next] < number; ++next) {
      if (!repair(next, "no saved record")) return false;
    }
    if (next == numbers.size() || numbers[next] != number) return true;  // a record without an outline
    outline_periods = outline(next);
    std::string why;
    if (!DecodeTicket(record, &scratch)) {
      why = "saved ticket " + std::to_string(number) + " does not decode";
    } else if (scratch.ticket != TicketName::Format(number)) {
      why = "it names " + scratch.ticket;
    } else if (!SamePeriods(scratch.periods, outline_periods)) {
      why = "does not match the saved outline";
    }
    if (why.empty()) {
      saved.Add(number, outline_periods, record);
    } else if (!repair(next, why)) {
      return false;
    }
    ++next;
    return true;
  });
  if (!scanned) return scanned.error();
  for (; !failed && problem.empty() && next < numbers.size(); ++next) (void)repair(next, "no saved record");
  if (failed) return failure;
  if (!problem.empty()) {
    Clear();
    return LoadOutcome::Unusable(problem);
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
