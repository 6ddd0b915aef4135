#pragma once
// The incident payload fields, in one table: what each field is called, what
// kind of value it holds, its byte limit, its rule on create, and how the
// form, the sheet and the mail name it. Command parsing (command.h), the HTML
// form and the incident page (http/web.cc), the sheet's default columns
// (sheet_import.h), the mail (notify/message.cc) and the payload JSON of an
// event (WritePayloadJson below) all walk this table, so a plain field is one
// row here plus its field in proto/event.proto.
//
// The table and `proto::IncidentPayload` describe the same fields in the same
// order: row i is the message's i-th field, with the same name, in field
// number order (so "which fields an event carried", read by protobuf
// reflection in projections/notifications.cc, comes out in table order).
// PayloadFieldTable() checks this once and stops the process when a row and
// the proto disagree (a programmer error: a proto field without a row, or a
// row for a field that does not exist). Values are read and written through
// the message's field descriptors, so no code names a field's accessors.
//
// The current state of a ticket (projections/tickets.h) keeps the fields it
// has rules for (title, systems, times, ...) in members of their own and
// every other field generically (TicketState::other_fields, by protobuf
// reflection), so a field added here and in the proto is folded, saved in
// checkpoints, written in the ticket JSON (http/json_views.cc), shown on the
// incident page (http/web.cc) and in the mail (notify/message.cc) without
// code of its own: those walk OtherFields() with ForEachGivenValue. The
// dashboard's timeline tooltip shows a fixed set of fields.
//
// Thread safety: everything here is immutable after first use and safe to
// call from any thread.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/repeated_ptr_field.h>

#include "common/json_writer.h"
#include "common/time.h"
#include "event.pb.h"

