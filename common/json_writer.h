#pragma once
// Builds JSON text. The service reads JSON with simdjson; this is only the
// writing side. Strings are escaped so that the output is safe to embed
// anywhere JSON is (including inside HTML <script> data: '<', '>', '&' and
// U+2028/2029 are escaped too).

#include <cstdint>
#include <string>
#include <string_view>

namespace ledger {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialized JSON as one value.
  JsonWriter& Raw(std::string_view json);

  const std::string& text() const { return text_; }
  std::string Take() { return std::move(text_); }

 private:
  void BeforeValue();
  std::string text_;
  bool need_comma_ = false;
};

void AppendJsonEscaped(std::string* out, std::string_view value);

}  // namespace ledger
