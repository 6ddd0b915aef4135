#include "http/followups_api.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/time.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/router.h"
#include "http/visibility.h"
#include "ingest/command.h"
#include "ingest/subscriptions.h"
#include "projections/notifications.h"

namespace ledger::http {
namespace {

void NullOrString(JsonWriter* json, std::string_view text) {
  if (text.empty()) {
    json->Null();
  } else {
    json->String(text);
  }
}

void NullOrTime(JsonWriter* json, int64_t micros) {
  if (micros == 0) {
    json->Null();
  } else {
    json->String(FormatRfc3339Utc(micros));
  }
}

void WriteReviewContent(JsonWriter* json, const proto::ReviewPayload& review) {
  json->Key("summary").String(review.summary());
  json->Key("impact_summary").String(review.impact_summary());
  json->Key("root_cause").String(review.root_cause());
  json->Key("contributing_factors").BeginArray();
  for (const std::string& factor : review.contributing_factors()) json->String(factor);
  json->EndArray();
  json->Key("lessons").String(review.lessons());
}

void WriteVersion(JsonWriter* json, const projections::ReviewVersion& version) {
  json->BeginObject();
  json->Key("version").Uint(version.version);
  json->Key("seq").Uint(version.seq);
  json->Key("status").String(version.published ? "published" : "draft");
  json->Key("actor").String(version.actor);
  json->Key("recorded_at").String(FormatRfc3339Utc(version.recorded_at_micros));
  WriteReviewContent(json, version.content);
  json->Key("reviewed_through_seq");
  if (version.published) {
    json->Uint(version.content.reviewed_through_seq());
  } else {
    json->Null();
  }
  json->Key("reviewed_head_hash");
  if (version.published) {
    json->String(HexEncode(version.content.reviewed_head_hash()));
  } else {
    json->Null();
  }
  json->EndObject();
}

// The answer to a post: 201 with the event, or the error.
void Answer(const Respond& respond, Result<ingest::FollowUpResult> result, bool with_item) {
  if (!result) {
    respond(ErrorResponse(result.error()));
    return;
  }
  JsonWriter json;
  json.BeginObject();
  json.Key("ticket").String(result->ticket);
  if (with_item) json.Key("item").String(result->item);
  json.Key("seq").Uint(result->seq);
  json.Key("version").Uint(result->version);
  json.Key("event");
  WriteEvent(&json, result->stored);
  json.EndObject();
  HttpResponse response = JsonAnswer(201, json.Take());
  response.headers.emplace_back("Location", "/api/v1/incidents/" + result->ticket);
  if (result->repeated) response.headers.emplace_back("Idempotent-Replay", "true");
  respond(std::move(response));
}

enum class PostKind { kReview, kAddItem, kUpdateItem };

void Post(const FollowUpRoutes& routes, PostKind kind, RouteCall call) {
  if (!call.query.empty()) {
    return call.respond(ErrorResponse(InvalidArgument("", "this route takes no query parameters")));
  }
  const std::string media = MediaType(call.request.content_type);
  const bool form = media == "application/x-www-form-urlencoded";
  if (!form && media != "application/json") {
    return call.respond(UnsupportedMediaType("application/json or application/x-www-form-urlencoded"));
  }
  Result<ingest::FollowUpCommand> command = MakeError(ErrorCode::kInvalidArgument, "");
  switch (kind) {
    case PostKind::kReview: command = ingest::ParseReview(call.segment, call.request.body, form); break;
    case PostKind::kAddItem: command = ingest::ParseAddItem(call.segment, call.request.body, form); break;
    case PostKind::kUpdateItem: command = ingest::ParseUpdateItem(call.segment, call.request.body, form); break;
  }
  if (!command) return call.respond(ErrorResponse(command.error()));
  command->actor = call.principal.RecordedActor(command->actor, ingest::kAnonymousActor);
  const bool with_item = kind != PostKind::kReview;
  routes.processor->SubmitAsync(std::move(*command),
                                [respond = std::move(call.respond), with_item](Result<ingest::FollowUpResult> result) {
                                  Answer(respond, std::move(result), with_item);
                                });
}

struct ItemQuery {
  std::string owner;
  std::optional<projections::ItemStatus> status;
  std::optional<bool> overdue;
  std::string system;  // folded
  std::string ticket;
  size_t limit = kActionItemsPageDefault;
};

Result<ItemQuery> ParseItemQuery(std::string_view text) {
  Result<Query> query = ParseQuery(text, {"owner", "status", "overdue", "system", "ticket", "limit"});
  if (!query) return query.error();
  ItemQuery parsed;
  if (const auto owner = query->find("owner"); owner != query->end()) {
    Result<std::string> email = ingest::NormalizeEmail(owner->second, "owner");
    if (!email) return email.error();
    parsed.owner = std::move(*email);
  }
  if (const auto status = query->find("status"); status != query->end()) {
    parsed.status = projections::ParseItemStatus(status->second);
    if (!parsed.status) return InvalidArgument("status", "status must be one of open, done, dropped");
  }
  if (const auto overdue = query->find("overdue"); overdue != query->end()) {
    if (overdue->second == "true") {
      parsed.overdue = true;
    } else if (overdue->second == "false") {
      parsed.overdue = false;
    } else {
      return InvalidArgument("overdue", "overdue must be true or false");
    }
  }
  if (const auto system = query->find("system"); system != query->end()) {
    if (system->second.empty() || system->second.size() > ingest::kSystemBytesMax) {
      return InvalidArgument("system", "system must be 1 to " + std::to_string(ingest::kSystemBytesMax) + " bytes");
    }
    parsed.system = projections::FoldSystem(system->second);
  }
  if (const auto ticket = query->find("ticket"); ticket != query->end()) {
    Result<std::string> normalized = ingest::NormalizeTicket(ticket->second);
    if (!normalized) return normalized.error();
    parsed.ticket = std::move(*normalized);
  }
  Result<uint64_t> limit = ParseCount(*query, "limit", kActionItemsPageDefault, 1, kActionItemsPageMax);
  if (!limit) return limit.error();
  parsed.limit = *limit;
  return parsed;
}

}  // namespace

Result<ListedItems> ListActionItems(const FollowUpRoutes& routes, std::string_view query_text,
                                    const Principal& principal) {
  Result<ItemQuery> query = ParseItemQuery(query_text);
  if (!query) return query.error();
  const int64_t now = NowMicros();
  struct Listed {
    projections::ActionItem item;
    bool overdue = false;
  };
  std::vector<Listed> listed;
  routes.read_model->ReadProjection<projections::FollowUpProjection>(
      [&](const projections::FollowUpProjection& projection, uint64_t) {
        for (const auto& [id, item] : projection.state().items()) {
          if (!query->ticket.empty() && item.ticket != query->ticket) continue;
          if (!query->owner.empty() && item.owner != query->owner) continue;
          if (query->status && item.status != *query->status) continue;
          const bool overdue = projections::IsOverdue(item, now, *routes.zone);
          if (query->overdue && overdue != *query->overdue) continue;
          listed.push_back(Listed{item, overdue});
        }
      });
  if (!query->system.empty()) {
    routes.read_model->Read([&](const projections::TicketStore& store, uint64_t) {
      std::erase_if(listed, [&](const Listed& entry) {
        const projections::TicketState* state = store.Find(entry.item.ticket);
        if (state == nullptr) return true;
        return !store.names().CoversAny(query->system, state->systems);
      });
    });
  }
  // The items of internal incidents only for those who see them.
  const TicketShown shown = TicketShownTo(principal, *routes.read_model);
  std::erase_if(listed, [&](const Listed& entry) { return !shown(entry.item.ticket); });
  const auto ticket_number = [](const projections::ActionItem& item) {
    return projections::ParseTicketNumber(item.ticket).value_or(0);
  };
  std::sort(listed.begin(), listed.end(), [&](const Listed& a, const Listed& b) {
    if (a.overdue != b.overdue) return a.overdue;
    if (a.item.due.empty() != b.item.due.empty()) return b.item.due.empty();
    if (a.item.due != b.item.due) return a.item.due < b.item.due;
    if (ticket_number(a.item) != ticket_number(b.item)) return ticket_number(a.item) < ticket_number(b.item);
    return a.item.number < b.item.number;
  });
  const size_t overdue_count =
      static_cast<size_t>(std::count_if(listed.begin(), listed.end(), [](const Listed& entry) { return entry.overdue; }));
  if (listed.size() > query->limit) listed.resize(query->limit);
  ListedItems result;
  result.now_micros = now;
  result.overdue_count = overdue_count;
  for (Listed& entry : listed) {
    result.items.push_back(std::move(entry.item));
    result.overdue.push_back(entry.overdue);
  }
  return result;
}

namespace {

HttpResponse ListItems(const FollowUpRoutes& routes, std::string_view query_text, const Principal& principal) {
  Result<ListedItems> listed = ListActionItems(routes, query_text, principal);
  if (!listed) return ErrorResponse(listed.error());
  JsonWriter json;
  json.BeginObject();
  json.Key("count").Uint(listed->items.size());
  json.Key("overdue").Uint(listed->overdue_count);
  json.Key("now").String(FormatRfc3339Utc(listed->now_micros));
  json.Key("items").BeginArray();
  for (size_t i = 0; i < listed->items.size(); ++i) WriteActionItem(&json, listed->items[i], listed->overdue[i]);
  json.EndArray();
  json.EndObject();
  return JsonAnswer(200, json.Take());
}

void Tickets(JsonWriter* json, std::string_view key, const std::vector<std::string>& tickets) {
  json->Key(key).BeginArray();
  for (const std::string& ticket : tickets) json->String(ticket);
  json->EndArray();
}

void Ratio(JsonWriter* json, std::string_view key, const std::optional<double>& value) {
  json->Key(key);
  if (value) {
    json->Double(*value);
  } else {
    json->Null();
  }
}

constexpr int64_t kDefaultReportWindowMicros = 7LL * 24 * 3600 * 1'000'000;

HttpResponse Report(const FollowUpRoutes& routes, std::string_view query_text, const Principal& principal,
                    const StopToken& stop) {
  Result<Query> query = ParseQuery(query_text, {"from", "to", "days", "as_of", "format", "by"});
  if (!query) return ErrorResponse(query.error());
  const auto time = [&](const std::string& name) -> Result<std::optional<int64_t>> {
    const auto found = query->find(name);
    if (found == query->end()) return std::optional<int64_t>();
    Result<Instant> instant = ParseRfc3339(found->second, name);
    if (!instant) return instant.error();
    return std::optional<int64_t>(instant->unix_micros);
  };
  Result<std::optional<int64_t>> from = time("from");
  if (!from) return ErrorResponse(from.error());
  Result<std::optional<int64_t>> to = time("to");
  if (!to) return ErrorResponse(to.error());
  Result<std::optional<int64_t>> as_of = time("as_of");
  if (!as_of) return ErrorResponse(as_of.error());
  Result<uint64_t> days = ParseCount(*query, "days", projections::kRecurrenceDaysDefault, 1,
                                     projections::kRecurrenceDaysMax);
  if (!days) return ErrorResponse(days.error());
  std::string format = "json";
  if (const auto found = query->find("format"); found != query->end()) format = found->second;
  if (format != "json" && format != "csv") return ErrorResponse(InvalidArgument("format", "format must be json or csv"));
  std::string by;
  if (const auto found = query->find("by"); found != query->end()) by = found->second;
  if (!by.empty() && by != "incident" && by != "item" && by != "recurrence") {
    return ErrorResponse(InvalidArgument("by", "by must be incident, item or recurrence"));
  }
  if (format == "csv" && by.empty()) {
    return ErrorResponse(InvalidArgument("by", "format=csv gives one list: add by=incident, by=item or by=recurrence"));
  }
  const int64_t now = as_of->value_or(NowMicros());
  const int64_t to_micros = to->value_or(from->has_value() ? **from + kDefaultReportWindowMicros : now);
  const int64_t from_micros = from->value_or(to_micros - kDefaultReportWindowMicros);
  if (to_micros <= from_micros) return ErrorResponse(InvalidArgument("to", "to must be after from"));
  const projections::ReviewReportQuery report_query{.from_micros = from_micros,
                                                     .to_micros = to_micros,
                                                     .days = static_cast<int64_t>(*days),
                                                     .now_micros = now,
                                                     .zone = routes.zone};
  Result<projections::ReviewReport> report = MakeError(ErrorCode::kInvalidArgument, "");
  Head head;
  if (*as_of) {
    if (routes.ledger == nullptr) return ErrorResponse(MakeError(ErrorCode::kUnavailable, "no ledger", "as_of"));
    Result<projections::KnownThen> known = projections::FoldAsOf(
        *routes.ledger, projections::AsOfPoint{.seq = std::nullopt, .micros = *as_of}, stop);
    if (!known) return ErrorResponse(known.error());
    report = projections::ComputeReviewReport(known->tickets, known->follow_ups, report_query, stop);
    head = routes.ledger->head();  // every event the fold could see
  } else {
    // The follow-up state is copied out first, then the tickets are read:
    // both under the read lock, one at a time (read_model.h).
    projections::FollowUpState follow_ups;
    routes.read_model->ReadProjection<projections::FollowUpProjection>(
        [&](const projections::FollowUpProjection& projection, uint64_t) { follow_ups = projection.state(); });
    routes.read_model->ReadFiguresAt(
        [&](const projections::TicketStore& store, const projections::MaintenanceStore&, const Head& applied) {
          report = projections::ComputeReviewReport(store, follow_ups, report_query, stop);
          head = applied;
        });
  }
  if (!report) return ErrorResponse(report.error());
  // Outside the read lock: TicketShown takes it itself.
  LeaveOutHidden(&*report, TicketShownTo(principal, *routes.read_model));
  if (format == "csv") {
    HttpResponse response;
    response.content_type = "text/csv; charset=utf-8";
    response.headers.emplace_back("X-Ledger-Head", AppliedHeadHeader(head));
    response.body = by == "incident" ? projections::ReviewIncidentsCsv(*report)
                    : by == "item"   ? projections::ReviewItemsCsv(*report)
                                     : projections::RecurrenceCsv(*report);
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"review-report-" + by + ".csv\"");
    return response;
  }
  return JsonAnswer(200, ReviewReportJson(*report, *as_of, routes.zone_name, head));
}

}  // namespace

