#include "http/maintenance_api.h"

#include <algorithm>
#include <optional>

#include "common/json_writer.h"
#include "common/time.h"
#include "http/auth.h"
#include "http/calendar.h"
#include "http/feed.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/router.h"
#include "http/visibility.h"
#include "ingest/command.h"
#include "projections/as_of.h"

namespace ledger::http {
namespace {

using projections::MaintenanceStatus;
using projections::MaintenanceStore;
using projections::MaintenanceWindow;

void Submit(const MaintenanceRoutes& routes, const HttpRequest& request, const Principal& principal, Respond respond) {
  const std::string media = MediaType(request.content_type);
  Result<ingest::MaintenanceCommand> command = MakeError(ErrorCode::kInvalidArgument, "");
  if (media == "application/json") {
    command = ingest::ParseMaintenanceJson(request.body);
  } else if (media == "application/x-www-form-urlencoded") {
    command = ingest::ParseMaintenanceForm(request.body);
  } else {
    return respond(UnsupportedMediaType("application/json or application/x-www-form-urlencoded"));
  }
  if (!command) return respond(ErrorResponse(command.error()));
  command->actor = principal.RecordedActor(command->actor, ingest::kAnonymousActor);
  routes.processor->SubmitAsync(std::move(*command), [respond = std::move(respond)](
                                                          Result<ingest::MaintenanceResult> result) {
    if (!result) return respond(ErrorResponse(result.error()));
    JsonWriter json;
    json.BeginObject();
    json.Key("window").String(result->window);
    json.Key("seq").Uint(result->seq);
    json.Key("version").Uint(result->version);
    json.Key("event");
    WriteEvent(&json, result->stored);
    json.EndObject();
    HttpResponse response = JsonAnswer(201, json.Take());
    response.headers.emplace_back("Location", "/api/v1/maintenance/" + result->window);
    if (result->repeated) response.headers.emplace_back("Idempotent-Replay", "true");
    respond(std::move(response));
  });
}

// What a list asks for.
struct ListQuery {
  std::optional<int64_t> from_micros;
  std::optional<int64_t> to_micros;
  std::optional<MaintenanceStatus> status;
  std::optional<std::string> system;
  size_t limit = kMaintenanceListMax;
};

// A window's span: from the earlier of its planned and actual start to the
// later of its planned and actual end; a window in progress runs on.
bool SpanOverlaps(const MaintenanceWindow& window, const ListQuery& query) {
  int64_t start = window.starts_at.unix_micros;
  if (window.started_at) start = std::min(start, window.started_at->unix_micros);
  int64_t end = window.ends_at.unix_micros;
  if (window.status == MaintenanceStatus::kInProgress) {
    end = INT64_MAX;
  } else if (window.ended_at) {
    end = std::max(end, window.ended_at->unix_micros);
  }
  return (!query.to_micros || start < *query.to_micros) && (!query.from_micros || end > *query.from_micros);
}

std::string ListJson(const MaintenanceStore& store, const projections::SystemNames& names, const ListQuery& query,
                     std::optional<uint64_t> applied_seq) {
  std::vector<const MaintenanceWindow*> listed;
  for (const auto& [number, window] : store.all()) {
    if (query.status && window.status != *query.status) continue;
    if (query.system && !names.CoversAny(*query.system, window.systems)) continue;
    if (SpanOverlaps(window, query)) listed.push_back(&window);
  }
  std::stable_sort(listed.begin(), listed.end(), [](const MaintenanceWindow* a, const MaintenanceWindow* b) {
    return a->starts_at.unix_micros < b->starts_at.unix_micros;
  });
  if (listed.size() > query.limit) listed.resize(query.limit);
  JsonWriter json;
  json.BeginObject();
  if (applied_seq) json.Key("applied_seq").Uint(*applied_seq);
  json.Key("count").Uint(listed.size());
  json.Key("windows").BeginArray();
  for (const MaintenanceWindow* window : listed) WriteWindow(&json, *window);
  json.EndArray();
  json.EndObject();
  return json.Take();
}

HttpResponse List(const MaintenanceRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"from", "to", "status", "system", "limit", "as_of", "as_of_seq"});
  if (!query) return ErrorResponse(query.error());
  ListQuery list;
  for (const char* name : {"from", "to"}) {
    Result<std::optional<Instant>> time = ParseTimeParameter(*query, name);
    if (!time) return ErrorResponse(time.error());
    if (*time) (std::string_view(name) == "from" ? list.from_micros : list.to_micros) = (*time)->unix_micros;
  }
  if (list.from_micros && list.to_micros && *list.to_micros <= *list.from_micros) {
    return ErrorResponse(InvalidArgument("to", "to must be after from"));
  }
  if (const auto status = query->find("status"); status != query->end()) {
    list.status = projections::ParseMaintenanceStatus(status->second);
    if (!list.status) {
      return ErrorResponse(InvalidArgument("status", "status must be one of scheduled, in_progress, completed, cancelled"));
    }
  }
  if (const auto system = query->find("system"); system != query->end()) list.system = system->second;
  Result<uint64_t> limit = ParseCount(*query, "limit", kMaintenanceListMax, 1, kMaintenanceListMax);
  if (!limit) return ErrorResponse(limit.error());
  list.limit = *limit;
  Result<projections::AsOfPoint> as_of = ParseAsOf(*query);
  if (!as_of) return ErrorResponse(as_of.error());
  projections::SystemNames names;
  routes.read_model->Read([&](const projections::TicketStore& tickets, uint64_t) { names = tickets.names(); });
  if (as_of->given()) {
    Result<MaintenanceStore> then = projections::MaintenanceAsOf(*routes.read_model, *routes.ledger, *as_of, StopToken());
    if (!then) return ErrorResponse(then.error());
    const projections::SystemNames then_names =
        names.Limited(projections::SystemsLimit{.seq = as_of->seq, .micros = as_of->micros});
    return JsonAnswer(200, ListJson(*then, then_names, list, std::nullopt));
  }
  HttpResponse response;
  routes.read_model->ReadProjection<projections::MaintenanceProjection>(
      [&](const projections::MaintenanceProjection& projection, uint64_t applied_seq) {
        response = JsonAnswer(200, ListJson(projection.store(), names, list, applied_seq));
      });
  return response;
}

