#include "ingest/followups.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/log.h"
#include "common/text.h"
#include "common/time.h"
#include "ingest/command.h"
#include "ingest/form_body.h"
#include "ingest/request_digest.h"
#include "ingest/json_body.h"
#include "ingest/subscriptions.h"

namespace ledger::ingest {
namespace {

constexpr size_t kFollowUpJsonDepthMax = 4;
constexpr size_t kShownNameBytesMax = 64;
constexpr size_t kFormFieldsMax = 64;

// One field of a body before its meaning is checked.
struct RawValue {
  std::string text;
  std::vector<std::string> list;
  bool is_list = false;
};

enum class Shape { kText, kList, kFlag, kNumber };

using Known = std::map<std::string_view, Shape>;

const Known& ReviewFields() {
  static const Known fields = {
      {"summary", Shape::kText},         {"impact_summary", Shape::kText},   {"root_cause", Shape::kText},
      {"contributing_factors", Shape::kList}, {"lessons", Shape::kText}, {"publish", Shape::kFlag},
      {"submission_id", Shape::kText},   {"expected_version", Shape::kNumber}, {"actor", Shape::kText},
  };
  return fields;
}

const Known& AddItemFields() {
  static const Known fields = {
      {"title", Shape::kText}, {"owner", Shape::kText},         {"due", Shape::kText},
      {"link", Shape::kText},  {"submission_id", Shape::kText}, {"actor", Shape::kText},
  };
  return fields;
}

const Known& UpdateItemFields() {
  static const Known fields = {
      {"status", Shape::kText}, {"title", Shape::kText},         {"owner", Shape::kText},
      {"due", Shape::kText},    {"link", Shape::kText},          {"note", Shape::kText},
      {"submission_id", Shape::kText}, {"expected_version", Shape::kNumber}, {"actor", Shape::kText},
  };
  return fields;
}

Error UnknownField(std::string_view name, const Known& known) {
  const std::string shown = QuotableText(name, kShownNameBytesMax);
  std::string names;
  for (const auto& [field, shape] : known) names += (names.empty() ? "" : ", ") + std::string(field);
  return InvalidArgument(shown, "unknown field '" + shown + "'; accepted fields: " + names);
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(Trim(text.substr(start, end - start)));
    if (!line.empty()) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

using RawFields = std::map<std::string, RawValue, std::less<>>;

Result<RawFields> ReadJson(std::string_view body, const Known& known) {
  JsonObjectBody parsed;
  if (Status ok = ParseJsonObjectBody(body, kFollowUpJsonDepthMax, &parsed); !ok) return ok.error();
  RawFields fields;
  for (const auto [key, value] : parsed.object) {
    const auto shape = known.find(key);
    if (shape == known.end()) return UnknownField(key, known);
    const std::string name(key);
    if (fields.contains(name)) return InvalidArgument(name, name + " is given more than once");
    if (value.is_null()) continue;
    RawValue raw;
    std::string_view text;
    switch (shape->second) {
      case Shape::kList:
        raw.is_list = true;
        if (value.is_array()) {
          for (const simdjson::dom::element entry : value.get_array()) {
            if (entry.get_string().get(text) != simdjson::SUCCESS) {
              return InvalidArgument(name, name + " must be an array of strings");
            }
            raw.list.emplace_back(text);
          }
        } else if (value.get_string().get(text) == simdjson::SUCCESS) {
          raw.list = SplitLines(text);
        } else {
          return InvalidArgument(name, name + " must be an array of strings");
        }
        break;
      case Shape::kFlag: {
        bool flag = false;
        if (value.get_bool().get(flag) == simdjson::SUCCESS) {
          raw.text = flag ? "true" : "false";
        } else if (value.get_string().get(text) == simdjson::SUCCESS) {
          raw.text = std::string(text);
        } else {
          return InvalidArgument(name, name + " must be true or false");
        }
        break;
      }
      case Shape::kNumber: {
        uint64_t number = 0;
        if (value.get_uint64().get(number) == simdjson::SUCCESS) {
          raw.text = std::to_string(number);
        } else if (value.get_string().get(text) == simdjson::SUCCESS) {
          raw.text = std::string(text);
        } else {
          return InvalidArgument(name, name + " must be a whole number");
        }
        break;
      }
      case Shape::kText:
        if (value.get_string().get(text) != simdjson::SUCCESS) return InvalidArgument(name, name + " must be a string");
        raw.text = std::string(text);
        break;
    }
    fields.emplace(name, std::move(raw));
  }
  return fields;
}

Result<RawFields> ReadForm(std::string_view body, const Known& known) {
  RawFields fields;
  size_t count = 0;
  Status read = ForEachFormField(body, [&](std::string name, std::string value) -> Status {
    if (++count > kFormFieldsMax) return InvalidArgument("", "the form has more than 64 fields");
    if (name == "csrf_token") return {};  // checked before any handler runs (http/auth.h)
    const std::string shown = QuotableText(name, kShownNameBytesMax);
    const auto shape = known.find(name);
    if (shape == known.end()) return UnknownField(name, known);
    if (Trim(value).empty()) return {};  // a plain form sends every input: blank is "not given"
    if (shape->second == Shape::kList) {
      RawValue& raw = fields[name];
      raw.is_list = true;
      for (std::string& line : SplitLines(value)) raw.list.push_back(std::move(line));
      return {};
    }
    if (fields.contains(name)) return InvalidArgument(shown, shown + " is given more than once");
    fields[name].text = std::move(value);
    return {};
  });
  if (!read) return read.error();
  return fields;
}

Result<RawFields> ReadBody(std::string_view body, bool form, const Known& known) {
  return form ? ReadForm(body, known) : ReadJson(body, known);
}

const RawValue* Find(const RawFields& fields, std::string_view name) {
  const auto found = fields.find(name);
  return found == fields.end() ? nullptr : &found->second;
}

// The envelope: submission_id, expected_version (from `version_min`), actor.
Status ReadEnvelope(const RawFields& fields, uint32_t version_min, FollowUpCommand* command) {
  if (const RawValue* id = Find(fields, "submission_id")) {
    const std::string trimmed(Trim(id->text));
    if (trimmed.empty() || trimmed.size() > kSubmissionIdBytesMax) {
      return InvalidArgument("submission_id", "submission_id must be 1 to " + std::to_string(kSubmissionIdBytesMax) +
                                                  " bytes of one line");
    }
    if (Status line = CheckLine("submission_id", trimmed, kSubmissionIdBytesMax); !line) return line;
    command->submission_id = trimmed;
  }
  if (const RawValue* version = Find(fields, "expected_version")) {
    const std::string text(Trim(version->text));
    const std::string rule = "expected_version must be a whole number from " + std::to_string(version_min);
    if (text.empty() || text.size() > 10 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return InvalidArgument("expected_version", rule);
    }
    const uint64_t number = std::stoull(text);
    if (number < version_min || number > kExpectedVersionMax) return InvalidArgument("expected_version", rule);
    command->expected_version = static_cast<uint32_t>(number);
  }
  Result<std::string> actor = CheckedActor(Find(fields, "actor") == nullptr ? "" : Find(fields, "actor")->text);
  if (!actor) return actor.error();
  command->actor = std::move(*actor);
  return {};
}

Result<std::string> CheckedText(std::string_view field, std::string_view value, size_t bytes_max) {
  // Multi-line text keeps its inner layout; only the ends are trimmed.
  std::string trimmed(Trim(value));
  if (Status text = CheckText(field, trimmed, bytes_max); !text) return text.error();
  return trimmed;
}

Result<std::string> CheckedOneLine(std::string_view field, std::string_view value, size_t bytes_max) {
  std::string trimmed(Trim(value));
  if (Status line = CheckLine(field, trimmed, bytes_max); !line) return line.error();
  return trimmed;
}

Result<bool> CheckedFlag(std::string_view field, std::string_view value) {
  std::string lower(Trim(value));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "1" || lower == "on" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "off" || lower == "no") return false;
  return InvalidArgument(std::string(field), std::string(field) + " must be true or false");
}

// The item fields shared by add and update.
Status ReadItemFields(const RawFields& fields, proto::ActionItemPayload* payload) {
  if (const RawValue* title = Find(fields, "title")) {
    Result<std::string> checked = CheckedOneLine("title", title->text, kItemTitleBytesMax);
    if (!checked) return checked.error();
    if (checked->empty()) return InvalidArgument("title", "title must not be empty: say what is to be done");
    payload->set_title(std::move(*checked));
  }
  if (const RawValue* owner = Find(fields, "owner")) {
    Result<std::string> email = NormalizeEmail(owner->text, "owner");
    if (!email) return email.error();
    payload->set_owner(std::move(*email));
  }
  if (const RawValue* due = Find(fields, "due")) {
    const std::string trimmed(Trim(due->text));
    if (!trimmed.empty()) {
      if (Status date = CheckDueDate(trimmed); !date) return date;
    }
    payload->set_due(trimmed);
  }
  if (const RawValue* link = Find(fields, "link")) {
    const std::string trimmed(Trim(link->text));
    if (Status checked = CheckLink("link", trimmed, kItemLinkBytesMax); !checked) return checked;
    payload->set_link(trimmed);
  }
  return {};
}

proto::ActionItemStatus ToProto(projections::ItemStatus status) {
  switch (status) {
    case projections::ItemStatus::kOpen: return proto::ACTION_ITEM_OPEN;
    case projections::ItemStatus::kDone: return proto::ACTION_ITEM_DONE;
    case projections::ItemStatus::kDropped: return proto::ACTION_ITEM_DROPPED;
  }
  return proto::ACTION_ITEM_OPEN;
}

}  // namespace

Status CheckDueDate(std::string_view text, std::string_view field) {
  const std::string name(field);
  const std::string rule = name + " must be a date written YYYY-MM-DD";
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return InvalidArgument(name, rule);
  for (const size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return InvalidArgument(name, rule);
  }
  const int year = std::stoi(std::string(text.substr(0, 4)));
  const int month = std::stoi(std::string(text.substr(5, 2)));
  const int day = std::stoi(std::string(text.substr(8, 2)));
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) {
    return InvalidArgument(name, name + " must be a real calendar day from 1970 on, written YYYY-MM-DD");
  }
  return {};
}

