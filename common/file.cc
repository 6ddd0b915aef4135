#include "common/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ledger {

Result<std::string> ReadWholeFile(const std::string& path, size_t bytes_max, std::string_view what) {
  const std::string named = "the " + std::string(what) + " " + path;
  std::error_code code;
  if (!std::filesystem::is_regular_file(path, code)) {
    return MakeError(ErrorCode::kIoError, "cannot read " + named + ": not a readable file");
  }
  const auto size = std::filesystem::file_size(path, code);
  if (code) return MakeError(ErrorCode::kIoError, "cannot read " + named + ": " + code.message());
  if (size > bytes_max) {
    return MakeError(ErrorCode::kTooLarge,
                     named + " is " + std::to_string(size) + " bytes; at most " + std::to_string(bytes_max) + " are read");
  }
  std::ifstream file(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << file.rdbuf();
  if (!file) return MakeError(ErrorCode::kIoError, "cannot read " + named);
  std::string text = buffer.str();
  // It grew after the size was read.
  if (text.size() > bytes_max) {
    return MakeError(ErrorCode::kTooLarge, named + " is larger than " + std::to_string(bytes_max) + " bytes");
  }
  return text;
}

Status WriteFileAtomically(const std::string& path, std::string_view text) {
  const std::string temporary = path + ".tmp";
  // A leftover from a crash would keep its own mode through O_TRUNC.
  ::unlink(temporary.c_str());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kIoError, "cannot create " + temporary + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t wrote = ::write(fd, text.data() + written, text.size() - written);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) break;
    written += static_cast<size_t>(wrote);
  }
  const bool ok = written == text.size() && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(ok ? errno : saved_errno);
    ::unlink(temporary.c_str());
    return MakeError(ErrorCode::kIoError, "cannot write " + path + ": " + why);
  }
  return {};
}

}  // namespace ledger
