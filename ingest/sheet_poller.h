#pragma once
// Polls a form-responses CSV file while the service runs, and imports it
// (ImportSheet, sheet_import.h) whenever its contents change.
//
// A background thread looks at the file every `interval`: when its size or
// modification time differ from the last look, and it has not changed for
// kSheetSettle (a writer may still be busy with it), it reads the file and,
// unless the bytes are the ones it imported last, imports them. Rows already
// in the ledger are recognised by their submission ids, so each re-read
// appends only what is new. Write the file by renaming a finished copy over
// it; a file caught half-written is read again once it settles.
//
// Nothing in the file can stop the service: an unreadable file, a malformed
// CSV or bad rows are reported on the log stream (one summary per import,
// one line per rejected row) and in its figures (stats()), and the poller
// goes on looking. An import that failed for a reason other than the file's
// content (I/O error, shutdown) is tried again at the next look.
//
// Refused rows. With a SheetRefusalRecorder (sheet_refusals.h), every
// rejected row of an import that is the row's own fault is recorded as a
// SHEET_ROW_REFUSED event, once per row content, right after the import; the
// notification side mails its submitter from the event.
//
// Runs. The latest kSheetRunsKept imports are kept in memory (runs()), each
// with its counts and its rejected rows (at most kSheetRunRefusedKept): what
// GET /api/v1/imports shows. They start empty at every start of the
// service; the refusals themselves are in the log.
//
// Thread safety: Stop, stats and runs may be called from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "ingest/sheet_import.h"
#include "ingest/sheet_refusals.h"

namespace ledger::ingest {

constexpr std::chrono::milliseconds kSheetSettle{1000};
constexpr std::chrono::milliseconds kSheetPollIntervalMin{1000};
constexpr std::chrono::milliseconds kSheetPollIntervalMax{24 * 3600 * 1000};
constexpr std::chrono::milliseconds kSheetPollIntervalDefault{2 * 60 * 1000};
constexpr size_t kSheetRejectionLinesLogged = 100;  // per import; the rest are counted

// "2m", "90s", "1h", "1500ms", or a bare number of seconds; between
// kSheetPollIntervalMin and kSheetPollIntervalMax.
Result<std::chrono::milliseconds> ParsePollInterval(std::string_view text);

// The poller's figures since it started, as plain data (http/metrics.h
// renders them for /metrics). A copy: read it on any thread.
struct SheetPollerStats {
  uint64_t imports = 0;      // imports run, one per changed file
  uint64_t file_errors = 0;  // looks that found the file unreadable, too large or malformed
  // Rows over all imports, by outcome.
  uint64_t rows_appended = 0;
  uint64_t rows_already_present = 0;
  uint64_t rows_rejected = 0;
  // The latest import's rows, by outcome; all 0 before the first import.
  uint64_t last_import_rows_read = 0;
  uint64_t last_import_rows_appended = 0;
  uint64_t last_import_rows_already_present = 0;
  uint64_t last_import_rows_rejected = 0;
  bool last_import_file_ok = false;      // the latest import could read the file; false before the first
  int64_t last_import_unix_seconds = 0;  // when the latest import ended; 0 before the first
};

constexpr size_t kSheetRunsKept = 50;
constexpr size_t kSheetRunRefusedKept = 1000;  // rejected rows kept per run; the rest are counted

// One rejected row of a run, as the import saw it.
struct SheetRefusedRow {
  size_t row = 0;
  std::string content_id;  // SheetContentId
  std::string column;      // header title, empty when no single column is to blame
  std::string column_letters;
  std::string field;
  std::string rule;
  std::string author;  // the e-mail cell as typed
  uint64_t seq = 0;    // its SHEET_ROW_REFUSED event; 0 when not recorded
  std::string not_recorded;  // why not, when seq is 0 (not the row's fault, no recorder, an append error)
};

// One import of the file.
struct SheetImportRun {
  int64_t at_micros = 0;  // when it ended
  std::string file;       // the polled path
  std::string file_error; // the file could not be imported at all; empty when it could
  size_t rows_read = 0;
  size_t appended = 0;
  size_t already_present = 0;
  size_t rejected = 0;
  std::vector<SheetRefusedRow> refused;  // in row order
};

struct SheetPollerOptions {
  std::string path;
  std::chrono::milliseconds interval = kSheetPollIntervalDefault;
  SheetMapping mapping = DefaultSheetMapping();
  std::optional<SheetTimeZone> zone;
  std::FILE* log = stderr;
  // Records refused rows (see the top); none: they are only reported.
  // Must outlive the poller.
  SheetRefusalRecorder* refusals = nullptr;
};

class SheetPoller {
 public:
  // Starts the thread; the first look is at once. `target` must outlive the
  // poller (or its Stop).
  static std::unique_ptr<SheetPoller> Start(SheetPollerOptions options, SheetTarget* target);
  ~SheetPoller();
  SheetPoller(const SheetPoller&) = delete;
  SheetPoller& operator=(const SheetPoller&) = delete;

  // Ends an import in progress between two rows and joins the thread.
  void Stop();

  // The figures now (a copy taken under a short lock).
  SheetPollerStats stats() const;
  // The kept imports, newest first (a copy).
  std::vector<SheetImportRun> runs() const;

 private:
  SheetPoller(SheetPollerOptions options, SheetTarget* target);
  void Loop();
  // One look; returns how long to wait before the next.
  std::chrono::milliseconds Look();
  void Import(const std::string& content);
  // Records the rejected rows of `report` and keeps the run.
  void KeepRun(const SheetImportReport& report);
  void Log(const std::string& line);

  struct FileSignature {
    int64_t size = -1;
    int64_t modified_ns = 0;
    bool operator==(const FileSignature&) const = default;
  };
  std::optional<FileSignature> Signature(std::string* error) const;

  const SheetPollerOptions options_;
  SheetTarget* const target_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread thread_;

  // Poller thread only.
  std::optional<FileSignature> last_seen_;
  std::string last_imported_digest_;
  std::string last_problem_;
  bool last_import_retryable_ = false;  // failed for a reason other than the file: read it again

  // Written by the poller thread, read by stats().
  mutable std::mutex stats_mutex_;
  SheetPollerStats stats_;
  std::deque<SheetImportRun> runs_;  // newest first
};

}  // namespace ledger::ingest
