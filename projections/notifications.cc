#include "projections/notifications.h"

#include <algorithm>
#include <mutex>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "projections/read_model.h"

namespace ledger::projections {
namespace {

bool IsIncidentEvent(proto::EventType type) {
  return type == proto::INCIDENT_OPENED || type == proto::INCIDENT_UPDATED || type == proto::INCIDENT_CLOSED ||
         type == proto::INCIDENT_REOPENED;
}

// The payload fields an incident event carried, by their proto names, in
// field number order. Read through reflection so that a new payload field is
// reported without naming it here: ingest/fields.h keeps one table row per
// proto field, in this same order and under the same names (it checks so),
// and the mail turns these names into its labels through that table.
std::vector<std::string> ChangedFields(const proto::IncidentPayload& payload) {
  std::vector<const google::protobuf::FieldDescriptor*> present;
  payload.GetReflection()->ListFields(payload, &present);  // sorted by field number
  std::vector<std::string> changed;
  changed.reserve(present.size());
  for (const google::protobuf::FieldDescriptor* field : present) changed.push_back(field->name());
  return changed;
}

}  // namespace

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kPending: return "pending";
    case JobState::kSent: return "sent";
    case JobState::kFailed: return "failed";
  }
  return "pending";
}

void SubscriptionSet::Apply(const proto::Event& event) {
  if (!event.has_subscription()) return;
  const proto::SubscriptionPayload& payload = event.subscription();
  const std::string& email = payload.email();
  if (event.type() == proto::SUBSCRIPTION_ADDED) {
    for (const std::string& system : payload.systems()) {
      const std::string folded = FoldSystem(system);
      by_email_[email].insert(folded);
      by_system_[folded].insert(email);
    }
  } else if (event.type() == proto::SUBSCRIPTION_REMOVED) {
    const auto found = by_email_.find(email);
    for (const std::string& system : payload.systems()) {
      const std::string folded = FoldSystem(system);
      if (found != by_email_.end()) found->second.erase(folded);
      if (const auto emails = by_system_.find(folded); emails != by_system_.end()) {
        emails->second.erase(email);
        if (emails->second.empty()) by_system_.erase(emails);
      }
    }
    if (found != by_email_.end() && found->second.empty()) by_email_.erase(found);
  } else {
    return;
  }
  last_change_seq_[email] = event.seq();
}

void SubscriptionSet::Restore(const std::string& email, const std::set<std::string>& systems, uint64_t last_change_seq) {
  if (!systems.empty()) by_email_[email] = systems;
  for (const std::string& system : systems) by_system_[system].insert(email);
  last_change_seq_[email] = last_change_seq;
}

std::vector<std::string> SubscriptionSet::RecipientsFor(const std::vector<std::string>& systems,
                                                        const SystemNames& names) const {
  std::set<std::string_view> recipients;
  // Every distinct entry subscribed to (few: systems, groups and "*"),
  // each looked at once.
  for (const auto& [entry, emails] : by_system_) {
    if (!names.CoversAny(entry, systems)) continue;
    for (const std::string& email : emails) recipients.insert(email);
  }
  return std::vector<std::string>(recipients.begin(), recipients.end());
}

const std::set<std::string>* SubscriptionSet::Find(std::string_view email) const {
  const auto found = by_email_.find(email);
  return found == by_email_.end() ? nullptr : &found->second;
}

uint64_t SubscriptionSet::LastChangeSeq(std::string_view email) const {
  const auto found = last_change_seq_.find(email);
  return found == last_change_seq_.end() ? 0 : found->second;
}

bool IsFollowUpNoticeEvent(proto::EventType type) {
  return type == proto::REVIEW_PUBLISHED || type == proto::ACTION_ITEM_ADDED || type == proto::ACTION_ITEM_UPDATED ||
         type == proto::ACTION_ITEM_OVERDUE;
}

std::string FollowUpTicketOf(const proto::Event& event) {
  if (!event.ticket().empty()) return event.ticket();
  if (!event.has_action_item()) return {};
  const std::optional<ParsedItemId> parsed = ParseActionItemId(event.action_item().item());
  return parsed ? parsed->ticket : std::string();
}