HttpResponse One(const MaintenanceRoutes& routes, std::string_view id, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"as_of", "as_of_seq"});
  if (!query) return ErrorResponse(query.error());
  Result<projections::AsOfPoint> as_of = ParseAsOf(*query);
  if (!as_of) return ErrorResponse(as_of.error());
  Result<std::string> window = ingest::NormalizeWindow(id);
  if (!window) return ErrorResponse(MakeError(ErrorCode::kNotFound, "no such window: window numbers look like MNT-3", "window"));
  HttpResponse response = ErrorResponse(MakeError(ErrorCode::kNotFound, "window " + *window + " does not exist", "window"));
  const auto render = [&](const MaintenanceStore& store) {
    if (const MaintenanceWindow* found = store.Find(*window)) {
      JsonWriter json;
      WriteWindow(&json, *found);
      response = JsonAnswer(200, json.Take());
    }
  };
  if (as_of->given()) {
    Result<MaintenanceStore> then = projections::MaintenanceAsOf(*routes.read_model, *routes.ledger, *as_of, StopToken());
    if (!then) return ErrorResponse(then.error());
    render(*then);
    return response;
  }
  routes.read_model->ReadProjection<projections::MaintenanceProjection>(
      [&](const projections::MaintenanceProjection& projection, uint64_t) { render(projection.store()); });
  return response;
}