Result<std::string> NormalizeItem(std::string_view text, std::string_view field) {
  std::string upper(Trim(text));
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  const std::optional<projections::ParsedItemId> parsed = projections::ParseActionItemId(upper);
  if (!parsed || upper.size() > 64) {
    return InvalidArgument(std::string(field), std::string(field) + " must be an action item id like INC-7-A1");
  }
  return projections::ActionItemId(parsed->ticket, parsed->number);
}

std::string FollowUpCommand::Digest() const {
  std::string canonical;
  canonical += std::to_string(static_cast<int>(kind));
  canonical += '\0';
  canonical += ticket;
  canonical += '\0';
  canonical += item;
  canonical += '\0';
  canonical += expected_version ? std::to_string(*expected_version) : std::string();
  canonical += '\0';
  canonical += actor;
  canonical += '\0';
  canonical += publish ? "publish" : "draft";
  canonical += '\0';
  for (const std::string& given : review_given) canonical += given + ",";
  canonical += '\0';
  AppendDeterministic(&canonical, review);
  canonical += '\0';
  AppendDeterministic(&canonical, action);
  return DigestOf(canonical);
}

Result<FollowUpCommand> ParseReview(std::string_view ticket_text, std::string_view body, bool form) {
  Result<RawFields> fields = ReadBody(body, form, ReviewFields());
  if (!fields) return fields.error();
  FollowUpCommand command;
  command.kind = FollowUpKind::kReview;
  Result<std::string> ticket = NormalizeTicket(ticket_text);
  if (!ticket) return ticket.error();
  command.ticket = std::move(*ticket);
  if (Status envelope = ReadEnvelope(*fields, 0, &command); !envelope) return envelope.error();
  proto::ReviewPayload& review = command.review;
  const auto text = [&](std::string_view name, std::string* out) -> Status {
    const RawValue* raw = Find(*fields, name);
    if (raw == nullptr) return {};
    Result<std::string> checked = CheckedText(name, raw->text, kReviewTextBytesMax);
    if (!checked) return checked.error();
    *out = std::move(*checked);
    command.review_given.insert(std::string(name));
    return {};
  };
  if (Status s = text("summary", review.mutable_summary()); !s) return s.error();
  if (Status s = text("impact_summary", review.mutable_impact_summary()); !s) return s.error();
  if (Status s = text("root_cause", review.mutable_root_cause()); !s) return s.error();
  if (Status s = text("lessons", review.mutable_lessons()); !s) return s.error();
  if (const RawValue* factors = Find(*fields, "contributing_factors")) {
    if (factors->list.size() > kContributingFactorsMax) {
      return InvalidArgument("contributing_factors", "contributing_factors may hold at most " +
                                                         std::to_string(kContributingFactorsMax) + " entries");
    }
    for (const std::string& factor : factors->list) {
      Result<std::string> checked = CheckedOneLine("contributing_factors", factor, kContributingFactorBytesMax);
      if (!checked) return checked.error();
      if (checked->empty()) return InvalidArgument("contributing_factors", "contributing_factors must not hold empty entries");
      review.add_contributing_factors(std::move(*checked));
    }
    command.review_given.insert("contributing_factors");
  }
  if (const RawValue* publish = Find(*fields, "publish")) {
    Result<bool> flag = CheckedFlag("publish", publish->text);
    if (!flag) return flag.error();
    command.publish = *flag;
  }
  if (command.review_given.empty() && !command.publish) {
    return InvalidArgument("summary", "a review post needs at least one of summary, impact_summary, root_cause, "
                                      "contributing_factors, lessons, or publish: true");
  }
  return command;
}