bool IsMaintenanceNoticeEvent(proto::EventType type) {
  return type == proto::MAINTENANCE_SCHEDULED || type == proto::MAINTENANCE_STARTED || type == proto::MAINTENANCE_ENDED;
}

namespace {

void SetTimestamp(proto::Timestamp* timestamp, const Instant& instant) {
  timestamp->set_unix_micros(instant.unix_micros);
  timestamp->set_offset_minutes(instant.offset_minutes);
}

}  // namespace

proto::MaintenancePayload WholeWindowPayload(const MaintenanceWindow& window) {
  proto::MaintenancePayload payload;
  payload.set_title(window.title);
  for (const std::string& system : window.systems) payload.mutable_systems()->add_names(system);
  payload.set_description(window.description);
  payload.set_link(window.link);
  SetTimestamp(payload.mutable_starts_at(), window.starts_at);
  SetTimestamp(payload.mutable_ends_at(), window.ends_at);
  if (window.started_at) SetTimestamp(payload.mutable_started_at(), *window.started_at);
  if (window.ended_at) SetTimestamp(payload.mutable_ended_at(), *window.ended_at);
  return payload;
}

void NotificationQueue::Apply(const StoredEvent& stored) {
  const proto::Event& event = stored.event;
  (void)follow_ups_.Apply(event);
  if (IsMaintenanceEvent(event.type())) {
    const std::optional<uint64_t> changed = maintenance_.Apply(event);
    ApplyMaintenance(event, stored.hash, changed ? maintenance_.FindNumber(*changed) : nullptr);
    return;
  }
  if (IsFollowUpNoticeEvent(event.type())) {
    ApplyFollowUp(event, stored.hash, tickets_.Find(FollowUpTicketOf(event)), follow_ups_);
    return;
  }
  if (!IsIncidentEvent(event.type())) {
    ApplyFollowing(event, stored.hash, nullptr, nullptr);
    return;
  }
  std::vector<std::string> systems_before;
  const TicketState* before = tickets_.Find(event.ticket());
  if (before != nullptr) systems_before = before->systems;
  const std::optional<uint64_t> changed = tickets_.Apply(event);
  ApplyFollowing(event, stored.hash, before != nullptr ? &systems_before : nullptr,
                 changed ? tickets_.FindNumber(*changed) : nullptr);
}

void NotificationQueue::ApplyFollowing(const proto::Event& event, const Sha256Digest& hash,
                                       const std::vector<std::string>* systems_before, const TicketState* after) {
  switch (event.type()) {
    case proto::SUBSCRIPTION_ADDED:
    case proto::SUBSCRIPTION_REMOVED:
      subscriptions_.Apply(event);
      if (tracking_ && event.has_subscription()) changes_.emails.insert(event.subscription().email());
      return;
    case proto::NOTIFICATION_DELIVERED:
    case proto::NOTIFICATION_FAILED:
      if (event.has_notification()) ApplyReceipt(event, event.notification(), event.type() == proto::NOTIFICATION_DELIVERED);
      return;
    case proto::NOTIFICATION_RECEIPTS:
      if (!event.has_receipts()) return;
      for (const proto::NotificationReceipt& receipt : event.receipts().delivered()) ApplyReceipt(event, receipt, true);
      for (const proto::NotificationReceipt& receipt : event.receipts().failed()) ApplyReceipt(event, receipt, false);
      return;
    case proto::NOTIFICATION_RETRY_REQUESTED:
      ApplyRetry(event);
      return;
    case proto::SHEET_ROW_REFUSED:
      ApplySheetRowRefused(event, hash);
      return;
    default:
      if (IsIncidentEvent(event.type())) ApplyIncident(event, hash, systems_before, after);
      return;
  }
}

