#include "projections/notification_projection.h"

#include <algorithm>
#include <atomic>

#include <malloc.h>

#include "common/encoding.h"
#include "projections/checkpoint.h"
#include "projections/ticket_codec.h"

namespace ledger::projections {
namespace {

constexpr char kSubscriptionPrefix = 'u';
constexpr char kNoticePrefix = 'n';
constexpr char kJobPrefix = 'j';
constexpr std::string_view kNotificationsVersionKey = "mnotifications_version";
constexpr std::string_view kNotificationCountersKey = "mnotification_counters";
constexpr size_t kEmailRecordSystemsMax = 1 << 16;
constexpr size_t kNoticeChangedMax = 64;
// Jobs archived at once from which Saved hands freed memory back.
constexpr size_t kArchivedTrimMin = 10'000;
std::atomic<size_t> archived_since_trim{0};

bool IsIncidentEvent(proto::EventType type) {
  return type == proto::INCIDENT_OPENED || type == proto::INCIDENT_UPDATED || type == proto::INCIDENT_CLOSED ||
         type == proto::INCIDENT_REOPENED;
}

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

std::string EncodeCounters(const NotificationQueue& queue) {
  std::string value;
  ByteWriter writer(&value);
  writer.Varint(queue.orphan_receipts());
  writer.Varint(queue.duplicate_deliveries());
  return value;
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
//         strings affected_systems | event_hash (32 bytes) |
//         string follow_up (version 2)
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
  writer.String(notice.follow_up);
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
      !reader.Raw(kSha256Bytes, &hash) || !reader.String(&notice->follow_up) || !reader.done()) {
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

CheckpointKeys NotificationProjection::checkpoint_keys() const {
  return CheckpointKeys{.version_key = kNotificationsVersionKey,
                        .prefixes = {std::string_view(&kSubscriptionPrefix, 1), std::string_view(&kNoticePrefix, 1),
                                     std::string_view(&kJobPrefix, 1), kNotificationCountersKey}};
}

void NotificationProjection::Prepare(const proto::Event& event) {
  history_wanted_ = IsIncidentEvent(event.type()) && queue_.wants_ticket_history();
  if (!history_wanted_) return;
  // The notification side needs the ticket's systems from before the event.
  const TicketState* before = tickets_->Find(event.ticket());
  existed_before_ = before != nullptr;
  if (before != nullptr) {
    systems_before_ = before->systems;
  } else {
    systems_before_.clear();
  }
}

void NotificationProjection::Apply(const proto::Event& event, const Sha256Digest& hash) {
  queue_.set_names(tickets_->store().names());
  if (IsMaintenanceEvent(event.type())) {
    history_wanted_ = false;
    queue_.ApplyMaintenance(event, hash, maintenance_->store().Find(event.ticket()));
    return;
  }
  if (IsFollowUpNoticeEvent(event.type())) {
    history_wanted_ = false;
    queue_.ApplyFollowUp(event, hash, tickets_->Find(FollowUpTicketOf(event)), follow_ups_->state());
    return;
  }
  if (!history_wanted_) {
    queue_.ApplyFollowing(event, hash, nullptr, nullptr);  // incident events notify nobody now
    return;
  }
  history_wanted_ = false;
  // The ticket fold changed a ticket exactly when the event carries an
  // incident payload for a ticket that exists after it.
  const TicketState* after = event.has_incident() ? tickets_->Find(event.ticket()) : nullptr;
  queue_.ApplyFollowing(event, hash, existed_before_ ? &systems_before_ : nullptr, after);
}

void NotificationProjection::TrackChanges(bool on) {
  tracking_ = on;
  queue_.TrackChanges(on);
  if (!on) (void)queue_.TakeChanges();  // forgotten: a whole save follows
}

void NotificationProjection::AttachArchive(const ProjectionCheckpoints* checkpoints) {
  archive_.checkpoints = checkpoints;
  queue_.SetArchive(checkpoints != nullptr ? &archive_ : nullptr);
}

void NotificationProjection::Clear() {
  queue_ = NotificationQueue();
  queue_.TrackChanges(tracking_);
  queue_.SetArchive(archive_.checkpoints != nullptr ? &archive_ : nullptr);
  history_wanted_ = false;
}

void NotificationProjection::SaveChanges(CheckpointWriter* batch) {
  const NotificationChanges changes = queue_.TakeChanges();
  const SubscriptionSet& subscriptions = queue_.subscriptions();
  for (const std::string& email : changes.emails) {
    batch->Put(EmailKey(email), EncodeSubscriptions(subscriptions.Find(email), subscriptions.LastChangeSeq(email)));
  }
  for (const uint64_t seq : changes.notices) {
    if (const Notice* notice = queue_.FindNotice(seq)) batch->Put(NumberKey(kNoticePrefix, seq), EncodeNotice(*notice));
  }
  for (const JobKey& key : changes.jobs) {
    if (const Job* job = queue_.Find(key)) batch->Put(JobKeyOf(key), EncodeJob(*job));
  }
  if (changes.counters) batch->Put(kNotificationCountersKey, EncodeCounters(queue_));
}

void NotificationProjection::Saved() {
  // Freed map nodes stay in the allocator's free lists, scattered between
  // live ones; once many jobs have left (a burst of mail, a rebuild's whole
  // save) hand the free pages back, so that resident memory shows what is
  // held rather than the peak in flight.
  const size_t archived = queue_.ArchiveSent();
  if (archived == 0) return;
  // One count for the process: the allocator's free pages are the
  // process's, whichever queue freed them.
  if (archived_since_trim.fetch_add(archived) + archived < kArchivedTrimMin) return;
  archived_since_trim.store(0);
  // glibc's: where the process allocates with jemalloc (the service's
  // release build), this finds nothing to hand back, and jemalloc returns
  // free pages by itself after its decay time.
  malloc_trim(0);
}

Status NotificationProjection::CheckpointJobArchive::ScanJobs(uint64_t seq, std::string_view after_recipient,
                                                              const std::function<bool(Job job)>& visit) const {
  LEDGER_ASSERT(checkpoints != nullptr);
  const std::string prefix = NumberKey(kJobPrefix, seq);
  std::string from = prefix;
  from += after_recipient;
  if (!after_recipient.empty()) from.push_back('\0');  // the first key after it
  bool corrupt = false;
  Status scanned = checkpoints->ScanFrom(from, prefix, [&](std::string_view key, std::string_view value) {
    Job job;
    if (key.size() <= prefix.size() || !DecodeJob(value, &job)) {
      corrupt = true;
      return false;
    }
    job.key = JobKey{seq, std::string(key.substr(prefix.size()))};
    return visit(std::move(job));
  });
  if (!scanned) return scanned;
  if (corrupt) {
    return MakeError(ErrorCode::kCorruption, "a saved notification job of event " + std::to_string(seq) +
                                                 " does not decode; delete the projections folder to rebuild it");
  }
  return {};
}

Result<std::optional<Job>> NotificationProjection::CheckpointJobArchive::FindJob(const JobKey& key) const {
  LEDGER_ASSERT(checkpoints != nullptr);
  Result<std::optional<std::string>> value = checkpoints->Get(JobKeyOf(key));
  if (!value) return value.error();
  if (!*value) return std::optional<Job>();
  Job job;
  if (!DecodeJob(**value, &job)) {
    return MakeError(ErrorCode::kCorruption, "a saved notification job of event " + std::to_string(key.seq) +
                                                 " does not decode; delete the projections folder to rebuild it");
  }
  job.key = key;
  return std::optional<Job>(std::move(job));
}

void NotificationProjection::SaveWhole(CheckpointTables* tables) const {
  // A whole save follows a fold from seq 1: nothing is archived yet, so
  // memory holds every job (see the top of notification_projection.h).
  LEDGER_ASSERT(queue_.archived().empty());
  // One table per prefix: 'j' < 'm' < 'n' < 'u', and the ticket
  // projection's keys lie between them.
  CheckpointWriter* jobs = tables->NewTable();
  CheckpointWriter* counters = tables->NewTable();
  CheckpointWriter* notices = tables->NewTable();
  CheckpointWriter* subscriptions = tables->NewTable();
  ForEachNotificationRecord(queue_, [&](const std::string& key, const std::string& value) {
    switch (key.front()) {
      case kJobPrefix: jobs->Put(key, value); break;
      case kNoticePrefix: notices->Put(key, value); break;
      case kSubscriptionPrefix: subscriptions->Put(key, value); break;
      default: counters->Put(key, value); break;
    }
  });
}

Result<LoadOutcome> NotificationProjection::Load(const CheckpointReader& reader) {
  Clear();
  NotificationQueue& queue = queue_;
  Result<std::optional<std::string>> value = reader.Get(kNotificationCountersKey);
  if (!value) return value.error();
  uint64_t orphans = 0;
  uint64_t duplicates = 0;
  const std::string saved_counters = value->value_or("");
  ByteReader counters(saved_counters);
  if (!*value || !counters.Varint(&orphans) || !counters.Varint(&duplicates) || !counters.done()) {
    return LoadOutcome::Unusable("the checkpoint has no valid notification counters");
  }
  queue.RestoreCounters(orphans, duplicates);
  std::string problem;
  Status scanned = reader.Scan(std::string_view(&kSubscriptionPrefix, 1), [&](std::string_view key, std::string_view record) {
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
  // Jobs before notices: a notice whose jobs are all archived keeps only
  // its summary (NotificationQueue::RestoreNotice).
  if (problem.empty()) {
    scanned = reader.Scan(std::string_view(&kJobPrefix, 1), [&](std::string_view key, std::string_view record) {
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
  if (problem.empty()) {
    scanned = reader.Scan(std::string_view(&kNoticePrefix, 1), [&](std::string_view key, std::string_view record) {
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
  if (!problem.empty()) {
    Clear();
    return LoadOutcome::Unusable(problem);
  }
  return LoadOutcome{};
}

}  // namespace ledger::projections