Result<FollowUpCommand> ParseAddItem(std::string_view ticket_text, std::string_view body, bool form) {
  Result<RawFields> fields = ReadBody(body, form, AddItemFields());
  if (!fields) return fields.error();
  FollowUpCommand command;
  command.kind = FollowUpKind::kAddItem;
  Result<std::string> ticket = NormalizeTicket(ticket_text);
  if (!ticket) return ticket.error();
  command.ticket = std::move(*ticket);
  if (Status envelope = ReadEnvelope(*fields, 1, &command); !envelope) return envelope.error();
  if (Status item = ReadItemFields(*fields, &command.action); !item) return item.error();
  if (!command.action.has_title()) return InvalidArgument("title", "title is required: say what is to be done");
  if (!command.action.has_owner()) {
    return InvalidArgument("owner", "owner is required: the address of the person who sees to it");
  }
  if (!command.action.has_due()) command.action.set_due("");
  if (!command.action.has_link()) command.action.set_link("");
  command.action.set_status(proto::ACTION_ITEM_OPEN);
  return command;
}

Result<FollowUpCommand> ParseUpdateItem(std::string_view item_text, std::string_view body, bool form) {
  Result<RawFields> fields = ReadBody(body, form, UpdateItemFields());
  if (!fields) return fields.error();
  FollowUpCommand command;
  command.kind = FollowUpKind::kUpdateItem;
  Result<std::string> item = NormalizeItem(item_text);
  if (!item) return item.error();
  command.item = std::move(*item);
  if (Status envelope = ReadEnvelope(*fields, 1, &command); !envelope) return envelope.error();
  if (Status read = ReadItemFields(*fields, &command.action); !read) return read.error();
  if (const RawValue* status = Find(*fields, "status")) {
    std::string lower(Trim(status->text));
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::optional<projections::ItemStatus> parsed = projections::ParseItemStatus(lower);
    if (!parsed) return InvalidArgument("status", "status must be one of open, done, dropped");
    command.action.set_status(ToProto(*parsed));
  }
  if (const RawValue* note = Find(*fields, "note")) {
    Result<std::string> checked = CheckedText("note", note->text, kItemNoteBytesMax);
    if (!checked) return checked.error();
    command.action.set_note(std::move(*checked));
  }
  const proto::ActionItemPayload& action = command.action;
  if (action.status() == proto::ACTION_ITEM_DROPPED && action.note().empty()) {
    return InvalidArgument("note", "note is required to drop an action item: say why it is dropped");
  }
  if (!action.has_title() && !action.has_owner() && !action.has_due() && !action.has_link() && !action.has_note() &&
      action.status() == proto::ACTION_ITEM_STATUS_UNSPECIFIED) {
    return InvalidArgument("status", "an update needs at least one of status, title, owner, due, link, note");
  }
  command.action.set_item(command.item);
  return command;
}

