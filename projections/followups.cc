#include "projections/followups.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include <date/date.h>
#include <date/tz.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "projections/checkpoint.h"
#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"

namespace ledger::projections {
namespace {

constexpr char kTicketPrefix = 'R';
constexpr char kItemPrefix = 'A';
constexpr std::string_view kFollowUpVersionKey = "mfollowups_version";
constexpr std::string_view kItemInfix = "-A";
constexpr size_t kSavedVersionsMax = 1 << 20;
constexpr size_t kSavedFieldsMax = 64;
constexpr size_t kSavedFactorsMax = 1 << 16;

bool IsIncidentEvent(proto::EventType type) {
  return type == proto::INCIDENT_OPENED || type == proto::INCIDENT_UPDATED || type == proto::INCIDENT_CLOSED ||
         type == proto::INCIDENT_REOPENED;
}

std::vector<std::string> CarriedFields(const proto::IncidentPayload& payload) {
  std::vector<const google::protobuf::FieldDescriptor*> present;
  payload.GetReflection()->ListFields(payload, &present);
  std::vector<std::string> names;
  names.reserve(present.size());
  for (const google::protobuf::FieldDescriptor* field : present) names.push_back(field->name());
  return names;
}

std::optional<date::year_month_day> ParseDay(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (size_t p = 0; p < 3; ++p) {
    for (size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      parts[p] = parts[p] * 10 + (text[i] - '0');
    }
  }
  const date::year_month_day day{date::year{parts[0]}, date::month{static_cast<unsigned>(parts[1])},
                                 date::day{static_cast<unsigned>(parts[2])}};
  if (!day.ok()) return std::nullopt;
  return day;
}

}  // namespace

const ReviewVersion* TicketFollowUp::LatestPublished() const {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->published) return &*it;
  }
  return nullptr;
}

const ReviewVersion* TicketFollowUp::FirstPublished() const {
  for (const ReviewVersion& version : versions) {
    if (version.published) return &version;
  }
  return nullptr;
}

const char* ItemStatusName(ItemStatus status) {
  switch (status) {
    case ItemStatus::kOpen: return "open";
    case ItemStatus::kDone: return "done";
    case ItemStatus::kDropped: return "dropped";
  }
  return "open";
}

std::optional<ItemStatus> ParseItemStatus(std::string_view word) {
  if (word == "open") return ItemStatus::kOpen;
  if (word == "done") return ItemStatus::kDone;
  if (word == "dropped") return ItemStatus::kDropped;
  return std::nullopt;
}

std::string ActionItemId(std::string_view ticket, uint32_t number) {
  return std::string(ticket) + std::string(kItemInfix) + std::to_string(number);
}

std::optional<ParsedItemId> ParseActionItemId(std::string_view text) {
  const size_t infix = text.rfind(kItemInfix);
  if (infix == std::string_view::npos) return std::nullopt;
  const std::optional<TicketName> ticket = TicketName::Parse(text.substr(0, infix));
  if (!ticket) return std::nullopt;
  const std::string_view digits = text.substr(infix + kItemInfix.size());
  if (digits.empty() || digits.size() > 9 || digits.front() == '0') return std::nullopt;
  uint32_t number = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<uint32_t>(c - '0');
  }
  return ParsedItemId{.ticket = ticket->Text(), .number = number};
}

Result<int64_t> DueEndMicros(std::string_view due, const date::time_zone& zone) {
  const std::optional<date::year_month_day> day = ParseDay(due);
  if (!day) return InvalidArgument("due", "due must be a date written YYYY-MM-DD");
  const date::local_days next = date::local_days{*day} + date::days{1};
  try {
    const auto instant = zone.to_sys(date::local_seconds{next.time_since_epoch()}, date::choose::earliest);
    return std::chrono::duration_cast<std::chrono::microseconds>(instant.time_since_epoch()).count();
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kIoError, std::string("time zone conversion failed: ") + error.what(), "timezone");
  }
}

