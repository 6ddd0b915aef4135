// Maintenance commands (ingest/maintenance.h): parsing and its refusals by
// field, and the processor's rules against a read model fed by the ledger
// (numbers of their own, the start/end/cancel state machine, corrections,
// idempotency), with refusals that append nothing.

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ingest/command.h"
#include "ingest/maintenance.h"
#include "ingest/processor.h"
#include "projections/read_model.h"
#include "test_util.h"

namespace ledger::ingest {
namespace {

using testing::TempDir;

std::string Refusal(const Result<MaintenanceCommand>& parsed) {
  return parsed ? std::string("(parsed)") : parsed.error().field + ": " + parsed.error().message;
}

constexpr const char* kSchedule =
    R"({"action":"schedule","title":"Patch the mail relays","systems":["mail","smtp"],)"
    R"("starts_at":"2026-11-28T22:00:00+01:00","ends_at":"2026-11-29T01:00:00+01:00","link":"https://change.example/9"})";

TEST(MaintenanceParse, ScheduleAndItsRefusals) {
  Result<MaintenanceCommand> parsed = ParseMaintenanceJson(kSchedule);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->action, MaintenanceAction::kSchedule);
  EXPECT_EQ(parsed->payload.title(), "Patch the mail relays");
  EXPECT_EQ(parsed->payload.systems().names_size(), 2);
  EXPECT_EQ(parsed->payload.starts_at().offset_minutes(), 60);
  EXPECT_EQ(parsed->actor, "anonymous");

  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"title":"x"})")),
            "action: action is required: schedule, update, start, end or cancel");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"pause","window":"1"})")),
            "action: action must be one of schedule, update, start, end, cancel");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"schedule","systems":["a"],"starts_at":"2026-11-28T22:00:00Z",)"
                                         R"("ends_at":"2026-11-28T23:00:00Z"})")),
            "title: title is required for action schedule");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"schedule","title":"t","starts_at":"2026-11-28T22:00:00Z",)"
                                         R"("ends_at":"2026-11-28T23:00:00Z"})")),
            "systems: systems is required for action schedule");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"schedule","title":"t","systems":["a"],)"
                                         R"("starts_at":"2026-11-28T22:00:00Z","ends_at":"2026-11-28T22:00:00Z"})")),
            "ends_at: ends_at must be after starts_at");
  EXPECT_TRUE(Refusal(ParseMaintenanceJson(R"({"action":"schedule","title":"t","systems":["a"],)"
                                           R"("starts_at":"2026-11-28T22:00:00"})"))
                  .starts_with("starts_at: starts_at must be an RFC 3339 time with an offset"));
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"schedule","window":"MNT-1","title":"t"})")),
            "window: window must not be given with action schedule: a new window number is assigned");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"start","window":"MNT-1","title":"t"})")),
            "title: title does not apply to action start");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"schedule","title":"t","systems":["a"],"at":"2026-11-28T22:00:00Z"})")),
            "at: at does not apply to action schedule");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"cancel"})")), "window: window is required for action cancel (e.g. MNT-3)");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"cancel","window":"INC-3"})")),
            "window: window must be a window number like MNT-3");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"update","window":"3"})")),
            ": an update must change at least one of title, systems, description, link, starts_at, ends_at, "
            "started_at, ended_at");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"update","window":"3","colour":"red"})")),
            "colour: unknown field 'colour'; accepted fields: action, actor, at, description, ended_at, ends_at, "
            "expected_version, link, started_at, starts_at, submission_id, systems, title, window");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"j({"action":"update","window":"3","link":"javascript:alert(1)"})j")),
            "link: link must be an http:// or https:// URL");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"update","window":"3","title":"a\u202eb"})")),
            "title: title must be one line without control characters, line separators, text-direction controls or "
            "invisible characters; found U+202E (a text-direction control)");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"update","window":"3","systems":[]})")),
            "systems: systems must name at least one system");
  EXPECT_EQ(Refusal(ParseMaintenanceJson(R"({"action":"update","window":"3","title":"a","title":"b"})")),
            "title: title is given more than once");

  // `at` is the actual time of a start or an end; window numbers in any spelling.
  Result<MaintenanceCommand> start = ParseMaintenanceJson(R"({"action":"start","window":"mnt-4","at":"2026-11-28T22:10:00Z"})");
  ASSERT_TRUE(start) << start.error().message;
  EXPECT_EQ(start->window, "MNT-4");
  EXPECT_TRUE(start->payload.has_started_at());
  EXPECT_FALSE(start->payload.has_ended_at());
  Result<MaintenanceCommand> end = ParseMaintenanceForm("action=end&window=4&at=2026-11-29T00%3A40%3A00Z&expected_version=2");
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_TRUE(end->payload.has_ended_at());
  EXPECT_EQ(end->expected_version, 2u);
  // A form sends every input: blank ones are not given.
  Result<MaintenanceCommand> form = ParseMaintenanceForm(
      "action=schedule&window=&title=Patch&systems=mail%2C+db&starts_at=2026-11-28T22%3A00%3A00Z"
      "&ends_at=2026-11-28T23%3A00%3A00Z&at=&description=&link=");
  ASSERT_TRUE(form) << form.error().message;
  EXPECT_EQ(form->payload.systems().names(1), "db");
  EXPECT_FALSE(form->payload.has_description());
  EXPECT_TRUE(Refusal(ParseMaintenanceForm("action=start&window=4&at=soon"))
                  .starts_with("at: at must be an RFC 3339 time with an offset"));
}

class MaintenanceProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir_.path()});
    ASSERT_TRUE(opened);
    log_ = std::move(*opened);
    ASSERT_TRUE(model_.Open(*log_, nullptr));
    log_->SetCommitListener([this](const std::vector<StoredEvent>& events) { model_.Apply(events); });
    processor_ = MaintenanceProcessor::Create(log_.get(), &model_);
    incidents_ = std::move(*CommandProcessor::Create(log_.get(), &model_));
  }
  void TearDown() override { log_->Shutdown(); }

  Result<MaintenanceResult> Submit(const std::string& json) {
    Result<MaintenanceCommand> command = ParseMaintenanceJson(json);
    EXPECT_TRUE(command) << json << ": " << (command ? "" : command.error().message);
    if (!command) return command.error();
    return processor_->Submit(std::move(*command));
  }

  void ExpectRefused(const std::string& json, ErrorCode code, const std::string& field) {
    const uint64_t before = log_->head().seq;
    Result<MaintenanceResult> result = Submit(json);
    ASSERT_FALSE(result) << json;
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_EQ(result.error().field, field) << result.error().message;
    EXPECT_EQ(log_->head().seq, before);
  }

  projections::MaintenanceWindow Window(const std::string& name) {
    projections::MaintenanceWindow copy;
    model_.ReadProjection<projections::MaintenanceProjection>(
        [&](const projections::MaintenanceProjection& projection, uint64_t) {
          if (const projections::MaintenanceWindow* found = projection.store().Find(name)) copy = *found;
        });
    return copy;
  }

  TempDir dir_;
  std::unique_ptr<Ledger> log_;
  projections::ReadModel model_;
  std::unique_ptr<MaintenanceProcessor> processor_;
  std::unique_ptr<CommandProcessor> incidents_;
};