void NotificationQueue::ApplyIncident(const proto::Event& event, const Sha256Digest& hash,
                                      const std::vector<std::string>* systems_before, const TicketState* after) {
  if (!event.has_incident() || !wants_ticket_history()) return;
  // An event the ticket fold refused (e.g. an update of an unknown ticket,
  // which the processor never appends) notifies nobody.
  if (after == nullptr || after->last_seq != event.seq()) return;
  // Subscribers hear nothing of an incident that is internal after the
  // event (see the top of notifications.h).
  if (IsInternal(*after)) return;
  std::vector<std::string> affected;
  if (systems_before != nullptr) affected = *systems_before;
  for (const std::string& system : after->systems) {
    if (std::find(affected.begin(), affected.end(), system) == affected.end()) affected.push_back(system);
  }
  const std::vector<std::string> recipients = subscriptions_.RecipientsFor(affected, names_);
  if (recipients.empty()) return;

  Notice& notice = notices_[event.seq()];
  notice.seq = event.seq();
  notice.recorded_at_micros = event.recorded_at_micros();
  notice.type = event.type();
  notice.ticket = event.ticket();
  notice.changed = ChangedFields(event.incident());
  notice.ticket_state = *after;
  notice.affected_systems = std::move(affected);
  notice.event_hash = hash;
  if (tracking_) changes_.notices.insert(event.seq());

  for (const std::string& recipient : recipients) AddJob(event.seq(), recipient, event.ticket());
}

void NotificationQueue::AddJob(uint64_t seq, const std::string& recipient, const std::string& ticket) {
  JobKey key{seq, recipient};
  if (jobs_.contains(key)) return;
  Job& job = jobs_[key];
  job.key = key;
  job.ticket = ticket;
  job.state = JobState::kPending;
  if (tracking_) changes_.jobs.insert(key);
  pending_.insert(std::move(key));
  counts_.pending += 1;
}

void NotificationQueue::ApplyFollowUp(const proto::Event& event, const Sha256Digest& hash, const TicketState* ticket,
                                      const FollowUpState& follow_ups) {
  if (ticket == nullptr || !IsFollowUpNoticeEvent(event.type())) return;
  std::vector<std::string> recipients;
  std::string follow_up;
  if (event.type() == proto::REVIEW_PUBLISHED) {
    if (!event.has_review() || IsInternal(*ticket)) return;
    recipients = subscriptions_.RecipientsFor(ticket->systems, names_);
    LEDGER_ASSERT(event.review().SerializeToString(&follow_up));
  } else {
    if (!event.has_action_item()) return;
    const proto::ActionItemPayload& payload = event.action_item();
    const ActionItem* item = follow_ups.FindItem(payload.item());
    if (item == nullptr) return;
    // The fold refused an add or update it did not apply (never appended).
    if (event.type() != proto::ACTION_ITEM_OVERDUE && item->last_seq != event.seq()) return;
    // An update mails only a new owner (ingest leaves an unchanged owner out).
    if (event.type() == proto::ACTION_ITEM_UPDATED && !payload.has_owner()) return;
    if (item->owner.empty()) return;
    recipients.push_back(item->owner);
    proto::ActionItemPayload whole;
    whole.set_item(item->item);
    whole.set_title(item->title);
    whole.set_owner(item->owner);
    whole.set_due(event.type() == proto::ACTION_ITEM_OVERDUE ? payload.due() : item->due);
    whole.set_link(item->link);
    whole.set_note(item->note);
    whole.set_status(item->status == ItemStatus::kDone      ? proto::ACTION_ITEM_DONE
                     : item->status == ItemStatus::kDropped ? proto::ACTION_ITEM_DROPPED
                                                            : proto::ACTION_ITEM_OPEN);
    LEDGER_ASSERT(whole.SerializeToString(&follow_up));
  }
  if (recipients.empty()) return;
  Notice& notice = notices_[event.seq()];
  notice.seq = event.seq();
  notice.recorded_at_micros = event.recorded_at_micros();
  notice.type = event.type();
  notice.ticket = ticket->ticket;
  notice.changed.clear();
  notice.ticket_state = *ticket;
  notice.affected_systems = event.type() == proto::REVIEW_PUBLISHED ? ticket->systems : std::vector<std::string>{};
  notice.event_hash = hash;
  notice.follow_up = std::move(follow_up);
  if (tracking_) changes_.notices.insert(event.seq());
  for (const std::string& recipient : recipients) AddJob(event.seq(), recipient, ticket->ticket);
}

