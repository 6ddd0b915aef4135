#pragma once
// Whole-file reads and writes for the small files the service keeps or is
// given (auth file, sessions, sheet mapping, CSV, SMTP password), and the
// checks on the folders it makes (data, backups).

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ledger {

// The bytes of the regular file at `path`. kTooLarge when it holds more than
// `bytes_max`, kIoError when it cannot be read; the messages name it as
// "the WHAT PATH", and a caller with its own wording can go by the code.
Result<std::string> ReadWholeFile(const std::string& path, size_t bytes_max, std::string_view what);

// ReadWholeFile for a secret (a key the service keeps): refused, as
// kPermissionDenied naming the mode and the `chmod` that fixes it, when
// anyone but its owner may use it (group or others bits); kNotFound when
// there is no file at `path`.
Result<std::string> ReadPrivateFile(const std::string& path, size_t bytes_max, std::string_view what);

// Replaces the file at `path` with `text` (mode 0600) through a synced
// temporary file beside it and a rename, so that a crash leaves the old file
// or the new one, never a mix.
Status WriteFileAtomically(const std::string& path, std::string_view text);

// Longest path accepted for a folder a client names (a backup's destination).
constexpr size_t kNamedPathBytesMax = 4096;

// Where a backup may be written (POST /api/v1/backup, `backup --to`).
struct BackupDestinationRules {
  std::string_view field;      // the input named in errors: "to", "--to"
  std::string data_folder;     // the ledger's folder (--data): never in it
  std::string allowed_parent;  // not empty (serve --backup-dir): only below it
};

// Checks the folder a backup is about to be written to and returns where it
// really is: the folder above it with every symlink resolved, then its name.
// Refused, as kInvalidArgument naming `rules.field` and the problem:
//   - not an absolute path, a "." or ".." part, a NUL, over
//     kNamedPathBytesMax bytes;
//   - anything already there (a dangling symlink too), or at its name plus
//     ".tmp" (where RocksDB stages a checkpoint);
//   - no folder above it;
//   - resolved, the data folder or a place inside it (a backup there would
//     be mixed into the ledger's own files, such as DIR/sessions);
//   - with `allowed_parent`: not strictly below it, resolved, so that
//     neither ".." nor a symlink leads out.
// Reads the file system (no writes); between this check and the write
// another process with write access to the folder above could still change
// it, which is why the allowed parent should be writable by the service's
// user only.
Result<std::string> CheckBackupDestination(std::string_view destination, const BackupDestinationRules& rules);

// True when `path` is `folder` or lies below it, comparing whole parts
// ("/a/bc" is not below "/a/b"). Both should be resolved (canonical).
bool IsSameOrBelow(const std::filesystem::path& path, const std::filesystem::path& folder);

// Permission bits of `folder` that let anyone but its owner in (group and
// others, of 0777), or 0 when there are none or it cannot be read.
unsigned FolderAccessBeyondOwner(const std::string& folder);

}  // namespace ledger
