#include "projections/checkpoint.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include <rocksdb/db.h>
#include <rocksdb/table.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include "common/encoding.h"
#include "projections/ticket_codec.h"

namespace ledger::projections {
namespace {

constexpr char kTicketPrefix = 'k';
constexpr char kOutlinePrefix = 'p';
constexpr char kSubscriptionPrefix = 'u';
constexpr char kNoticePrefix = 'n';
constexpr char kJobPrefix = 'j';
constexpr std::string_view kVersionKey = "mversion";
constexpr std::string_view kNotificationsVersionKey = "mnotifications_version";
constexpr std::string_view kAppliedKey = "mapplied_seq";
constexpr std::string_view kCountKey = "mticket_count";
constexpr std::string_view kNotificationCountersKey = "mnotification_counters";
// What Invalidate leaves in place of the version.
constexpr std::string_view kInvalidatedVersion = "invalidated";
constexpr size_t kEmailRecordSystemsMax = 1 << 16;
constexpr size_t kNoticeChangedMax = 64;
// SaveAll writes its table here (inside the database's folder) before
// ingesting it.
constexpr std::string_view kRebuildTableFile = "rebuild.sst";
// Below this many tickets SaveAll writes one table on one thread.
constexpr size_t kSaveSplitTicketsMin = 4096;
// The block size of SaveAll's tables.
constexpr size_t kSaveBlockBytes = 16 << 10;
// Read-ahead for the scans of a start and of the background fill.
constexpr size_t kScanReadaheadBytes = 2 << 20;

std::string NumberKey(char prefix, uint64_t number) {
  std::string key(1, prefix);
  AppendBigEndian64(&key, number);
  return key;
}

std::string EmailKey(std::string_view email) { return std::string(1, kSubscriptionPrefix) + std::string(email); }

std::string JobKeyOf(const JobKey& key) {
  std::string text = NumberKey(kJobPrefix, key.seq);
  text += key.recipient;
  return text;
}

Error IoError(const rocksdb::Status& status, const std::string& what) {
  return MakeError(ErrorCode::kIoError, what + ": " + status.ToString());
}

std::string EncodeApplied(uint64_t applied_seq, const Sha256Digest& applied_hash) {
  std::string value;
  AppendBigEndian64(&value, applied_seq);
  value.append(AsBytes(applied_hash));
  return value;
}

std::string EncodeCount(uint64_t count) {
  std::string value;
  AppendBigEndian64(&value, count);
  return value;
}

void WriteStrings(ByteWriter* writer, const std::vector<std::string>& strings) {
  writer->Varint(strings.size());
  for (const std::string& text : strings) writer->String(text);
}

bool ReadStrings(ByteReader* reader, size_t count_max, std::vector<std::string>* strings) {
  uint64_t count = 0;
  // Every string takes at least its one-byte length.
  if (!reader->Varint(&count) || count > count_max || count > reader->remaining()) return false;
  strings->resize(count);
  for (std::string& text : *strings) {
    if (!reader->String(&text)) return false;
  }
  return true;
}

}  // namespace

std::string EncodeSubscriptions(const std::set<std::string>* systems, uint64_t last_change_seq) {
  std::string value;
  ByteWriter writer(&value);
  writer.Varint(last_change_seq);
  writer.Varint(systems == nullptr ? 0 : systems->size());
  if (systems != nullptr) {
    for (const std::string& system : *systems) writer.String(system);
  }
  return value;
}

bool DecodeSubscriptions(std::string_view bytes, std::set<std::string>* systems, uint64_t* last_change_seq) {
  ByteReader reader(bytes);
  uint64_t count = 0;
  if (!reader.Varint(last_change_seq) || !reader.Varint(&count) || count > kEmailRecordSystemsMax ||
      count > reader.remaining()) {
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    std::string system;
    if (!reader.String(&system)) return false;
    systems->insert(std::move(system));
  }
  return reader.done();
}

// notice: zigzag recorded_at_micros | varint type | string ticket |
//         strings changed | varint ticket_number | ticket (ticket_codec.h) |
//         strings affected_systems | event_hash (32 bytes)
std::string EncodeNotice(const Notice& notice) {
  std::string value;
  ByteWriter writer(&value);
  writer.Signed(notice.recorded_at_micros);
  writer.Varint(static_cast<uint64_t>(notice.type));
  writer.String(notice.ticket);
  WriteStrings(&writer, notice.changed);
  writer.Varint(notice.ticket_state.ticket_number);
  WriteTicket(&writer, notice.ticket_state);
  WriteStrings(&writer, notice.affected_systems);
  writer.Raw(AsBytes(notice.event_hash));
  return value;
}

bool DecodeNotice(uint64_t seq, std::string_view bytes, Notice* notice) {
  ByteReader reader(bytes);
  uint64_t type = 0;
  std::string_view hash;
  notice->seq = seq;
  if (!ReadMicros(&reader, &notice->recorded_at_micros) || !reader.Varint(&type) || !proto::EventType_IsValid(static_cast<int>(type)) ||
      type > static_cast<uint64_t>(proto::EventType_MAX) || !reader.String(&notice->ticket) ||
      !ReadStrings(&reader, kNoticeChangedMax, &notice->changed) || !reader.Varint(&notice->ticket_state.ticket_number) ||
      !ReadTicket(&reader, &notice->ticket_state) || !ReadStrings(&reader, kCodecSystemsMax, &notice->affected_systems) ||
      !reader.Raw(kSha256Bytes, &hash) || !reader.done()) {
    return false;
  }
  notice->type = static_cast<proto::EventType>(type);
  std::copy(hash.begin(), hash.end(), notice->event_hash.begin());
  return true;
}

// job: string ticket | byte state | varint attempts | varint job_failures |
//      string last_error | varint last_smtp_code | byte server_unavailable |
//      zigzag last_attempt_at_micros | zigzag sent_at_micros |
//      varint last_receipt_seq | string message_id
std::string EncodeJob(const Job& job) {
  std::string value;
  ByteWriter writer(&value);
  writer.String(job.ticket);
  writer.Byte(static_cast<uint8_t>(job.state));
  writer.Varint(job.attempts);
  writer.Varint(job.job_failures);
  writer.String(job.last_error);
  writer.Varint(job.last_smtp_code);
  writer.Byte(job.last_failure_server_unavailable ? 1 : 0);
  writer.Signed(job.last_attempt_at_micros);
  writer.Signed(job.sent_at_micros);
  writer.Varint(job.last_receipt_seq);
  writer.String(job.message_id);
  return value;
}

bool DecodeJob(std::string_view bytes, Job* job) {
  ByteReader reader(bytes);
  uint8_t state = 0;
  uint8_t unavailable = 0;
  if (!reader.String(&job->ticket) || !reader.Byte(&state) || state > static_cast<uint8_t>(JobState::kFailed) ||
      !reader.Varint32(&job->attempts) || !reader.Varint32(&job->job_failures) || !reader.String(&job->last_error) ||
      !reader.Varint32(&job->last_smtp_code) || !reader.Byte(&unavailable) || unavailable > 1 ||
      !ReadMicros(&reader, &job->last_attempt_at_micros) || !ReadMicros(&reader, &job->sent_at_micros) ||
      !reader.Varint(&job->last_receipt_seq) || !reader.String(&job->message_id) || !reader.done()) {
    return false;
  }
  job->state = static_cast<JobState>(state);
  job->last_failure_server_unavailable = unavailable == 1;
  return true;
}

namespace {

std::string EncodeCounters(const NotificationQueue& queue) {
  std::string value;
  ByteWriter writer(&value);
  writer.Varint(queue.orphan_receipts());
  writer.Varint(queue.duplicate_deliveries());
  return value;
}

void PutTicket(rocksdb::WriteBatch* batch, uint64_t number, const TicketState& state, std::string* scratch) {
  scratch->clear();
  EncodeTicket(state, scratch);
  batch->Put(NumberKey(kTicketPrefix, number), *scratch);
  scratch->clear();
  EncodePeriods(state.periods, scratch);
  batch->Put(NumberKey(kOutlinePrefix, number), *scratch);
}

// Visits every entry whose key starts with `prefix`, in key order, until
// `visit` answers false; the iterator's status is the answer.
Status ScanPrefix(rocksdb::DB* db, char prefix,
                  const std::function<bool(std::string_view key, std::string_view value)>& visit) {
  const std::string lower(1, prefix);
  const std::string upper(1, static_cast<char>(prefix + 1));
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  options.readahead_size = kScanReadaheadBytes;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> iterator(db->NewIterator(options));
  for (iterator->Seek(lower); iterator->Valid(); iterator->Next()) {
    if (!visit(std::string_view(iterator->key().data(), iterator->key().size()),
               std::string_view(iterator->value().data(), iterator->value().size()))) {
      break;
    }
  }
  if (!iterator->status().ok()) return IoError(iterator->status(), "reading the projection checkpoint");
  return {};
}

}  // namespace

void ForEachNotificationRecord(const NotificationQueue& queue,
                               const std::function<void(const std::string& key, const std::string& value)>& visit) {
  // 'j' < 'm' < 'n' < 'u': jobs, the counters, notices, subscriptions.
  for (const auto& [key, job] : queue.jobs()) visit(JobKeyOf(key), EncodeJob(job));
  visit(std::string(kNotificationCountersKey), EncodeCounters(queue));
  for (const auto& [seq, notice] : queue.notices()) visit(NumberKey(kNoticePrefix, seq), EncodeNotice(notice));
  const SubscriptionSet& subscriptions = queue.subscriptions();
  for (const auto& [email, seq] : subscriptions.last_changes()) {
    visit(EmailKey(email), EncodeSubscriptions(subscriptions.Find(email), seq));
  }
}

ProjectionCheckpoints::ProjectionCheckpoints(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
ProjectionCheckpoints::~ProjectionCheckpoints() = default;

Result<std::unique_ptr<ProjectionCheckpoints>> ProjectionCheckpoints::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(options, path, &raw);
  if (!opened.ok()) return IoError(opened, "cannot open the projection checkpoints at " + path);
  return std::unique_ptr<ProjectionCheckpoints>(new ProjectionCheckpoints(std::unique_ptr<rocksdb::DB>(raw)));
}

Result<std::variant<LoadedProjection, std::string>> ProjectionCheckpoints::Load(const Ledger& ledger) const {
  using Answer = std::variant<LoadedProjection, std::string>;
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), kVersionKey, &value);
  if (status.IsNotFound()) return Answer(std::string("no checkpoint saved yet"));
  if (!status.ok()) return IoError(status, "reading the projection version");
  if (value == kInvalidatedVersion) {
    return Answer(std::string("the checkpoint was marked unusable: a saved ticket disagreed with the ledger"));
  }
  if (value != std::to_string(kTicketProjectionVersion)) {
    return Answer("the checkpoint is of ticket projection version " + value + ", this build folds version " +
                  std::to_string(kTicketProjectionVersion));
  }
  status = db_->Get(rocksdb::ReadOptions(), kNotificationsVersionKey, &value);
  if (!status.ok() && !status.IsNotFound()) return IoError(status, "reading the projection version");
  if (status.IsNotFound() || value != std::to_string(kNotificationProjectionVersion)) {
    return Answer("the checkpoint is of notification projection version " +
                  (status.IsNotFound() ? std::string("(none)") : value) + ", this build folds version " +
                  std::to_string(kNotificationProjectionVersion));
  }
  status = db_->Get(rocksdb::ReadOptions(), kAppliedKey, &value);
  if (!status.ok() || value.size() != 8 + kSha256Bytes) return Answer(std::string("the checkpoint has no valid applied seq"));
  LoadedProjection loaded;
  loaded.applied_seq = ReadBigEndian64(value);
  std::copy(value.begin() + 8, value.end(), loaded.applied_hash.begin());
  if (loaded.applied_seq > ledger.head().seq) {
    return Answer("the checkpoint is at seq " + std::to_string(loaded.applied_seq) + ", beyond the ledger's head " +
                  std::to_string(ledger.head().seq));
  }
  if (loaded.applied_seq > 0) {
    Result<StoredEvent> event = ledger.ReadEvent(loaded.applied_seq);
    if (!event) return Answer("the ledger's event " + std::to_string(loaded.applied_seq) + " cannot be read: " + event.error().message);
    if (event->hash != loaded.applied_hash) return Answer(std::string("the checkpoint was made from a different ledger history"));
  }
  status = db_->Get(rocksdb::ReadOptions(), kCountKey, &value);
  if (!status.ok() || value.size() != 8) return Answer(std::string("the checkpoint has no ticket count"));
  const uint64_t expected_count = ReadBigEndian64(value);

  // The tickets' outlines: numbers and periods, in number order.
  TicketOutlines& outlines = loaded.outlines;
  outlines.numbers.reserve(expected_count);
  outlines.period_offsets.reserve(expected_count + 1);
  outlines.periods.reserve(expected_count + expected_count / 4);
  outlines.period_offsets.push_back(0);
  std::vector<Period> periods;
  std::string problem;
  Status scanned = ScanPrefix(db_.get(), kOutlinePrefix, [&](std::string_view key, std::string_view record) {
    if (key.size() != 9 || !DecodePeriods(record, &periods) || periods.empty()) {
      problem = "a saved ticket outline does not decode";
      return false;
    }
    outlines.numbers.push_back(ReadBigEndian64(key.substr(1)));
    outlines.periods.insert(outlines.periods.end(), periods.begin(), periods.end());
    outlines.period_offsets.push_back(static_cast<uint32_t>(outlines.periods.size()));
    return true;
  });
  if (!scanned) return scanned.error();
  if (!problem.empty()) return Answer(problem);
  if (outlines.numbers.size() != expected_count) {
    return Answer("the checkpoint holds " + std::to_string(outlines.numbers.size()) + " tickets, not the " +
                  std::to_string(expected_count) + " it says");
  }

  // The notification side, whole.
  NotificationQueue& queue = loaded.notifications;
  status = db_->Get(rocksdb::ReadOptions(), kNotificationCountersKey, &value);
  uint64_t orphans = 0;
  uint64_t duplicates = 0;
  ByteReader counters(value);
  if (!status.ok() || !counters.Varint(&orphans) || !counters.Varint(&duplicates) || !counters.done()) {
    return Answer(std::string("the checkpoint has no valid notification counters"));
  }
  queue.RestoreCounters(orphans, duplicates);
  scanned = ScanPrefix(db_.get(), kSubscriptionPrefix, [&](std::string_view key, std::string_view record) {
    std::set<std::string> systems;
    uint64_t last_change_seq = 0;
    if (key.size() < 2 || !DecodeSubscriptions(record, &systems, &last_change_seq)) {
      problem = "a saved subscription does not decode";
      return false;
    }
    queue.mutable_subscriptions().Restore(std::string(key.substr(1)), systems, last_change_seq);
    return true;
  });
  if (!scanned) return scanned.error();
  if (problem.empty()) {
    scanned = ScanPrefix(db_.get(), kNoticePrefix, [&](std::string_view key, std::string_view record) {
      Notice notice;
      if (key.size() != 9 || !DecodeNotice(ReadBigEndian64(key.substr(1)), record, &notice)) {
        problem = "a saved notice does not decode";
        return false;
      }
      queue.RestoreNotice(std::move(notice));
      return true;
    });
    if (!scanned) return scanned.error();
  }
  if (problem.empty()) {
    scanned = ScanPrefix(db_.get(), kJobPrefix, [&](std::string_view key, std::string_view record) {
      Job job;
      if (key.size() < 10 || !DecodeJob(record, &job)) {
        problem = "a saved notification job does not decode";
        return false;
      }
      job.key = JobKey{ReadBigEndian64(key.substr(1, 8)), std::string(key.substr(9))};
      queue.RestoreJob(std::move(job));
      return true;
    });
    if (!scanned) return scanned.error();
  }
  if (!problem.empty()) return Answer(problem);
  return Answer(std::move(loaded));
}

