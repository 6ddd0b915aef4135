// Fuzz target for what is read back from disk: a stored event value
// (ledger::DecodeStoredEvent, which every ledger read goes through), the
// event it holds as the projections fold and the API renders it, and a saved
// ticket and ticket outline as projections/checkpoint.h loads them
// (projections/ticket_codec.h). A hostile record is
// not only a disk fault: `incident-ledger import` appends any export whose
// hashes chain, and anyone can compute SHA-256.
// Built like csv_reader_fuzz (see tests/fuzz/README.md).
//
// The first byte picks what the rest is:
//   0: seq (8 bytes, big-endian) | stored value (prev_hash | hash | record)
//   1: a record; the target puts valid hashes in front of it, so that the
//      fuzzer reaches the protobuf decoding and the folds
//   2: a saved ticket (DecodeTicket), as a checkpoint holds it
//   3: a saved ticket outline, its periods (DecodePeriods)
//
// Properties checked on every input:
//   - decoding never crashes; a failure is kCorruption naming the seq, and
//     with valid hashes only the protobuf decoding, the seq, an unknown
//     severity or a time that RFC 3339 cannot name (common/time.h) may fail
//     it;
//   - a decoded event serializes and decodes back to the same bytes;
//   - folding it into the ticket store (which already holds an open and a
//     closed incident) and the notification queue never crashes, and leaves
//     the timeline index answering as a walk over every ticket does;
//   - every ticket survives the checkpoint's encoding, and a saved ticket or
//     outline that decodes holds only times RFC 3339 can name and reads back
//     the same once encoded again;
//   - the event's and every ticket's JSON, the event-stream frame and the
//     duration and availability reports are valid JSON with figures in range.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "http/event_hub.h"
#include "http/json_views.h"
#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/durations.h"
#include "projections/notifications.h"
#include "projections/ticket_codec.h"
#include "projections/tickets.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using ledger::StoredEvent;
using ledger::projections::NotificationQueue;
using ledger::projections::TicketState;
using ledger::projections::TicketStore;
namespace proto = ledger::proto;

enum Mode : uint8_t { kStoredValue = 0, kRecord = 1, kSavedTicket = 2, kSavedOutline = 3, kModes = 4 };
// The number a saved ticket is put back under (the key's, in a checkpoint).
constexpr uint64_t kSavedTicketNumber = 3;

// 2026-11-24T08:40:00Z, and the moment open periods run to.
constexpr int64_t kBaseMicros = 1'795'509'600'000'000;
constexpr int64_t kNowMicros = kBaseMicros + 86'400'000'000;

StoredEvent Stored(proto::Event event) {
  StoredEvent stored;
  stored.seq = event.seq();
  LEDGER_ASSERT(event.SerializeToString(&stored.record));
  stored.hash = ledger::Sha256(ledger::AsBytes(stored.prev_hash), stored.record);
  stored.event = std::move(event);
  return stored;
}

proto::Event Incident(uint64_t seq, proto::EventType type, const std::string& ticket, int64_t micros) {
  proto::Event event;
  event.set_seq(seq);
  event.set_recorded_at_micros(micros);
  event.set_actor("anonymous");
  event.set_ticket(ticket);
  event.set_type(type);
  event.set_version(type == proto::INCIDENT_OPENED ? 1 : 2);
  proto::IncidentPayload* payload = event.mutable_incident();
  if (type == proto::INCIDENT_OPENED) {
    payload->set_title("Mail delayed");
    payload->mutable_systems()->add_names("mail");
    payload->set_engineer("Ana Ruiz");
    payload->mutable_started_at()->set_unix_micros(micros);
    payload->mutable_started_at()->set_offset_minutes(60);
  }
  return event;
}

// What every input starts from: INC-1 open, INC-2 closed, and one address
// subscribed to every system (so incident events have a recipient).
struct Base {
  TicketStore tickets;
  NotificationQueue queue;
};

