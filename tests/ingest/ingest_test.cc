#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "ingest/command.h"
#include "ingest/fields.h"
#include "ingest/processor.h"
#include "test_util.h"

namespace ledger::ingest {
namespace {

using testing::TempDir;

void ExpectInvalid(const Result<Command>& parsed, const std::string& field, const std::string& message_part = {}) {
  ASSERT_FALSE(parsed) << "expected an error about " << field;
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parsed.error().field, field) << parsed.error().message;
  if (!message_part.empty()) {
    EXPECT_NE(parsed.error().message.find(message_part), std::string::npos) << parsed.error().message;
  }
}

TEST(ParseJson, CreateWithAllFields) {
  Result<Command> parsed = ParseJsonSubmission(R"({"action":"create","title":" Mail down ","description":"MX\nqueue",
    "systems":["mail","vpn","mail"],"engineer":"Ana","severity":"Critical","started_at":"2026-11-24T09:00:00+01:00",
    "link":"https://tickets.example/1","note":"first","submission_id":"abc","actor":"desk@example.org"})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->action, Action::kCreate);
  EXPECT_EQ(parsed->payload.title(), "Mail down");
  EXPECT_EQ(parsed->payload.systems().names_size(), 2);
  EXPECT_EQ(parsed->payload.severity(), proto::CRITICAL);
  EXPECT_EQ(parsed->payload.started_at().offset_minutes(), 60);
  EXPECT_EQ(parsed->submission_id, "abc");
  EXPECT_EQ(parsed->actor, "desk@example.org");
}

TEST(ParseJson, RejectsWithTheFieldNamed) {
  ExpectInvalid(ParseJsonSubmission(R"({"title":"x"})"), "action", "required");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"delete"})"), "action");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","systems":["a"],"engineer":"e"})"), "title", "required");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"t","engineer":"e"})"), "systems");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"t","systems":[],"engineer":"e"})"), "systems");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"]})"), "engineer");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"],"engineer":"e","colour":"red"})"),
                "colour", "unknown field");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"],"engineer":"e","severity":"huge"})"),
                "severity");
  ExpectInvalid(ParseJsonSubmission(
                    R"({"action":"create","title":"t","systems":["a"],"engineer":"e","started_at":"2026-11-24T09:00:00"})"),
                "started_at", "offset");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"close","ticket":"INC-1","started_at":"2026-11-24T09:00:00Z",
                                       "ended_at":"2026-11-24T08:00:00Z"})"),
                "ended_at", "before");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":")" + std::string(kTitleBytesMax + 1, 'x') +
                                    R"(","systems":["a"],"engineer":"e"})"),
                "title", "at most");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"a\u0007b","systems":["a"],"engineer":"e"})"), "title",
                "control");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":7,"systems":["a"],"engineer":"e"})"), "title", "string");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","title":"t","systems":[1],"engineer":"e"})"), "systems");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","note":"x"})"), "ticket", "required");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"INC-1"})"), "", "at least one");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"banana","note":"x"})"), "ticket");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"create","ticket":"INC-1","title":"t","systems":["a"],"engineer":"e"})"),
                "ticket");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"reopen","ticket":"INC-1","ended_at":"2026-11-24T08:00:00Z"})"),
                "ended_at");
  ExpectInvalid(ParseJsonSubmission(R"j({"action":"update","ticket":"INC-1","link":"javascript:alert(1)"})j"), "link");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"INC-1","expected_version":0,"note":"x"})"),
                "expected_version");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"INC-1","note":"x","note":"y"})"), "note", "more than once");
  ExpectInvalid(ParseJsonSubmission("[1,2]"), "", "object");
  ExpectInvalid(ParseJsonSubmission("{\"action\":"), "", "not valid JSON");
  ExpectInvalid(ParseJsonSubmission("{\"action\":\"create\",\"title\":\"\xff\"}"), "", "UTF-8");
  ExpectInvalid(ParseJsonSubmission(R"({"action":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}}})"), "");
  std::string many = R"({"action":"create","title":"t","engineer":"e","systems":[)";
  for (size_t i = 0; i <= kSystemsCountMax; ++i) many += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  ExpectInvalid(ParseJsonSubmission(many + "]}"), "systems", "at most");
}