// ---------------------------------------------------------------- processor

void FollowUpProcessor::Look(const std::string& ticket, const std::string& item, projections::FollowUpState* view,
                             std::optional<bool>* ticket_open) {
  uint64_t applied = 0;
  committed_->Read([&](const projections::TicketStore& store, uint64_t applied_seq) {
    applied = applied_seq;
    if (ticket.empty()) return;
    if (const projections::TicketState* state = store.Find(ticket)) {
      *ticket_open = state->status == projections::TicketStatus::kOpen;
    }
  });
  committed_->ReadProjection<projections::FollowUpProjection>(
      [&](const projections::FollowUpProjection& projection, uint64_t) {
        const projections::FollowUpState& state = projection.state();
        if (!ticket.empty()) {
          if (const projections::TicketFollowUp* found = state.FindTicket(ticket)) view->Restore(*found);
        }
        if (!item.empty()) {
          if (const projections::ActionItem* found = state.FindItem(item)) view->Restore(*found);
        }
      });
  // What this processor decided and the read model has not applied yet.
  std::erase_if(pending_, [applied](const proto::Event& event) { return event.seq() <= applied; });
  for (const proto::Event& event : pending_) (void)view->Apply(event);
}

Result<proto::Event> FollowUpProcessor::Decide(const FollowUpCommand& command, AppendContext& context) {
  proto::Event event;
  event.set_submission_id(command.submission_id);
  event.set_actor(command.actor);
  projections::FollowUpState view;
  std::optional<bool> ticket_open;

  if (command.kind == FollowUpKind::kReview || command.kind == FollowUpKind::kAddItem) {
    Look(command.ticket, "", &view, &ticket_open);
    if (!ticket_open) return MakeError(ErrorCode::kNotFound, "ticket " + command.ticket + " does not exist", "ticket");
    const projections::TicketFollowUp* follow_up = view.FindTicket(command.ticket);
    event.set_ticket(command.ticket);
    if (command.kind == FollowUpKind::kAddItem) {
      const uint32_t number = (follow_up == nullptr ? 0 : follow_up->items_added) + 1;
      event.set_type(proto::ACTION_ITEM_ADDED);
      event.set_version(1);
      *event.mutable_action_item() = command.action;
      event.mutable_action_item()->set_item(projections::ActionItemId(command.ticket, number));
      return event;
    }
    const uint32_t version = follow_up == nullptr ? 0 : follow_up->review_version();
    if (command.expected_version && *command.expected_version != version) {
      return MakeError(ErrorCode::kConflict,
                       "expected_version is " + std::to_string(*command.expected_version) + " but the review of " +
                           command.ticket + " is at version " + std::to_string(version),
                       "expected_version");
    }
    proto::ReviewPayload content;
    if (follow_up != nullptr && !follow_up->versions.empty()) content = follow_up->versions.back().content;
    content.clear_reviewed_through_seq();
    content.clear_reviewed_head_hash();
    const proto::ReviewPayload& given = command.review;
    if (command.review_given.contains("summary")) content.set_summary(given.summary());
    if (command.review_given.contains("impact_summary")) content.set_impact_summary(given.impact_summary());
    if (command.review_given.contains("root_cause")) content.set_root_cause(given.root_cause());
    if (command.review_given.contains("lessons")) content.set_lessons(given.lessons());
    if (command.review_given.contains("contributing_factors")) {
      *content.mutable_contributing_factors() = given.contributing_factors();
    }
    if (command.publish) {
      if (*ticket_open) {
        return MakeError(ErrorCode::kConflict,
                         command.ticket + " is open; a review can be published once the incident is closed", "publish");
      }
      if (Trim(content.summary()).empty()) {
        return InvalidArgument("summary", "summary is required to publish a review");
      }
      if (Trim(content.root_cause()).empty()) {
        return InvalidArgument("root_cause", "root_cause is required to publish a review");
      }
      content.set_reviewed_through_seq(context.next_seq() - 1);
      content.set_reviewed_head_hash(std::string(AsBytes(context.head_hash())));
    }
    event.set_type(command.publish ? proto::REVIEW_PUBLISHED : proto::REVIEW_DRAFTED);
    event.set_version(version + 1);
    *event.mutable_review() = std::move(content);
    return event;
  }

  Look("", command.item, &view, &ticket_open);
  const projections::ActionItem* item = view.FindItem(command.item);
  if (item == nullptr) return MakeError(ErrorCode::kNotFound, "action item " + command.item + " does not exist", "item");
  if (command.kind == FollowUpKind::kOverdue) {
    if (item->status != projections::ItemStatus::kOpen || item->due != command.action.due() ||
        item->overdue_noticed_due == item->due) {
      return MakeError(ErrorCode::kConflict, "action item " + command.item + " needs no overdue notice", "item");
    }
    event.set_type(proto::ACTION_ITEM_OVERDUE);
    event.set_actor(std::string(kServiceActor));
    proto::ActionItemPayload* payload = event.mutable_action_item();
    payload->set_item(item->item);
    payload->set_owner(item->owner);
    payload->set_due(item->due);
    payload->set_title(item->title);
    return event;
  }
  if (command.expected_version && *command.expected_version != item->version) {
    return MakeError(ErrorCode::kConflict,
                     "expected_version is " + std::to_string(*command.expected_version) + " but " + command.item +
                         " is at version " + std::to_string(item->version),
                     "expected_version");
  }
  event.set_type(proto::ACTION_ITEM_UPDATED);
  event.set_ticket(item->ticket);
  event.set_version(item->version + 1);
  // Like an incident update, the event carries only what changes (so a
  // given owner in it is a new owner, who is mailed about the item).
  proto::ActionItemPayload* changes = event.mutable_action_item();
  *changes = command.action;
  if (changes->has_title() && changes->title() == item->title) changes->clear_title();
  if (changes->has_owner() && changes->owner() == item->owner) changes->clear_owner();
  if (changes->has_due() && changes->due() == item->due) changes->clear_due();
  if (changes->has_link() && changes->link() == item->link) changes->clear_link();
  if (changes->status() == ToProto(item->status)) changes->clear_status();
  return event;
}

