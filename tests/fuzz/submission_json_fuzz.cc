// Fuzz target for JSON submission bodies: the parser POST
// /api/v1/submissions uses for application/json
// (ingest::ParseJsonSubmission, through ingest/json_body.h), the one
// POST/DELETE /api/v1/subscriptions use (ingest::ParseSubscriptionJson), and
// the one POST /api/v1/maintenance uses (ingest::ParseMaintenanceJson).
// Built like csv_reader_fuzz (see tests/fuzz/README.md).
//
// Properties checked on every input:
//   - nothing crashes; a refusal is invalid_argument or too_large, with a
//     valid UTF-8 message that names the field it is about;
//   - an accepted command satisfies every shape rule of command.h (limits,
//     trimmed one-line fields, normalized ticket, times that survive
//     formatting and parsing, what each action needs);
//   - the command written back as JSON parses to the same command (same
//     Digest()), and so do the same fields given as a form body and through
//     BuildCommandFromFields, when a form can say it;
//   - an accepted subscription change has a normalized address and folded,
//     unique systems, and reads back the same when written as JSON again;
//   - an accepted maintenance command has what its action needs (a schedule:
//     title, systems, planned times in order; the others: a window) and reads
//     back the same (same Digest()) when written as JSON again.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "common/json_writer.h"
#include "common/time.h"
#include "ingest/command.h"
#include "ingest/maintenance.h"
#include "ingest/subscriptions.h"
#include "projections/notifications.h"
#include "tests/fuzz/command_checks.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using ledger::Result;
using ledger::fuzz::PropertyFailed;
using ledger::ingest::SubscriptionAction;
using ledger::ingest::SubscriptionCommand;

void CheckSubmission(std::string_view body) {
  const Result<ledger::ingest::Command> command = ledger::ingest::ParseJsonSubmission(body);
  if (!command) {
    ledger::fuzz::CheckSubmissionError(command.error());
    return;
  }
  ledger::fuzz::CheckCommand(*command);
  const std::string again = ledger::fuzz::CommandJson(*command);
  ledger::fuzz::CheckSameCommand(ledger::ingest::ParseJsonSubmission(again), *command,
                                 "a command written back as JSON parses the same", again);
  if (!ledger::fuzz::FormCanSay(*command)) return;
  const auto fields = ledger::fuzz::CommandFields(*command);
  const std::string form = ledger::fuzz::FormBody(fields);
  ledger::fuzz::CheckSameCommand(ledger::ingest::ParseFormSubmission(form), *command,
                                 "a command written as a form body parses the same", form);
  ledger::fuzz::CheckSameCommand(ledger::ingest::BuildCommandFromFields(fields), *command,
                                 "a command given as fields builds the same", form);
}

std::string SubscriptionJson(const SubscriptionCommand& command) {
  ledger::JsonWriter json;
  json.BeginObject().Key("email").String(command.email).Key("actor").String(command.actor);
  if (!command.systems.empty()) {
    json.Key("systems").BeginArray();
    for (const std::string& system : command.systems) json.String(system);
    json.EndArray();
  }
  json.EndObject();
  return json.Take();
}

void CheckSubscription(std::string_view body, SubscriptionAction action) {
  const Result<SubscriptionCommand> command = ledger::ingest::ParseSubscriptionJson(body, action);
  if (!command) {
    const ledger::Error& error = command.error();
    LEDGER_FUZZ_CHECK(error.code == ledger::ErrorCode::kInvalidArgument || error.code == ledger::ErrorCode::kTooLarge,
                      "a refused subscription is invalid_argument or too_large", error.message);
    LEDGER_FUZZ_CHECK(!error.message.empty() && ledger::IsValidUtf8(error.message),
                      "a subscription error has a valid UTF-8 message", error.message);
    LEDGER_FUZZ_CHECK(ledger::IsValidUtf8(error.field), "a subscription error's field is valid UTF-8", error.field);
    if (error.field == "email" || error.field == "systems" || error.field == "actor") {
      // "each system must be ..." names systems well enough.
      const std::string named = error.field == "systems" ? "system" : error.field;
      LEDGER_FUZZ_CHECK(error.message.find(named) != std::string::npos, "a subscription error names its field",
                        error.field + ": " + error.message);
    }
    return;
  }
  const Result<std::string> email = ledger::ingest::NormalizeEmail(command->email);
  LEDGER_FUZZ_CHECK(email && *email == command->email, "an address is stored normalized", command->email);
  LEDGER_FUZZ_CHECK(command->email.size() <= ledger::ingest::kEmailBytesMax, "an address is within its limit",
                    command->email);
  LEDGER_FUZZ_CHECK(action == SubscriptionAction::kRemove || !command->systems.empty(), "an add names systems", body);
  LEDGER_FUZZ_CHECK(command->systems.size() <= ledger::ingest::kSubscriptionSystemsMax, "systems within their limit",
                    body);
  std::set<std::string> seen;
  for (const std::string& system : command->systems) {
    LEDGER_FUZZ_CHECK(!system.empty() && ledger::fuzz::IsLine(system, ledger::ingest::kSystemBytesMax) &&
                          ledger::fuzz::IsTrimmed(system),
                      "a subscribed system is one trimmed line within its limit", system);
    LEDGER_FUZZ_CHECK(ledger::projections::FoldSystem(system) == system, "a subscribed system is folded", system);
    LEDGER_FUZZ_CHECK(seen.insert(system).second, "subscribed systems are listed once each", system);
  }
  LEDGER_FUZZ_CHECK(!command->actor.empty() && ledger::fuzz::IsLine(command->actor, ledger::ingest::kActorBytesMax),
                    "a subscription's actor is one line", command->actor);

  const std::string again_text = SubscriptionJson(*command);
  const Result<SubscriptionCommand> again = ledger::ingest::ParseSubscriptionJson(again_text, action);
  if (!again) PropertyFailed("a subscription written back as JSON parses", again_text + "\n  refused: " + again.error().message);
  LEDGER_FUZZ_CHECK(again->email == command->email && again->systems == command->systems &&
                        again->actor == command->actor,
                    "a subscription written back as JSON parses the same", again_text);
}