// The field table (fields.h) drives parsing; these are the messages the
// service gave before there was a table, word for word.
TEST(PayloadFields, TableMatchesTheProtoAndKeepsTheMessages) {
  const auto& table = PayloadFieldTable();  // aborts when a row and the proto disagree
  const google::protobuf::Descriptor& message = *proto::IncidentPayload::descriptor();
  ASSERT_EQ(static_cast<size_t>(message.field_count()), table.size());
  for (size_t i = 0; i < table.size(); ++i) EXPECT_EQ(message.field(static_cast<int>(i))->name(), table[i].name);
  EXPECT_EQ(EnumWords(*FindPayloadField("severity")), (std::vector<std::string>{"minor", "major", "critical"}));

  const auto message_of = [](std::string_view body) {
    Result<Command> parsed = ParseJsonSubmission(body);
    return parsed ? std::string("(parsed)") : parsed.error().field + ": " + parsed.error().message;
  };
  EXPECT_EQ(message_of(R"({"action":"create","colour":"red"})"),
            "colour: unknown field 'colour'; accepted fields: acknowledged_at, action, actor, description, "
            "detected_at, ended_at, engineer, expected_version, impact, link, mitigated_at, note, phase, severity, "
            "started_at, submission_id, systems, ticket, title, visibility");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"INC-1"})"),
            ": an update must change at least one of title, description, systems, engineer, severity, started_at, "
            "ended_at, note, link, detected_at, acknowledged_at, mitigated_at, impact, phase, visibility");
  EXPECT_EQ(message_of(R"({"action":"create","title":"t","systems":["a"],"engineer":"e","severity":"huge"})"),
            "severity: severity must be one of minor, major, critical");
  EXPECT_EQ(message_of(R"({"action":"reopen","ticket":"1","ended_at":"2026-11-24T09:00:00Z"})"),
            "ended_at: ended_at does not apply to action reopen: an outage ends with action close");
  EXPECT_EQ(message_of(R"({"action":"create","title":"t","engineer":"e"})"),
            "systems: systems is required for action create: name at least one");
  EXPECT_EQ(message_of(R"({"action":"create","systems":["a"],"engineer":"e"})"),
            "title: title is required for action create");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","engineer":" "})"), "engineer: engineer must not be empty");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","systems":[" "]})"),
            "systems: systems must name at least one system");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","link":"ftp://x"})"),
            "link: link must be an http:// or https:// URL");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","link":"https://x y"})"), "link: link must not contain spaces");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","title":"a\u0001"})"),
            "title: title must be one line without control characters, line separators, text-direction controls or "
            "invisible characters; found U+0001 (a control character)");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","note":"a\u0001"})"),
            "note: note must not contain control characters or text-direction controls; found U+0001 (a control "
            "character)");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","description":")" + std::string(kDescriptionBytesMax + 1, 'd') +
                       R"("})"),
            "description: description must be at most 8000 bytes");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","note":7})"), "note: note must be a string");
  EXPECT_EQ(message_of(R"({"action":"update","ticket":"1","systems":7})"), "systems: systems must be an array of strings");
}

