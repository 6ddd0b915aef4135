#pragma once
// Properties of a parsed submission (ingest/command.h), shared by the JSON
// and the form fuzz targets: what every accepted Command must satisfy, what
// every refusal must say, and the command written back as a JSON body and as
// form fields, so that a target can check that a round trip gives the same
// command (the same Digest()).

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "ingest/command.h"
#include "ingest/fields.h"
#include "tests/fuzz/fuzz_check.h"

namespace ledger::fuzz {

inline const std::set<std::string, std::less<>>& SubmissionFields() {
  static const std::set<std::string, std::less<>> kFields = {
      "action", "ticket",   "submission_id", "expected_version", "actor",    "title", "description",
      "systems", "engineer", "severity",      "started_at",       "ended_at", "note",  "link",
      "detected_at", "acknowledged_at", "mitigated_at", "impact", "phase"};
  return kFields;
}

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline bool IsTrimmed(std::string_view text) {
  return text.empty() || (!IsSpace(text.front()) && !IsSpace(text.back()));
}
inline bool IsBlank(std::string_view text) {
  for (const char c : text) {
    if (!IsSpace(c)) return false;
  }
  return true;
}
// Whether `text` holds the UTF-8 bytes of a code point both text shapes
// refuse (common/encoding.h): a C1 control (C2 80..C2 9F) or a direction
// override, embedding or isolate (E2 80 AA..AE, E2 81 A6..A9). Spelled as
// bytes here, apart from the decoder the service uses.
inline bool HoldsC1OrOverride(std::string_view text) {
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    const auto a = static_cast<unsigned char>(text[i]);
    const auto b = static_cast<unsigned char>(text[i + 1]);
    if (a == 0xc2 && b >= 0x80 && b <= 0x9f) return true;
    if (i + 2 < text.size() && a == 0xe2) {
      const auto c = static_cast<unsigned char>(text[i + 2]);
      if (b == 0x80 && c >= 0xaa && c <= 0xae) return true;
      if (b == 0x81 && c >= 0xa6 && c <= 0xa9) return true;
    }
  }
  return false;
}
// ... and what only one line refuses: U+2028, U+2029 (E2 80 A8/A9), the marks
// U+200E, U+200F (E2 80 8E/8F) and U+061C (D8 9C).
inline bool HoldsLineSeparatorOrMark(std::string_view text) {
  for (const std::string_view bytes : {"\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\x8e", "\xe2\x80\x8f", "\xd8\x9c"}) {
    if (text.find(bytes) != std::string_view::npos) return true;
  }
  return false;
}
// ... and the format characters that show nothing, which one line refuses
// too: U+00AD, U+034F, U+115F, U+1160, U+180E, U+200B, U+2060-U+2064,
// U+206A-U+206F, U+3164, U+FEFF, U+FFA0, U+FFF9-U+FFFB, U+1D173-U+1D17A and
// the tags U+E0000-U+E007F. `text` is valid UTF-8.
inline bool HoldsInvisible(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    char32_t c = length == 1 ? lead : lead & (0xff >> (length + 1));
    for (size_t k = 1; k < length && i + k < text.size(); ++k) {
      c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    }
    i += length;
    const bool invisible = c == 0xad || c == 0x34f || c == 0x115f || c == 0x1160 || c == 0x180e || c == 0x200b ||
                           (c >= 0x2060 && c <= 0x2064) || (c >= 0x206a && c <= 0x206f) || c == 0x3164 ||
                           c == 0xfeff || c == 0xffa0 || (c >= 0xfff9 && c <= 0xfffb) ||
                           (c >= 0x1d173 && c <= 0x1d17a) || (c >= 0xe0000 && c <= 0xe007f);
    if (invisible) return true;
  }
  return false;
}
// One-line text as command.h defines it: UTF-8, no control characters, no
// line separators, direction controls or invisible characters.
inline bool IsLine(std::string_view text, size_t bytes_max) {
  if (text.size() > bytes_max || !IsValidUtf8(text)) return false;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return !HoldsC1OrOverride(text) && !HoldsLineSeparatorOrMark(text) && !HoldsInvisible(text);
}
// Multi-line text: newlines and tabs are fine, and so are line separators
// and direction marks; no other controls and no direction overrides.
inline bool IsText(std::string_view text, size_t bytes_max) {
  if (text.size() > bytes_max || !IsValidUtf8(text)) return false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\n' && c != '\r' && c != '\t') || byte == 0x7f) return false;
  }
  return !HoldsC1OrOverride(text);
}

