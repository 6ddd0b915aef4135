#pragma once
// The service's log: one line per message on stderr, where journald (or the
// terminal) collects it. Two shapes, chosen once at start (`--log-format`):
//
//   text:  "<component>: <message>[ key=value ...]"
//          values with a space, a quote or '=' are quoted, '"' and '\' escaped,
//          control characters written as \xNN (user text never breaks a line)
//   json:  {"time":"<RFC 3339 UTC, ms>","component":"...","message":"...",
//           "<key>":"<value>" ...}   one object per line
//
// Thread safety: every function may be called from any thread; a line is
// written with one write(2), under a lock, so lines never interleave.
// Failure: a line that cannot be written (stderr closed, full pipe) is
// dropped; logging never blocks the service on its reader beyond that write
// and never throws.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ledger {

enum class LogFormat { kText, kJson };

// The shape of every later line (default kText).
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(std::string_view text);

using LogField = std::pair<std::string_view, std::string_view>;

// The line as it would be written, without the newline (for tests).
std::string FormatLogLine(std::string_view component, std::string_view message,
                          std::initializer_list<LogField> fields = {});

// Writes one line.
void Log(std::string_view component, std::string_view message, std::initializer_list<LogField> fields = {});
// The same with a printf-style message (a trailing newline in it is dropped).
void LogPrintf(std::string_view component, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ledger