const Base& BaseState() {
  static const Base base = [] {
    std::vector<StoredEvent> events;
    events.push_back(Stored(Incident(1, proto::INCIDENT_OPENED, "INC-1", kBaseMicros)));
    events.push_back(Stored(Incident(2, proto::INCIDENT_OPENED, "INC-2", kBaseMicros + 1'000'000)));
    events.push_back(Stored(Incident(3, proto::INCIDENT_CLOSED, "INC-2", kBaseMicros + 2'000'000)));
    proto::Event subscription;
    subscription.set_seq(4);
    subscription.set_type(proto::SUBSCRIPTION_ADDED);
    subscription.mutable_subscription()->set_email("ana.ruiz@example.org");
    subscription.mutable_subscription()->add_systems("*");
    events.push_back(Stored(subscription));
    Base made;
    for (const StoredEvent& stored : events) {
      (void)made.tickets.Apply(stored.event);  // the changed ticket's number is not needed
      made.queue.Apply(stored);
    }
    return made;
  }();
  return base;
}

int64_t Saturated(int64_t value, int64_t delta) {
  if (delta > 0 && value > std::numeric_limits<int64_t>::max() - delta) return std::numeric_limits<int64_t>::max();
  if (delta < 0 && value < std::numeric_limits<int64_t>::min() - delta) return std::numeric_limits<int64_t>::min();
  return value + delta;
}

void CheckJson(const std::string& text, const char* property) {
  LEDGER_FUZZ_CHECK(ledger::fuzz::IsJson(text), property, text);
}

void CheckSavedRoundTrip(const TicketState& state) {
  std::string once;
  ledger::projections::EncodeTicket(state, &once);
  TicketState decoded;
  LEDGER_FUZZ_CHECK(ledger::projections::DecodeTicket(once, &decoded), "a saved ticket decodes", state.ticket);
  std::string twice;
  ledger::projections::EncodeTicket(decoded, &twice);
  LEDGER_FUZZ_CHECK(once == twice, "a ticket survives its checkpoint encoding", state.ticket);
  std::string outline;
  ledger::projections::EncodePeriods(state.periods, &outline);
  std::vector<ledger::projections::Period> periods;
  LEDGER_FUZZ_CHECK(ledger::projections::DecodePeriods(outline, &periods) &&
                        ledger::projections::SamePeriods(periods, state.periods),
                    "a ticket's periods survive the checkpoint's outline", state.ticket);
}

// The timeline index must answer what a walk over every ticket answers.
void CheckTimeline(const TicketStore& store, int64_t from_micros, int64_t to_micros) {
  if (from_micros >= to_micros) return;
  std::set<uint64_t> walked;
  for (const auto& [number, state] : store.all()) {
    for (const ledger::projections::Period& period : state.periods) {
      if (ledger::projections::PeriodOverlaps(period, from_micros, to_micros)) walked.insert(number);
    }
  }
  const ledger::projections::TimelinePage page =
      store.Query({.from_micros = from_micros, .to_micros = to_micros, .limit = store.size() + 1});
  std::set<uint64_t> indexed;
  for (const TicketState* state : page.incidents) indexed.insert(state->ticket_number);
  LEDGER_FUZZ_CHECK(indexed == walked, "the timeline index finds what a walk finds",
                    std::to_string(from_micros) + " .. " + std::to_string(to_micros));
}

