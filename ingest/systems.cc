#include "ingest/systems.h"

#include <algorithm>
#include <map>
#include <set>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/text.h"
#include "ingest/command.h"
#include "ingest/fields.h"
#include "ingest/form_body.h"
#include "ingest/request_digest.h"
#include "ingest/json_body.h"
#include "ingest/subscriptions.h"

namespace ledger::ingest {
namespace {

constexpr size_t kFieldNameBytesMax = 64;

const std::set<std::string_view>& KnownFields() {
  static const std::set<std::string_view> kFields = {"action", "name",  "group",         "owner",
                                                     "description", "alias", "submission_id", "actor"};
  return kFields;
}

// The payload fields each action takes besides name (and the envelope:
// action, submission_id, actor).
const std::set<std::string_view>& FieldsOf(SystemAction action) {
  static const std::set<std::string_view> kDetails = {"group", "owner", "description"};
  static const std::set<std::string_view> kAlias = {"alias"};
  static const std::set<std::string_view> kNone = {};
  switch (action) {
    case SystemAction::kDefine:
    case SystemAction::kUpdate: return kDetails;
    case SystemAction::kAlias: return kAlias;
    case SystemAction::kRetire: return kNone;
  }
  return kNone;
}

using RawFields = std::map<std::string, std::string, std::less<>>;

Error UnknownField(std::string_view name) {
  std::string known;
  for (const std::string_view field : KnownFields()) known += (known.empty() ? "" : ", ") + std::string(field);
  const std::string shown = QuotableText(name, kFieldNameBytesMax);
  return InvalidArgument(shown, "unknown field '" + shown + "'; accepted fields: " + known);
}

Status AddField(RawFields* fields, std::string_view name, std::string value) {
  if (!KnownFields().contains(name)) return UnknownField(name);
  if (fields->contains(name)) return InvalidArgument(std::string(name), std::string(name) + " is given more than once");
  fields->emplace(std::string(name), std::move(value));
  return {};
}

// A system's name, an alias or a group: one line, no commas, not "*".
Result<std::string> CheckedName(std::string_view field, std::string_view value, bool may_be_empty) {
  Result<std::string> line = CheckedLine(field, value, kSystemBytesMax);
  if (!line) return line.error();
  if (line->empty()) {
    if (may_be_empty) return line;
    return InvalidArgument(std::string(field), std::string(field) + " must not be empty");
  }
  if (line->find(',') != std::string::npos) {
    return InvalidArgument(std::string(field),
                           std::string(field) + " must not contain a comma (forms list systems separated by commas)");
  }
  if (*line == "*") {
    return InvalidArgument(std::string(field), std::string(field) + " must not be \"*\" (it stands for every system)");
  }
  return line;
}

Result<SystemAction> CheckedAction(std::string_view value) {
  std::string lower(Trim(value));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const SystemAction action : {SystemAction::kDefine, SystemAction::kUpdate, SystemAction::kAlias,
                                    SystemAction::kRetire}) {
    if (lower == SystemActionName(action)) return action;
  }
  return InvalidArgument("action", "action must be one of define, update, alias, retire");
}

Result<SystemCommand> BuildCommand(const RawFields& fields) {
  const auto field = [&fields](std::string_view name) -> const std::string* {
    const auto found = fields.find(name);
    return found == fields.end() ? nullptr : &found->second;
  };
  SystemCommand command;
  const std::string* action = field("action");
  if (action == nullptr) return InvalidArgument("action", "action is required: define, update, alias or retire");
  Result<SystemAction> parsed_action = CheckedAction(*action);
  if (!parsed_action) return parsed_action.error();
  command.action = *parsed_action;
  const std::string action_name = SystemActionName(command.action);

  const std::set<std::string_view>& allowed = FieldsOf(command.action);
  for (const auto& [name, value] : fields) {
    static const std::set<std::string_view> kEnvelope = {"action", "name", "submission_id", "actor"};
    if (kEnvelope.contains(name) || allowed.contains(name)) continue;
    return InvalidArgument(name, name + " does not apply to action " + action_name);
  }
  if (const std::string* submission_id = field("submission_id")) {
    Result<std::string> value = CheckedLine("submission_id", *submission_id, kSubmissionIdBytesMax);
    if (!value) return value.error();
    if (value->empty()) return InvalidArgument("submission_id", "submission_id must not be empty when given");
    command.submission_id = std::move(*value);
  }
  command.actor = std::string(kAnonymousActor);
  if (const std::string* actor = field("actor")) {
    Result<std::string> value = CheckedActor(*actor);
    if (!value) return value.error();
    command.actor = std::move(*value);
  }

  proto::SystemPayload& payload = command.payload;
  const std::string* name = field("name");
  if (name == nullptr) return InvalidArgument("name", "name is required for action " + action_name);
  Result<std::string> checked_name = CheckedName("name", *name, false);
  if (!checked_name) return checked_name.error();
  payload.set_name(std::move(*checked_name));
  if (const std::string* group = field("group")) {
    Result<std::string> value = CheckedName("group", *group, true);
    if (!value) return value.error();
    payload.set_group(std::move(*value));
  }
  if (const std::string* owner = field("owner")) {
    if (Trim(*owner).empty()) {
      payload.set_owner("");
    } else {
      Result<std::string> value = NormalizeEmail(*owner, "owner");
      if (!value) return value.error();
      payload.set_owner(std::move(*value));
    }
  }
  if (const std::string* description = field("description")) {
    if (Status checked = CheckText("description", *description, kDescriptionBytesMax); !checked) return checked.error();
    payload.set_description(*description);
  }
  if (command.action == SystemAction::kAlias) {
    const std::string* alias = field("alias");
    if (alias == nullptr) return InvalidArgument("alias", "alias is required for action alias: the spelling to merge");
    Result<std::string> value = CheckedName("alias", *alias, false);
    if (!value) return value.error();
    payload.set_alias(std::move(*value));
  }
  if (command.action == SystemAction::kUpdate && !payload.has_group() && !payload.has_owner() &&
      !payload.has_description()) {
    return InvalidArgument("", "an update must change at least one of group, owner, description");
  }
  return command;
}

proto::EventType EventTypeFor(SystemAction action) {
  switch (action) {
    case SystemAction::kDefine: return proto::SYSTEM_DEFINED;
    case SystemAction::kUpdate: return proto::SYSTEM_UPDATED;
    case SystemAction::kAlias: return proto::SYSTEM_ALIASED;
    case SystemAction::kRetire: return proto::SYSTEM_RETIRED;
  }
  return proto::EVENT_TYPE_UNSPECIFIED;
}

std::string Quoted(std::string_view text) { return "'" + QuotableText(text, kSystemBytesMax) + "'"; }

// The rules against the catalog as it stands; fills in the event's name as
// the catalog spells it.
Status CheckAgainst(const SystemCommand& command, const projections::SystemCatalog& catalog, proto::Event* event) {
  const projections::SystemNames names = projections::SystemNames::Borrowing(catalog);
  proto::SystemPayload* payload = event->mutable_system();
  const std::string& name = command.payload.name();
  const std::string folded = projections::FoldSystem(name);
  if (command.action == SystemAction::kDefine) {
    if (const projections::SystemAlias* alias = catalog.FindAlias(folded)) {
      const projections::SystemEntry* target = catalog.FindKey(names.Key(name));
      return MakeError(ErrorCode::kConflict,
                       Quoted(name) + " is an alias of " + Quoted(target != nullptr ? target->name : alias->target) +
                           ": update that system instead",
                       "name");
    }
    const projections::SystemEntry* known = catalog.FindKey(folded);
    if (known != nullptr && known->declared) {
      return MakeError(ErrorCode::kConflict, Quoted(known->name) + " is already defined: use action update", "name");
    }
    if (known != nullptr) payload->set_name(known->name);  // keeps the spelling of its first use
    return {};
  }
  const projections::SystemEntry* found = names.Find(name);
  if (found == nullptr) {
    return MakeError(ErrorCode::kNotFound, "system " + Quoted(name) + " is not in the catalog", "name");
  }
  payload->set_name(found->name);
  switch (command.action) {
    case SystemAction::kDefine:
    case SystemAction::kUpdate: return {};
    case SystemAction::kRetire:
      if (found->retired) return MakeError(ErrorCode::kConflict, Quoted(found->name) + " is already retired", "name");
      return {};
    case SystemAction::kAlias: {
      const std::string& alias = command.payload.alias();
      if (found->retired) {
        return MakeError(ErrorCode::kConflict, Quoted(found->name) + " is retired: merge into a system in use", "name");
      }
      if (names.Same(alias, name)) {
        return MakeError(ErrorCode::kConflict, Quoted(alias) + " is already the same system as " + Quoted(found->name),
                         "alias");
      }
      if (const projections::SystemAlias* existing = catalog.FindAlias(projections::FoldSystem(alias))) {
        const projections::SystemEntry* target = catalog.FindKey(names.Key(alias));
        return MakeError(ErrorCode::kConflict,
                         Quoted(alias) + " already stands for " +
                             Quoted(target != nullptr ? target->name : existing->target),
                         "alias");
      }
      return {};
    }
  }
  return {};
}

}  // namespace

