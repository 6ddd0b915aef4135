#include "ingest/fields.h"

#include <algorithm>
#include <cctype>

#include <google/protobuf/message.h>

#include "common/result.h"

namespace ledger::ingest {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;

const Reflection& PayloadReflection() { return *proto::IncidentPayload::GetReflection(); }

// What the proto field behind a row of each kind must look like.
bool ShapeFits(const PayloadField& row, const FieldDescriptor& field) {
  if (field.is_repeated()) return false;
  switch (row.kind) {
    case FieldKind::kLine:
    case FieldKind::kText:
    case FieldKind::kLink:
      return field.type() == FieldDescriptor::TYPE_STRING && field.has_presence() && row.bytes_max > 0;
    case FieldKind::kSystems:
      return field.message_type() == proto::SystemList::descriptor() && row.bytes_max > 0;
    case FieldKind::kEnum:
      // Presence is "not 0"; a value the build does not know reads as the
      // default, so an enum field needs one.
      return field.enum_type() != nullptr && !field.has_presence() && row.create == CreateRule::kDefault;
    case FieldKind::kTime:
      return field.message_type() == proto::Timestamp::descriptor();
  }
  return false;
}

struct CheckedTable {
  std::array<const FieldDescriptor*, kPayloadFieldCount> descriptors{};
  std::array<std::vector<std::string>, kPayloadFieldCount> enum_words;  // lower case, 0 left out
  std::array<std::vector<int>, kPayloadFieldCount> enum_numbers;        // the same values' numbers
};

const CheckedTable& Checked() {
  static const CheckedTable checked = [] {
    CheckedTable table;
    const Descriptor& message = *proto::IncidentPayload::descriptor();
    // One row per proto field, in the proto's field number order.
    LEDGER_ASSERT(static_cast<size_t>(message.field_count()) == kPayloadFieldCount);
    int previous_number = 0;
    for (size_t i = 0; i < kPayloadFieldCount; ++i) {
      const PayloadField& row = kPayloadFields[i];
      const FieldDescriptor* field = message.FindFieldByName(std::string(row.name));
      LEDGER_ASSERT(field != nullptr);
      LEDGER_ASSERT(field->number() > previous_number);
      LEDGER_ASSERT(ShapeFits(row, *field));
      LEDGER_ASSERT((row.create == CreateRule::kOptional) == row.rule_note.empty() ||
                    row.create == CreateRule::kRequired);
      LEDGER_ASSERT(row.time_default == TimeDefault::kNone || row.kind == FieldKind::kTime);
      LEDGER_ASSERT(!row.form_label.empty() && !row.mail_label.empty());
      previous_number = field->number();
      table.descriptors[i] = field;
      if (row.kind == FieldKind::kEnum) {
        const google::protobuf::EnumDescriptor& values = *field->enum_type();
        for (int v = 0; v < values.value_count(); ++v) {
          if (values.value(v)->number() == 0) continue;
          std::string word = values.value(v)->name();
          std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
          table.enum_words[i].push_back(std::move(word));
          table.enum_numbers[i].push_back(values.value(v)->number());
        }
        LEDGER_ASSERT(std::find(table.enum_words[i].begin(), table.enum_words[i].end(), row.rule_note) !=
                      table.enum_words[i].end());
      }
    }
    return table;
  }();
  return checked;
}

std::string_view EnumWordOf(const PayloadField& row, int number) {
  const size_t index = PayloadFieldIndex(row);
  const std::vector<int>& numbers = Checked().enum_numbers[index];
  const auto found = std::find(numbers.begin(), numbers.end(), number);
  if (found == numbers.end()) return row.rule_note;
  return Checked().enum_words[index][static_cast<size_t>(found - numbers.begin())];
}

Instant InstantOf(const google::protobuf::Message& message) {
  const auto& timestamp = static_cast<const proto::Timestamp&>(message);
  return Instant{timestamp.unix_micros(), timestamp.offset_minutes()};
}

}  // namespace

const std::array<PayloadField, kPayloadFieldCount>& PayloadFieldTable() {
  (void)Checked();
  return kPayloadFields;
}