// Impact and phase: table rows of kind kEnum, so parsing, the refusal of an
// unknown word (naming the field and every word it takes) and the payload
// JSON come from the table; closing refuses a phase (it resolves).
TEST(PayloadFields, ImpactAndPhaseAreWordsOfTheirOwn) {
  EXPECT_EQ(EnumWords(*FindPayloadField("impact")), (std::vector<std::string>{"full", "partial", "degraded"}));
  EXPECT_EQ(EnumWords(*FindPayloadField("phase")),
            (std::vector<std::string>{"investigating", "identified", "monitoring"}));
  Result<Command> parsed = ParseJsonSubmission(
      R"({"action":"create","title":"t","systems":["a"],"engineer":"e","impact":" Degraded","phase":"identified"})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->payload.impact(), proto::DEGRADED);
  EXPECT_EQ(parsed->payload.phase(), proto::IDENTIFIED);
  JsonWriter json;
  WritePayloadJson(&json, parsed->payload);
  EXPECT_EQ(json.Take(), R"({"title":"t","systems":["a"],"engineer":"e","impact":"degraded","phase":"identified"})");

  Result<Command> minimal = ParseJsonSubmission(R"({"action":"create","title":"t","systems":["a"],"engineer":"e"})");
  ASSERT_TRUE(minimal);
  EXPECT_EQ(minimal->payload.impact(), proto::IMPACT_UNSPECIFIED);  // the fold makes it full
  EXPECT_EQ(minimal->payload.phase(), proto::PHASE_UNSPECIFIED);    // the fold makes it investigating

  const auto refusal = [](std::string_view body) {
    Result<Command> command = ParseJsonSubmission(body);
    return command ? std::string("(parsed)") : command.error().field + ": " + command.error().message;
  };
  EXPECT_EQ(refusal(R"({"action":"update","ticket":"1","impact":"total"})"),
            "impact: impact must be one of full, partial, degraded");
  EXPECT_EQ(refusal(R"({"action":"update","ticket":"1","phase":"resolved"})"),
            "phase: phase must be one of investigating, identified, monitoring");
  EXPECT_EQ(refusal(R"({"action":"close","ticket":"1","phase":"monitoring"})"),
            "phase: phase does not apply to action close: closing resolves the incident");
  Result<Command> form = ParseFormSubmission("action=update&ticket=1&impact=none");
  ASSERT_FALSE(form);
  EXPECT_EQ(form.error().field, "impact");
  EXPECT_NE(form.error().message.find("full, partial, degraded"), std::string::npos) << form.error().message;
  // A blank select ("unchanged") is not given.
  Result<Command> blank = ParseFormSubmission("action=update&ticket=1&impact=&phase=&note=x");
  ASSERT_TRUE(blank) << blank.error().message;
  EXPECT_EQ(blank->payload.impact(), proto::IMPACT_UNSPECIFIED);
}

TEST(PayloadFields, WritesThePayloadJson) {
  Result<Command> parsed = ParseJsonSubmission(R"({"action":"update","ticket":"1","title":"T \"q\"","description":"d\n2",
    "systems":["mail","vpn"],"engineer":"Ana","severity":"major","started_at":"2026-11-24T09:00:00+01:00",
    "ended_at":"2026-11-24T10:30:00Z","note":"n","link":"https://x.example/1"})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  JsonWriter json;
  WritePayloadJson(&json, parsed->payload);
  EXPECT_EQ(json.Take(),
            R"({"title":"T \"q\"","description":"d\n2","systems":["mail","vpn"],"engineer":"Ana","severity":"major",)"
            R"("started_at":"2026-11-24T09:00:00+01:00","ended_at":"2026-11-24T10:30:00Z","note":"n",)"
            R"("link":"https://x.example/1"})");
  JsonWriter empty;
  WritePayloadJson(&empty, proto::IncidentPayload());
  EXPECT_EQ(empty.Take(), "{}");
  proto::IncidentPayload unknown_severity;
  unknown_severity.set_severity(static_cast<proto::Severity>(9));  // from a build that knows more values
  JsonWriter unknown;
  WritePayloadJson(&unknown, unknown_severity);
  EXPECT_EQ(unknown.Take(), R"({"severity":"minor"})");
}