namespace ledger::ingest {

// Limits on payload values, in bytes (UTF-8) or counts.
constexpr size_t kTitleBytesMax = 200;
constexpr size_t kDescriptionBytesMax = 8000;
constexpr size_t kEngineerBytesMax = 200;
constexpr size_t kSystemBytesMax = 100;  // each system of a list
constexpr size_t kSystemsCountMax = 50;
constexpr size_t kNoteBytesMax = 8000;
constexpr size_t kLinkBytesMax = 2000;

enum class FieldKind {
  kLine,     // one line of text, trimmed; proto `optional string`
  kText,     // multi-line text, kept as typed; proto `optional string`
  kSystems,  // a list of system names; proto `SystemList` (comma-separated in a form or sheet)
  kEnum,     // one of the proto enum's values, written in lower case; 0 means "not given"
  kTime,     // an RFC 3339 instant with its offset; proto `Timestamp`
  kLink,     // an http:// or https:// URL, trimmed, may be emptied; proto `optional string`
};

// What an opening event (action create) needs of a field.
enum class CreateRule {
  kOptional,
  // Create must give it, and no action may set it empty: "<name> is required
  // for action create" plus `rule_note`.
  kRequired,
  // The fold supplies `rule_note` when create leaves it out.
  kDefault,
  // Refused on actions that open an outage (create, reopen): "<name> does not
  // apply to action <a>: " plus `rule_note`.
  kRefusedOnOpen,
};

// For a time field: whether the submission's own time (for a sheet row, its
// Timestamp cell) stands in when the field is left out.
enum class TimeDefault { kNone, kOnOpen, kOnClose };

struct PayloadField {
  std::string_view name;  // JSON key, form name, proto field name, sheet mapping name
  FieldKind kind;
  size_t bytes_max = 0;  // text kinds: the value; kSystems: each name; 0 for kEnum and kTime
  CreateRule create = CreateRule::kOptional;
  std::string_view rule_note;  // see CreateRule; empty for kOptional
  TimeDefault time_default = TimeDefault::kNone;
  std::string_view form_label;
  std::string_view form_hint;  // empty: none
  // The sheet's default column for it (DefaultSheetMapping); empty: no
  // default column (a mapping file may still name one). A new field with a
  // default column changes the content id of old rows that fill that column.
  std::string_view sheet_title;
  bool sheet_column_expected = false;  // warn when a sheet has no such column
  std::string_view mail_label;         // how the mail names a change of it
  // Non-empty: refused on action close, "<name> does not apply to action
  // close: " plus this.
  std::string_view close_rule;
};

// Row order is the proto's field order; see the top of this file.
inline constexpr auto kPayloadFields = std::to_array<PayloadField>({
    {.name = "title",
     .kind = FieldKind::kLine,
     .bytes_max = kTitleBytesMax,
     .create = CreateRule::kRequired,
     .form_label = "Title",
     .form_hint = "Required for a new incident. Short: what is broken, for whom.",
     .sheet_title = "Title",
     .sheet_column_expected = true,
     .mail_label = "title"},
    {.name = "description",
     .kind = FieldKind::kText,
     .bytes_max = kDescriptionBytesMax,
     .form_label = "Description",
     .sheet_title = "Description",
     .sheet_column_expected = true,
     .mail_label = "description"},
    {.name = "systems",
     .kind = FieldKind::kSystems,
     .bytes_max = kSystemBytesMax,
     .create = CreateRule::kRequired,
     .rule_note = ": name at least one",
     .form_label = "Affected systems",
     .form_hint = "Comma-separated; pick known ones below or type new ones. A new incident needs at least one.",
     .sheet_title = "Affected Systems",
     .sheet_column_expected = true,
     .mail_label = "systems"},
    {.name = "engineer",
     .kind = FieldKind::kLine,
     .bytes_max = kEngineerBytesMax,
     .create = CreateRule::kRequired,
     .form_label = "Engineer responsible",
     .form_hint = "Required for a new incident.",
     .sheet_title = "Engineer Responsible",
     .sheet_column_expected = true,
     .mail_label = "engineer"},
    {.name = "severity",
     .kind = FieldKind::kEnum,
     .create = CreateRule::kDefault,
     .rule_note = "minor",
     .form_label = "Severity",
     .form_hint = "A new incident without one is minor.",
     .sheet_title = "Severity",
     .sheet_column_expected = true,
     .mail_label = "severity"},
    {.name = "started_at",
     .kind = FieldKind::kTime,
     .create = CreateRule::kDefault,
     .rule_note = "the recorded time",
     .time_default = TimeDefault::kOnOpen,
     .form_label = "Outage started",
     .form_hint = "Your local time. Empty on a new incident: now. On an update: corrects the start.",
     .sheet_title = "Outage Start",
     .sheet_column_expected = true,
     .mail_label = "start"},
    {.name = "ended_at",
     .kind = FieldKind::kTime,
     .create = CreateRule::kRefusedOnOpen,
     .rule_note = "an outage ends with action close",
     .time_default = TimeDefault::kOnClose,
     .form_label = "Outage ended",
     .form_hint = "When closing: empty means now. Not for a new incident.",
     .sheet_title = "Outage End",
     .sheet_column_expected = true,
     .mail_label = "end"},
    {.name = "note",
     .kind = FieldKind::kText,
     .bytes_max = kNoteBytesMax,
     .form_label = "Update note",
     .form_hint = "What changed; sent to the people affected.",
     .sheet_title = "Update Notes",
     .sheet_column_expected = true,
     .mail_label = "note"},
    {.name = "link",
     .kind = FieldKind::kLink,
     .bytes_max = kLinkBytesMax,
     .form_label = "Link",
     .form_hint = "http:// or https:// (e.g. the help-desk ticket).",
     .sheet_title = "Link",
     .mail_label = "link"},
    {.name = "detected_at",
     .kind = FieldKind::kTime,
     .form_label = "Detected",
     .form_hint = "Your local time: when the problem was first noticed. Correctable later.",
     .sheet_title = "Detected At",
     .mail_label = "detected"},
    {.name = "acknowledged_at",
     .kind = FieldKind::kTime,
     .form_label = "Acknowledged",
     .form_hint = "Your local time: when someone took the incident on.",
     .sheet_title = "Acknowledged At",
     .mail_label = "acknowledged"},
    {.name = "mitigated_at",
     .kind = FieldKind::kTime,
     .form_label = "Mitigated",
     .form_hint = "Your local time: when the effect on users was stopped or worked around.",
     .sheet_title = "Mitigated At",
     .mail_label = "mitigated"},
    {.name = "impact",
     .kind = FieldKind::kEnum,
     .create = CreateRule::kDefault,
     .rule_note = "full",
     .form_label = "Impact",
     .form_hint = "full: the service is down; partial: down for some users or functions; degraded: it works, "
                  "but slowly or with errors. A new incident without one is full.",
     .sheet_title = "Impact",
     .mail_label = "impact"},
    {.name = "phase",
     .kind = FieldKind::kEnum,
     .create = CreateRule::kDefault,
     .rule_note = "investigating",
     .form_label = "Phase",
     .form_hint = "Where the response stands. A new or reopened incident without one is investigating; "
                  "closing resolves it.",
     .sheet_title = "Phase",
     .mail_label = "phase",
     .close_rule = "closing resolves the incident"},
    {.name = "visibility",
     .kind = FieldKind::kEnum,
     .create = CreateRule::kDefault,
     .rule_note = "everyone",
     .form_label = "Visibility",
     .form_hint = "everyone: on the dashboard, in feeds and calendars, mailed to subscribers; internal: only the "
                  "help desk, auditors and admins see it (figures still count it). A new incident without one is "
                  "everyone.",
     .sheet_title = "Visibility",
     .mail_label = "visibility"},
});
constexpr size_t kPayloadFieldCount = kPayloadFields.size();

// The table, checked against proto::IncidentPayload on first call (see the
// top of this file). Every function below calls it.
const std::array<PayloadField, kPayloadFieldCount>& PayloadFieldTable();

// The row named `name`, or nullptr.
const PayloadField* FindPayloadField(std::string_view name);
// Its position in the table.
size_t PayloadFieldIndex(const PayloadField& field);

// The proto field behind a row.
const google::protobuf::FieldDescriptor* DescriptorOf(const PayloadField& field);

// The values of a kEnum field that can be given, in lower case, in the
// enum's order ("minor", "major", "critical").
const std::vector<std::string>& EnumWords(const PayloadField& field);
// The number of a kEnum field's word (lower case), or nullopt.
std::optional<int> EnumNumberOf(const PayloadField& field, std::string_view word);

// Whether `payload` carries the field (a kEnum field: a value other than 0).
bool HasValue(const proto::IncidentPayload& payload, const PayloadField& field);
// True when it carries any payload field.
bool HasAnyValue(const proto::IncidentPayload& payload);

// One given value, as a consumer reads it; which member holds it depends on
// the field's kind.
struct GivenValue {
  const PayloadField* field = nullptr;
  // kLine, kText, kLink: the text. kEnum: the value's word in lower case (a
  // number this build does not know reads as the field's default word).
  std::string_view text;
  const google::protobuf::RepeatedPtrField<std::string>* list = nullptr;  // kSystems
  Instant time;                                                          // kTime
};
// Calls `visit` for every field `payload` carries, in table order.
template <class Visit>
void ForEachGivenValue(const proto::IncidentPayload& payload, Visit&& visit);

// Setters for command parsing; the value must already be checked.
void SetText(proto::IncidentPayload* payload, const PayloadField& field, std::string value);
void SetEnum(proto::IncidentPayload* payload, const PayloadField& field, int number);
void SetTime(proto::IncidentPayload* payload, const PayloadField& field, const Instant& instant);
proto::SystemList* MutableList(proto::IncidentPayload* payload, const PayloadField& field);

// The payload JSON of an event: {"<name>": value, ...} with only the fields
// it carries, in table order; lists as arrays, times as RFC 3339 with their
// offset, enum values as their word.
void WritePayloadJson(JsonWriter* json, const proto::IncidentPayload& payload);
// The same members, into an object the caller has begun.
void WritePayloadMembers(JsonWriter* json, const proto::IncidentPayload& payload);

// A given value as text for people (a page, a mail): a list
// comma-separated, a time in RFC 3339 with its offset, an enum value as its
// word, other kinds as given. Not escaped: the caller escapes for where it
// shows it.
std::string DisplayText(const GivenValue& given);

// ----------------------------------------------------------------------------
// Implementation of the template above.

GivenValue GivenValueOf(const proto::IncidentPayload& payload, const PayloadField& field);

template <class Visit>
void ForEachGivenValue(const proto::IncidentPayload& payload, Visit&& visit) {
  for (const PayloadField& field : PayloadFieldTable()) {
    if (HasValue(payload, field)) visit(GivenValueOf(payload, field));
  }
}

}  // namespace ledger::ingest
