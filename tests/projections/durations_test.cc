// Outage durations (projections/durations.h): a hand-written scenario whose
// figures are worked out by hand below, "as known then" against "as corrected
// now", the edges of the window rules, per-day availability across DST
// changes, and the CSV rendering.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "projections/durations.h"
#include "projections/durations_csv.h"
#include "projections/maintenance.h"
#include "projections/tickets.h"

namespace ledger::projections {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
// 2026-11-24T00:00:00Z, the start of the scenario's window.
constexpr int64_t kT0 = 1'795'478'400LL * kSecond;

using Systems = std::vector<std::string>;
using Tickets = std::vector<std::string>;

proto::Event Make(uint64_t seq, const std::string& ticket, proto::EventType type, int64_t recorded) {
  proto::Event event;
  event.set_seq(seq);
  event.set_ticket(ticket);
  event.set_type(type);
  event.set_recorded_at_micros(recorded);
  event.mutable_incident();
  return event;
}

void SetTime(proto::Timestamp* timestamp, int64_t micros) {
  timestamp->set_unix_micros(micros);
  timestamp->set_offset_minutes(60);
}

void SetSystems(proto::Event* event, const Systems& systems) {
  for (const std::string& system : systems) event->mutable_incident()->mutable_systems()->add_names(system);
}

proto::Event Open(uint64_t seq, const std::string& ticket, int64_t recorded, const Systems& systems,
                  std::optional<int64_t> started = {}) {
  proto::Event event = Make(seq, ticket, proto::INCIDENT_OPENED, recorded);
  event.mutable_incident()->set_title("Title " + ticket);
  event.mutable_incident()->set_engineer("Ana");
  SetSystems(&event, systems);
  if (started) SetTime(event.mutable_incident()->mutable_started_at(), *started);
  return event;
}

proto::Event Close(uint64_t seq, const std::string& ticket, int64_t recorded, std::optional<int64_t> ended = {}) {
  proto::Event event = Make(seq, ticket, proto::INCIDENT_CLOSED, recorded);
  if (ended) SetTime(event.mutable_incident()->mutable_ended_at(), *ended);
  return event;
}

proto::Event Reopen(uint64_t seq, const std::string& ticket, int64_t recorded, int64_t started) {
  proto::Event event = Make(seq, ticket, proto::INCIDENT_REOPENED, recorded);
  SetTime(event.mutable_incident()->mutable_started_at(), started);
  return event;
}

proto::Event CorrectEnd(uint64_t seq, const std::string& ticket, int64_t recorded, int64_t ended) {
  proto::Event event = Make(seq, ticket, proto::INCIDENT_UPDATED, recorded);
  SetTime(event.mutable_incident()->mutable_ended_at(), ended);
  return event;
}

proto::Event ChangeSystems(uint64_t seq, const std::string& ticket, int64_t recorded, const Systems& systems) {
  proto::Event event = Make(seq, ticket, proto::INCIDENT_UPDATED, recorded);
  SetSystems(&event, systems);
  return event;
}

// "As known then": a separate store folded from only the events recorded up
// to as_of, which is what the service does for ?as_of=.
TicketStore FoldUpTo(const std::vector<proto::Event>& events, int64_t as_of_micros) {
  TicketStore store;
  for (const proto::Event& event : events) {
    if (event.recorded_at_micros() <= as_of_micros) store.Apply(event);
  }
  return store;
}

TicketStore FoldAll(const std::vector<proto::Event>& events) {
  TicketStore store;
  for (const proto::Event& event : events) store.Apply(event);
  return store;
}

DurationReport Compute(const TicketStore& store, int64_t from, int64_t to, int64_t now) {
  Result<DurationReport> report = ComputeDurations(store, DurationQuery{.from_micros = from, .to_micros = to, .now_micros = now});
  EXPECT_TRUE(report.has_value()) << (report ? "" : report.error().message);
  return report ? *report : DurationReport{};
}

const IncidentDuration* FindIncident(const DurationReport& report, const std::string& ticket) {
  for (const IncidentDuration& incident : report.incidents) {
    if (incident.ticket == ticket) return &incident;
  }
  return nullptr;
}

const SystemDowntime* FindSystem(const DurationReport& report, const std::string& system) {
  for (const SystemDowntime& figure : report.systems) {
    if (figure.system == system) return &figure;
  }
  return nullptr;
}

// Availability as the contract defines it, from exact microseconds.
double ExpectedAvailability(int64_t downtime_micros, int64_t window_micros) {
  return 1.0 - static_cast<double>(downtime_micros) / static_cast<double>(window_micros);
}

// The scenario. All times are offsets from T0 = 2026-11-24T00:00:00Z; the
// window is [T0, T0+24h), 86,400 s.
//
//   INC-5 mail        [-10h, -5h)                      entirely before the window
//   INC-1 mail (+vpn) [-2h, 3h 0.9s)                   starts before the window; vpn added at +1h
//   INC-2 mail        [2h, 5h), reopened [10h, 11h30)  corrected at +20h to end at 12h
//   INC-3 db          [20h, 26h)                       ends after the window
//   INC-4 vpn, db     [22h, ...)                       still open
//
//   seq  recorded   event
//    1   -10h       INC-5 opened (started_at defaults to recorded: -10h), systems mail
//    2    -5h       INC-5 closed (ended_at defaults to recorded: -5h)
//    3   -1h50      INC-1 opened, started_at -2h, systems mail
//    4    +1h       INC-1 updated: systems mail, vpn (the current list counts for all its time)
//    5   +2h05      INC-2 opened, started_at +2h, systems mail
//    6   +3h10      INC-1 closed, ended_at +3h 0.9s (a fraction of a second, to see the floor)
//    7    +5h       INC-2 closed, ended_at +5h
//    8   +10h       INC-2 reopened, started_at +10h (second period)
//    9   +11h40     INC-2 closed, ended_at +11h30
//   10   +20h       INC-2 updated: ended_at +12h (a correction after close)
//   11   +20h       INC-3 opened, started_at +20h, systems db
//   12   +22h       INC-4 opened, started_at +22h, systems vpn, db
//   13   +26h       INC-3 closed, ended_at +26h
std::vector<proto::Event> Scenario() {
  return {
      Open(1, "INC-5", kT0 - 10 * kHour, {"mail"}),
      Close(2, "INC-5", kT0 - 5 * kHour),
      Open(3, "INC-1", kT0 - 110 * kMinute, {"mail"}, kT0 - 2 * kHour),
      ChangeSystems(4, "INC-1", kT0 + 1 * kHour, {"mail", "vpn"}),
      Open(5, "INC-2", kT0 + 125 * kMinute, {"mail"}, kT0 + 2 * kHour),
      Close(6, "INC-1", kT0 + 190 * kMinute, kT0 + 3 * kHour + 900'000),
      Close(7, "INC-2", kT0 + 5 * kHour, kT0 + 5 * kHour),
      Reopen(8, "INC-2", kT0 + 10 * kHour, kT0 + 10 * kHour),
      Close(9, "INC-2", kT0 + 700 * kMinute, kT0 + 690 * kMinute),
      CorrectEnd(10, "INC-2", kT0 + 20 * kHour, kT0 + 12 * kHour),
      Open(11, "INC-3", kT0 + 20 * kHour, {"db"}, kT0 + 20 * kHour),
      Open(12, "INC-4", kT0 + 22 * kHour, {"vpn", "db"}, kT0 + 22 * kHour),
      Close(13, "INC-3", kT0 + 26 * kHour, kT0 + 26 * kHour),
  };
}

// As corrected now: every event, now = T0+30h (after the window, so INC-4's
// open period runs to the window's end).
//
// Incidents (clipped to [0h, 24h)):
//   INC-1 [0h, 3h 0.9s)            = 10,800.9 s -> 10,800 (floor)
//   INC-2 [2h, 5h) + [10h, 12h)    = 3h + 2h = 18,000 s
//   INC-3 [20h, 24h)               = 14,400 s (clipped at the end; it ran to 26h)
//   INC-4 [22h, min(30h, 24h))     = 7,200 s, ongoing
//   INC-5 ends before the window: not listed.
// Systems (union, not sum):
//   db   INC-3 [20h,24h) u INC-4 [22h,24h) = [20h,24h) = 14,400 s (sum would be 21,600)
//        availability 1 - 4/24
//   mail INC-1 [0h,3h 0.9s) u INC-2 [2h,5h) u [10h,12h) = [0h,5h) + [10h,12h) = 7h = 25,200 s
//        (sum would be 8h 0.9s); availability 1 - 7/24; INC-5 is not in the window
//   vpn  INC-1 [0h,3h 0.9s) u INC-4 [22h,24h) = 18,000.9 s -> 18,000; availability from the
//        exact microseconds: 1 - 18,000.9 / 86,400
// MTTR: closed incidents whose final ended_at is in [0h, 24h): INC-1 (ended 3h 0.9s) and INC-2
//   (ended 12h); INC-3 ends at 26h, INC-5 at -5h. Unclipped durations: INC-1 5h 0.9s =
//   18,000.9 s; INC-2 3h + 2h = 18,000 s. Mean 18,000.45 s -> 18,000. closed_count 2.
TEST(Durations, ScenarioAsCorrectedNow) {
  const TicketStore store = FoldAll(Scenario());
  const DurationReport report = Compute(store, kT0, kT0 + kDay, kT0 + 30 * kHour);

  ASSERT_EQ(report.incidents.size(), 4u);
  EXPECT_EQ(report.incidents[0].ticket, "INC-1");
  EXPECT_EQ(report.incidents[0].seconds, 10'800);
  EXPECT_FALSE(report.incidents[0].ongoing);
  EXPECT_EQ(report.incidents[1].ticket, "INC-2");
  EXPECT_EQ(report.incidents[1].seconds, 18'000);
  EXPECT_FALSE(report.incidents[1].ongoing);
  EXPECT_EQ(report.incidents[2].ticket, "INC-3");
  EXPECT_EQ(report.incidents[2].seconds, 14'400);
  EXPECT_FALSE(report.incidents[2].ongoing);
  EXPECT_EQ(report.incidents[3].ticket, "INC-4");
  EXPECT_EQ(report.incidents[3].seconds, 7'200);
  EXPECT_TRUE(report.incidents[3].ongoing);

  ASSERT_EQ(report.systems.size(), 3u);
  EXPECT_EQ(report.systems[0].system, "db");
  EXPECT_EQ(report.systems[0].downtime_seconds, 14'400);
  EXPECT_DOUBLE_EQ(report.systems[0].availability, 1.0 - 4.0 / 24.0);
  EXPECT_EQ(report.systems[0].tickets, (Tickets{"INC-3", "INC-4"}));
  EXPECT_EQ(report.systems[1].system, "mail");
  EXPECT_EQ(report.systems[1].downtime_seconds, 25'200);
  EXPECT_DOUBLE_EQ(report.systems[1].availability, 1.0 - 7.0 / 24.0);
  EXPECT_EQ(report.systems[1].tickets, (Tickets{"INC-1", "INC-2"}));
  EXPECT_EQ(report.systems[2].system, "vpn");
  EXPECT_EQ(report.systems[2].downtime_seconds, 18'000);
  EXPECT_DOUBLE_EQ(report.systems[2].availability, ExpectedAvailability(18'000'900'000, kDay));
  EXPECT_EQ(report.systems[2].tickets, (Tickets{"INC-1", "INC-4"}));

  ASSERT_TRUE(report.mttr_seconds.has_value());
  EXPECT_EQ(*report.mttr_seconds, 18'000);
  EXPECT_EQ(report.closed_count, 2u);
  EXPECT_EQ(report.mttr_tickets, (Tickets{"INC-1", "INC-2"}));
}

// As known at T0+19h, before the correction (seq 10, recorded at +20h): events 1-9 only.
//   INC-1 unchanged: 10,800 s.
//   INC-2 [2h,5h) + [10h,11h30) = 3h + 1h30 = 16,200 s (18,000 once corrected).
//   INC-3 and INC-4 were not opened yet: not listed; no db.
//   mail [0h,5h) + [10h,11h30) = 6h30 = 23,400 s (25,200 once corrected).
//   vpn  INC-1 alone: 10,800.9 s -> 10,800.
//   MTTR INC-1 18,000.9 s and INC-2 16,200 s: mean 17,100.45 -> 17,100; closed_count 2.
TEST(Durations, ScenarioAsKnownBeforeTheCorrection) {
  const std::vector<proto::Event> events = Scenario();
  const int64_t as_of = kT0 + 19 * kHour;
  const TicketStore then = FoldUpTo(events, as_of);
  const DurationReport report = Compute(then, kT0, kT0 + kDay, as_of);

  ASSERT_EQ(report.incidents.size(), 2u);
  EXPECT_EQ(report.incidents[0].seconds, 10'800);
  EXPECT_EQ(report.incidents[1].ticket, "INC-2");
  EXPECT_EQ(report.incidents[1].seconds, 16'200);
  ASSERT_EQ(report.systems.size(), 2u);
  EXPECT_EQ(report.systems[0].system, "mail");
  EXPECT_EQ(report.systems[0].downtime_seconds, 23'400);
  EXPECT_EQ(report.systems[1].system, "vpn");
  EXPECT_EQ(report.systems[1].downtime_seconds, 10'800);
  EXPECT_EQ(report.systems[1].tickets, (Tickets{"INC-1"}));
  ASSERT_TRUE(report.mttr_seconds.has_value());
  EXPECT_EQ(*report.mttr_seconds, 17'100);
  EXPECT_EQ(report.closed_count, 2u);

  // The same question as corrected now gives other figures for INC-2 and mail.
  const DurationReport corrected = Compute(FoldAll(events), kT0, kT0 + kDay, kT0 + 30 * kHour);
  EXPECT_EQ(FindIncident(corrected, "INC-2")->seconds, 18'000);
  EXPECT_EQ(FindSystem(corrected, "mail")->downtime_seconds, 25'200);
  EXPECT_EQ(*corrected.mttr_seconds, 18'000);
}

// As known at T0+23h: events 1-12 (INC-3's close at +26h not yet recorded).
// Open periods run to as_of, inside the window:
//   INC-3 [20h, 23h) = 10,800 s, ongoing; INC-4 [22h, 23h) = 3,600 s, ongoing.
//   db [20h,23h) u [22h,23h) = 10,800 s. INC-2 is already corrected: 18,000 s.
TEST(Durations, OpenPeriodsRunToAsOf) {
  const int64_t as_of = kT0 + 23 * kHour;
  const DurationReport report = Compute(FoldUpTo(Scenario(), as_of), kT0, kT0 + kDay, as_of);
  ASSERT_EQ(report.incidents.size(), 4u);
  EXPECT_EQ(FindIncident(report, "INC-2")->seconds, 18'000);
  EXPECT_EQ(FindIncident(report, "INC-3")->seconds, 10'800);
  EXPECT_TRUE(FindIncident(report, "INC-3")->ongoing);
  EXPECT_EQ(FindIncident(report, "INC-4")->seconds, 3'600);
  EXPECT_TRUE(FindIncident(report, "INC-4")->ongoing);
  EXPECT_EQ(FindSystem(report, "db")->downtime_seconds, 10'800);
  EXPECT_DOUBLE_EQ(FindSystem(report, "db")->availability, 1.0 - 3.0 / 24.0);
}

// A narrower window, [T0+2h30, T0+10h30), clips both ends of several periods:
//   INC-1 [2h30, 3h 0.9s) = 1,800.9 s -> 1,800; INC-2 [2h30, 5h) + [10h, 10h30) = 3h = 10,800 s.
//   mail [2h30, 5h) + [10h, 10h30) = 10,800 s of 28,800: availability 0.625.
//   MTTR: INC-1 ended at 3h 0.9s, inside: 18,000 s (unclipped, floored); INC-2 ended at 12h: outside.
TEST(Durations, WindowClipsBothEnds) {
  const DurationReport report = Compute(FoldAll(Scenario()), kT0 + 150 * kMinute, kT0 + 630 * kMinute, kT0 + 30 * kHour);
  ASSERT_EQ(report.incidents.size(), 2u);
  EXPECT_EQ(report.incidents[0].seconds, 1'800);
  EXPECT_EQ(report.incidents[1].seconds, 10'800);
  EXPECT_EQ(FindSystem(report, "mail")->downtime_seconds, 10'800);
  EXPECT_DOUBLE_EQ(FindSystem(report, "mail")->availability, 0.625);
  EXPECT_EQ(report.mttr_seconds, std::optional<int64_t>(18'000));
  EXPECT_EQ(report.mttr_tickets, (Tickets{"INC-1"}));
}

TEST(Durations, NoClosedIncidentMeansNoMttr) {
  // Only INC-4, still open, touches [T0+23h, T0+24h).
  const DurationReport report = Compute(FoldAll(Scenario()), kT0 + 23 * kHour + 30 * kMinute, kT0 + kDay, kT0 + 30 * kHour);
  EXPECT_FALSE(report.mttr_seconds.has_value());
  EXPECT_EQ(report.closed_count, 0u);
  EXPECT_TRUE(report.mttr_tickets.empty());
}

TEST(Durations, EmptyStoreAndEmptyWindowFigures) {
  const DurationReport report = Compute(TicketStore{}, kT0, kT0 + kDay, kT0);
  EXPECT_TRUE(report.incidents.empty());
  EXPECT_TRUE(report.systems.empty());
  EXPECT_FALSE(report.mttr_seconds.has_value());
}

TEST(Durations, HalfOpenWindowEdges) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kT0 - kHour, {"mail"}, kT0 - kHour));
  store.Apply(Close(2, "INC-1", kT0, kT0));  // ends exactly where the window starts
  store.Apply(Open(3, "INC-2", kT0 + kDay, {"mail"}, kT0 + kDay));  // starts exactly where it ends
  const DurationReport report = Compute(store, kT0, kT0 + kDay, kT0 + 2 * kDay);
  EXPECT_TRUE(report.incidents.empty());
  EXPECT_TRUE(report.systems.empty());
  // An end exactly at `from` is inside the window for MTTR: [from, to).
  EXPECT_EQ(report.closed_count, 1u);
  EXPECT_EQ(report.mttr_seconds, std::optional<int64_t>(3'600));
}

TEST(Durations, InstantaneousAndJustOpenedIncidentsAreListedWithZero) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kT0 + kHour, {"mail"}, kT0 + kHour));
  store.Apply(Close(2, "INC-1", kT0 + kHour, kT0 + kHour));  // start == end
  store.Apply(Open(3, "INC-2", kT0 + 2 * kHour, {"vpn"}, kT0 + 2 * kHour));  // opened at "now"
  const DurationReport report = Compute(store, kT0, kT0 + kDay, kT0 + 2 * kHour);
  ASSERT_EQ(report.incidents.size(), 2u);
  EXPECT_EQ(report.incidents[0].seconds, 0);
  EXPECT_FALSE(report.incidents[0].ongoing);
  EXPECT_EQ(report.incidents[1].seconds, 0);
  EXPECT_TRUE(report.incidents[1].ongoing);
  ASSERT_EQ(report.systems.size(), 2u);
  EXPECT_EQ(report.systems[0].downtime_seconds, 0);
  EXPECT_DOUBLE_EQ(report.systems[0].availability, 1.0);
  EXPECT_EQ(report.mttr_seconds, std::optional<int64_t>(0));
}

TEST(Durations, OpenPeriodNotBegunByAsOfDoesNotCount) {
  TicketStore store;
  // Recorded at +1h, but the submitter gave a start of +5h.
  store.Apply(Open(1, "INC-1", kT0 + kHour, {"mail"}, kT0 + 5 * kHour));
  EXPECT_TRUE(Compute(store, kT0, kT0 + kDay, kT0 + 2 * kHour).incidents.empty());
  const DurationReport later = Compute(store, kT0, kT0 + kDay, kT0 + 6 * kHour);
  ASSERT_EQ(later.incidents.size(), 1u);
  EXPECT_EQ(later.incidents[0].seconds, 3'600);
}

TEST(Durations, OngoingOnlyWhenTheOpenPeriodIsInTheWindow) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kT0, {"mail"}, kT0));
  store.Apply(Close(2, "INC-1", kT0 + kHour, kT0 + kHour));
  store.Apply(Reopen(3, "INC-1", kT0 + 2 * kDay, kT0 + 2 * kDay));  // after the window
  const DurationReport report = Compute(store, kT0, kT0 + kDay, kT0 + 3 * kDay);
  ASSERT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.incidents[0].seconds, 3'600);
  EXPECT_FALSE(report.incidents[0].ongoing);
}

TEST(Durations, SystemNamedTwiceCountsTheTicketOnce) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kT0, {"mail", "mail"}, kT0));
  store.Apply(Close(2, "INC-1", kT0 + kHour, kT0 + kHour));
  const DurationReport report = Compute(store, kT0, kT0 + kDay, kT0 + kDay);
  ASSERT_EQ(report.systems.size(), 1u);
  EXPECT_EQ(report.systems[0].downtime_seconds, 3'600);
  EXPECT_EQ(report.systems[0].tickets, (Tickets{"INC-1"}));
}

TEST(Durations, RefusesBadWindows) {
  const TicketStore store;
  Result<DurationReport> empty = ComputeDurations(store, {.from_micros = kT0, .to_micros = kT0, .now_micros = kT0});
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(empty.error().field, "to");

  Result<DurationReport> reversed = ComputeDurations(store, {.from_micros = kT0, .to_micros = kT0 - 1, .now_micros = kT0});
  ASSERT_FALSE(reversed.has_value());
  EXPECT_EQ(reversed.error().field, "to");

  Result<DurationReport> far = ComputeDurations(
      store, {.from_micros = kDurationInstantMicrosMin - 1, .to_micros = kT0, .now_micros = kT0});
  ASSERT_FALSE(far.has_value());
  EXPECT_EQ(far.error().field, "from");

  Result<DurationReport> bad_now = ComputeDurations(
      store, {.from_micros = kT0, .to_micros = kT0 + 1, .now_micros = kDurationInstantMicrosMax + 1});
  ASSERT_FALSE(bad_now.has_value());
  EXPECT_EQ(bad_now.error().field, "as_of");

  // The widest window accepted computes without overflow.
  EXPECT_TRUE(ComputeDurations(FoldAll(Scenario()), {.from_micros = kDurationInstantMicrosMin,
                                                    .to_micros = kDurationInstantMicrosMax,
                                                    .now_micros = kDurationInstantMicrosMax})
                  .has_value());
}

// ---- per-day availability ----

// 2026-03-27T23:00:00Z: local midnight starting 2026-03-28 in Berlin (CET, +01:00).
constexpr int64_t kBerlinMarch28 = 1'774'652'400LL * kSecond;
// 2026-10-24T22:00:00Z: local midnight starting 2026-10-25 in Berlin (CEST, +02:00).
constexpr int64_t kBerlinOctober25 = 1'792'879'200LL * kSecond;

Result<std::vector<DayFigure>> Daily(const TicketStore& store, DailyQuery query) { return DailyAvailability(store, query); }

// Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST): that day is 23 h.
//   03-28 [03-27T23:00Z, 03-28T23:00Z) 24 h
//   03-29 [03-28T23:00Z, 03-29T22:00Z) 23 h
//   03-30 [03-29T22:00Z, 03-30T22:00Z) 24 h
// INC-1 (mail) runs [03-29T21:00Z, 03-29T23:00Z): 1 h on 03-29 (availability 1 - 1/23) and
// 1 h on 03-30 (1 - 1/24). INC-2 (vpn) runs [03-28T12:00Z, 03-28T13:00Z): counted for "any
// system" on 03-28 only, never for mail.
TEST(DailyAvailability, SpringForwardDayHas23Hours) {
  TicketStore store;
  const int64_t march29 = kBerlinMarch28 + kDay;  // 03-28T23:00Z
  store.Apply(Open(1, "INC-1", march29 + 22 * kHour, {"mail"}, march29 + 22 * kHour));
  store.Apply(Close(2, "INC-1", march29 + 24 * kHour, march29 + 24 * kHour));
  store.Apply(Open(3, "INC-2", kBerlinMarch28 + 13 * kHour, {"vpn"}, kBerlinMarch28 + 13 * kHour));
  store.Apply(Close(4, "INC-2", kBerlinMarch28 + 14 * kHour, kBerlinMarch28 + 14 * kHour));

  Result<std::vector<DayFigure>> days = Daily(store, {.system = "mail", .timezone = "Europe/Berlin",
                                                      .end_date = "2026-03-30", .days = 3,
                                                      .now_micros = kBerlinMarch28 + 10 * kDay});
  ASSERT_TRUE(days.has_value()) << days.error().message;
  ASSERT_EQ(days->size(), 3u);
  const std::vector<DayFigure>& figures = *days;
  EXPECT_EQ(figures[0].date, "2026-03-28");
  EXPECT_EQ(figures[0].start_micros, kBerlinMarch28);
  EXPECT_EQ(figures[0].end_micros - figures[0].start_micros, 24 * kHour);
  EXPECT_EQ(figures[0].downtime_seconds, 0);
  EXPECT_TRUE(figures[0].tickets.empty());
  EXPECT_EQ(figures[1].date, "2026-03-29");
  EXPECT_EQ(figures[1].start_micros, 1'774'738'800LL * kSecond);  // 2026-03-28T23:00:00Z
  EXPECT_EQ(figures[1].end_micros, 1'774'821'600LL * kSecond);    // 2026-03-29T22:00:00Z
  EXPECT_EQ(figures[1].end_micros - figures[1].start_micros, 23 * kHour);
  EXPECT_EQ(figures[1].downtime_seconds, 3'600);
  EXPECT_DOUBLE_EQ(figures[1].availability, 1.0 - 1.0 / 23.0);
  EXPECT_EQ(figures[1].tickets, (Tickets{"INC-1"}));
  EXPECT_EQ(figures[2].date, "2026-03-30");
  EXPECT_EQ(figures[2].end_micros - figures[2].start_micros, 24 * kHour);
  EXPECT_EQ(figures[2].downtime_seconds, 3'600);
  EXPECT_DOUBLE_EQ(figures[2].availability, 1.0 - 1.0 / 24.0);

  Result<std::vector<DayFigure>> any = Daily(store, {.system = "", .timezone = "Europe/Berlin",
                                                     .end_date = "2026-03-30", .days = 3,
                                                     .now_micros = kBerlinMarch28 + 10 * kDay});
  ASSERT_TRUE(any.has_value());
  EXPECT_EQ((*any)[0].downtime_seconds, 3'600);
  EXPECT_EQ((*any)[0].tickets, (Tickets{"INC-2"}));
  EXPECT_EQ((*any)[1].tickets, (Tickets{"INC-1"}));
}

// Berlin falls back on 2026-10-25 (03:00 CEST -> 02:00 CET): that day is 25 h,
// [10-24T22:00Z, 10-25T23:00Z). INC-1 is open from 10-25T20:00Z and still open at now =
// 10-25T21:30Z: 1h30 = 5,400 s of 25 h; the days after now get nothing from it.
TEST(DailyAvailability, FallBackDayHas25HoursAndOpenPeriodsStopAtNow) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBerlinOctober25 + 22 * kHour, {"mail"}, kBerlinOctober25 + 22 * kHour));
  const int64_t now = kBerlinOctober25 + 23 * kHour + 30 * kMinute;
  Result<std::vector<DayFigure>> days = Daily(store, {.system = "mail", .timezone = "Europe/Berlin",
                                                      .end_date = "2026-10-26", .days = 2, .now_micros = now});
  ASSERT_TRUE(days.has_value()) << days.error().message;
  ASSERT_EQ(days->size(), 2u);
  EXPECT_EQ((*days)[0].date, "2026-10-25");
  EXPECT_EQ((*days)[0].start_micros, kBerlinOctober25);
  EXPECT_EQ((*days)[0].end_micros, 1'792'969'200LL * kSecond);  // 2026-10-25T23:00:00Z
  EXPECT_EQ((*days)[0].end_micros - (*days)[0].start_micros, 25 * kHour);
  EXPECT_EQ((*days)[0].downtime_seconds, 5'400);
  EXPECT_DOUBLE_EQ((*days)[0].availability, 1.0 - 1.5 / 25.0);
  EXPECT_EQ((*days)[1].date, "2026-10-26");
  EXPECT_EQ((*days)[1].downtime_seconds, 0);
  EXPECT_TRUE((*days)[1].tickets.empty());
}

// Without end_date the last day is today in the zone: at 2026-03-29T22:30Z it is
// already 03-30 in Berlin (00:30 CEST) but still 03-29 in UTC.
TEST(DailyAvailability, DefaultLastDayIsTodayInTheZone) {
  const int64_t now = 1'774'821'600LL * kSecond + 30 * kMinute;
  Result<std::vector<DayFigure>> berlin = Daily(TicketStore{}, {.timezone = "Europe/Berlin", .days = 1, .now_micros = now});
  ASSERT_TRUE(berlin.has_value());
  EXPECT_EQ(berlin->back().date, "2026-03-30");
  Result<std::vector<DayFigure>> utc = Daily(TicketStore{}, {.days = 2, .now_micros = now});
  ASSERT_TRUE(utc.has_value());
  ASSERT_EQ(utc->size(), 2u);
  EXPECT_EQ(utc->front().date, "2026-03-28");
  EXPECT_EQ(utc->back().date, "2026-03-29");
  EXPECT_DOUBLE_EQ(utc->back().availability, 1.0);
}

// Samoa skipped 2011-12-30 entirely (UTC-10 -> UTC+14): that local day has no length and
// counts as fully available; 12-29 runs [12-29T10:00Z, 12-30T10:00Z) and 12-31 starts there too.
TEST(DailyAvailability, SkippedDayHasNoLength) {
  Result<std::vector<DayFigure>> days = Daily(TicketStore{}, {.timezone = "Pacific/Apia", .end_date = "2011-12-31",
                                                              .days = 3, .now_micros = kT0});
  ASSERT_TRUE(days.has_value()) << days.error().message;
  ASSERT_EQ(days->size(), 3u);
  EXPECT_EQ((*days)[0].start_micros, 1'325'152'800LL * kSecond);
  EXPECT_EQ((*days)[0].end_micros - (*days)[0].start_micros, 24 * kHour);
  EXPECT_EQ((*days)[1].date, "2011-12-30");
  EXPECT_EQ((*days)[1].start_micros, (*days)[1].end_micros);
  EXPECT_DOUBLE_EQ((*days)[1].availability, 1.0);
  EXPECT_EQ((*days)[2].end_micros - (*days)[2].start_micros, 24 * kHour);
}

TEST(DailyAvailability, UnknownZoneIsAnInvalidArgumentNotAnException) {
  const std::vector<std::string> zones = {"Mars/Olympus_Mons", "", "Europe/../Berlin", "europe/berlin",
                                          std::string(200, 'A')};
  for (const std::string& zone : zones) {
    std::optional<Result<std::vector<DayFigure>>> days;
    EXPECT_NO_THROW(days.emplace(Daily(TicketStore{}, {.timezone = zone, .end_date = "2026-03-30", .now_micros = kT0})));
    ASSERT_TRUE(days.has_value());
    ASSERT_FALSE(days->has_value()) << zone;
    EXPECT_EQ(days->error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(days->error().field, "timezone");
  }
}

TEST(DailyAvailability, RefusesBadDatesAndDayCounts) {
  for (const std::string date : {"2026-02-30", "2026-3-30", "26-03-30", "2026-03-30T00", "2026/03/30", "0000-01-01"}) {
    Result<std::vector<DayFigure>> days = Daily(TicketStore{}, {.end_date = date, .now_micros = kT0});
    ASSERT_FALSE(days.has_value()) << date;
    EXPECT_EQ(days.error().field, "end_date") << date;
  }
  for (const int count : {0, -1, kDailyDaysMax + 1}) {
    Result<std::vector<DayFigure>> days = Daily(TicketStore{}, {.end_date = "2026-03-30", .days = count, .now_micros = kT0});
    ASSERT_FALSE(days.has_value()) << count;
    EXPECT_EQ(days.error().field, "days");
  }
  Result<std::vector<DayFigure>> year = Daily(TicketStore{}, {.end_date = "2026-03-30", .days = kDailyDaysMax, .now_micros = kT0});
  ASSERT_TRUE(year.has_value());
  EXPECT_EQ(year->size(), static_cast<size_t>(kDailyDaysMax));
}

// ---- impact and maintenance ----

proto::Event WithImpact(proto::Event event, proto::Impact impact) {
  event.mutable_incident()->set_impact(impact);
  return event;
}

proto::Event Window(uint64_t seq, proto::EventType type, const std::string& window, int64_t recorded) {
  proto::Event event;
  event.set_seq(seq);
  event.set_ticket(window);
  event.set_type(type);
  event.set_recorded_at_micros(recorded);
  event.mutable_maintenance();
  return event;
}

proto::Event Schedule(uint64_t seq, const std::string& window, int64_t starts, int64_t ends, const Systems& systems) {
  proto::Event event = Window(seq, proto::MAINTENANCE_SCHEDULED, window, kT0 - kDay);
  event.mutable_maintenance()->set_title("Patch " + window);
  for (const std::string& system : systems) event.mutable_maintenance()->mutable_systems()->add_names(system);
  SetTime(event.mutable_maintenance()->mutable_starts_at(), starts);
  SetTime(event.mutable_maintenance()->mutable_ends_at(), ends);
  return event;
}

proto::Event StartWindow(uint64_t seq, const std::string& window, int64_t at) {
  proto::Event event = Window(seq, proto::MAINTENANCE_STARTED, window, at);
  SetTime(event.mutable_maintenance()->mutable_started_at(), at);
  return event;
}

proto::Event EndWindow(uint64_t seq, const std::string& window, int64_t at) {
  proto::Event event = Window(seq, proto::MAINTENANCE_ENDED, window, at);
  SetTime(event.mutable_maintenance()->mutable_ended_at(), at);
  return event;
}

// Window [T0, T0+24h), now T0+30h. Worked out by hand (hours from T0):
//
//   mail   INC-1 full     [1, 4)      acknowledged 1h10, mitigated 3h
//          INC-2 degraded [3, 6)      acknowledged 2h30 (before its start: counts 0)
//          INC-3 partial  [10, 11)
//          INC-4 degraded [21, 22)    inside the running maintenance: adds nothing
//          MNT-1 planned 1-3, started late at 2, ended 5        run [2, 5)
//          MNT-2 planned 12-13, cancelled                        runs nothing
//          MNT-3 (mail, backup) started 20, still running        run [20, 24) in the window
//   down     = [1,4) u [10,11)                = 4 h
//   planned  = [2,5) u [20,24)                = 7 h    = 25,200 s
//   downtime = down - planned = [1,2) + [10,11) = 2 h  = 7,200 s; availability 1 - 2/24
//   degraded = ([3,6) u [21,22)) - down - planned = [5,6) = 1 h = 3,600 s
//   backup: planned [20,24) = 14,400 s, no downtime, no incident.
//   MTTR over INC-1..4 (3 h, 3 h, 1 h, 1 h) = 2 h; MTTA over INC-1 (600 s) and
//   INC-2 (0) = 300 s; MTTM over INC-1 alone = 7,200 s.
TEST(Durations, ImpactAndMaintenanceByTheRule) {
  proto::Event first = WithImpact(Open(1, "INC-1", kT0, {"mail"}, kT0 + kHour), proto::FULL);
  SetTime(first.mutable_incident()->mutable_acknowledged_at(), kT0 + 70 * kMinute);
  SetTime(first.mutable_incident()->mutable_mitigated_at(), kT0 + 3 * kHour);
  proto::Event second = WithImpact(Open(3, "INC-2", kT0 + 3 * kHour, {"mail"}, kT0 + 3 * kHour), proto::DEGRADED);
  SetTime(second.mutable_incident()->mutable_acknowledged_at(), kT0 + 150 * kMinute);
  const std::vector<proto::Event> incidents = {
      first,
      Close(2, "INC-1", kT0 + 4 * kHour, kT0 + 4 * kHour),
      second,
      Close(4, "INC-2", kT0 + 6 * kHour, kT0 + 6 * kHour),
      WithImpact(Open(5, "INC-3", kT0 + 10 * kHour, {"mail"}, kT0 + 10 * kHour), proto::PARTIAL),
      Close(6, "INC-3", kT0 + 11 * kHour, kT0 + 11 * kHour),
      WithImpact(Open(7, "INC-4", kT0 + 21 * kHour, {"mail"}, kT0 + 21 * kHour), proto::DEGRADED),
      Close(8, "INC-4", kT0 + 22 * kHour, kT0 + 22 * kHour),
  };
  MaintenanceStore maintenance;
  for (const proto::Event& event : {
           Schedule(9, "MNT-1", kT0 + kHour, kT0 + 3 * kHour, {"mail"}),
           StartWindow(10, "MNT-1", kT0 + 2 * kHour),
           EndWindow(11, "MNT-1", kT0 + 5 * kHour),
           Schedule(12, "MNT-2", kT0 + 12 * kHour, kT0 + 13 * kHour, {"mail"}),
           Window(13, proto::MAINTENANCE_CANCELLED, "MNT-2", kT0 + 11 * kHour),
           Schedule(14, "MNT-3", kT0 + 20 * kHour, kT0 + 23 * kHour, {"mail", "backup"}),
           StartWindow(15, "MNT-3", kT0 + 20 * kHour),
       }) {
    ASSERT_TRUE(maintenance.Apply(event)) << event.type();
  }
  const TicketStore store = FoldAll(incidents);
  Result<DurationReport> report = ComputeDurations(
      store, maintenance, DurationQuery{.from_micros = kT0, .to_micros = kT0 + kDay, .now_micros = kT0 + 30 * kHour});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->systems.size(), 2u);
  const SystemDowntime* backup = FindSystem(*report, "backup");
  ASSERT_NE(backup, nullptr);
  EXPECT_EQ(backup->downtime_seconds, 0);
  EXPECT_EQ(backup->planned_seconds, 14'400);
  EXPECT_EQ(backup->degraded_seconds, 0);
  EXPECT_EQ(backup->availability, 1.0);
  EXPECT_TRUE(backup->tickets.empty());
  EXPECT_EQ(backup->windows, (Tickets{"MNT-3"}));
  const SystemDowntime* mail = FindSystem(*report, "mail");
  ASSERT_NE(mail, nullptr);
  EXPECT_EQ(mail->downtime_seconds, 7'200);
  EXPECT_EQ(mail->planned_seconds, 25'200);
  EXPECT_EQ(mail->degraded_seconds, 3'600);
  EXPECT_DOUBLE_EQ(mail->availability, ExpectedAvailability(2 * kHour, kDay));
  EXPECT_EQ(mail->tickets, (Tickets{"INC-1", "INC-2", "INC-3", "INC-4"}));
  EXPECT_EQ(mail->windows, (Tickets{"MNT-1", "MNT-3"}));
  // An incident's own seconds do not depend on its impact.
  EXPECT_EQ(FindIncident(*report, "INC-2")->seconds, 3 * 3600);
  EXPECT_EQ(report->mttr_seconds, 7'200);
  EXPECT_EQ(report->mtta_seconds, 300);
  EXPECT_EQ(report->mtta_tickets, (Tickets{"INC-1", "INC-2"}));
  EXPECT_EQ(report->mttm_seconds, 7'200);
  EXPECT_EQ(report->mttm_tickets, (Tickets{"INC-1"}));

  // The same day, per day: the same figures.
  Result<std::vector<DayFigure>> days = DailyAvailability(
      store, maintenance,
      DailyQuery{.system = "mail", .timezone = "UTC", .end_date = "2026-11-24", .days = 1, .now_micros = kT0 + 30 * kHour});
  ASSERT_TRUE(days) << days.error().message;
  ASSERT_EQ(days->size(), 1u);
  EXPECT_EQ(days->front().downtime_seconds, 7'200);
  EXPECT_EQ(days->front().planned_seconds, 25'200);
  EXPECT_EQ(days->front().degraded_seconds, 3'600);
  EXPECT_EQ(days->front().availability, mail->availability);
  EXPECT_EQ(days->front().windows, (Tickets{"MNT-1", "MNT-3"}));

  // As of T0+21h30: MNT-3 runs to then, INC-4 is open and inside it.
  Result<DurationReport> earlier = ComputeDurations(
      FoldUpTo(incidents, kT0 + 21 * kHour + 30 * kMinute), maintenance,
      DurationQuery{.from_micros = kT0, .to_micros = kT0 + kDay, .now_micros = kT0 + 21 * kHour + 30 * kMinute});
  ASSERT_TRUE(earlier);
  EXPECT_EQ(FindSystem(*earlier, "backup")->planned_seconds, 5'400);
  EXPECT_EQ(FindSystem(*earlier, "mail")->planned_seconds, (3 * 3600) + 5'400);
  EXPECT_EQ(FindSystem(*earlier, "mail")->degraded_seconds, 3'600);
}

// Without maintenance and with every incident full, the figures are those
// of the forms without maintenance (the first stage's), to the bit.
TEST(Durations, NoMaintenanceAndFullImpactChangeNothing) {
  const TicketStore store = FoldAll(Scenario());
  const DurationQuery query{.from_micros = kT0, .to_micros = kT0 + kDay, .now_micros = kT0 + 30 * kHour};
  const DurationReport plain = Compute(store, kT0, kT0 + kDay, kT0 + 30 * kHour);
  Result<DurationReport> with = ComputeDurations(store, MaintenanceStore(), query);
  ASSERT_TRUE(with);
  ASSERT_EQ(with->systems.size(), plain.systems.size());
  for (size_t i = 0; i < plain.systems.size(); ++i) {
    EXPECT_EQ(with->systems[i].downtime_seconds, plain.systems[i].downtime_seconds);
    EXPECT_EQ(with->systems[i].availability, plain.systems[i].availability);
    EXPECT_EQ(with->systems[i].planned_seconds, 0);
    EXPECT_EQ(with->systems[i].degraded_seconds, 0);
  }
  EXPECT_EQ(IncidentDurationsCsv(*with), IncidentDurationsCsv(plain));
  EXPECT_EQ(SystemDowntimeCsv(*with), SystemDowntimeCsv(plain));
}

// ---- CSV ----

TEST(DurationsCsv, ListsWithHeaderRows) {
  const DurationReport report = Compute(FoldAll(Scenario()), kT0, kT0 + kDay, kT0 + 30 * kHour);
  EXPECT_EQ(IncidentDurationsCsv(report),
            "\"ticket\",\"seconds\",\"ongoing\"\r\n"
            "\"INC-1\",\"10800\",\"false\"\r\n"
            "\"INC-2\",\"18000\",\"false\"\r\n"
            "\"INC-3\",\"14400\",\"false\"\r\n"
            "\"INC-4\",\"7200\",\"true\"\r\n");
  EXPECT_EQ(SystemDowntimeCsv(report),
            "\"system\",\"downtime_seconds\",\"availability\",\"tickets\",\"planned_seconds\",\"degraded_seconds\","
            "\"windows\"\r\n"
            "\"db\",\"14400\",\"0.83333333333333337\",\"INC-3 INC-4\",\"0\",\"0\",\"\"\r\n"
            "\"mail\",\"25200\",\"0.70833333333333326\",\"INC-1 INC-2\",\"0\",\"0\",\"\"\r\n"
            "\"vpn\",\"18000\",\"0.79165624999999995\",\"INC-1 INC-4\",\"0\",\"0\",\"\"\r\n");
}

TEST(DurationsCsv, QuotesEveryCellAndDefusesFormulas) {
  EXPECT_EQ(CsvTextField("mail"), "\"mail\"");
  EXPECT_EQ(CsvTextField(""), "\"\"");
  EXPECT_EQ(CsvTextField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvTextField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvTextField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvTextField("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(CsvTextField("+1"), "\"'+1\"");
  EXPECT_EQ(CsvTextField("-db"), "\"'-db\"");
  EXPECT_EQ(CsvTextField("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(CsvTextField("\tx"), "\"'\tx\"");
  EXPECT_EQ(CsvTextField("\rx"), "\"'\rx\"");
  EXPECT_EQ(CsvTextField(" =1+1"), "\"' =1+1\"");
  // A formula after a separator: a spreadsheet splitting on ';' (which
  // breaks a quoted cell that is not first in its row) or on ',' (or one
  // that trims the blank after it) would start a field there, so the quote
  // goes right after the separator.
  EXPECT_EQ(CsvTextField("x;=cmd()"), "\"x;'=cmd()\"");
  EXPECT_EQ(CsvTextField("x,@SUM(A1)"), "\"x,'@SUM(A1)\"");
  EXPECT_EQ(CsvTextField("x; -2+3"), "\"x;' -2+3\"");
  EXPECT_EQ(CsvTextField("x\n+1"), "\"x\n'+1\"");
  EXPECT_EQ(CsvTextField("x\r\n=1"), "\"x\r\n'=1\"");
  EXPECT_EQ(CsvTextField("x;\t1"), "\"x;'\t1\"");
  EXPECT_EQ(CsvTextField("=a;=b,c; @d"), "\"'=a;'=b,c;' @d\"");
  EXPECT_EQ(CsvTextField("x;\"=1"), "\"x;'\"\"=1\"");  // a quote before the sign
  EXPECT_EQ(CsvTextField("\"+1\""), "\"'\"\"+1\"\"\"");
  // The fullwidth signs (U+FF1D, U+FF0B, U+FF0D, U+FF20) at a field's start,
  // and a field after a fullwidth comma or semicolon (U+FF0C, U+FF1B).
  EXPECT_EQ(CsvTextField("\xef\xbc\x9d" "cmd()"), "\"'\xef\xbc\x9d" "cmd()\"");
  EXPECT_EQ(CsvTextField("\xef\xbc\x8b" "1"), "\"'\xef\xbc\x8b" "1\"");
  EXPECT_EQ(CsvTextField("\xef\xbc\x8d" "1"), "\"'\xef\xbc\x8d" "1\"");
  EXPECT_EQ(CsvTextField("  \xef\xbc\xa0SUM(A1)"), "\"'  \xef\xbc\xa0SUM(A1)\"");
  EXPECT_EQ(CsvTextField("x\xef\xbc\x9b=1+1"), "\"x\xef\xbc\x9b'=1+1\"");
  EXPECT_EQ(CsvTextField("x\xef\xbc\x8c \xef\xbc\x9d" "1"), "\"x\xef\xbc\x8c' \xef\xbc\x9d" "1\"");
  EXPECT_EQ(CsvTextField("x;\xef\xbc\xa0" "a"), "\"x;'\xef\xbc\xa0" "a\"");
  // Harmless: a fullwidth sign or separator elsewhere, or another fullwidth
  // form at the start (U+FF21, U+FF1C).
  EXPECT_EQ(CsvTextField("a\xef\xbc\x9d" "b"), "\"a\xef\xbc\x9d" "b\"");
  EXPECT_EQ(CsvTextField("x\xef\xbc\x9b" "db"), "\"x\xef\xbc\x9b" "db\"");
  EXPECT_EQ(CsvTextField("\xef\xbc\xa1\xef\xbc\x9c"), "\"\xef\xbc\xa1\xef\xbc\x9c\"");
  // Harmless: the characters elsewhere than at a field's start.
  EXPECT_EQ(CsvTextField("a=b"), "\"a=b\"");
  EXPECT_EQ(CsvTextField("a;b-c"), "\"a;b-c\"");
  EXPECT_EQ(CsvTextField("x;"), "\"x;\"");
  EXPECT_EQ(CsvTextField("user@example.org"), "\"user@example.org\"");

  DurationReport report;
  report.systems.push_back(SystemDowntime{.system = "=cmd|' /C calc'!A0", .downtime_seconds = 1, .availability = 0.5,
                                          .tickets = {"INC-1"}});
  report.systems.push_back(SystemDowntime{.system = "db;=1+1", .downtime_seconds = 2, .availability = 0.25,
                                          .tickets = {"INC-2"}});
  EXPECT_EQ(SystemDowntimeCsv(report),
            "\"system\",\"downtime_seconds\",\"availability\",\"tickets\",\"planned_seconds\",\"degraded_seconds\","
            "\"windows\"\r\n"
            "\"'=cmd|' /C calc'!A0\",\"1\",\"0.5\",\"INC-1\",\"0\",\"0\",\"\"\r\n"
            "\"db;'=1+1\",\"2\",\"0.25\",\"INC-2\",\"0\",\"0\",\"\"\r\n");
}

}  // namespace
}  // namespace ledger::projections