void FollowUpProcessor::SubmitAsync(FollowUpCommand command, FollowUpCallback done) {
  auto shared = std::make_shared<FollowUpCommand>(std::move(command));
  auto decided = std::make_shared<bool>(false);
  std::string digest = shared->Digest();
  ledger_->AppendAsync(
      [this, shared, decided, digest = std::move(digest)](AppendContext& context) -> Result<Decision> {
        *decided = false;
        Result<std::optional<Decision>> repeated = RepeatedSubmission(shared->submission_id, digest, context);
        if (!repeated) return repeated.error();
        if (*repeated) return std::move(**repeated);
        Result<proto::Event> event = Decide(*shared, context);
        if (!event) return event.error();
        event->set_request_digest(digest);
        proto::Event applied = *event;
        applied.set_seq(context.next_seq());
        applied.set_recorded_at_micros(context.recorded_at_micros());
        pending_.push_back(std::move(applied));
        *decided = true;
        return Decision{.event = std::move(*event), .repeat_of_seq = {}};
      },
      [this, decided, done = std::move(done)](Result<Appended> appended) {
        if (!appended) {
          // The whole batch is lost: nothing kept aside reached the log.
          if (*decided) pending_.clear();
          done(appended.error());
          return;
        }
        FollowUpResult result;
        const proto::Event& event = appended->stored.event;
        result.ticket = event.ticket();
        if (event.has_action_item()) {
          result.item = event.action_item().item();
          if (result.ticket.empty()) {
            if (const auto parsed = projections::ParseActionItemId(result.item)) result.ticket = parsed->ticket;
          }
        }
        result.seq = appended->stored.seq;
        result.version = event.version();
        result.repeated = appended->repeated;
        result.stored = std::move(appended->stored);
        done(std::move(result));
      });
}