bool IsOverdue(const ActionItem& item, int64_t now_micros, const date::time_zone& zone) {
  if (item.status != ItemStatus::kOpen || item.due.empty()) return false;
  const Result<int64_t> end = DueEndMicros(item.due, zone);
  return end && now_micros >= *end;
}

// ---------------------------------------------------------------- the fold

bool FollowUpState::Apply(const proto::Event& event) {
  switch (event.type()) {
    case proto::REVIEW_DRAFTED:
    case proto::REVIEW_PUBLISHED: return ApplyReview(event);
    case proto::ACTION_ITEM_ADDED:
    case proto::ACTION_ITEM_UPDATED:
    case proto::ACTION_ITEM_OVERDUE: return ApplyItem(event);
    default: return IsIncidentEvent(event.type()) && ApplyIncident(event);
  }
}

void FollowUpState::Touch(std::set<std::string>* changed, const std::string& key) {
  if (tracking_) changed->insert(key);
}

bool FollowUpState::ApplyReview(const proto::Event& event) {
  if (!event.has_review() || event.ticket().empty()) return false;
  TicketFollowUp& ticket = tickets_[event.ticket()];
  ticket.ticket = event.ticket();
  ReviewVersion version;
  version.version = event.version();
  version.seq = event.seq();
  version.recorded_at_micros = event.recorded_at_micros();
  version.actor = event.actor();
  version.published = event.type() == proto::REVIEW_PUBLISHED;
  version.content = event.review();
  if (version.published) {
    // Changes are counted from the newest published version on.
    ticket.later_changes.clear();
    ticket.later_changes_dropped = 0;
  }
  ticket.versions.push_back(std::move(version));
  Touch(&changed_tickets_, event.ticket());
  return true;
}

bool FollowUpState::ApplyIncident(const proto::Event& event) {
  const auto found = tickets_.find(event.ticket());
  if (found == tickets_.end() || found->second.LatestPublished() == nullptr || !event.has_incident()) return false;
  TicketFollowUp& ticket = found->second;
  if (ticket.later_changes.size() >= kLaterChangesMax) {
    ticket.later_changes_dropped += 1;
  } else {
    ticket.later_changes.push_back(LaterChange{.seq = event.seq(),
                                               .type = event.type(),
                                               .recorded_at_micros = event.recorded_at_micros(),
                                               .fields = CarriedFields(event.incident())});
  }
  Touch(&changed_tickets_, ticket.ticket);
  return true;
}

bool FollowUpState::ApplyItem(const proto::Event& event) {
  if (!event.has_action_item()) return false;
  const proto::ActionItemPayload& payload = event.action_item();
  if (event.type() == proto::ACTION_ITEM_ADDED) {
    const std::optional<ParsedItemId> id = ParseActionItemId(payload.item());
    if (!id || id->ticket != event.ticket() || items_.contains(payload.item())) return false;
    TicketFollowUp& ticket = tickets_[id->ticket];
    ticket.ticket = id->ticket;
    ticket.items_added = std::max(ticket.items_added, id->number);
    ActionItem& item = items_[payload.item()];
    item.item = payload.item();
    item.ticket = id->ticket;
    item.number = id->number;
    item.title = payload.title();
    item.owner = payload.owner();
    item.due = payload.due();
    item.link = payload.link();
    item.note = payload.note();
    item.status = ItemStatus::kOpen;
    item.version = event.version();
    item.added_seq = event.seq();
    item.added_at_micros = event.recorded_at_micros();
    item.added_by = event.actor();
    item.last_seq = event.seq();
    item.updated_at_micros = event.recorded_at_micros();
    Touch(&changed_tickets_, id->ticket);
    Touch(&changed_items_, payload.item());
    return true;
  }
  const auto found = items_.find(payload.item());
  if (found == items_.end()) return false;
  ActionItem& item = found->second;
  if (event.type() == proto::ACTION_ITEM_OVERDUE) {
    item.overdue_noticed_due = payload.due();
    item.overdue_seq = event.seq();
    Touch(&changed_items_, item.item);
    return true;
  }
  if (payload.has_title()) item.title = payload.title();
  if (payload.has_owner()) item.owner = payload.owner();
  if (payload.has_due()) item.due = payload.due();
  if (payload.has_link()) item.link = payload.link();
  if (payload.has_note()) item.note = payload.note();
  switch (payload.status()) {
    case proto::ACTION_ITEM_OPEN:
      item.status = ItemStatus::kOpen;
      item.done_at_micros = 0;
      break;
    case proto::ACTION_ITEM_DONE:
      if (item.status != ItemStatus::kDone) item.done_at_micros = event.recorded_at_micros();
      item.status = ItemStatus::kDone;
      break;
    case proto::ACTION_ITEM_DROPPED:
      item.status = ItemStatus::kDropped;
      item.done_at_micros = 0;
      break;
    default: break;
  }
  item.version = event.version();
  item.last_seq = event.seq();
  item.updated_at_micros = event.recorded_at_micros();
  Touch(&changed_items_, item.item);
  return true;
}

