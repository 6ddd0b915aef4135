// Maintenance windows (projections/maintenance.h): the fold through a
// window's life, its run as an interval, the run index against a walk over
// every window, the saved form, and "as known then" (as_of.h).

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "projections/maintenance.h"
#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

constexpr int64_t kHour = 3600LL * 1'000'000;
constexpr int64_t kBase = 1'795'000'000LL * 1'000'000;

proto::Event Make(uint64_t seq, uint64_t number, proto::EventType type, uint32_t version, int64_t recorded) {
  proto::Event event;
  event.set_seq(seq);
  event.set_ticket(WindowName::Format(number));
  event.set_type(type);
  event.set_version(version);
  event.set_recorded_at_micros(recorded);
  event.mutable_maintenance();
  return event;
}

void SetTime(proto::Timestamp* timestamp, int64_t micros, int32_t offset = 0) {
  timestamp->set_unix_micros(micros);
  timestamp->set_offset_minutes(offset);
}

proto::Event Schedule(uint64_t seq, uint64_t number, int64_t starts, int64_t ends) {
  proto::Event event = Make(seq, number, proto::MAINTENANCE_SCHEDULED, 1, kBase);
  proto::MaintenancePayload* payload = event.mutable_maintenance();
  payload->set_title("Patch " + std::to_string(number));
  payload->mutable_systems()->add_names("mail");
  SetTime(payload->mutable_starts_at(), starts, 60);
  SetTime(payload->mutable_ends_at(), ends, 60);
  return event;
}

proto::Event Start(uint64_t seq, uint64_t number, uint32_t version, int64_t at) {
  proto::Event event = Make(seq, number, proto::MAINTENANCE_STARTED, version, at);
  SetTime(event.mutable_maintenance()->mutable_started_at(), at);
  return event;
}

proto::Event End(uint64_t seq, uint64_t number, uint32_t version, int64_t at) {
  proto::Event event = Make(seq, number, proto::MAINTENANCE_ENDED, version, at);
  SetTime(event.mutable_maintenance()->mutable_ended_at(), at);
  return event;
}

TEST(MaintenanceFold, ScheduleStartEndAndCorrect) {
  MaintenanceStore store;
  ASSERT_EQ(store.Apply(Schedule(1, 3, kBase + 10 * kHour, kBase + 12 * kHour)), 3u);
  const MaintenanceWindow* window = store.Find("MNT-3");
  ASSERT_NE(window, nullptr);
  EXPECT_EQ(window->status, MaintenanceStatus::kScheduled);
  EXPECT_EQ(window->title, "Patch 3");
  EXPECT_EQ(window->starts_at.offset_minutes, 60);
  EXPECT_FALSE(RunOf(*window, kBase + 20 * kHour));
  EXPECT_TRUE(store.RunOverlapping(INT64_MIN, INT64_MAX).empty());

  // Started late: the run is what counts.
  store.Apply(Start(2, 3, 2, kBase + 11 * kHour));
  EXPECT_EQ(window->status, MaintenanceStatus::kInProgress);
  std::optional<WindowRun> run = RunOf(*window, kBase + 11 * kHour + kHour / 2);
  ASSERT_TRUE(run);
  EXPECT_TRUE(run->ongoing);
  EXPECT_EQ(run->end_micros - run->start_micros, kHour / 2);
  EXPECT_FALSE(RunOf(*window, kBase + 10 * kHour));  // not begun by then
  EXPECT_EQ(store.RunOverlapping(kBase + 1000 * kHour, kBase + 1001 * kHour).size(), 1u);  // in progress: runs on

  store.Apply(End(3, 3, 3, kBase + 13 * kHour));
  EXPECT_EQ(window->status, MaintenanceStatus::kCompleted);
  run = RunOf(*window, kBase + 100 * kHour);
  ASSERT_TRUE(run);
  EXPECT_FALSE(run->ongoing);
  EXPECT_EQ(run->end_micros - run->start_micros, 2 * kHour);
  EXPECT_TRUE(store.RunOverlapping(kBase + 1000 * kHour, kBase + 1001 * kHour).empty());

  proto::Event correct = Make(4, 3, proto::MAINTENANCE_UPDATED, 4, kBase + 20 * kHour);
  SetTime(correct.mutable_maintenance()->mutable_ended_at(), kBase + 12 * kHour);
  correct.mutable_maintenance()->set_title("Patch mail relays");
  store.Apply(correct);
  EXPECT_EQ(RunOf(*window, kBase + 100 * kHour)->end_micros, kBase + 12 * kHour);
  EXPECT_EQ(window->title, "Patch mail relays");
  EXPECT_EQ(window->version, 4u);
  EXPECT_EQ(window->last_seq, 4u);
  EXPECT_EQ(window->scheduled_seq, 1u);

  // Events of unknown windows or other types change nothing.
  EXPECT_FALSE(store.Apply(Start(5, 9, 2, kBase)));
  proto::Event incident;
  incident.set_type(proto::INCIDENT_OPENED);
  incident.set_ticket("INC-1");
  incident.mutable_incident();
  EXPECT_FALSE(store.Apply(incident));
  EXPECT_EQ(store.size(), 1u);
}

