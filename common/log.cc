#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "common/json_writer.h"
#include "common/time.h"

namespace ledger {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};
std::mutex g_write_mutex;

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || c == '"' || c == '=' || c == '\\' || byte == 0x7f) return true;
  }
  return false;
}

// Text shape: control characters (a newline in user text included) become
// \xNN, so that one message is always one line.
void AppendTextValue(std::string* out, std::string_view value, bool quote) {
  if (quote) out->push_back('"');
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\x");
      out->push_back(kHex[byte >> 4]);
      out->push_back(kHex[byte & 0xf]);
    } else if (quote && (c == '"' || c == '\\')) {
      out->push_back('\\');
      out->push_back(c);
    } else {
      out->push_back(c);
    }
  }
  if (quote) out->push_back('"');
}

}  // namespace

void SetLogFormat(LogFormat format) { g_format.store(format); }
LogFormat CurrentLogFormat() { return g_format.load(); }

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string FormatLogLine(std::string_view component, std::string_view message,
                          std::initializer_list<LogField> fields) {
  if (CurrentLogFormat() == LogFormat::kJson) {
    const auto now = std::chrono::system_clock::now();
    const int64_t micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    JsonWriter json;
    json.BeginObject().Key("time").String(FormatRfc3339Utc(micros));
    json.Key("component").String(component).Key("message").String(message);
    for (const auto& [key, value] : fields) json.Key(key).String(value);
    json.EndObject();
    return json.Take();
  }
  std::string line;
  AppendTextValue(&line, component, false);
  line.append(": ");
  AppendTextValue(&line, message, false);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line.append(key);
    line.push_back('=');
    AppendTextValue(&line, value, NeedsQuotes(value));
  }
  return line;
}

void Log(std::string_view component, std::string_view message, std::initializer_list<LogField> fields) {
  std::string line = FormatLogLine(component, message, fields);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mutex);
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // dropped: see the header
    written += static_cast<size_t>(n);
  }
}

void LogPrintf(std::string_view component, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  va_list measuring;
  va_copy(measuring, arguments);
  const int length = std::vsnprintf(nullptr, 0, format, measuring);
  va_end(measuring);
  std::string message(length > 0 ? static_cast<size_t>(length) : 0, '\0');
  if (length > 0) std::vsnprintf(message.data(), message.size() + 1, format, arguments);
  va_end(arguments);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  Log(component, message);
}

}  // namespace ledger