Result<FollowUpResult> FollowUpProcessor::Submit(FollowUpCommand command) {
  return WaitFor<FollowUpResult>([&](FollowUpCallback done) { SubmitAsync(std::move(command), std::move(done)); });
}

void FollowUpProcessor::MarkOverdueAsync(std::string item, std::string due, FollowUpCallback done) {
  FollowUpCommand command;
  command.kind = FollowUpKind::kOverdue;
  command.item = std::move(item);
  command.actor = std::string(kServiceActor);
  command.action.set_due(std::move(due));
  SubmitAsync(std::move(command), std::move(done));
}

// ---------------------------------------------------------------- watcher

void OverdueWatcher::Start() {
  LEDGER_ASSERT(options_.zone != nullptr);
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void OverdueWatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t OverdueWatcher::CheckOnce() {
  struct Due {
    std::string item;
    std::string due;
  };
  std::vector<Due> marked;
  const int64_t now = NowMicros();
  read_model_->ReadProjection<projections::FollowUpProjection>(
      [&](const projections::FollowUpProjection& projection, uint64_t) {
        for (const auto& [id, item] : projection.state().items()) {
          if (item.overdue_noticed_due == item.due) continue;
          if (projections::IsOverdue(item, now, *options_.zone)) marked.push_back(Due{item.item, item.due});
        }
      });
  std::vector<std::future<Result<FollowUpResult>>> answers;
  for (Due& due : marked) {
    auto promise = std::make_shared<std::promise<Result<FollowUpResult>>>();
    answers.push_back(promise->get_future());
    processor_->MarkOverdueAsync(std::move(due.item), std::move(due.due),
                                 [promise](Result<FollowUpResult> result) { promise->set_value(std::move(result)); });
  }
  size_t appended = 0;
  for (std::future<Result<FollowUpResult>>& answer : answers) {
    Result<FollowUpResult> result = answer.get();
    if (result) {
      appended += 1;
    } else if (result.error().code != ErrorCode::kConflict) {
      Log("ingest", "cannot record an overdue action item: " + result.error().message);
    }
  }
  return appended;
}

void OverdueWatcher::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    (void)CheckOnce();  // each outcome is logged or in the log already
    lock.lock();
    wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

}  // namespace ledger::ingest