const char* SystemActionName(SystemAction action) {
  switch (action) {
    case SystemAction::kDefine: return "define";
    case SystemAction::kUpdate: return "update";
    case SystemAction::kAlias: return "alias";
    case SystemAction::kRetire: return "retire";
  }
  return "unknown";
}

std::string SystemCommand::Digest() const {
  std::string canonical = "system";
  canonical += '\0';
  canonical += SystemActionName(action);
  canonical += '\0';
  canonical += actor;
  canonical += '\0';
  AppendDeterministic(&canonical, payload);
  return DigestOf(canonical);
}

Result<SystemCommand> ParseSystemJson(std::string_view body) {
  JsonObjectBody parsed;
  if (Status body_ok = ParseJsonObjectBody(body, kJsonDepthMax, &parsed); !body_ok) return body_ok.error();
  RawFields fields;
  for (const auto [key, value] : parsed.object) {
    if (!KnownFields().contains(key)) return UnknownField(key);
    const std::string name(key);
    if (value.is_null()) {
      if (fields.contains(name)) return InvalidArgument(name, name + " is given more than once");
      continue;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return InvalidArgument(name, name + " must be a string");
    if (Status added = AddField(&fields, name, std::string(text)); !added) return added.error();
  }
  return BuildCommand(fields);
}

Result<SystemCommand> ParseSystemForm(std::string_view body) {
  RawFields fields;
  Status read = ForEachFormField(body, [&fields](std::string name, std::string value) -> Status {
    if (!KnownFields().contains(name)) return UnknownField(name);
    // A plain HTML form sends every input, filled or not: blank means "not
    // given", except for the details an update clears.
    if (Trim(value).empty() && name != "group" && name != "owner" && name != "description") return {};
    return AddField(&fields, name, std::move(value));
  });
  if (!read) return read.error();
  return BuildCommand(fields);
}

Status CheckCatalogued(const projections::SystemCatalog& catalog,
                       const google::protobuf::RepeatedPtrField<std::string>& systems, std::string_view field) {
  const projections::SystemNames names = projections::SystemNames::Borrowing(catalog);
  for (const std::string& system : systems) {
    const projections::SystemEntry* entry = names.Find(system);
    if (entry == nullptr) {
      return InvalidArgument(std::string(field), "system " + Quoted(system) +
                                                     " is not in the catalog: an admin defines it (POST "
                                                     "/api/v1/systems, or the /systems page) before it is used");
    }
    if (entry->retired) {
      return InvalidArgument(std::string(field), "system " + Quoted(entry->name) + " is retired");
    }
  }
  return {};
}

// ---------------------------------------------------------------- the processor

std::unique_ptr<SystemProcessor> SystemProcessor::Create(Ledger* ledger, const projections::ReadModel* committed) {
  LEDGER_ASSERT(ledger != nullptr && committed != nullptr);
  return std::unique_ptr<SystemProcessor>(new SystemProcessor(ledger, committed));
}

Result<Decision> SystemProcessor::Decide(const SystemCommand& command, const std::string& digest,
                                         AppendContext& context) {
  Result<std::optional<Decision>> repeated = RepeatedSubmission(command.submission_id, digest, context);
  if (!repeated) return repeated.error();
  if (*repeated) return std::move(**repeated);

  proto::Event event;
  event.set_submission_id(command.submission_id);
  event.set_actor(command.actor);
  event.set_type(EventTypeFor(command.action));
  event.set_request_digest(digest);
  *event.mutable_system() = command.payload;

  Status checked;
  committed_->ReadProjection<projections::SystemProjection>(
      [&](const projections::SystemProjection& projection, uint64_t applied_seq) {
        // Once the read model has applied every event kept aside, it holds them.
        if (pending_ && pending_through_seq_ <= applied_seq) pending_.reset();
        const projections::SystemCatalog& catalog = pending_ ? *pending_ : projection.catalog();
        checked = CheckAgainst(command, catalog, &event);
        if (!checked) return;
        // Fold it now, with the seq and time the ledger will give it, so
        // that the next decision in this batch sees it.
        proto::Event applied = event;
        applied.set_seq(context.next_seq());
        applied.set_recorded_at_micros(context.recorded_at_micros());
        if (!pending_) pending_ = projection.catalog();
        pending_->Apply(applied);
        pending_through_seq_ = applied.seq();
      });
  if (!checked) return checked.error();
  return Decision{.event = std::move(event), .repeat_of_seq = {}};
}

void SystemProcessor::SubmitAsync(SystemCommand command, SystemCallback done) {
  std::string digest = command.Digest();
  auto shared_command = std::make_shared<SystemCommand>(std::move(command));
  ledger_->AppendAsync(
      [this, shared_command, digest = std::move(digest)](AppendContext& context) {
        return Decide(*shared_command, digest, context);
      },
      [this, done = std::move(done)](Result<Appended> appended) {
        if (!appended) {
          // The batch did not reach the log: forget what the decisions
          // assumed; the read model holds exactly what did.
          pending_.reset();
          pending_through_seq_ = 0;
          done(appended.error());
          return;
        }
        SystemResult result;
        result.system = appended->stored.event.system().name();
        result.seq = appended->stored.seq;
        result.repeated = appended->repeated;
        result.stored = std::move(appended->stored);
        done(std::move(result));
      });
}

Result<SystemResult> SystemProcessor::Submit(SystemCommand command) {
  return WaitFor<SystemResult>([&](SystemCallback done) { SubmitAsync(std::move(command), std::move(done)); });
}

}  // namespace ledger::ingest