void NotificationQueue::ApplyMaintenance(const proto::Event& event, const Sha256Digest& hash,
                                         const MaintenanceWindow* window) {
  if (window == nullptr || !IsMaintenanceNoticeEvent(event.type()) || !wants_ticket_history()) return;
  // An event the fold refused (never appended) notifies nobody.
  if (window->last_seq != event.seq()) return;
  const std::vector<std::string> recipients = subscriptions_.RecipientsFor(window->systems, names_);
  if (recipients.empty()) return;
  Notice& notice = notices_[event.seq()];
  notice.seq = event.seq();
  notice.recorded_at_micros = event.recorded_at_micros();
  notice.type = event.type();
  notice.ticket = window->window;
  notice.changed.clear();
  notice.ticket_state = TicketState{};
  notice.ticket_state.ticket = window->window;
  notice.affected_systems = window->systems;
  notice.event_hash = hash;
  LEDGER_ASSERT(WholeWindowPayload(*window).SerializeToString(&notice.follow_up));
  if (tracking_) changes_.notices.insert(event.seq());
  for (const std::string& recipient : recipients) AddJob(event.seq(), recipient, window->window);
}

void NotificationQueue::ApplySheetRowRefused(const proto::Event& event, const Sha256Digest& hash) {
  if (!event.has_sheet_row_refused() || event.sheet_row_refused().submitter().empty()) return;
  const std::string& submitter = event.sheet_row_refused().submitter();
  Notice& notice = notices_[event.seq()];
  notice.seq = event.seq();
  notice.recorded_at_micros = event.recorded_at_micros();
  notice.type = event.type();
  notice.ticket.clear();
  notice.changed.clear();
  notice.ticket_state = TicketState{};
  notice.affected_systems.clear();
  notice.event_hash = hash;
  LEDGER_ASSERT(event.sheet_row_refused().SerializeToString(&notice.follow_up));
  if (tracking_) changes_.notices.insert(event.seq());
  AddJob(event.seq(), submitter, "");
}

NotificationChanges NotificationQueue::TakeChanges() {
  NotificationChanges taken = std::move(changes_);
  changes_ = NotificationChanges{};
  taken.jobs.insert(unarchived_sent_.begin(), unarchived_sent_.end());
  return taken;
}

uint32_t NotificationQueue::AddressNumber(const std::string& address) {
  const auto [found, added] = address_numbers_.try_emplace(address, static_cast<uint32_t>(addresses_.size()));
  if (added) {
    LEDGER_ASSERT(addresses_.size() < UINT32_MAX);
    addresses_.push_back(&found->first);
  }
  return found->second;
}

bool NotificationQueue::IsArchivedSent(const JobKey& key) const {
  const auto notice = archived_.find(key.seq);
  if (notice == archived_.end()) return false;
  const auto number = address_numbers_.find(key.recipient);
  if (number == address_numbers_.end()) return false;
  return notice->second.sent.Contains(number->second);
}

void NotificationQueue::ArchiveJob(const JobKey& key, proto::EventType type, const std::string& ticket) {
  ArchivedNotice& notice = archived_[key.seq];
  if (notice.type == proto::EVENT_TYPE_UNSPECIFIED) notice.type = type;
  if (notice.ticket.empty()) notice.ticket = ticket;
  notice.sent.Insert(AddressNumber(key.recipient));
}

size_t NotificationQueue::ArchiveSent() {
  if (archive_ == nullptr) return 0;
  size_t archived = 0;
  for (const JobKey& key : unarchived_sent_) {
    const auto job = jobs_.find(key);
    if (job == jobs_.end() || job->second.state != JobState::kSent) continue;
    const Notice* notice = FindNotice(key.seq);
    ArchiveJob(key, notice != nullptr ? notice->type : proto::EVENT_TYPE_UNSPECIFIED, job->second.ticket);
    jobs_.erase(job);
    archived += 1;
    // The notice (and its ticket copy) goes with its event's last job in memory.
    const auto next = jobs_.lower_bound(JobKey{key.seq, ""});
    if (next == jobs_.end() || next->first.seq != key.seq) notices_.erase(key.seq);
  }
  unarchived_sent_.clear();
  return archived;
}

void NotificationQueue::RestoreNotice(Notice notice) {
  const uint64_t seq = notice.seq;
  if (const auto archived = archived_.find(seq); archived != archived_.end()) {
    archived->second.type = notice.type;
    archived->second.ticket = notice.ticket;
    const auto next = jobs_.lower_bound(JobKey{seq, ""});
    if (next == jobs_.end() || next->first.seq != seq) return;  // every job of it is archived
  }
  notices_[seq] = std::move(notice);
}

