#pragma once
// Whole-file reads and writes for the small files the service keeps or is
// given (auth file, sessions, sheet mapping, CSV, SMTP password).

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ledger {

// The bytes of the regular file at `path`. kTooLarge when it holds more than
// `bytes_max`, kIoError when it cannot be read; the messages name it as
// "the WHAT PATH", and a caller with its own wording can go by the code.
Result<std::string> ReadWholeFile(const std::string& path, size_t bytes_max, std::string_view what);

// Replaces the file at `path` with `text` (mode 0600) through a synced
// temporary file beside it and a rename, so that a crash leaves the old file
// or the new one, never a mix.
Status WriteFileAtomically(const std::string& path, std::string_view text);

}  // namespace ledger