std::string ReviewReportJson(const projections::ReviewReport& report, std::optional<int64_t> as_of_micros,
                             std::string_view zone_name, const Head& head) {
  JsonWriter json;
  json.BeginObject();
  json.Key("from").String(FormatRfc3339Utc(report.query.from_micros));
  json.Key("to").String(FormatRfc3339Utc(report.query.to_micros));
  json.Key("as_of");
  NullOrTime(&json, as_of_micros.value_or(0));
  json.Key("computed_for").String(FormatRfc3339Utc(report.query.now_micros));
  json.Key("head_seq").Uint(head.seq);
  json.Key("head_hash").String(HexEncode(head.hash));
  json.Key("timezone").String(zone_name);
  json.Key("days").Int(report.query.days);
  json.Key("closed").Uint(report.all.closed.size());
  json.Key("reviewed").Uint(report.all.reviewed.size());
  Ratio(&json, "review_coverage", report.all.coverage);
  json.Key("median_seconds_to_review");
  if (report.median_seconds_to_review) {
    json.Int(*report.median_seconds_to_review);
  } else {
    json.Null();
  }
  Tickets(&json, "closed_tickets", report.all.closed);
  Tickets(&json, "reviewed_tickets", report.all.reviewed);
  Tickets(&json, "median_tickets", report.median_tickets);
  json.Key("major_and_critical").BeginObject();
  json.Key("closed").Uint(report.major_and_critical.closed.size());
  json.Key("reviewed").Uint(report.major_and_critical.reviewed.size());
  Ratio(&json, "review_coverage", report.major_and_critical.coverage);
  Tickets(&json, "closed_tickets", report.major_and_critical.closed);
  Tickets(&json, "reviewed_tickets", report.major_and_critical.reviewed);
  json.EndObject();
  json.Key("incidents").BeginArray();
  for (const projections::ReviewedIncident& incident : report.incidents) {
    json.BeginObject();
    json.Key("ticket").String(incident.ticket);
    json.Key("severity").String(projections::SeverityName(incident.severity));
    json.Key("closed_at").String(FormatRfc3339Utc(incident.closed_at_micros));
    json.Key("published_at");
    NullOrTime(&json, incident.published_at_micros);
    json.Key("seconds_to_review");
    if (incident.seconds_to_review) {
      json.Int(*incident.seconds_to_review);
    } else {
      json.Null();
    }
    json.EndObject();
  }
  json.EndArray();
  const projections::ItemFigures& items = report.items;
  json.Key("action_items").BeginObject();
  json.Key("open").Uint(items.open.size());
  json.Key("overdue").Uint(items.overdue.size());
  json.Key("done").Uint(items.done.size());
  json.Key("done_on_time").Uint(items.done_on_time.size());
  json.Key("dropped").Uint(items.dropped.size());
  Tickets(&json, "open_items", items.open);
  Tickets(&json, "overdue_items", items.overdue);
  Tickets(&json, "done_items", items.done);
  Tickets(&json, "done_on_time_items", items.done_on_time);
  Tickets(&json, "dropped_items", items.dropped);
  json.EndObject();
  json.Key("recurrence").BeginArray();
  for (const projections::Recurrence& row : report.recurrence) {
    json.BeginObject();
    json.Key("item").String(row.item);
    json.Key("ticket").String(row.ticket);
    Tickets(&json, "systems", row.systems);
    json.Key("done_at").String(FormatRfc3339Utc(row.done_at_micros));
    json.Key("incidents_before").Uint(row.tickets_before.size());
    json.Key("incidents_after").Uint(row.tickets_after.size());
    Tickets(&json, "tickets_before", row.tickets_before);
    Tickets(&json, "tickets_after", row.tickets_after);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.Take();
}

FollowUpMarks MarksOf(const projections::FollowUpState& state) {
  FollowUpMarks marks;
  for (const auto& [ticket, follow_up] : state.tickets()) {
    if (follow_up.LatestPublished() != nullptr) marks[ticket].reviewed = true;
  }
  for (const auto& [id, item] : state.items()) {
    if (item.status == projections::ItemStatus::kOpen) marks[item.ticket].open_items += 1;
  }
  return marks;
}

void WriteFollowUpMark(JsonWriter* json, const FollowUpMark& mark) {
  json->Key("reviewed").Bool(mark.reviewed);
  json->Key("open_action_items").Uint(mark.open_items);
}

bool SeesDrafts(const Principal& principal) { return principal.Has(Role::kHelpdesk); }

void WriteActionItem(JsonWriter* json, const projections::ActionItem& item, bool overdue) {
  json->BeginObject();
  json->Key("item").String(item.item);
  json->Key("ticket").String(item.ticket);
  json->Key("title").String(item.title);
  json->Key("owner").String(item.owner);
  json->Key("due");
  NullOrString(json, item.due);
  json->Key("link").String(item.link);
  json->Key("status").String(projections::ItemStatusName(item.status));
  json->Key("overdue").Bool(overdue);
  json->Key("note").String(item.note);
  json->Key("version").Uint(item.version);
  json->Key("added_seq").Uint(item.added_seq);
  json->Key("added_at").String(FormatRfc3339Utc(item.added_at_micros));
  json->Key("added_by").String(item.added_by);
  json->Key("last_seq").Uint(item.last_seq);
  json->Key("updated_at").String(FormatRfc3339Utc(item.updated_at_micros));
  json->Key("done_at");
  NullOrTime(json, item.done_at_micros);
  json->EndObject();
}

void WriteFollowUpMembers(JsonWriter* json, const projections::TicketState& ticket,
                          const projections::FollowUpState& state, bool show_drafts, int64_t now_micros,
                          const date::time_zone& zone) {
  const projections::TicketFollowUp* follow_up = state.FindTicket(ticket.ticket);
  FollowUpMark mark;
  mark.reviewed = follow_up != nullptr && follow_up->LatestPublished() != nullptr;
  for (const projections::ActionItem* item : state.ItemsOf(ticket.ticket)) {
    if (item->status == projections::ItemStatus::kOpen) mark.open_items += 1;
  }
  WriteFollowUpMark(json, mark);
  std::vector<const projections::ReviewVersion*> shown;
  if (follow_up != nullptr) {
    for (const projections::ReviewVersion& version : follow_up->versions) {
      if (show_drafts || version.published) shown.push_back(&version);
    }
  }
  json->Key("review");
  if (shown.empty()) {
    json->Null();
  } else {
    const projections::ReviewVersion* current = shown.back();
    const projections::ReviewVersion* published = follow_up->LatestPublished();
    json->BeginObject();
    json->Key("status").String(current->published ? "published" : "draft");
    json->Key("version").Uint(current->version);
    json->Key("current");
    WriteVersion(json, *current);
    json->Key("published");
    if (published != nullptr) {
      WriteVersion(json, *published);
    } else {
      json->Null();
    }
    json->Key("versions").BeginArray();
    for (const projections::ReviewVersion* version : shown) WriteVersion(json, *version);
    json->EndArray();
    // Incident events after the published version's head: the review did
    // not see them (a corrected end time, a reopen, ...).
    const bool after = published != nullptr && ticket.last_seq > published->content.reviewed_through_seq();
    json->Key("recorded_after_review").Bool(after);
    json->Key("events_after_review").BeginArray();
    if (published != nullptr) {
      for (const projections::LaterChange& change : follow_up->later_changes) {
        if (change.seq <= published->content.reviewed_through_seq()) continue;
        json->BeginObject();
        json->Key("seq").Uint(change.seq);
        json->Key("type").String(EventTypeName(change.type));
        json->Key("recorded_at").String(FormatRfc3339Utc(change.recorded_at_micros));
        json->Key("fields").BeginArray();
        for (const std::string& field : change.fields) json->String(field);
        json->EndArray();
        json->EndObject();
      }
    }
    json->EndArray();
    json->Key("events_after_review_not_listed").Uint(published != nullptr ? follow_up->later_changes_dropped : 0);
    json->EndObject();
  }
  json->Key("action_items").BeginArray();
  for (const projections::ActionItem* item : state.ItemsOf(ticket.ticket)) {
    WriteActionItem(json, *item, projections::IsOverdue(*item, now_micros, zone));
  }
  json->EndArray();
}

bool WriteFollowUpPayload(JsonWriter* json, const proto::Event& event) {
  if (event.has_review()) {
    const proto::ReviewPayload& review = event.review();
    json->BeginObject();
    WriteReviewContent(json, review);
    if (event.type() == proto::REVIEW_PUBLISHED) {
      json->Key("reviewed_through_seq").Uint(review.reviewed_through_seq());
      json->Key("reviewed_head_hash").String(HexEncode(review.reviewed_head_hash()));
    }
    json->EndObject();
    return true;
  }
  if (event.has_action_item()) {
    const proto::ActionItemPayload& item = event.action_item();
    json->BeginObject();
    json->Key("item").String(item.item());
    if (item.has_title()) json->Key("title").String(item.title());
    if (item.has_owner()) json->Key("owner").String(item.owner());
    if (item.has_due()) json->Key("due").String(item.due());
    if (item.has_link()) json->Key("link").String(item.link());
    if (item.status() != proto::ACTION_ITEM_STATUS_UNSPECIFIED) {
      const char* status = item.status() == proto::ACTION_ITEM_DONE      ? "done"
                           : item.status() == proto::ACTION_ITEM_DROPPED ? "dropped"
                                                                         : "open";
      json->Key("status").String(status);
    }
    if (item.has_note()) json->Key("note").String(item.note());
    json->EndObject();
    return true;
  }
  return false;
}

std::vector<Route> FollowUpRouteRows(const FollowUpRoutes& routes) {
  const FollowUpRoutes* r = &routes;
  const RequiredAccess helpdesk = RequiredAccess::Needs(Role::kHelpdesk);
  return {
      {"/api/v1/incidents/*/review", "POST", helpdesk, "review", RouteKind::kJson, "review",
       [r](RouteCall call) { Post(*r, PostKind::kReview, std::move(call)); }},
      {"/api/v1/incidents/*/action-items", "POST", helpdesk, "action_items_add", RouteKind::kJson, "action_items_add",
       [r](RouteCall call) { Post(*r, PostKind::kAddItem, std::move(call)); }},
      {"/api/v1/action-items/*", "POST", helpdesk, "action_item_update", RouteKind::kJson, "action_item_update",
       [r](RouteCall call) { Post(*r, PostKind::kUpdateItem, std::move(call)); }},
      {"/api/v1/action-items", "GET", RequiredAccess::Needs(Role::kViewer), "action_items", RouteKind::kJson,
       "action_items",
       [r](RouteCall call) { call.respond(ListItems(*r, call.query, call.principal)); }},
      {"/api/v1/review-report", "GET", RequiredAccess::Needs(Role::kViewer), "review_report", RouteKind::kJson,
       "review_report",
       [r](RouteCall call) {
         Offload(r->pool, call.request,
                 [r, query = std::string(call.query), principal = call.principal](const StopToken& stop) {
                   return Report(*r, query, principal, stop);
                 },
                 std::move(call.respond));
       }},
  };
}

}  // namespace ledger::http