void FollowUpState::Clear() {
  tickets_.clear();
  items_.clear();
  changed_tickets_.clear();
  changed_items_.clear();
}

const TicketFollowUp* FollowUpState::FindTicket(std::string_view ticket) const {
  const auto found = tickets_.find(ticket);
  return found == tickets_.end() ? nullptr : &found->second;
}

const ActionItem* FollowUpState::FindItem(std::string_view item) const {
  const auto found = items_.find(item);
  return found == items_.end() ? nullptr : &found->second;
}

std::vector<const ActionItem*> FollowUpState::ItemsOf(std::string_view ticket) const {
  std::vector<const ActionItem*> found;
  const TicketFollowUp* follow_up = FindTicket(ticket);
  if (follow_up == nullptr) return found;
  for (uint32_t number = 1; number <= follow_up->items_added; ++number) {
    if (const ActionItem* item = FindItem(ActionItemId(ticket, number))) found.push_back(item);
  }
  return found;
}

void FollowUpState::Restore(TicketFollowUp ticket) {
  std::string key = ticket.ticket;
  tickets_[std::move(key)] = std::move(ticket);
}

void FollowUpState::Restore(ActionItem item) {
  std::string key = item.item;
  items_[std::move(key)] = std::move(item);
}

std::set<std::string> FollowUpState::TakeChangedTickets() {
  std::set<std::string> taken = std::move(changed_tickets_);
  changed_tickets_.clear();
  return taken;
}

std::set<std::string> FollowUpState::TakeChangedItems() {
  std::set<std::string> taken = std::move(changed_items_);
  changed_items_.clear();
  return taken;
}

// ---------------------------------------------------------------- saved form

// ticket follow-up: string ticket | varint items_added |
//   varint versions | each: varint version | varint seq | zigzag recorded_at |
//     string actor | byte published | string ReviewPayload (deterministic) |
//   varint later changes | each: varint seq | varint type | zigzag recorded_at |
//     varint fields | each: string |
//   varint later_changes_dropped
std::string EncodeTicketFollowUp(const TicketFollowUp& ticket) {
  std::string value;
  ByteWriter writer(&value);
  writer.String(ticket.ticket);
  writer.Varint(ticket.items_added);
  writer.Varint(ticket.versions.size());
  for (const ReviewVersion& version : ticket.versions) {
    writer.Varint(version.version);
    writer.Varint(version.seq);
    writer.Signed(version.recorded_at_micros);
    writer.String(version.actor);
    writer.Byte(version.published ? 1 : 0);
    std::string content;
    LEDGER_ASSERT(version.content.SerializeToString(&content));
    writer.String(content);
  }
  writer.Varint(ticket.later_changes.size());
  for (const LaterChange& change : ticket.later_changes) {
    writer.Varint(change.seq);
    writer.Varint(static_cast<uint64_t>(change.type));
    writer.Signed(change.recorded_at_micros);
    writer.Varint(change.fields.size());
    for (const std::string& field : change.fields) writer.String(field);
  }
  writer.Varint(ticket.later_changes_dropped);
  return value;
}