// A refusal: the input's fault (or too large), with a message a person can
// act on, naming the field when it is about one.
inline void CheckSubmissionError(const Error& error) {
  LEDGER_FUZZ_CHECK(error.code == ErrorCode::kInvalidArgument || error.code == ErrorCode::kTooLarge,
                    "a refused submission is invalid_argument or too_large", error.message);
  LEDGER_FUZZ_CHECK(!error.message.empty(), "an error has a message", error.field);
  LEDGER_FUZZ_CHECK(IsValidUtf8(error.message), "an error message is valid UTF-8", error.message);
  LEDGER_FUZZ_CHECK(IsValidUtf8(error.field), "an error's field is valid UTF-8", error.field);
  if (SubmissionFields().contains(error.field)) {
    LEDGER_FUZZ_CHECK(error.message.find(error.field) != std::string::npos, "an error about a field names it",
                      error.field + ": " + error.message);
  }
}

inline void CheckTime(const proto::Timestamp& timestamp) {
  const Instant instant{timestamp.unix_micros(), timestamp.offset_minutes()};
  LEDGER_FUZZ_CHECK(instant.offset_minutes > -24 * 60 && instant.offset_minutes < 24 * 60, "an offset is under 24 h",
                    std::to_string(instant.offset_minutes));
  const std::string text = FormatRfc3339(instant);
  const Result<Instant> again = ParseRfc3339(text, "time");
  LEDGER_FUZZ_CHECK(again.has_value(), "a formatted time parses", text);
  LEDGER_FUZZ_CHECK(again->unix_micros == instant.unix_micros && again->offset_minutes == instant.offset_minutes,
                    "a time survives formatting and parsing", text);
}

// Every shape rule of command.h holds for an accepted command.
inline void CheckCommand(const ingest::Command& command) {
  using ingest::Action;
  if (command.action == Action::kCreate) {
    LEDGER_FUZZ_CHECK(command.ticket.empty(), "a create names no ticket", command.ticket);
    LEDGER_FUZZ_CHECK(!command.expected_version, "a create has no expected_version", "");
  } else {
    const Result<std::string> normalized = ingest::NormalizeTicket(command.ticket);
    LEDGER_FUZZ_CHECK(normalized && *normalized == command.ticket, "a ticket is normalized", command.ticket);
  }
  LEDGER_FUZZ_CHECK(IsLine(command.submission_id, ingest::kSubmissionIdBytesMax) && IsTrimmed(command.submission_id),
                    "submission_id is one trimmed line within its limit", command.submission_id);
  if (command.expected_version) {
    LEDGER_FUZZ_CHECK(*command.expected_version >= 1 && *command.expected_version <= ingest::kExpectedVersionMax,
                      "expected_version is in range", std::to_string(*command.expected_version));
  }
  LEDGER_FUZZ_CHECK(!command.actor.empty() && IsLine(command.actor, ingest::kActorBytesMax) && IsTrimmed(command.actor),
                    "actor is one trimmed, non-empty line within its limit", command.actor);

  const proto::IncidentPayload& payload = command.payload;
  if (payload.has_title()) {
    LEDGER_FUZZ_CHECK(!payload.title().empty() && IsLine(payload.title(), ingest::kTitleBytesMax) &&
                          IsTrimmed(payload.title()),
                      "title is one trimmed, non-empty line within its limit", payload.title());
  }
  if (payload.has_description()) {
    LEDGER_FUZZ_CHECK(IsText(payload.description(), ingest::kDescriptionBytesMax), "description is text within its limit",
                      payload.description());
  }
  if (payload.has_systems()) {
    const auto& names = payload.systems().names();
    LEDGER_FUZZ_CHECK(!names.empty() && static_cast<size_t>(names.size()) <= ingest::kSystemsCountMax,
                      "systems name 1 to 50 systems", std::to_string(names.size()));
    std::set<std::string> seen;
    for (const std::string& name : names) {
      LEDGER_FUZZ_CHECK(!name.empty() && IsLine(name, ingest::kSystemBytesMax) && IsTrimmed(name),
                        "a system is one trimmed, non-empty line within its limit", name);
      LEDGER_FUZZ_CHECK(seen.insert(name).second, "systems are listed once each", name);
    }
  }
  if (payload.has_engineer()) {
    LEDGER_FUZZ_CHECK(!payload.engineer().empty() && IsLine(payload.engineer(), ingest::kEngineerBytesMax) &&
                          IsTrimmed(payload.engineer()),
                      "engineer is one trimmed, non-empty line within its limit", payload.engineer());
  }
  LEDGER_FUZZ_CHECK(payload.severity() >= proto::SEVERITY_UNSPECIFIED && payload.severity() <= proto::CRITICAL,
                    "severity is a known value", std::to_string(payload.severity()));
  LEDGER_FUZZ_CHECK(proto::Impact_IsValid(payload.impact()) && proto::Phase_IsValid(payload.phase()),
                    "impact and phase are known values", std::to_string(payload.impact()));
  LEDGER_FUZZ_CHECK(command.action != Action::kClose || payload.phase() == proto::PHASE_UNSPECIFIED,
                    "a close carries no phase", "");
  if (payload.has_started_at()) CheckTime(payload.started_at());
  if (payload.has_detected_at()) CheckTime(payload.detected_at());
  if (payload.has_acknowledged_at()) CheckTime(payload.acknowledged_at());
  if (payload.has_mitigated_at()) CheckTime(payload.mitigated_at());
  if (payload.has_ended_at()) {
    CheckTime(payload.ended_at());
    LEDGER_FUZZ_CHECK(command.action == Action::kUpdate || command.action == Action::kClose,
                      "only update and close carry ended_at", ingest::ActionName(command.action));
  }
  if (payload.has_started_at() && payload.has_ended_at()) {
    LEDGER_FUZZ_CHECK(payload.started_at().unix_micros() <= payload.ended_at().unix_micros(),
                      "ended_at is not before started_at", "");
  }
  if (payload.has_note()) {
    LEDGER_FUZZ_CHECK(IsText(payload.note(), ingest::kNoteBytesMax), "note is text within its limit", payload.note());
  }
  if (payload.has_link()) {
    const std::string& link = payload.link();
    LEDGER_FUZZ_CHECK(IsLine(link, ingest::kLinkBytesMax) && IsTrimmed(link), "link is one trimmed line", link);
    LEDGER_FUZZ_CHECK(link.empty() || ((link.starts_with("http://") || link.starts_with("https://")) &&
                                       link.find(' ') == std::string::npos),
                      "link is an http(s) URL without spaces", link);
  }
  if (command.action == Action::kCreate) {
    LEDGER_FUZZ_CHECK(payload.has_title() && payload.has_systems() && payload.has_engineer(),
                      "a create has title, systems and engineer", "");
  }
}