TEST(MaintenanceFold, CancelledNeverRuns) {
  MaintenanceStore store;
  store.Apply(Schedule(1, 1, kBase, kBase + kHour));
  store.Apply(Make(2, 1, proto::MAINTENANCE_CANCELLED, 2, kBase - kHour));
  const MaintenanceWindow* window = store.FindNumber(1);
  ASSERT_NE(window, nullptr);
  EXPECT_EQ(window->status, MaintenanceStatus::kCancelled);
  EXPECT_STREQ(MaintenanceStatusName(window->status), "cancelled");
  EXPECT_FALSE(RunOf(*window, kBase + 10 * kHour));
  EXPECT_EQ(ParseMaintenanceStatus("in_progress"), MaintenanceStatus::kInProgress);
  EXPECT_FALSE(ParseMaintenanceStatus("done"));
}

TEST(MaintenanceFold, SavedFormRoundTripsAndRefusesDamage) {
  MaintenanceStore store;
  proto::Event scheduled = Schedule(1, 7, kBase, kBase + kHour);
  scheduled.mutable_maintenance()->set_description("Two\nlines");
  scheduled.mutable_maintenance()->set_link("https://change.example/7");
  scheduled.mutable_maintenance()->mutable_systems()->add_names("db");
  store.Apply(scheduled);
  store.Apply(Start(2, 7, 2, kBase + kHour / 4));
  const MaintenanceWindow& window = *store.FindNumber(7);
  const std::string saved = EncodeWindow(window);
  MaintenanceWindow read;
  ASSERT_TRUE(DecodeWindow(saved, &read));
  EXPECT_EQ(EncodeWindow(read), saved);
  EXPECT_EQ(read.number, 7u);
  EXPECT_EQ(read.systems, (std::vector<std::string>{"mail", "db"}));
  ASSERT_TRUE(read.started_at);
  EXPECT_FALSE(read.ended_at);
  for (size_t cut = 0; cut < saved.size(); ++cut) EXPECT_FALSE(DecodeWindow(saved.substr(0, cut), &read)) << cut;
  EXPECT_FALSE(DecodeWindow(saved + "x", &read));
  MaintenanceWindow renamed = window;
  renamed.window = "INC-7";
  EXPECT_FALSE(DecodeWindow(EncodeWindow(renamed), &read));
}

// The run index finds what a walk over every window finds, for random
// windows (some never started, some running, some cancelled) and queries
// (seeded; the seed is printed on failure).
TEST(MaintenanceFold, RunIndexAnswersLikeAWalk) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const auto below = [&rng](int64_t bound) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(bound)); };
  MaintenanceStore store;
  uint64_t seq = 0;
  for (uint64_t number = 1; number <= 300; ++number) {
    const int64_t planned = kBase + below(2000) * kHour;
    store.Apply(Schedule(++seq, number, planned, planned + (1 + below(10)) * kHour));
    const int64_t choice = below(4);
    if (choice == 0) continue;
    if (choice == 1) {
      store.Apply(Make(++seq, number, proto::MAINTENANCE_CANCELLED, 2, planned));
      continue;
    }
    const int64_t started = planned + (below(5) - 2) * kHour;
    store.Apply(Start(++seq, number, 2, started));
    if (choice == 3) {
      store.Apply(End(++seq, number, 3, started + below(50) * kHour));
      if (below(3) == 0) {
        proto::Event correct = Make(++seq, number, proto::MAINTENANCE_UPDATED, 4, started);
        SetTime(correct.mutable_maintenance()->mutable_started_at(), started - below(100) * kHour);
        store.Apply(correct);
      }
    }
  }
  for (int round = 0; round < 500; ++round) {
    const int64_t from = kBase + (below(2200) - 100) * kHour;
    const int64_t to = from + (1 + below(300)) * kHour;
    std::set<uint64_t> walked;
    for (const auto& [number, window] : store.all()) {
      if (!window.started_at || window.started_at->unix_micros >= to) continue;
      if (window.ended_at && window.ended_at->unix_micros < from) continue;
      walked.insert(number);
    }
    std::set<uint64_t> indexed;
    for (const MaintenanceWindow* window : store.RunOverlapping(from, to)) indexed.insert(window->number);
    ASSERT_EQ(indexed, walked) << "round " << round;
  }
}

TEST(WindowName, FormatsParsesAndCountsForTheImport) {
  EXPECT_EQ(WindowName::Format(3), "MNT-3");
  ASSERT_TRUE(WindowName::Parse("MNT-42"));
  EXPECT_EQ(WindowName::Parse("MNT-42")->number, 42u);
  EXPECT_FALSE(WindowName::Parse("MNT-042"));
  EXPECT_FALSE(WindowName::Parse("INC-4"));
  EXPECT_FALSE(WindowName::Parse("mnt-4"));
  ASSERT_TRUE(CounterOf("MNT-007"));
  EXPECT_EQ(CounterOf("MNT-007")->sequence, kWindowNumbers);
  EXPECT_EQ(CounterOf("MNT-007")->number, 7u);
  EXPECT_EQ(CounterOf("INC-9")->sequence, kIncidentNumbers);
  EXPECT_FALSE(CounterOf("XYZ-1"));
}

}  // namespace
}  // namespace ledger::projections