HttpResponse Calendar(const MaintenanceRoutes& routes, std::string_view query_text, const Principal& principal) {
  Result<Query> query = ParseQuery(query_text, {"system", "from", "to"});
  if (!query) return ErrorResponse(query.error());
  CalendarQuery calendar;
  calendar.now_micros = NowMicros();
  calendar.from_micros = calendar.now_micros - kCalendarDefaultPastMicros;
  Result<std::optional<Instant>> from = ParseTimeParameter(*query, "from");
  if (!from) return ErrorResponse(from.error());
  if (*from) calendar.from_micros = (*from)->unix_micros;
  Result<std::optional<Instant>> to = ParseTimeParameter(*query, "to");
  if (!to) return ErrorResponse(to.error());
  if (*to) {
    if ((*to)->unix_micros <= calendar.from_micros) return ErrorResponse(InvalidArgument("to", "to must be after from"));
    calendar.to_micros = (*to)->unix_micros;
  }
  if (const auto system = query->find("system"); system != query->end()) {
    if (system->second.empty()) return ErrorResponse(InvalidArgument("system", "system must not be empty"));
    calendar.system = system->second;
  }
  calendar.visible = [&principal](const projections::TicketState& state) { return MaySee(principal, state); };
  HttpResponse response;
  routes.read_model->ReadFigures([&](const projections::TicketStore& tickets, const MaintenanceStore& windows, uint64_t) {
    response.body = CalendarText(tickets, windows, calendar);
  });
  response.content_type = "text/calendar; charset=utf-8";
  response.headers.emplace_back("Content-Disposition", "inline; filename=\"incident-ledger.ics\"");
  return response;
}

HttpResponse Feed(const MaintenanceRoutes& routes, std::string_view query_text, const Principal& principal) {
  Result<Query> query = ParseQuery(query_text, {"system"});
  if (!query) return ErrorResponse(query.error());
  FeedQuery feed;
  if (const auto system = query->find("system"); system != query->end()) {
    if (system->second.empty()) return ErrorResponse(InvalidArgument("system", "system must not be empty"));
    feed.system = system->second;
  }
  feed.visible = [&principal](const projections::TicketState& state) { return MaySee(principal, state); };
  Result<std::vector<FeedEntry>> entries = ReadFeed(*routes.ledger, *routes.read_model, feed);
  if (!entries) return ErrorResponse(entries.error());
  int64_t head_micros = 0;
  if (entries->empty()) {
    uint64_t applied = 0;
    routes.read_model->Read([&](const projections::TicketStore&, uint64_t applied_seq) { applied = applied_seq; });
    if (applied > 0) {
      Result<StoredEvent> head = routes.ledger->ReadEvent(applied);
      if (!head) return ErrorResponse(head.error());
      head_micros = head->event.recorded_at_micros();
    }
  }
  HttpResponse response;
  response.body = FeedText(*entries, feed, head_micros);
  response.content_type = "application/atom+xml; charset=utf-8";
  return response;
}

}  // namespace

std::vector<Route> MaintenanceRouteRows(const MaintenanceRoutes& routes) {
  const RequiredAccess viewer = RequiredAccess::Needs(Role::kViewer);
  const MaintenanceRoutes* shared = &routes;
  // The viewer's row first: a method neither row takes is checked as a read.
  return {
      {"/api/v1/maintenance", "GET", viewer, "maintenance", RouteKind::kJson, "maintenance",
       [shared](RouteCall call) { call.respond(List(*shared, call.query)); }},
      {"/api/v1/maintenance", "POST", RequiredAccess::Needs(Role::kHelpdesk), "maintenance_submit", RouteKind::kJson,
       "maintenance_submit",
       [shared](RouteCall call) {
         if (!call.query.empty()) {
           return call.respond(ErrorResponse(InvalidArgument("", "maintenance submissions take no query parameters")));
         }
         Submit(*shared, call.request, call.principal, std::move(call.respond));
       }},
      {"/api/v1/maintenance/*", "GET", viewer, "maintenance_window", RouteKind::kJson, "maintenance_window",
       [shared](RouteCall call) { call.respond(One(*shared, call.segment, call.query)); }},
      {"/calendar.ics", "GET", viewer, "calendar", RouteKind::kJson, "calendar",
       [shared](RouteCall call) { call.respond(Calendar(*shared, call.query, call.principal)); }},
      {"/feed.atom", "GET", viewer, "feed", RouteKind::kJson, "feed",
       [shared](RouteCall call) { call.respond(Feed(*shared, call.query, call.principal)); }},
  };
}

}  // namespace ledger::http
