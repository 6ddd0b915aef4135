#include "http/systems_api.h"

#include <map>
#include <optional>

#include "common/json_writer.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/router.h"
#include "ingest/command.h"

namespace ledger::http {
namespace {

void Submit(const SystemRoutes& routes, const HttpRequest& request, const Principal& principal, Respond respond) {
  const std::string media = MediaType(request.content_type);
  Result<ingest::SystemCommand> command = MakeError(ErrorCode::kInvalidArgument, "");
  if (media == "application/json") {
    command = ingest::ParseSystemJson(request.body);
  } else if (media == "application/x-www-form-urlencoded") {
    command = ingest::ParseSystemForm(request.body);
  } else {
    return respond(UnsupportedMediaType("application/json or application/x-www-form-urlencoded"));
  }
  if (!command) return respond(ErrorResponse(command.error()));
  command->actor = principal.RecordedActor(command->actor, ingest::kAnonymousActor);
  routes.processor->SubmitAsync(std::move(*command), [respond = std::move(respond)](Result<ingest::SystemResult> result) {
    if (!result) return respond(ErrorResponse(result.error()));
    JsonWriter json;
    json.BeginObject();
    json.Key("system").String(result->system);
    json.Key("seq").Uint(result->seq);
    json.Key("event");
    WriteEvent(&json, result->stored);
    json.EndObject();
    HttpResponse response = JsonAnswer(201, json.Take());
    if (result->repeated) response.headers.emplace_back("Idempotent-Replay", "true");
    respond(std::move(response));
  });
}

HttpResponse List(const SystemRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"retired"});
  if (!query) return ErrorResponse(query.error());
  std::optional<bool> retired;
  if (const auto found = query->find("retired"); found != query->end()) {
    if (found->second == "true") {
      retired = true;
    } else if (found->second == "false") {
      retired = false;
    } else {
      return ErrorResponse(InvalidArgument("retired", "retired must be true or false"));
    }
  }
  JsonWriter json;
  routes.read_model->ReadProjection<projections::SystemProjection>(
      [&](const projections::SystemProjection& projection, uint64_t applied_seq) {
        const projections::SystemCatalog& catalog = projection.catalog();
        const projections::SystemNames names = projection.names();
        // Each system's aliases: the spellings that resolve to it.
        std::map<std::string, std::vector<const projections::SystemAlias*>> aliases;
        for (const auto& [folded, alias] : catalog.aliases()) aliases[names.Key(alias.spelling)].push_back(&alias);
        std::vector<const projections::SystemEntry*> listed;
        std::map<std::string, std::string> groups;  // folded -> first spelling met
        for (const auto& [key, entry] : catalog.systems()) {
          if (catalog.FindAlias(key) != nullptr) continue;  // merged into another
          if (retired && entry.retired != *retired) continue;
          listed.push_back(&entry);
          if (!entry.group.empty()) groups.try_emplace(projections::FoldSystem(entry.group), entry.group);
        }
        std::sort(listed.begin(), listed.end(),
                  [](const projections::SystemEntry* a, const projections::SystemEntry* b) { return a->name < b->name; });
        json.BeginObject();
        json.Key("applied_seq").Uint(applied_seq);
        json.Key("count").Uint(listed.size());
        json.Key("systems").BeginArray();
        for (const projections::SystemEntry* entry : listed) {
          json.BeginObject();
          json.Key("name").String(entry->name);
          json.Key("group").String(entry->group);
          json.Key("owner").String(entry->owner);
          json.Key("description").String(entry->description);
          json.Key("aliases").BeginArray();
          if (const auto found = aliases.find(projections::FoldSystem(entry->name)); found != aliases.end()) {
            for (const projections::SystemAlias* alias : found->second) json.String(alias->spelling);
          }
          json.EndArray();
          json.Key("retired").Bool(entry->retired);
          json.Key("declared").Bool(entry->declared);
          json.Key("defined_seq").Uint(entry->defined_seq);
          json.Key("last_seq").Uint(entry->last_seq);
          json.EndObject();
        }
        json.EndArray();
        std::vector<std::string> group_names;
        for (auto& [folded, group] : groups) group_names.push_back(group);
        std::sort(group_names.begin(), group_names.end());
        json.Key("groups").BeginArray();
        for (const std::string& group : group_names) json.String(group);
        json.EndArray();
        json.EndObject();
      });
  return JsonAnswer(200, json.Take());
}

}  // namespace

std::vector<Route> SystemRouteRows(const SystemRoutes& routes) {
  const SystemRoutes* shared = &routes;
  // The viewer's row first: a method neither row takes is checked as a read.
  return {
      {"/api/v1/systems", "GET", RequiredAccess::Needs(Role::kViewer), "systems", RouteKind::kJson, "systems",
       [shared](RouteCall call) { call.respond(List(*shared, call.query)); }},
      {"/api/v1/systems", "POST", RequiredAccess::Needs(Role::kAdmin), "systems_submit", RouteKind::kJson,
       "systems_submit",
       [shared](RouteCall call) {
         if (!call.query.empty()) {
           return call.respond(ErrorResponse(InvalidArgument("", "catalog changes take no query parameters")));
         }
         Submit(*shared, call.request, call.principal, std::move(call.respond));
       }},
  };
}

}  // namespace ledger::http