void NotificationQueue::RestoreJob(Job job) {
  if (archive_ != nullptr && job.state == JobState::kSent && !jobs_.contains(job.key)) {
    if (!IsArchivedSent(job.key)) counts_.sent += 1;
    ArchiveJob(job.key, proto::EVENT_TYPE_UNSPECIFIED, job.ticket);
    return;
  }
  if (const auto found = jobs_.find(job.key); found != jobs_.end()) {
    SetState(&found->second, job.state);  // moves the counts and the pending set along
    found->second = std::move(job);
    return;
  }
  switch (job.state) {
    case JobState::kPending:
      pending_.insert(job.key);
      counts_.pending += 1;
      break;
    case JobState::kSent: counts_.sent += 1; break;
    case JobState::kFailed:
      failed_.insert(job.key);
      counts_.failed += 1;
      break;
  }
  JobKey key = job.key;
  jobs_.emplace(std::move(key), std::move(job));
}

void NotificationQueue::RestoreCounters(uint64_t orphan_receipts, uint64_t duplicate_deliveries) {
  orphan_receipts_ = orphan_receipts;
  duplicate_deliveries_ = duplicate_deliveries;
}

void NotificationQueue::SetState(Job* job, JobState state) {
  if (job->state == state) return;
  const auto count = [this](JobState of) -> uint64_t& {
    switch (of) {
      case JobState::kSent: return counts_.sent;
      case JobState::kFailed: return counts_.failed;
      default: return counts_.pending;
    }
  };
  count(job->state) -= 1;
  count(state) += 1;
  if (job->state == JobState::kPending) pending_.erase(job->key);
  if (job->state == JobState::kFailed) failed_.erase(job->key);
  if (state == JobState::kPending) pending_.insert(job->key);
  if (state == JobState::kFailed) failed_.insert(job->key);
  job->state = state;
}

void NotificationQueue::ApplyReceipt(const proto::Event& event, const proto::NotificationReceipt& receipt,
                                     bool delivered) {
  const auto found = jobs_.find(JobKey{receipt.incident_seq(), receipt.recipient()});
  if (found == jobs_.end() && IsArchivedSent(JobKey{receipt.incident_seq(), receipt.recipient()})) {
    // A receipt for a sent job that left memory: counted as below.
    if (delivered) duplicate_deliveries_ += 1;
    if (tracking_) changes_.counters = true;
    return;
  }
  if (found == jobs_.end()) {
    orphan_receipts_ += 1;
    if (tracking_) changes_.counters = true;
    return;
  }
  Job& job = found->second;
  if (job.state == JobState::kSent) {
    if (delivered) duplicate_deliveries_ += 1;
    if (tracking_) changes_.counters = true;
    return;
  }
  if (tracking_) changes_.jobs.insert(found->first);
  job.attempts += 1;
  job.last_attempt_at_micros = event.recorded_at_micros();
  job.last_receipt_seq = event.seq();
  job.message_id = receipt.message_id();
  job.last_smtp_code = receipt.smtp_code();
  if (delivered) {
    job.sent_at_micros = event.recorded_at_micros();
    SetState(&job, JobState::kSent);
    if (archive_ != nullptr) unarchived_sent_.insert(found->first);
    return;
  }
  job.last_error = receipt.error();
  job.last_failure_server_unavailable = receipt.server_unavailable();
  if (!receipt.server_unavailable()) job.job_failures += 1;
  // A gave_up receipt ends a pending job. A receipt for a job already
  // failed (the worker never sends one; only a retry makes it pending
  // again) is folded the same way.
  SetState(&job, receipt.gave_up() ? JobState::kFailed : JobState::kPending);
}

void NotificationQueue::ApplyRetry(const proto::Event& event) {
  if (!event.has_retry()) return;
  for (const proto::RetriedJob& retried : event.retry().jobs()) {
    const auto found = jobs_.find(JobKey{retried.incident_seq(), retried.recipient()});
    if (found == jobs_.end() || found->second.state != JobState::kFailed) continue;
    Job& job = found->second;
    // Attempts and the last error stay as history; the retry limit counts
    // again from zero, and the job is ready at once.
    job.job_failures = 0;
    job.last_failure_server_unavailable = false;
    SetState(&job, JobState::kPending);
    if (tracking_) changes_.jobs.insert(found->first);
  }
}