TEST(ParseJson, NormalizesTicketsAndVersions) {
  Result<Command> parsed = ParseJsonSubmission(R"({"action":"close","ticket":"inc-7","expected_version":"3"})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->ticket, "INC-7");
  EXPECT_EQ(parsed->expected_version, 3u);
  Result<Command> bare = ParseJsonSubmission(R"({"action":"close","ticket":"7","expected_version":3})");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->ticket, "INC-7");
  EXPECT_EQ(bare->Digest(), parsed->Digest());
}

TEST(ParseForm, DecodesAndSplitsSystems) {
  Result<Command> parsed = ParseFormSubmission(
      "action=create&title=Mail+down%21&systems=mail%2C+vpn&engineer=Ana&severity=&ticket=&description=a%0Ab");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->payload.title(), "Mail down!");
  ASSERT_EQ(parsed->payload.systems().names_size(), 2);
  EXPECT_EQ(parsed->payload.systems().names(1), "vpn");
  EXPECT_EQ(parsed->payload.description(), "a\nb");
  EXPECT_EQ(parsed->payload.severity(), proto::SEVERITY_UNSPECIFIED);
  ExpectInvalid(ParseFormSubmission("action=create&title=%ZZ"), "title", "escape");
  ExpectInvalid(ParseFormSubmission("action=create&title=%ff&systems=a&engineer=e"), "title", "UTF-8");
  ExpectInvalid(ParseFormSubmission("action=create&bogus=1"), "bogus", "unknown field");
  // Found by submission_form_fuzz: names that are not UTF-8 are quoted with '?'.
  ExpectInvalid(ParseFormSubmission("action=create&sy%D2stems=s"), "sy?stems", "unknown field 'sy?stems'");
  ExpectInvalid(ParseFormSubmission("%FF=%G1"), "?", "? has a malformed %-escape");
}

TEST(ParseJson, RefusesInvisibleAndReorderingCharactersNamingThem) {
  // JSON escapes, so every character is spelled as the attacker would send it.
  const std::pair<const char*, const char*> kOneLine[] = {
      {"\\u0085", "U+0085"}, {"\\u2028", "U+2028"}, {"\\u2029", "U+2029"}, {"\\u202e", "U+202E"},
      {"\\u202a", "U+202A"}, {"\\u2066", "U+2066"}, {"\\u2069", "U+2069"}, {"\\u200e", "U+200E"},
      {"\\u200f", "U+200F"}, {"\\u009b", "U+009B"}, {"\\u061c", "U+061C"},
  };
  for (const auto& [escape, name] : kOneLine) {
    SCOPED_TRACE(name);
    ExpectInvalid(ParseJsonSubmission(std::string(R"({"action":"create","systems":["mail"],"engineer":"E","title":"a)") +
                                      escape + R"(b"})"),
                  "title", name);
    ExpectInvalid(ParseJsonSubmission(std::string(R"({"action":"create","systems":["mail"],"title":"T","engineer":"a)") +
                                      escape + R"("})"),
                  "engineer", name);
    ExpectInvalid(ParseJsonSubmission(std::string(R"({"action":"create","title":"T","engineer":"E","systems":["db)") +
                                      escape + R"("]})"),
                  "systems", name);
    ExpectInvalid(ParseJsonSubmission(std::string(R"({"action":"update","ticket":"1","note":"x","actor":"A)") + escape +
                                      R"("})"),
                  "actor", name);
    ExpectInvalid(ParseJsonSubmission(std::string(R"({"action":"update","ticket":"1","note":"x","submission_id":"s)") +
                                      escape + R"("})"),
                  "submission_id", name);
  }
  // Multi-line text: direction overrides and C1 controls are refused; line
  // breaks, U+2028 and the right-to-left mark are kept.
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"1","note":"a\u202eb"})"), "note", "U+202E");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"1","description":"a\u2067b"})"), "description",
                "U+2067");
  ExpectInvalid(ParseJsonSubmission(R"({"action":"update","ticket":"1","note":"a\u0085b"})"), "note", "U+0085");
  Result<Command> kept =
      ParseJsonSubmission(R"({"action":"update","ticket":"1","note":"line 1\nline 2\u2028\u05e9\u05dc\u05d5\u05dd\u200f."})");
  ASSERT_TRUE(kept) << kept.error().message;
  // And the same through a form body (percent-encoded UTF-8).
  ExpectInvalid(ParseFormSubmission("action=create&systems=mail&engineer=E&title=a%E2%80%AEb"), "title", "U+202E");
  ExpectInvalid(ParseFormSubmission("action=create&systems=mail&engineer=E&title=a%C2%85b"), "title", "U+0085");
  ExpectInvalid(ParseFormSubmission("action=create&title=T&engineer=E&systems=mail%2Cdb%E2%80%A8x"), "systems", "U+2028");
  ExpectInvalid(ParseFormSubmission("action=update&ticket=1&note=a%E2%81%A6b"), "note", "U+2066");
}