const PayloadField* FindPayloadField(std::string_view name) {
  for (const PayloadField& row : PayloadFieldTable()) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

size_t PayloadFieldIndex(const PayloadField& field) {
  const size_t index = static_cast<size_t>(&field - kPayloadFields.data());
  LEDGER_ASSERT(index < kPayloadFieldCount);
  return index;
}

const FieldDescriptor* DescriptorOf(const PayloadField& field) {
  return Checked().descriptors[PayloadFieldIndex(field)];
}

const std::vector<std::string>& EnumWords(const PayloadField& field) {
  return Checked().enum_words[PayloadFieldIndex(field)];
}

std::optional<int> EnumNumberOf(const PayloadField& field, std::string_view word) {
  const size_t index = PayloadFieldIndex(field);
  const std::vector<std::string>& words = Checked().enum_words[index];
  const auto found = std::find(words.begin(), words.end(), word);
  if (found == words.end()) return std::nullopt;
  return Checked().enum_numbers[index][static_cast<size_t>(found - words.begin())];
}

bool HasValue(const proto::IncidentPayload& payload, const PayloadField& field) {
  return PayloadReflection().HasField(payload, DescriptorOf(field));
}

bool HasAnyValue(const proto::IncidentPayload& payload) {
  return std::any_of(PayloadFieldTable().begin(), PayloadFieldTable().end(),
                     [&](const PayloadField& field) { return HasValue(payload, field); });
}

GivenValue GivenValueOf(const proto::IncidentPayload& payload, const PayloadField& field) {
  const FieldDescriptor* descriptor = DescriptorOf(field);
  const Reflection& reflection = PayloadReflection();
  GivenValue given;
  given.field = &field;
  switch (field.kind) {
    case FieldKind::kLine:
    case FieldKind::kText:
    case FieldKind::kLink: {
      std::string scratch;
      given.text = reflection.GetStringReference(payload, descriptor, &scratch);
      // A singular string field of a generated message is stored in the
      // message: the reference is into `payload`, never into `scratch`.
      LEDGER_ASSERT(given.text.data() != scratch.data() || given.text.empty());
      break;
    }
    case FieldKind::kSystems:
      given.list = &static_cast<const proto::SystemList&>(reflection.GetMessage(payload, descriptor)).names();
      break;
    case FieldKind::kEnum:
      given.text = EnumWordOf(field, reflection.GetEnumValue(payload, descriptor));
      break;
    case FieldKind::kTime:
      given.time = InstantOf(reflection.GetMessage(payload, descriptor));
      break;
  }
  return given;
}

void SetText(proto::IncidentPayload* payload, const PayloadField& field, std::string value) {
  PayloadReflection().SetString(payload, DescriptorOf(field), std::move(value));
}

void SetEnum(proto::IncidentPayload* payload, const PayloadField& field, int number) {
  PayloadReflection().SetEnumValue(payload, DescriptorOf(field), number);
}

void SetTime(proto::IncidentPayload* payload, const PayloadField& field, const Instant& instant) {
  auto* timestamp = static_cast<proto::Timestamp*>(PayloadReflection().MutableMessage(payload, DescriptorOf(field)));
  timestamp->set_unix_micros(instant.unix_micros);
  timestamp->set_offset_minutes(instant.offset_minutes);
}

proto::SystemList* MutableList(proto::IncidentPayload* payload, const PayloadField& field) {
  LEDGER_ASSERT(field.kind == FieldKind::kSystems);
  return static_cast<proto::SystemList*>(PayloadReflection().MutableMessage(payload, DescriptorOf(field)));
}

void WritePayloadMembers(JsonWriter* json, const proto::IncidentPayload& payload) {
  ForEachGivenValue(payload, [json](const GivenValue& given) {
    json->Key(given.field->name);
    switch (given.field->kind) {
      case FieldKind::kSystems:
        json->BeginArray();
        for (const std::string& item : *given.list) json->String(item);
        json->EndArray();
        break;
      case FieldKind::kTime: json->String(FormatRfc3339(given.time)); break;
      default: json->String(given.text); break;
    }
  });
}

void WritePayloadJson(JsonWriter* json, const proto::IncidentPayload& payload) {
  json->BeginObject();
  WritePayloadMembers(json, payload);
  json->EndObject();
}

std::string DisplayText(const GivenValue& given) {
  switch (given.field->kind) {
    case FieldKind::kSystems: {
      std::string joined;
      for (const std::string& item : *given.list) joined += (joined.empty() ? "" : ", ") + item;
      return joined;
    }
    case FieldKind::kTime: return FormatRfc3339(given.time);
    default: return std::string(given.text);
  }
}

}  // namespace ledger::ingest