TEST_F(MaintenanceProcessorTest, NumbersOfTheirOwnAndALifeOfStartAndEnd) {
  Result<MaintenanceResult> first = Submit(kSchedule);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->window, "MNT-1");
  EXPECT_EQ(first->version, 1u);
  EXPECT_EQ(first->stored.event.type(), proto::MAINTENANCE_SCHEDULED);
  // An incident in between takes the incidents' next number, not the windows'.
  Result<Command> incident = ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"],"engineer":"e"})");
  ASSERT_TRUE(incident);
  Result<SubmissionResult> opened = incidents_->Submit(std::move(*incident));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->ticket, "INC-1");
  Result<MaintenanceResult> second = Submit(kSchedule);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->window, "MNT-2");

  // Started late (at), ended at the recorded time.
  Result<MaintenanceResult> started = Submit(R"({"action":"start","window":"MNT-1","at":"2026-11-28T22:20:00+01:00","expected_version":1})");
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->version, 2u);
  EXPECT_EQ(Window("MNT-1").status, projections::MaintenanceStatus::kInProgress);
  EXPECT_EQ(Window("MNT-1").started_at->offset_minutes, 60);
  ExpectRefused(R"({"action":"start","window":"MNT-1"})", ErrorCode::kConflict, "action");
  ExpectRefused(R"({"action":"cancel","window":"MNT-1"})", ErrorCode::kConflict, "action");
  ExpectRefused(R"({"action":"end","window":"MNT-1","at":"2026-11-28T21:00:00Z"})", ErrorCode::kInvalidArgument, "at");
  ExpectRefused(R"({"action":"update","window":"MNT-1","ended_at":"2026-11-29T00:00:00Z"})", ErrorCode::kInvalidArgument,
                "ended_at");
  Result<MaintenanceResult> ended = Submit(R"({"action":"end","window":"MNT-1"})");
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_TRUE(ended->stored.event.maintenance().has_ended_at());  // the recorded time, written down
  EXPECT_EQ(ended->stored.event.maintenance().ended_at().unix_micros(), ended->stored.event.recorded_at_micros());
  ExpectRefused(R"({"action":"end","window":"MNT-1"})", ErrorCode::kConflict, "action");
  // Corrections of the actual times, in order.
  ASSERT_TRUE(Submit(R"({"action":"update","window":"MNT-1","ended_at":"2026-11-29T00:30:00Z"})"));
  ExpectRefused(R"({"action":"update","window":"MNT-1","started_at":"2026-11-29T01:00:00Z"})",
                ErrorCode::kInvalidArgument, "started_at");
  ExpectRefused(R"({"action":"update","window":"MNT-1","ends_at":"2026-11-28T20:00:00Z"})", ErrorCode::kInvalidArgument,
                "ends_at");
  EXPECT_EQ(Window("MNT-1").version, 4u);

  // Cancel only what has not started.
  ExpectRefused(R"({"action":"update","window":"MNT-2","started_at":"2026-11-29T01:00:00Z"})", ErrorCode::kInvalidArgument,
                "started_at");
  ASSERT_TRUE(Submit(R"({"action":"cancel","window":"2"})"));
  EXPECT_EQ(Window("MNT-2").status, projections::MaintenanceStatus::kCancelled);
  ExpectRefused(R"({"action":"start","window":"MNT-2"})", ErrorCode::kConflict, "action");
  ExpectRefused(R"({"action":"start","window":"MNT-9"})", ErrorCode::kNotFound, "window");
  ExpectRefused(R"({"action":"update","window":"MNT-1","title":"x","expected_version":1})", ErrorCode::kConflict,
                "expected_version");
}

TEST_F(MaintenanceProcessorTest, SubmissionIdIsIdempotent) {
  const std::string with_id = std::string(kSchedule).substr(0, std::string(kSchedule).size() - 1) + R"(,"submission_id":"mnt-form-1"})";
  Result<MaintenanceResult> first = Submit(with_id);
  ASSERT_TRUE(first);
  Result<MaintenanceResult> again = Submit(with_id);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(again->window, "MNT-1");
  ExpectRefused(R"({"action":"cancel","window":"MNT-1","submission_id":"mnt-form-1"})", ErrorCode::kConflict,
                "submission_id");
  EXPECT_EQ(log_->head().seq, 1u);
}

// Decisions of one group commit see each other: of many starts of one
// window submitted at once, exactly one wins.
TEST_F(MaintenanceProcessorTest, RulesHoldWithinOneGroupCommit) {
  ASSERT_TRUE(Submit(kSchedule));
  constexpr int kStarters = 12;
  std::atomic<int> accepted{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&] {
      Result<MaintenanceResult> result = processor_->Submit(*ParseMaintenanceJson(R"({"action":"start","window":"MNT-1"})"));
      if (result) {
        accepted.fetch_add(1);
      } else if (result.error().code == ErrorCode::kConflict) {
        conflicts.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(conflicts.load(), kStarters - 1);
  EXPECT_EQ(log_->head().seq, 2u);
}

}  // namespace
}  // namespace ledger::ingest