TEST(Digest, DependsOnContentNotArrival) {
  Result<Command> a = ParseJsonSubmission(R"({"action":"update","ticket":"INC-1","note":"x","submission_id":"s"})");
  Result<Command> b = ParseFormSubmission("submission_id=s&note=x&ticket=INC-1&action=update");
  Result<Command> c = ParseJsonSubmission(R"({"action":"update","ticket":"INC-1","note":"y","submission_id":"s"})");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->Digest(), b->Digest());
  EXPECT_NE(a->Digest(), c->Digest());
}

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir_.path()});
    ASSERT_TRUE(opened);
    log_ = std::move(*opened);
    Result<std::unique_ptr<CommandProcessor>> created = CommandProcessor::Create(log_.get());
    ASSERT_TRUE(created);
    processor_ = std::move(*created);
  }

  Result<SubmissionResult> Submit(const std::string& json) {
    Result<Command> command = ParseJsonSubmission(json);
    EXPECT_TRUE(command) << json << ": " << (command ? "" : command.error().message);
    if (!command) return command.error();
    return processor_->Submit(std::move(*command));
  }

  void ExpectRefused(const std::string& json, ErrorCode code, const std::string& field) {
    const uint64_t before = log_->head().seq;
    Result<SubmissionResult> result = Submit(json);
    ASSERT_FALSE(result) << json;
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_EQ(result.error().field, field) << result.error().message;
    EXPECT_EQ(log_->head().seq, before);
  }

  TempDir dir_;
  std::unique_ptr<Ledger> log_;
  std::unique_ptr<CommandProcessor> processor_;
};

constexpr const char* kCreate =
    R"({"action":"create","title":"Mail down","systems":["mail"],"engineer":"Ana","started_at":"2020-01-01T08:00:00Z"})";

TEST_F(ProcessorTest, LifecycleAndVersions) {
  Result<SubmissionResult> created = Submit(kCreate);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->ticket, "INC-1");
  EXPECT_EQ(created->version, 1u);
  Result<SubmissionResult> updated = Submit(R"({"action":"update","ticket":"INC-1","note":"x","expected_version":1})");
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->version, 2u);
  EXPECT_EQ(updated->seq, 2u);
  ASSERT_TRUE(Submit(R"({"action":"close","ticket":"INC-1"})"));
  ASSERT_TRUE(Submit(R"({"action":"reopen","ticket":"INC-1"})"));
  Result<SubmissionResult> second = Submit(kCreate);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->ticket, "INC-2");
}