const Job* NotificationQueue::Find(const JobKey& key) const {
  const auto found = jobs_.find(key);
  return found == jobs_.end() ? nullptr : &found->second;
}

const Notice* NotificationQueue::FindNotice(uint64_t seq) const {
  const auto found = notices_.find(seq);
  return found == notices_.end() ? nullptr : &found->second;
}

std::optional<JobState> NotificationQueue::StateOf(const JobKey& key) const {
  if (const Job* job = Find(key)) return job->state;
  if (IsArchivedSent(key)) return JobState::kSent;
  return std::nullopt;
}

std::optional<proto::EventType> NotificationQueue::NoticeType(uint64_t seq) const {
  if (const Notice* notice = FindNotice(seq)) return notice->type;
  const auto archived = archived_.find(seq);
  if (archived == archived_.end() || archived->second.type == proto::EVENT_TYPE_UNSPECIFIED) return std::nullopt;
  return archived->second.type;
}

void NotificationQueue::ForEachJobState(uint64_t seq,
                                        const std::function<void(std::string_view, JobState)>& visit) const {
  for (auto it = jobs_.lower_bound(JobKey{seq, ""}); it != jobs_.end() && it->first.seq == seq; ++it) {
    visit(it->first.recipient, it->second.state);
  }
  if (const auto archived = archived_.find(seq); archived != archived_.end()) {
    archived->second.sent.ForEach([&](uint32_t number) { visit(*addresses_[number], JobState::kSent); });
  }
}

namespace {

bool Matches(const JobFilter& filter, const Job& job) {
  if (filter.state && job.state != *filter.state) return false;
  if (filter.ticket && job.ticket != *filter.ticket) return false;
  if (filter.seq && job.key.seq != *filter.seq) return false;
  if (filter.recipient && job.key.recipient != *filter.recipient) return false;
  return !filter.after || job.key > *filter.after;
}

}  // namespace

Status NotificationQueue::VisitEvent(uint64_t seq, const JobFilter& filter,
                                     const std::function<bool(const Job&)>& visit, bool* stop) const {
  const std::string after_recipient = filter.after && filter.after->seq == seq ? filter.after->recipient : "";
  auto memory = after_recipient.empty() ? jobs_.lower_bound(JobKey{seq, ""}) : jobs_.upper_bound(JobKey{seq, after_recipient});
  const auto offer = [&](const Job& job) {
    if (!Matches(filter, job)) return true;
    if (!visit(job)) *stop = true;
    return !*stop;
  };
  // The jobs in memory up to `bound` (exclusive; nullptr: all of the event).
  const auto memory_until = [&](const std::string* bound) {
    for (; memory != jobs_.end() && memory->first.seq == seq; ++memory) {
      if (bound != nullptr && memory->first.recipient >= *bound) return true;
      if (!offer(memory->second)) return false;
    }
    return true;
  };
  const auto archived = archived_.find(seq);
  const bool read_archive = archive_ != nullptr && archived != archived_.end() && !archived->second.sent.empty() &&
                            (!filter.state || *filter.state == JobState::kSent);
  if (read_archive && filter.recipient) {
    // One job at most: a point read, and only when it was archived.
    const JobKey key{seq, *filter.recipient};
    if (key.recipient > after_recipient && !jobs_.contains(key) && IsArchivedSent(key)) {
      Result<std::optional<Job>> found = archive_->FindJob(key);
      if (!found) return found.error();
      if (*found && !memory_until(&key.recipient)) return {};
      if (*found && !offer(**found)) return {};
    }
  } else if (read_archive) {
    Status scanned = archive_->ScanJobs(seq, after_recipient, [&](Job job) {
      // The archive holds every saved job; memory's are newer, and only
      // archived ones are read from it.
      if (jobs_.contains(job.key) || !IsArchivedSent(job.key)) return true;
      if (!memory_until(&job.key.recipient)) return false;
      return offer(job);
    });
    if (!scanned) return scanned;
    if (*stop) return {};
  }
  memory_until(nullptr);
  return {};
}

