#include "ingest/command.h"

#include "ingest/form_body.h"
#include "ingest/request_digest.h"

#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <vector>

#include <simdjson.h>

#include "ingest/json_body.h"

#include "common/encoding.h"
#include "common/time.h"
#include "projections/ticket_name.h"

namespace ledger::ingest {
namespace {

constexpr size_t kFieldNameBytesMax = 64;

// One submission's fields before their meaning is checked.
struct RawField {
  std::string value;                 // for scalar fields
  std::vector<std::string> values;   // for a list field (FieldKind::kSystems)
  bool is_list = false;
};

// How an input field's value is written in a JSON body.
enum class InputShape { kText, kList, kNumber };

// The envelope fields, then one per payload field (fields.h). A std::map, so
// that the list in an unknown-field message is in name order.
const std::map<std::string_view, InputShape>& KnownFields() {
  static const std::map<std::string_view, InputShape> kFields = [] {
    std::map<std::string_view, InputShape> fields = {
        {"action", InputShape::kText},
        {"ticket", InputShape::kText},
        {"submission_id", InputShape::kText},
        {"expected_version", InputShape::kNumber},
        {"actor", InputShape::kText},
    };
    for (const PayloadField& field : PayloadFieldTable()) {
      const bool added =
          fields.emplace(field.name, field.kind == FieldKind::kSystems ? InputShape::kList : InputShape::kText).second;
      LEDGER_ASSERT(added);  // a payload field named like an envelope field
    }
    return fields;
  }();
  return kFields;
}

std::string Printable(std::string_view name) { return QuotableText(name, kFieldNameBytesMax); }

Error UnknownField(std::string_view name) {
  std::string known;
  for (const auto& [field, kind] : KnownFields()) {
    if (!known.empty()) known += ", ";
    known += field;
  }
  return InvalidArgument(Printable(name), "unknown field '" + Printable(name) + "'; accepted fields: " + known);
}

// The refusal of a code point that text of this shape may not hold, naming
// the field and the character, e.g. "title must be one line without control
// characters, line separators, text-direction controls or invisible
// characters; found U+202E (a text-direction control)".
Status CheckCodePoints(std::string_view field, std::string_view value, TextShape shape) {
  const std::optional<char32_t> refused = FirstRefusedCodePoint(value, shape);
  if (!refused) return {};
  const std::string name(field);
  const std::string rule = shape == TextShape::kOneLine
                               ? name + " must be one line without control characters, line separators, "
                                        "text-direction controls or invisible characters"
                               : name + " must not contain control characters or text-direction controls";
  return InvalidArgument(name, rule + "; found " + CodePointName(*refused) + " (" +
                                   std::string(RefusedCodePointKind(*refused)) + ")");
}

}  // namespace

Status CheckLine(std::string_view field, std::string_view value, size_t bytes_max) {
  if (!IsValidUtf8(value)) return InvalidArgument(std::string(field), std::string(field) + " must be valid UTF-8");
  if (value.size() > bytes_max) {
    return InvalidArgument(std::string(field),
                           std::string(field) + " must be at most " + std::to_string(bytes_max) + " bytes");
  }
  return CheckCodePoints(field, value, TextShape::kOneLine);
}

Status CheckText(std::string_view field, std::string_view value, size_t bytes_max) {
  if (!IsValidUtf8(value)) return InvalidArgument(std::string(field), std::string(field) + " must be valid UTF-8");
  if (value.size() > bytes_max) {
    return InvalidArgument(std::string(field),
                           std::string(field) + " must be at most " + std::to_string(bytes_max) + " bytes");
  }
  return CheckCodePoints(field, value, TextShape::kMultiLine);
}

Status CheckLink(std::string_view field, std::string_view link, size_t bytes_max) {
  if (Status line = CheckLine(field, link, bytes_max); !line) return line;
  if (link.empty()) return {};
  const std::string name(field);
  if (!link.starts_with("https://") && !link.starts_with("http://")) {
    return InvalidArgument(name, name + " must be an http:// or https:// URL");
  }
  if (link.find(' ') != std::string_view::npos) return InvalidArgument(name, name + " must not contain spaces");
  return {};
}

Result<std::string> CheckedLine(std::string_view field, std::string_view value, size_t bytes_max) {
  std::string trimmed(Trim(value));
  if (Status checked = CheckLine(field, trimmed, bytes_max); !checked) return checked.error();
  return trimmed;
}

namespace {

Result<int> CheckedEnum(const PayloadField& field, std::string_view value) {
  std::string lower(Trim(value));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (const std::optional<int> number = EnumNumberOf(field, lower)) return *number;
  std::string words;
  for (const std::string& word : EnumWords(field)) words += (words.empty() ? "" : ", ") + word;
  const std::string name(field.name);
  return InvalidArgument(name, name + " must be one of " + words);
}

Result<Action> CheckedAction(std::string_view value) {
  std::string lower(Trim(value));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "create") return Action::kCreate;
  if (lower == "update") return Action::kUpdate;
  if (lower == "close") return Action::kClose;
  if (lower == "reopen") return Action::kReopen;
  return InvalidArgument("action", "action must be one of create, update, close, reopen");
}

Result<uint32_t> CheckedVersion(std::string_view value) {
  const std::string text(Trim(value));
  if (text.empty() || text.size() > 10 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgument("expected_version", "expected_version must be a whole number from 1");
  }
  const uint64_t number = std::stoull(text);
  if (number < 1 || number > kExpectedVersionMax) {
    return InvalidArgument("expected_version", "expected_version must be a whole number from 1");
  }
  return static_cast<uint32_t>(number);
}

// Checks one given payload field by its row's rules and sets it.
Status SetPayloadField(const PayloadField& spec, Action action, const RawField& raw, proto::IncidentPayload* payload) {
  const std::string name(spec.name);
  if (spec.create == CreateRule::kRefusedOnOpen && (action == Action::kCreate || action == Action::kReopen)) {
    return InvalidArgument(name, name + " does not apply to action " + ActionName(action) + ": " +
                                     std::string(spec.rule_note));
  }
  if (!spec.close_rule.empty() && action == Action::kClose) {
    return InvalidArgument(name, name + " does not apply to action close: " + std::string(spec.close_rule));
  }
  switch (spec.kind) {
    case FieldKind::kLine: {
      Result<std::string> value = CheckedLine(name, raw.value, spec.bytes_max);
      if (!value) return value.error();
      if (value->empty() && spec.create == CreateRule::kRequired) {
        return InvalidArgument(name, name + " must not be empty");
      }
      SetText(payload, spec, std::move(*value));
      return {};
    }
    case FieldKind::kText:
      if (Status checked = CheckText(name, raw.value, spec.bytes_max); !checked) return checked;
      SetText(payload, spec, raw.value);
      return {};
    case FieldKind::kSystems: {
      proto::SystemList* list = MutableList(payload, spec);
      for (const std::string& item : raw.values) {
        Result<std::string> value = CheckedLine(name, item, spec.bytes_max);
        if (!value) return value.error();
        if (value->empty()) continue;
        if (std::find(list->names().begin(), list->names().end(), *value) != list->names().end()) continue;
        if (static_cast<size_t>(list->names_size()) == kSystemsCountMax) {
          return InvalidArgument(name, name + " may name at most " + std::to_string(kSystemsCountMax) + " systems");
        }
        list->add_names(*value);
      }
      if (list->names().empty()) return InvalidArgument(name, name + " must name at least one system");
      return {};
    }
    case FieldKind::kEnum: {
      Result<int> number = CheckedEnum(spec, raw.value);
      if (!number) return number.error();
      SetEnum(payload, spec, *number);
      return {};
    }
    case FieldKind::kTime: {
      Result<Instant> instant = ParseRfc3339(Trim(raw.value), name);
      if (!instant) return instant.error();
      SetTime(payload, spec, *instant);
      return {};
    }
    case FieldKind::kLink: {
      std::string value(Trim(raw.value));
      if (Status checked = CheckLink(name, value, spec.bytes_max); !checked) return checked;
      SetText(payload, spec, std::move(value));
      return {};
    }
  }
  return {};
}

// Checks the fields' meaning and builds the command.
Result<Command> BuildCommand(const std::map<std::string, RawField>& fields) {
  Command command;
  const auto field = [&fields](std::string_view name) -> const RawField* {
    const auto found = fields.find(std::string(name));
    return found == fields.end() ? nullptr : &found->second;
  };

  const RawField* action = field("action");
  if (action == nullptr) return InvalidArgument("action", "action is required: create, update, close or reopen");
  Result<Action> parsed_action = CheckedAction(action->value);
  if (!parsed_action) return parsed_action.error();
  command.action = *parsed_action;

  if (const RawField* ticket = field("ticket")) {
    if (command.action == Action::kCreate) {
      return InvalidArgument("ticket", "ticket must not be given with action create: a new ticket number is assigned");
    }
    Result<std::string> normalized = NormalizeTicket(ticket->value);
    if (!normalized) return normalized.error();
    command.ticket = *normalized;
  } else if (command.action != Action::kCreate) {
    return InvalidArgument("ticket", std::string("ticket is required for action ") + ActionName(command.action));
  }

  if (const RawField* submission_id = field("submission_id")) {
    Result<std::string> value = CheckedLine("submission_id", submission_id->value, kSubmissionIdBytesMax);
    if (!value) return value.error();
    if (value->empty()) return InvalidArgument("submission_id", "submission_id must not be empty when given");
    command.submission_id = *value;
  }
  if (const RawField* version = field("expected_version")) {
    if (command.action == Action::kCreate) {
      return InvalidArgument("expected_version", "expected_version does not apply to action create");
    }
    Result<uint32_t> value = CheckedVersion(version->value);
    if (!value) return value.error();
    command.expected_version = *value;
  }
  command.actor = std::string(kAnonymousActor);
  if (const RawField* actor = field("actor")) {
    Result<std::string> value = CheckedActor(actor->value);
    if (!value) return value.error();
    command.actor = std::move(*value);
  }

  proto::IncidentPayload& payload = command.payload;
  for (const PayloadField& spec : PayloadFieldTable()) {
    const RawField* raw = field(spec.name);
    if (raw == nullptr) continue;
    if (Status set = SetPayloadField(spec, command.action, *raw, &payload); !set) return set.error();
  }

  if (payload.has_started_at() && payload.has_ended_at() &&
      payload.ended_at().unix_micros() < payload.started_at().unix_micros()) {
    return InvalidArgument("ended_at", "ended_at must not be before started_at");
  }
  if (command.action == Action::kCreate) {
    for (const PayloadField& spec : PayloadFieldTable()) {
      if (spec.create != CreateRule::kRequired || HasValue(payload, spec)) continue;
      const std::string name(spec.name);
      return InvalidArgument(name, name + " is required for action create" + std::string(spec.rule_note));
    }
  }
  if (command.action == Action::kUpdate && !HasAnyValue(payload)) {
    std::string names;
    for (const PayloadField& spec : PayloadFieldTable()) names += (names.empty() ? "" : ", ") + std::string(spec.name);
    return InvalidArgument("", "an update must change at least one of " + names);
  }
  return command;
}

Status AddField(std::map<std::string, RawField>* fields, std::string_view name, RawField value) {
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
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    parts.emplace_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

Error JsonError(std::string_view field, std::string_view why) {
  return InvalidArgument(std::string(field), std::string(why));
}

}  // namespace

const char* ActionName(Action action) {
  switch (action) {
    case Action::kCreate: return "create";
    case Action::kUpdate: return "update";
    case Action::kClose: return "close";
    case Action::kReopen: return "reopen";
  }
  return "unknown";
}

std::string Command::Digest() const {
  std::string canonical;
  canonical += ActionName(action);
  canonical += '\0';
  canonical += ticket;
  canonical += '\0';
  canonical += expected_version ? std::to_string(*expected_version) : std::string();
  canonical += '\0';
  canonical += actor;
  canonical += '\0';
  AppendDeterministic(&canonical, payload);
  return DigestOf(canonical);
}

Result<std::string> NormalizeTicket(std::string_view text, std::string_view field) {
  std::string trimmed(Trim(text));
  const std::string message = std::string(field) + " must be a ticket number like INC-42";
  if (trimmed.empty() || trimmed.size() > kTicketTextBytesMax) return InvalidArgument(std::string(field), message);
  // The prefix is optional and taken in any case: "INC-7", "inc-7" and "7".
  constexpr std::string_view kPrefix = projections::TicketName::kPrefix;
  std::string_view digits = trimmed;
  const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  if (digits.size() > kPrefix.size() &&
      std::equal(kPrefix.begin(), kPrefix.end(), digits.begin(), [&](char p, char c) { return lower(p) == lower(c); })) {
    digits.remove_prefix(kPrefix.size());
  }
  const std::optional<projections::TicketName> name =
      projections::TicketName::Parse(std::string(kPrefix) + std::string(digits));
  if (!name) return InvalidArgument(std::string(field), message);
  return name->Text();
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      decoded += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex(text[i + 1]);
      const int low = hex(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      decoded += c;
    }
  }
  return decoded;
}