TEST_F(ProcessorTest, RefusalsAppendNothing) {
  ExpectRefused(R"({"action":"update","ticket":"INC-9","note":"x"})", ErrorCode::kNotFound, "ticket");
  ASSERT_TRUE(Submit(kCreate));
  ExpectRefused(R"({"action":"reopen","ticket":"INC-1"})", ErrorCode::kConflict, "action");
  ExpectRefused(R"({"action":"update","ticket":"INC-1","note":"x","expected_version":5})", ErrorCode::kConflict,
                "expected_version");
  ExpectRefused(R"({"action":"update","ticket":"INC-1","ended_at":"2020-01-01T09:00:00Z"})", ErrorCode::kInvalidArgument,
                "ended_at");
  ExpectRefused(R"({"action":"close","ticket":"INC-1","ended_at":"2020-01-01T07:00:00Z"})", ErrorCode::kInvalidArgument,
                "ended_at");
  ASSERT_TRUE(Submit(R"({"action":"close","ticket":"INC-1","ended_at":"2020-01-01T09:00:00Z"})"));
  ExpectRefused(R"({"action":"close","ticket":"INC-1"})", ErrorCode::kConflict, "action");
  ExpectRefused(R"({"action":"update","ticket":"INC-1","started_at":"2020-01-01T10:00:00Z"})", ErrorCode::kInvalidArgument,
                "started_at");
  ExpectRefused(R"({"action":"reopen","ticket":"INC-1","started_at":"2020-01-01T08:30:00Z"})", ErrorCode::kInvalidArgument,
                "started_at");
  // A correction of the end after close is fine.
  ASSERT_TRUE(Submit(R"({"action":"update","ticket":"INC-1","ended_at":"2020-01-01T09:30:00Z"})"));
  // Closing resolved it: no phase until it is reopened; its impact may still be corrected.
  ExpectRefused(R"({"action":"update","ticket":"INC-1","phase":"monitoring"})", ErrorCode::kInvalidArgument, "phase");
  ASSERT_TRUE(Submit(R"({"action":"update","ticket":"INC-1","impact":"partial"})"));
  ASSERT_TRUE(Submit(R"({"action":"reopen","ticket":"INC-1","phase":"identified"})"));
}

TEST_F(ProcessorTest, SubmissionIdIsIdempotent) {
  const std::string with_id =
      R"({"action":"create","title":"t","systems":["a"],"engineer":"e","submission_id":"form-1"})";
  Result<SubmissionResult> first = Submit(with_id);
  ASSERT_TRUE(first);
  Result<SubmissionResult> again = Submit(with_id);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(again->ticket, first->ticket);
  ExpectRefused(R"({"action":"create","title":"other","systems":["a"],"engineer":"e","submission_id":"form-1"})",
                ErrorCode::kConflict, "submission_id");
  EXPECT_EQ(log_->head().seq, 1u);
}

TEST_F(ProcessorTest, RulesHoldWithinOneGroupCommit) {
  ASSERT_TRUE(Submit(kCreate));
  // Many closes of the same ticket at once: exactly one wins.
  constexpr int kClosers = 16;
  std::atomic<int> accepted{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClosers; ++i) {
    threads.emplace_back([&] {
      Result<Command> command = ParseJsonSubmission(R"({"action":"close","ticket":"INC-1"})");
      Result<SubmissionResult> result = processor_->Submit(std::move(*command));
      if (result) {
        accepted.fetch_add(1);
      } else if (result.error().code == ErrorCode::kConflict) {
        conflicts.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(conflicts.load(), kClosers - 1);
  EXPECT_EQ(log_->head().seq, 2u);
}

TEST_F(ProcessorTest, StateSurvivesRestart) {
  ASSERT_TRUE(Submit(kCreate));
  ASSERT_TRUE(Submit(R"({"action":"close","ticket":"INC-1"})"));
  processor_.reset();
  log_.reset();
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir_.path()});
  ASSERT_TRUE(opened);
  log_ = std::move(*opened);
  Result<std::unique_ptr<CommandProcessor>> created = CommandProcessor::Create(log_.get());
  ASSERT_TRUE(created);
  processor_ = std::move(*created);
  ExpectRefused(R"({"action":"close","ticket":"INC-1"})", ErrorCode::kConflict, "action");
  Result<SubmissionResult> next = Submit(kCreate);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->ticket, "INC-2");
  EXPECT_EQ(next->seq, 3u);
}

}  // namespace
}  // namespace ledger::ingest