bool DecodeTicketFollowUp(std::string_view bytes, TicketFollowUp* ticket) {
  ByteReader reader(bytes);
  uint64_t count = 0;
  if (!reader.String(&ticket->ticket) || !reader.Varint32(&ticket->items_added) || !reader.Varint(&count) ||
      count > kSavedVersionsMax || count > reader.remaining()) {
    return false;
  }
  ticket->versions.resize(count);
  for (ReviewVersion& version : ticket->versions) {
    uint8_t published = 0;
    std::string content;
    if (!reader.Varint32(&version.version) || !reader.Varint(&version.seq) ||
        !ReadMicros(&reader, &version.recorded_at_micros) || !reader.String(&version.actor) ||
        !reader.Byte(&published) || published > 1 || !reader.String(&content) ||
        !version.content.ParseFromString(content) ||
        static_cast<size_t>(version.content.contributing_factors_size()) > kSavedFactorsMax) {
      return false;
    }
    version.published = published == 1;
  }
  if (!reader.Varint(&count) || count > kLaterChangesMax || count > reader.remaining()) return false;
  ticket->later_changes.resize(count);
  for (LaterChange& change : ticket->later_changes) {
    uint64_t type = 0;
    uint64_t fields = 0;
    if (!reader.Varint(&change.seq) || !reader.Varint(&type) || !proto::EventType_IsValid(static_cast<int>(type)) ||
        !ReadMicros(&reader, &change.recorded_at_micros) || !reader.Varint(&fields) || fields > kSavedFieldsMax ||
        fields > reader.remaining()) {
      return false;
    }
    change.type = static_cast<proto::EventType>(type);
    change.fields.resize(fields);
    for (std::string& field : change.fields) {
      if (!reader.String(&field)) return false;
    }
  }
  return reader.Varint(&ticket->later_changes_dropped) && reader.done();
}

// action item: string item | string ticket | varint number | string title |
//   string owner | string due | string link | string note | byte status |
//   varint version | varint added_seq | zigzag added_at | string added_by |
//   varint last_seq | zigzag updated_at | zigzag done_at |
//   string overdue_noticed_due | varint overdue_seq
std::string EncodeActionItem(const ActionItem& item) {
  std::string value;
  ByteWriter writer(&value);
  writer.String(item.item);
  writer.String(item.ticket);
  writer.Varint(item.number);
  writer.String(item.title);
  writer.String(item.owner);
  writer.String(item.due);
  writer.String(item.link);
  writer.String(item.note);
  writer.Byte(static_cast<uint8_t>(item.status));
  writer.Varint(item.version);
  writer.Varint(item.added_seq);
  writer.Signed(item.added_at_micros);
  writer.String(item.added_by);
  writer.Varint(item.last_seq);
  writer.Signed(item.updated_at_micros);
  writer.Signed(item.done_at_micros);
  writer.String(item.overdue_noticed_due);
  writer.Varint(item.overdue_seq);
  return value;
}