// The command as named text fields, by the rules of a form body (systems
// comma-separated). Only for a command that FormCanSay.
inline std::vector<std::pair<std::string, std::string>> CommandFields(const ingest::Command& command) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("action", ingest::ActionName(command.action));
  if (!command.ticket.empty()) fields.emplace_back("ticket", command.ticket);
  if (!command.submission_id.empty()) fields.emplace_back("submission_id", command.submission_id);
  if (command.expected_version) fields.emplace_back("expected_version", std::to_string(*command.expected_version));
  fields.emplace_back("actor", command.actor);
  // Every payload field the command carries, through the field table
  // (ingest/fields.h), so that a field added there is said here too.
  ingest::ForEachGivenValue(command.payload, [&fields](const ingest::GivenValue& given) {
    std::string value;
    switch (given.field->kind) {
      case ingest::FieldKind::kSystems:
        for (const std::string& name : *given.list) value += (value.empty() ? "" : ",") + name;
        break;
      case ingest::FieldKind::kTime: value = FormatRfc3339(given.time); break;
      default: value = std::string(given.text); break;
    }
    fields.emplace_back(std::string(given.field->name), std::move(value));
  });
  return fields;
}

// A form cannot say everything JSON can: a blank value means "not given"
// there, and a comma splits systems. (JSON can clear a description with "",
// and name a system "a,b".)
inline bool FormCanSay(const ingest::Command& command) {
  const proto::IncidentPayload& payload = command.payload;
  if (payload.has_description() && IsBlank(payload.description())) return false;
  if (payload.has_note() && IsBlank(payload.note())) return false;
  if (payload.has_link() && payload.link().empty()) return false;
  for (const std::string& name : payload.systems().names()) {
    if (name.find(',') != std::string::npos) return false;
  }
  return true;
}

// The command as a JSON body (systems as an array).
inline std::string CommandJson(const ingest::Command& command) {
  JsonWriter json;
  json.BeginObject();
  for (const auto& [name, value] : CommandFields(command)) {
    if (name == "systems") {
      json.Key("systems").BeginArray();
      for (const std::string& system : command.payload.systems().names()) json.String(system);
      json.EndArray();
    } else if (name == "expected_version") {
      json.Key(name).Uint(*command.expected_version);
    } else {
      json.Key(name).String(value);
    }
  }
  json.EndObject();
  return json.Take();
}

// application/x-www-form-urlencoded, every byte but letters and digits escaped.
inline std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      encoded += c;
    } else if (c == ' ') {
      encoded += '+';
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0xf];
    }
  }
  return encoded;
}

inline std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += FormEncode(name) + "=" + FormEncode(value);
  }
  return body;
}

// The same command said again must be understood the same way.
inline void CheckSameCommand(const Result<ingest::Command>& again, const ingest::Command& original, const char* property,
                             std::string_view said) {
  if (!again) PropertyFailed(property, std::string(said) + "\n  refused: " + again.error().message);
  LEDGER_FUZZ_CHECK(again->Digest() == original.Digest(), property, said);
}

}  // namespace ledger::fuzz