void CheckReports(const TicketStore& store) {
  using ledger::projections::kDurationInstantMicrosMax;
  using ledger::projections::kDurationInstantMicrosMin;
  const ledger::Result<ledger::projections::DurationReport> report = ledger::projections::ComputeDurations(
      store, {.from_micros = kDurationInstantMicrosMin, .to_micros = kDurationInstantMicrosMax, .now_micros = kNowMicros});
  LEDGER_FUZZ_CHECK(report.has_value(), "durations over all time compute",
                    report ? std::string() : report.error().message);
  for (const auto& incident : report->incidents) {
    LEDGER_FUZZ_CHECK(incident.seconds >= 0, "an incident's duration is not negative", incident.ticket);
  }
  for (const auto& system : report->systems) {
    LEDGER_FUZZ_CHECK(system.downtime_seconds >= 0 && system.availability >= 0 && system.availability <= 1,
                      "a system's downtime and availability are in range", system.system);
  }
  if (report->mttr_seconds) {
    LEDGER_FUZZ_CHECK(*report->mttr_seconds >= 0, "MTTR is not negative", std::to_string(*report->mttr_seconds));
  }
  CheckJson(ledger::http::DurationReportJson(*report, std::nullopt, ledger::http::DurationLists::kBoth, ledger::Head{}),
            "a duration report is valid JSON");

  const ledger::Result<std::vector<ledger::projections::DayFigure>> days = ledger::projections::DailyAvailability(
      store, {.system = "", .timezone = "UTC", .end_date = "2026-11-25", .days = 3, .now_micros = kNowMicros});
  LEDGER_FUZZ_CHECK(days.has_value(), "daily availability computes", days ? std::string() : days.error().message);
  for (const auto& day : *days) {
    LEDGER_FUZZ_CHECK(day.downtime_seconds >= 0 && day.availability >= 0 && day.availability <= 1,
                      "a day's downtime and availability are in range", day.date);
  }
}

bool TimesRepresentable(const proto::Event& event);