Result<TicketState> ProjectionCheckpoints::LoadTicket(uint64_t ticket_number) const {
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), NumberKey(kTicketPrefix, ticket_number), &value);
  if (status.IsNotFound()) return MakeError(ErrorCode::kNotFound, "no saved ticket " + std::to_string(ticket_number));
  if (!status.ok()) return IoError(status, "reading saved ticket " + std::to_string(ticket_number));
  TicketState state;
  if (!DecodeTicket(value, &state)) {
    return MakeError(ErrorCode::kCorruption, "saved ticket " + std::to_string(ticket_number) + " does not decode");
  }
  state.ticket_number = ticket_number;
  return state;
}

Status ProjectionCheckpoints::ForEachSavedTicket(
    const std::function<bool(uint64_t ticket_number, std::string_view record)>& visit) const {
  return ScanPrefix(db_.get(), kTicketPrefix, [&](std::string_view key, std::string_view record) {
    if (key.size() != 9) return true;  // not a ticket's key: LoadTicket will say so if asked
    return visit(ReadBigEndian64(key.substr(1)), record);
  });
}

Status ProjectionCheckpoints::SaveChanged(const TicketStore& tickets, const std::vector<uint64_t>& ticket_numbers,
                                          const NotificationQueue& queue, const NotificationChanges& changes,
                                          uint64_t applied_seq, const Sha256Digest& applied_hash) {
  rocksdb::WriteBatch batch;
  std::string scratch;
  for (const uint64_t number : ticket_numbers) {
    const TicketState* state = tickets.FindNumber(number);
    if (state == nullptr) continue;
    PutTicket(&batch, number, *state, &scratch);
  }
  const SubscriptionSet& subscriptions = queue.subscriptions();
  for (const std::string& email : changes.emails) {
    batch.Put(EmailKey(email), EncodeSubscriptions(subscriptions.Find(email), subscriptions.LastChangeSeq(email)));
  }
  for (const uint64_t seq : changes.notices) {
    if (const Notice* notice = queue.FindNotice(seq)) batch.Put(NumberKey(kNoticePrefix, seq), EncodeNotice(*notice));
  }
  for (const JobKey& key : changes.jobs) {
    if (const Job* job = queue.Find(key)) batch.Put(JobKeyOf(key), EncodeJob(*job));
  }
  if (changes.counters) batch.Put(kNotificationCountersKey, EncodeCounters(queue));
  batch.Put(kAppliedKey, EncodeApplied(applied_seq, applied_hash));
  batch.Put(kCountKey, EncodeCount(tickets.size()));
  std::lock_guard lock(validity_mutex_);
  if (!invalidated_) {
    batch.Put(kVersionKey, std::to_string(kTicketProjectionVersion));
    batch.Put(kNotificationsVersionKey, std::to_string(kNotificationProjectionVersion));
  }
  const rocksdb::Status written = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!written.ok()) return IoError(written, "saving the projection checkpoint");
  return {};
}