Result<Command> ParseJsonSubmission(std::string_view body) {
  JsonObjectBody parsed;
  if (Status body_ok = ParseJsonObjectBody(body, kJsonDepthMax, &parsed); !body_ok) return body_ok.error();
  const simdjson::dom::object& object = parsed.object;

  std::map<std::string, RawField> fields;
  for (const auto [key, value] : object) {
    const auto known = KnownFields().find(key);
    if (known == KnownFields().end()) return UnknownField(key);
    const std::string name(key);
    if (value.is_null()) {
      if (fields.contains(name)) return InvalidArgument(name, name + " is given more than once");
      continue;
    }
    RawField raw;
    if (known->second == InputShape::kList) {
      raw.is_list = true;
      if (value.is_array()) {
        for (const simdjson::dom::element item : value.get_array()) {
          std::string_view text;
          if (item.get_string().get(text) != simdjson::SUCCESS) {
            return JsonError(name, name + " must be an array of strings");
          }
          raw.values.emplace_back(text);
        }
      } else if (std::string_view text; value.get_string().get(text) == simdjson::SUCCESS) {
        raw.values = SplitCommas(text);
      } else {
        return JsonError(name, name + " must be an array of strings");
      }
    } else if (known->second == InputShape::kNumber) {
      uint64_t number = 0;
      std::string_view text;
      if (value.get_uint64().get(number) == simdjson::SUCCESS) {
        raw.value = std::to_string(number);
      } else if (value.get_string().get(text) == simdjson::SUCCESS) {
        raw.value = std::string(text);
      } else {
        return JsonError(name, name + " must be a whole number from 1");
      }
    } else {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) return JsonError(name, name + " must be a string");
      raw.value = std::string(text);
    }
    if (Status added = AddField(&fields, name, std::move(raw)); !added) return added.error();
  }
  return BuildCommand(fields);
}