Status NotificationQueue::ForEachJob(const JobFilter& filter, const std::function<bool(const Job&)>& visit) const {
  if (filter.state == JobState::kPending || filter.state == JobState::kFailed) {
    // Never archived; these indexes are small and in the same order.
    const std::set<JobKey>& index = *filter.state == JobState::kPending ? pending_ : failed_;
    auto it = filter.after ? index.upper_bound(*filter.after)
                           : (filter.seq ? index.lower_bound(JobKey{*filter.seq, ""}) : index.begin());
    for (; it != index.end(); ++it) {
      if (filter.seq && it->seq > *filter.seq) break;
      const Job* job = Find(*it);
      if (job == nullptr || !Matches(filter, *job)) continue;
      if (!visit(*job)) break;
    }
    return {};
  }
  // Event by event, over every event that has a job in memory, a notice or
  // archived jobs.
  uint64_t from = std::max(filter.seq.value_or(0), filter.after ? filter.after->seq : 0);
  bool stop = false;
  while (!stop) {
    std::optional<uint64_t> next;
    const auto consider = [&](uint64_t seq) {
      if (!next || seq < *next) next = seq;
    };
    if (const auto it = notices_.lower_bound(from); it != notices_.end()) consider(it->first);
    if (const auto it = archived_.lower_bound(from); it != archived_.end()) consider(it->first);
    if (const auto it = jobs_.lower_bound(JobKey{from, ""}); it != jobs_.end()) consider(it->first.seq);
    if (!next || (filter.seq && *next != *filter.seq)) break;
    const uint64_t seq = *next;
    from = seq + 1;
    if (filter.ticket) {
      // Every job of an event has the event's ticket: skip the reads of
      // another ticket's events.
      const Notice* notice = FindNotice(seq);
      const auto archived = archived_.find(seq);
      const std::string* ticket = notice != nullptr              ? &notice->ticket
                                  : archived != archived_.end() ? &archived->second.ticket
                                                                : nullptr;
      if (ticket != nullptr && *ticket != *filter.ticket) continue;
    }
    if (Status visited = VisitEvent(seq, filter, visit, &stop); !visited) return visited;
    if (seq == UINT64_MAX) break;
  }
  return {};
}

Status NotificationModel::Rebuild(const Ledger& ledger) {
  LEDGER_ASSERT(shared_ == nullptr);  // a view is fed by its ReadModel
  NotificationQueue rebuilt;
  uint64_t last_seq = 0;
  Status folded = ledger.ForEach(0, [&](const StoredEvent& stored) -> Result<Flow> {
    rebuilt.Apply(stored);
    last_seq = stored.seq;
    return Flow::kContinue;
  });
  if (!folded) return folded;
  std::unique_lock lock(mutex_);
  queue_ = std::move(rebuilt);
  applied_seq_ = last_seq;
  return {};
}

void NotificationModel::Apply(const std::vector<StoredEvent>& events) {
  LEDGER_ASSERT(shared_ == nullptr);
  std::unique_lock lock(mutex_);
  for (const StoredEvent& stored : events) {
    LEDGER_ASSERT(stored.seq == applied_seq_ + 1);
    queue_.Apply(stored);
    applied_seq_ = stored.seq;
  }
}

NotificationQueueStats NotificationQueue::stats() const {
  NotificationQueueStats stats{.jobs = counts_,
                               .oldest_pending_recorded_at_micros = 0,
                               .orphan_receipts = orphan_receipts_,
                               .duplicate_deliveries = duplicate_deliveries_,
                               .jobs_in_memory = jobs_.size()};
  if (!pending_.empty()) {
    if (const Notice* notice = FindNotice(pending_.begin()->seq)) {
      stats.oldest_pending_recorded_at_micros = notice->recorded_at_micros;
    }
  }
  return stats;
}

void NotificationModel::Read(const std::function<void(const NotificationQueue&, uint64_t)>& visit) const {
  if (shared_ != nullptr) {
    shared_->ReadNotifications(visit);
    return;
  }
  std::shared_lock lock(mutex_);
  visit(queue_, applied_seq_);
}

}  // namespace ledger::projections
