#include "common/json_writer.h"

#include <array>
#include <cmath>
#include <cstdio>

#include "common/encoding.h"

namespace ledger {

namespace {

// Printable ASCII other than the characters AppendJsonEscaped escapes, as a
// table: the test runs once per byte of every string written.
constexpr std::array<bool, 256> kPlainJsonBytes = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x7f; ++c) plain[static_cast<size_t>(c)] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
  return plain;
}();

bool IsPlainJsonByte(unsigned char c) { return kPlainJsonBytes[c]; }

}  // namespace

void AppendJsonEscaped(std::string* out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < value.size(); ++i) {
    // Bytes that need no escape go out in runs, not one push_back at a time
    // (this loop is most of the cost of a large JSON answer).
    size_t plain_end = i;
    while (plain_end < value.size() && IsPlainJsonByte(static_cast<unsigned char>(value[plain_end]))) ++plain_end;
    if (plain_end > i) {
      out->append(value.data() + i, plain_end - i);
      i = plain_end - 1;
      continue;
    }
    if (static_cast<unsigned char>(value[i]) >= 0x80) {
      // Text from outside may be anything; JSON out is always valid UTF-8.
      const size_t length = Utf8SequenceLength(value, i);
      if (length == 0) {
        out->append("\\ufffd");
        continue;
      }
      if (length == 3 && static_cast<unsigned char>(value[i]) == 0xe2 &&
          static_cast<unsigned char>(value[i + 1]) == 0x80 &&
          (static_cast<unsigned char>(value[i + 2]) == 0xa8 || static_cast<unsigned char>(value[i + 2]) == 0xa9)) {
        out->append(static_cast<unsigned char>(value[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029");
      } else {
        out->append(value.substr(i, length));
      }
      i += length - 1;
      continue;
    }
    const auto c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '<': out->append("\\u003c"); break;
      case '>': out->append("\\u003e"); break;
      case '&': out->append("\\u0026"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void JsonWriter::BeforeValue() {
  if (need_comma_) text_.push_back(',');
  need_comma_ = true;
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  text_.push_back('{');
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  text_.push_back('}');
  need_comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  text_.push_back('[');
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  text_.push_back(']');
  need_comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
  BeforeValue();
  AppendJsonEscaped(&text_, key);
  text_.push_back(':');
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view value) {
  BeforeValue();
  AppendJsonEscaped(&text_, value);
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  text_ += std::to_string(value);
  return *this;
}
JsonWriter& JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  text_ += std::to_string(value);
  return *this;
}
JsonWriter& JsonWriter::Double(double value) {
  BeforeValue();
  if (!std::isfinite(value)) {
    text_ += "null";
    return *this;
  }
  char buffer[32];
  const int length = std::snprintf(buffer, sizeof buffer, "%.17g", value);
  text_.append(buffer, static_cast<size_t>(length));
  return *this;
}
JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  text_ += value ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::Null() {
  BeforeValue();
  text_ += "null";
  return *this;
}
JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  text_ += json;
  return *this;
}

}  // namespace ledger
