#include "ingest/maintenance.h"

#include <algorithm>
#include <cctype>
#include <future>
#include <set>
#include <vector>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/text.h"
#include "common/time.h"
#include "ingest/command.h"
#include "ingest/fields.h"
#include "ingest/form_body.h"
#include "ingest/request_digest.h"
#include "ingest/json_body.h"
#include "ingest/systems.h"
#include "projections/ticket_name.h"

namespace ledger::ingest {
namespace {

constexpr size_t kFieldNameBytesMax = 64;

// Every field a maintenance command may name, by how a JSON body writes it.
enum class Shape { kText, kList, kNumber };
const std::map<std::string_view, Shape>& KnownFields() {
  static const std::map<std::string_view, Shape> kFields = {
      {"action", Shape::kText},     {"window", Shape::kText},     {"submission_id", Shape::kText},
      {"expected_version", Shape::kNumber}, {"actor", Shape::kText}, {"title", Shape::kText},
      {"systems", Shape::kList},    {"description", Shape::kText}, {"link", Shape::kText},
      {"starts_at", Shape::kText},  {"ends_at", Shape::kText},    {"at", Shape::kText},
      {"started_at", Shape::kText}, {"ended_at", Shape::kText},
  };
  return kFields;
}

// The payload fields each action takes (besides the envelope: action,
// window, submission_id, expected_version, actor).
const std::set<std::string_view>& FieldsOf(MaintenanceAction action) {
  static const std::set<std::string_view> kSchedule = {"title", "systems", "description", "link", "starts_at", "ends_at"};
  static const std::set<std::string_view> kUpdate = {"title",     "systems", "description", "link",
                                                     "starts_at", "ends_at", "started_at",  "ended_at"};
  static const std::set<std::string_view> kAt = {"at"};
  static const std::set<std::string_view> kNone = {};
  switch (action) {
    case MaintenanceAction::kSchedule: return kSchedule;
    case MaintenanceAction::kUpdate: return kUpdate;
    case MaintenanceAction::kStart:
    case MaintenanceAction::kEnd: return kAt;
    case MaintenanceAction::kCancel: return kNone;
  }
  return kNone;
}

struct RawField {
  std::string value;
  std::vector<std::string> values;  // systems
};
using RawFields = std::map<std::string, RawField>;

std::string Printable(std::string_view name) { return QuotableText(name, kFieldNameBytesMax); }

Error UnknownField(std::string_view name) {
  std::string known;
  for (const auto& [field, shape] : KnownFields()) known += (known.empty() ? "" : ", ") + std::string(field);
  return InvalidArgument(Printable(name), "unknown field '" + Printable(name) + "'; accepted fields: " + known);
}

Status AddField(RawFields* fields, std::string_view name, RawField value) {
  if (!KnownFields().contains(name)) return UnknownField(name);
  if (fields->contains(std::string(name))) {
    return InvalidArgument(std::string(name), std::string(name) + " is given more than once");
  }
  fields->emplace(std::string(name), std::move(value));
  return {};
}

std::vector<std::string> SplitCommas(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    parts.emplace_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

Result<MaintenanceAction> CheckedAction(std::string_view value) {
  std::string lower(Trim(value));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const MaintenanceAction action : {MaintenanceAction::kSchedule, MaintenanceAction::kUpdate,
                                         MaintenanceAction::kStart, MaintenanceAction::kEnd, MaintenanceAction::kCancel}) {
    if (lower == MaintenanceActionName(action)) return action;
  }
  return InvalidArgument("action", "action must be one of schedule, update, start, end, cancel");
}

Status SetTime(const RawFields& fields, std::string_view name, proto::Timestamp* out) {
  const auto found = fields.find(std::string(name));
  if (found == fields.end()) return {};
  Result<Instant> instant = ParseRfc3339(Trim(found->second.value), name);
  if (!instant) return instant.error();
  out->set_unix_micros(instant->unix_micros);
  out->set_offset_minutes(instant->offset_minutes);
  return {};
}

Result<MaintenanceCommand> BuildCommand(const RawFields& fields) {
  MaintenanceCommand command;
  const auto field = [&fields](std::string_view name) -> const RawField* {
    const auto found = fields.find(std::string(name));
    return found == fields.end() ? nullptr : &found->second;
  };
  const RawField* action = field("action");
  if (action == nullptr) {
    return InvalidArgument("action", "action is required: schedule, update, start, end or cancel");
  }
  Result<MaintenanceAction> parsed_action = CheckedAction(action->value);
  if (!parsed_action) return parsed_action.error();
  command.action = *parsed_action;
  const std::string action_name = MaintenanceActionName(command.action);

  if (const RawField* window = field("window")) {
    if (command.action == MaintenanceAction::kSchedule) {
      return InvalidArgument("window", "window must not be given with action schedule: a new window number is assigned");
    }
    Result<std::string> normalized = NormalizeWindow(window->value);
    if (!normalized) return normalized.error();
    command.window = *normalized;
  } else if (command.action != MaintenanceAction::kSchedule) {
    return InvalidArgument("window", "window is required for action " + action_name + " (e.g. MNT-3)");
  }
  if (const RawField* submission_id = field("submission_id")) {
    Result<std::string> value = CheckedLine("submission_id", submission_id->value, kSubmissionIdBytesMax);
    if (!value) return value.error();
    if (value->empty()) return InvalidArgument("submission_id", "submission_id must not be empty when given");
    command.submission_id = *value;
  }
  if (const RawField* version = field("expected_version")) {
    if (command.action == MaintenanceAction::kSchedule) {
      return InvalidArgument("expected_version", "expected_version does not apply to action schedule");
    }
    const std::string text(Trim(version->value));
    const bool digits = !text.empty() && text.size() <= 10 &&
                        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    const uint64_t number = digits ? std::stoull(text) : 0;
    if (number < 1 || number > kExpectedVersionMax) {
      return InvalidArgument("expected_version", "expected_version must be a whole number from 1");
    }
    command.expected_version = static_cast<uint32_t>(number);
  }
  command.actor = std::string(kAnonymousActor);
  if (const RawField* actor = field("actor")) {
    Result<std::string> value = CheckedActor(actor->value);
    if (!value) return value.error();
    command.actor = std::move(*value);
  }

  // Which payload fields the action takes: anything else is named.
  const std::set<std::string_view>& allowed = FieldsOf(command.action);
  for (const auto& [name, raw] : fields) {
    static const std::set<std::string_view> kEnvelope = {"action", "window", "submission_id", "expected_version", "actor"};
    if (kEnvelope.contains(name) || allowed.contains(name)) continue;
    return InvalidArgument(name, name + " does not apply to action " + action_name);
  }

  proto::MaintenancePayload& payload = command.payload;
  if (const RawField* title = field("title")) {
    Result<std::string> value = CheckedLine("title", title->value, kTitleBytesMax);
    if (!value) return value.error();
    if (value->empty()) return InvalidArgument("title", "title must not be empty");
    payload.set_title(std::move(*value));
  }
  if (const RawField* description = field("description")) {
    if (Status checked = CheckText("description", description->value, kDescriptionBytesMax); !checked) {
      return checked.error();
    }
    payload.set_description(description->value);
  }
  if (const RawField* link = field("link")) {
    std::string value(Trim(link->value));
    if (Status checked = CheckLink("link", value, kLinkBytesMax); !checked) return checked.error();
    payload.set_link(std::move(value));
  }
  if (const RawField* systems = field("systems")) {
    proto::SystemList* list = payload.mutable_systems();
    for (const std::string& item : systems->values) {
      Result<std::string> value = CheckedLine("systems", item, kSystemBytesMax);
      if (!value) return value.error();
      if (value->empty()) continue;
      if (std::find(list->names().begin(), list->names().end(), *value) != list->names().end()) continue;
      if (static_cast<size_t>(list->names_size()) == kSystemsCountMax) {
        return InvalidArgument("systems", "systems may name at most " + std::to_string(kSystemsCountMax) + " systems");
      }
      list->add_names(*value);
    }
    if (list->names().empty()) return InvalidArgument("systems", "systems must name at least one system");
  }
  // Times: each given one into its payload field; `at` is the actual time
  // of a start or an end.
  const auto set_time = [&](std::string_view name, proto::Timestamp* (proto::MaintenancePayload::*mutable_field)()) {
    if (!fields.contains(std::string(name))) return Status();
    return SetTime(fields, name, (payload.*mutable_field)());
  };
  const bool starts = command.action == MaintenanceAction::kStart;
  for (const Status& set : {set_time("starts_at", &proto::MaintenancePayload::mutable_starts_at),
                            set_time("ends_at", &proto::MaintenancePayload::mutable_ends_at),
                            set_time("started_at", &proto::MaintenancePayload::mutable_started_at),
                            set_time("ended_at", &proto::MaintenancePayload::mutable_ended_at),
                            set_time("at", starts ? &proto::MaintenancePayload::mutable_started_at
                                                  : &proto::MaintenancePayload::mutable_ended_at)}) {
    if (!set) return set.error();
  }

  if (command.action == MaintenanceAction::kSchedule) {
    for (const char* required : {"title", "systems", "starts_at", "ends_at"}) {
      if (!fields.contains(required)) {
        return InvalidArgument(required, std::string(required) + " is required for action schedule");
      }
    }
  }
  if (command.action == MaintenanceAction::kUpdate && payload.ByteSizeLong() == 0) {
    return InvalidArgument("", "an update must change at least one of title, systems, description, link, starts_at, "
                               "ends_at, started_at, ended_at");
  }
  if (payload.has_starts_at() && payload.has_ends_at() &&
      payload.ends_at().unix_micros() <= payload.starts_at().unix_micros()) {
    return InvalidArgument("ends_at", "ends_at must be after starts_at");
  }
  if (payload.has_started_at() && payload.has_ended_at() &&
      payload.ended_at().unix_micros() < payload.started_at().unix_micros()) {
    return InvalidArgument("ended_at", "ended_at must not be before started_at");
  }
  return command;
}

std::string Time(int64_t unix_micros) { return FormatRfc3339Utc(unix_micros); }

proto::EventType EventTypeFor(MaintenanceAction action) {
  switch (action) {
    case MaintenanceAction::kSchedule: return proto::MAINTENANCE_SCHEDULED;
    case MaintenanceAction::kUpdate: return proto::MAINTENANCE_UPDATED;
    case MaintenanceAction::kStart: return proto::MAINTENANCE_STARTED;
    case MaintenanceAction::kEnd: return proto::MAINTENANCE_ENDED;
    case MaintenanceAction::kCancel: return proto::MAINTENANCE_CANCELLED;
  }
  return proto::EVENT_TYPE_UNSPECIFIED;
}

void SetRecorded(proto::Timestamp* timestamp, int64_t recorded_at_micros) {
  timestamp->set_unix_micros(recorded_at_micros);
  timestamp->set_offset_minutes(0);
}

Error Conflict(const projections::MaintenanceWindow& window, const std::string& rule) {
  return MakeError(ErrorCode::kConflict,
                   window.window + " is " + projections::MaintenanceStatusName(window.status) + ": " + rule, "action");
}

// The rules against the window as it stands; fills in the event's ticket,
// version and the actual time a start or end defaults to.
Status CheckAgainst(const MaintenanceCommand& command, const projections::MaintenanceWindow& window,
                    int64_t recorded_at_micros, proto::Event* event) {
  using projections::MaintenanceStatus;
  if (command.expected_version && *command.expected_version != window.version) {
    return MakeError(ErrorCode::kConflict,
                     "expected_version is " + std::to_string(*command.expected_version) + " but " + window.window +
                         " is at version " + std::to_string(window.version),
                     "expected_version");
  }
  proto::MaintenancePayload* payload = event->mutable_maintenance();
  switch (command.action) {
    case MaintenanceAction::kSchedule: break;
    case MaintenanceAction::kStart:
      if (window.status != MaintenanceStatus::kScheduled) return Conflict(window, "only a scheduled window can start");
      if (!payload->has_started_at()) SetRecorded(payload->mutable_started_at(), recorded_at_micros);
      break;
    case MaintenanceAction::kEnd: {
      if (window.status != MaintenanceStatus::kInProgress) return Conflict(window, "only a window in progress can end");
      if (!payload->has_ended_at()) SetRecorded(payload->mutable_ended_at(), recorded_at_micros);
      const int64_t start = window.started_at ? window.started_at->unix_micros : INT64_MIN;
      if (payload->ended_at().unix_micros() < start) {
        return InvalidArgument("at", "the end (" + Time(payload->ended_at().unix_micros()) +
                                   ") must not be before the window started (" + Time(start) + ")");
      }
      break;
    }
    case MaintenanceAction::kCancel:
      if (window.status != MaintenanceStatus::kScheduled) {
        return Conflict(window, "only a scheduled window can be cancelled (one in progress is ended)");
      }
      break;
    case MaintenanceAction::kUpdate: {
      const int64_t starts = payload->has_starts_at() ? payload->starts_at().unix_micros() : window.starts_at.unix_micros;
      const int64_t ends = payload->has_ends_at() ? payload->ends_at().unix_micros() : window.ends_at.unix_micros;
      if (ends <= starts) {
        return InvalidArgument(payload->has_ends_at() ? "ends_at" : "starts_at",
                               "ends_at (" + Time(ends) + ") must be after starts_at (" + Time(starts) + ")");
      }
      if (payload->has_started_at() && !window.started_at) {
        return InvalidArgument("started_at", "started_at can only be corrected once the window has started; use action start");
      }
      if (payload->has_ended_at() && !window.ended_at) {
        return InvalidArgument("ended_at", "ended_at can only be corrected once the window has ended; use action end");
      }
      if (window.started_at && window.ended_at) {
        const int64_t started = payload->has_started_at() ? payload->started_at().unix_micros() : window.started_at->unix_micros;
        const int64_t ended = payload->has_ended_at() ? payload->ended_at().unix_micros() : window.ended_at->unix_micros;
        if (ended < started) {
          return InvalidArgument(payload->has_ended_at() ? "ended_at" : "started_at",
                                 "ended_at (" + Time(ended) + ") must not be before started_at (" + Time(started) + ")");
        }
      }
      break;
    }
  }
  event->set_ticket(window.window);
  event->set_version(window.version + 1);
  return {};
}

}  // namespace

const char* MaintenanceActionName(MaintenanceAction action) {
  switch (action) {
    case MaintenanceAction::kSchedule: return "schedule";
    case MaintenanceAction::kUpdate: return "update";
    case MaintenanceAction::kStart: return "start";
    case MaintenanceAction::kEnd: return "end";
    case MaintenanceAction::kCancel: return "cancel";
  }
  return "unknown";
}

std::string MaintenanceCommand::Digest() const {
  std::string canonical = "maintenance";
  canonical += '\0';
  canonical += MaintenanceActionName(action);
  canonical += '\0';
  canonical += window;
  canonical += '\0';
  canonical += expected_version ? std::to_string(*expected_version) : std::string();
  canonical += '\0';
  canonical += actor;
  canonical += '\0';
  AppendDeterministic(&canonical, payload);
  return DigestOf(canonical);
}

Result<std::string> NormalizeWindow(std::string_view text, std::string_view field) {
  const std::string trimmed(Trim(text));
  const std::string message = std::string(field) + " must be a window number like MNT-3";
  if (trimmed.empty() || trimmed.size() > kTicketTextBytesMax) return InvalidArgument(std::string(field), message);
  constexpr std::string_view kPrefix = projections::WindowName::kPrefix;
  std::string_view digits = trimmed;
  const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  if (digits.size() > kPrefix.size() &&
      std::equal(kPrefix.begin(), kPrefix.end(), digits.begin(), [&](char p, char c) { return lower(p) == lower(c); })) {
    digits.remove_prefix(kPrefix.size());
  }
  const std::optional<projections::WindowName> name =
      projections::WindowName::Parse(std::string(kPrefix) + std::string(digits));
  if (!name) return InvalidArgument(std::string(field), message);
  return name->Text();
}

Result<MaintenanceCommand> ParseMaintenanceJson(std::string_view body) {
  JsonObjectBody parsed;
  if (Status body_ok = ParseJsonObjectBody(body, kJsonDepthMax, &parsed); !body_ok) return body_ok.error();
  RawFields fields;
  for (const auto [key, value] : parsed.object) {
    const auto known = KnownFields().find(key);
    if (known == KnownFields().end()) return UnknownField(key);
    const std::string name(key);
    if (value.is_null()) {
      if (fields.contains(name)) return InvalidArgument(name, name + " is given more than once");
      continue;
    }
    RawField raw;
    std::string_view text;
    if (known->second == Shape::kList) {
      if (value.is_array()) {
        for (const simdjson::dom::element item : value.get_array()) {
          if (item.get_string().get(text) != simdjson::SUCCESS) {
            return InvalidArgument(name, name + " must be an array of strings");
          }
          raw.values.emplace_back(text);
        }
      } else if (value.get_string().get(text) == simdjson::SUCCESS) {
        raw.values = SplitCommas(text);
      } else {
        return InvalidArgument(name, name + " must be an array of strings");
      }
    } else if (known->second == Shape::kNumber) {
      uint64_t number = 0;
      if (value.get_uint64().get(number) == simdjson::SUCCESS) {
        raw.value = std::to_string(number);
      } else if (value.get_string().get(text) == simdjson::SUCCESS) {
        raw.value = std::string(text);
      } else {
        return InvalidArgument(name, name + " must be a whole number from 1");
      }
    } else {
      if (value.get_string().get(text) != simdjson::SUCCESS) return InvalidArgument(name, name + " must be a string");
      raw.value = std::string(text);
    }
    if (Status added = AddField(&fields, name, std::move(raw)); !added) return added.error();
  }
  return BuildCommand(fields);
}

Result<MaintenanceCommand> ParseMaintenanceForm(std::string_view body) {
  RawFields fields;
  Status read = ForEachFormField(body, [&fields](std::string name, std::string value) -> Status {
    const auto known = KnownFields().find(name);
    if (known == KnownFields().end()) return UnknownField(name);
    // A plain HTML form sends every input, filled or not: blank means "not given".
    if (Trim(value).empty()) return {};
    if (known->second == Shape::kList) {
      RawField& raw = fields[name];
      for (std::string& part : SplitCommas(value)) raw.values.push_back(std::move(part));
      return {};
    }
    RawField raw;
    raw.value = std::move(value);
    return AddField(&fields, name, std::move(raw));
  });
  if (!read) return read.error();
  return BuildCommand(fields);
}

// ---------------------------------------------------------------- the processor

std::unique_ptr<MaintenanceProcessor> MaintenanceProcessor::Create(Ledger* ledger,
                                                                   const projections::ReadModel* committed) {
  LEDGER_ASSERT(ledger != nullptr && committed != nullptr);
  return std::unique_ptr<MaintenanceProcessor>(new MaintenanceProcessor(ledger, committed));
}

Result<Decision> MaintenanceProcessor::Decide(const MaintenanceCommand& command, const std::string& digest,
                                              AppendContext& context) {
  Result<std::optional<Decision>> repeated = RepeatedSubmission(command.submission_id, digest, context);
  if (!repeated) return repeated.error();
  if (*repeated) return std::move(**repeated);
  if (strict_systems_ && command.payload.has_systems()) {
    Status catalogued;
    committed_->ReadProjection<projections::SystemProjection>(
        [&](const projections::SystemProjection& systems, uint64_t) {
          catalogued = CheckCatalogued(systems.catalog(), command.payload.systems().names());
        });
    if (!catalogued) return catalogued.error();
  }

  proto::Event event;
  event.set_submission_id(command.submission_id);
  event.set_actor(command.actor);
  event.set_type(EventTypeFor(command.action));
  event.set_request_digest(digest);
  *event.mutable_maintenance() = command.payload;

  Status checked;
  committed_->ReadProjection<projections::MaintenanceProjection>(
      [&](const projections::MaintenanceProjection& projection, uint64_t applied_seq) {
        // Once the read model has applied every event kept aside, it holds them.
        if (!pending_.empty() && pending_through_seq_ <= applied_seq) pending_.clear();
        projections::MaintenanceWindow window;
        if (command.action == MaintenanceAction::kSchedule) {
          const uint64_t number = context.AllocateNumber(projections::kWindowNumbers);
          event.set_ticket(projections::WindowName::Format(number));
          event.set_version(1);
        } else {
          const std::optional<projections::WindowName> name = projections::WindowName::Parse(command.window);
          const projections::MaintenanceWindow* found = nullptr;
          if (name) {
            const auto kept = pending_.find(name->number);
            found = kept != pending_.end() ? &kept->second : projection.store().FindNumber(name->number);
          }
          if (found == nullptr) {
            checked = MakeError(ErrorCode::kNotFound, "window " + command.window + " does not exist", "window");
            return;
          }
          window = *found;
          checked = CheckAgainst(command, window, context.recorded_at_micros(), &event);
          if (!checked) return;
        }
        // Fold it now, with the seq and time the ledger will give it, so
        // that the next decision in this batch sees it.
        proto::Event applied = event;
        applied.set_seq(context.next_seq());
        applied.set_recorded_at_micros(context.recorded_at_micros());
        projections::ApplyMaintenanceEvent(&window, applied);
        pending_[window.number] = std::move(window);
        pending_through_seq_ = applied.seq();
      });
  if (!checked) return checked.error();
  return Decision{.event = std::move(event), .repeat_of_seq = {}};
}

void MaintenanceProcessor::SubmitAsync(MaintenanceCommand command, MaintenanceCallback done) {
  std::string digest = command.Digest();
  auto shared_command = std::make_shared<MaintenanceCommand>(std::move(command));
  ledger_->AppendAsync(
      [this, shared_command, digest = std::move(digest)](AppendContext& context) {
        return Decide(*shared_command, digest, context);
      },
      [this, done = std::move(done)](Result<Appended> appended) {
        if (!appended) {
          // The batch (or this event) did not reach the log: forget what the
          // decisions assumed; the read model holds exactly what did.
          pending_.clear();
          pending_through_seq_ = 0;
          done(appended.error());
          return;
        }
        MaintenanceResult result;
        result.window = appended->stored.event.ticket();
        result.seq = appended->stored.seq;
        result.version = appended->stored.event.version();
        result.repeated = appended->repeated;
        result.stored = std::move(appended->stored);
        done(std::move(result));
      });
}

Result<MaintenanceResult> MaintenanceProcessor::Submit(MaintenanceCommand command) {
  return WaitFor<MaintenanceResult>([&](MaintenanceCallback done) { SubmitAsync(std::move(command), std::move(done)); });
}

}  // namespace ledger::ingest
