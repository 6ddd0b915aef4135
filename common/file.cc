#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

Result<std::string> ReadPrivateFile(const std::string& path, size_t bytes_max, std::string_view what) {
  const std::string named = "the " + std::string(what) + " " + path;
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                     "cannot read " + named + ": " + std::strerror(errno));
  }
  if ((status.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return MakeError(ErrorCode::kPermissionDenied, named + " may be used by others (mode " + mode + "); `chmod 600 " +
                                                       path + "` makes it private");
  }
  return ReadWholeFile(path, bytes_max, what);
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

bool IsSameOrBelow(const std::filesystem::path& path, const std::filesystem::path& folder) {
  auto part = path.begin();
  for (auto folder_part = folder.begin(); folder_part != folder.end(); ++folder_part) {
    if (folder_part->empty()) continue;  // a trailing separator
    if (part == path.end() || *part != *folder_part) return false;
    ++part;
  }
  return true;
}

Result<std::string> CheckBackupDestination(std::string_view destination, const BackupDestinationRules& rules) {
  namespace fs = std::filesystem;
  const std::string field(rules.field);
  if (destination.empty()) return InvalidArgument(field, field + " is required: an absolute path for the new backup folder");
  if (destination.size() > kNamedPathBytesMax || destination.front() != '/' ||
      destination.find('\0') != std::string_view::npos) {
    return InvalidArgument(field, field + " must be an absolute path of at most " + std::to_string(kNamedPathBytesMax) +
                                      " bytes");
  }
  std::string_view trimmed = destination;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
  const fs::path path(trimmed);
  for (const fs::path& part : path) {
    if (part == "." || part == "..") {
      return InvalidArgument(field, field + " must not contain '.' or '..' parts: name the new folder directly");
    }
  }
  if (!path.has_filename() || path.parent_path() == path) {
    return InvalidArgument(field, field + " must name a new folder, not the root");
  }
  std::error_code error;
  for (const fs::path& taken : {path, fs::path(path.string() + ".tmp")}) {
    const fs::file_status status = fs::symlink_status(taken, error);
    if (fs::exists(status)) {
      return InvalidArgument(field, field + " must name a folder that does not exist yet: " + taken.string() +
                                        " exists; a backup never writes over anything");
    }
    if (error && error != std::errc::no_such_file_or_directory) {
      return InvalidArgument(field, "cannot look at " + taken.string() + ": " + error.message());
    }
  }
  const fs::path parent = fs::canonical(path.parent_path(), error);
  if (error || !fs::is_directory(parent, error)) {
    return InvalidArgument(field, "the folder above " + field + " must exist: " + path.parent_path().string());
  }
  const fs::path resolved = parent / path.filename();
  const fs::path data = fs::weakly_canonical(fs::absolute(rules.data_folder, error), error);
  if (!data.empty() && IsSameOrBelow(resolved, data)) {
    return InvalidArgument(field, field + " is inside the data folder " + data.string() +
                                      ": a backup must be written outside it");
  }
  if (!rules.allowed_parent.empty()) {
    const fs::path allowed = fs::canonical(rules.allowed_parent, error);
    if (error) {
      return MakeError(ErrorCode::kIoError, "the backup folder " + rules.allowed_parent + " (--backup-dir) is gone: " +
                                                error.message());
    }
    if (resolved == allowed || !IsSameOrBelow(resolved, allowed)) {
      return InvalidArgument(field, field + " must be inside the backup folder " + allowed.string() +
                                        " (serve --backup-dir); " + resolved.string() + " is not");
    }
  }
  return resolved.string();
}

unsigned FolderAccessBeyondOwner(const std::string& folder) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(folder, error);
  if (error) return 0;
  return static_cast<unsigned>(status.permissions() & (std::filesystem::perms::group_all | std::filesystem::perms::others_all));
}

}  // namespace ledger