// A maintenance command written back as the JSON body that says it.
std::string MaintenanceJson(const ledger::ingest::MaintenanceCommand& command) {
  using ledger::ingest::MaintenanceAction;
  ledger::JsonWriter json;
  json.BeginObject().Key("action").String(ledger::ingest::MaintenanceActionName(command.action));
  if (!command.window.empty()) json.Key("window").String(command.window);
  if (!command.submission_id.empty()) json.Key("submission_id").String(command.submission_id);
  if (command.expected_version) json.Key("expected_version").Uint(*command.expected_version);
  json.Key("actor").String(command.actor);
  const ledger::proto::MaintenancePayload& payload = command.payload;
  if (payload.has_title()) json.Key("title").String(payload.title());
  if (payload.has_description()) json.Key("description").String(payload.description());
  if (payload.has_link()) json.Key("link").String(payload.link());
  if (payload.has_systems()) {
    json.Key("systems").BeginArray();
    for (const std::string& system : payload.systems().names()) json.String(system);
    json.EndArray();
  }
  const bool actual_is_at = command.action == MaintenanceAction::kStart || command.action == MaintenanceAction::kEnd;
  const auto time = [&json](std::string_view key, const ledger::proto::Timestamp& value) {
    json.Key(key).String(ledger::FormatRfc3339(ledger::Instant{value.unix_micros(), value.offset_minutes()}));
  };
  if (payload.has_starts_at()) time("starts_at", payload.starts_at());
  if (payload.has_ends_at()) time("ends_at", payload.ends_at());
  if (payload.has_started_at()) time(actual_is_at ? "at" : "started_at", payload.started_at());
  if (payload.has_ended_at()) time(actual_is_at ? "at" : "ended_at", payload.ended_at());
  json.EndObject();
  return json.Take();
}

void CheckMaintenance(std::string_view body) {
  using ledger::ingest::MaintenanceAction;
  const Result<ledger::ingest::MaintenanceCommand> command = ledger::ingest::ParseMaintenanceJson(body);
  if (!command) {
    const ledger::Error& error = command.error();
    LEDGER_FUZZ_CHECK(error.code == ledger::ErrorCode::kInvalidArgument || error.code == ledger::ErrorCode::kTooLarge,
                      "a refused maintenance command is invalid_argument or too_large", error.message);
    LEDGER_FUZZ_CHECK(!error.message.empty() && ledger::IsValidUtf8(error.message) && ledger::IsValidUtf8(error.field),
                      "a maintenance error is valid UTF-8", error.message);
    return;
  }
  const ledger::proto::MaintenancePayload& payload = command->payload;
  LEDGER_FUZZ_CHECK(!payload.has_title() || (!payload.title().empty() &&
                                             ledger::fuzz::IsLine(payload.title(), ledger::ingest::kTitleBytesMax)),
                    "a window's title is one line within its limit", payload.title());
  LEDGER_FUZZ_CHECK(payload.systems().names_size() <= static_cast<int>(ledger::ingest::kSystemsCountMax),
                    "a window's systems are within their limit", body);
  if (command->action == MaintenanceAction::kSchedule) {
    LEDGER_FUZZ_CHECK(payload.has_title() && payload.systems().names_size() > 0 && payload.has_starts_at() &&
                          payload.has_ends_at() && payload.starts_at().unix_micros() < payload.ends_at().unix_micros() &&
                          command->window.empty(),
                      "a schedule has a title, systems and planned times in order", body);
  } else {
    LEDGER_FUZZ_CHECK(command->window.starts_with("MNT-"), "every other action names its window", command->window);
  }
  const std::string again = MaintenanceJson(*command);
  const Result<ledger::ingest::MaintenanceCommand> reparsed = ledger::ingest::ParseMaintenanceJson(again);
  if (!reparsed) PropertyFailed("a maintenance command written back as JSON parses", again + "\n  refused: " + reparsed.error().message);
  LEDGER_FUZZ_CHECK(reparsed->Digest() == command->Digest(), "a maintenance command written back as JSON says the same",
                    again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  CheckSubmission(body);
  CheckMaintenance(body);
  CheckSubscription(body, SubscriptionAction::kAdd);
  CheckSubscription(body, SubscriptionAction::kRemove);
  return 0;
}