// The decoded event as everything downstream of the ledger sees it.
void CheckEvent(const StoredEvent& stored) {
  LEDGER_FUZZ_CHECK(TimesRepresentable(stored.event), "a decoded event holds only times RFC 3339 can name", "");
  std::string again;
  LEDGER_ASSERT(stored.event.SerializeToString(&again));
  proto::Event reparsed;
  LEDGER_FUZZ_CHECK(reparsed.ParseFromString(again), "a decoded event serializes to a valid record", "");
  std::string third;
  LEDGER_ASSERT(reparsed.SerializeToString(&third));
  LEDGER_FUZZ_CHECK(again == third, "a decoded event round-trips through its record", "");

  const std::string json = ledger::http::EventJson(stored);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  LEDGER_FUZZ_CHECK(ledger::fuzz::ParsesAsJson(json, &parser, &root), "an event's JSON is valid", json);
  uint64_t seq = 0;
  LEDGER_FUZZ_CHECK(root["seq"].get_uint64().get(seq) == simdjson::SUCCESS && seq == stored.seq,
                    "an event's JSON carries its seq", json);
  const std::string frame = ledger::http::EventStreamFrame(stored);
  const std::string head = "id: " + std::to_string(stored.seq) + "\ndata: ";
  LEDGER_FUZZ_CHECK(frame.starts_with(head) && frame.ends_with("\n\n") &&
                        frame.find('\n', head.size()) == frame.size() - 2,
                    "an event-stream frame is one id line and one data line", frame);

  Base state = BaseState();
  const std::optional<uint64_t> changed = state.tickets.Apply(stored.event);
  state.queue.Apply(stored);
  const ledger::projections::QueueCounts counts = state.queue.counts();
  LEDGER_FUZZ_CHECK(counts.pending + counts.sent + counts.failed == state.queue.jobs().size(),
                    "the queue's counts add up to its jobs", "");

  for (const auto& [number, ticket] : state.tickets.all()) {
    ledger::JsonWriter writer;
    ledger::http::WriteTicket(&writer, ticket);
    CheckJson(writer.text(), "a ticket's JSON is valid");
    CheckSavedRoundTrip(ticket);
  }
  if (changed) {
    const TicketState* ticket = state.tickets.FindNumber(*changed);
    LEDGER_FUZZ_CHECK(ticket != nullptr && !ticket->periods.empty(), "a folded ticket has an outage period",
                      stored.event.ticket());
    for (const ledger::projections::Period& period : ticket->periods) {
      const int64_t start = period.start.unix_micros;
      CheckTimeline(state.tickets, Saturated(start, -1), Saturated(start, 1));
      if (period.end) CheckTimeline(state.tickets, Saturated(period.end->unix_micros, -1), Saturated(period.end->unix_micros, 1));
    }
  }
  CheckTimeline(state.tickets, kBaseMicros - 86'400'000'000, kNowMicros);
  CheckReports(state.tickets);
}

bool Representable(const proto::Timestamp& time) {
  return ledger::IsRepresentable(ledger::Instant{time.unix_micros(), time.offset_minutes()});
}

// The times a record may hold (record.cc's CheckPayload): RFC 3339's, in
// every time field of an incident or a maintenance payload.
bool TimesRepresentable(const proto::Event& event) {
  if (!ledger::IsRepresentable(ledger::Instant{event.recorded_at_micros(), 0})) return false;
  const auto fits = [](bool given, const proto::Timestamp& time) { return !given || Representable(time); };
  const proto::IncidentPayload& payload = event.incident();
  const proto::MaintenancePayload& window = event.maintenance();
  return fits(payload.has_started_at(), payload.started_at()) && fits(payload.has_ended_at(), payload.ended_at()) &&
         fits(payload.has_detected_at(), payload.detected_at()) &&
         fits(payload.has_acknowledged_at(), payload.acknowledged_at()) &&
         fits(payload.has_mitigated_at(), payload.mitigated_at()) &&
         fits(window.has_starts_at(), window.starts_at()) && fits(window.has_ends_at(), window.ends_at()) &&
         fits(window.has_started_at(), window.started_at()) && fits(window.has_ended_at(), window.ended_at());
}

// ...and the enum values it may hold: known ones.
bool ValuesKnown(const proto::Event& event) {
  const proto::IncidentPayload& payload = event.incident();
  return proto::Severity_IsValid(payload.severity()) && proto::Impact_IsValid(payload.impact()) &&
         proto::Phase_IsValid(payload.phase());
}

// ...and saved periods and tickets (ticket_codec.h).
bool TimesRepresentable(const std::vector<ledger::projections::Period>& periods) {
  for (const ledger::projections::Period& period : periods) {
    if (!ledger::IsRepresentable(period.start) || (period.end && !ledger::IsRepresentable(*period.end))) return false;
  }
  return true;
}

bool TimesRepresentable(const TicketState& state) {
  return TimesRepresentable(state.periods) && ledger::IsRepresentable(ledger::Instant{state.opened_at_micros, 0}) &&
         ledger::IsRepresentable(ledger::Instant{state.updated_at_micros, 0});
}

void CheckCorruption(const ledger::Error& error, uint64_t seq) {
  LEDGER_FUZZ_CHECK(error.code == ledger::ErrorCode::kCorruption, "a bad stored value is corruption", error.message);
  LEDGER_FUZZ_CHECK(error.message.starts_with("event " + std::to_string(seq) + ": "), "a corruption names the seq",
                    error.message);
}

void CheckStoredValue(std::string_view input) {
  if (input.size() < 8) return;
  const uint64_t seq = ledger::ReadBigEndian64(input);
  const std::string_view value = input.substr(8);
  const ledger::Result<StoredEvent> stored = ledger::DecodeStoredEvent(seq, value);
  if (!stored) return CheckCorruption(stored.error(), seq);
  LEDGER_FUZZ_CHECK(stored->seq == seq && stored->event.seq() == seq, "a decoded event has the seq it was read under", "");
  LEDGER_FUZZ_CHECK(ledger::AsBytes(stored->prev_hash) == value.substr(0, 32) &&
                        ledger::AsBytes(stored->hash) == value.substr(32, 32) && stored->record == value.substr(64),
                    "a decoded event keeps the stored bytes", "");
  CheckEvent(*stored);
}

void CheckRecord(std::string_view record) {
  ledger::Sha256Digest prev_hash{};
  prev_hash[0] = 0x5a;  // any chain position: the link is not DecodeStoredEvent's to check
  std::string value(ledger::AsBytes(prev_hash));
  value += ledger::AsBytes(ledger::Sha256(ledger::AsBytes(prev_hash), record));
  value += record;
  proto::Event event;
  const bool parses = event.ParseFromArray(record.data(), static_cast<int>(record.size()));
  const uint64_t seq = parses ? event.seq() : 1;
  const ledger::Result<StoredEvent> stored = ledger::DecodeStoredEvent(seq, value);
  if (!parses) {
    LEDGER_FUZZ_CHECK(!stored, "a record protobuf refuses is refused", "");
    CheckCorruption(stored.error(), seq);
    LEDGER_FUZZ_CHECK(stored.error().message.find("not a valid Event") != std::string::npos,
                      "an undecodable record is reported as such", stored.error().message);
    return;
  }
  const bool values_known = !event.has_incident() || ValuesKnown(event);
  const bool times_representable = TimesRepresentable(event);
  if (!values_known || !times_representable) {
    LEDGER_FUZZ_CHECK(!stored, "a record holding an unknown enum value or a time out of range is refused", "");
    CheckCorruption(stored.error(), seq);
    const std::string& message = stored.error().message;
    LEDGER_FUZZ_CHECK((!values_known && message.find("is not a known value") != std::string::npos) ||
                          (!times_representable && message.find("out of range") != std::string::npos),
                      "the refusal says what is wrong with the record", message);
    return;
  }
  if (!stored) ledger::fuzz::PropertyFailed("a record with valid hashes decodes", stored.error().message);
  CheckEvent(*stored);
}

// A saved ticket as TicketProjection::Load checks it (and the store decodes it), put back
// into the store.
void CheckSavedTicket(std::string_view bytes) {
  TicketState state;
  if (!ledger::projections::DecodeTicket(bytes, &state)) return;
  LEDGER_FUZZ_CHECK(TimesRepresentable(state), "a saved ticket holds only times RFC 3339 can name", "");
  // The encoding need not be the only one a decoder takes (a varint may be
  // padded), but what it writes must read back as the same ticket.
  CheckSavedRoundTrip(state);
  if (state.periods.empty()) return;  // the outline check refuses those
  state.ticket_number = kSavedTicketNumber;
  const std::vector<ledger::projections::Period> periods = state.periods;
  Base base = BaseState();
  base.tickets.Put(std::move(state));
  for (const auto& [number, ticket] : base.tickets.all()) {
    ledger::JsonWriter writer;
    ledger::http::WriteTicket(&writer, ticket);
    CheckJson(writer.text(), "a loaded ticket's JSON is valid");
  }
  for (const ledger::projections::Period& period : periods) {
    CheckTimeline(base.tickets, Saturated(period.start.unix_micros, -1), Saturated(period.start.unix_micros, 1));
  }
  CheckReports(base.tickets);
}

// A saved outline (a ticket's periods), as a start reads it.
void CheckSavedOutline(std::string_view bytes) {
  std::vector<ledger::projections::Period> periods;
  if (!ledger::projections::DecodePeriods(bytes, &periods)) return;
  LEDGER_FUZZ_CHECK(TimesRepresentable(periods), "a saved outline holds only times RFC 3339 can name", "");
  std::string once;
  ledger::projections::EncodePeriods(periods, &once);
  std::vector<ledger::projections::Period> again;
  LEDGER_FUZZ_CHECK(ledger::projections::DecodePeriods(once, &again) && ledger::projections::SamePeriods(again, periods),
                    "a saved outline reads back the same once encoded", "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % kModes) {
    case kStoredValue: CheckStoredValue(rest); break;
    case kRecord: CheckRecord(rest); break;
    case kSavedTicket: CheckSavedTicket(rest); break;
    case kSavedOutline: CheckSavedOutline(rest); break;
  }
  return 0;
}