namespace {

// One table file of SaveAll, written in key order.
class TableFile {
 public:
  TableFile(std::string path, const rocksdb::Options& options)
      : path_(std::move(path)), writer_(rocksdb::EnvOptions(), options) {
    status_ = writer_.Open(path_);
  }
  void Put(const std::string& key, const std::string& value) {
    if (!status_.ok()) return;
    status_ = writer_.Put(key, value);
    ++entries_;
  }
  // Finishes the file (synced); a file with no entries is not written.
  rocksdb::Status Finish() {
    if (status_.ok() && entries_ > 0) status_ = writer_.Finish();
    return status_;
  }
  bool empty() const { return entries_ == 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  rocksdb::SstFileWriter writer_;
  rocksdb::Status status_;
  size_t entries_ = 0;
};

void PutTickets(TableFile* file, const std::vector<const TicketStore::Entry*>& entries, size_t begin, size_t end) {
  std::string value;
  for (size_t i = begin; i < end; ++i) {
    value.clear();
    EncodeTicket(entries[i]->second, &value);
    file->Put(NumberKey(kTicketPrefix, entries[i]->first), value);
  }
}

}  // namespace

Status ProjectionCheckpoints::SaveAll(const TicketStore& tickets, const NotificationQueue& queue, uint64_t applied_seq,
                                      const Sha256Digest& applied_hash) {
  // Everything is written into table files in key order and ingested
  // together: RocksDB makes an ingestion visible atomically, and it skips
  // the write-ahead log, the memtable and the later flush that ~70 MB of
  // records for 200,000 tickets would otherwise go through. The old records
  // are deleted first; a crash in between leaves no checkpoint (a rebuild
  // at the next start), never a mix.
  //
  // Encoding and compressing the tickets is most of the work, so the first
  // part of them goes to a table of its own written on a second thread:
  // file 1 holds 'j' jobs and the first tickets, file 2 the other tickets,
  // 'm' metadata, 'n' notices, 'p' outlines and 'u' subscriptions. The two
  // key ranges do not overlap.
  std::vector<const TicketStore::Entry*> entries;
  entries.reserve(tickets.size());
  for (const TicketStore::Entry& entry : tickets.all()) entries.push_back(&entry);
  // File 2 also holds the outlines, the notices and the rest, about a third
  // of the work for 200,000 tickets: file 1 takes three quarters of them.
  const size_t split = entries.size() < kSaveSplitTicketsMin ? 0 : entries.size() * 3 / 4;
  rocksdb::Options options = db_->GetOptions();
  // 16 KiB blocks rather than 4 KiB: a third smaller once compressed
  // (~31 MB for 200,000 tickets instead of ~44 MB) and a little faster to
  // write; a ticket built on first use reads one block either way.
  rocksdb::BlockBasedTableOptions table;
  table.block_size = kSaveBlockBytes;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  TableFile first(db_->GetName() + "/" + std::string(kRebuildTableFile) + ".1", options);
  TableFile second(db_->GetName() + "/" + std::string(kRebuildTableFile) + ".2", options);
  rocksdb::Status first_status;
  std::thread writer([&] {
    for (const auto& [key, job] : queue.jobs()) first.Put(JobKeyOf(key), EncodeJob(job));
    PutTickets(&first, entries, 0, split);
    first_status = first.Finish();
  });
  PutTickets(&second, entries, split, entries.size());
  std::map<std::string, std::string> metadata = {
      {std::string(kAppliedKey), EncodeApplied(applied_seq, applied_hash)},
      {std::string(kNotificationCountersKey), EncodeCounters(queue)},
      {std::string(kNotificationsVersionKey), std::to_string(kNotificationProjectionVersion)},
      {std::string(kCountKey), EncodeCount(tickets.size())},
      {std::string(kVersionKey), std::to_string(kTicketProjectionVersion)},
  };
  for (const auto& [key, record] : metadata) second.Put(key, record);
  for (const auto& [seq, notice] : queue.notices()) second.Put(NumberKey(kNoticePrefix, seq), EncodeNotice(notice));
  std::string value;
  for (const TicketStore::Entry* entry : entries) {
    value.clear();
    EncodePeriods(entry->second.periods, &value);
    second.Put(NumberKey(kOutlinePrefix, entry->first), value);
  }
  const SubscriptionSet& subscriptions = queue.subscriptions();
  for (const auto& [email, seq] : subscriptions.last_changes()) {
    second.Put(EmailKey(email), EncodeSubscriptions(subscriptions.Find(email), seq));
  }
  rocksdb::Status status = second.Finish();
  writer.join();
  if (status.ok()) status = first_status;
  std::vector<std::string> files;
  for (const TableFile* file : {&first, &second}) {
    if (file->empty()) {
      std::remove(file->path().c_str());  // opened, never written
    } else {
      files.push_back(file->path());
    }
  }
  std::lock_guard lock(validity_mutex_);
  if (status.ok()) {
    rocksdb::WriteOptions synced;
    synced.sync = true;
    // Every key starts with a letter: this range is all of them.
    status = db_->DeleteRange(synced, db_->DefaultColumnFamily(), std::string(1, '\0'), std::string(1, '\x7f'));
  }
  if (status.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    status = db_->IngestExternalFile(files, ingest);
  }
  if (!status.ok()) {
    // A leftover only wastes space: nothing reads it.
    for (const TableFile* file : {&first, &second}) std::remove(file->path().c_str());
    return IoError(status, "saving the projection checkpoint");
  }
  invalidated_ = false;
  return {};
}

Status ProjectionCheckpoints::Invalidate() {
  std::lock_guard lock(validity_mutex_);
  invalidated_ = true;
  const rocksdb::Status written = db_->Put(rocksdb::WriteOptions(), kVersionKey, kInvalidatedVersion);
  if (!written.ok()) return IoError(written, "marking the projection checkpoint unusable");
  return {};
}

}  // namespace ledger::projections