Result<Command> BuildCommandFromFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::map<std::string, RawField> raw_fields;
  for (const auto& [name, value] : fields) {
    const auto known = KnownFields().find(name);
    if (known == KnownFields().end()) return UnknownField(name);
    if (Trim(value).empty()) continue;  // blank means "not given", as in a form
    RawField raw;
    if (known->second == InputShape::kList) {
      raw.is_list = true;
      raw.values = SplitCommas(value);
    } else {
      raw.value = value;
    }
    if (Status added = AddField(&raw_fields, name, std::move(raw)); !added) return added.error();
  }
  return BuildCommand(raw_fields);
}

Result<Command> ParseFormSubmission(std::string_view body) {
  std::map<std::string, RawField> fields;
  Status read = ForEachFormField(body, [&fields](std::string name, std::string value) -> Status {
    const auto known = KnownFields().find(name);
    if (known == KnownFields().end()) return UnknownField(name);
    // A plain HTML form sends every input, filled or not: blank means "not given".
    if (Trim(value).empty()) return {};
    if (known->second == InputShape::kList) {
      RawField& raw = fields[name];
      raw.is_list = true;
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

Result<std::string> CheckedActor(std::string_view text) {
  Result<std::string> actor = CheckedLine("actor", text, kActorBytesMax);
  if (!actor) return actor.error();
  if (actor->empty()) return std::string(kAnonymousActor);
  return actor;
}

Result<std::optional<Decision>> RepeatedSubmission(std::string_view submission_id, std::string_view digest,
                                                   AppendContext& context) {
  if (submission_id.empty()) return std::optional<Decision>();
  Result<std::optional<StoredEvent>> previous = context.FindSubmission(submission_id);
  if (!previous) return previous.error();
  if (!previous->has_value()) return std::optional<Decision>();
  const StoredEvent& original = **previous;
  if (original.event.request_digest() == digest) {
    return std::optional<Decision>(Decision{.event = {}, .repeat_of_seq = original.seq});
  }
  return MakeError(ErrorCode::kConflict,
                   "submission_id '" + std::string(submission_id) +
                       "' was already used for a different submission (event " + std::to_string(original.seq) + ")",
                   "submission_id");
}

}  // namespace ledger::ingest