bool DecodeActionItem(std::string_view bytes, ActionItem* item) {
  ByteReader reader(bytes);
  uint8_t status = 0;
  if (!reader.String(&item->item) || !reader.String(&item->ticket) || !reader.Varint32(&item->number) ||
      !reader.String(&item->title) || !reader.String(&item->owner) || !reader.String(&item->due) ||
      !reader.String(&item->link) || !reader.String(&item->note) || !reader.Byte(&status) ||
      status > static_cast<uint8_t>(ItemStatus::kDropped) || !reader.Varint32(&item->version) ||
      !reader.Varint(&item->added_seq) || !ReadMicros(&reader, &item->added_at_micros) ||
      !reader.String(&item->added_by) || !reader.Varint(&item->last_seq) ||
      !ReadMicros(&reader, &item->updated_at_micros) || !ReadMicros(&reader, &item->done_at_micros) ||
      !reader.String(&item->overdue_noticed_due) || !reader.Varint(&item->overdue_seq) || !reader.done()) {
    return false;
  }
  item->status = static_cast<ItemStatus>(status);
  return true;
}

// ---------------------------------------------------------------- projection

CheckpointKeys FollowUpProjection::checkpoint_keys() const {
  return CheckpointKeys{.version_key = kFollowUpVersionKey,
                        .prefixes = {std::string_view(&kTicketPrefix, 1), std::string_view(&kItemPrefix, 1)}};
}

void FollowUpProjection::Apply(const proto::Event& event, const Sha256Digest& /*hash*/) { (void)state_.Apply(event); }

void FollowUpProjection::Clear() {
  state_.Clear();
  state_.TrackChanges(tracking_);
}

void FollowUpProjection::TrackChanges(bool on) {
  tracking_ = on;
  state_.TrackChanges(on);
  if (!on) {
    (void)state_.TakeChangedTickets();  // forgotten: a whole save follows
    (void)state_.TakeChangedItems();
  }
}

void FollowUpProjection::SaveChanges(CheckpointWriter* batch) {
  for (const std::string& ticket : state_.TakeChangedTickets()) {
    if (const TicketFollowUp* found = state_.FindTicket(ticket)) {
      batch->Put(std::string(1, kTicketPrefix) + ticket, EncodeTicketFollowUp(*found));
    }
  }
  for (const std::string& item : state_.TakeChangedItems()) {
    if (const ActionItem* found = state_.FindItem(item)) {
      batch->Put(std::string(1, kItemPrefix) + item, EncodeActionItem(*found));
    }
  }
}

void FollowUpProjection::SaveWhole(CheckpointTables* tables) const {
  // 'A' < 'R': items first; each map is in bytewise key order.
  CheckpointWriter* items = tables->NewTable();
  for (const auto& [id, item] : state_.items()) items->Put(std::string(1, kItemPrefix) + id, EncodeActionItem(item));
  CheckpointWriter* tickets = tables->NewTable();
  for (const auto& [ticket, follow_up] : state_.tickets()) {
    tickets->Put(std::string(1, kTicketPrefix) + ticket, EncodeTicketFollowUp(follow_up));
  }
}

Result<LoadOutcome> FollowUpProjection::Load(const CheckpointReader& reader) {
  Clear();
  std::string problem;
  Status scanned = reader.Scan(std::string_view(&kTicketPrefix, 1), [&](std::string_view key, std::string_view value) {
    TicketFollowUp ticket;
    if (!DecodeTicketFollowUp(value, &ticket) || key.substr(1) != ticket.ticket) {
      problem = "a saved review record does not decode";
      return false;
    }
    state_.Restore(std::move(ticket));
    return true;
  });
  if (!scanned) return scanned.error();
  if (problem.empty()) {
    scanned = reader.Scan(std::string_view(&kItemPrefix, 1), [&](std::string_view key, std::string_view value) {
      ActionItem item;
      if (!DecodeActionItem(value, &item) || key.substr(1) != item.item) {
        problem = "a saved action item does not decode";
        return false;
      }
      state_.Restore(std::move(item));
      return true;
    });
    if (!scanned) return scanned.error();
  }
  if (!problem.empty()) {
    Clear();
    return LoadOutcome::Unusable(problem);
  }
  (void)state_.TakeChangedTickets();
  (void)state_.TakeChangedItems();
  return LoadOutcome{};
}

}  // namespace ledger::projections
